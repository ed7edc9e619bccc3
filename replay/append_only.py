"""Append-only, enforced by the database: triggers, integrity tables, the service's role.

The event table, the signed tree heads and the sealed leaf hashes reject
UPDATE, DELETE and TRUNCATE by trigger, in SQLite and in PostgreSQL. On
PostgreSQL the service should also connect as a role that holds neither
privilege on them (:func:`grant_app_role`), so a compromised service cannot even
try; the triggers then also stop the table's owner by mistake.
"""

from __future__ import annotations

import re

from domain.errors import ConfigurationError
from projections.database import ViewCursor, ViewDatabase
from replay.leaf_log import leaf_table_ddl
from replay.records import POSTGRES_EVENTS, SQLITE_EVENTS

INTEGRITY_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}tree_heads ("
    "tree_size BIGINT PRIMARY KEY, root_hash {blob} NOT NULL, timestamp_ms BIGINT NOT NULL, "
    "key_id TEXT NOT NULL, signature {blob} NOT NULL)",
)
PROTECTED = ("tree_heads", "merkle_leaves")
_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def protected_tables(db: ViewDatabase) -> list[str]:
    events = SQLITE_EVENTS if db.dialect == "sqlite" else POSTGRES_EVENTS
    return [events, *PROTECTED]


def create_integrity_tables(cur: ViewCursor) -> None:
    blob = "BLOB" if cur.dialect == "sqlite" else "BYTEA"
    for statement in INTEGRITY_DDL:
        cur.execute(statement.replace("{blob}", blob))
    cur.execute(leaf_table_ddl("{schema}", blob))


def _sqlite_triggers(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS {table}_append_only_{op.lower()} BEFORE {op} ON {table} "
        f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op} refused'); END"
        for op in ("UPDATE", "DELETE")
    ]


def _postgres_triggers(table: str) -> list[str]:
    return [
        f"CREATE OR REPLACE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE "
        f"ON {{schema}}{table} FOR EACH ROW EXECUTE FUNCTION {{schema}}taizhang_append_only()",
        f"CREATE OR REPLACE TRIGGER {table}_append_only_truncate BEFORE TRUNCATE "
        f"ON {{schema}}{table} FOR EACH STATEMENT "
        f"EXECUTE FUNCTION {{schema}}taizhang_append_only()",
    ]


POSTGRES_FUNCTION = (
    "CREATE OR REPLACE FUNCTION {schema}taizhang_append_only() RETURNS trigger "
    "LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'table %.% is append-only: % refused', "
    "TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP USING ERRCODE = 'insufficient_privilege'; END $$"
)


def missing_triggers(db: ViewDatabase) -> list[str]:
    """Protected tables that lack their append-only trigger."""
    missing = []
    with db.transaction(commit=False) as cur:
        for table in protected_tables(db):
            if db.dialect == "sqlite":
                cur.execute(
                    "SELECT COUNT(*) AS n FROM sqlite_master WHERE type = 'trigger' "
                    "AND tbl_name = ? AND name LIKE ?",
                    (table, f"{table}_append_only_%"),
                )
                want = 2
            else:
                cur.execute(
                    "SELECT COUNT(*) AS n FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = ? AND c.relname = ? AND t.tgname LIKE ?",
                    (db.schema.rstrip("."), table, f"{table}_append_only%"),
                )
                want = 2
            row = cur.fetchone()
            if not row or int(row["n"]) < want:
                missing.append(table)
    return missing


def install_append_only(db: ViewDatabase) -> None:
    """Create the integrity tables and every trigger (needs the tables' owner on PostgreSQL)."""
    with db.transaction() as cur:
        create_integrity_tables(cur)
        if db.dialect == "postgresql":
            cur.execute(POSTGRES_FUNCTION)
        for table in protected_tables(db):
            builders = _sqlite_triggers if db.dialect == "sqlite" else _postgres_triggers
            for statement in builders(table):
                cur.execute(statement)


def ensure_append_only(db: ViewDatabase) -> None:
    """Install what is missing, or refuse to start if this role may not."""
    if not missing_triggers(db):
        return
    try:
        install_append_only(db)
    except Exception as exc:  # privilege errors come in several library wrappings
        raise ConfigurationError(
            "the log's append-only triggers are missing and this database role cannot create "
            f"them ({type(exc).__name__}); run `taizhang db setup` as the tables' owner"
        ) from None
    still = missing_triggers(db)
    if still:
        raise ConfigurationError(f"append-only triggers missing on: {', '.join(still)}")


def grant_app_role(db: ViewDatabase, role: str) -> list[str]:
    """Create (if needed) a PostgreSQL login role that may append and read, never rewrite.

    Returns the statements run. On the log's tables the role holds SELECT and
    INSERT only; views and the subject-key table are mutable by design, so it may
    change those, and create its own view tables in the schema. Set its password
    with ``ALTER ROLE ... PASSWORD`` (not done here: secrets stay out of this code).
    """
    if db.dialect != "postgresql":
        raise ConfigurationError("database roles exist on PostgreSQL only")
    if not _ROLE.match(role):
        raise ConfigurationError("role names are lower-case letters, digits and underscores")
    schema = db.schema.rstrip(".")
    protected = ", ".join(f"{schema}.{t}" for t in protected_tables(db))
    statements = [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN CREATE ROLE {role} LOGIN; END IF; END $$",
        f"GRANT USAGE, CREATE ON SCHEMA {schema} TO {role}",
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role}",
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {role}",
        f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role}",
        f"GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA {schema} TO {role}",
        f"REVOKE UPDATE, DELETE, TRUNCATE ON {protected} FROM {role}",
        # Destroying a data key ends with VACUUM FULL of the key table, which only its
        # owner may run (PostgreSQL skips it for others with a mere warning).
        f"ALTER TABLE IF EXISTS {schema}.subject_keys OWNER TO {role}",
    ]
    with db.transaction() as cur:
        for statement in statements:
            cur.execute(statement)
    return statements
