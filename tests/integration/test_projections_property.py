"""Views built live equal a rebuild, and ``as_of(t)`` equals a rebuild up to ``P(t)``.

Random sequences of commands go through the Ledger (invalid ones are refused
by the domain and skipped), on SQLite and PostgreSQL: tickets, cases, reads
through the gate, and, mid-plan, corrections of the year's schedule and new
contract terms, which the views must apply from their position on. The live views follow
the log in small pages at random moments; afterwards:

* a full rebuild into a scratch database, with other page boundaries, holds
  the same content and gives the same reports;
* for an instant t taken between two commands, the reports as of t (tables at
  the last page before P(t), plus the rest folded in memory) equal the reports
  of views rebuilt from only the events up to P(t).

All examples of one test share one store: the log grows from example to
example, and the properties are checked over all of it each time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.calendar import SHANGHAI, WorkingCalendar, YearSchedule
from domain.calendar_book import year_deviations
from domain.errors import TaizhangError
from domain.ledger import Context, Ledger
from projections import tally
from projections.database import ViewDatabase
from projections.registry import REPORTS, Reports
from replay.as_of import report, snapshot_at
from tests.conftest import Store

NOW = datetime(2026, 12, 30, 12, 0, tzinfo=SHANGHAI)
BEGIN = datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI)  # 22 x 600 minutes later: still 2026
PARAMS: dict[str, list[dict[str, Any]]] = {
    "quota": [{"period": "month", "day": "2026-03-10"}, {"period": "week", "day": "2026-03-04"},
              {"period": "contract", "day": "2026-03-10"}],
    "sla": [{"limit": 500}, {"state": "breached", "limit": 500},
            {"state": "on_track", "limit": 3}],
    "quality": [{"period": "quarter", "day": "2026-03-10"},
                {"period": "month", "day": "2026-03-10"}],
    "access_log": [{"limit": 1000}, {"outcome": "refused", "limit": 3}],
}
STAFF = ("h1", "h2", "h3")
SPECIALISTS = ("s1", "s2")


@dataclass
class World:
    """One store's ledger, its live report views, and the items made so far."""

    ledger: Ledger
    live: Reports
    scratch_dir: Path
    readers: tuple[Any, Any]  # a project lead (granted) and a handler (refused: no basis)
    subjects: list[str] = field(default_factory=list)
    tickets: list[str] = field(default_factory=list)
    cases: list[str] = field(default_factory=list)
    at: datetime = datetime(2026, 3, 2, 8, 30, tzinfo=SHANGHAI)  # business time, moved by plans
    counter: itertools.count[int] = field(default_factory=itertools.count)

    def scratch(self, page_size: int) -> Reports:
        """Views in a database of their own; several pages per transaction, as a rebuild."""
        path = self.scratch_dir / f"views-{next(self.counter)}.db"
        return Reports(self.ledger, db=ViewDatabase.scratch(str(path)),
                       page_size=page_size, batch_pages=1 + page_size % 4)


