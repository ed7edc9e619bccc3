"""The working calendar: service hours on Chinese working days, and deadline arithmetic.

Every deadline in the contract is counted in *working time*: 09:00-17:00 Asia/Shanghai on
the days the State Council declares working days (Monday-Friday, minus statutory holidays,
plus the adjusted working weekends, 调休). Deadlines must be reproducible from the event
log years later, so the calendar is pure and immutable: the same inputs always give the
same instant, and a year that no source covers raises :class:`CalendarYearUnknownError`
instead of being guessed.

Sources, per year: an override :class:`YearSchedule` if one is given (it replaces the
package data for that year), else ``chinese_calendar`` (it knows 2004-2026).

How it is fast and exact: instants are handled as integer microseconds since the Unix
epoch, so sums are exact and never depend on wall-clock arithmetic. Each year is compiled
once, on first use, into sorted lists of its opening and closing instants plus a running
total of working time; ``add`` and ``duration`` are then a couple of binary searches, however
long the span.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import MAXYEAR, MINYEAR, UTC, date, datetime, time, timedelta, tzinfo
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar

from domain.errors import CalendarYearUnknownError, InvalidInputError

__all__ = ["SHANGHAI", "WorkingCalendar", "YearSchedule"]

SHANGHAI = ZoneInfo("Asia/Shanghai")
"""The contract's zone: service hours and deadlines are Beijing time."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_AVG_YEAR_US = 31_556_952_000_000  # 365.2425 days: a first guess of the year, then corrected
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SCHEDULE_KEYS = ("year", "holidays", "workdays", "source")
_WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
# Years probed for package data: generous, so a newer chinese-calendar is picked up.
_PROBE_YEARS = range(1900, 2200)


@cache
def _builtin_years() -> frozenset[int]:
    """Years ``chinese_calendar`` has data for, asked through its public API once."""
    known = set()
    for year in _PROBE_YEARS:
        try:
            chinese_calendar.is_workday(date(year, 1, 1))
        except NotImplementedError:
            continue
        known.add(year)
    return frozenset(known)


def _schedule_day(value: object, year: int, field: str, *, weekend: bool) -> date:
    """Check one listed date: a real date, in the schedule's year, on the right kind of day."""
    if isinstance(value, datetime) or not isinstance(value, date):
        raise InvalidInputError(field, f"{field} must be a date, got {type(value).__name__}")
    if value.year != year:
        raise InvalidInputError(field, f"{field} = {value} is not in the schedule's year {year}")
    is_weekend = value.weekday() >= 5
    name = _WEEKDAY_NAMES[value.weekday()]
    if weekend and not is_weekend:
        raise InvalidInputError(
            field,
            f"{field} = {value} is a {name}; workdays lists only Saturdays and Sundays "
            "that are worked (调休) — weekdays are working days unless listed in holidays",
        )
    if not weekend and is_weekend:
        raise InvalidInputError(
            field,
            f"{field} = {value} is a {name}; holidays lists only weekdays that are off — "
            "weekends are off anyway unless listed in workdays",
        )
    return value


