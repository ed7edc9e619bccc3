"""The access-log view at volume: rebuild and report latency, SQLite and PostgreSQL.

Per store (SQLite, PostgreSQL):

* the log — a contract-year workload (``taizhang.demo.Workload`` at scale 1, with
  more staff: 12 ticket handlers and 48 service specialists) over the days from
  2026-03-02, and interleaved with it about ``--access`` access records of the
  read gate: reveals by assignees and team members citing their item, by the
  project lead, by readers citing grants (approved, expired, revoked, pending,
  too narrow), refusals (no basis, another's item, an item of another subject,
  roles that may not reveal), access-history reads, the buyer's record, reads out
  of service hours, bulk readers (more than 20 subjects in an hour) and bursts
  of refusals; plus the grants themselves and the access reviews. Generated once
  and cached (``--cache``; ``--regenerate``);
* how the records are made — the bulk path, like ``run_demo``: each attempt is
  decided by the gate's own rule (``domain.gate.decide``) on the facts of the
  item and grant it cites, recorded as the same ``AccessRecord`` event
  ``Ledger.reveal`` appends, and saved ``--batch`` aggregates per transaction
  (``Ledger.save_batch``). At the end, ``--gate-sample`` attempts of the same
  kinds go through ``Ledger.reveal`` itself (timed), and each outcome and reason
  must equal what the bulk path decides for it;
* rebuild — ``replay.rebuild.rebuild(ledger, ["access_log"])`` (what ``taizhang
  replay rebuild`` does for one view) after every view was built: events/s over
  the whole log, and access records/s; beside it, the floor of any follower of
  this view: reading only the access topics of the log and decoding them;
* report latency — p50/p99 of ``replay.as_of.report(reports, "access_log", ...)``,
  the call ``GET /reports/access-log`` makes, on the app's report views
  (``projections.registry.Reports``) after they caught up: no filter, by
  subject, by actor, by level, by outcome, time windows, an actor's bulk hour
  (anomaly flags on every item), the next page, and ``as_of`` an instant in the
  past; then the endpoint itself over HTTP in process (``TestClient``), which
  first records the read (one event) and makes the views catch up with it.

Goal: report p99 < 100 ms. Run: ``./dev bench access_log`` or ``python
bench/access_log.py [--store sqlite|postgresql|both] [--events N] [--access N]
[--requests N] [--quick] [--check]``. A progress bar shows on a terminal;
piped, only the results are printed.
"""

from __future__ import annotations

import argparse
import bisect
import heapq
import json
import math
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from datetime import time as clock_time
from pathlib import Path
from typing import Any
from uuid import uuid4

import common

# bench/replay.py would shadow the ``replay`` package: the repository goes first.
sys.path.insert(0, str(common.ROOT))
# Everything is imported now, not when first used: a run measures the code found when it
# started, even if the tree changes meanwhile.

import psycopg
from eventsourcing.domain import Aggregate

from domain.access import allows
from domain.access_record import AccessRecord
from domain.access_review import AccessReviewLog
from domain.buyer import BUYER_FIELDS, BUYER_RECORD_ID
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import AccessRefusedError, PermissionDeniedError
from domain.gate import Attempt, GrantFacts, ItemFacts, decide
from domain.grant import Grant
from domain.ledger import Context, Ledger
from domain.people import User
from domain.service_case import ServiceCase
from domain.subject import Subject
from domain.ticket import Ticket
from projections.database import ViewDatabase
from projections.registry import ALL, Reports
from projections.runtime import read_events
from replay.as_of import report
from replay.rebuild import rebuild
from taizhang.bootstrap import initialise, open_ledger
from taizhang.demo import Staff, Workload, demo_days
from taizhang.progress import Ticker, progress
from taizhang.settings import Settings

GOAL_P99_MS = 100.0
START_DAY = date(2026, 3, 2)  # a Monday
SEED = 20260302
DEMO_EVENTS_PER_DAY = 9_000  # run_demo at scale 1, over calendar days (measured: 9,900)
HANDLERS, SPECIALISTS = 12, 48
CACHE = Path(os.environ.get("TAIZHANG_BENCH_ACCESS_LOG_CACHE")
             or Path(tempfile.gettempdir()) / "taizhang-bench-access-log")
ACCESS_TOPICS = ("domain.access_record:", "domain.access_review:")

PURPOSES_WORK = ("核实诉求人身份以办理工单", "电话联系申请人补充材料", "办理业务需核对身份证号码",
                 "回访前核对联系电话", "转办前核实申请人信息")
PURPOSES_GRANT = ("质量抽查核对服务记录", "投诉调查需联系当事人", "政策兑现复核", "信访件协查")
PURPOSES_LEAD = ("项目负责人抽查", "督办重点工单", "应急联系当事人")
PURPOSES_BUYER = ("合同履约联络", "月度报告报送")
HISTORY_PURPOSE = "access log review"  # the endpoint's default


def say(message: str) -> None:
    """Status lines on a terminal; nothing when stderr is piped (the results go to stdout)."""
    if sys.stderr.isatty():
        print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def at_time(day: date, hours: float) -> datetime:
    return datetime.combine(day, clock_time(0), tzinfo=SHANGHAI) + timedelta(hours=hours)


# -- the workload ------------------------------------------------------------------------------
class StaffedWorkload(Workload):
    """``run_demo``'s workload with a larger team (the same items, spread over more people)."""

    def _staff(self, at: datetime) -> Staff:
        def user(name: str, role: str) -> User:
            return User.register(name=name, role=role, at=at, by="system:bench")

        return Staff(
            lead=user("演示项目负责人", "project_lead"),
            handlers=[user(f"工单专员{i}", "ticket_handler") for i in range(1, HANDLERS + 1)],
            specialists=[user(f"服务专员{i}", "service_specialist")
                         for i in range(1, SPECIALISTS + 1)],
            supervisor=user("质量监督员", "quality_supervisor"),
        )


@dataclass
class Held:
    """A grant as the generator knows it: the aggregate and when it may be cited."""

    grant: Grant
    ready: datetime  # after its last decision (approve, reject, revoke) or its application


