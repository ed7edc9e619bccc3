"""Shared helpers for taizhang's benchmarks (``bench/*.py``).

Fresh stores (a temp directory for SQLite, a new schema for PostgreSQL, dropped
after), a raw-eventsourcing baseline application, timing and median helpers,
the machine description and a compact cProfile summary. Nothing here measures
anything by itself.
"""

from __future__ import annotations

import contextlib
import cProfile
import os
import platform
import pstats
import re
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
# ``python bench/x.py`` puts bench/ first on the path, where bench/replay.py would hide
# the ``replay`` package: the repository root goes first.
if str(ROOT) in sys.path:
    sys.path.remove(str(ROOT))
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from eventsourcing.application import Application  # noqa: E402
from eventsourcing.cryptography import AESCipher  # noqa: E402
from eventsourcing.utils import Environment  # noqa: E402

from taizhang.settings import Settings, postgres_parts  # noqa: E402

T = TypeVar("T")

POSTGRES_URL = os.environ.get("TAIZHANG_BENCH_POSTGRES_URL") or os.environ.get(
    "TAIZHANG_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
STORES = ("sqlite", "postgresql")
OWN_PACKAGES = ("domain", "taizhang", "crypto", "api", "projections", "replay")


# -- stores ------------------------------------------------------------------------------
def postgres_reachable(url: str = POSTGRES_URL) -> str | None:
    """None when the server answers, else why not."""
    try:
        with psycopg.connect(url, connect_timeout=3):
            return None
    except psycopg.Error as exc:
        return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _with_schema(url: str, schema: str) -> str:
    return f"{url}{'&' if '?' in url else '?'}schema={schema}"


@contextlib.contextmanager
def fresh_schema(url: str = POSTGRES_URL, prefix: str = "tzbench") -> Iterator[str]:
    """A new, empty PostgreSQL schema, dropped (with everything in it) afterwards."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    try:
        yield schema
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


@dataclass(frozen=True)
class BenchStore:
    """A fresh, empty store of one kind: where it lives and taizhang settings for it."""

    kind: str
    directory: Path
    schema: str | None = None

    @property
    def settings(self) -> Settings:
        url = _with_schema(POSTGRES_URL, self.schema) if self.schema else None
        return Settings(data_dir=self.directory / "data", database_url=url)


@contextlib.contextmanager
def fresh_store(kind: str) -> Iterator[BenchStore]:
    """A temp directory (SQLite) or a temp directory and a new schema (PostgreSQL)."""
    if kind not in STORES:
        raise ValueError(f"unknown store kind {kind!r}")
    with tempfile.TemporaryDirectory(prefix=f"tzbench-{kind}-") as tmp:
        if kind == "sqlite":
            yield BenchStore(kind, Path(tmp))
        else:
            with fresh_schema() as schema:
                yield BenchStore(kind, Path(tmp), schema)


def server_versions() -> dict[str, str]:
    versions = {"sqlite": sqlite3.sqlite_version}
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3) as conn:
            row = conn.execute("SHOW server_version").fetchone()
            versions["postgresql"] = str(row[0]) if row else "?"
    except psycopg.Error:
        versions["postgresql"] = "unreachable"
    return versions


# -- the raw library baseline ---------------------------------------------------------------
class RawApplication(Application[Any]):
    """A plain eventsourcing application: the library's mapper, JSON transcoder, AESCipher.

    Like the Ledger, it reads only the settings passed in (not the process
    environment), so a stray PERSISTENCE_MODULE in the shell cannot change it.
    """

    name = "rawbench"

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        return Environment(name, dict(env or {}))


def raw_library_env(store: BenchStore, dbfile: str = "raw.db") -> dict[str, str]:
    """eventsourcing settings for a plain application on ``store`` (same kind, own table)."""
    env = {
        "CIPHER_TOPIC": "eventsourcing.cryptography:AESCipher",
        "CIPHER_KEY": AESCipher.create_key(32),
        "CREATE_TABLE": "true",
    }
    if store.kind == "sqlite":
        env["PERSISTENCE_MODULE"] = "eventsourcing.sqlite"
        env["SQLITE_DBNAME"] = str(store.directory / dbfile)
        env["SQLITE_LOCK_TIMEOUT"] = "10"
    else:
        env.update(postgres_parts(_with_schema(POSTGRES_URL, store.schema or "public")))
        env["PERSISTENCE_MODULE"] = "eventsourcing.postgres"
        env["POSTGRES_POOL_SIZE"] = "5"
        env["POSTGRES_CONNECT_TIMEOUT"] = "5"
    return env


def stored_state_bytes(app: Application[Any]) -> tuple[int, int]:
    """(rows, total bytes of the ``state`` column) of an application's events table."""
    recorder: Any = app.recorder
    table = recorder.events_table_name
    datastore = recorder.datastore
    if hasattr(datastore, "schema"):  # PostgreSQL
        sql = (
            f"SELECT count(*) AS n, coalesce(sum(octet_length(state)), 0) AS b "
            f"FROM {datastore.schema}.{table}"
        )
        with datastore.transaction(commit=False) as curs:
            curs.execute(sql)
            row = curs.fetchone()
            return int(row["n"]), int(row["b"])
    with datastore.transaction(commit=False) as curs:
        curs.execute(f"SELECT count(*), coalesce(sum(length(state)), 0) FROM {table}")
        n, b = curs.fetchone()
        return int(n), int(b)


# -- timing --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Timed:
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("nan")


def timed(func: Callable[[], int]) -> Timed:
    """Run ``func`` (which returns how many events it wrote) and time it."""
    start = time.perf_counter()
    events = func()
    return Timed(events, time.perf_counter() - start)


def median_rate(runs: list[Timed]) -> float:
    return statistics.median(r.rate for r in runs)


def fmt_rate(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def fmt_ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        )

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def machine() -> dict[str, str]:
    from importlib.metadata import version

    info = {
        "date": datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
        "cpus": str(os.cpu_count()),
        "nproc": str(len(os.sched_getaffinity(0))) if hasattr(os, "sched_getaffinity") else "?",
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "eventsourcing": version("eventsourcing"),
    }
    info.update(server_versions())
    info["code"] = code_state()
    return info


def code_state() -> str:
    """The commit measured, and whether the working tree had changes (it often does)."""
    import subprocess

    def git(*args: str) -> str:
        done = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, check=False, timeout=10
        )
        return done.stdout.strip()

    head = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line for line in git("status", "--porcelain").splitlines() if line]
    return f"{head}+{len(changed)} uncommitted paths" if changed else head


