"""Reading stored event rows in log order, exactly as the database holds them.

Integrity work must see the raw rows (encrypted state and all), not decoded
events, and must not depend on the library's notification-log API, which skips
nothing but also reports nothing about gaps.
"""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID

from crypto.leaf import StoredRecord
from projections.database import ViewDatabase

SQLITE_EVENTS = "stored_events"
POSTGRES_EVENTS = "taizhang_events"


def events_table(db: ViewDatabase) -> str:
    """The event table's (schema-qualified) name."""
    return f"{db.schema}{SQLITE_EVENTS if db.dialect == 'sqlite' else POSTGRES_EVENTS}"


def position_column(db: ViewDatabase) -> str:
    return "rowid" if db.dialect == "sqlite" else "notification_id"


def iter_records(
    db: ViewDatabase, after: int = 0, until: int | None = None, page: int = 20_000
) -> Iterator[StoredRecord]:
    """Rows with ``after < position <= until`` in position order, a page at a time."""
    pos = position_column(db)
    table = events_table(db)
    bound = f" AND {pos} <= ?" if until is not None else ""
    sql = (
        f"SELECT {pos} AS position, originator_id, originator_version, topic, state "
        f"FROM {table} WHERE {pos} > ?{bound} ORDER BY {pos} LIMIT ?"
    )
    while True:
        params: list[object] = [after]
        if until is not None:
            params.append(until)
        params.append(page)
        with db.transaction(commit=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        yield from map(record_from_row, rows)
        if len(rows) < page:
            return
        after = int(rows[-1]["position"])


def record_from_row(row: dict[str, object]) -> StoredRecord:
    """A row selected as (position, originator_id, originator_version, topic, state)."""
    return StoredRecord(
        position=int(row["position"]),  # type: ignore[call-overload]
        originator_id=_uuid(row["originator_id"]),
        version=int(row["originator_version"]),  # type: ignore[call-overload]
        topic=str(row["topic"]),
        state=bytes(row["state"]),  # type: ignore[arg-type]
    )


def count_records(db: ViewDatabase) -> int:
    with db.transaction(commit=False) as cur:
        cur.execute(f"SELECT COUNT(*) AS n FROM {events_table(db)}")
        row = cur.fetchone()
    return int(row["n"]) if row else 0


def max_position(db: ViewDatabase) -> int:
    with db.transaction(commit=False) as cur:
        cur.execute(f"SELECT MAX({position_column(db)}) AS n FROM {events_table(db)}")
        row = cur.fetchone()
    return int(row["n"] or 0) if row else 0


def _uuid(value: object) -> UUID:
    """The row's originator id; a value that is no UUID (a forged row) reads as the nil UUID,
    whose leaf then matches nothing that was sealed."""
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return UUID(int=0)
