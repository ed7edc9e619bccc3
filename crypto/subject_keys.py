"""The key table: each subject's data key, wrapped by a master key, outside the log.

``subject_keys`` is the one mutable table that holds key material. It lives in
the ledger's own database (SQLite or PostgreSQL) and keeps only *wrapped* keys:
``wrapped`` is ``nonce || AES-256-GCM(master, data key)``. Destroying a
subject's personal data deletes its row (crypto-shredding) and then purges
every physical copy the database keeps of that row:

* SQLite: every write to the table runs with ``PRAGMA secure_delete=ON``, so
  deleted cells and freed pages are overwritten with zeros; after the commit a
  ``wal_checkpoint(TRUNCATE)`` moves the zeroed pages into the database file and
  empties the write-ahead log, which still held the old page.
* PostgreSQL: a deleted row stays in the table's files as a dead tuple until
  vacuumed, so the table is rewritten with ``VACUUM FULL`` (outside any
  transaction). A rewrite keeps every row that some open snapshot could still
  see, so the purge first waits (briefly) until no transaction or snapshot in
  the database predates the deleting transaction; a backup running meanwhile
  holds one, and the purge then reports the remnant instead of claiming success.
  PostgreSQL's WAL and its archives keep the wrapped key; they are made useless
  by rotating the master key (``taizhang keys rotate-master``).

``subject_key_destructions`` remembers which subjects were shredded (id and
time only), so a destroyed subject is never silently given a new key.

The SQL is written once, with ``?`` placeholders and ``{schema}`` before table
names; the database object (:class:`KeyDatabase`) is injected, so this module
needs nothing from ``projections``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from eventsourcing.persistence import PersistenceError

from domain.errors import ConfigurationError, PersonalDataDestroyedError, TaizhangError

PURGE_WAIT_SECONDS = 30.0
PURGE_PAUSE_SECONDS = 0.05
VACUUM_LOCK_TIMEOUT = "5s"

# Who can still see a row that transaction ``?`` deleted (PostgreSQL 14+: only
# sessions of this database, WAL senders, replication slots, prepared transactions).
_OLDER_SNAPSHOTS = (
    "SELECT 'pid ' || pid || COALESCE(' (' || NULLIF(application_name, '') || ')', '')"
    " || COALESCE(', open since ' || xact_start::text, '') AS holder"
    " FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
    " AND (datname = current_database() OR datname IS NULL)"
    " AND ((backend_xmin IS NOT NULL AND age(backend_xmin) >= age(?::xid))"
    " OR (backend_xid IS NOT NULL AND age(backend_xid) >= age(?::xid)))"
    " UNION ALL SELECT 'replication slot ' || slot_name FROM pg_replication_slots"
    " WHERE xmin IS NOT NULL AND age(xmin) >= age(?::xid)"
    " UNION ALL SELECT 'prepared transaction ' || gid FROM pg_prepared_xacts"
    " WHERE age(transaction) >= age(?::xid)"
)


class KeyCursor(Protocol):
    """A cursor speaking ``?`` placeholders and ``{schema}`` prefixes, rows as mappings."""

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def fetchone(self) -> Mapping[str, Any] | None: ...

    def fetchall(self) -> list[Mapping[str, Any]]: ...


class KeyDatabase(Protocol):
    """Transactions on the ledger's database, and a way to run one statement outside any."""

    dialect: str  # "sqlite" or "postgresql"

    def transaction(self, *, commit: bool = True) -> AbstractContextManager[KeyCursor]: ...

    def outside_transaction(self) -> AbstractContextManager[KeyCursor]: ...


class SubjectDataDestroyedError(PersonalDataDestroyedError):
    """The subject's data key was destroyed (or is missing): its sealed fields are gone.

    HTTP: 410 Gone. ``destroyed`` tells a recorded destruction from a key that
    was never stored or was lost.
    """

    code = "subject_data_destroyed"

    def __init__(self, subject_id: UUID | str, *, destroyed: bool = True) -> None:
        super().__init__(
            f"the personal data of subject {subject_id} was destroyed"
            if destroyed
            else f"subject {subject_id} has no data key: its sealed fields cannot be read"
        )
        self.subject_id = str(subject_id)
        self.destroyed = destroyed


