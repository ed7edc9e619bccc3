"""Time limits (时限) in working time, and the SLA state of an item at an instant.

The limits are SPEC.md's defaults and configurable per contract. Deadlines are
derived from the item's recorded steps and the working calendar on demand, so
a calendar override loaded later changes no stored event.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from domain.calendar import WorkingCalendar
from domain.service_case import ServiceCase
from domain.ticket import Ticket
from domain.vocabulary import Urgency
from domain.work_item import WorkItem


class SlaState(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"


_SEVERITY = {SlaState.MET: 0, SlaState.ON_TRACK: 1, SlaState.AT_RISK: 2, SlaState.BREACHED: 3}


@dataclass(frozen=True)
class SlaPolicy:
    """Working-time limits; days are working days of the calendar's service hours."""

    ticket_days: float = 1
    urgent_first_response_hours: float = 2
    case_acceptance_days: float = 1
    case_approval_days: float = 2
    case_feedback_days: float = 1
    case_total_days: float = 3
    at_risk_share: float = 0.25


@dataclass(frozen=True)
class Deadline:
    """One time limit of one item, evaluated at an instant."""

    name: str
    started_at: datetime
    limit: timedelta
    due_at: datetime | None  # None while the clock is paused
    met_at: datetime | None
    elapsed: timedelta
    state: SlaState

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "started_at": self.started_at.isoformat(),
            "limit_seconds": int(self.limit.total_seconds()),
            "due_at": self.due_at.isoformat() if self.due_at else None,
            "met_at": self.met_at.isoformat() if self.met_at else None,
            "elapsed_seconds": int(self.elapsed.total_seconds()),
            "state": self.state.value,
        }


@dataclass(frozen=True)
class SlaClock:
    """Evaluates deadlines of items with one calendar and one policy."""

    calendar: WorkingCalendar
    policy: SlaPolicy = SlaPolicy()

    def deadlines(self, item: WorkItem, now: datetime) -> list[Deadline]:
        if isinstance(item, Ticket):
            return self._ticket_deadlines(item, now)
        if isinstance(item, ServiceCase):
            return self._case_deadlines(item, now)
        raise TypeError(f"no time limits for {type(item).__name__}")

    def due_at(self, item: WorkItem, now: datetime) -> datetime | None:
        """The due time of the item as a whole (resolution / whole case)."""
        return self.deadlines(item, now)[0].due_at

    def state(self, item: WorkItem, now: datetime) -> SlaState:
        """The worst state over the item's deadlines."""
        return max((d.state for d in self.deadlines(item, now)), key=_SEVERITY.__getitem__)

    # -- per kind ----------------------------------------------------------------------
    def _ticket_deadlines(self, ticket: Ticket, now: datetime) -> list[Deadline]:
        day = self.calendar.working_day_length()
        found = [
            self._evaluate(
                "resolution",
                ticket,
                ticket.received_at,
                day * self.policy.ticket_days,
                ticket.resolved_at,
                now,
            )
        ]
        if ticket.urgency == Urgency.URGENT.value:
            limit = timedelta(hours=self.policy.urgent_first_response_hours)
            found.append(
                self._evaluate(
                    "first_response",
                    ticket,
                    ticket.received_at,
                    limit,
                    ticket.first_response_at,
                    now,
                )
            )
        return found

    def _case_deadlines(self, case: ServiceCase, now: datetime) -> list[Deadline]:
        day = self.calendar.working_day_length()
        p = self.policy
        found = [
            self._evaluate(
                "case", case, case.received_at, day * p.case_total_days, case.closed_at, now
            ),
            self._evaluate(
                "acceptance",
                case,
                case.received_at,
                day * p.case_acceptance_days,
                case.accepted_at,
                now,
            ),
        ]
        if case.accepted_at is not None:
            found.append(
                self._evaluate(
                    "approval",
                    case,
                    case.accepted_at,
                    day * p.case_approval_days,
                    case.decided_at,
                    now,
                )
            )
        if case.decided_at is not None:
            found.append(
                self._evaluate(
                    "feedback",
                    case,
                    case.decided_at,
                    day * p.case_feedback_days,
                    case.closed_at,
                    now,
                )
            )
        return found

    # -- one deadline --------------------------------------------------------------------
    def _evaluate(
        self,
        name: str,
        item: WorkItem,
        start: datetime,
        limit: timedelta,
        met_at: datetime | None,
        now: datetime,
    ) -> Deadline:
        until = met_at or now
        pauses = _pauses_until(item, until)
        paused_now = met_at is None and item.is_paused
        due = None if paused_now else self.calendar.add(start, limit, pauses)
        elapsed = self.calendar.duration(start, until, pauses) if until > start else timedelta(0)
        if elapsed > limit:
            state = SlaState.BREACHED
        elif met_at is not None:
            state = SlaState.MET
        elif limit - elapsed < limit * self.policy.at_risk_share:
            state = SlaState.AT_RISK
        else:
            state = SlaState.ON_TRACK
        return Deadline(name, start, limit, due, met_at, elapsed, state)


def _pauses_until(item: WorkItem, until: datetime) -> Sequence[tuple[datetime, datetime]]:
    """Closed pauses, plus an open pause cut off at ``until``."""
    pauses = item.closed_pauses()
    if item.is_paused:
        start = item.pauses[-1][0]
        if start is not None and start < until:
            pauses = [*pauses, (start, until)]
    return pauses


@dataclass(frozen=True)
class SlaWatch:
    """What a stored view needs to tell an item's SLA state at any later instant.

    ``fixed`` is set when the state cannot change with time any more (the item
    is done, its clock is paused, or a deadline was already met late); else the
    state follows from comparing the instant with ``due_at`` and ``at_risk_from``.
    """

    fixed: SlaState | None
    due_at: datetime | None
    at_risk_from: datetime | None

    def state_at(self, now: datetime) -> SlaState:
        if self.fixed is not None:
            return self.fixed
        if self.due_at is not None and now > self.due_at:
            return SlaState.BREACHED
        if self.at_risk_from is not None and now > self.at_risk_from:
            return SlaState.AT_RISK
        return SlaState.ON_TRACK


def watch(clock: SlaClock, item: WorkItem) -> SlaWatch:
    """The item's :class:`SlaWatch` as of its last recorded step."""
    if item.is_done:
        return SlaWatch(clock.state(item, item.last_event_at), None, None)
    if item.is_paused:
        paused_at = item.pauses[-1][0]
        assert paused_at is not None
        return SlaWatch(clock.state(item, paused_at), None, None)
    deadlines = clock.deadlines(item, item.last_event_at)
    if any(d.met_at is not None and d.state is SlaState.BREACHED for d in deadlines):
        return SlaWatch(SlaState.BREACHED, None, None)
    pauses = item.closed_pauses()
    share = 1 - clock.policy.at_risk_share
    open_ones = [d for d in deadlines if d.met_at is None]
    dues = [d.due_at for d in open_ones if d.due_at is not None]
    risks = [clock.calendar.add(d.started_at, d.limit * share, pauses) for d in open_ones]
    return SlaWatch(None, min(dues, default=None), min(risks, default=None))
