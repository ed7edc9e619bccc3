"""The views' item facts agree with ``domain.sla`` on every step of random tickets and cases.

``projections.facts.item_facts`` evaluates each time limit once instead of
``domain.sla``'s two or three times; these properties pin it to the domain's
answers: the SlaWatch (fixed state, due time, at-risk time), the overall due
time, and for done items the final state and the working time taken.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import InvalidInputError, RuleViolationError
from domain.service_case import ServiceCase
from domain.sla import SlaClock, SlaPolicy, watch
from domain.ticket import Ticket
from domain.work_item import WorkItem
from projections.facts import item_facts, to_us

CLOCK = SlaClock(WorkingCalendar(), SlaPolicy())
START = datetime(2026, 9, 28, 9, 0, tzinfo=SHANGHAI)  # the week before National Day

TICKET_STEPS = ("classify", "assign", "step", "pause", "resume", "resolve", "callback",
                "review", "release", "reclassify")
CASE_STEPS = ("accept", "incomplete", "resume", "decide", "feedback", "pause", "assign",
              "callback", "review")
# The lifecycle in order: drawn more often than a random step, so items get done.
TICKET_PATH = ("classify", "assign", "step", "resolve", "callback", "review")
CASE_PATH = ("accept", "decide", "feedback", "callback", "review")


def next_step(data: st.DataObject, path: tuple[str, ...], steps: tuple[str, ...],
              index: int) -> str:
    if index < len(path) and data.draw(st.integers(0, 9)) < 7:
        return path[index]
    return data.draw(st.sampled_from(steps))


def check(item: WorkItem) -> None:
    facts = item_facts(CLOCK, item)
    seen = watch(CLOCK, item)
    assert facts.fixed_state == (seen.fixed.value if seen.fixed else None)
    assert facts.watch_due_us == to_us(seen.due_at)
    assert facts.watch_risk_us == to_us(seen.at_risk_from)
    assert facts.due_us == to_us(CLOCK.due_at(item, item.last_event_at))
    assert facts.version == item.version
    if item.is_done:
        deadlines = CLOCK.deadlines(item, item.last_event_at)
        assert facts.fixed_state == CLOCK.state(item, item.last_event_at).value
        assert facts.handling_s == int(deadlines[0].elapsed.total_seconds())
        late = max(timedelta(0), deadlines[0].elapsed - deadlines[0].limit)
        assert facts.late_s == int(late.total_seconds())
        assert facts.done_us is not None


def ticket_step(ticket: Ticket, step: str, at: datetime, draw: st.DataObject) -> None:
    if step in ("classify", "reclassify"):
        ticket.classify(
            nature=draw.draw(st.sampled_from(["consultation", "complaint", "suggestion"])),
            urgency=draw.draw(st.sampled_from(["urgent", "important", "general", "minor"])),
            business_type=draw.draw(st.sampled_from(
                ["employment", "entrepreneurship", "social_security"])),
            complexity=draw.draw(st.sampled_from(["simple", "medium"])),
            at=at, by="h1",
        )
    elif step == "assign":
        ticket.assign(assignee=draw.draw(st.sampled_from(["h1", "h2"])), reason="转派", at=at,
                      by="lead")
    elif step == "step":
        ticket.record_step(measure="电话联系", result="已联系", at=at, by="h1")
    elif step == "pause":
        ticket.pause("等待材料", at=at, by="h1")
    elif step == "resume":
        ticket.resume(at=at, by="h1")
    elif step == "resolve":
        ticket.resolve(result="已办结", at=at, by="h1")
    elif step == "callback":
        ticket.record_callback("phone", draw.draw(st.integers(1, 5)), None, at=at, by="s1")
    elif step == "review":
        ticket.review(draw.draw(st.booleans()), None, at=at, by="q1")
    elif step == "release":
        ticket.release("离职", at=at, by="lead")


def case_step(case: ServiceCase, step: str, at: datetime, draw: st.DataObject) -> None:
    if step == "accept":
        case.accept(materials_complete=True, missing=None, at=at, by="s1")
    elif step == "incomplete":
        case.accept(materials_complete=False, missing=["身份证复印件"], at=at, by="s1")
    elif step == "resume":
        case.resume(at=at, by="s1")
    elif step == "decide":
        case.decide(approved=draw.draw(st.booleans()), notes=None, at=at, by="lead")
    elif step == "feedback":
        case.give_feedback(result="已反馈", at=at, by="s1")
    elif step == "pause":
        case.pause("等待申请人", at=at, by="s1")
    elif step == "assign":
        case.assign(assignee=draw.draw(st.sampled_from(["s2", "s3"])), reason="交接", at=at,
                    by="lead")
    elif step == "callback":
        case.record_callback("sms", draw.draw(st.integers(1, 5)), None, at=at, by="s1")
    elif step == "review":
        case.review(draw.draw(st.booleans()), None, at=at, by="q1")


gaps = st.integers(min_value=0, max_value=60 * 30)  # up to 30 hours between steps, in minutes


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offset=st.integers(0, 60 * 24 * 14), data=st.data())
def test_ticket_facts_equal_the_domain_sla_at_every_step(offset: int, data: st.DataObject) -> None:
    at = START + timedelta(minutes=offset)
    ticket = Ticket.register(number="GD1", channel="phone", requester_id="s", description="咨询",
                             received_at=at, by="h1")
    check(ticket)
    done = 0
    for _ in range(data.draw(st.integers(1, 14))):
        at += timedelta(minutes=data.draw(gaps))
        step = next_step(data, TICKET_PATH, TICKET_STEPS, done)
        try:
            ticket_step(ticket, step, at, data)
        except (RuleViolationError, InvalidInputError):
            continue
        done += step in TICKET_PATH[done: done + 1]
        check(ticket)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(offset=st.integers(0, 60 * 24 * 14), data=st.data())
def test_case_facts_equal_the_domain_sla_at_every_step(offset: int, data: st.DataObject) -> None:
    at = START + timedelta(minutes=offset)
    case = ServiceCase.open(number="FW1", service_type="funding_support", subject_id="s",
                            materials=["申请表"], received_at=at, by="s1")
    check(case)
    done = 0
    for _ in range(data.draw(st.integers(1, 14))):
        at += timedelta(minutes=data.draw(gaps))
        step = next_step(data, CASE_PATH, CASE_STEPS, done)
        try:
            case_step(case, step, at, data)
        except (RuleViolationError, InvalidInputError):
            continue
        done += step in CASE_PATH[done: done + 1]
        check(case)


def test_a_done_case_counts_its_handler_business_type_and_scores() -> None:
    at = datetime(2026, 11, 2, 9, 0, tzinfo=SHANGHAI)
    case = ServiceCase.open(number="FW2", service_type="employment_training", subject_id="s",
                            materials=["申请表"], received_at=at, by="s1")
    case.accept(materials_complete=True, missing=None, at=at + timedelta(hours=1), by="s1")
    case.decide(approved=True, notes=None, at=at + timedelta(hours=2), by="lead")
    case.give_feedback(result="已反馈", at=at + timedelta(hours=3), by="s1")
    case.record_callback("phone", 5, None, at=at + timedelta(hours=4), by="s2")
    case.record_callback("sms", 4, None, at=at + timedelta(hours=5), by="gw")
    case.review(True, None, at=at + timedelta(hours=6), by="q1")
    facts = item_facts(CLOCK, case)
    assert (facts.kind, facts.line, facts.assignee, facts.business_type) == (
        "case", "services", "s1", "employment_training")
    assert facts.scores == (5, 4)
    assert (facts.reviews, facts.reviews_passed) == (1, 1)
    assert facts.fixed_state == "met"
    assert facts.handling_s == 3 * 3600