@dataclass
class Stats:
    events: int = 0
    days: int = 0
    tickets: int = 0
    cases: int = 0
    subjects: int = 0
    grants: int = 0
    reviews: int = 0
    access: Counter[str] = field(default_factory=Counter)  # by kind of attempt
    outcomes: Counter[str] = field(default_factory=Counter)  # "granted/assignee", ...
    bulk_episodes: int = 0
    refusal_bursts: int = 0
    gate_sample: int = 0
    gate_seconds: float = 0.0
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {k: (dict(v) if isinstance(v, Counter) else v) for k, v in self.__dict__.items()}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Stats:
        found = cls(**{k: v for k, v in data.items() if k not in ("access", "outcomes")})
        found.access = Counter(data.get("access", {}))
        found.outcomes = Counter(data.get("outcomes", {}))
        return found


class AccessWorkload:
    """Who reads what, when, and on what basis: access records for each day of the workload.

    Attempts are decided with ``domain.gate.decide`` on the facts the ledger would gather
    (the cited item's subject, assignee and team; the cited grant's reader, target,
    fields and status at that instant) and recorded as ``AccessRecord`` with the values
    ``Ledger.reveal`` / ``Ledger.access_history`` record. Records come out in time order.
    """

    def __init__(self, rng: random.Random, calendar: WorkingCalendar, staff: Staff,
                 per_working_day: float, since: datetime, end: datetime) -> None:
        self.rng = rng
        self.calendar = calendar
        self.staff = staff
        self.end = end  # nothing is recorded at or after the ledger's clock
        at = since

        def user(name: str, role: str) -> User:
            return User.register(name=name, role=role, at=at, by="system:bench")

        self.supervisors = [staff.supervisor, user("质量监督员2", "quality_supervisor"),
                            user("质量监督员3", "quality_supervisor")]
        self.officers = [user(f"保密监督员{i}", "confidentiality_officer") for i in (1, 2)]
        self.analysts = [user(f"数据分析员{i}", "analyst") for i in (1, 2, 3)]
        self.auditors = [user(f"审计员{i}", "auditor") for i in (1, 2)]
        self.readers = [*staff.handlers, *staff.specialists, *self.supervisors, *self.officers]
        self.clients = {str(u.id): f"10.12.{i // 200}.{i % 200 + 20}"
                        for i, u in enumerate([staff.lead, *self.readers, *self.analysts,
                                               *self.auditors])}
        self.by_id = {str(u.id): u for u in [staff.lead, *self.readers]}
        self.per_working_day = per_working_day
        self.fields: dict[str, list[str]] = {}  # subject id -> its personal field names
        self.subjects: list[str] = []
        self.recent: deque[list[tuple[datetime, ItemFacts]]] = deque(maxlen=3)  # items by day
        self.today: list[tuple[datetime, ItemFacts]] = []
        self.grants: deque[Held] = deque()
        self.review_log = AccessReviewLog()
        self.heap: list[tuple[datetime, int, dict[str, Any]]] = []
        self.seq = 0
        self.changed: dict[Any, Aggregate] = {}
        self.stats = Stats()

    def new_users(self) -> list[User]:
        return [*self.supervisors[1:], *self.officers, *self.analysts, *self.auditors]

    # -- what the items of the day bring -------------------------------------------------------
    def observe(self, aggregate: Aggregate) -> None:
        if isinstance(aggregate, Subject):
            self.fields[str(aggregate.id)] = aggregate.fields
            self.subjects.append(str(aggregate.id))
        elif isinstance(aggregate, Ticket) and aggregate.assignee:
            self.today.append((aggregate.received_at, ItemFacts(
                str(aggregate.id), aggregate.requester_id, aggregate.assignee,
                tuple(aggregate.team))))
        elif isinstance(aggregate, ServiceCase) and aggregate.assignee:
            self.today.append((aggregate.received_at, ItemFacts(
                str(aggregate.id), aggregate.subject_id, aggregate.assignee)))

    # -- one day -----------------------------------------------------------------------------
    def day(self, day: date) -> list[Aggregate]:
        """The day's grants, reviews and changed users, then its access records (time order)."""
        rng = self.rng
        self.today.sort(key=lambda pair: pair[0])
        self.recent.append(self.today)
        working = self.calendar.is_working_day(day)
        if working:
            for _ in range(_poisson(rng, 30)):
                self._grant(day)
        self._reviews(day)
        mean = self.per_working_day * (1.0 if working else 0.05)
        for _ in range(_poisson(rng, mean)):
            self._one(day, working)
        if working and rng.random() < 0.3:
            self._bulk(day)
        if working and rng.random() < 0.4:
            self._burst(day)
        self.today = []
        out = list(self.changed.values())
        self.changed = {}
        horizon = at_time(day + timedelta(days=1), 0)
        while self.heap and self.heap[0][0] < horizon:
            out.append(self._record(heapq.heappop(self.heap)[2]))
        while self.grants and self.grants[0].grant.applied_at < horizon - timedelta(days=12):
            self.grants.popleft()
        return out

    def rest(self) -> list[Aggregate]:
        """Records that fall after the last day (before the ledger's clock)."""
        out: list[Aggregate] = []
        while self.heap:
            kwargs = heapq.heappop(self.heap)[2]
            if kwargs["at"] < self.end:
                out.append(self._record(kwargs))
        return out

    def _record(self, kwargs: dict[str, Any]) -> AccessRecord:
        self.stats.outcomes[f"{kwargs['outcome']}/{kwargs['reason']}"] += 1
        return AccessRecord(**kwargs)

    def _push(self, kind: str, kwargs: dict[str, Any]) -> None:
        self.stats.access[kind] += 1
        self.seq += 1
        heapq.heappush(self.heap, (kwargs["at"], self.seq, kwargs))

    # -- times --------------------------------------------------------------------------------
    def _when(self, day: date, working: bool) -> datetime:
        rng = self.rng
        if not working:
            return at_time(day, rng.uniform(8, 20))
        if rng.random() < 0.04:  # early or late: out of service hours
            return at_time(day, rng.uniform(7, 9) if rng.random() < 0.3 else rng.uniform(17, 22))
        return at_time(day, rng.uniform(9, 17))

    def _item(self, at: datetime) -> ItemFacts | None:
        """An item received in the last days, before ``at``."""
        pools = [*list(self.recent)[:-1], self.today]
        sizes = [len(p) if p is not self.today else bisect.bisect_right(
            p, at, key=lambda pair: pair[0]) for p in pools]
        total = sum(sizes)
        if total == 0:
            return None
        pick = self.rng.randrange(total)
        for pool, size in zip(pools, sizes, strict=True):
            if pick < size:
                return pool[pick][1]
            pick -= size
        return None

    def _fields(self, subject_id: str) -> list[str]:
        names = self.fields[subject_id]
        k = self.rng.choices((1, 2, 3), weights=(50, 30, 20))[0]
        chosen = set(self.rng.sample(names, min(k, len(names))))
        return [n for n in names if n in chosen]

    # -- attempts -----------------------------------------------------------------------------
    def _reveal(self, kind: str, reader: User, subject_id: str, fields: list[str],
                purpose: str, at: datetime, item: ItemFacts | None = None,
                item_id: str | None = None, held: Held | None = None) -> None:
        grant = held.grant if held is not None else None
        facts = GrantFacts(
            id=str(grant.id), reader=grant.reader, target=grant.target,
            target_id=grant.target_id, fields=tuple(grant.fields), status=grant.status_at(at),
        ) if grant is not None else None
        decision = decide(Attempt(
            actor=str(reader.id), role=reader.role, action="subject.reveal", target="subject",
            target_id=subject_id, fields=fields, item=item, item_cited=item_id is not None,
            grant=facts, grant_cited=grant is not None,
        ))
        self._push(kind, dict(
            actor=str(reader.id), role=reader.role, target="subject", target_id=subject_id,
            subject_id=subject_id, fields=list(fields), purpose=purpose, level="medium",
            grant_id=str(grant.id) if grant is not None else None, item_id=item_id,
            request_id=uuid4().hex, client=self.clients.get(str(reader.id)),
            outcome=decision.outcome, reason=decision.reason, query=None, at=at,
        ))

    def _one(self, day: date, working: bool) -> None:
        rng = self.rng
        at = self._when(day, working)
        r = rng.random()
        if r < 0.76:
            item = self._item(at)
            if item is not None:
                by_team = bool(item.team) and rng.random() < 0.3
                actor = rng.choice(item.team) if by_team else item.assignee
                reader = self._user(actor)
                if reader is not None:
                    self._reveal("assigned work", reader, item.subject_id,
                                 self._fields(item.subject_id), rng.choice(PURPOSES_WORK), at,
                                 item, item.id)
                    return
            r = 0.77  # nothing assigned yet: the lead reads instead
        if r < 0.78:
            subject = rng.choice(self.subjects)
            self._reveal("project lead", self.staff.lead, subject, self._fields(subject),
                         rng.choice(PURPOSES_LEAD), at)
        elif r < 0.88:
            self._cite_grant(at)
        elif r < 0.90:
            self._not_assigned(at)
        elif r < 0.91:
            reader = rng.choice(self.readers)
            subject = rng.choice(self.subjects)
            self._reveal("no basis", reader, subject, self._fields(subject),
                         rng.choice(PURPOSES_WORK), at)
        elif r < 0.915:
            item = self._item(at)
            reader = self._user(item.assignee) if item is not None else None
            if item is None or reader is None:
                return
            subject = rng.choice(self.subjects)
            self._reveal("item of another subject", reader, subject, self._fields(subject),
                         rng.choice(PURPOSES_WORK), at, item, item.id)
        elif r < 0.92:
            reader = rng.choice([*self.analysts, *self.auditors])
            subject = rng.choice(self.subjects)
            self._reveal("role may not reveal", reader, subject, self._fields(subject),
                         "数据核对", at)
        elif r < 0.975:
            self._history(at)
        else:
            self._buyer(at, by_lead=r < 0.99)

    def _user(self, ident: str | None) -> User | None:
        return self.by_id.get(ident or "")

    def _cite_grant(self, at: datetime) -> None:
        rng = self.rng
        cited = [h for h in self.grants if h.grant.applied_at < at]
        # Mostly grants still running; now and then one that has ended (expired).
        running = [h for h in cited if at < h.grant.valid_until]
        if running and rng.random() < 0.9:
            cited = running
        if not cited:
            return
        held = rng.choice(cited)
        grant = held.grant
        if at < held.ready:
            at = held.ready + timedelta(minutes=rng.uniform(1, 120))
        reader = self._user(grant.reader)
        if reader is None or at >= self.end:
            return
        names = self.fields[grant.target_id]
        if rng.random() < 0.15 and len(names) > len(grant.fields):  # asks for more than granted
            fields = names
        else:
            fields = [n for n in grant.fields if rng.random() < 0.7] or list(grant.fields)
        self._reveal("grant", reader, grant.target_id, fields, grant.purpose, at, held=held)

    def _not_assigned(self, at: datetime) -> None:
        item = self._item(at)
        if item is None:
            return
        others = [u for u in self.readers[:HANDLERS + SPECIALISTS]
                  if str(u.id) != item.assignee and str(u.id) not in item.team]
        reader = self.rng.choice(others)
        self._reveal("another's item", reader, item.subject_id, self._fields(item.subject_id),
                     self.rng.choice(PURPOSES_WORK), at, item, item.id)

    def _history(self, at: datetime) -> None:
        rng = self.rng
        reader = (rng.choice(self.officers) if rng.random() < 0.9
                  else rng.choice([self.staff.lead, *self.analysts, *self.staff.handlers]))
        subject = rng.choice(self.subjects) if rng.random() < 0.5 else None
        actor = str(rng.choice(self.readers).id) if subject is None and rng.random() < 0.6 else None
        allowed = allows(reader.role, "access_log.read")
        self._push("access history", dict(
            actor=str(reader.id), role=reader.role, target="access_history", target_id=None,
            subject_id=subject, fields=[], purpose=HISTORY_PURPOSE, level="medium",
            grant_id=None, item_id=None, request_id=uuid4().hex,
            client=self.clients.get(str(reader.id)), query={"subject_id": subject, "actor": actor},
            outcome="granted" if allowed else "refused", reason="role", at=at,
        ))

    def _buyer(self, at: datetime, *, by_lead: bool) -> None:
        rng = self.rng
        reader = self.staff.lead if by_lead else rng.choice(self.readers)
        fields = [n for n in BUYER_FIELDS if rng.random() < 0.5] or ["organisation"]
        decision = decide(Attempt(
            actor=str(reader.id), role=reader.role, action="buyer.reveal", target="buyer",
            target_id=str(BUYER_RECORD_ID), fields=fields,
        ))
        self._push("buyer's record", dict(
            actor=str(reader.id), role=reader.role, target="buyer",
            target_id=str(BUYER_RECORD_ID), subject_id=None, fields=fields,
            purpose=rng.choice(PURPOSES_BUYER), level="high", grant_id=None, item_id=None,
            request_id=uuid4().hex, client=self.clients.get(str(reader.id)),
            outcome=decision.outcome, reason=decision.reason, query=None, at=at,
        ))

    def _bulk(self, day: date) -> None:
        """Someone reads more than 20 subjects within one hour."""
        rng = self.rng
        self.stats.bulk_episodes += 1
        start = at_time(day, rng.uniform(9, 16))
        kind = rng.random()
        if kind < 0.5:  # a specialist works through their own cases
            specialist = rng.choice(self.staff.specialists)
            mine = [facts for pool in self.recent for _, facts in pool
                    if facts.assignee == str(specialist.id)]
            for facts in rng.sample(mine, min(len(mine), rng.randint(22, 40))):
                at = start + timedelta(minutes=rng.uniform(0, 55))
                self._reveal("bulk", specialist, facts.subject_id,
                             self._fields(facts.subject_id), PURPOSES_WORK[3], at, facts, facts.id)
        elif kind < 0.8:  # the project lead goes through a list
            for subject in rng.sample(self.subjects, min(len(self.subjects), rng.randint(25, 50))):
                at = start + timedelta(minutes=rng.uniform(0, 55))
                self._reveal("bulk", self.staff.lead, subject, self._fields(subject),
                             PURPOSES_LEAD[1], at)
        else:  # a handler tries many subjects without a basis: all refused
            handler = rng.choice(self.staff.handlers)
            for subject in rng.sample(self.subjects, min(len(self.subjects), rng.randint(21, 30))):
                at = start + timedelta(minutes=rng.uniform(0, 55))
                self._reveal("bulk", handler, subject, self._fields(subject),
                             PURPOSES_WORK[0], at)

    def _burst(self, day: date) -> None:
        """Three to six refused attempts by one reader within twenty minutes."""
        rng = self.rng
        self.stats.refusal_bursts += 1
        reader = rng.choice(self.readers)
        start = at_time(day, rng.uniform(9, 16.5))
        for _ in range(rng.randint(3, 6)):
            at = start + timedelta(minutes=rng.uniform(0, 20))
            item = self._item(at)
            if item is not None and item.assignee != str(reader.id) and str(
                    reader.id) not in item.team and rng.random() < 0.5:
                self._reveal("refusal burst", reader, item.subject_id,
                             self._fields(item.subject_id), PURPOSES_WORK[1], at, item, item.id)
            else:
                subject = rng.choice(self.subjects)
                self._reveal("refusal burst", reader, subject, self._fields(subject),
                             PURPOSES_WORK[1], at)

    # -- grants and reviews ----------------------------------------------------------------------
    def _grant(self, day: date) -> None:
        rng = self.rng
        reader = rng.choice(self.readers)
        subject = rng.choice(self.subjects)
        applied = at_time(day, rng.uniform(9, 16.5))
        grant = Grant.apply(
            reader=str(reader.id), reader_role=reader.role, target="subject", target_id=subject,
            fields=self._fields(subject), purpose=rng.choice(PURPOSES_GRANT),
            valid_until=applied + timedelta(days=rng.uniform(1, 5)), at=applied,
        )
        reader.link_grant(str(grant.id), applied)
        ready = applied + timedelta(minutes=10)
        fate = rng.random()
        lead = str(self.staff.lead.id)
        if fate < 0.87:
            ready = applied + timedelta(minutes=rng.uniform(10, 90))
            grant.approve(by=lead, at=ready)
            if fate > 0.82:
                ready += timedelta(hours=rng.uniform(1, 4))
                grant.revoke(by=lead, reason="任务调整", at=ready)
        elif fate < 0.95:
            ready = applied + timedelta(minutes=rng.uniform(10, 90))
            grant.reject(by=lead, reason="理由不充分", at=ready)
        self.grants.append(Held(grant, ready))
        self.changed[grant.id] = grant
        self.changed[reader.id] = reader
        self.stats.grants += 1

    def _reviews(self, day: date) -> None:
        """Weekly (high), fortnightly (medium, none in the last three weeks), monthly (low)."""
        if day.weekday() != 0 or day <= START_DAY:
            return
        at = at_time(day, 10)
        weeks = (day - START_DAY).days // 7
        officer = str(self.officers[0].id)
        due = [("high", 7)]
        if weeks % 2 == 0 and at < self.end - timedelta(days=21):
            due.append(("medium", 14))
        if day.day <= 7:
            due.append(("low", 28))
        for level, span in due:
            self.review_log.record(level=level, period_start=at_time(day - timedelta(days=span), 0),
                                   period_end=at_time(day, 0), findings="未发现异常访问",
                                   at=at, by=officer)
            self.stats.reviews += 1
        self.changed[self.review_log.id] = self.review_log


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 50:
        return max(0, round(rng.gauss(mean, mean ** 0.5)))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