@dataclass(frozen=True)
class YearSchedule:
    """One year's State Council holiday schedule, as deviations from Monday-Friday.

    Only deviations are stored, so the schedule is short and can be checked line by line
    against the published notice: weekdays that are off, and weekend days that are worked.
    """

    year: int
    holidays: frozenset[date]
    """Weekdays (Mon-Fri) that are NOT working days."""
    workdays: frozenset[date]
    """Weekend days (Sat/Sun) that ARE working days (调休)."""
    source: str
    """Where the schedule comes from, e.g. "国办发明电〔2026〕7号" or a file name, for audit."""

    def __post_init__(self) -> None:
        """Reject impossible schedules even when built directly, not only from JSON."""
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise InvalidInputError("year", "year must be an integer")
        if not MINYEAR <= self.year <= MAXYEAR:
            raise InvalidInputError("year", f"year {self.year} is out of range")
        if not isinstance(self.source, str) or not self.source.strip():
            raise InvalidInputError("source", "source must name where the schedule comes from")
        for field, weekend in (("holidays", False), ("workdays", True)):
            days = getattr(self, field)
            if isinstance(days, str) or not isinstance(days, Iterable):
                raise InvalidInputError(field, f"{field} must be a set of dates")
            days = frozenset(days)
            for day in sorted(days, key=repr):
                _schedule_day(day, self.year, field, weekend=weekend)
            object.__setattr__(self, field, days)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> YearSchedule:
        """Parse the JSON override format, naming the offending field (``holidays[3]``).

        Strict on purpose: an unknown key is usually a typo (``"workday"``) that would
        otherwise silently drop adjusted working days and move deadlines.
        """
        if not isinstance(data, Mapping):
            raise InvalidInputError("schedule", "a year schedule must be a JSON object")
        for key in data:
            if key not in _SCHEDULE_KEYS:
                raise InvalidInputError(
                    str(key),
                    f"unknown field {key!r}; expected only {', '.join(_SCHEDULE_KEYS)}",
                )
        for key in _SCHEDULE_KEYS:
            if key not in data:
                raise InvalidInputError(key, f"{key} is required")
        year = data["year"]
        if isinstance(year, bool) or not isinstance(year, int):
            raise InvalidInputError("year", "year must be an integer such as 2027")
        if not MINYEAR <= year <= MAXYEAR:
            raise InvalidInputError("year", f"year {year} is out of range")
        source = data["source"]
        if not isinstance(source, str) or not source.strip():
            raise InvalidInputError("source", "source must name the notice or file")
        parsed: dict[str, frozenset[date]] = {}
        for key, weekend in (("holidays", False), ("workdays", True)):
            raw = data[key]
            if isinstance(raw, (str, bytes, Mapping)) or not isinstance(raw, Sequence):
                raise InvalidInputError(key, f"{key} must be a list of YYYY-MM-DD dates")
            seen: set[date] = set()
            for index, item in enumerate(raw):
                field = f"{key}[{index}]"
                if not isinstance(item, str) or not _ISO_DATE.fullmatch(item):
                    raise InvalidInputError(field, f"{field} must be a YYYY-MM-DD date string")
                try:
                    day = date.fromisoformat(item)
                except ValueError:
                    raise InvalidInputError(field, f"{field} = {item} is not a real date") from None
                _schedule_day(day, year, field, weekend=weekend)
                if day in seen:
                    raise InvalidInputError(field, f"{field} = {item} is listed twice")
                seen.add(day)
            parsed[key] = frozenset(seen)
        return cls(
            year=year, holidays=parsed["holidays"], workdays=parsed["workdays"], source=source
        )

    def to_mapping(self) -> dict[str, Any]:
        """The JSON override format, dates sorted, so files diff cleanly and round-trip."""
        return {
            "year": self.year,
            "holidays": [day.isoformat() for day in sorted(self.holidays)],
            "workdays": [day.isoformat() for day in sorted(self.workdays)],
            "source": self.source,
        }

    def is_working_day(self, day: date) -> bool:
        """Monday-Friday, minus holidays, plus worked weekend days."""
        if day in self.workdays:
            return True
        return day.weekday() < 5 and day not in self.holidays


@dataclass(frozen=True, slots=True)
class _YearTable:
    """One year compiled for arithmetic: working intervals as UTC microseconds.

    ``cum[i]`` is the working time of the year before day ``i``; ``cum[-1]`` the year's total.
    """

    opens: list[int]
    closes: list[int]
    cum: list[int]


