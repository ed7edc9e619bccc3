"""The read gate's latency: a gated reveal against a plain masked read, SQLite and PostgreSQL.

Per store (SQLite in a temp directory, PostgreSQL in a fresh schema dropped after),
single client, one request at a time:

* masked read — what ``GET /subjects/{id}`` does: ``ledger.subject(id)`` and
  ``ledger.masks(subject)`` (unseals the display masks; records nothing).
* reveal (lead) — ``ledger.reveal``: load the subject, decide, append the
  ``AccessRecord`` and wait for its commit, then unseal the fields.
* reveal (grant) — the same by a ticket handler citing an approved grant (one more
  aggregate to load).
* with ``--http``: the masked read and the lead's reveal over HTTP too (in-process
  ``TestClient``: authentication, validation, JSON), once with the app as served
  (the catalog and report views follow the log in background threads of the same
  process) and once without those threads, so their share shows.

Goal: a reveal's p99 under 15 ms on PostgreSQL. Run: ``./dev bench gate`` or
``python bench/gate.py [--store sqlite|postgresql|both] [--reads N] [--http] [--check]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import uuid4

import common

# bench/replay.py would shadow the ``replay`` package: the repository goes first.
sys.path.insert(0, str(common.ROOT))

from domain.ledger import Context, Ledger
from taizhang import synthetic
from taizhang.bootstrap import initialise, open_ledger

GOAL_P99_MS = {"postgresql": 15.0}
SUBJECTS = 200


@dataclass(frozen=True)
class Latency:
    name: str
    samples: list[float]  # seconds

    def pct(self, q: float) -> float:
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000

    @property
    def p99(self) -> float:
        return self.pct(99)


def measure(name: str, call: Callable[[int], Any], reads: int, warmup: int) -> Latency:
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(reads):
        began = time.perf_counter()
        call(i)
        samples.append(time.perf_counter() - began)
    return Latency(name, samples)


def prepare(ledger: Ledger, lead: str) -> tuple[list[str], str, str]:
    """Subjects, a handler and an approved grant of theirs covering the first subject."""
    import random

    rng = random.Random(20261201)
    ctx = Context(lead)
    ids = [
        str(ledger.register_subject(kind="person", **synthetic.person_fields(rng), ctx=ctx)["id"])
        for _ in range(SUBJECTS)
    ]
    handler = str(ledger.add_user(name="bench handler", role="ticket_handler", ctx=ctx)["id"])
    grant = ledger.apply_for_grant(
        subject_id=ids[0], fields=["name", "mobile"], purpose="bench",
        valid_until=ledger.now() + timedelta(days=1), ctx=Context(handler),
    )["id"]
    ledger.decide_grant(grant, "approve", None, ctx)
    return ids, handler, grant


def bench_store(kind: str, args: argparse.Namespace) -> list[Latency]:
    with common.fresh_store(kind) as store:
        settings = store.settings
        token = initialise(settings)["token"]
        ledger = open_ledger(settings)
        try:
            lead = str(ledger.authenticate(token).id)
            ids, handler, grant = prepare(ledger, lead)
            fields = ["name", "id_number", "mobile"]

            def masked(i: int) -> Any:
                subject = ledger.subject(ids[i % len(ids)])
                return ledger.masks(subject)

            def reveal_lead(i: int) -> Any:
                return ledger.reveal(ids[i % len(ids)], fields, "bench", request_id=uuid4().hex,
                                     client="127.0.0.1", ctx=Context(lead))

            def reveal_grant(i: int) -> Any:
                return ledger.reveal(ids[0], ["name", "mobile"], "bench", grant_id=grant,
                                     request_id=uuid4().hex, client="127.0.0.1",
                                     ctx=Context(handler))

            results = [
                measure("masked read", masked, args.reads, args.warmup),
                measure("reveal (lead)", reveal_lead, args.reads, args.warmup),
                measure("reveal (grant)", reveal_grant, args.reads, args.warmup),
            ]
            if args.http:
                results += bench_http(settings, ledger, token, ids, args)
            return results
        finally:
            ledger.close()


def bench_http(
    settings: Any, ledger: Ledger, token: str, ids: list[str], args: argparse.Namespace
) -> list[Latency]:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from fastapi.testclient import TestClient

    from api.app import create_app
    from projections.catalog import ItemCatalog

    body = {"fields": ["name", "id_number", "mobile"], "purpose": "bench"}
    results = []
    # As served (the catalog and report views follow the log in background threads),
    # then without those threads: a catalog with no follower starts none.
    for label, catalog in (("", None), (", no views", ItemCatalog(ledger))):
        app = create_app(settings, ledger, catalog=catalog)
        with TestClient(app, headers={"Authorization": f"Bearer {token}"}) as client:

            def masked(i: int, client: Any = client) -> Any:
                answer = client.get(f"/subjects/{ids[i % len(ids)]}")
                assert answer.status_code == 200, answer.text

            def reveal(i: int, client: Any = client) -> Any:
                answer = client.post(f"/subjects/{ids[i % len(ids)]}/reveal", json=body)
                assert answer.status_code == 200, answer.text

            results += [
                measure(f"HTTP masked read{label}", masked, args.reads, args.warmup),
                measure(f"HTTP reveal (lead){label}", reveal, args.reads, args.warmup),
            ]
    return results


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--reads", type=int, default=2000, help="timed calls per measurement")
    parser.add_argument("--warmup", type=int, default=200, help="untimed calls before each")
    parser.add_argument("--http", action="store_true", help="also measure over HTTP")
    parser.add_argument("--quick", action="store_true", help="300 reads; a smoke test")
    parser.add_argument("--check", action="store_true", help="exit 1 when the goal is missed")
    args = parser.parse_args(argv)
    if args.quick:
        args.reads, args.warmup = 300, 50
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    info = common.machine()
    print("machine: " + ", ".join(f"{k} {v}" for k, v in info.items()))
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    missed = False
    for kind in kinds:
        if kind == "postgresql" and (why := common.postgres_reachable()) is not None:
            print(f"\npostgresql: skipped ({why})")
            if args.store == "postgresql":
                return 2
            continue
        results = bench_store(kind, args)
        print(f"\n{kind}: {args.reads} timed calls each, single client")
        rows = [[r.name, f"{r.p50:.2f}", f"{r.p99:.2f}", f"{max(r.samples) * 1000:.2f}"]
                for r in results]
        print(common.table(["measurement", "p50 ms", "p99 ms", "max ms"], rows))
        base = results[0]
        for r in results[1:3]:
            print(f"{r.name}: p50 {r.p50 / base.p50:.1f}x the masked read")
        goal = GOAL_P99_MS.get(kind)
        if goal is not None:
            worst = max(r.p99 for r in results[1:3])
            ok = worst < goal
            missed |= not ok
            print(f"goal: reveal p99 < {goal:.0f} ms on {kind}: {common.verdict(ok)}"
                  f" ({worst:.2f} ms)")
    return 1 if (args.check and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
