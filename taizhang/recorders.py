"""The event recorders: the library's, plus the leaf log and (PostgreSQL) an advisory lock.

Both append the Merkle leaves of the events they insert in the same
transaction (``replay.leaf_log``). On PostgreSQL the library serialises inserts
with ``LOCK TABLE ... IN EXCLUSIVE MODE`` so notification ids commit in issue
order; that lock mode needs UPDATE, DELETE or TRUNCATE privilege, which the
service's role must not hold on an append-only log. A transaction-scoped
advisory lock keyed by the table gives every taizhang writer the same order
and needs no privilege on the table.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder
from psycopg.sql import SQL, Literal

from replay.leaf_log import leaf_table_ddl, record_leaves


def advisory_key(schema: str, table: str) -> int:
    """A stable signed 64-bit lock key for one events table."""
    digest = hashlib.sha256(f"taizhang:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class LeafRecordingSQLiteRecorder(SQLiteApplicationRecorder):
    """SQLite: insert the events, then their leaves, in one transaction."""

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), leaf_table_ddl("", "BLOB")]

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._insert_events(c, stored_events, **kwargs)
        assert positions is not None
        record_leaves(c.execute, c.fetchone, "", "?", stored_events, positions)
        return positions


class AppendOnlyPostgresRecorder(PostgresApplicationRecorder):
    """PostgreSQL: advisory-locked inserts, then their leaves, in one transaction."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        key = advisory_key(self.datastore.schema, self.events_table_name)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(key)),
        ]
        self.sql_create_statements.append(
            SQL(leaf_table_ddl(f"{self.datastore.schema}.", "BYTEA"))  # type: ignore[arg-type]
        )

    def _fetch_ids_after_insert_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        positions = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        assert positions is not None
        record_leaves(
            lambda sql, params: curs.execute(sql, params or None),
            curs.fetchone,
            f"{self.datastore.schema}.",
            "%s",
            stored_events,
            positions,
        )
        return positions