class WorkingCalendar:
    """Working-time arithmetic for deadlines: which instants count, and how many.

    Immutable: a calendar's answers never change, which is what lets deadlines be replayed
    from the event log, and lets every answer be cached for bulk imports. Use
    :meth:`with_override` to get a calendar that knows another year.
    """

    __slots__ = (
        "_closes",
        "_day_length",
        "_opens",
        "_overrides",
        "_tables",
        "_tz",
        "_use_builtin",
        "_working",
        "_year_starts",
    )

    def __init__(
        self,
        overrides: Iterable[YearSchedule] = (),
        *,
        opens: time = time(9),
        closes: time = time(17),
        tz: tzinfo = SHANGHAI,
        use_builtin: bool = True,
    ) -> None:
        """Build a calendar; overrides replace the package's data for their years."""
        by_year: dict[int, YearSchedule] = {}
        for index, schedule in enumerate(overrides):
            if not isinstance(schedule, YearSchedule):
                raise InvalidInputError(f"overrides[{index}]", "overrides must be YearSchedules")
            if schedule.year in by_year:
                raise InvalidInputError(
                    f"overrides[{index}]",
                    f"two override schedules for {schedule.year}; give exactly one",
                )
            by_year[schedule.year] = schedule
        for field, value in (("opens", opens), ("closes", closes)):
            if not isinstance(value, time) or value.tzinfo is not None:
                raise InvalidInputError(field, f"{field} must be a wall-clock time without zone")
        if not opens < closes:
            raise InvalidInputError("closes", "service hours must close after they open")
        if not isinstance(tz, tzinfo):
            raise InvalidInputError(
                "tz", "tz must be a time zone such as ZoneInfo('Asia/Shanghai')"
            )
        self._overrides = by_year
        self._opens = opens
        self._closes = closes
        self._tz = tz
        self._use_builtin = bool(use_builtin)
        anchor = date(2000, 1, 3)
        self._day_length = datetime.combine(anchor, closes) - datetime.combine(anchor, opens)
        self._tables: dict[int, _YearTable] = {}
        self._working: dict[date, bool] = {}
        self._year_starts: dict[int, int] = {}

    def __repr__(self) -> str:
        return (
            f"WorkingCalendar(overrides={sorted(self._overrides)}, opens={self._opens}, "
            f"closes={self._closes}, tz={self._tz}, use_builtin={self._use_builtin})"
        )

    # -- configuration ----------------------------------------------------------------

    def with_override(self, schedule: YearSchedule) -> WorkingCalendar:
        """A new calendar that also knows (or re-learns) ``schedule.year``; self is unchanged."""
        if not isinstance(schedule, YearSchedule):
            raise InvalidInputError("schedule", "schedule must be a YearSchedule")
        overrides = {**self._overrides, schedule.year: schedule}
        return WorkingCalendar(
            overrides.values(),
            opens=self._opens,
            closes=self._closes,
            tz=self._tz,
            use_builtin=self._use_builtin,
        )

    def known_years(self) -> list[int]:
        """The years this calendar can answer for; any other year raises."""
        years = set(self._overrides)
        if self._use_builtin:
            years |= _builtin_years()
        return sorted(years)

    def working_day_length(self) -> timedelta:
        """Working time in one full working day (8 hours), the unit of "N working days"."""
        return self._day_length

    # -- queries ----------------------------------------------------------------------

    def is_working_day(self, day: date) -> bool:
        """Whether service is open that date; raises for a year no source covers.

        An aware datetime is taken as its date in the calendar's zone.
        """
        if isinstance(day, datetime):
            self._to_us(day, "day")
            day = day.astimezone(self._tz).date()
        elif not isinstance(day, date):
            raise InvalidInputError("day", "day must be a date")
        try:
            return self._working[day]
        except KeyError:
            self._table(day.year)
            return self._working[day]

    def local_date(self, instant: datetime) -> date:
        """The calendar date of ``instant`` in the service's zone (for day-numbered sequences)."""
        self._to_us(instant, "instant")
        return instant.astimezone(self._tz).date()

    def check_known(self, instant: date) -> None:
        """Raise :class:`CalendarYearUnknownError` unless the year of ``instant`` is known.

        Lets a caller refuse to start a clock up front, instead of failing later when the
        deadline is first computed. A datetime must be aware and is judged by its local date.
        """
        if isinstance(instant, datetime):
            instant = self.local_date(instant)
        self.is_working_day(instant)

    def next_opening(self, instant: datetime) -> datetime:
        """The earliest working instant >= ``instant`` (itself if the service is open then).

        Closing time (17:00) counts as open, so a deadline falling at closing stays put.
        """
        return self._from_us(self._next_opening_us(self._to_us(instant, "instant")))

    def add(
        self,
        start: datetime,
        duration: timedelta,
        paused: Sequence[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """The earliest instant by which ``duration`` of working time has passed since ``start``.

        Working time inside ``paused`` intervals (the clock waiting on the requester) does
        not count. A zero duration gives :meth:`next_opening`: a clock started out of hours
        starts at the next opening.
        """
        x = self._to_us(start, "start")
        if not isinstance(duration, timedelta):
            raise InvalidInputError("duration", "duration must be a timedelta")
        if duration < timedelta(0):
            raise InvalidInputError("duration", "duration must not be negative")
        return self._from_us(self._add_us(x, duration // _US, paused))

    def add_working_days(
        self,
        start: datetime,
        days: int | float,
        paused: Sequence[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """``start`` plus ``days`` working days, each :meth:`working_day_length` long.

        Counted in hours, not calendar dates: 16:30 plus one working day is 16:30 on the
        next working day, as the contract's "N 个工作日" is applied to tickets.
        """
        return self.add(start, self._scaled(days, "days", self._day_length), paused)

    def add_working_hours(
        self,
        start: datetime,
        hours: int | float,
        paused: Sequence[tuple[datetime, datetime]] = (),
    ) -> datetime:
        """``start`` plus ``hours`` hours of working time."""
        return self.add(start, self._scaled(hours, "hours", timedelta(hours=1)), paused)

    def duration(
        self,
        start: datetime,
        end: datetime,
        paused: Sequence[tuple[datetime, datetime]] = (),
    ) -> timedelta:
        """Working time in [start, end) not covered by ``paused``; zero if end <= start.

        The inverse of :meth:`add`: ``duration(t, add(t, d, p), p) == d``.
        """
        a = self._to_us(start, "start")
        b = self._to_us(end, "end")
        pauses = self._merge_pauses(paused, a, b)
        if b <= a:
            return timedelta(0)
        total = self._span(self._pos(a), self._pos(b))
        for s, e in pauses:
            total -= self._span(self._pos(s), self._pos(e))
        return timedelta(microseconds=total)

    # -- conversions and validation ---------------------------------------------------

    @staticmethod
    def _to_us(value: object, field: str) -> int:
        """Microseconds since the epoch; naive datetimes are refused, never assumed local."""
        if not isinstance(value, datetime):
            raise InvalidInputError(field, f"{field} must be a datetime")
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidInputError(field, f"{field} must be timezone-aware")
        return (value - _EPOCH) // _US

    def _from_us(self, x: int) -> datetime:
        return (_EPOCH + timedelta(microseconds=x)).astimezone(self._tz)

    @staticmethod
    def _scaled(amount: object, field: str, unit: timedelta) -> timedelta:
        if isinstance(amount, bool) or not isinstance(amount, (int, float)):
            raise InvalidInputError(field, f"{field} must be a number")
        if not math.isfinite(amount) or amount < 0:
            raise InvalidInputError(field, f"{field} must be a finite number >= 0")
        try:
            return unit * amount
        except OverflowError:
            raise InvalidInputError(field, f"{field} is too large") from None

    def _merge_pauses(
        self, paused: Iterable[tuple[datetime, datetime]], lo: int, hi: int | None = None
    ) -> list[tuple[int, int]]:
        """Validate pauses, clip them to [lo, hi] and merge overlaps: disjoint and sorted."""
        if isinstance(paused, (str, bytes)) or not isinstance(paused, Iterable):
            raise InvalidInputError("paused", "paused must be a list of (start, end) pairs")
        clipped: list[tuple[int, int]] = []
        for index, pair in enumerate(paused):
            field = f"paused[{index}]"
            if isinstance(pair, (str, bytes)) or not isinstance(pair, Sequence) or len(pair) != 2:
                raise InvalidInputError(field, f"{field} must be a (start, end) pair")
            s = self._to_us(pair[0], field)
            e = self._to_us(pair[1], field)
            if e < s:
                raise InvalidInputError(field, f"{field} ends before it starts")
            s = max(s, lo)
            if hi is not None:
                e = min(e, hi)
            if e > s:
                clipped.append((s, e))
        clipped.sort()
        merged: list[tuple[int, int]] = []
        for s, e in clipped:
            if merged and s <= merged[-1][1]:
                if e > merged[-1][1]:
                    merged[-1] = (merged[-1][0], e)
            else:
                merged.append((s, e))
        return merged

    # -- the compiled years -----------------------------------------------------------

    def _year_start(self, year: int) -> int:
        """Local midnight of 1 January, in epoch microseconds (cached)."""
        try:
            return self._year_starts[year]
        except KeyError:
            pass
        if year < MINYEAR:
            start = -(1 << 62)
        elif year > MAXYEAR:
            start = 1 << 62
        else:
            start = (datetime(year, 1, 1, tzinfo=self._tz) - _EPOCH) // _US
        self._year_starts[year] = start
        return start

    def _year_of(self, x: int) -> int:
        """The local calendar year containing instant ``x``."""
        year = 1970 + x // _AVG_YEAR_US
        while x < self._year_start(year):
            year -= 1
        while x >= self._year_start(year + 1):
            year += 1
        return year

    def _table(self, year: int) -> _YearTable:
        """The year compiled for arithmetic; raises if no source covers the year."""
        try:
            return self._tables[year]
        except KeyError:
            pass
        override = self._overrides.get(year)
        if override is not None:
            is_working = override.is_working_day
        elif self._use_builtin and year in _builtin_years():
            is_working = chinese_calendar.is_workday
        else:
            raise CalendarYearUnknownError(year)
        opens: list[int] = []
        closes: list[int] = []
        cum = [0]
        working: dict[date, bool] = {}
        first = date(year, 1, 1).toordinal()
        for ordinal in range(first, date(year, 12, 31).toordinal() + 1):
            day = date.fromordinal(ordinal)
            flag = bool(is_working(day))
            working[day] = flag
            if flag:
                o = (datetime.combine(day, self._opens, tzinfo=self._tz) - _EPOCH) // _US
                c = (datetime.combine(day, self._closes, tzinfo=self._tz) - _EPOCH) // _US
                c = max(c, o)  # a daylight-saving jump can never make a day negative
                opens.append(o)
                closes.append(c)
                cum.append(cum[-1] + c - o)
        table = _YearTable(opens, closes, cum)
        self._working.update(working)
        self._tables[year] = table
        return table

    # -- arithmetic on (year, working µs into that year) positions ---------------------

    def _pos(self, x: int) -> tuple[int, int]:
        """Where ``x`` lies in working time: (year, working µs of that year before x)."""
        year = self._year_of(x)
        table = self._table(year)
        i = bisect_right(table.opens, x) - 1
        if i < 0:
            return year, 0
        return year, table.cum[i] + min(x, table.closes[i]) - table.opens[i]

    def _span(self, p: tuple[int, int], q: tuple[int, int]) -> int:
        """Working µs from position p to position q (p <= q), across years if need be."""
        (y1, w1), (y2, w2) = p, q
        if y1 == y2:
            return w2 - w1
        total = self._table(y1).cum[-1] - w1
        for year in range(y1 + 1, y2):
            total += self._table(year).cum[-1]
        return total + w2

    def _advance(self, year: int, w: int, amount: int) -> int:
        """The earliest instant ``amount`` (> 0) working µs after position (year, w)."""
        target = w + amount
        table = self._table(year)
        while target > table.cum[-1]:
            target -= table.cum[-1]
            year += 1
            table = self._table(year)
        # cum[i] < target <= cum[i + 1]: the target is reached during day i.
        i = bisect_left(table.cum, target) - 1
        return table.opens[i] + target - table.cum[i]

    def _next_opening_us(self, x: int) -> int:
        year = self._year_of(x)
        table = self._table(year)
        i = bisect_right(table.opens, x) - 1
        if i >= 0 and x <= table.closes[i]:
            return x
        i += 1
        while i >= len(table.opens):
            year += 1
            table = self._table(year)
            i = 0
        return table.opens[i]

    def _add_us(self, x: int, amount: int, paused: Sequence[tuple[datetime, datetime]]) -> int:
        if not paused:
            if amount == 0:
                return self._next_opening_us(x)
            year, w = self._pos(x)
            return self._advance(year, w, amount)
        pauses = self._merge_pauses(paused, x)
        if amount == 0:
            return self._next_opening_us(x)
        current = x
        for s, e in pauses:
            if s > current:
                here = self._pos(current)
                available = self._span(here, self._pos(s))
                if amount <= available:
                    return self._advance(*here, amount)
                amount -= available
            current = max(current, e)
        return self._advance(*self._pos(current), amount)