# -- the cached log ------------------------------------------------------------------------------
@dataclass
class Store:
    kind: str
    settings: Settings
    token: str
    now: datetime
    stats: Stats


@dataclass(frozen=True)
class Plan:
    days: int
    access: int

    @property
    def tag(self) -> str:
        return f"{self.days}d_{self.access // 1000}k"

    @property
    def now(self) -> datetime:
        """The ledger's clock: three weeks after the last day (every item is done by then)."""
        last = START_DAY + timedelta(days=self.days - 1)
        return at_time(last + timedelta(days=21), 12)


def plan_for(events: int, access: int) -> Plan:
    return Plan(max(7, math.ceil(max(0, events - access) / DEMO_EVENTS_PER_DAY)), access)


def _settings(kind: str, plan: Plan, cache: Path) -> Settings:
    directory = cache / f"{kind}-{plan.tag}"
    if kind == "sqlite":
        return Settings(data_dir=directory)
    url = common.POSTGRES_URL
    url = f"{url}{'&' if '?' in url else '?'}schema=tzbench_access_log_{plan.tag}"
    return Settings(data_dir=directory, database_url=url)


def _wipe(settings: Settings) -> None:
    shutil.rmtree(settings.data_dir, ignore_errors=True)
    url = settings.database_url or ""
    if "schema=" in url:
        schema = url.split("schema=")[-1]
        with psycopg.connect(common.POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            conn.execute(f"CREATE SCHEMA {schema}")


def ensure_log(kind: str, args: argparse.Namespace) -> Store:
    """The cached store for this plan, generated when missing (or with ``--regenerate``)."""
    plan = plan_for(args.events, args.access)
    settings = _settings(kind, plan, Path(args.cache))
    token_file = settings.data_dir / "bench-token"
    stats_file = settings.data_dir / "bench-stats.json"
    if not args.regenerate and token_file.exists() and stats_file.exists():
        say(f"{kind}: cached log at {settings.describe_database()}")
        stats = Stats.from_json(json.loads(stats_file.read_text()))
        return Store(kind, settings, token_file.read_text().strip(), plan.now, stats)
    _wipe(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    info = initialise(settings)
    ledger = open_ledger(settings, clock=lambda: plan.now)
    try:
        say(f"{kind}: generating {plan.days} days of work from {START_DAY} with about "
            f"{plan.access:,} access records ...")
        stats = generate(ledger, plan, args)
        stats.events = ledger.log_length()
    finally:
        ledger.close()
    say(f"{kind}: {stats.events:,} events ({sum(stats.access.values()):,} access records) in "
        f"{stats.seconds:.0f} s")
    stats_file.write_text(json.dumps(stats.to_json(), indent=1))
    token_file.write_text(info["token"])
    return Store(kind, settings, info["token"], plan.now, stats)


def generate(ledger: Ledger, plan: Plan, args: argparse.Namespace) -> Stats:
    began = time.perf_counter()
    calendar = ledger.sla.calendar
    now = ledger.now()
    chosen = demo_days(calendar, START_DAY, plan.days, now)
    first = at_time(chosen[0], 8)
    workload = StaffedWorkload(ledger, random.Random(SEED), 1.0, now, staff_since=first)
    working = sum(calendar.is_working_day(d) for d in chosen)
    effective = working + 0.05 * (len(chosen) - working)
    # About 1% of the records come from the bulk hours and refusal bursts.
    access = AccessWorkload(random.Random(SEED + 1), calendar, workload.staff,
                            plan.access * 0.99 / effective, since=first, end=now)
    stats = access.stats
    lead = str(workload.staff.lead.id)
    ledger.save_batch([*workload.staff.all(), *access.new_users(), access.review_log])
    ledger.set_buyer({"organisation": "济南高新技术产业开发区管理委员会",
                      "contact_person": "王伟", "contact_phone": "0531-88871234",
                      "address": "济南市高新区舜华路"}, Context(lead, at=first))
    batch: list[Aggregate] = []

    def add(aggregate: Aggregate) -> None:
        nonlocal batch
        batch.append(aggregate)
        if len(batch) >= args.batch:
            ledger.save_batch(batch)
            batch = []

    with progress("generating the log (days)", len(chosen)) as ticker:
        for day in chosen:
            for aggregate in workload.day(day):
                access.observe(aggregate)
                if isinstance(aggregate, Ticket):
                    stats.tickets += 1
                elif isinstance(aggregate, ServiceCase):
                    stats.cases += 1
                elif isinstance(aggregate, Subject):
                    stats.subjects += 1
                add(aggregate)
            for aggregate in access.day(day):
                add(aggregate)
            stats.days += 1
            ticker.advance(1)
        for aggregate in access.rest():
            add(aggregate)
    if batch:
        ledger.save_batch(batch)
    gate_sample(ledger, access, chosen[-1], args.gate_sample)
    stats.seconds = time.perf_counter() - began
    return stats


def gate_sample(ledger: Ledger, access: AccessWorkload, last: date, count: int) -> None:
    """``count`` attempts through ``Ledger.reveal`` itself; each must end as the bulk path says.

    The attempts are made by the same generator (not saved), on the next working day after
    the last one, and sent to the gate with their instant; the gate loads the reader, the
    subject, the item and the grant from the store and records its own ``AccessRecord``.
    """
    if count <= 0:
        return
    day = last + timedelta(days=1)
    while not access.calendar.is_working_day(day):
        day += timedelta(days=1)
    planned: list[tuple[str, dict[str, Any]]] = []
    saved_stats = access.stats
    access.stats = Stats()
    while len(access.heap) < count:
        access._one(day, True)
    while access.heap and len(planned) < count:
        kwargs = heapq.heappop(access.heap)[2]
        planned.append(("reveal", kwargs))
    access.heap = []
    access.stats = saved_stats
    mismatches = []
    began = time.perf_counter()
    for _, kwargs in planned:
        ctx = Context(kwargs["actor"], at=kwargs["at"])
        try:
            if kwargs["target"] == "subject":
                answer = ledger.reveal(kwargs["subject_id"], kwargs["fields"], kwargs["purpose"],
                                       grant_id=kwargs["grant_id"], item_id=kwargs["item_id"],
                                       request_id=kwargs["request_id"], client=kwargs["client"],
                                       ctx=ctx)
                got = ("granted", answer["basis"])
            elif kwargs["target"] == "buyer":
                answer = ledger.reveal_buyer(kwargs["fields"], kwargs["purpose"],
                                             request_id=kwargs["request_id"],
                                             client=kwargs["client"], ctx=ctx)
                got = ("granted", answer["basis"])
            else:
                query = kwargs["query"]
                ledger.access_history(subject_id=query["subject_id"], actor=query["actor"],
                                      purpose=kwargs["purpose"], limit=1,
                                      cursor=ledger.log_length(),
                                      request_id=kwargs["request_id"], client=kwargs["client"],
                                      ctx=ctx)
                got = ("granted", "role")
        except AccessRefusedError as exc:
            got = ("refused", exc.reason)
        except PermissionDeniedError:
            got = ("refused", "role")
        if got != (kwargs["outcome"], kwargs["reason"]):
            mismatches.append((kwargs, got))
    access.stats.gate_sample = len(planned)
    access.stats.gate_seconds = time.perf_counter() - began
    access.stats.outcomes.update(f"{k['outcome']}/{k['reason']}" for _, k in planned)
    if mismatches:
        kwargs, got = mismatches[0]
        raise SystemExit(
            f"the bulk path and Ledger.reveal disagree on {len(mismatches)} of {len(planned)}"
            f" attempts, e.g. {kwargs['target']} by {kwargs['role']}: bulk "
            f"{kwargs['outcome']}/{kwargs['reason']}, gate {got[0]}/{got[1]}")


# -- measurements --------------------------------------------------------------------------------
@dataclass
class Latency:
    name: str
    query: str
    samples: list[float] = field(default_factory=list)
    items: int = 0

    def pct(self, p: float) -> float:
        ordered = sorted(self.samples)
        index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))
        return ordered[index] * 1000

    @property
    def p50(self) -> float:
        return statistics.median(self.samples) * 1000


