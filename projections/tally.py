"""Two kinds of view table that can be read as of any page the view has applied.

A report must be reproducible "as of" a past log position, so view tables keep
their history, keyed by log position, instead of overwriting it:

* :class:`Tally` — integer counters by dimensions (day, staff, business type,
  ...). Each page adds its changes (which may be negative) twice: into
  ``<table>`` summed per bucket of ``bucket_size`` log positions, and into
  ``<table>_delta`` stamped with the page's last position. The counters as of
  position ``B`` are the buckets that end before ``B``'s bucket plus the deltas
  of that bucket up to ``B``: a bounded read whatever ``B`` is. Integers only,
  so every sum is exact and independent of the order pages were applied in.
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
        bucket_size: int = BUCKET_SIZE,
    ) -> None:
        self.table = table
        self.dims = tuple(dims)
        self.measures = tuple(measures)
        self.bucket_size = bucket_size
        names = ", ".join((*self.dims, "bucket", *self.measures))
        marks = ", ".join("?" for _ in (*self.dims, "bucket", *self.measures))
        sums = ", ".join(f"{m} = t.{m} + excluded.{m}" for m in self.measures)
        self._upsert = (
            f"INSERT INTO {{schema}}{table} AS t ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({', '.join((*self.dims, 'bucket'))}) DO UPDATE SET {sums}"
        )
        delta_names = ", ".join((*self.dims, "position", *self.measures))
        self._insert_delta = (
            f"INSERT INTO {{schema}}{table}_delta ({delta_names}) VALUES ({marks})"
        )

    def bucket(self, position: int) -> int:
        return (position - 1) // self.bucket_size

    def create(self, cur: ViewCursor) -> None:
        dims = ", ".join(f"{d} TEXT NOT NULL" for d in self.dims)
        measures = ", ".join(f"{m} BIGINT NOT NULL DEFAULT 0" for m in self.measures)
        key = ", ".join((*self.dims, "bucket"))
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table} ({dims}, bucket BIGINT NOT NULL, "
            f"{measures}, PRIMARY KEY ({key}))"
        )
        cur.execute(
            f"CREATE TABLE IF NOT EXISTS {{schema}}{self.table}_delta ({dims}, "
            f"position BIGINT NOT NULL, {measures})"
        )
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_delta_position "
            f"ON {{schema}}{self.table}_delta (position)"
        )

    def drop(self, cur: ViewCursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}_delta")
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}")

    def write(self, cur: ViewCursor, deltas: Deltas, end: int) -> None:
        """Add one page's changes; ``end`` is the page's last log position."""
        rows = [(*key, values) for key, values in sorted(deltas.items()) if any(values)]
        if not rows:
            return
        bucket = self.bucket(end)
        cur.executemany(self._upsert, [(*r[:-1], bucket, *r[-1]) for r in rows])
        cur.executemany(self._insert_delta, [(*r[:-1], end, *r[-1]) for r in rows])

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
        """Every non-zero counter, whatever the buckets (to compare a view with a rebuild)."""
        return self.read(cur, 2**62, self.dims)


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
        self, table: str, key: str, position: int, values: tuple[Any, ...] | None,
        *, fresh: bool = False,
    ) -> None:
        self.rows.setdefault(table, {})[key] = (position, values) if values is not None else None
        if fresh:
            self.fresh.setdefault(table, set()).add(key)


class History:
    """Current rows by key, and the rows they replaced with their validity range."""

    def __init__(
        self, table: str, key: str, columns: Sequence[str], types: Mapping[str, str],
        indexes: Iterable[Sequence[str]] = (),
    ) -> None:
        self.table = table
        self.key = key
        self.columns = tuple(columns)
        self.types = dict(types)
        self.indexes = [tuple(i) for i in indexes]
        names = ", ".join((key, *self.columns, "valid_from"))
        marks = ", ".join("?" for _ in (key, *self.columns, "valid_from"))
        updates = ", ".join(f"{c} = excluded.{c}" for c in (*self.columns, "valid_from"))
        self._upsert = (
            f"INSERT INTO {{schema}}{table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
        self._retire = (
            f"INSERT INTO {{schema}}{table}_history ({names}, valid_to) "
            f"SELECT {names}, ? FROM {{schema}}{table} WHERE {key} = ?"
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
        cur.execute(
            f"CREATE INDEX IF NOT EXISTS {self.table}_history_range "
            f"ON {{schema}}{self.table}_history (valid_to, valid_from)"
        )
        for number, index in enumerate(self.indexes):
            cur.execute(
                f"CREATE INDEX IF NOT EXISTS {self.table}_i{number} "
                f"ON {{schema}}{self.table} ({', '.join(index)})"
            )

    def drop(self, cur: ViewCursor) -> None:
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}_history")
        cur.execute(f"DROP TABLE IF EXISTS {{schema}}{self.table}")

    def write(
        self,
        cur: ViewCursor,
        rows: Mapping[str, tuple[int, tuple[Any, ...]] | None],
        end: int,
        *,
        fresh: set[str] | frozenset[str] = frozenset(),
    ) -> None:
        """Make ``rows`` current; the rows they replace become history up to their position.

        Keys in ``fresh`` had no row before this page: nothing to retire.
        """
        if not rows:
            return
        keys = sorted(rows)
        retire = [
            (row[0] if row is not None else end, k)
            for k in keys
            if k not in fresh
            for row in (rows[k],)
        ]
        cur.executemany(self._retire, retire)
        gone = [(k,) for k in keys if rows[k] is None]
        if gone:
            cur.executemany(f"DELETE FROM {{schema}}{self.table} WHERE {self.key} = ?", gone)
        current = [(k, *rows[k][1], rows[k][0]) for k in keys if rows[k] is not None]  # type: ignore[index]
        cur.executemany(self._upsert, current)

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
