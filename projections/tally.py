"""Two kinds of view table that can be read as of any page the view has applied.

A report must be reproducible "as of" a past log position, so view tables keep
their history, keyed by log position, instead of overwriting it:

* :class:`Tally` — integer counters by dimensions (day, staff, business type,
  ...). Each page inserts its changes (which may be negative) into
  ``<table>_delta``, stamped with the page's last position; once the log has
  passed a bucket of ``bucket_size`` positions, its deltas are summed into
  ``<table>``. The counters as of position ``B`` are the summed buckets before
  ``B``'s bucket plus the deltas of that bucket up to ``B``: a bounded read
  whatever ``B`` is. Integers only, so every sum is exact and independent of
  the order pages were applied in.
* :class:`History` — one current row per key, plus the rows it replaced with
  the position range ``[valid_from, valid_to)`` in which each was current.

Both take an :class:`Overlay` when read: changes computed in memory for events
after ``B`` (``replay/as_of.py``), so "as of" any position is a read at the
nearest page end plus at most one page of events folded in memory.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from projections.database import ViewCursor

BUCKET_SIZE = 16_384

Key = tuple[str, ...]
Deltas = dict[Key, list[int]]


@dataclass(frozen=True)
class Range:
    """An inclusive range filter on a text dimension (ISO dates compare as text)."""

    low: str | None = None
    high: str | None = None

    def holds(self, value: str) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


Filter = Mapping[str, "str | Range | Sequence[str]"]


def _where(where: Filter) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    for column, wanted in where.items():
        if isinstance(wanted, Range):
            if wanted.low is not None:
                clauses.append(f"{column} >= ?")
                params.append(wanted.low)
            if wanted.high is not None:
                clauses.append(f"{column} <= ?")
                params.append(wanted.high)
        elif isinstance(wanted, str):
            clauses.append(f"{column} = ?")
            params.append(wanted)
        else:
            values = list(wanted)
            if not values:
                clauses.append("1 = 0")
            else:
                clauses.append(f"{column} IN ({', '.join('?' for _ in values)})")
                params.extend(values)
    return (" AND " + " AND ".join(clauses)) if clauses else "", params


def _holds(where: Filter, names: Sequence[str], key: Key) -> bool:
    for column, wanted in where.items():
        value = key[names.index(column)]
        if isinstance(wanted, Range):
            if not wanted.holds(value):
                return False
        elif isinstance(wanted, str):
            if value != wanted:
                return False
        elif value not in wanted:
            return False
    return True


def add_into(target: Deltas, key: Key, values: Sequence[int], sign: int = 1) -> None:
    """``target[key] += sign * values``, element-wise."""
    current = target.get(key)
    if current is None:
        target[key] = [sign * v for v in values]
    else:
        for index, value in enumerate(values):
            current[index] += sign * value


class Tally:
    """Integer counters by text dimensions, readable as of any applied page."""

    def __init__(
        self,
        table: str,
        dims: Sequence[str],
        measures: Sequence[str],
        bucket_size: int | None = None,
        index: Sequence[str] = (),
    ) -> None:
        self.table = table
        self.dims = tuple(dims)
        self.measures = tuple(measures)
        self.bucket_size = bucket_size or BUCKET_SIZE
        self.index = tuple(index)  # dimensions looked up by value while the view is built
        marks = ", ".join("?" for _ in (*self.dims, "position", *self.measures))
        delta_names = ", ".join((*self.dims, "position", *self.measures))
        self._insert_delta = (
            f"INSERT INTO {{schema}}{table}_delta ({delta_names}) VALUES ({marks})"
        )
        dims_sql = ", ".join(self.dims)
        sums = ", ".join(f"SUM({m})" for m in self.measures)
        self._roll_up = (
            f"INSERT INTO {{schema}}{table} ({', '.join((*self.dims, 'bucket', *self.measures))}) "
            f"SELECT {dims_sql}, ?, {sums} FROM {{schema}}{table}_delta "
            f"WHERE position > ? AND position <= ? GROUP BY {dims_sql}"
        )

    def bucket(self, position: int) -> int:
        return (position - 1) // self.bucket_size

    def create(self, cur: ViewCursor) -> None:
        dims = ", ".join(f"{d} TEXT NOT NULL" for d in self.dims)
        measures = ", ".join(f"{m} BIGINT NOT NULL DEFAULT 0" for m in self.measures)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table} ({dims}, bucket BIGINT NOT NULL, "
            f"{measures})"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table}_delta ({dims}, "
            f"position BIGINT NOT NULL, {measures})"
        )
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_delta_position "
            f"ON {{schema}}{self.table}_delta (position)"
        )
        if self.index:
            columns = ", ".join(self.index)
            for table in (self.table, f"{self.table}_delta"):
                cur.execute(
                    f"CREATE INDEX IF NOT EXISTS {table}_lookup ON {{schema}}{table} ({columns})"
                )

    def drop(self, cur: ViewCursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}_delta")
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}")

    def write_pages(
        self, cur: ViewCursor, pages: Sequence[tuple[int, int, Deltas]]
    ) -> None:
        """Add the changes of consecutive pages ``(start, end, deltas)``; sum finished buckets.

        Called for every page, changes or not: the pages that end in a new
        bucket sum the buckets before it into ``<table>``, once (the pages of
        a view are applied in order, each exactly once).
        """
        if not pages:
            return
        rows = [
            (*key, end, *values)
            for _, end, deltas in pages
            for key, values in sorted(deltas.items())
            if any(values)
        ]
        cur.executemany(self._insert_delta, rows)
        start, end = pages[0][0], pages[-1][1]
        first = self.bucket(start) if start > 0 else 0
        for bucket in range(first, self.bucket(end)):
            low = bucket * self.bucket_size
            cur.execute(self._roll_up, (bucket, low, low + self.bucket_size))

    def read(
        self,
        cur: ViewCursor,
        upto: int,
        group: Sequence[str],
        where: Filter | None = None,
        overlay: Deltas | None = None,
    ) -> Deltas:
        """Sums of the measures by ``group`` as of position ``upto`` (a page end), plus overlay."""
        where = where or {}
        condition, params = _where(where)
        group = tuple(group)
        sums = ", ".join(f"SUM({m}) AS {m}" for m in self.measures)
        columns = ", ".join((*self.dims, *self.measures))
        grouped = ", ".join(group)
        bucket = self.bucket(upto) if upto > 0 else -1
        lowest = (bucket * self.bucket_size) if bucket >= 0 else 0
        inner = (
            f"SELECT {columns} FROM {{schema}}{self.table} WHERE bucket < ?{condition} "
            f"UNION ALL SELECT {columns} FROM {{schema}}{self.table}_delta "
            f"WHERE position > ? AND position <= ?{condition}"
        )
        select = f"SELECT {grouped + ', ' if grouped else ''}{sums} FROM ({inner}) x"
        if grouped:
            select += f" GROUP BY {grouped}"
        cur.execute(select, [bucket, *params, lowest, upto, *params])
        found: Deltas = {}
        for row in cur.fetchall():
            values = [int(row[m] or 0) for m in self.measures]
            if not grouped and not any(values):
                continue
            found[tuple(str(row[g]) for g in group)] = values
        if overlay:
            positions = [self.dims.index(g) for g in group]
            for key, values in overlay.items():
                if _holds(where, self.dims, key):
                    add_into(found, tuple(key[i] for i in positions), values)
        return {k: v for k, v in found.items() if any(v)}

    def logical(self, cur: ViewCursor) -> dict[Key, list[int]]:
        """Every non-zero counter, whatever the pages (to compare a view with a rebuild)."""
        sums = ", ".join(f"SUM({m}) AS {m}" for m in self.measures)
        dims = ", ".join(self.dims)
        cur.execute(f"SELECT {dims}, {sums} FROM {{schema}}{self.table}_delta GROUP BY {dims}")
        found = {}
        for row in cur.fetchall():
            values = [int(row[m] or 0) for m in self.measures]
            if any(values):
                found[tuple(str(row[d]) for d in self.dims)] = values
        return found


@dataclass
class Overlay:
    """Changes of a view computed in memory for events after the position read from tables."""

    tallies: dict[str, Deltas] = field(default_factory=dict)
    rows: dict[str, dict[str, tuple[Any, ...] | None]] = field(default_factory=dict)

    def add(self, other: Changes) -> None:
        for table, deltas in other.tallies.items():
            mine = self.tallies.setdefault(table, {})
            for key, values in deltas.items():
                add_into(mine, key, values)
        for table, rows in other.rows.items():
            mine_rows = self.rows.setdefault(table, {})
            for key, row in rows.items():
                mine_rows[key] = row[1] if row is not None else None

    def tally(self, name: str) -> Deltas:
        return self.tallies.get(name, {})

    def table(self, name: str) -> dict[str, tuple[Any, ...] | None]:
        return self.rows.get(name, {})


@dataclass
class Changes:
    """What one page changes in a view: counter deltas, and new current rows by key.

    A row is ``(position, values)``: the position of the event that made it
    current (the key's last event in the page), so a rebuild with other page
    boundaries writes the same current rows. ``None`` deletes the key's row.
    """

    tallies: dict[str, Deltas] = field(default_factory=dict)
    rows: dict[str, dict[str, tuple[int, tuple[Any, ...]] | None]] = field(default_factory=dict)
    fresh: dict[str, set[str]] = field(default_factory=dict)  # keys that had no row before

    def count(self, tally: str, key: Key, values: Sequence[int], sign: int = 1) -> None:
        add_into(self.tallies.setdefault(tally, {}), key, values, sign)

    def put(
        self, table: str, key: str, position: int, values: tuple[Any, ...], *,
        fresh: bool = False,
    ) -> None:
        self.rows.setdefault(table, {})[key] = (position, values)
        if fresh:
            self.fresh.setdefault(table, set()).add(key)


def _partial(index: Sequence[Any]) -> bool:
    """``((columns...), "condition")`` is a partial index; ``(columns...)`` a plain one."""
    return len(index) == 2 and isinstance(index[0], tuple)


class History:
    """Current rows by key, and the rows they replaced with their validity range.

    ``indexes`` on the current rows: tuples of columns, or ``((columns...),
    "condition")`` for a partial index (the few open items among many done).
    """

    def __init__(
        self, table: str, key: str, columns: Sequence[str], types: Mapping[str, str],
        indexes: Iterable[Sequence[Any]] = (),
    ) -> None:
        self.table = table
        self.key = key
        self.columns = tuple(columns)
        self.types = dict(types)
        self.indexes = [tuple(i) for i in indexes]
        names = ", ".join((key, *self.columns, "valid_from"))
        marks = ", ".join("?" for _ in (key, *self.columns, "valid_from"))
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*self.columns, "valid_from"))
        self._insert = f"INSERT INTO {{schema}}{table} ({names}) VALUES ({marks})"
        self._upsert = f"{self._insert} ON CONFLICT ({key}) DO UPDATE SET {updates}"
        self._retire = (
            f"INSERT INTO {{schema}}{table}_history ({names}, valid_to) "
            f"SELECT {names}, ? FROM {{schema}}{table} WHERE {key} = ?"
        )
        self._insert_history = (
            f"INSERT INTO {{schema}}{table}_history ({names}, valid_to) VALUES ({marks}, ?)"
        )

    def create(self, cur: ViewCursor) -> None:
        columns = ", ".join(f"{c} {self.types.get(c, 'TEXT')}" for c in self.columns)
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table} ({self.key} TEXT PRIMARY KEY, "
            f"{columns}, valid_from BIGINT NOT NULL)"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table}_history ({self.key} TEXT NOT NULL, "
            f"{columns}, valid_from BIGINT NOT NULL, valid_to BIGINT NOT NULL)"
        )
        for _, statement in self.secondary_indexes():
            cur.execute(statement)

    def secondary_indexes(self) -> list[tuple[str, str]]:
        """(name, DDL) of the indexes reads need and writes do not: a rebuild adds them last."""
        found = [(
            f"{self.table}_history_range",
            f"CREATE INDEX IF NOT EXISTS {self.table}_history_range "
            f"ON {{schema}}{self.table}_history (valid_to, valid_from)",
        )]
        for number, index in enumerate(self.indexes):
            columns, where = (index[0], f" WHERE {index[1]}") if _partial(index) else (index, "")
            found.append((
                f"{self.table}_i{number}",
                f"CREATE INDEX IF NOT EXISTS {self.table}_i{number} "
                f"ON {{schema}}{self.table} ({', '.join(columns)}){where}",
            ))
        return found

    def drop(self, cur: ViewCursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}_history")
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}")

    def write_pages(
        self,
        cur: ViewCursor,
        pages: Sequence[tuple[Mapping[str, tuple[int, tuple[Any, ...]] | None], set[str]]],
    ) -> None:
        """Make the pages' rows current in order; replaced rows become history.

        ``pages`` are ``(rows, fresh)`` of consecutive pages: ``rows`` maps a key
        to ``(position, values)``, the position of the event that made it
        current; keys in ``fresh`` had no row before their page. A key changed
        by several pages gets one current row, and its intermediate versions
        go straight to history with the range each was current in.
        """
        versions: dict[str, list[tuple[int, tuple[Any, ...]]]] = {}
        fresh: set[str] = set()
        for rows, new in pages:
            for key, row in rows.items():
                if row is None:
                    raise ValueError("history rows are never deleted")
                found = versions.get(key)
                if found is None:
                    versions[key] = [row]
                    if key in new:
                        fresh.add(key)
                else:
                    found.append(row)
        if not versions:
            return
        keys = sorted(versions)
        cur.executemany(self._retire, [(versions[k][0][0], k) for k in keys if k not in fresh])
        cur.executemany(self._insert_history, [
            (k, *row[1], row[0], following[0])
            for k in keys
            for row, following in zip(versions[k], versions[k][1:], strict=False)
        ])
        # A key new in these pages cannot conflict: a plain insert is cheaper than an upsert.
        cur.executemany(self._insert, [(k, *versions[k][-1][1], versions[k][-1][0])
                                       for k in keys if k in fresh])
        cur.executemany(self._upsert, [(k, *versions[k][-1][1], versions[k][-1][0])
                                       for k in keys if k not in fresh])

    def source(self, upto: int, live: bool) -> tuple[str, list[Any]]:
        """A FROM clause of the rows current at position ``upto`` (all current rows when live)."""
        names = ", ".join((self.key, *self.columns, "valid_from"))
        if live:
            return f"{{schema}}{self.table}", []
        sql = (
            f"(SELECT {names} FROM {{schema}}{self.table} WHERE valid_from <= ? "
            f"UNION ALL SELECT {names} FROM {{schema}}{self.table}_history "
            f"WHERE valid_to > ? AND valid_from <= ?)"
        )
        return sql, [upto, upto, upto]

    def logical(self, cur: ViewCursor) -> dict[str, tuple[Any, ...]]:
        """The current rows without their positions (to compare a view with a rebuild)."""
        cur.execute(f"SELECT {', '.join((self.key, *self.columns))} FROM {{schema}}{self.table}")
        return {
            str(row[self.key]): tuple(row[c] for c in self.columns) for row in cur.fetchall()
        }