class KeyRemnantError(TaizhangError):
    """A data key was deleted but the database could not yet purge its old copy."""

    code = "key_remnant"

    def __init__(self, subject_id: UUID, reason: str) -> None:
        super().__init__(
            f"the data key of subject {subject_id} was deleted, but the database still holds"
            f" an old copy of its row ({reason}): approve the destruction again to retry"
        )
        self.subject_id = subject_id


@dataclass(frozen=True, repr=False)
class WrappedKey:
    """One row of the key table; ``repr`` shows no key bytes."""

    subject_id: str
    wrapped: bytes
    master_key_id: str
    created_at: str

    def __repr__(self) -> str:
        return f"WrappedKey({self.subject_id}, master {self.master_key_id})"


class SubjectKeyTable:
    """The SQL of the key table, for SQLite and PostgreSQL."""

    def __init__(self, db: KeyDatabase, *, purge_wait_seconds: float = PURGE_WAIT_SECONDS) -> None:
        if db.dialect not in ("sqlite", "postgresql"):
            raise TypeError(f"the key table needs SQLite or PostgreSQL, not {db.dialect}")
        self.db = db
        self.dialect = db.dialect
        self.purge_wait_seconds = purge_wait_seconds

    def create(self) -> None:
        """Create the tables if they are absent (a role that may not is told so at start)."""
        blob = "BYTEA" if self.dialect == "postgresql" else "BLOB"
        try:
            self._create(blob)
        except PersistenceError as exc:
            raise ConfigurationError(f"cannot create the key table subject_keys: {exc}") from None

    def _create(self, blob: str) -> None:
        with self.db.transaction() as cur:
            cur.execute(
                "CREATE TABLE IF NOT EXISTS {schema}subject_keys ("
                "subject_id TEXT PRIMARY KEY, "
                f"wrapped {blob} NOT NULL, "
                "master_key_id TEXT NOT NULL, "
                "created_at TEXT NOT NULL)"
            )
            cur.execute(
                "CREATE TABLE IF NOT EXISTS {schema}subject_key_destructions ("
                "subject_id TEXT PRIMARY KEY, destroyed_at TEXT NOT NULL)"
            )

    # -- reads --------------------------------------------------------------------------
    def get(self, subject_id: UUID) -> WrappedKey | None:
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT subject_id, wrapped, master_key_id, created_at "
                "FROM {schema}subject_keys WHERE subject_id = ?",
                (str(subject_id),),
            )
            row = cur.fetchone()
        return _wrapped(row) if row is not None else None

    def is_destroyed(self, subject_id: UUID) -> bool:
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT 1 AS hit FROM {schema}subject_key_destructions WHERE subject_id = ?",
                (str(subject_id),),
            )
            return cur.fetchone() is not None

    def one_per_master_key(self) -> list[WrappedKey]:
        """One stored key for each master key in use (what the start-up check unwraps)."""
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT k.subject_id, k.wrapped, k.master_key_id, k.created_at "
                "FROM {schema}subject_keys k JOIN (SELECT master_key_id, MIN(subject_id) AS "
                "subject_id FROM {schema}subject_keys GROUP BY master_key_id) f "
                "ON f.subject_id = k.subject_id ORDER BY k.master_key_id"
            )
            return [_wrapped(row) for row in cur.fetchall()]

    def count_by_master_key(self) -> dict[str, int]:
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT master_key_id, COUNT(*) AS n FROM {schema}subject_keys "
                "GROUP BY master_key_id"
            )
            return {str(row["master_key_id"]): int(row["n"]) for row in cur.fetchall()}

    # -- writes -------------------------------------------------------------------------
    def insert_if_absent(self, key: WrappedKey) -> WrappedKey:
        """Store ``key`` unless the subject has one already; return the one stored.

        A subject whose key was destroyed never gets a new one
        (:class:`SubjectDataDestroyedError`), checked in the same transaction.
        """
        with self.db.transaction() as cur:
            self._secure(cur)
            cur.execute(
                "SELECT 1 AS hit FROM {schema}subject_key_destructions WHERE subject_id = ?",
                (key.subject_id,),
            )
            if cur.fetchone() is not None:
                raise SubjectDataDestroyedError(key.subject_id)
            cur.execute(
                "INSERT INTO {schema}subject_keys "
                "(subject_id, wrapped, master_key_id, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (subject_id) DO NOTHING",
                (key.subject_id, key.wrapped, key.master_key_id, key.created_at),
            )
            cur.execute(
                "SELECT subject_id, wrapped, master_key_id, created_at "
                "FROM {schema}subject_keys WHERE subject_id = ?",
                (key.subject_id,),
            )
            row = cur.fetchone()
        assert row is not None
        return _wrapped(row)

    def insert_new(self, keys: Sequence[WrappedKey]) -> None:
        """Store the keys of new subjects in one transaction (the bulk path's batch).

        The subjects are new (fresh ids), so nothing can conflict or be destroyed.
        """
        with self.db.transaction() as cur:
            cur.executemany(
                "INSERT INTO {schema}subject_keys "
                "(subject_id, wrapped, master_key_id, created_at) VALUES (?, ?, ?, ?)",
                [(k.subject_id, k.wrapped, k.master_key_id, k.created_at) for k in keys],
            )

    def delete(self, subject_id: UUID, at: datetime | None = None) -> bool:
        """Delete the subject's key, remember the destruction, purge old copies.

        Idempotent: deleting an absent key still purges (the repair path after a
        crash between the commit and the purge). Returns whether a row was deleted.
        """
        when = (at or datetime.now(UTC)).isoformat()
        with self.db.transaction() as cur:
            self._secure(cur)
            cur.execute(
                "SELECT 1 AS hit FROM {schema}subject_keys WHERE subject_id = ?",
                (str(subject_id),),
            )
            existed = cur.fetchone() is not None
            cur.execute("DELETE FROM {schema}subject_keys WHERE subject_id = ?", (str(subject_id),))
            cur.execute(
                "INSERT INTO {schema}subject_key_destructions (subject_id, destroyed_at) "
                "VALUES (?, ?) ON CONFLICT (subject_id) DO NOTHING",
                (str(subject_id), when),
            )
            horizon = self._transaction_id(cur)
        self.purge(subject_id, after=horizon)
        return existed

    def rewrap_all(
        self, rewrap: Callable[[WrappedKey], tuple[bytes, str]]
    ) -> tuple[int, str | None]:
        """Replace every wrapped key by ``rewrap(row)`` = (wrapped, master id), in ONE transaction.

        The table is locked for the duration (PostgreSQL), or the transaction
        takes SQLite's write lock before reading, so no key is added meanwhile.
        Returns the count and the horizon to pass to :meth:`purge`.
        """
        count = 0
        with self.db.transaction() as cur:
            self._secure(cur)
            if self.dialect == "postgresql":
                cur.execute("LOCK TABLE {schema}subject_keys IN EXCLUSIVE MODE")
            else:  # take the write lock now: a writer that slipped in would be lost
                cur.execute("DELETE FROM {schema}subject_keys WHERE 0 = 1")
            cur.execute(
                "SELECT subject_id, wrapped, master_key_id, created_at FROM {schema}subject_keys"
            )
            rows = [_wrapped(row) for row in cur.fetchall()]
            for row in rows:
                wrapped, master_key_id = rewrap(row)
                cur.execute(
                    "UPDATE {schema}subject_keys SET wrapped = ?, master_key_id = ? "
                    "WHERE subject_id = ?",
                    (wrapped, master_key_id, row.subject_id),
                )
                count += 1
            horizon = self._transaction_id(cur)
        return count, horizon

    # -- purging old copies ---------------------------------------------------------------
    def _secure(self, cur: KeyCursor) -> None:
        """SQLite: overwrite deleted content and freed pages with zeros on this connection."""
        if self.dialect == "sqlite":
            cur.execute("PRAGMA secure_delete=ON")

    def _transaction_id(self, cur: KeyCursor) -> str | None:
        """PostgreSQL: the current transaction's id, the horizon a purge waits to pass."""
        if self.dialect != "postgresql":
            return None
        cur.execute("SELECT (pg_current_xact_id()::text::numeric % 4294967296)::text AS xid")
        row = cur.fetchone()
        assert row is not None
        return str(row["xid"])

    def purge(self, subject_id: UUID | None = None, *, after: str | None = None) -> None:
        """Remove old copies of deleted or rewritten rows from the database's files.

        ``after`` (PostgreSQL) is the id of the transaction that deleted or
        rewrote them. Raises :class:`KeyRemnantError` when a copy must stay for
        now (an older snapshot is open, the table or the WAL is busy).
        """
        ident = subject_id or UUID(int=0)
        deadline = time.monotonic() + self.purge_wait_seconds
        if self.dialect == "sqlite":
            while True:
                if self._checkpoint():
                    return
                if time.monotonic() > deadline:
                    raise KeyRemnantError(ident, "a reader kept the write-ahead log busy")
                time.sleep(PURGE_PAUSE_SECONDS)
        self._check_owner(ident)
        if after is not None:
            self._wait_for_older_snapshots(ident, after, deadline)
        try:
            with self.db.outside_transaction() as cur:
                cur.execute(f"SET lock_timeout = '{VACUUM_LOCK_TIMEOUT}'")
                try:
                    cur.execute("VACUUM FULL {schema}subject_keys")
                finally:
                    cur.execute("RESET lock_timeout")
        except PersistenceError as exc:
            raise KeyRemnantError(ident, f"the key table could not be rewritten: {exc}") from None

    def _checkpoint(self) -> bool:
        """SQLite: one ``wal_checkpoint(TRUNCATE)``; whether it completed (readers may block it)."""
        with self.db.outside_transaction() as cur:
            cur.execute("PRAGMA busy_timeout")
            row = cur.fetchone()
            before = int(next(iter(row.values()))) if row else 0
            cur.execute(f"PRAGMA busy_timeout = {int(PURGE_PAUSE_SECONDS * 1000)}")
            try:
                cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                result = cur.fetchone()
            finally:
                cur.execute(f"PRAGMA busy_timeout = {before}")
        return result is not None and not int(result["busy"])

    def _check_owner(self, ident: UUID) -> None:
        """PostgreSQL skips, with a mere warning, a VACUUM by anyone but the table's owner."""
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT pg_has_role(current_user, c.relowner, 'USAGE') AS owner "
                "FROM pg_class c WHERE c.oid = '{schema}subject_keys'::regclass"
            )
            row = cur.fetchone()
        if not (row and row["owner"]):
            raise KeyRemnantError(
                ident,
                "this database role does not own the key table, so it cannot rewrite it;"
                " make the service's role its owner (ALTER TABLE subject_keys OWNER TO ...)",
            )

    def _wait_for_older_snapshots(self, ident: UUID, xid: str, deadline: float) -> None:
        """Wait until nothing in the database can still see rows as of before ``xid``."""
        while True:
            with self.db.transaction(commit=False) as cur:
                cur.execute(_OLDER_SNAPSHOTS, (xid, xid, xid, xid))
                holders = [str(row["holder"]) for row in cur.fetchall()]
            if not holders:
                return
            if time.monotonic() > deadline:
                raise KeyRemnantError(
                    ident, f"an older snapshot can still see it: {'; '.join(holders[:3])}"
                )
            time.sleep(PURGE_PAUSE_SECONDS)


def _wrapped(row: Mapping[str, Any]) -> WrappedKey:
    return WrappedKey(
        subject_id=str(row["subject_id"]),
        wrapped=bytes(row["wrapped"]),
        master_key_id=str(row["master_key_id"]),
        created_at=str(row["created_at"]),
    )
