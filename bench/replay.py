"""Replay throughput and report latency on a log of about a million events.

Per store (SQLite, PostgreSQL):

* the log — ``taizhang.demo.run_demo`` at contract-year volume (scale 1) over a
  quarter of business days (2026-03-02 ..), about 1,000,000 events; generated
  once and cached (``--cache``, default ``/tmp/taizhang-bench-replay``: a SQLite
  directory, and for PostgreSQL a schema kept between runs; ``--regenerate``);
* raw library — the eventsourcing baseline of reading the log: pages of
  ``ledger.recorder.select_notifications`` decoded with ``ledger.mapper.to_domain_event``
  (the application's own mapper: AES-GCM and the transcoder), nothing else;
* rebuild — ``replay.rebuild.rebuild``: every view (catalog, clock, quota, sla,
  quality) dropped and rebuilt from the log, events/s;
* reports — p50/p99 latency of each report endpoint (``/reports/quota``,
  ``/reports/sla``, ``/reports/quality``, ``/reports/access-log``, live and
  ``as_of``) through the FastAPI app in process (no network), after the views
  have caught up. Each access-log request records its own read first, so the
  log grows by one event per request and the views follow it as they go.

Goals: rebuild >= 25,000 events/s; every report p99 < 100 ms. Run:
``python bench/replay.py [--store sqlite|postgresql|both] [--events N] [--requests N]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

# This script is named like the ``replay`` package: look for modules in the repository first.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]
sys.path[:0] = [str(_HERE.parent)]
sys.path.append(str(_HERE))

import common  # noqa: E402
import psycopg  # noqa: E402

from domain.calendar import SHANGHAI  # noqa: E402
from domain.ledger import Ledger  # noqa: E402
from replay.rebuild import rebuild  # noqa: E402
from taizhang.bootstrap import initialise, open_ledger  # noqa: E402
from taizhang.demo import run_demo  # noqa: E402
from taizhang.settings import Settings  # noqa: E402

GOAL_REBUILD = 25_000
GOAL_P99_MS = 100.0
START_DAY = date(2026, 3, 2)  # a Monday
NOW = datetime(2026, 7, 15, 12, 0, tzinfo=SHANGHAI)  # the ledger clock: after the last day
EVENTS_PER_DAY_AT_SCALE_1 = 8_500  # about, over calendar days (weekends are quiet)
SEED = 20260302
CACHE = Path(os.environ.get("TAIZHANG_BENCH_REPLAY_CACHE")
             or Path(tempfile.gettempdir()) / "taizhang-bench-replay")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the cached log --------------------------------------------------------------------------
@dataclass
class Store:
    kind: str
    settings: Settings
    token: str
    events: int = 0


def _days_for(events: int) -> int:
    return max(1, round(events / EVENTS_PER_DAY_AT_SCALE_1))


def _settings(kind: str, events: int, cache: Path) -> Settings:
    tag = f"{_days_for(events)}d"
    directory = cache / f"{kind}-{tag}"
    if kind == "sqlite":
        return Settings(data_dir=directory)
    schema = f"tzbench_replay_{tag}"
    url = f"{common.POSTGRES_URL}{'&' if '?' in common.POSTGRES_URL else '?'}schema={schema}"
    return Settings(data_dir=directory, database_url=url)


def _schema(settings: Settings) -> str | None:
    url = settings.database_url or ""
    return url.split("schema=")[-1] if "schema=" in url else None


def _wipe(settings: Settings) -> None:
    import shutil

    shutil.rmtree(settings.data_dir, ignore_errors=True)
    schema = _schema(settings)
    if schema:
        with psycopg.connect(common.POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")


def ensure_log(kind: str, events: int, cache: Path, regenerate: bool) -> Store:
    """The cached store of about ``events`` events, generated when missing."""
    settings = _settings(kind, events, cache)
    token_file = settings.data_dir / "bench-token"
    if not regenerate and token_file.exists():
        ledger = open_ledger(settings, clock=lambda: NOW)
        try:
            length = ledger.log_length()
        finally:
            ledger.close()
        if length >= events * 0.9:
            log(f"{kind}: cached log of {length:,} events at {settings.describe_database()}")
            return Store(kind, settings, token_file.read_text().strip(), length)
    _wipe(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    info = initialise(settings)
    ledger = open_ledger(settings, clock=lambda: NOW)
    try:
        days = _days_for(events)
        log(f"{kind}: generating ~{events:,} events (run_demo scale 1, {days} days from "
            f"{START_DAY}) ...")
        began = time.perf_counter()
        stats = run_demo(ledger, days=days, seed=SEED, scale=1.0, start=START_DAY)
        length = ledger.log_length()
        log(f"{kind}: {stats.tickets:,} tickets, {stats.cases:,} cases, {length:,} events in "
            f"{time.perf_counter() - began:.0f}s")
    finally:
        ledger.close()
    token_file.write_text(info["token"])
    return Store(kind, settings, info["token"], length)


# -- measurements ---------------------------------------------------------------------------
def raw_decode(ledger: Ledger, page: int = 2_000) -> common.Timed:
    """The library's own read of the log: select pages, decode each event, nothing else."""
    recorder, mapper = ledger.recorder, ledger.mapper
    began = time.perf_counter()
    count, position = 0, 0
    while True:
        notifications = recorder.select_notifications(start=position + 1, limit=page)
        if not notifications:
            break
        for notification in notifications:
            mapper.to_domain_event(notification)
        count += len(notifications)
        position = notifications[-1].id
    return common.Timed(count, time.perf_counter() - began)


@dataclass
class Latency:
    name: str
    samples: list[float] = field(default_factory=list)

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000


