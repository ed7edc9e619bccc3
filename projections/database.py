"""One small SQL surface over the Ledger's own database, for SQLite and PostgreSQL.

Views live in the same database as the log, so a view update and its tracking
position commit in one transaction. SQL is written once with ``?``
placeholders and ``{schema}`` before table names; this module adapts both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresDatastore
from eventsourcing.sqlite import SQLiteDatastore

from domain.ledger import Ledger


class ViewCursor:
    """A cursor that speaks one placeholder style and returns rows as dicts."""

    def __init__(self, raw: Any, dialect: str, schema: str) -> None:
        # eventsourcing wraps sqlite3's cursor; its wrapper hides ``rowcount``.
        self._raw = getattr(raw, "sqlite_cursor", raw)
        self.dialect = dialect
        self._schema = schema

    def _sql(self, statement: str) -> str:
        statement = statement.replace("{schema}", self._schema)
        return statement.replace("?", "%s") if self.dialect == "postgresql" else statement

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        if params:
            self._raw.execute(self._sql(statement), tuple(params))
        else:  # no parameters: a literal % or ? in DDL must pass through untouched
            self._raw.execute(statement.replace("{schema}", self._schema))

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        self._raw.executemany(self._sql(statement), [tuple(r) for r in rows])

    def fetchall(self) -> list[dict[str, Any]]:
        return [dict(row) for row in self._raw.fetchall()]

    def fetchone(self) -> dict[str, Any] | None:
        row = self._raw.fetchone()
        return dict(row) if row is not None else None

    @property
    def rowcount(self) -> int:
        return int(self._raw.rowcount)


class ViewDatabase:
    """Transactions on the Ledger's database, for view tables."""

    def __init__(self, ledger: Ledger | None, datastore: Any = None) -> None:
        if datastore is None:
            assert ledger is not None
            datastore = ledger.recorder.datastore  # type: ignore[attr-defined]
        self.ledger = ledger  # keeps the application (and its connection pool) alive
        self._datastore = datastore
        if isinstance(datastore, PostgresDatastore):
            self.dialect = "postgresql"
            self.schema = f"{datastore.schema}."
        elif isinstance(datastore, SQLiteDatastore):
            self.dialect = "sqlite"
            self.schema = ""
        else:
            raise TypeError(f"views need SQLite or PostgreSQL, not {type(datastore).__name__}")

    @classmethod
    def scratch(cls, path: str) -> ViewDatabase:
        """Views in a SQLite file of their own, apart from the log (rebuild checks, replays)."""
        return cls(None, SQLiteDatastore(path, lock_timeout=10))

    def close(self) -> None:
        """Close a scratch database's connections (the ledger closes its own)."""
        if self.ledger is None:
            self._datastore.close()

    @contextmanager
    def transaction(self, *, commit: bool = True) -> Iterator[ViewCursor]:
        with self._datastore.transaction(commit=commit) as raw:
            yield ViewCursor(raw, self.dialect, self.schema)

    @contextmanager
    def outside_transaction(self) -> Iterator[ViewCursor]:
        """An autocommit cursor: VACUUM (PostgreSQL) and checkpoints (SQLite) need one."""
        if self.dialect == "postgresql":
            with self._datastore.get_connection() as conn:
                yield ViewCursor(conn.cursor(), self.dialect, self.schema)
            return
        with self._datastore.get_connection(commit=True) as conn:
            cursor = conn.cursor()
            try:
                yield ViewCursor(cursor, self.dialect, self.schema)
            finally:
                cursor.sqlite_cursor.close()

    def has_table(self, table: str) -> bool:
        """Whether ``table`` exists (in the ledger's schema on PostgreSQL)."""
        with self.transaction(commit=False) as cur:
            if self.dialect == "postgresql":
                cur.execute(
                    "SELECT to_regclass(?) IS NOT NULL AS found", (f"{self.schema}{table}",)
                )
            else:
                cur.execute(
                    "SELECT COUNT(*) > 0 AS found FROM sqlite_master "
                    "WHERE type = 'table' AND name = ?",
                    (table,),
                )
            row = cur.fetchone()
        return bool(row and row["found"])

    def upsert(self, table: str, key: str, columns: Sequence[str]) -> str:
        """An INSERT that replaces the row with the same ``key`` (both dialects)."""
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        updates = ", ".join(f"{c} = excluded.{c}" for c in columns if c != key)
        return (
            f"INSERT INTO {{schema}}{table} ({names}) VALUES ({marks}) "
            f"ON CONFLICT ({key}) DO UPDATE SET {updates}"
        )
