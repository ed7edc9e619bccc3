"""Ingest throughput: events/s through taizhang, against the bare eventsourcing library.

Per store (SQLite in a temp directory, PostgreSQL in a fresh schema dropped after):

* command path — one command per transaction through the Ledger, exactly as the HTTP
  API calls it: register_subject, open_ticket, change_ticket(classify / assign /
  record_step / resolve / record_callback), open_case, change_case(accept / decide /
  give_feedback). Events = growth of ``ledger.log_length()``.
* bulk path — ``taizhang.demo.run_demo`` on a fresh store (realistic tickets and cases
  built with the domain commands, ``batch_size`` aggregates per transaction).
* raw library baseline — a plain ``eventsourcing`` Aggregate/Application with the
  library's JSON transcoder and AESCipher, payloads sized to our mean stored state,
  saved in batches of the same number of aggregates (vs bulk) and one event per
  transaction (vs the command path).

Run: ``./dev bench ingest`` or ``python bench/ingest.py [--store sqlite|postgresql|both]
[--events N] [--quick] [--profile]``. Goals are printed with PASS/MISS.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import statistics
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from typing import Any

import common
from eventsourcing.domain import Aggregate, event

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.ledger import Context, Ledger
from taizhang import synthetic
from taizhang.bootstrap import initialise, open_ledger
from taizhang.demo import run_demo

START_DAY = date(2026, 3, 2)  # a Monday; every command and demo day is in 2026
COMMAND_START = datetime(2026, 3, 2, 9, 30, tzinfo=SHANGHAI)
DEMO_NOW = datetime(2026, 11, 27, 18, 0, tzinfo=SHANGHAI)  # fixed: same workload every day
DEMO_DAYS = 14  # 2026-03-02 .. 03-15: ten working days, four weekend days
BATCH_AGGREGATES = 500  # run_demo's default batch_size
RAW_EVENTS_PER_AGGREGATE = 6
SEED = 20260302

GOAL_RATIO = 0.8
GOAL_BULK_RATE = {"sqlite": 15_000, "postgresql": 8_000}

FILLER = "".join(synthetic.TICKET_TOPICS + synthetic.RESOLUTIONS)


# -- the command path ------------------------------------------------------------------------
class WorkingClock:
    """Simulated time: a few minutes per command, 09:30-16:30 on working days of 2026.

    It is also the Ledger's clock, so ``now`` (receipts' SLA state) is the command's time,
    as it is for a live API call.
    """

    def __init__(self, calendar: WorkingCalendar, start: datetime, step: timedelta) -> None:
        self.calendar = calendar
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        return self.now

    def tick(self) -> datetime:
        at = self.now + self.step
        late = at.timetz().replace(tzinfo=None) > clock_time(16, 30)
        if late or not self.calendar.is_working_day(at.date()):
            day = at.date() + timedelta(days=1)
            while not self.calendar.is_working_day(day):
                day += timedelta(days=1)
            at = datetime.combine(day, clock_time(9, 30), tzinfo=SHANGHAI)
        self.now = at
        return at


class CommandDriver:
    """Ticket and case lifecycles, one Ledger command (= one transaction) at a time."""

    def __init__(self, ledger: Ledger, actor: str, clock: WorkingClock, seed: int) -> None:
        self.ledger = ledger
        self.actor = actor
        self.clock = clock
        self.rng = random.Random(seed)
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    def ctx(self) -> Context:
        return Context(self.actor, at=self.clock.tick())

    def _do(self, name: str, command: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        start = time.perf_counter()
        receipt = command()
        self.seconds[name] += time.perf_counter() - start
        self.calls[name] += 1
        return receipt

    def round(self) -> None:
        """One subject, one full ticket lifecycle and one full case lifecycle (11 commands)."""
        ledger, rng, actor = self.ledger, self.rng, self.actor
        person = synthetic.person_fields(rng)
        subject = self._do(
            "register_subject",
            lambda: ledger.register_subject(kind="person", **person, ctx=self.ctx()),
        )
        ctx = self.ctx()
        ticket = self._do(
            "open_ticket",
            lambda: ledger.open_ticket(
                channel=rng.choice(("phone", "email", "online", "window")),
                requester_id=subject["id"],
                description=rng.choice(synthetic.TICKET_TOPICS),
                received_at=ctx.at,
                ctx=ctx,
            ),
        )
        tid = ticket["id"]
        measure, result = rng.choice(synthetic.STEP_MEASURES)
        steps: list[tuple[str, Callable[[Any, datetime], None]]] = [
            (
                "classify",
                lambda t, at: t.classify(
                    nature=rng.choice(("consultation", "complaint", "suggestion")),
                    urgency=rng.choice(("important", "general", "minor")),
                    business_type=rng.choice(("employment", "entrepreneurship", "social_security")),
                    complexity=rng.choice(("simple", "medium")),
                    sub_type=None,
                    at=at,
                    by=actor,
                ),
            ),
            (
                "assign",
                lambda t, at: t.assign(assignee=actor, reason=None, team=None, at=at, by=actor),
            ),
            (
                "record_step",
                lambda t, at: t.record_step(measure=measure, result=result, at=at, by=actor),
            ),
            (
                "resolve",
                lambda t, at: t.resolve(result=rng.choice(synthetic.RESOLUTIONS), at=at, by=actor),
            ),
            (
                "record_callback",
                lambda t, at: t.record_callback("phone", rng.randint(3, 5), None, at=at, by=actor),
            ),
        ]
        for name, change in steps:
            self._do(name, lambda change=change: ledger.change_ticket(tid, self.ctx(), change))
        ctx = self.ctx()
        case = self._do(
            "open_case",
            lambda: ledger.open_case(
                service_type=rng.choice(
                    ("employment_training", "entrepreneurship_guidance", "funding_support")
                ),
                subject_id=subject["id"],
                materials=rng.sample(synthetic.MATERIALS, 3),
                received_at=ctx.at,
                ctx=ctx,
            ),
        )
        cid = case["id"]
        case_steps: list[tuple[str, Callable[[Any, datetime], None]]] = [
            (
                "accept",
                lambda c, at: c.accept(materials_complete=True, missing=None, at=at, by=actor),
            ),
            ("decide", lambda c, at: c.decide(approved=True, notes=None, at=at, by=actor)),
            (
                "give_feedback",
                lambda c, at: c.give_feedback(
                    result="已告知申请人审批结果并提供相应服务", at=at, by=actor
                ),
            ),
        ]
        for name, change in case_steps:
            self._do(name, lambda change=change: ledger.change_case(cid, self.ctx(), change))

    def run(self, events: int) -> common.Timed:
        """Whole rounds until about ``events`` events were written; events = log growth."""
        before = self.ledger.log_length()
        rounds = max(1, math.ceil(events / 13))  # 13 events per round (see README)
        start = time.perf_counter()
        for _ in range(rounds):
            self.round()
        seconds = time.perf_counter() - start
        return common.Timed(self.ledger.log_length() - before, seconds)


def open_fresh_ledger(
    store: common.BenchStore, clock: Callable[[], datetime]
) -> tuple[Ledger, str]:
    """Initialise the store (keys, tables, a bootstrap lead) and open a Ledger on it."""
    info = initialise(store.settings)
    return open_ledger(store.settings, clock=clock), info["user_id"]


@dataclass
class CommandResult:
    runs: list[common.Timed]
    per_command_ms: dict[str, float]
    stats: Any = None
    profiled_seconds: float = 0.0


def command_path(
    kind: str, events: int, runs: int, step: timedelta, profile: bool
) -> CommandResult:
    with common.fresh_store(kind) as store:
        clock = WorkingClock(WorkingCalendar(), COMMAND_START, step)
        ledger, actor = open_fresh_ledger(store, clock)
        clock.calendar = ledger.sla.calendar
        try:
            driver = CommandDriver(ledger, actor, clock, SEED)
            driver.run(max(200, events // 10))  # warm-up, excluded
            driver.seconds.clear()
            driver.calls.clear()
            measured = [driver.run(events) for _ in range(runs)]
            per_ms = {n: 1000 * driver.seconds[n] / driver.calls[n] for n in driver.calls}
            stats = None
            wall = 0.0
            if profile:
                timed, stats = common.profiled(lambda: driver.run(max(1000, events // 2)))
                wall = timed.seconds
            return CommandResult(measured, per_ms, stats, wall)
        finally:
            ledger.close()


# -- the bulk path ---------------------------------------------------------------------------
@dataclass
class BulkResult:
    timed: common.Timed
    bytes_per_event: float
    transactions: int
    aggregates: int
    save_seconds: float
    scale: float
    demo_events: int
    stats: Any = None
    subject_seconds: float = 0.0
    subject_method: str = "-"


def bulk_path(kind: str, scale: float, profile: bool = False) -> BulkResult:
    """run_demo on a fresh store; the whole call is timed (generation and saving)."""
    with common.fresh_store(kind) as store:
        ledger, _ = open_fresh_ledger(store, lambda: DEMO_NOW)
        try:
            counts = {"transactions": 0, "aggregates": 0, "seconds": 0.0, "subject_seconds": 0.0}
            save_batch = ledger.save_batch

            def counting_save_batch(aggregates: Any) -> int:
                aggregates = list(aggregates)
                start = time.perf_counter()
                written = save_batch(aggregates)
                counts["seconds"] += time.perf_counter() - start
                counts["transactions"] += 1
                counts["aggregates"] += len(aggregates)
                return written

            ledger.save_batch = counting_save_batch  # type: ignore[method-assign]
            # Time the subjects' validation and sealing (new_subjects in newer code).
            subject_method = next(
                (n for n in ("new_subjects", "new_subject") if hasattr(ledger, n)), None
            )
            if subject_method is not None:
                make_subjects = getattr(ledger, subject_method)

                def timed_subjects(*args: Any, **kwargs: Any) -> Any:
                    start = time.perf_counter()
                    try:
                        return make_subjects(*args, **kwargs)
                    finally:
                        counts["subject_seconds"] += time.perf_counter() - start

                setattr(ledger, subject_method, timed_subjects)

            def demo() -> int:
                stats = run_demo(ledger, days=DEMO_DAYS, seed=SEED, scale=scale, start=START_DAY)
                return stats.events

            before = ledger.log_length()
            stats = None
            start = time.perf_counter()
            if profile:
                demo_events, stats = common.profiled(demo)
            else:
                demo_events = demo()
            seconds = time.perf_counter() - start
            events = ledger.log_length() - before
            rows, nbytes = common.stored_state_bytes(ledger)
            return BulkResult(
                common.Timed(events, seconds),
                nbytes / rows,
                int(counts["transactions"]),
                int(counts["aggregates"]),
                counts["seconds"],
                scale,
                demo_events,
                stats,
                counts["subject_seconds"],
                subject_method or "-",
            )
        finally:
            ledger.close()


# A first guess of run_demo's yield: ~2,220 items per working day at scale 1, ~6.6 events
# each, ten working days in DEMO_DAYS. The warm-up run measures the real yield.
ROUGH_YIELD = BulkResult(common.Timed(150_000, 1.0), 0.0, 0, 0, 0.0, 1.0, 0)


def scale_for(events: int, calibration: BulkResult) -> float:
    """The demo scale expected to write ``events`` events, from a smaller run's yield."""
    per_scale = calibration.timed.events / calibration.scale
    return max(0.001, events / per_scale)


