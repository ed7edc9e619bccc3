"""Shared fixtures: one ``store`` fixture runs a test on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh schema on the server at 127.0.0.1:5432 (override
with TAIZHANG_TEST_POSTGRES_URL). Outside CI they are skipped when the server
is unreachable; with CI=true they fail instead, so a missing database can
never turn the suite green.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest

from domain.ledger import Ledger
from taizhang.bootstrap import initialise, open_ledger
from taizhang.settings import Settings

POSTGRES_URL = os.environ.get(
    "TAIZHANG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def postgres_or_skip() -> None:
    """Skip when PostgreSQL is unreachable, except in CI, where that is a failure."""
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable in CI: {exc}")
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {exc}")


@dataclass
class Store:
    """A fresh, initialised ledger store and how to open it."""

    kind: str
    settings: Settings
    token: str
    schema: str | None = None

    def open(self, **kwargs: object) -> Ledger:
        return open_ledger(self.settings, **kwargs)  # type: ignore[arg-type]

    def sql(self, statement: str, params: tuple[object, ...] = ()) -> list[tuple[object, ...]]:
        """Run SQL directly, as a DBA would (superuser on PostgreSQL)."""
        if self.kind == "sqlite":
            import sqlite3

            with sqlite3.connect(self.settings.sqlite_path) as conn:
                return list(conn.execute(statement, params))
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"SET search_path TO {self.schema}")
            cur = conn.execute(statement, params or None)
            return list(cur.fetchall()) if cur.description else []


@contextmanager
def postgres_store_in(tmp_path: Path) -> Iterator[Store]:
    """An initialised store in a fresh PostgreSQL schema, dropped afterwards."""
    postgres_or_skip()
    schema = f"tz_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    settings = Settings(data_dir=tmp_path / "data", database_url=f"{POSTGRES_URL}?schema={schema}")
    try:
        info = initialise(settings)
        yield Store("postgresql", settings, info["token"], schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """An initialised store of each kind; PostgreSQL gets its own schema, dropped after."""
    if request.param == "sqlite":
        settings = Settings(data_dir=tmp_path / "data")
        info = initialise(settings)
        yield Store("sqlite", settings, info["token"])
        return
    with postgres_store_in(tmp_path) as made:
        yield made


@pytest.fixture
def postgres_store(tmp_path: Path) -> Iterator[Store]:
    """Only the PostgreSQL store, for what exists on PostgreSQL alone (roles)."""
    with postgres_store_in(tmp_path) as made:
        yield made


@pytest.fixture
def ledger(store: Store) -> Iterator[Ledger]:
    opened = store.open()
    yield opened
    opened.close()


@pytest.fixture
def fixed_clock() -> Callable[[datetime], Callable[[], datetime]]:
    """Make a clock that always answers the given instant."""

    def make(instant: datetime) -> Callable[[], datetime]:
        return lambda: instant

    return make