@pytest.fixture
def world(store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    # Buckets of a few positions, so that summing finished buckets happens all the time.
    monkeypatch.setattr(tally, "BUCKET_SIZE", 13)
    ledger = store.open(clock=lambda: NOW)
    live = Reports(ledger, page_size=7)
    readers = tuple(
        ledger.user(ledger.add_user(name=name, role=role, ctx=Context("system", at=BEGIN))["id"])
        for name, role in (("负责人", "project_lead"), ("专员", "ticket_handler"))
    )
    yield World(ledger, live, tmp_path, readers)  # type: ignore[arg-type]
    live.close()
    ledger.close()


TICKET_OPS = ("classify", "classify", "assign", "assign", "step", "pause", "resume", "resolve",
              "resolve", "callback", "review", "release")
CASE_OPS = ("accept", "accept", "incomplete", "resume", "decide", "decide", "feedback",
            "feedback", "assign", "pause", "callback", "review")
NATURES = ("consultation", "complaint", "suggestion")
URGENCIES = ("urgent", "important", "general", "minor")
TYPES = ("employment", "entrepreneurship", "social_security")
SERVICES = ("employment_training", "funding_support", "policy_consultation")

# One step of a plan: what, on which of the last six items, which operation, a choice among
# values, a score, a yes/no, minutes to wait first, catch up (when 0), remember an instant (0).
STEP = st.tuples(
    st.sampled_from(["ticket", "case", "on_ticket", "on_ticket", "on_case", "on_case",
                     "on_case", "reveal", "terms"]),
    st.integers(0, 5), st.integers(0, 11), st.integers(0, 11), st.integers(1, 5), st.booleans(),
    st.integers(0, 600), st.integers(0, 3), st.integers(0, 2),
)
Step = tuple[str, int, int, int, int, bool, int, int, int]


def ticket_command(step: Step, by: str) -> Callable[[Any, datetime], None]:
    _, _, which, choice, score, flag, *_ = step
    op = TICKET_OPS[which]
    if op == "classify":
        nature, urgency = NATURES[choice % 3], URGENCIES[choice % 4]
        kind = TYPES[(choice // 3) % 3]
        return lambda t, a: t.classify(nature=nature, urgency=urgency, business_type=kind,
                                       complexity="simple", at=a, by=by)
    if op == "assign":
        return lambda t, a: t.assign(assignee=STAFF[choice % 3], reason="转派", at=a, by="lead")
    if op == "step":
        return lambda t, a: t.record_step(measure="联系", result="已联系", at=a, by=by)
    if op == "pause":
        return lambda t, a: t.pause("等待材料", at=a, by=by)
    if op == "resume":
        return lambda t, a: t.resume(at=a, by=by)
    if op == "resolve":
        return lambda t, a: t.resolve(result="已办结", at=a, by=by)
    if op == "callback":
        return lambda t, a: t.record_callback("phone", score, None, at=a, by=by)
    if op == "review":
        return lambda t, a: t.review(flag, None, at=a, by="q1")
    return lambda t, a: t.release("离职", at=a, by="lead")


def case_command(step: Step, by: str) -> Callable[[Any, datetime], None]:
    _, _, which, choice, score, flag, *_ = step
    op = CASE_OPS[which]
    if op == "accept":
        return lambda c, a: c.accept(materials_complete=True, missing=None, at=a, by=by)
    if op == "incomplete":
        return lambda c, a: c.accept(materials_complete=False, missing=["证明"], at=a, by=by)
    if op == "resume":
        return lambda c, a: c.resume(at=a, by=by)
    if op == "decide":
        return lambda c, a: c.decide(approved=flag, notes=None, at=a, by="lead")
    if op == "feedback":
        return lambda c, a: c.give_feedback(result="已反馈", at=a, by=by)
    if op == "assign":
        who = SPECIALISTS[choice % 2]
        return lambda c, a: c.assign(assignee=who, reason="交接", at=a, by="lead")
    if op == "pause":
        return lambda c, a: c.pause("等待申请人", at=a, by=by)
    if op == "callback":
        return lambda c, a: c.record_callback("sms", score, None, at=a, by=by)
    return lambda c, a: c.review(flag, None, at=a, by="q1")


def schedule_2026(choice: int) -> YearSchedule:
    """2026 as the package has it, with one more holiday in the plans' first week, or not."""
    known = year_deviations(WorkingCalendar(), 2026)
    extra = ("2026-03-03", "2026-03-04", "2026-03-06")[choice % 4:choice % 4 + 1]
    return YearSchedule.from_mapping({"year": 2026, "holidays": [*known["holidays"], *extra],
                                      "workdays": known["workdays"], "source": f"更正 {choice}"})


def record_terms(ledger: Ledger, step: Step, ctx: Context) -> None:
    """A schedule correction or new contract terms, mid-plan (the views must follow them)."""
    _, _, _, choice, score, flag, *_ = step
    if flag:
        ledger.load_calendar_schedule(schedule_2026(choice), ctx, reason="更正")
    else:
        ledger.set_contract_terms({"targets": {"tickets": 100 * score, "services": 10 * choice},
                                   "warning_margin": choice / 100}, ctx, reason="调整")


def run_commands(world: World, plan: list[Step]) -> list[datetime]:
    """The plan's commands; the live views catch up now and then. Returns instants between."""
    ledger = world.ledger
    instants: list[datetime] = []
    world.at, world.tickets, world.cases = BEGIN, [], []  # each example has items of its own
    world.subjects = []
    for step in plan:
        kind, index, _, choice, _, _, wait, catch_up, remember = step
        world.at += timedelta(minutes=wait)
        ctx = Context("h1", at=world.at)
        try:
            if kind == "terms":
                record_terms(ledger, step, Context("lead", at=world.at))
            elif kind == "reveal" and world.subjects:
                reader = world.readers[choice % 2]
                ledger.reveal(world.subjects[index % len(world.subjects)], ["name"], "核实",
                              request_id="r", client=None,
                              ctx=Context(str(reader.id), at=world.at), reader=reader)
            elif kind == "ticket" or (kind == "on_ticket" and not world.tickets) or (
                    kind == "reveal"):
                subject = ledger.register_subject(kind="person", name="李四", ctx=ctx)["id"]
                world.subjects.append(subject)
                world.tickets.append(ledger.open_ticket(
                    channel="online", requester_id=subject, description="咨询",
                    received_at=world.at, ctx=ctx)["id"])
            elif kind == "case" or (kind == "on_case" and not world.cases):
                subject = ledger.register_subject(kind="person", name="赵六", ctx=ctx)["id"]
                world.subjects.append(subject)
                world.cases.append(ledger.open_case(
                    service_type=SERVICES[choice % 3], subject_id=subject, materials=["申请表"],
                    received_at=world.at, ctx=Context(SPECIALISTS[choice % 2], at=world.at))["id"])
            elif kind == "on_ticket":
                recent = world.tickets[-6:]
                ledger.change_ticket(recent[index % len(recent)], ctx, ticket_command(step, "h1"))
            else:
                recent = world.cases[-6:]
                ledger.change_case(recent[index % len(recent)], ctx, case_command(step, "s1"))
        except TaizhangError:
            pass  # the domain refused an invalid step: nothing was recorded
        if catch_up == 0:
            world.live.follower.catch_up()
        if remember == 0:
            instants.append(datetime.now(UTC))
    return instants


def all_reports(reports: Reports, position: int | None = None,
                at: datetime | None = None, final: bool = True) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for name in REPORTS:
        view = reports.report_view(name)
        for number, params in enumerate(PARAMS[name]):
            if position is None:
                found[f"{name}{number}"] = report(reports, name, None, params)
            else:
                assert at is not None
                found[f"{name}{number}"] = report_at(reports, view.name, position, at, params,
                                                     final)
    return found


def report_at(reports: Reports, name: str, position: int, at: datetime,
              params: dict[str, Any], final: bool = True) -> dict[str, Any]:
    """A report of views built up to exactly ``position``, evaluated at ``at``."""
    from projections.access_log import access_log_report
    from projections.quality import quality_report
    from projections.quota import quota_report
    from projections.sla import sla_report

    view = reports.report_view(name)
    snap = snapshot_at(reports, view, position, at, final=final, as_of=at)
    assert snap.upto == position  # read from tables only
    assert not snap.overlay.tallies
    day = datetime.fromisoformat(params["day"]).date() if "day" in params else None
    contract, calendar = reports.contract_at(snap.position), reports.calendar_at(snap.position)
    if name == "quota":
        return quota_report(snap, view, contract, calendar,  # type: ignore[arg-type]
                            params["period"], day)
    if name == "quality":
        return quality_report(snap, view, contract,  # type: ignore[arg-type]
                              calendar, params["period"], day)
    if name == "access_log":
        return access_log_report(snap, view, outcome=params.get("outcome"),  # type: ignore[arg-type]
                                 limit=params["limit"])
    return sla_report(snap, view, contract, state=params.get("state"),  # type: ignore[arg-type]
                      limit=params["limit"])


def logical(reports: Reports) -> dict[str, Any]:
    with reports.db.transaction(commit=False) as cur:
        return {name: reports.report_view(name).logical(cur) for name in REPORTS}


def check_properties(world: World, instants: list[datetime], pages: tuple[int, int, int]) -> None:
    live = world.live
    live.follower.catch_up()
    rebuilt = world.scratch(page_size=pages[0])
    try:
        rebuilt.follower.catch_up()
        assert logical(live) == logical(rebuilt)
        assert all_reports(live) == all_reports(rebuilt)
    finally:
        rebuilt.close()
    if not instants:
        return
    t = instants[pages[2] % len(instants)]
    as_of = {}
    for name in REPORTS:
        for number, params in enumerate(PARAMS[name]):
            as_of[f"{name}{number}"] = report(live, name, t, params)
    position = as_of["quota0"]["log_position"]
    assert all(answer["log_position"] == position for answer in as_of.values())
    upto = world.scratch(page_size=pages[1])
    try:
        upto.follower.catch_up(until=position)
        assert all_reports(upto, position, t, as_of["quota0"]["final"]) == as_of
    finally:
        upto.close()


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(plan=st.lists(STEP, min_size=4, max_size=22),
       pages=st.tuples(st.integers(1, 60), st.integers(1, 60), st.integers(0, 100)))
def test_live_views_equal_a_rebuild_and_as_of_equals_a_rebuild_up_to_then(
    world: World, plan: list[Step], pages: tuple[int, int, int]
) -> None:
    instants = run_commands(world, plan)
    check_properties(world, instants, pages)
