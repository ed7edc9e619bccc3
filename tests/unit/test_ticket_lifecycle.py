"""The ticket's rules, without storage: each illegal transition names its rule."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import InvalidInputError, RuleViolationError
from domain.sla import SlaClock, SlaState
from domain.ticket import Ticket

T0 = datetime(2026, 9, 30, 16, 30, tzinfo=SHANGHAI)
MIN = timedelta(minutes=1)


def new_ticket(received: datetime = T0) -> Ticket:
    return Ticket.register(
        number="GD20260930-00001",
        channel="phone",
        requester_id="subject-1",
        description="咨询社保补贴",
        received_at=received,
        by="handler-1",
    )


def classified(complexity: str = "simple", urgency: str = "general") -> Ticket:
    ticket = new_ticket()
    ticket.classify(
        nature="consultation",
        urgency=urgency,
        business_type="employment",
        complexity=complexity,
        at=T0 + MIN,
        by="handler-1",
    )
    return ticket


def assigned(**kwargs: str) -> Ticket:
    ticket = classified(**kwargs)
    ticket.assign(assignee="handler-2", team=["handler-3"], at=T0 + 2 * MIN, by="lead")
    return ticket


def rule_of(excinfo: pytest.ExceptionInfo[RuleViolationError]) -> str:
    return excinfo.value.rule


def test_a_full_lifecycle_ends_resolved_with_callbacks_and_a_review() -> None:
    ticket = assigned()
    ticket.record_step(measure="电话核实", result="已核实", at=T0 + 3 * MIN, by="handler-2")
    ticket.pause(reason="等待材料", at=T0 + 4 * MIN, by="handler-2")
    ticket.resume(at=T0 + 5 * MIN, by="handler-2")
    ticket.resolve(result="已答复", at=T0 + 6 * MIN, by="handler-2")
    ticket.record_callback(kind="phone", satisfaction=5, problems=None, at=T0 + 7 * MIN, by="s")
    ticket.review(passed=True, notes=None, at=T0 + 8 * MIN, by="supervisor")
    assert ticket.status == "resolved"
    assert ticket.first_response_at == T0 + 3 * MIN
    assert ticket.closed_pauses() == [(T0 + 4 * MIN, T0 + 5 * MIN)]
    assert [c["satisfaction"] for c in ticket.callbacks] == [5]
    assert ticket.reviews[0]["passed"] is True
    assert len(ticket.collect_events()) == 9


def test_resolving_an_unclassified_ticket_is_refused() -> None:
    ticket = new_ticket()
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.resolve(result="x", at=T0 + MIN, by="h")
    assert rule_of(excinfo) == "ticket.resolve.requires_classification"


def test_a_second_resolution_is_refused() -> None:
    ticket = assigned()
    ticket.resolve(result="done", at=T0 + 3 * MIN, by="h")
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.resolve(result="again", at=T0 + 4 * MIN, by="h")
    assert rule_of(excinfo) == "ticket.resolve.already_resolved"


def test_a_callback_before_resolution_is_refused() -> None:
    ticket = assigned()
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.record_callback(kind="phone", satisfaction=4, problems=None, at=T0 + 3 * MIN, by="s")
    assert rule_of(excinfo) == "ticket.callback.before_done"


def test_a_complex_ticket_needs_a_team() -> None:
    ticket = classified(complexity="complex")
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.assign(assignee="handler-2", at=T0 + 2 * MIN, by="lead")
    assert rule_of(excinfo) == "ticket.assign.complex_requires_team"


def test_a_reassignment_needs_a_reason() -> None:
    ticket = assigned()
    with pytest.raises(InvalidInputError) as excinfo:
        ticket.assign(assignee="handler-4", at=T0 + 3 * MIN, by="lead")
    assert excinfo.value.field == "reason"
    ticket.assign(assignee="handler-4", reason="请假", at=T0 + 3 * MIN, by="lead")
    assert ticket.assignee == "handler-4"
    assert [a["assignee"] for a in ticket.assignments] == ["handler-2", "handler-4"]


def test_a_team_member_who_left_is_taken_off_the_team_and_the_assignee_keeps_it() -> None:
    ticket = assigned()
    ticket.remove_team_member("handler-3", reason="人员更换", at=T0 + 3 * MIN, by="lead")
    assert (ticket.assignee, ticket.team, ticket.status) == ("handler-2", [], "assigned")
    assert ticket.assignments[-1] == {"assignee": "handler-2", "team": [], "reason": "人员更换",
                                      "at": T0 + 3 * MIN, "by": "lead"}
    assert type(ticket.collect_events()[-1]).__name__ == "TeamMemberRemoved"


def test_only_a_team_member_of_an_open_ticket_can_be_taken_off_its_team() -> None:
    ticket = assigned()
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.remove_team_member("handler-2", reason="人员更换", at=T0 + 3 * MIN, by="lead")
    assert rule_of(excinfo) == "ticket.team.not_member"  # the assignee: assign or release
    with pytest.raises(InvalidInputError) as blank:
        ticket.remove_team_member("handler-3", reason=" ", at=T0 + 3 * MIN, by="lead")
    assert blank.value.field == "reason"
    ticket.resolve(result="已答复", at=T0 + 4 * MIN, by="handler-2")
    with pytest.raises(RuleViolationError) as done:
        ticket.remove_team_member("handler-3", reason="人员更换", at=T0 + 5 * MIN, by="lead")
    assert rule_of(done) == "ticket.remove_team_member.after_done"
    assert ticket.team == ["handler-3"]


def test_a_step_before_assignment_is_refused() -> None:
    with pytest.raises(RuleViolationError) as excinfo:
        classified().record_step(measure="m", result="r", at=T0 + 2 * MIN, by="h")
    assert rule_of(excinfo) == "ticket.step.requires_assignment"


def test_classification_values_outside_the_vocabulary_name_the_field() -> None:
    ticket = new_ticket()
    with pytest.raises(InvalidInputError) as excinfo:
        ticket.classify(
            nature="rant",
            urgency="general",
            business_type="employment",
            complexity="simple",
            at=T0 + MIN,
            by="h",
        )
    assert excinfo.value.field == "nature"


def test_steps_dated_before_the_previous_step_are_refused() -> None:
    ticket = assigned()
    with pytest.raises(InvalidInputError) as excinfo:
        ticket.record_step(measure="m", result="r", at=T0, by="h")
    assert excinfo.value.field == "at"


def test_satisfaction_must_be_one_to_five() -> None:
    ticket = assigned()
    ticket.resolve(result="ok", at=T0 + 3 * MIN, by="h")
    for bad in (0, 6, 3.5, True):
        with pytest.raises(InvalidInputError) as excinfo:
            ticket.record_callback(
                kind="sms",
                satisfaction=bad,
                problems=None,  # type: ignore[arg-type]
                at=T0 + 4 * MIN,
                by="s",
            )
        assert excinfo.value.field == "satisfaction"


def test_resolving_while_paused_is_refused() -> None:
    ticket = assigned()
    ticket.pause(reason="等待", at=T0 + 3 * MIN, by="h")
    with pytest.raises(RuleViolationError) as excinfo:
        ticket.resolve(result="x", at=T0 + 4 * MIN, by="h")
    assert rule_of(excinfo) == "ticket.resolve.while_paused"


def test_a_ticket_registered_before_national_day_is_due_after_it() -> None:
    clock = SlaClock(WorkingCalendar())
    ticket = new_ticket()
    assert clock.due_at(ticket, T0) == datetime(2026, 10, 8, 16, 30, tzinfo=SHANGHAI)
    on_time = datetime(2026, 10, 8, 16, 0, tzinfo=SHANGHAI)
    assert clock.state(ticket, on_time) is SlaState.AT_RISK
    assert clock.state(ticket, datetime(2026, 10, 8, 16, 31, tzinfo=SHANGHAI)) is SlaState.BREACHED


def test_a_paused_clock_moves_the_due_time_by_the_paused_working_time() -> None:
    clock = SlaClock(WorkingCalendar())
    ticket = assigned()
    monday = datetime(2026, 10, 8, 10, 0, tzinfo=SHANGHAI)
    ticket.pause(reason="等待材料", at=monday, by="h")
    assert clock.due_at(ticket, monday) is None
    ticket.resume(at=monday + timedelta(hours=2), by="h")
    # 16:30 + 2 paused working hours: 30 minutes on the 8th, 90 on the 9th.
    assert clock.due_at(ticket, monday) == datetime(2026, 10, 9, 10, 30, tzinfo=SHANGHAI)


def test_an_urgent_ticket_owes_a_first_response_within_two_working_hours() -> None:
    clock = SlaClock(WorkingCalendar())
    ticket = assigned(urgency="urgent")
    names = [d.name for d in clock.deadlines(ticket, T0)]
    assert names == ["resolution", "first_response"]
    first = clock.deadlines(ticket, T0)[1]
    assert first.due_at == datetime(2026, 10, 8, 10, 30, tzinfo=SHANGHAI)
    late = datetime(2026, 10, 8, 11, 0, tzinfo=SHANGHAI)
    ticket.record_step(measure="m", result="r", at=late, by="h")
    assert clock.state(ticket, late) is SlaState.BREACHED
