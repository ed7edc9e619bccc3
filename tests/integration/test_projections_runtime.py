"""Following the log: several followers never double-count, a killed one loses nothing.

On SQLite and PostgreSQL. "Processes" are separate ledgers (each its own
connection pool) in threads, and for the crash a real ``taizhang project
run`` process killed with SIGKILL in the middle of a page's transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import SHANGHAI
from domain.ledger import Context, Ledger
from projections.access_log import AccessLogView
from projections.database import ViewDatabase
from projections.registry import ALL, REPORTS, Reports
from replay.rebuild import rebuild
from taizhang.demo import run_demo
from tests.conftest import Store

NOW = datetime(2026, 3, 20, 12, 0, tzinfo=SHANGHAI)
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def ledger(store: Store) -> Iterator[Ledger]:
    opened = store.open(clock=lambda: NOW)
    yield opened
    opened.close()


def demo(ledger: Ledger, days: int = 6, scale: float = 0.02) -> None:
    run_demo(ledger, days=days, seed=7, scale=scale, start=date(2026, 3, 2), batch_size=40)


def content(reports: Reports) -> dict[str, Any]:
    """Every view's content, independent of page boundaries (the catalog's rows too)."""
    with reports.db.transaction(commit=False) as cur:
        found: dict[str, Any] = {name: reports.report_view(name).logical(cur) for name in REPORTS}
        if "catalog" in reports.views:
            cur.execute("SELECT * FROM {schema}view_items ORDER BY item_id")
            found["catalog"] = cur.fetchall()
    return found


def rebuilt(ledger: Ledger, tmp_path: Path, names: tuple[str, ...] = ("clock", *REPORTS)
            ) -> Reports:
    scratch = Reports(ledger, db=ViewDatabase.scratch(str(tmp_path / "rebuilt.db")), names=names)
    scratch.follower.catch_up()
    return scratch


def test_followers_racing_on_one_database_apply_each_page_once(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    first, second = store.open(clock=lambda: NOW), store.open(clock=lambda: NOW)
    racers = [Reports(first, page_size=7), Reports(second, page_size=11)]
    stop = threading.Event()
    errors: list[BaseException] = []

    def follow(reports: Reports) -> None:
        while not stop.is_set():
            try:
                reports.follower.catch_up()
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=follow, args=(r,)) for r in racers]
    for thread in threads:
        thread.start()
    try:
        demo(ledger)
        subject = ledger.register_subject(kind="person", name="周七", ctx=Context("h1", at=NOW))
        for _ in range(5):
            ident = ledger.open_ticket(channel="window", requester_id=subject["id"],
                                       description="咨询", received_at=NOW,
                                       ctx=Context("h1", at=NOW))["id"]
            ledger.change_ticket(ident, Context("h1", at=NOW), lambda t, a: t.classify(
                nature="complaint", urgency="urgent", business_type="employment",
                complexity="simple", at=a, by="h1"))
    finally:
        time.sleep(0.3)
        stop.set()
        for thread in threads:
            thread.join()
    assert not errors
    for reports in racers:
        reports.follower.catch_up()
    reference = rebuilt(ledger, tmp_path)
    try:
        assert content(racers[0]) == content(reference)
        assert content(racers[1]) == content(reference)
    finally:
        reference.close()
        for reports in racers:
            reports.close()
        first.close()
        second.close()


def tracking(store: Store) -> dict[str, int]:
    try:
        rows = store.sql("SELECT view_name, position FROM view_tracking")
    except Exception:  # the process has not created its tables yet
        return {}
    return {str(name): int(position) for name, position in rows}


def run_projector(store: Store, log: Path, *extra: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if store.settings.database_url:
        env["TAIZHANG_DATABASE_URL"] = store.settings.database_url
    else:
        env.pop("TAIZHANG_DATABASE_URL", None)
    command = [sys.executable, "-m", "taizhang.cli", "project", "run", "--data-dir",
               str(store.settings.data_dir), "--interval", "0.1", *extra]
    with log.open("ab") as out:
        return subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)


def wait_for(check: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_a_projector_killed_in_the_middle_of_a_page_ends_as_a_clean_rebuild(
    store: Store, ledger: Ledger, tmp_path: Path
) -> None:
    demo(ledger, days=8, scale=0.03)
    length = ledger.log_length()
    log = tmp_path / "project.log"
    # Pages of 40 events, each transaction held open 0.2 s after writing: a kill lands inside one.
    first = run_projector(store, log, "--page-size", "40", "--hold", "0.2")
    try:
        wait_for(lambda: 0 < min(tracking(store).values() or [0]) < length)
        time.sleep(0.3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    finally:
        if first.poll() is None:
            first.kill()
    stopped_at = tracking(store)
    assert set(stopped_at) == set(ALL)
    assert 0 < min(stopped_at.values()) < length  # killed part-way, nothing half-applied
    second = run_projector(store, log, "--page-size", "97")
    try:
        wait_for(lambda: min(tracking(store).values()) >= length)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(timeout=20)
    assert second.returncode == 0, log.read_text()
    live = Reports(ledger, names=ALL)
    reference = rebuilt(ledger, tmp_path, ALL)
    try:
        assert content(live) == content(reference)
    finally:
        live.close()
        reference.close()


def test_rebuild_drops_and_builds_every_view_again(store: Store, ledger: Ledger,
                                                   tmp_path: Path) -> None:
    demo(ledger, days=3)
    first = rebuild(ledger)
    again = rebuild(ledger, ["quota"])
    assert first.events == ledger.log_length() == again.events
    assert first.views == ALL
    assert again.views == ("quota",)
    live = Reports(ledger, names=ALL)
    reference = rebuilt(ledger, tmp_path, ALL)
    try:
        assert content(live) == content(reference)
    finally:
        live.close()
        reference.close()


def test_the_replay_commands_rebuild_compute_as_of_and_print_an_access_history(
    store: Store, ledger: Ledger
) -> None:
    from typer.testing import CliRunner

    from taizhang.cli import app

    demo(ledger, days=3)
    subject = ledger.register_subject(kind="person", name="吴八", ctx=Context("h1", at=NOW))
    lead = ledger.user(ledger.add_user(
        name="负责人", role="project_lead", ctx=Context("system", at=NOW))["id"])
    ledger.reveal(subject["id"], ["name"], "核实", request_id="r1", client=None,
                  ctx=Context(str(lead.id), at=NOW), reader=lead)
    between = datetime.now(UTC)
    demo(ledger, days=2, scale=0.01)
    env = {"TAIZHANG_DATABASE_URL": store.settings.database_url or ""}
    runner = CliRunner()
    base = ["--data-dir", str(store.settings.data_dir)]

    # As of an instant, without views (the log replayed in memory, nothing written) ...
    as_of_args = ["replay", "as-of", between.isoformat(), "sla", "--limit", "500", *base]
    unbuilt = runner.invoke(app, as_of_args, env=env)
    assert unbuilt.exit_code == 0, unbuilt.output
    assert "view_tracking" not in str(store.sql(
        "SELECT name FROM sqlite_master" if store.kind == "sqlite" else
        "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()"))

    built = runner.invoke(app, ["replay", "rebuild", "--all", *base], env=env)
    assert built.exit_code == 0, built.output
    assert f"{ledger.log_length():,} events" in built.output
    assert "events/s" in built.output
    assert runner.invoke(app, ["replay", "rebuild", *base], env=env).exit_code == 2

    # ... and with them: the same answer.
    assert runner.invoke(app, as_of_args, env=env).output == unbuilt.output
    as_of = runner.invoke(app, ["replay", "as-of", between.isoformat(), "quota", "--day",
                                "2026-03-03", "--format", "csv", *base], env=env)
    assert as_of.exit_code == 0, as_of.output
    header, *rows = as_of.output.strip().splitlines()
    assert header.startswith("as_of,log_position,period,line,target")
    assert [row.split(",")[3] for row in rows] == ["tickets", "services", "total"]
    position = int(rows[0].split(",")[1])
    assert 0 < position < ledger.log_length()

    token = ledger.add_user(name="保密员", role="confidentiality_officer",
                            ctx=Context("system", at=NOW))["token"]
    history = runner.invoke(app, ["replay", "access", "--subject", subject["id"], "--token",
                                  token, *base], env=env)
    assert history.exit_code == 0, history.output
    assert '"target": "subject"' in history.output
    assert history.output.count('"target": "access_history"') == 1  # itself, recorded first
    again = runner.invoke(app, ["replay", "access", "--subject", subject["id"], "--token",
                                token, *base], env=env)
    assert again.output.count('"target": "access_history"') == 2


def test_on_postgresql_a_notification_wakes_the_followers_before_the_next_poll(
    postgres_store: Store,
) -> None:
    from projections.runtime import BackgroundFollowers

    ledger = postgres_store.open(clock=lambda: NOW)
    reports = Reports(ledger)
    background = BackgroundFollowers([reports.follower], interval=60.0)  # polls once a minute
    background.start()
    try:
        wait_for(lambda: background.watcher is not None and background.watcher.listening, 10)
        wait_for(lambda: reports.follower.position() == ledger.log_length(), 10)
        before = ledger.log_length()
        ledger.register_subject(kind="person", name="郑九", ctx=Context("h1", at=NOW))
        assert ledger.log_length() > before
        wait_for(lambda: reports.follower.position() == ledger.log_length(), 5)
    finally:
        background.stop()
        reports.close()
        ledger.close()


def test_a_view_whose_definition_changed_is_built_again_from_empty(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tables of an older definition are dropped, not extended by the new one."""
    ledger = store.open()
    try:
        lead = ledger.user(ledger.add_user(name="负责人", role="project_lead",
                                           ctx=Context("system"))["id"])
        subject = ledger.register_subject(kind="person", name="王五", ctx=Context("system"))
        ledger.reveal(subject["id"], ["name"], "核实", request_id="r", client=None,
                      ctx=Context(str(lead.id)), reader=lead)
        first = Reports(ledger, names=("access_log",))
        first.follower.catch_up()
        assert first.follower.position() == ledger.log_length() > 0
        with first.db.transaction(commit=False) as cur:
            built = first.report_view("access_log").logical(cur)
        assert built["access_counts"]  # the read is counted
        first.close()
        monkeypatch.setattr(AccessLogView, "version", AccessLogView.version + 1)
        again = Reports(ledger, names=("access_log",))
        assert again.follower.position() == 0  # starts over, from empty tables
        again.follower.catch_up()
        assert again.follower.position() == ledger.log_length()
        with again.db.transaction(commit=False) as cur:
            assert again.report_view("access_log").logical(cur) == built  # not doubled
        again.close()
    finally:
        ledger.close()