REQUESTS = [
    ("quota month", "/reports/quota?period=month&day=2026-04-15"),
    ("quota contract", "/reports/quota?period=contract"),
    ("quota week", "/reports/quota?period=week&day=2026-04-15"),
    ("sla breached", "/reports/sla?state=breached"),
    ("sla at_risk", "/reports/sla?state=at_risk"),
    ("sla all", "/reports/sla"),
    ("quality quarter", "/reports/quality?period=quarter&day=2026-04-15"),
    ("quality month", "/reports/quality?period=month&day=2026-04-15"),
    ("access-log", "/reports/access-log?limit=100"),  # records its own read: the log grows
]


def latencies(store: Store, ledger: Ledger, requests: int, as_of: str) -> list[Latency]:
    found = []
    with common.report_client(store.settings, store.token, ledger) as client:
        plan = [*REQUESTS,
                ("quota as_of", f"/reports/quota?period=month&day=2026-04-15&as_of={as_of}"),
                ("sla as_of", f"/reports/sla?state=breached&as_of={as_of}"),
                ("quality as_of", f"/reports/quality?period=quarter&day=2026-04-15&as_of={as_of}")]
        for name, path in plan:
            answer = client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            timing = Latency(name)
            count = requests if "as_of" not in name else max(10, requests // 4)
            for _ in range(count):
                began = time.perf_counter()
                answer = client.get(path)
                timing.samples.append(time.perf_counter() - began)
                assert answer.status_code == 200
            found.append(timing)
    return found


def middle_instant(ledger: Ledger) -> str:
    """An instant in the middle of the log's recording (for the as_of requests)."""
    middle = ledger.log_length() // 2
    found = ledger.recorder.select_notifications(start=middle, limit=1)
    event = ledger.mapper.to_domain_event(found[0])
    return event.timestamp.astimezone(SHANGHAI).isoformat().replace("+", "%2B")


def checkpoint(ledger: Ledger) -> None:
    """Flush the rebuild's writes first, so the latencies are not those of the flush."""
    from projections.database import ViewDatabase

    db = ViewDatabase(ledger)
    with db.outside_transaction() as cur:
        if db.dialect == "postgresql":
            cur.execute("CHECKPOINT")
        else:
            cur.execute("PRAGMA wal_checkpoint(TRUNCATE)")


@dataclass
class Result:
    kind: str
    events: int
    raw: common.Timed
    rebuilt: common.Timed
    timings: list[Latency]


def bench_store(kind: str, args: argparse.Namespace) -> Result:
    store = ensure_log(kind, args.events, Path(args.cache), args.regenerate)
    ledger = open_ledger(store.settings, clock=lambda: NOW)
    try:
        log(f"{kind}: raw library decode-and-iterate ...")
        raw = raw_decode(ledger)
        log(f"{kind}: raw {raw.rate:,.0f} events/s; rebuilding every view ...")
        result = rebuild(ledger)
        rebuilt = common.Timed(result.events, result.seconds)
        log(f"{kind}: rebuild {rebuilt.rate:,.0f} events/s; checkpoint, report latencies ...")
        checkpoint(ledger)
        timings = latencies(store, ledger, args.requests, middle_instant(ledger))
    finally:
        ledger.close()
    return Result(kind, store.events, raw, rebuilt, timings)


def print_results(results: list[Result]) -> bool:
    ok = True
    print("\n## Rebuild (all views: catalog, clock, quota, sla, quality)")
    rows = []
    for r in results:
        passed = r.rebuilt.rate >= GOAL_REBUILD
        ok &= passed
        rows.append([r.kind, f"{r.events:,}", common.fmt_rate(r.raw.rate),
                     common.fmt_rate(r.rebuilt.rate), f"{r.rebuilt.seconds:.1f}",
                     common.fmt_ratio(r.rebuilt.rate / r.raw.rate),
                     f"{common.verdict(passed)} (>= {GOAL_REBUILD:,}/s)"])
    print(common.table(["store", "events", "raw decode ev/s", "rebuild ev/s", "rebuild s",
                        "rebuild/raw", "goal"], rows))
    print("\n## Report latency (in-process FastAPI, views caught up)")
    names = [t.name for t in results[0].timings] if results else []
    rows = []
    for name in names:
        row = [name]
        for r in results:
            timing = next(t for t in r.timings if t.name == name)
            passed = timing.pct(99) < GOAL_P99_MS
            ok &= passed
            row += [f"{timing.pct(50):.1f}", f"{timing.pct(99):.1f}", common.verdict(passed)]
        rows.append(row)
    headers = ["endpoint"]
    for r in results:
        headers += [f"{r.kind} p50 ms", f"{r.kind} p99 ms", "goal"]
    print(common.table(headers, rows))
    print(f"(goal: every report p99 < {GOAL_P99_MS:.0f} ms)")
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=200, help="samples per endpoint")
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--check", action="store_true", help="exit 1 on a MISS")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = list(common.STORES) if args.store == "both" else [args.store]
    if "postgresql" in kinds and (why := common.postgres_reachable()) is not None:
        log(f"skipping PostgreSQL ({common.POSTGRES_URL} unreachable: {why})")
        kinds.remove("postgresql")
    if args.generate_only:
        for kind in kinds:
            ensure_log(kind, args.events, Path(args.cache), args.regenerate)
        return 0
    info = common.machine()
    print("# taizhang replay benchmark")
    print(f"{info['date']}; {info['nproc']} cores (nproc); Python {info['python']}; "
          f"eventsourcing {info['eventsourcing']}; SQLite {info['sqlite']}; "
          f"PostgreSQL {info['postgresql']}; {info['platform']}; code {info['code']}")
    results = [bench_store(kind, args) for kind in kinds]
    ok = print_results(results)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
