"""Worked examples with hand-computed figures, on SQLite and PostgreSQL.

Every time is explicit (``received_at``, ``Context(at=...)``) and the ledger's
clock is moved by hand, so the figures do not depend on when the suite runs.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from domain.calendar import SHANGHAI
from domain.errors import TaizhangError
from domain.ledger import Context, Ledger
from projections.access_log import access_log_report
from projections.database import ViewDatabase
from projections.registry import Reports
from replay.as_of import report, snapshot_at
from tests.conftest import Store

H = timedelta(hours=1)
M = timedelta(minutes=1)
SMALL = {"start": "2026-01-01", "targets": {"tickets": 120, "services": 24}}
LEAD = "lead-1"


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 11, 13, 18, 0, tzinfo=SHANGHAI))


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Iterator[Ledger]:
    opened = store.open(clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def reports(ledger: Ledger) -> Iterator[Reports]:
    ledger.set_contract_terms(SMALL, Context(LEAD))  # recorded, as a deployment would
    opened = Reports(ledger)
    yield opened
    opened.close()


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=SHANGHAI)


def person(ledger: Ledger, when: datetime) -> str:
    return ledger.register_subject(kind="person", name="王小明", mobile="13800138000",
                                   ctx=Context(LEAD, at=when))["id"]


def ticket(ledger: Ledger, received: datetime, *, assignee: str = "h1",
           business_type: str = "employment", urgency: str = "general",
           resolve: datetime | None = None, requester: str | None = None) -> str:
    requester = requester or person(ledger, received)
    ident = ledger.open_ticket(channel="phone", requester_id=requester, description="咨询",
                               received_at=received, ctx=Context(LEAD, at=received))["id"]
    ledger.change_ticket(ident, Context(assignee, at=received + 5 * M), lambda t, a: t.classify(
        nature="consultation", urgency=urgency, business_type=business_type,
        complexity="simple", at=a, by=assignee))
    ledger.change_ticket(ident, Context(LEAD, at=received + 10 * M),
                         lambda t, a: t.assign(assignee=assignee, at=a, by=LEAD))
    if resolve is not None:
        ledger.change_ticket(ident, Context(assignee, at=resolve),
                             lambda t, a: t.resolve(result="已答复", at=a, by=assignee))
    return ident


def item(answer: dict[str, Any], ident: str) -> dict[str, Any]:
    return next(i for i in answer["items"] if i["id"] == ident)


def lines(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {line["line"]: line for line in answer["lines"]}


def test_a_quota_month_behind_plan_raises_the_progress_warning(
    ledger: Ledger, reports: Reports, clock: Clock
) -> None:
    """November 2026: 21 working days; on the 13th at 18:00, 10 of them are gone.

    Targets 120 tickets and 24 services a year: 10 and 2 a month. Plan to date:
    tickets 10 x 10/21 = 4.76, services 2 x 10/21 = 0.95, total 5.71. Actual:
    3 tickets (h1 two, h2 one), 1 service → tickets 3 < 4.76 x 0.95 = 4.52:
    warning; services 1 >= 0.90: none; total 4 < 5.43: warning. Run rate:
    3 x 21/10 = 6.3 tickets by the month's end.
    """
    first = ticket(ledger, at("2026-11-02T09:30"), resolve=at("2026-11-02T15:00"))
    ticket(ledger, at("2026-11-04T10:00"), resolve=at("2026-11-05T09:30"),
           business_type="social_security")
    ticket(ledger, at("2026-11-09T14:00"), assignee="h2", resolve=at("2026-11-10T11:00"))
    ticket(ledger, at("2026-10-30T10:00"), resolve=at("2026-10-30T16:00"))  # October's
    ticket(ledger, at("2026-11-12T10:00"))  # still open
    subject = person(ledger, at("2026-11-03T09:00"))
    case = ledger.open_case(service_type="funding_support", subject_id=subject,
                            materials=["申请表"], received_at=at("2026-11-03T09:10"),
                            ctx=Context("s1", at=at("2026-11-03T09:10")))["id"]
    for step, when in (
        (lambda c, a: c.accept(materials_complete=True, missing=None, at=a, by="s1"), "10:00"),
        (lambda c, a: c.decide(approved=True, notes=None, at=a, by=LEAD), "14:00"),
        (lambda c, a: c.give_feedback(result="已通知", at=a, by="s1"), "16:00"),
    ):
        ledger.change_case(case, Context("s1", at=at(f"2026-11-03T{when}")), step)

    answer = report(reports, "quota", None, {"period": "month"})
    assert answer["period"]["first"] == "2026-11-01"
    by_line = lines(answer)
    assert {k: by_line["tickets"][k] for k in (
        "target", "plan_to_date", "actual", "deviation", "forecast", "warning")} == {
        "target": 10.0, "plan_to_date": 4.76, "actual": 3, "deviation": -1.76,
        "forecast": 6.3, "warning": True}
    assert {k: by_line["services"][k] for k in ("target", "plan_to_date", "actual", "warning")} \
        == {"target": 2.0, "plan_to_date": 0.95, "actual": 1, "warning": False}
    assert {k: by_line["total"][k] for k in ("target", "plan_to_date", "actual", "warning")} == {
        "target": 12.0, "plan_to_date": 5.71, "actual": 4, "warning": True}
    assert answer["warning"] is True
    staff = {(r["line"], r["staff_id"]): r["actual"] for r in answer["by_staff"]}
    assert staff == {("tickets", "h1"): 2, ("tickets", "h2"): 1, ("services", "s1"): 1}
    types = {(r["line"], r["business_type"]): r["actual"] for r in answer["by_business_type"]}
    assert types == {("tickets", "employment"): 2, ("tickets", "social_security"): 1,
                     ("services", "funding_support"): 1}

    # A destroyed subject's items still count.
    requester = ledger.ticket(first).requester_id
    request = ledger.request_destruction(requester, "本人申请", Context(LEAD, at=clock.now))
    ledger.approve_destruction(request["id"], Context("lead-2", at=clock.now))
    again = report(reports, "quota", None, {"period": "month"})
    assert lines(again) == by_line
    # As of now the same figures; reproducible.
    now = datetime.now(UTC)
    as_of = report(reports, "quota", now, {"period": "month", "day": "2026-11-13"})
    assert [line["actual"] for line in as_of["lines"]] == [3, 1, 4]
    assert report(reports, "quota", now, {"period": "month", "day": "2026-11-13"}) == as_of


def test_a_ticket_breached_across_the_national_day_holiday(
    ledger: Ledger, reports: Reports, clock: Clock
) -> None:
    """Registered Wed 2026-09-30 16:30: 30 working minutes that day, 1 Oct - 7 Oct off, so the
    one working day ends Thu 8 Oct 16:30. Resolved at 17:00: breached by 30 working minutes,
    8.5 working hours taken."""
    clock.now = at("2026-10-09T12:00")
    ident = ticket(ledger, at("2026-09-30T16:30"), resolve=at("2026-10-08T17:00"))
    answer = report(reports, "sla", None, {"state": "breached"})
    found = item(answer, ident)
    assert found["due_at"] == "2026-10-08T16:30:00+08:00"
    assert found["state"] == "breached"
    assert found["late_working_seconds"] == 30 * 60
    assert found["handling_working_seconds"] == 8 * 3600 + 30 * 60
    assert answer["counts"]["done"] == {"met": 0, "breached": 1}
    october = next(p for p in answer["on_time"]["by_period"] if p["period"].startswith("2026-10"))
    assert (october["done"], october["on_time"], october["on_time_rate"]) == (1, 0, 0.0)
    assert answer["on_time"]["by_urgency"] == [
        {"urgency": "general", "done": 1, "on_time": 0, "breached": 1, "on_time_rate": 0.0,
         "mean_late_working_seconds": 1800.0, "mean_handling_working_seconds": 30600.0}]


def test_an_adjusted_working_saturday_counts_as_working_time(
    ledger: Ledger, reports: Reports, clock: Clock
) -> None:
    """Sat 2026-10-10 is a working day (调休). A ticket of Fri 9 Oct 14:00 is due Sat 14:00 (not
    Mon 12 Oct) and resolved Sat 13:00 in time. One of Fri 16:00 is due Sat 16:00, at risk from
    Sat 14:00 (a quarter of its 8 hours left), breached after 16:00."""
    clock.now = at("2026-10-10T15:00")
    kept = ticket(ledger, at("2026-10-09T14:00"), resolve=at("2026-10-10T13:00"))
    late = ticket(ledger, at("2026-10-09T16:00"))
    answer = report(reports, "sla", None, {})
    assert item(answer, kept)["due_at"] == "2026-10-10T14:00:00+08:00"
    assert item(answer, kept)["state"] == "met"
    assert item(answer, late)["due_at"] == "2026-10-10T16:00:00+08:00"
    assert item(answer, late)["state"] == "at_risk"
    assert answer["counts"]["open"] == {"on_track": 0, "at_risk": 1, "breached": 0}
    clock.now = at("2026-10-10T16:01")
    later = report(reports, "sla", None, {"state": "breached"})
    assert [i["id"] for i in later["items"]] == [late]


def test_a_paused_case_does_not_count_the_pause(
    ledger: Ledger, reports: Reports, clock: Clock
) -> None:
    """Received Mon 2 Nov 10:00; materials missing at 11:00 (the clock stops) until Tue 11:00:
    8 working hours paused. Three working days from Mon 10:00 end Thu 10:00; with the pause,
    Fri 6 Nov 10:00. Closed Wed 15:00 after 21 - 8 = 13 working hours."""
    subject = person(ledger, at("2026-11-02T09:00"))
    ident = ledger.open_case(service_type="employment_training", subject_id=subject,
                             materials=["申请表"], received_at=at("2026-11-02T10:00"),
                             ctx=Context("s1", at=at("2026-11-02T10:00")))["id"]
    ledger.change_case(ident, Context("s1", at=at("2026-11-02T11:00")), lambda c, a: c.accept(
        materials_complete=False, missing=["身份证复印件"], at=a, by="s1"))
    clock.now = at("2026-11-02T14:00")
    paused = item(report(reports, "sla", None, {}), ident)
    assert paused["due_at"] is None
    assert paused["paused_since"] == "2026-11-02T11:00:00+08:00"
    assert paused["state"] == "on_track"
    ledger.change_case(ident, Context("s1", at=at("2026-11-03T11:00")),
                       lambda c, a: c.resume(at=a, by="s1"))
    for step, when in (
        (lambda c, a: c.accept(materials_complete=True, missing=None, at=a, by="s1"),
         "2026-11-03T11:30"),
        (lambda c, a: c.decide(approved=True, notes=None, at=a, by=LEAD), "2026-11-04T10:00"),
        (lambda c, a: c.give_feedback(result="已通知", at=a, by="s1"), "2026-11-04T15:00"),
    ):
        ledger.change_case(ident, Context("s1", at=at(when)), step)
    clock.now = at("2026-11-06T12:00")
    done = item(report(reports, "sla", None, {}), ident)
    assert done["due_at"] == "2026-11-06T10:00:00+08:00"
    assert done["paused_working_seconds"] == 8 * 3600
    assert done["handling_working_seconds"] == 13 * 3600
    assert done["state"] == "met"
    quality = report(reports, "quality", None, {"period": "month"})
    assert quality["totals"]["services"]["handled"] == 1
    assert quality["totals"]["services"]["mean_handling_minutes"] == 13 * 60


def test_an_out_of_hours_bulk_reader_and_repeated_refusals_are_flagged(
    ledger: Ledger, reports: Reports, clock: Clock
) -> None:
    """Saturday 5 Dec 2026, 22:00-22:20: the project lead reads 21 subjects (more than 20 in
    one hour), out of hours and on no assigned work of theirs. A handler tries a subject three
    times without any basis: three refusals in one hour. High-level reviews are weekly: the
    last covered up to 1 Dec, so on 9 Dec the next (due 8 Dec) is overdue."""
    start = at("2026-12-05T22:00")
    lead = ledger.user(ledger.add_user(name="项目负责人", role="project_lead",
                                       ctx=Context("system", at=start))["id"])
    handler = ledger.user(ledger.add_user(name="工单专员", role="ticket_handler",
                                          ctx=Context("system", at=start))["id"])
    subjects = [person(ledger, start) for _ in range(21)]
    for minute, subject in enumerate(subjects):
        ledger.reveal(subject, ["name"], "核实身份", request_id=f"r{minute}", client=None,
                      ctx=Context(str(lead.id), at=start + minute * M), reader=lead)
    for attempt in range(3):
        with pytest.raises(TaizhangError):
            ledger.reveal(subjects[0], ["mobile"], "回访", request_id=f"x{attempt}", client=None,
                          ctx=Context(str(handler.id), at=start + (30 + attempt) * M),
                          reader=handler)
    ledger.record_access_review(level="high", period_start=at("2026-11-24T00:00"),
                                period_end=at("2026-12-01T00:00"), findings="无异常",
                                ctx=Context("officer-1", at=at("2026-12-02T10:00")))
    clock.now = at("2026-12-09T10:00")
    answer = report(reports, "access_log", None, {"limit": 1000})
    reads = [i for i in answer["items"] if i["actor"] == str(lead.id)]
    assert len(reads) == 21
    assert all(set(i["flags"]) == {"out_of_hours", "outside_assigned_work", "bulk"}
               for i in reads)
    assert answer["anomalies"]["bulk_readers"] == [
        {"hour": "2026-12-05T22", "actor": str(lead.id), "subjects": 21}]
    refused = [i for i in answer["items"] if i["actor"] == str(handler.id)]
    assert [i["reason"] for i in refused] == ["no_basis"] * 3
    assert all(i["flags"] == ["out_of_hours", "repeated_refusals"] for i in refused)
    assert answer["counts"]["medium_granted"] == 21
    assert answer["counts"]["medium_refused"] == 3
    high = next(r for r in answer["reviews"] if r["level"] == "high")
    assert high["next_due"] == "2026-12-08T00:00:00+08:00"
    assert high["overdue"] is True
    one = report(reports, "access_log", None, {"subject_id": subjects[0]})
    assert len(one["items"]) == 4  # one granted read, three refusals
    assert {i["subject_id"] for i in one["items"]} == {subjects[0]}


def test_distinct_subjects_and_flags_are_counted_across_pages_and_as_of(
    ledger: Ledger, clock: Clock, tmp_path: Any
) -> None:
    """The bulk flag needs distinct subjects per actor-hour, which no single page knows.

    The lead reads 21 subjects one at a time, each twice (a repeat is not a new subject),
    the live views applying two events per page; the flag appears with the 21st subject,
    not before, and a rebuild in one batch of larger pages counts the same.
    """
    live = Reports(ledger, page_size=2)
    start = at("2026-12-05T10:00")
    lead = ledger.user(ledger.add_user(name="项目负责人", role="project_lead",
                                       ctx=Context("system", at=start))["id"])
    subjects = [person(ledger, start) for _ in range(21)]
    positions = []
    for minute, subject in enumerate(subjects):
        for again in range(2):
            ledger.reveal(subject, ["name"], "核实", request_id=f"r{minute}-{again}", client=None,
                          ctx=Context(str(lead.id), at=start + minute * M), reader=lead)
        positions.append(ledger.log_length())
        live.follower.catch_up()
    clock.now = at("2026-12-05T18:00")
    view = live.report_view("access_log")

    def bulk_at(position: int) -> list[dict[str, Any]]:
        snap = snapshot_at(live, view, position, clock.now, final=True, as_of=None)
        return access_log_report(snap, view, limit=1)["anomalies"]["bulk_readers"]

    assert bulk_at(positions[19]) == []  # 20 subjects: not yet more than 20
    assert bulk_at(positions[20]) == [
        {"hour": "2026-12-05T10", "actor": str(lead.id), "subjects": 21}]
    rebuilt = Reports(ledger, db=ViewDatabase.scratch(str(tmp_path / "r.db")), page_size=9,
                      batch_pages=4)
    try:
        rebuilt.follower.catch_up()
        with live.db.transaction(commit=False) as a, rebuilt.db.transaction(commit=False) as b:
            assert view.logical(a) == rebuilt.report_view("access_log").logical(b)
    finally:
        rebuilt.close()
        live.close()
