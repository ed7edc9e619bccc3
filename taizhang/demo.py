"""A realistic synthetic workload, recorded through the domain's own commands.

Volumes follow the contract year of SPEC.md (10,000 tickets and 545,000 service
cases over about 250 working days), multiplied by ``scale``. Every lifecycle
step goes through the aggregates' command methods, so the rules the API
enforces hold here too; only the saving is batched (one transaction per batch),
which is the bulk path that imports use.

Realism: all channels and classification values, urgent and complex tickets,
paused clocks, late items, incomplete materials, rejected cases, callbacks with
varied satisfaction, quality reviews, and items still open at the end.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import CalendarYearUnknownError
from domain.ledger import CASE_PREFIX, TICKET_PREFIX, Ledger, NewSubject
from domain.people import User
from domain.service_case import ServiceCase
from domain.subject import Subject
from domain.ticket import Ticket
from domain.vocabulary import (
    BusinessType,
    Channel,
    Complexity,
    Nature,
    ServiceType,
    Urgency,
)
from taizhang import synthetic

TICKETS_PER_YEAR = 10_000
CASES_PER_YEAR = 545_000
WORKING_DAYS_PER_YEAR = 250
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


@dataclass
class Staff:
    """The demo's users, by role."""

    lead: User
    handlers: list[User]
    specialists: list[User]
    supervisor: User

    def all(self) -> list[User]:
        return [self.lead, *self.handlers, *self.specialists, self.supervisor]


@dataclass
class DemoStats:
    tickets: int = 0
    cases: int = 0
    subjects: int = 0
    events: int = 0
    days: list[date] = field(default_factory=list)