# -- profiling -----------------------------------------------------------------------------
_OWN = re.compile(re.escape(str(ROOT)) + r"/(" + "|".join(OWN_PACKAGES) + r")/")


def profiled(func: Callable[[], T]) -> tuple[T, pstats.Stats]:
    profiler = cProfile.Profile()
    result = profiler.runcall(func)
    return result, pstats.Stats(profiler)


def _where(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    if filename == "~":
        return name
    path = Path(filename)
    try:
        shown = str(path.relative_to(ROOT))
    except ValueError:
        parts = path.parts
        if "site-packages" in parts:
            shown = "/".join(parts[parts.index("site-packages") + 1 :])
        else:
            shown = path.name
    return f"{shown}:{name}"


def _category(key: tuple[str, int, str]) -> str:
    filename, _, name = key
    if _OWN.search(filename):
        return "taizhang code (domain/, taizhang/, crypto/)"
    if "/eventsourcing/" in filename:
        return "eventsourcing library (Python)"
    text = f"{filename} {name}"
    if "sqlite3" in text or "psycopg" in text:
        return "database driver + server round trips"
    if "orjson" in text or "/json/" in text or "_json" in text:
        return "JSON encode/decode"
    if "cryptography" in text or "AESGCM" in text or "urandom" in text:
        return "encryption (AES-GCM, nonces)"
    if "zoneinfo" in filename or "datetime" in name:
        return "datetime/zoneinfo"
    if "/random.py" in filename or "_random" in name:
        return "random (workload generation)"
    return "other (stdlib, builtins)"


def profile_summary(stats: pstats.Stats, wall: float, top: int = 15) -> str:
    """Top ``top`` own-code functions by cumulative time (share of ``wall``), then where
    the self time goes (share of all self time)."""
    raw: dict[tuple[str, int, str], tuple[int, int, float, float, Any]] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    own = [(k, v) for k, v in raw.items() if _OWN.search(k[0])]
    own.sort(key=lambda kv: kv[1][3], reverse=True)
    rows = [
        [_where(k), f"{v[1]:,}", f"{v[2]:.2f}", f"{v[3]:.2f}", f"{100 * v[3] / wall:.0f}%"]
        for k, v in own[:top]
    ]
    headers = ["own function (by cumulative)", "calls", "tottime s", "cumtime s", "share"]
    out = [table(headers, rows)]
    by_cat: dict[str, float] = {}
    for k, v in raw.items():
        by_cat[_category(k)] = by_cat.get(_category(k), 0.0) + v[2]
    cats = sorted(by_cat.items(), key=lambda kv: kv[1], reverse=True)
    out.append("")
    out.append(
        table(
            ["where the time goes (self time)", "seconds", "share"],
            [[c, f"{s:.2f}", f"{100 * s / total:.0f}%"] for c, s in cats],
        )
    )
    hot = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:10]
    out.append("")
    out.append(
        table(
            ["top self time (any module)", "calls", "tottime s", "share"],
            [[_where(k), f"{v[1]:,}", f"{v[2]:.2f}", f"{100 * v[2] / total:.0f}%"] for k, v in hot],
        )
    )
    out.append(f"(profiled wall time {wall:.1f} s; profiler overhead inflates Python-heavy code)")
    return "\n".join(out)


@contextlib.contextmanager
def report_client(settings: Any, token: str, ledger: Any) -> Iterator[Any]:
    """The reports router in a FastAPI app of its own on ``ledger`` (no sealer, no catalog),
    signed in with ``token``: what the report endpoints cost, without the rest of the app."""
    import warnings

    from fastapi import FastAPI

    from api.errors import install_error_handlers
    from api.routes import reports
    from projections.registry import Reports

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient
    app = FastAPI()
    install_error_handlers(app)
    app.include_router(reports.router)
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.reports = Reports(ledger)
    with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:
        yield client
