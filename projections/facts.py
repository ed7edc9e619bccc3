"""What every view needs to know about one ticket or case, computed once per change.

:func:`item_facts` reads a folded :class:`~domain.work_item.WorkItem` and returns
plain values: who handles it, its business type, when it was received and done,
and its time limits in working time. The SLA figures follow ``domain.sla``
exactly (the same deadlines, the same pause rules, the same states); this
module only avoids its repeated work — ``domain.sla.watch`` evaluates every
deadline two or three times, here each is evaluated once, and for a done item
only the overall due time is added — because a rebuild evaluates hundreds of
thousands of items. ``tests/unit/test_quota_facts.py`` checks the equality with
``domain.sla`` on random items.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from domain.service_case import ServiceCase
from domain.sla import SlaClock, SlaState
from domain.ticket import Ticket
from domain.vocabulary import Urgency
from domain.work_item import WorkItem

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_SEVERITY = {SlaState.MET: 0, SlaState.ON_TRACK: 1, SlaState.AT_RISK: 2, SlaState.BREACHED: 3}

TICKETS = "tickets"
SERVICES = "services"


def to_us(moment: datetime | None) -> int | None:
    """Microseconds since 1970 UTC; None stays None."""
    return None if moment is None else (moment - _EPOCH) // _US


def from_us(value: int | None) -> datetime | None:
    return None if value is None else _EPOCH + timedelta(microseconds=value)


@dataclass(frozen=True, slots=True)
class ItemFacts:
    """One item as the views see it after a given event (plain values only)."""

    item_id: str
    kind: str  # "ticket" | "case"
    line: str  # quota line: "tickets" | "services"
    number: str
    status: str
    assignee: str | None  # the handling staff member (a user id)
    business_type: str  # ticket business_type / case service_type; "" until classified
    urgency: str  # tickets: urgent/important/general/minor; "" otherwise
    nature: str  # tickets: consultation/complaint/suggestion; "" otherwise
    received_us: int
    done_us: int | None  # resolved (ticket) / closed with feedback (case)
    first_response_us: int | None
    due_us: int | None  # the overall due time as of the last event; None while paused
    fixed_state: str | None  # SlaWatch.fixed
    watch_due_us: int | None  # SlaWatch.due_at
    watch_risk_us: int | None  # SlaWatch.at_risk_from
    handling_s: int | None  # done: working seconds from receipt to done, pauses excluded
    late_s: int | None  # done: working seconds beyond the overall limit (0 when in time)
    first_response_state: str | None  # urgent tickets: "met" / "breached" once answered
    paused_s: int  # working seconds inside ended pauses
    paused_since_us: int | None  # the clock is paused since then
    scores: tuple[int, ...]  # callback satisfaction scores, in order
    reviews: int  # quality reviews
    reviews_passed: int
    version: int

    @property
    def is_done(self) -> bool:
        return self.done_us is not None

    @property
    def staff(self) -> str:
        return self.assignee or ""

    @property
    def is_complaint(self) -> bool:
        return self.nature == "complaint"

    def state_at(self, now_us: int) -> str:
        """The item's SLA state at an instant (``domain.sla.SlaWatch.state_at``)."""
        return state_at(self.fixed_state, self.watch_due_us, self.watch_risk_us, now_us)


def state_at(fixed: str | None, due_us: int | None, risk_us: int | None, now_us: int) -> str:
    if fixed is not None:
        return fixed
    if due_us is not None and now_us > due_us:
        return SlaState.BREACHED.value
    if risk_us is not None and now_us > risk_us:
        return SlaState.AT_RISK.value
    return SlaState.ON_TRACK.value


@dataclass(slots=True)
class _Limit:
    name: str
    start: datetime
    limit: timedelta
    met_at: datetime | None


