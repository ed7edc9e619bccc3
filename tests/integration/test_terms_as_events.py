"""Year schedules and contract terms are events: later ones never move earlier figures.

On SQLite and PostgreSQL. Each scenario takes a figure, notes the instant,
records a new schedule or new terms, and then checks three things: the live
figure follows the new terms where it should, the figure as of the noted
instant is the one taken before, and a rebuild from the log equals the live
views.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import WorkingCalendar, YearSchedule
from domain.calendar_book import year_deviations
from domain.errors import (
    CalendarYearUnknownError,
    ConcurrentWriteError,
    InvalidInputError,
)
from domain.ledger import Context, Ledger
from projections.database import ViewDatabase
from projections.registry import ALL, REPORTS, Reports
from replay.as_of import report
from tests.conftest import Store
from tests.integration.test_projections_worked import LEAD, Clock, at, person

CORRECTED = "2026-11-18"  # a Wednesday declared a holiday after the fact, in these tests


@pytest.fixture
def clock() -> Clock:
    return Clock(at("2026-11-17T18:00"))


@pytest.fixture
def ledger(store: Store, clock: Clock) -> Iterator[Ledger]:
    opened = store.open(clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def reports(ledger: Ledger) -> Iterator[Reports]:
    opened = Reports(ledger, names=ALL)
    yield opened
    opened.close()


def corrected_2026() -> YearSchedule:
    """2026 as the package has it, plus one more holiday (a complete schedule, as required)."""
    known = year_deviations(WorkingCalendar(), 2026)
    return YearSchedule.from_mapping({
        "year": 2026, "holidays": [*known["holidays"], CORRECTED],
        "workdays": known["workdays"], "source": "test correction",
    })


def open_ticket(ledger: Ledger, received: str) -> dict[str, Any]:
    when = at(received)
    return ledger.open_ticket(channel="phone", requester_id=person(ledger, when),
                              description="咨询", received_at=when, ctx=Context(LEAD, at=when))


def dues(answer: dict[str, Any]) -> dict[str, str]:
    return {item["id"]: item["due_at"] for item in answer["items"]}


def instant_between() -> datetime:
    """An instant after everything recorded so far and before anything recorded next."""
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    return moment


def rebuilt_equals_live(reports: Reports, ledger: Ledger, tmp_path: Path) -> None:
    scratch = Reports(ledger, db=ViewDatabase.scratch(str(tmp_path / "rebuilt.db")), names=ALL)
    try:
        scratch.follower.rebuild()
        reports.follower.catch_up()
        for name in REPORTS:
            with reports.db.transaction(commit=False) as live_cur, \
                    scratch.db.transaction(commit=False) as rebuilt_cur:
                live = reports.report_view(name).logical(live_cur)
                assert live == scratch.report_view(name).logical(rebuilt_cur), name
    finally:
        scratch.close()


def test_a_corrected_schedule_moves_later_deadlines_and_leaves_past_figures(
    ledger: Ledger, reports: Reports, tmp_path: Path
) -> None:
    """Tue 17 Nov 10:00 + 1 working day = Wed 18 Nov 10:00; with the 18th off, Thu 19 Nov."""
    first = open_ticket(ledger, "2026-11-17T10:00")
    assert first["due_at"] == at("2026-11-18T10:00").isoformat()
    before = report(reports, "sla", None, {})
    assert dues(before) == {first["id"]: "2026-11-18T10:00:00+08:00"}
    noted = instant_between()

    loaded = ledger.load_calendar_schedule(corrected_2026(), Context(LEAD), reason="紧急通知")
    assert loaded == {"year": 2026, "source": "test correction", "changed": True, "version": 2}
    assert not ledger.sla.calendar.is_working_day(datetime.fromisoformat(CORRECTED).date())
    second = open_ticket(ledger, "2026-11-17T11:00")
    assert second["due_at"] == at("2026-11-19T11:00").isoformat()  # the command path knows

    live = dues(report(reports, "sla", None, {}))
    # The first ticket keeps the limits of its last step until its next one.
    assert live == {first["id"]: "2026-11-18T10:00:00+08:00",
                    second["id"]: "2026-11-19T11:00:00+08:00"}
    ledger.change_ticket(first["id"], Context("h1", at=at("2026-11-17T12:00")),
                         lambda t, a: t.classify(nature="consultation", urgency="general",
                                                 business_type="employment",
                                                 complexity="simple", at=a, by="h1"))
    assert dues(report(reports, "sla", None, {}))[first["id"]] == "2026-11-19T10:00:00+08:00"

    as_of = report(reports, "sla", noted, {})
    assert dues(as_of) == dues(before)
    assert as_of["final"] is True
    rebuilt_equals_live(reports, ledger, tmp_path)


def test_next_years_schedule_unblocks_year_end_work_and_is_seen_by_other_processes(
    ledger: Ledger, store: Store, clock: Clock
) -> None:
    clock.now = at("2026-12-31T10:00")
    with pytest.raises(CalendarYearUnknownError):
        open_ticket(ledger, "2026-12-31T10:00")  # due in 2027: refused, nothing stored
    other = store.open(clock=clock)
    try:
        assert 2027 not in other.sla.calendar.known_years()
        schedule = {"year": 2027, "holidays": ["2027-01-01"], "workdays": [],
                    "source": "国办发明电〔2026〕N号 (test)"}
        ledger.load_calendar_schedule(schedule, Context(LEAD))
        assert open_ticket(ledger, "2026-12-31T10:00")["due_at"] == at(
            "2027-01-04T10:00").isoformat()
        other.refresh_calendar()
        assert 2027 in other.sla.calendar.known_years()
        again = other.load_calendar_schedule(schedule, Context(LEAD))
        assert again["changed"] is False  # the same schedule: nothing recorded
        assert [h["source"] for h in other.calendar_info()["history"]] == [schedule["source"]]
    finally:
        other.close()


def test_a_bad_or_stale_schedule_is_refused_and_nothing_is_stored(ledger: Ledger) -> None:
    length = ledger.log_length()
    bad = {"year": 2027, "holidays": ["2027-01-02"], "workdays": [], "source": "x"}
    with pytest.raises(InvalidInputError) as caught:
        ledger.load_calendar_schedule(bad, Context(LEAD))
    assert caught.value.field == "holidays[0]"  # a Saturday is not a holiday to list
    with pytest.raises(ConcurrentWriteError):
        ledger.load_calendar_schedule(corrected_2026(), Context(LEAD, expected_version=3))
    assert ledger.log_length() == length


def test_new_contract_terms_change_live_targets_but_not_past_reports(
    ledger: Ledger, reports: Reports, tmp_path: Path
) -> None:
    """Nov 2026 = contract month 11 from 1 Jan: target = yearly target / 12."""
    ledger.set_contract_terms({"targets": {"tickets": 120, "services": 24}}, Context(LEAD))
    open_ticket(ledger, "2026-11-16T10:00")
    params = {"period": "month", "day": "2026-11-16"}
    before = report(reports, "quota", None, params)
    targets = {line["line"]: line["target"] for line in before["lines"]}
    assert (targets["tickets"], targets["services"]) == (10, 2)
    noted = instant_between()

    with pytest.raises(InvalidInputError) as caught:
        ledger.set_contract_terms({"targets": {"tickets": 240}}, Context(LEAD))
    assert caught.value.field == "reason"
    ledger.set_contract_terms({"targets": {"tickets": 240}}, Context(LEAD),
                              reason="补充协议 No. 1")
    live = report(reports, "quota", None, params)
    assert {line["line"]: line["target"] for line in live["lines"]}["tickets"] == 20
    assert live["contract"]["targets"]["tickets"] == 240

    past = report(reports, "quota", noted, params)  # evaluated at ``noted``: plan differs
    assert [(x["line"], x["target"], x["actual"]) for x in past["lines"]] == [
        (x["line"], x["target"], x["actual"]) for x in before["lines"]]
    assert past["contract"] == before["contract"]
    assert [c["reason"] for c in ledger.contract_info()["history"]] == [None, "补充协议 No. 1"]
    rebuilt_equals_live(reports, ledger, tmp_path)
