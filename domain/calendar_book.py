"""The working calendar's year schedules as events: which schedule was in force, and when.

A State Council schedule (国务院办公厅节假日安排) for a year the built-in data
lacks, or a correction of a year it has, changes every deadline computed from
then on. If the schedule were only a file read at start, a report as of a past
date would be recomputed with whatever file is loaded today. So each schedule
is recorded in the log, in one book for the deployment (a fixed id, so two
concurrent loads collide and one gets 409): deadlines of a step are computed
with the schedules recorded before that step, and a figure as of a date is
computed with the schedules recorded by then.

A schedule identical to the one in force for its year records nothing: loading
the same file at every start is harmless.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.calendar import WorkingCalendar, YearSchedule
from domain.values import optional_text

CALENDAR_BOOK_ID = uuid.UUID("5d0f8a52-1c3e-4b7a-a0d4-6f2b9e8c7a31")
MAX_REASON = 500


class CalendarBook(Aggregate):
    """Every year schedule ever loaded, in order; the last one per year is in force."""

    @staticmethod
    def create_id(**_: object) -> uuid.UUID:
        return CALENDAR_BOOK_ID

    @event("Opened")
    def __init__(self, at: datetime, by: str) -> None:
        self.opened_at = at
        self.loads: list[dict[str, Any]] = []
        self.in_force: dict[int, dict[str, Any]] = {}

    def load(self, schedule: YearSchedule, reason: object, at: datetime, by: str) -> bool:
        """Record ``schedule`` unless it is already the one in force; True if recorded."""
        text = optional_text(reason, "reason", max_length=MAX_REASON)
        mapping = schedule.to_mapping()
        if self.in_force.get(schedule.year) == mapping:
            return False
        self._loaded(schedule=mapping, reason=text, at=at, by=by)
        return True

    @event("ScheduleLoaded")
    def _loaded(self, schedule: dict[str, Any], reason: str | None, at: datetime, by: str
                ) -> None:
        self.loads.append({"schedule": schedule, "reason": reason, "at": at, "by": by})
        self.in_force[int(schedule["year"])] = schedule

    def was_loaded(self, schedule: YearSchedule) -> bool:
        """Was exactly this schedule ever recorded (in force now or superseded)?"""
        mapping = schedule.to_mapping()
        return any(load["schedule"] == mapping for load in self.loads)

    def schedules(self) -> list[YearSchedule]:
        """The schedules in force, one per year."""
        return [YearSchedule.from_mapping(m) for _, m in sorted(self.in_force.items())]

    def calendar(self, base: WorkingCalendar) -> WorkingCalendar:
        """``base`` with every schedule in force laid over it."""
        return apply_schedules(base, self.schedules())


def apply_schedules(base: WorkingCalendar, schedules: list[YearSchedule]) -> WorkingCalendar:
    """``base`` with ``schedules`` laid over it in order (a later one for a year wins)."""
    calendar = base
    for schedule in schedules:
        calendar = calendar.with_override(schedule)
    return calendar


def calendar_receipt(book: CalendarBook | None, calendar: WorkingCalendar) -> dict[str, Any]:
    """The years the calendar knows, the schedules in force and every load, for ``GET``."""
    loads = [] if book is None else book.loads
    return {
        "known_years": calendar.known_years(),
        "in_force": [
            {"year": int(m["year"]), "source": m["source"],
             "holidays": len(m["holidays"]), "workdays": len(m["workdays"])}
            for _, m in sorted((book.in_force if book else {}).items())
        ],
        "history": [
            {"year": int(load["schedule"]["year"]), "source": load["schedule"]["source"],
             "reason": load["reason"], "loaded_at": load["at"].isoformat(),
             "loaded_by": load["by"]}
            for load in loads
        ],
        "version": 0 if book is None else book.version,
    }


def year_deviations(calendar: WorkingCalendar, year: int) -> dict[str, list[str]]:
    """The year's weekdays off and weekend days worked, as ``calendar`` has them."""
    holidays: list[str] = []
    workdays: list[str] = []
    day = date(year, 1, 1)
    while day.year == year:
        working = calendar.is_working_day(day)
        if day.weekday() < 5 and not working:
            holidays.append(day.isoformat())
        elif day.weekday() >= 5 and working:
            workdays.append(day.isoformat())
        day += timedelta(days=1)
    return {"holidays": holidays, "workdays": workdays}