def _limits(clock: SlaClock, item: WorkItem) -> list[_Limit]:
    """The item's deadlines, in ``domain.sla``'s order (the overall one first)."""
    day = clock.calendar.working_day_length()
    policy = clock.policy
    if isinstance(item, Ticket):
        found = [_Limit("resolution", item.received_at, day * policy.ticket_days, item.resolved_at)]
        if item.urgency == Urgency.URGENT.value:
            limit = timedelta(hours=policy.urgent_first_response_hours)
            found.append(_Limit("first_response", item.received_at, limit, item.first_response_at))
        return found
    if isinstance(item, ServiceCase):
        found = [
            _Limit("case", item.received_at, day * policy.case_total_days, item.closed_at),
            _Limit("acceptance", item.received_at, day * policy.case_acceptance_days,
                   item.accepted_at),
        ]
        if item.accepted_at is not None:
            found.append(_Limit("approval", item.accepted_at, day * policy.case_approval_days,
                                item.decided_at))
        if item.decided_at is not None:
            found.append(_Limit("feedback", item.decided_at, day * policy.case_feedback_days,
                                item.closed_at))
        return found
    raise TypeError(f"no time limits for {type(item).__name__}")


def _pauses_until(item: WorkItem, until: datetime) -> list[tuple[datetime, datetime]]:
    """``domain.sla._pauses_until``: ended pauses, plus an open pause cut off at ``until``."""
    pauses = item.closed_pauses()
    if item.is_paused:
        start = item.pauses[-1][0]
        if start is not None and start < until:
            pauses = [*pauses, (start, until)]
    return pauses


def _state(clock: SlaClock, limit: _Limit, item: WorkItem, now: datetime) -> tuple[SlaState, int]:
    """The state of one deadline at ``now`` and its elapsed working µs (``SlaClock._evaluate``)."""
    until = limit.met_at or now
    if until > limit.start:
        elapsed = clock.calendar.duration(limit.start, until, _pauses_until(item, until))
    else:
        elapsed = timedelta(0)
    if elapsed > limit.limit:
        state = SlaState.BREACHED
    elif limit.met_at is not None:
        state = SlaState.MET
    elif limit.limit - elapsed < limit.limit * clock.policy.at_risk_share:
        state = SlaState.AT_RISK
    else:
        state = SlaState.ON_TRACK
    return state, elapsed // _US