class Workload:
    """Generates one day's items at a time; nothing here touches storage."""

    def __init__(
        self,
        ledger: Ledger,
        rng: random.Random,
        scale: float,
        now: datetime,
        staff_since: datetime | None = None,
    ) -> None:
        self.ledger = ledger
        self.calendar: WorkingCalendar = ledger.sla.calendar
        self.rng = rng
        self.scale = scale
        self.now = now
        self.known: list[UUID] = []
        self.staff = self._staff(staff_since or now)

    # -- people ----------------------------------------------------------------------------
    def _staff(self, at: datetime) -> Staff:
        def user(name: str, role: str) -> User:
            return User.register(name=name, role=role, at=at, by="system:demo")

        return Staff(
            lead=user("演示项目负责人", "project_lead"),
            handlers=[user(f"工单专员{i}", "ticket_handler") for i in range(1, 7)],
            specialists=[user(f"服务专员{i}", "service_specialist") for i in range(1, 13)],
            supervisor=user("质量监督员", "quality_supervisor"),
        )

    def requester(self, at: datetime, fresh: list[NewSubject]) -> UUID:
        """Mostly new people (registered in the day's batch), sometimes someone known."""
        if self.known and self.rng.random() < 0.3:
            return self.rng.choice(self.known)
        if self.rng.random() < 0.85:
            kind, fields = "person", synthetic.person_fields(self.rng)
        else:
            kind, fields = "enterprise", synthetic.enterprise_fields(self.rng)
        spec = NewSubject(kind, fields, at)
        fresh.append(spec)
        self.known.append(spec.id)
        return spec.id

    # -- days --------------------------------------------------------------------------------
    def day(self, day: date) -> Iterator[Aggregate]:
        """Every aggregate created or changed by the items received on ``day``."""
        working = self.calendar.is_working_day(day)
        share = self.scale / WORKING_DAYS_PER_YEAR * (1.0 if working else 0.05)
        n_tickets = _poisson(self.rng, TICKETS_PER_YEAR * share)
        n_cases = _poisson(self.rng, CASES_PER_YEAR * share)
        fresh: list[NewSubject] = []
        items: list[Aggregate] = []
        if n_tickets:
            sequence = self.ledger.sequence(TICKET_PREFIX, day)
            for number in sequence.allocate(n_tickets):
                items.append(self.ticket(number, self._arrival(day, working), fresh))
            items.append(sequence)
        if n_cases:
            sequence = self.ledger.sequence(CASE_PREFIX, day)
            for number in sequence.allocate(n_cases):
                items.append(self.case(number, self._arrival(day, working), fresh))
            items.append(sequence)
        yield from self.ledger.new_subjects(fresh, "system:demo")
        yield from items

    def _arrival(self, day: date, working: bool) -> datetime:
        if working and self.rng.random() < 0.9:
            start, span = time(9), 8 * 3600
        else:  # online and e-mail requests arrive around the clock
            start, span = time(0), 24 * 3600
        moment = datetime.combine(day, start, tzinfo=SHANGHAI)
        return moment + timedelta(seconds=self.rng.randrange(span))

    def _later(self, at: datetime, working: timedelta) -> datetime:
        """``working`` time after ``at``; past a year the calendar lacks, it never happens."""
        try:
            return self.calendar.add(at, working)
        except CalendarYearUnknownError:
            return datetime.max.replace(tzinfo=SHANGHAI)

    def _happened(self, at: datetime) -> bool:
        return at <= self.now

    # -- one ticket --------------------------------------------------------------------------
    def ticket(self, number: str, received: datetime, fresh: list[NewSubject]) -> Ticket:
        rng = self.rng
        night = received.time() < time(9) or received.time() >= time(17)
        channel = (
            rng.choice((Channel.ONLINE, Channel.EMAIL))
            if night
            else rng.choices(list(Channel), weights=(45, 10, 25, 20))[0]
        )
        requester = self.requester(received, fresh)
        ticket = Ticket.register(
            number=number,
            channel=channel.value,
            requester_id=str(requester),
            description=rng.choice(synthetic.TICKET_TOPICS),
            received_at=received,
            by=str(rng.choice(self.staff.handlers).id),
        )
        at = self._later(received, rng.randint(5, 60) * MINUTE)
        if not self._happened(at):
            return ticket
        urgency = rng.choices(list(Urgency), weights=(5, 20, 60, 15))[0]
        complexity = rng.choices(list(Complexity), weights=(60, 30, 10))[0]
        ticket.classify(
            nature=rng.choices(list(Nature), weights=(70, 15, 15))[0].value,
            urgency=urgency.value,
            business_type=rng.choice(list(BusinessType)).value,
            complexity=complexity.value,
            at=at,
            by=ticket.registered_by,
        )
        handlers = rng.sample(self.staff.handlers, 3)
        at = self._later(at, rng.randint(5, 30) * MINUTE)
        if not self._happened(at):
            return ticket
        team = [str(h.id) for h in handlers[1:]] if complexity is Complexity.COMPLEX else []
        ticket.assign(assignee=str(handlers[0].id), team=team, at=at, by=str(self.staff.lead.id))
        if rng.random() < 0.05:
            at = self._later(at, rng.randint(10, 60) * MINUTE)
            if not self._happened(at):
                return ticket
            successor = str(handlers[1].id)
            # A complex ticket keeps a team: the previous assignee stays on it.
            keep = [m for m in [*ticket.team, ticket.assignee or ""] if m and m != successor]
            ticket.assign(
                assignee=successor,
                reason="原承办人请假，转派",
                team=keep if complexity is Complexity.COMPLEX else [],
                at=at,
                by=str(self.staff.lead.id),
            )
        late = rng.random() < 0.08
        budget = (rng.uniform(1.1, 3.0) if late else rng.uniform(0.2, 0.9)) * 8 * HOUR
        if urgency is Urgency.URGENT and not late:
            budget = rng.uniform(0.3, 1.8) * HOUR
        steps = rng.randint(1, 3)
        for index in range(steps):
            at = self._later(at, budget / (steps + 1))
            if not self._happened(at):
                return ticket
            measure, result = synthetic.STEP_MEASURES[index % len(synthetic.STEP_MEASURES)]
            ticket.record_step(measure=measure, result=result, at=at, by=ticket.assignee or "")
            if index == 0 and rng.random() < 0.1:
                ticket.pause(reason="等待诉求人补充材料", at=at, by=ticket.assignee or "")
                at = self._later(at, rng.uniform(1, 16) * HOUR)
                if not self._happened(at):
                    return ticket
                ticket.resume(at=at, by=ticket.assignee or "")
        at = self._later(at, budget / (steps + 1))
        if not self._happened(at):
            return ticket
        ticket.resolve(result=rng.choice(synthetic.RESOLUTIONS), at=at, by=ticket.assignee or "")
        self._follow_up(ticket, at, dissatisfied=late)
        return ticket

    # -- one case ------------------------------------------------------------------------------
    def case(self, number: str, received: datetime, fresh: list[NewSubject]) -> ServiceCase:
        rng = self.rng
        specialist = rng.choice(self.staff.specialists)
        subject = self.requester(received, fresh)
        materials = rng.sample(synthetic.MATERIALS, rng.randint(2, 4))
        case = ServiceCase.open(
            number=number,
            service_type=rng.choice(list(ServiceType)).value,
            subject_id=str(subject),
            materials=materials,
            received_at=received,
            by=str(specialist.id),
        )
        late = rng.random() < 0.06
        day = 8 * HOUR
        at = self._later(received, rng.uniform(0.1, 0.8) * day * (2.5 if late else 1))
        if not self._happened(at):
            return case
        if rng.random() < 0.1:
            missing = rng.sample(synthetic.MATERIALS, 1)
            case.accept(materials_complete=False, missing=missing, at=at, by=case.opened_by)
            at = self._later(at, rng.uniform(2, 24) * HOUR)
            if not self._happened(at):
                return case
            case.resume(at=at, by=case.opened_by)
        case.accept(materials_complete=True, missing=None, at=at, by=case.opened_by)
        at = self._later(at, rng.uniform(0.2, 1.5) * day * (2 if late else 1))
        if not self._happened(at):
            return case
        case.decide(approved=rng.random() < 0.9, notes=None, at=at, by=str(self.staff.lead.id))
        at = self._later(at, rng.uniform(0.05, 0.5) * day)
        if not self._happened(at):
            return case
        case.give_feedback(result="已告知申请人审批结果并提供相应服务", at=at, by=case.opened_by)
        self._follow_up(case, at, dissatisfied=late)
        return case

    def _follow_up(self, item: Ticket | ServiceCase, done: datetime, *, dissatisfied: bool) -> None:
        rng = self.rng
        weights = (15, 20, 25, 25, 15) if dissatisfied else (1, 2, 7, 30, 60)
        at = self._later(done, rng.uniform(0.5, 8) * HOUR)
        if rng.random() < 0.8 and self._happened(at):
            score = rng.choices((1, 2, 3, 4, 5), weights=weights)[0]
            problems = "对办理时长不满意" if score <= 2 else None
            item.record_callback(
                kind="phone",
                satisfaction=score,
                problems=problems,
                at=at,
                by=str(rng.choice(self.staff.specialists).id),
            )
            at = self._later(at, rng.uniform(4, 16) * HOUR)
            if rng.random() < 0.4 and self._happened(at):
                item.record_callback(
                    kind="sms",
                    satisfaction=max(1, score - rng.randint(0, 1)),
                    problems=None,
                    at=at,
                    by="sms-gateway",
                )
        at = self._later(at, rng.uniform(1, 24) * HOUR)
        if rng.random() < 0.3 and self._happened(at):
            item.review(
                passed=rng.random() < 0.95, notes=None, at=at, by=str(self.staff.supervisor.id)
            )


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth for small means, a rounded normal for large ones)."""
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean**0.5)))
    limit, k, p = pow(2.718281828459045, -mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def demo_days(
    calendar: WorkingCalendar, start: date | None, days: int, now: datetime
) -> list[date]:
    """``days`` consecutive calendar days ending yesterday (or from ``start``), all known."""
    if start is None:
        last = calendar.local_date(now) - timedelta(days=1)
        while True:
            try:
                calendar.check_known(last)
                break
            except CalendarYearUnknownError:
                last = date(last.year - 1, 12, 31)
        start = last - timedelta(days=days - 1)
    chosen = [start + timedelta(days=i) for i in range(days)]
    for day in chosen:
        calendar.check_known(day)
    return chosen


def run_demo(
    ledger: Ledger,
    *,
    days: int,
    seed: int,
    scale: float,
    start: date | None = None,
    batch_size: int = 500,
    ticker: object = None,
) -> DemoStats:
    """Generate and save the workload, ``batch_size`` aggregates per transaction."""
    rng = random.Random(seed)
    now = ledger.now()
    chosen = demo_days(ledger.sla.calendar, start, days, now)
    first = datetime.combine(chosen[0], time(8), tzinfo=SHANGHAI)
    workload = Workload(ledger, rng, scale, now, staff_since=first)
    stats = DemoStats(days=chosen)
    # Saving in a second thread was measured slower (the interpreter lock): one thread.
    stats.events += ledger.save_batch(workload.staff.all())
    batch: list[Aggregate] = []
    for day in chosen:
        for aggregate in workload.day(day):
            if isinstance(aggregate, Ticket):
                stats.tickets += 1
            elif isinstance(aggregate, ServiceCase):
                stats.cases += 1
            elif isinstance(aggregate, Subject):
                stats.subjects += 1
            batch.append(aggregate)
            if len(batch) >= batch_size:
                stats.events += ledger.save_batch(batch)
                batch = []
        if ticker is not None:
            ticker.advance(1)  # type: ignore[attr-defined]
    if batch:
        stats.events += ledger.save_batch(batch)
    return stats
