"""The terms in force at each position of the log: year schedules and contract terms.

Deadlines and targets are not configuration of the views; they are recorded in
the log (``domain/calendar_book.py``, ``domain/contract_terms.py``). This
module answers "which calendar, which contract, as the log stood at position
p?", so that

* an item's time limits after a step at position ``p`` are computed with the
  schedules recorded at or before ``p`` — a function of the log prefix, not of
  when the view happened to apply the page, hence a live view equals a
  rebuild, and a figure as of a date does not move when a later schedule is
  loaded;
* a report as of log position ``P`` uses the contract terms and the calendar
  recorded by ``P``.

An open item keeps the limits computed at its last step until its next step:
a schedule recorded later does not reach back into steps already taken. (A
schedule for a year no recorded step could reach changes nothing, because the
ledger refuses a step whose deadline needs a year the calendar lacks.)

The term events are found with the recorder's topic filter, read once and then
incrementally (a page of the log at a time), so following them costs nothing
while none is recorded.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from typing import Any
from uuid import UUID

from domain.calendar import WorkingCalendar, YearSchedule
from domain.calendar_book import CalendarBook
from domain.contract_terms import ContractBook, ContractTerms
from domain.ledger import Ledger
from domain.sla import SlaClock
from projections.contract import Contract
from projections.database import ViewDatabase

SCHEDULE_TOPIC = f"{CalendarBook.__module__}:CalendarBook.ScheduleLoaded"
TERMS_TOPIC = f"{ContractBook.__module__}:ContractBook.TermsSet"
_PAGE = 1_000


class Timeline:
    """Calendar schedules and contract terms by the log position that recorded them."""

    def __init__(self, ledger: Ledger, db: ViewDatabase | None = None) -> None:
        self.ledger = ledger
        self.base = ledger.base_calendar
        self.policy = ledger.services.policy
        self._db = db
        self._checked = 0  # the log is read up to here
        self._schedule_positions: list[int] = []
        self._calendars: list[WorkingCalendar] = [self.base]  # [k]: after k schedules
        self._clocks: list[SlaClock] = [SlaClock(self.base, self.policy)]
        self._terms_positions: list[int] = []
        self._contracts: list[Contract] = [Contract()]  # [k]: after k changes; [0] = defaults
        self._lock = threading.Lock()

    # -- reading the log ------------------------------------------------------------------
    def advance(self, upto: int) -> None:
        """Take in every term event at positions up to ``upto``."""
        if upto <= self._checked:
            return
        with self._lock:
            while self._checked < upto:
                found = self.ledger.recorder.select_notifications(
                    start=self._checked + 1, limit=_PAGE, stop=upto,
                    topics=(SCHEDULE_TOPIC, TERMS_TOPIC),
                )
                for notification in found:
                    self._take(notification.id, self.ledger.mapper.to_domain_event(notification))
                self._checked = found[-1].id if len(found) >= _PAGE else upto

    def _take(self, position: int, event: Any) -> None:
        if isinstance(event, CalendarBook.ScheduleLoaded):
            schedule = YearSchedule.from_mapping(event.schedule)
            calendar = self._calendars[-1].with_override(schedule)
            self._schedule_positions.append(position)
            self._calendars.append(calendar)
            self._clocks.append(SlaClock(calendar, self.policy))
        elif isinstance(event, ContractBook.TermsSet):
            terms = ContractTerms.from_mapping(event.terms)
            self._terms_positions.append(position)
            self._contracts.append(Contract.from_terms(terms))

    # -- answers ----------------------------------------------------------------------------
    def has_schedules(self, upto: int) -> bool:
        """Was any schedule recorded at or before ``upto``?"""
        self.advance(upto)
        return bool(self._schedule_positions) and self._schedule_positions[0] <= upto

    def calendar_at(self, position: int) -> WorkingCalendar:
        """The calendar as the log stood after ``position``."""
        self.advance(position)
        return self._calendars[bisect_right(self._schedule_positions, position)]

    def clock_at(self, position: int) -> SlaClock:
        """The SLA clock (policy and calendar) as the log stood after ``position``."""
        self.advance(position)
        return self._clocks[bisect_right(self._schedule_positions, position)]

    def contract_at(self, position: int) -> Contract:
        """The contract's terms as the log stood after ``position`` (SPEC defaults before any)."""
        self.advance(position)
        return self._contracts[bisect_right(self._terms_positions, position)]

    # -- where an item's step is ----------------------------------------------------------
    def position_of(self, originator_id: UUID, version: int) -> int:
        """The log position of one stored event (a primary-key lookup)."""
        from replay.records import events_table, position_column  # replay reads the raw rows

        db = self._database()
        key: Any = str(originator_id) if db.dialect == "sqlite" else originator_id
        with db.transaction(commit=False) as cur:
            cur.execute(
                f"SELECT {position_column(db)} AS position FROM {events_table(db)} "
                "WHERE originator_id = ? AND originator_version = ?",
                (key, version),
            )
            row = cur.fetchone()
        if row is None:
            raise LookupError(f"no event {originator_id} v{version} in the log")
        return int(row["position"])

    def _database(self) -> ViewDatabase:
        if self._db is None:
            self._db = ViewDatabase(self.ledger)
        return self._db