def _done(clock: SlaClock, item: WorkItem, limits: list[_Limit]) -> tuple[SlaState, int]:
    """The final state of a done item and its overall elapsed working µs (every limit met).

    Done, nothing is paused and each limit's pauses are the ended ones. A
    case's steps follow one another (received, accepted, decided, closed), so
    the whole case took the sum of its three steps: one calculation fewer.
    """
    pauses = item.closed_pauses()
    duration = clock.calendar.duration
    elapsed: list[int] = []
    for limit in limits[1:] if isinstance(item, ServiceCase) else limits:
        until = limit.met_at or item.last_event_at
        elapsed.append(duration(limit.start, until, pauses) // _US if until > limit.start else 0)
    if isinstance(item, ServiceCase):
        steps = elapsed
        elapsed = [sum(steps), *steps] if len(steps) == 3 else [
            duration(limits[0].start, limits[0].met_at or item.last_event_at, pauses) // _US,
            *steps,
        ]
    worst = SlaState.MET
    for limit, took in zip(limits, elapsed, strict=True):
        if took > limit.limit // _US:
            worst = SlaState.BREACHED
    return worst, elapsed[0]


def _worst(states: list[SlaState]) -> SlaState:
    return max(states, key=_SEVERITY.__getitem__)


def item_facts(clock: SlaClock, item: WorkItem) -> ItemFacts:
    """The facts of ``item`` as of its last recorded step."""
    calendar = clock.calendar
    limits = _limits(clock, item)
    overall = limits[0]
    last = item.last_event_at
    handling_s: int | None = None
    late_s: int | None = None
    first_response_state: str | None = None
    watch_due: datetime | None = None
    watch_risk: datetime | None = None
    fixed: SlaState | None
    due: datetime | None
    if item.is_done and not item.is_paused:
        fixed, handling_us = _done(clock, item, limits)
        handling_s = handling_us // 1_000_000
        late_s = max(0, handling_us - overall.limit // _US) // 1_000_000
        due = calendar.add(overall.start, overall.limit, item.closed_pauses())
    elif item.is_done:
        evaluated = [_state(clock, limit, item, last) for limit in limits]
        fixed = _worst([state for state, _ in evaluated])
        handling_us = evaluated[0][1]
        handling_s = handling_us // 1_000_000
        late_s = max(0, handling_us - overall.limit // _US) // 1_000_000
        until = overall.met_at or last
        due = calendar.add(overall.start, overall.limit, _pauses_until(item, until))
    elif item.is_paused:
        paused_at = item.pauses[-1][0]
        assert paused_at is not None
        fixed = _worst([_state(clock, limit, item, paused_at)[0] for limit in limits])
        due = None
    else:
        fixed = None
        share = 1 - clock.policy.at_risk_share
        closed = item.closed_pauses()
        dues: list[datetime] = []
        risks: list[datetime] = []
        due = None
        for index, limit in enumerate(limits):
            if limit.met_at is not None:
                if _state(clock, limit, item, last)[0] is SlaState.BREACHED:
                    fixed = SlaState.BREACHED
                continue
            limit_due = calendar.add(limit.start, limit.limit, closed)
            if index == 0:
                due = limit_due
            dues.append(limit_due)
            risks.append(calendar.add(limit.start, limit.limit * share, closed))
        if fixed is None:
            watch_due = min(dues, default=None)
            watch_risk = min(risks, default=None)
        if due is None:  # the overall deadline met before the item is done: never, but exact
            until = overall.met_at or last
            due = calendar.add(overall.start, overall.limit, _pauses_until(item, until))
    if isinstance(item, Ticket) and len(limits) > 1 and limits[1].met_at is not None:
        state, _ = _state(clock, limits[1], item, last)
        first_response_state = state.value
    paused_s = 0
    for start, end in item.closed_pauses():
        paused_s += calendar.duration(start, end) // timedelta(seconds=1)
    paused_since = item.pauses[-1][0] if item.is_paused else None
    return _facts(item, fixed, due, watch_due, watch_risk, handling_s, late_s,
                  first_response_state, paused_s, paused_since)


def _facts(
    item: WorkItem,
    fixed: SlaState | None,
    due: datetime | None,
    watch_due: datetime | None,
    watch_risk: datetime | None,
    handling_s: int | None,
    late_s: int | None,
    first_response_state: str | None,
    paused_s: int,
    paused_since: datetime | None,
) -> ItemFacts:
    state: Any = item
    if isinstance(item, Ticket):
        classification = item.classification or {}
        kind, line = "ticket", TICKETS
        business_type = classification.get("business_type") or ""
        urgency = classification.get("urgency") or ""
        nature = classification.get("nature") or ""
        done = item.resolved_at
        first_response = item.first_response_at
    else:
        kind, line = "case", SERVICES
        business_type = state.service_type
        urgency = nature = ""
        done = state.closed_at
        first_response = state.accepted_at
    passed = sum(1 for review in item.reviews if review["passed"])
    return ItemFacts(
        item_id=str(item.id),
        kind=kind,
        line=line,
        number=item.number,
        status=state.status,
        assignee=state.assignee,
        business_type=business_type,
        urgency=urgency,
        nature=nature,
        received_us=to_us(item.received_at) or 0,
        done_us=to_us(done),
        first_response_us=to_us(first_response),
        due_us=to_us(due),
        fixed_state=fixed.value if fixed is not None else None,
        watch_due_us=to_us(watch_due),
        watch_risk_us=to_us(watch_risk),
        handling_s=handling_s,
        late_s=late_s,
        first_response_state=first_response_state,
        paused_s=paused_s,
        paused_since_us=to_us(paused_since),
        scores=tuple(int(callback["satisfaction"]) for callback in item.callbacks),
        reviews=len(item.reviews),
        reviews_passed=passed,
        version=item.version,
    )
