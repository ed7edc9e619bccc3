"""The service case's rules and time limits, without storage."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import InvalidInputError, RuleViolationError
from domain.service_case import ServiceCase
from domain.sla import SlaClock, SlaState

MON = datetime(2026, 11, 2, 10, 0, tzinfo=SHANGHAI)
H = timedelta(hours=1)


def new_case() -> ServiceCase:
    return ServiceCase.open(
        number="FW20261102-00001",
        service_type="funding_support",
        subject_id="s-1",
        materials=["申请表"],
        received_at=MON,
        by="specialist-1",
    )


def test_incomplete_materials_pause_the_clock_until_they_arrive() -> None:
    clock = SlaClock(WorkingCalendar())
    case = new_case()
    case.accept(materials_complete=False, missing=["营业执照副本"], at=MON + H, by="sp")
    assert case.status == "awaiting_materials"
    assert clock.due_at(case, MON + H) is None
    # Supplied on Wednesday 10:00: two working days paused.
    case.resume(at=MON + timedelta(days=2), by="sp")
    assert case.status == "received"
    assert case.materials == ["申请表"]
    # 1 working hour ran before the pause (Mon 10-11); the other 23 run from
    # Wed 10:00: 7 on Wednesday, 8 on Thursday, 8 on Friday.
    assert clock.due_at(case, MON + timedelta(days=2)) == datetime(
        2026, 11, 6, 17, 0, tzinfo=SHANGHAI
    )


def test_a_case_runs_accept_decide_feedback_and_meets_every_limit() -> None:
    clock = SlaClock(WorkingCalendar())
    case = new_case()
    case.accept(materials_complete=True, missing=None, at=MON + H, by="sp")
    case.decide(approved=False, notes="不符合条件", at=MON + 3 * H, by="lead")
    case.give_feedback(result="已告知", at=MON + 4 * H, by="sp")
    assert case.status == "closed"
    deadlines = clock.deadlines(case, MON + 5 * H)
    assert [d.name for d in deadlines] == ["case", "acceptance", "approval", "feedback"]
    assert {d.state for d in deadlines} == {SlaState.MET}


def test_a_late_acceptance_breaches_its_one_day_limit() -> None:
    clock = SlaClock(WorkingCalendar())
    case = new_case()
    case.accept(materials_complete=True, missing=None, at=MON + timedelta(days=1, hours=1), by="sp")
    acceptance = clock.deadlines(case, MON + timedelta(days=1, hours=2))[1]
    assert acceptance.state is SlaState.BREACHED


def test_approval_needs_acceptance_and_feedback_needs_a_decision() -> None:
    case = new_case()
    with pytest.raises(RuleViolationError) as first:
        case.decide(approved=True, notes=None, at=MON + H, by="lead")
    assert first.value.rule == "case.approve.requires_acceptance"
    with pytest.raises(RuleViolationError) as second:
        case.give_feedback(result="x", at=MON + H, by="sp")
    assert second.value.rule == "case.feedback.requires_decision"


def test_an_incomplete_acceptance_must_name_what_is_missing() -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        new_case().accept(materials_complete=False, missing=[], at=MON + H, by="sp")
    assert excinfo.value.field == "missing"


def test_unknown_service_types_name_the_field() -> None:
    with pytest.raises(InvalidInputError) as excinfo:
        ServiceCase.open(
            number="n",
            service_type="haircut",
            subject_id="s",
            materials=[],
            received_at=MON,
            by="sp",
        )
    assert excinfo.value.field == "service_type"