@dataclass
class Result:
    kind: str
    events: int
    records: int
    reads_rows: int
    stats: Stats
    build: common.Timed | None
    rebuilt: common.Timed
    floor: common.Timed
    view: list[Latency]
    http: list[Latency]


def build_views(ledger: Ledger, force: bool) -> common.Timed | None:
    """Every view level with the log (a full rebuild when one lags far behind, or ``force``)."""
    reports = Reports(ledger, names=ALL)
    try:
        positions = reports.follower.positions()
    finally:
        reports.close()
    length = ledger.log_length()
    if not force and min(positions.values()) >= length - 20_000:
        return None
    with progress("building every view", length) as ticker:
        result = rebuild(ledger, progress=ticker.advance)
    return common.Timed(result.events, result.seconds)


def rebuild_access_log(ledger: Ledger) -> common.Timed:
    with progress("rebuilding access_log", ledger.log_length()) as ticker:
        result = rebuild(ledger, ["access_log"], progress=ticker.advance)
    return common.Timed(result.events, result.seconds)


def access_floor(ledger: Ledger, page: int = 2_000) -> common.Timed:
    """What any follower of this view must pay: select the access topics, decode them."""
    length = ledger.log_length()
    began = time.perf_counter()
    count, position = 0, 0
    while position < length:
        events, position = read_events(ledger, position, length, page, ACCESS_TOPICS)
        count += len(events)
    return common.Timed(count, time.perf_counter() - began)