# -- the raw library baseline -------------------------------------------------------------------
class RawItem(Aggregate):
    """A plain aggregate: a created event and step events with a text payload."""

    @event("Opened")
    def __init__(self, number: str, text: str, at: datetime, by: str) -> None:
        self.number = number
        self.text = text
        self.at = at
        self.by = by
        self.steps = 0

    @event("Stepped")
    def step(self, text: str, at: datetime, by: str) -> None:
        self.text = text
        self.at = at
        self.by = by
        self.steps += 1


class RawWorkload:
    """Raw aggregates with ~our payload sizes; ``events_per_aggregate`` events each."""

    def __init__(self, payload_chars: int, events_per_aggregate: int = RAW_EVENTS_PER_AGGREGATE):
        self.payload_chars = payload_chars
        self.per_aggregate = events_per_aggregate
        self.at = datetime(2026, 3, 2, 9, 0, tzinfo=SHANGHAI)
        self.by = "4f6b0c3e-9a51-4c1e-8d0a-2b7e5f1a9c33"  # a user id, as our events carry
        self.n = 0

    def text(self) -> str:
        k = self.n % len(FILLER)
        return (FILLER[k:] + FILLER * (1 + self.payload_chars // len(FILLER)))[: self.payload_chars]

    def new(self) -> RawItem:
        self.n += 1
        self.at += timedelta(seconds=7)
        return RawItem(f"RAW20260302-{self.n:05d}", self.text(), self.at, self.by)

    def step(self, item: RawItem) -> None:
        self.at += timedelta(seconds=7)
        item.step(self.text(), self.at, self.by)


def payload_chars_for(target_bytes: float, app: common.RawApplication) -> int:
    """Text length that makes the raw events' mean stored state ``target_bytes`` long."""

    def mean_bytes(chars: int) -> float:
        work = RawWorkload(chars)
        item = work.new()
        for _ in range(RAW_EVENTS_PER_AGGREGATE - 1):
            work.step(item)
        stored = [app.mapper.to_stored_event(e) for e in item.collect_events()]
        return statistics.mean(len(s.state) for s in stored)

    low, high = mean_bytes(0), mean_bytes(200)
    per_char = (high - low) / 200
    return max(0, round((target_bytes - low) / per_char))


def raw_batched(kind: str, events: int, payload_chars: int) -> tuple[common.Timed, float, float]:
    """Build aggregates, save BATCH_AGGREGATES of them per transaction, on a fresh store."""
    with common.fresh_store(kind) as store:
        app = common.RawApplication(env=common.raw_library_env(store))
        try:
            work = RawWorkload(payload_chars)
            n_aggregates = math.ceil(events / RAW_EVENTS_PER_AGGREGATE)
            saving = 0.0

            def body() -> int:
                nonlocal saving
                written, batch = 0, []
                for _ in range(n_aggregates):
                    item = work.new()
                    for _ in range(RAW_EVENTS_PER_AGGREGATE - 1):
                        work.step(item)
                    batch.append(item)
                    if len(batch) >= BATCH_AGGREGATES:
                        t = time.perf_counter()
                        written += len(app.save(*batch))
                        saving += time.perf_counter() - t
                        batch = []
                if batch:
                    t = time.perf_counter()
                    written += len(app.save(*batch))
                    saving += time.perf_counter() - t
                return written

            timed = common.timed(body)
            rows, nbytes = common.stored_state_bytes(app)
            return timed, nbytes / rows, saving
        finally:
            app.close()


def raw_single(kind: str, events: int, payload_chars: int) -> tuple[common.Timed, float]:
    """The same aggregates, but one event per transaction (``app.save`` after each event)."""
    with common.fresh_store(kind) as store:
        app = common.RawApplication(env=common.raw_library_env(store))
        try:
            work = RawWorkload(payload_chars)
            n_aggregates = math.ceil(events / RAW_EVENTS_PER_AGGREGATE)

            def body() -> int:
                written = 0
                for _ in range(n_aggregates):
                    item = work.new()
                    written += len(app.save(item))
                    for _ in range(RAW_EVENTS_PER_AGGREGATE - 1):
                        work.step(item)
                        written += len(app.save(item))
                return written

            timed = common.timed(body)
            rows, nbytes = common.stored_state_bytes(app)
            return timed, nbytes / rows
        finally:
            app.close()


# -- one store ------------------------------------------------------------------------------------
@dataclass
class StoreReport:
    kind: str
    command: CommandResult | None = None
    bulk: list[BulkResult] = field(default_factory=list)
    raw_batched: list[common.Timed] = field(default_factory=list)
    raw_batched_save_s: list[float] = field(default_factory=list)
    raw_single: list[common.Timed] = field(default_factory=list)
    raw_bytes: float = 0.0
    payload_chars: int = 0
    bulk_profile: BulkResult | None = None

    @property
    def command_rate(self) -> float:
        return common.median_rate(self.command.runs) if self.command else float("nan")

    @property
    def bulk_rate(self) -> float:
        return statistics.median(b.timed.rate for b in self.bulk)

    @property
    def raw_batched_rate(self) -> float:
        return common.median_rate(self.raw_batched)

    @property
    def raw_single_rate(self) -> float:
        return common.median_rate(self.raw_single)


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def bench_store(kind: str, args: argparse.Namespace) -> StoreReport:
    report = StoreReport(kind)
    step = timedelta(minutes=args.step_minutes)

    # Bulk first: its mean stored state size sizes the raw payloads.
    log(f"[{kind}] bulk warm-up / calibration ...")
    calibration = bulk_path(kind, scale_for(max(5_000, args.events // 20), ROUGH_YIELD))
    scale = scale_for(args.events, calibration)
    for i in range(args.bulk_runs):
        log(f"[{kind}] bulk run {i + 1}/{args.bulk_runs}: run_demo scale={scale:.3f} ...")
        report.bulk.append(bulk_path(kind, scale))
    target_bytes = statistics.mean(b.bytes_per_event for b in report.bulk)

    with common.fresh_store(kind) as store:
        app = common.RawApplication(env=common.raw_library_env(store))
        try:
            report.payload_chars = payload_chars_for(target_bytes, app)
        finally:
            app.close()

    log(f"[{kind}] raw library, batched: warm-up + {args.runs} runs of {args.events:,} events ...")
    raw_batched(kind, max(2_000, args.events // 20), report.payload_chars)
    for _ in range(args.runs):
        timed, nbytes, saving = raw_batched(kind, args.events, report.payload_chars)
        report.raw_batched.append(timed)
        report.raw_batched_save_s.append(saving)
        report.raw_bytes = nbytes

    log(f"[{kind}] raw library, one event per transaction: warm-up + {args.runs} runs ...")
    raw_single(kind, max(120, args.command_events // 10), report.payload_chars)
    for _ in range(args.runs):
        timed, _ = raw_single(kind, args.command_events, report.payload_chars)
        report.raw_single.append(timed)

    log(f"[{kind}] command path: warm-up + {args.runs} runs of ~{args.command_events:,} events ...")
    report.command = command_path(kind, args.command_events, args.runs, step, args.profile)

    if args.profile:
        profile_events = min(args.events, 50_000)
        log(f"[{kind}] profiling the bulk path (~{profile_events:,} events) ...")
        report.bulk_profile = bulk_path(kind, scale_for(profile_events, calibration), profile=True)
    return report


# -- output ----------------------------------------------------------------------------------------
def print_store_details(r: StoreReport, args: argparse.Namespace) -> None:
    print(f"\n## {r.kind}")
    b = r.bulk[0]
    print(
        f"bulk path: run_demo(days={DEMO_DAYS}, scale={b.scale:.3f}, start={START_DAY}, "
        f"batch_size={BATCH_AGGREGATES}), {len(r.bulk)} run(s) on a fresh store each"
        f"{' (1 run: long)' if len(r.bulk) == 1 else ', median'}"
    )
    for i, run in enumerate(r.bulk, 1):
        print(
            f"  run {i}: {run.timed.events:,} events in {run.timed.seconds:.1f} s = "
            f"{run.timed.rate:,.0f} ev/s; {run.transactions} transactions, "
            f"{run.aggregates / max(1, run.transactions):.0f} aggregates and "
            f"{run.timed.events / max(1, run.transactions):,.0f} events per transaction, "
            f"{run.timed.events / max(1, run.aggregates):.2f} events/aggregate; "
            f"time: {100 * run.save_seconds / run.timed.seconds:.0f}% in save_batch "
            f"(mapper, cipher, insert), {100 * run.subject_seconds / run.timed.seconds:.0f}% in "
            f"ledger.{run.subject_method} (masks, sealing personal fields, data keys), "
            f"the rest building tickets and cases"
        )
    in_save = statistics.mean(
        s / t.seconds for s, t in zip(r.raw_batched_save_s, r.raw_batched, strict=True)
    )
    print(
        f"raw library batched: {BATCH_AGGREGATES} aggregates x {RAW_EVENTS_PER_AGGREGATE} events "
        f"per transaction, payload text {r.payload_chars} chars, median of {len(r.raw_batched)}: "
        + ", ".join(f"{t.rate:,.0f}" for t in r.raw_batched)
        + f" ev/s; {100 * in_save:.0f}% of the time in app.save"
    )
    print(
        f"raw library one event per transaction: median of {len(r.raw_single)}: "
        + ", ".join(f"{t.rate:,.0f}" for t in r.raw_single)
        + " ev/s"
    )
    if r.command:
        runs = r.command.runs
        print(
            f"command path: {runs[0].events:,} events per run (~13 per round of 11 commands), "
            f"{args.step_minutes} simulated min per command, median of {len(runs)}: "
            + ", ".join(f"{t.rate:,.0f}" for t in runs)
            + " ev/s"
        )
        per = r.command.per_command_ms
        print("  mean ms per command: " + ", ".join(f"{n} {ms:.2f}" for n, ms in per.items()))
    print(
        f"mean stored state: ours {b.bytes_per_event:,.0f} B/event, raw {r.raw_bytes:,.0f} B/event"
    )


def print_profiles(r: StoreReport) -> None:
    profile = r.bulk_profile
    if profile is not None:
        print(f"\n### {r.kind}: bulk path profile ({profile.timed.events:,} events, cProfile)")
        print(common.profile_summary(profile.stats, profile.timed.seconds))
    if r.command and r.command.stats is not None:
        print(f"\n### {r.kind}: command path profile (cProfile)")
        print(common.profile_summary(r.command.stats, r.command.profiled_seconds))


def print_summary(reports: list[StoreReport]) -> list[bool]:
    headers = [
        "store",
        "command ev/s",
        "bulk ev/s",
        "raw batched ev/s",
        "raw single ev/s",
        "bulk/raw batched",
        "command/raw single",
        "B/event ours",
        "B/event raw",
    ]
    rows = [
        [
            r.kind,
            common.fmt_rate(r.command_rate),
            common.fmt_rate(r.bulk_rate),
            common.fmt_rate(r.raw_batched_rate),
            common.fmt_rate(r.raw_single_rate),
            common.fmt_ratio(r.bulk_rate / r.raw_batched_rate),
            common.fmt_ratio(r.command_rate / r.raw_single_rate),
            f"{r.bulk[0].bytes_per_event:,.0f}",
            f"{r.raw_bytes:,.0f}",
        ]
        for r in reports
    ]
    print("\n## Summary (events/s; medians, bulk runs as noted above)")
    print(common.table(headers, rows))
    print("\n## Goals")
    results = []
    for r in reports:
        ratio = r.bulk_rate / r.raw_batched_rate
        ok = ratio >= GOAL_RATIO
        results.append(ok)
        print(
            f"{common.verdict(ok)}  {r.kind}: bulk >= {GOAL_RATIO}x raw batched "
            f"(measured {ratio:.2f}x)"
        )
        floor = GOAL_BULK_RATE[r.kind]
        ok = r.bulk_rate >= floor
        results.append(ok)
        print(
            f"{common.verdict(ok)}  {r.kind}: bulk >= {floor:,} events/s "
            f"(measured {r.bulk_rate:,.0f})"
        )
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument(
        "--events",
        type=int,
        help="events per bulk and raw-batched run (default 200,000; --quick 20,000)",
    )
    parser.add_argument(
        "--command-events",
        type=int,
        help="events per command-path and raw one-per-transaction run (default 3,000; --quick 600)",
    )
    parser.add_argument(
        "--runs", type=int, default=3, help="runs of the cheap measurements (median)"
    )
    parser.add_argument("--bulk-runs", type=int, default=1, help="bulk runs (median; default 1)")
    parser.add_argument(
        "--step-minutes", type=float, default=3.0, help="simulated minutes per command"
    )
    parser.add_argument("--quick", action="store_true", help="about 10x smaller; for a smoke test")
    parser.add_argument(
        "--profile", action="store_true", help="also cProfile the bulk and command paths"
    )
    parser.add_argument("--check", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    if args.events is None:
        args.events = 20_000 if args.quick else 200_000
    if args.command_events is None:
        args.command_events = 600 if args.quick else 3_000
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = list(common.STORES) if args.store == "both" else [args.store]
    if "postgresql" in kinds:
        why = common.postgres_reachable()
        if why is not None:
            if args.store == "postgresql":
                print(f"PostgreSQL at {common.POSTGRES_URL} is unreachable: {why}", file=sys.stderr)
                return 2
            log(f"skipping PostgreSQL ({common.POSTGRES_URL} unreachable: {why})")
            kinds.remove("postgresql")

    info = common.machine()
    print("# taizhang ingest benchmark")
    print(
        f"{info['date']}; {info['nproc']} cores (nproc); Python {info['python']}; "
        f"eventsourcing {info['eventsourcing']}; SQLite {info['sqlite']}; "
        f"PostgreSQL {info['postgresql']}; {info['platform']}; code {info['code']}"
    )
    print(
        f"sizes: bulk and raw batched {args.events:,} events per run; command path and raw "
        f"single {args.command_events:,} events per run; warm-up runs excluded"
    )
    started = time.perf_counter()
    load_before = os.getloadavg()
    reports = []
    for kind in kinds:
        reports.append(bench_store(kind, args))
    load_after = os.getloadavg()
    print(
        f"load average (1 min) before {load_before[0]:.2f}, after {load_after[0]:.2f} "
        f"on {info['nproc']} cores: above ~0.3 other work shared the machine"
    )
    for r in reports:
        print_store_details(r, args)
    results = print_summary(reports)
    for r in reports:
        print_profiles(r)
    print(f"\n(total {time.perf_counter() - started:.0f} s)")
    return 1 if args.check and not all(results) else 0


if __name__ == "__main__":
    sys.exit(main())
