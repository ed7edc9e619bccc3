"""The PostgreSQL event recorder, serialised by an advisory lock instead of LOCK TABLE.

eventsourcing serialises inserts with ``LOCK TABLE ... IN EXCLUSIVE MODE`` so
that notification ids commit in the order they are issued (followers and the
Merkle sealer never pass over a gap that fills later). That lock mode requires
UPDATE, DELETE or TRUNCATE privilege on the table, which the service's role
must not have (the log is append-only). A transaction-scoped advisory lock,
keyed by the table, gives the same ordering to every taizhang writer and needs
no privilege on the table.
"""

from __future__ import annotations

import hashlib
from typing import Any

from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from psycopg.sql import SQL, Literal


def advisory_key(schema: str, table: str) -> int:
    """A stable signed 64-bit lock key for one events table."""
    digest = hashlib.sha256(f"taizhang:{schema}.{table}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


class AppendOnlyPostgresRecorder(PostgresApplicationRecorder):
    """The library's recorder, locking with ``pg_advisory_xact_lock``."""

    def __init__(self, datastore: PostgresDatastore, **kwargs: Any) -> None:
        super().__init__(datastore, **kwargs)
        key = advisory_key(self.datastore.schema, self.events_table_name)
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT pg_advisory_xact_lock({0})").format(Literal(key)),
        ]