def checkpoint(ledger: Ledger) -> None:
    db = ViewDatabase(ledger)
    with db.outside_transaction() as cur:
        flush = "CHECKPOINT" if db.dialect == "postgresql" else "PRAGMA wal_checkpoint(TRUNCATE)"
        cur.execute(flush)


def view_facts(reports: Reports, middle: int) -> dict[str, Any]:
    """Rows in the view, and the subjects, actor, days and bulk hour the queries use."""
    with reports.db.transaction(commit=False) as cur:
        cur.execute("SELECT COUNT(*) AS n FROM {schema}access_records")
        records = int(cur.fetchone()["n"])  # type: ignore[index]
        cur.execute("SELECT COUNT(*) AS n FROM {schema}access_reads")
        reads_rows = int(cur.fetchone()["n"])  # type: ignore[index]
        cur.execute("SELECT subject_id, COUNT(*) AS n FROM {schema}access_records "
                    "WHERE target = 'subject' GROUP BY subject_id ORDER BY n DESC, subject_id "
                    "LIMIT 1")
        subject = cur.fetchone()
        cur.execute("SELECT subject_id, COUNT(*) AS n FROM {schema}access_records "
                    "WHERE target = 'subject' AND position <= ? GROUP BY subject_id "
                    "ORDER BY n DESC, subject_id LIMIT 1", (middle,))
        early = cur.fetchone()  # the most read by the middle of the log (for as_of)
        cur.execute("SELECT actor, COUNT(*) AS n FROM {schema}access_records "
                    "WHERE role = 'service_specialist' GROUP BY actor ORDER BY n DESC, actor "
                    "LIMIT 1")
        actor = cur.fetchone()
        cur.execute("SELECT hour, actor, COUNT(*) AS n FROM {schema}access_records "
                    "WHERE outcome = 'granted' AND target = 'subject' GROUP BY hour, actor "
                    "ORDER BY n DESC, hour "
                    "LIMIT 1")
        bulk = cur.fetchone()
        cur.execute("SELECT MIN(at_us) AS lo, MAX(at_us) AS hi FROM {schema}access_records")
        span = cur.fetchone()
    if subject is None or early is None or actor is None or bulk is None or span is None:
        raise RuntimeError("the access_log view is empty")
    return {"records": records, "reads_rows": reads_rows, "subject": subject, "early": early,
            "actor": actor, "bulk": bulk, "span": span}


