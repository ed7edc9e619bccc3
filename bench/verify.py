"""Integrity benchmark: sealing and verifying a log of 1,000,000+ stored records,
proof times, and what the keyring cipher and the sealer cost bulk ingest.

    python bench/verify.py                    # SQLite, 1,000,000 events
    python bench/verify.py --store both       # and PostgreSQL
    python bench/verify.py --events 100000    # a quicker look

Goals (issue: tamper-evident log): full verification of 1,000,000 records in
<= 15 s; sealing and the keyring cipher add <= 15% to bulk ingest.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import statistics
import sys
import threading
import time
from datetime import date, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common

from crypto.proofs import verify_consistency, verify_inclusion
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.ledger import Ledger, LedgerServices
from projections.database import ViewDatabase
from replay.verify import verify_log
from taizhang.bootstrap import (
    initialise,
    install_sealer,
    master_keyring,
    open_ledger,
    storage_env,
)
from taizhang.demo import run_demo
from taizhang.integrity import head_verifier, open_sealer

NOW = datetime(2026, 11, 28, 18, 0, tzinfo=SHANGHAI)
EVENTS_PER_SCALE_DAY = 14_000  # run_demo at scale 1.0 writes about this many events a day


def demo_until(ledger: Ledger, events: int, seed: int = 1) -> int:
    """Run the demo in 30-day slices until the log holds at least ``events``."""
    written, day, slice_seed = 0, date(2025, 1, 1), seed
    scale = max(0.01, events / (EVENTS_PER_SCALE_DAY * 600))
    while written < events:
        stats = run_demo(ledger, days=30, seed=slice_seed, scale=scale, start=day)
        written += stats.events
        day = date.fromordinal(day.toordinal() + 30)
        if day >= date(2026, 10, 1):
            day, scale = date(2025, 1, 1), scale * 1.5
        slice_seed += 1
    return written


def baseline_ledger(store: common.BenchStore) -> Ledger:
    """The same Ledger with the library's AESCipher, mapper and recorder.

    No key id, no row binding, no leaf log: what the ledger would cost without
    the integrity layer.
    """
    settings = store.settings
    env = storage_env(settings)
    env.pop("MAPPER_TOPIC")
    env.pop("APPLICATION_RECORDER_TOPIC")  # the library's recorder: no leaf log
    env["CIPHER_TOPIC"] = "eventsourcing.cryptography:AESCipher"
    env["CIPHER_KEY"] = base64.b64encode(os.urandom(32)).decode()
    ledger = Ledger(env, LedgerServices(calendar=WorkingCalendar(),
                                        clock=lambda: NOW))
    install_sealer(ledger, master_keyring(settings))
    return ledger


def ingest_rate(store_kind: str, events: int, mode: str) -> float:
    """Bulk-ingest events/s: ``plain`` (library), ``keyring`` (cipher, row binding, leaf
    log), or ``keyring+sealer`` (and the sealer following and signing in a thread)."""
    with common.fresh_store(store_kind) as store:
        initialise(store.settings)
        if mode == "plain":
            ledger = baseline_ledger(store)
        else:
            ledger = open_ledger(store.settings, clock=lambda: NOW)
        stop = threading.Event()
        sealing = None
        if mode == "keyring+sealer":
            sealer = open_sealer(ledger, store.settings)
            sealing = threading.Thread(target=sealer.run, args=(stop,), daemon=True)
            sealing.start()
        start = time.perf_counter()
        written = demo_until(ledger, events, seed=3)
        if sealing is not None:  # ingest is done when the sealer has caught up too
            sealer.seal_once(force=True)
            stop.set()
            sealing.join()
        seconds = time.perf_counter() - start
        ledger.close()
    return written / seconds


def bench_store(kind: str, events: int, ingest_events: int, runs: int) -> dict[str, Any]:
    result: dict[str, Any] = {"store": kind}
    with common.fresh_store(kind) as store:
        initialise(store.settings)
        ledger = open_ledger(store.settings, clock=lambda: NOW)
        t0 = time.perf_counter()
        demo_until(ledger, events)
        result["generate_s"] = time.perf_counter() - t0
        result["records"] = ledger.log_length()
        print(f"[{kind}] log of {result['records']:,} events generated in "
              f"{result['generate_s']:.0f} s", file=sys.stderr)

        t0 = time.perf_counter()
        sealer = open_sealer(ledger, store.settings)  # loads the leaf log, builds the tree
        head = sealer.seal_once(force=True)
        result["seal_s"] = time.perf_counter() - t0
        assert head is not None
        assert head.tree_size == result["records"]

        db = ViewDatabase(ledger)
        verifier = head_verifier(store.settings)
        t0 = time.perf_counter()
        report = verify_log(db, verifier)
        result["verify_s"] = time.perf_counter() - t0
        result["verify_ok"] = report.ok
        result["restart_load_s"] = _timed(sealer.reload)

        size = sealer.tree.size
        rng = random.Random(5)
        picks = [rng.randrange(size) for _ in range(1000)]
        t0 = time.perf_counter()
        proofs = [(i, sealer.tree.inclusion_proof(i, size)) for i in picks]
        result["inclusion_gen_us"] = (time.perf_counter() - t0) / len(picks) * 1e6
        root = sealer.tree.root(size)
        t0 = time.perf_counter()
        for i, proof in proofs:
            verify_inclusion(i, size, sealer.tree.leaf(i), proof, root)
        result["inclusion_verify_us"] = (time.perf_counter() - t0) / len(picks) * 1e6
        firsts = [rng.randrange(1, size) for _ in range(200)]
        t0 = time.perf_counter()
        cons = [(f, sealer.tree.consistency_proof(f, size)) for f in firsts]
        result["consistency_gen_us"] = (time.perf_counter() - t0) / len(firsts) * 1e6
        t0 = time.perf_counter()
        for f, proof in cons:
            verify_consistency(f, size, sealer.tree.root(f), root, proof)
        result["consistency_verify_us"] = (time.perf_counter() - t0) / len(firsts) * 1e6
        ledger.close()

    rates = {}
    for mode in ("plain", "keyring", "keyring+sealer"):
        rates[mode] = statistics.median(
            ingest_rate(kind, ingest_events, mode) for _ in range(runs)
        )
        print(f"[{kind}] ingest {mode}: {rates[mode]:,.0f} events/s (median of {runs})",
              file=sys.stderr)
    result["ingest"] = rates
    return result


def _timed(func: Any) -> float:
    t0 = time.perf_counter()
    func()
    return time.perf_counter() - t0


def report(results: list[dict[str, Any]]) -> None:
    print(f"machine: {common.machine()}")
    for r in results:
        n = r["records"]
        plain, keyring, sealed = (r["ingest"][m] for m in ("plain", "keyring", "keyring+sealer"))
        cipher_cost = 1 - keyring / plain
        total_cost = 1 - sealed / plain
        rows = [
            ["records in the log", f"{n:,}", ""],
            ["sealer start + seal (load leaf log, build tree, sign)", f"{r['seal_s']:.1f} s",
             f"{n / r['seal_s']:,.0f} leaves/s"],
            ["verify (recompute every leaf, check heads)", f"{r['verify_s']:.1f} s",
             f"{n / r['verify_s']:,.0f} leaves/s  "
             f"{common.verdict(r['verify_s'] * 1_000_000 / n <= 15)} (goal <= 15 s per 1M)"],
            ["verify found the log clean", str(r["verify_ok"]), ""],
            ["sealer restart (reload leaf hashes)", f"{r['restart_load_s']:.1f} s", ""],
            ["inclusion proof: make / verify", f"{r['inclusion_gen_us']:.0f} / "
             f"{r['inclusion_verify_us']:.0f} us", ""],
            ["consistency proof: make / verify", f"{r['consistency_gen_us']:.0f} / "
             f"{r['consistency_verify_us']:.0f} us", ""],
            ["bulk ingest, library AES cipher", f"{plain:,.0f} ev/s", ""],
            ["bulk ingest, keyring cipher + row binding + leaf log", f"{keyring:,.0f} ev/s",
             f"cost {cipher_cost:+.1%}"],
            ["bulk ingest, keyring + sealer following", f"{sealed:,.0f} ev/s",
             f"cost {total_cost:+.1%}  {common.verdict(total_cost <= 0.15)} (goal <= 15%)"],
        ]
        print(f"\n== {r['store']} ==")
        print(common.table(["measure", "value", "note"], rows))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--ingest-events", type=int, default=150_000)
    parser.add_argument("--ingest-runs", type=int, default=3)
    args = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if args.store == "both" else [args.store]
    results = [
        bench_store(kind, args.events, args.ingest_events, args.ingest_runs) for kind in kinds
    ]
    report(results)


if __name__ == "__main__":
    main()