def middle_instant(ledger: Ledger) -> datetime:
    """The recording instant of the event in the middle of the log (an ``as_of`` in the past)."""
    found = ledger.recorder.select_notifications(start=ledger.log_length() // 2, limit=1)
    return ledger.mapper.to_domain_event(found[0]).timestamp.astimezone(SHANGHAI)


def queries(facts: dict[str, Any], as_of: datetime) -> list[tuple[str, dict[str, Any]]]:
    """(label, endpoint query parameters) of the typical requests."""
    def working(fraction: float) -> date:
        lo, hi = facts["span"]["lo"], facts["span"]["hi"]
        day = datetime.fromtimestamp((lo + fraction * (hi - lo)) / 1e6, SHANGHAI).date()
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        return day

    day, early = working(0.5), working(0.25)  # early: in the log as of its middle
    hour = facts["bulk"]["hour"]  # YYYY-MM-DDTHH, Beijing time
    week_end = day + timedelta(days=6)
    # The access reviews' periods: a week (high), two weeks (medium), a month (low).
    month = day.replace(day=1)
    month_end = (month + timedelta(days=32)).replace(day=1) - timedelta(days=1)
    return [
        ("no filter", {}),
        ("subject (most read)", {"subject_id": facts["subject"]["subject_id"]}),
        ("actor (busiest specialist)", {"actor": facts["actor"]["actor"]}),
        ("level=high", {"level": "high"}),
        ("level=medium", {"level": "medium"}),
        ("outcome=refused", {"outcome": "refused"}),
        ("window: one day", {"from": day.isoformat(), "to": day.isoformat()}),
        ("window: one week", {"from": day.isoformat(), "to": week_end.isoformat()}),
        ("window: one week, refused", {"from": day.isoformat(), "to": week_end.isoformat(),
                                       "outcome": "refused"}),
        ("window: two weeks", {"from": day.isoformat(),
                               "to": (day + timedelta(days=13)).isoformat()}),
        ("window: one month", {"from": month.isoformat(), "to": month_end.isoformat()}),
        ("until a day (to only)", {"to": early.isoformat()}),
        ("bulk hour of an actor (flags)", {"actor": facts["bulk"]["actor"],
                                           "from": f"{hour}:00:00+08:00",
                                           "to": f"{hour}:59:59+08:00"}),
        ("next page (cursor)", {"cursor": "NEXT"}),
        ("as_of past, no filter", {"as_of": as_of}),
        ("as_of past, subject", {"as_of": as_of, "subject_id": facts["early"]["subject_id"]}),
        ("as_of past, one day", {"as_of": as_of, "from": early.isoformat(),
                                 "to": early.isoformat()}),
    ]


def _describe(params: dict[str, Any]) -> str:
    shown = []
    for key, value in params.items():
        if key == "as_of":
            shown.append(f"as_of={value.isoformat(timespec='seconds')}")
        elif key in ("subject_id", "actor"):
            shown.append(f"{key}={str(value)[:8]}…")
        else:
            shown.append(f"{key}={value}")
    return "&".join(shown) or "limit=100"


def view_latencies(reports: Reports, plan: list[tuple[str, dict[str, Any]]],
                   args: argparse.Namespace, ticker: Ticker) -> list[Latency]:
    """``report(reports, "access_log", as_of, params)`` exactly as the endpoint calls it."""
    found = []
    first = report(reports, "access_log", None, {"limit": 100})
    next_cursor = first["next_cursor"]
    for label, given in plan:
        params = {k: v for k, v in given.items() if k != "as_of"}
        if params.get("cursor") == "NEXT":
            params["cursor"] = next_cursor
        as_of = given.get("as_of")
        answer = report(reports, "access_log", as_of, params)  # warm-up (and as_of's overlay)
        timing = Latency(label, _describe(given), items=len(answer["items"]))
        count = args.requests if as_of is None else max(10, args.requests // 2)
        deadline = time.perf_counter() + args.seconds
        for i in range(count):
            began = time.perf_counter()
            report(reports, "access_log", as_of, params)
            timing.samples.append(time.perf_counter() - began)
            if i >= 19 and time.perf_counter() > deadline:
                break
        found.append(timing)
        ticker.advance(1)
    return found


def http_latencies(store: Store, ledger: Ledger, plan: list[tuple[str, dict[str, Any]]],
                   args: argparse.Namespace, ticker: Ticker) -> list[Latency]:
    """``GET /reports/access-log``: records the read first (one event), then the report."""
    from urllib.parse import urlencode

    found = []
    with common.report_client(store.settings, store.token, ledger) as client:
        first = client.get("/reports/access-log?limit=100").json()
        for label, given in plan:
            params = {k: (v.isoformat() if isinstance(v, datetime) else v)
                      for k, v in given.items()}
            if params.get("cursor") == "NEXT":
                params["cursor"] = first["next_cursor"]
            path = "/reports/access-log?" + urlencode({"limit": 100, **params})
            answer = client.get(path)
            if answer.status_code != 200:
                raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
            timing = Latency(label, _describe(given), items=len(answer.json()["items"]))
            count = args.http_requests if "as_of" not in given else max(10, args.http_requests // 2)
            deadline = time.perf_counter() + args.seconds
            for i in range(count):
                began = time.perf_counter()
                answer = client.get(path)
                timing.samples.append(time.perf_counter() - began)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: {answer.status_code} {answer.text[:300]}")
                if i >= 19 and time.perf_counter() > deadline:
                    break
            found.append(timing)
            ticker.advance(1)
    return found


def bench_store(kind: str, args: argparse.Namespace) -> Result:
    store = ensure_log(kind, args)
    ledger = open_ledger(store.settings, clock=lambda: store.now)
    try:
        events = ledger.log_length()
        say(f"{kind}: {events:,} events; bringing every view level with the log ...")
        build = build_views(ledger, args.rebuild_all)
        say(f"{kind}: rebuilding access_log alone ...")
        rebuilt = rebuild_access_log(ledger)
        say(f"{kind}: {rebuilt.rate:,.0f} events/s; reading the access topics alone ...")
        floor = access_floor(ledger)
        checkpoint(ledger)
        reports = Reports(ledger)
        try:
            reports.follower.catch_up()
            facts = view_facts(reports, ledger.log_length() // 2)
            plan = queries(facts, middle_instant(ledger))
            say(f"{kind}: report latency, {len(plan)} queries through replay.as_of.report ...")
            with progress("report latency (queries)", len(plan)) as ticker:
                view = view_latencies(reports, plan, args, ticker)
        finally:
            reports.close()
        http: list[Latency] = []
        if args.http_requests > 0:
            say(f"{kind}: the same over HTTP (each request records its read) ...")
            with progress("GET /reports/access-log (queries)", len(plan)) as ticker:
                http = http_latencies(store, ledger, plan, args, ticker)
    finally:
        ledger.close()
    return Result(kind, events, facts["records"], facts["reads_rows"], store.stats, build,
                  rebuilt, floor, view, http)


# -- output --------------------------------------------------------------------------------------
def print_results(results: list[Result]) -> bool:
    ok = True
    print("\n## The log")
    rows = []
    for r in results:
        s = r.stats
        rows.append([r.kind, f"{r.events:,}", f"{r.records:,}", f"{s.tickets:,}",
                     f"{s.cases:,}", f"{s.subjects:,}", f"{s.grants:,}", f"{s.days}",
                     f"{s.seconds:.0f}"])
    print(common.table(["store", "events", "access records", "tickets", "cases", "subjects",
                        "grants", "days", "generated in s"], rows))
    s = results[0].stats
    total = sum(s.outcomes.values()) or 1
    granted = sum(n for k, n in s.outcomes.items() if k.startswith("granted/"))
    print(f"\naccess records as generated ({results[0].kind}): {total:,}, granted "
          f"{granted / total:.0%}; " + ", ".join(
              f"{k} {n:,}" for k, n in s.outcomes.most_common()))
    print(f"bulk hours {s.bulk_episodes}, refusal bursts {s.refusal_bursts}; "
          f"counters in access_reads (hour, actor, subject), summed buckets: "
          f"{results[0].reads_rows:,}")
    for r in results:
        if r.stats.gate_sample:
            per = r.stats.gate_seconds / r.stats.gate_sample
            print(f"{r.kind}: {r.stats.gate_sample} attempts through Ledger.reveal agreed with "
                  f"the bulk path; {per * 1000:.2f} ms each ({1 / per:,.0f}/s), so "
                  f"{r.records:,} records would take {r.records * per / 60:.0f} min that way")

    print("\n## Rebuild of the access_log view alone (replay.rebuild.rebuild(ledger, "
          "['access_log']))")
    rows = []
    for r in results:
        rows.append([r.kind, f"{r.rebuilt.events:,}", f"{r.rebuilt.seconds:.1f}",
                     common.fmt_rate(r.rebuilt.rate),
                     common.fmt_rate(r.records / r.rebuilt.seconds),
                     f"{r.floor.seconds:.1f}", common.fmt_rate(r.floor.events / r.floor.seconds),
                     f"{r.build.seconds:.1f}" if r.build else "-"])
    print(common.table(["store", "events read", "rebuild s", "events/s", "access records/s",
                        "floor s", "floor records/s", "all views s"], rows))
    print("(floor: selecting every row, decoding only the access topics; all views: the full "
          "rebuild done first, when the views were not built or with --rebuild-all)")

    for title, attr in (("report(reports, 'access_log', ...) — the view, as the endpoint "
                         "calls it", "view"),
                        ("GET /reports/access-log — in-process HTTP, each request records "
                         "its read first", "http")):
        if not any(getattr(r, attr) for r in results):
            continue
        print(f"\n## Report latency: {title}")
        names = [t.name for t in getattr(results[0], attr)]
        headers = ["query", "items"]
        for r in results:
            headers += [f"{r.kind} p50 ms", f"{r.kind} p99 ms", "n", "goal"]
        rows = []
        for name in names:
            row = [name, ""]
            for r in results:
                timing = next(t for t in getattr(r, attr) if t.name == name)
                passed = timing.pct(99) < GOAL_P99_MS
                ok &= passed
                row[1] = str(timing.items)
                row += [f"{timing.p50:.1f}", f"{timing.pct(99):.1f}", str(len(timing.samples)),
                        common.verdict(passed)]
            rows.append(row)
        print(common.table(headers, rows))
    if results:
        print("\nqueries: " + "; ".join(f"{t.name}: {t.query}" for t in results[0].view))
    print(f"(goal: report p99 < {GOAL_P99_MS:.0f} ms)")
    return ok


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--store", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the log, about")
    parser.add_argument("--access", type=int, default=250_000, help="access records, about")
    parser.add_argument("--requests", type=int, default=200, help="samples per query (view)")
    parser.add_argument("--http-requests", type=int, default=100,
                        help="samples per query over HTTP (0: skip)")
    parser.add_argument("--seconds", type=float, default=30.0,
                        help="stop sampling a query after this long (at least 20 samples)")
    parser.add_argument("--batch", type=int, default=500, help="aggregates per transaction")
    parser.add_argument("--gate-sample", type=int, default=300,
                        help="attempts sent through Ledger.reveal itself to check the bulk path")
    parser.add_argument("--cache", default=str(CACHE))
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument("--rebuild-all", action="store_true",
                        help="time a rebuild of every view first, even when they are built")
    parser.add_argument("--generate-only", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="a smoke test: 60,000 events, 15,000 access records, 20 samples")
    parser.add_argument("--check", action="store_true", help="exit 1 on a MISS")
    args = parser.parse_args(argv)
    if args.quick:
        args.events, args.access, args.requests, args.http_requests = 60_000, 15_000, 20, 10
        args.gate_sample = 60
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    kinds = list(common.STORES) if args.store == "both" else [args.store]
    if "postgresql" in kinds and (why := common.postgres_reachable()) is not None:
        if args.store == "postgresql":
            print(f"postgresql: unreachable ({why})", file=sys.stderr)
            return 2
        print(f"postgresql: skipped ({common.POSTGRES_URL} unreachable: {why})")
        kinds.remove("postgresql")
    if args.generate_only:
        for kind in kinds:
            ensure_log(kind, args)
        return 0
    info = common.machine()
    print("# taizhang access-log view at volume")
    print(f"{info['date']}; {info['nproc']} cores (nproc); Python {info['python']}; "
          f"eventsourcing {info['eventsourcing']}; SQLite {info['sqlite']}; "
          f"PostgreSQL {info['postgresql']}; {info['platform']}; code {info['code']}; "
          f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    results = [bench_store(kind, args) for kind in kinds]
    ok = print_results(results)
    return 1 if args.check and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
