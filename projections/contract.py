"""The contract's quotas and reporting periods: pure computation, no I/O.

The terms (start, months, yearly targets, warning margin) are recorded in the
log (``domain/contract_terms.py``); until any are, SPEC.md's defaults apply:
10,000 tickets and 545,000 services over 12 months from 2026-01-01. A report
uses the terms recorded by the log position it reads
(``projections/timeline.py``). Periods:

* ``contract`` — the whole service period, target = the line's total;
* ``month`` / ``quarter`` — contract months (from the start date's day of
  month) and groups of three; target = total / 12 and total / 4 (SPEC's
  "≈ 833 per month", "≈ 2,499 per quarter");
* ``day`` / ``week`` (ISO, Monday to Sunday) — the month's target spread over
  its working time, so a working day of a 20-working-day month gets 1/20 of
  it and a Sunday nothing.

Plan to date is linear in working time: ``target × W(period start, t) /
W(period)``, where ``W`` is working time of the calendar (09:00–17:00 on
State Council working days). The run-rate forecast is ``actual × W(period) /
W(period start, t)``. A warning is raised when ``actual < plan × (1 − margin)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from fractions import Fraction

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.contract_terms import DEFAULT_TARGETS, ContractTerms
from domain.errors import InvalidInputError

PERIODS = ("day", "week", "month", "quarter", "contract")
LINES = ("tickets", "services")


def add_months(day: date, months: int) -> date:
    """``day`` moved by whole months, clamped to the month's end (Jan 31 + 1 = Feb 28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(day.day, last))


@dataclass(frozen=True)
class Period:
    """A reporting period: its kind and its first and last day (inclusive)."""

    kind: str
    first: date
    last: date

    @property
    def label(self) -> str:
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "week":
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "label": self.label, "first": self.first.isoformat(),
                "last": self.last.isoformat()}


@dataclass(frozen=True)
class Contract:
    """Start, length, targets per line, and the progress-warning margin."""

    start: date = date(2026, 1, 1)
    months: int = 12
    targets: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    warning_margin: float = 0.05

    @classmethod
    def from_terms(cls, terms: ContractTerms) -> Contract:
        """The contract of terms recorded in the log (``domain/contract_terms.py``)."""
        return cls(start=terms.start, months=terms.months, targets=dict(terms.targets),
                   warning_margin=terms.warning_margin)

    @property
    def end(self) -> date:
        """The contract's last day."""
        return add_months(self.start, self.months) - timedelta(days=1)

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "months": self.months,
            "targets": {**self.targets, "total": sum(self.targets.values())},
            "warning_margin": self.warning_margin,
        }

    # -- periods ------------------------------------------------------------------------
    def month_index(self, day: date) -> int:
        """Which contract month ``day`` falls in (0 = the first; negative before the start)."""
        index = (day.year - self.start.year) * 12 + day.month - self.start.month
        if day < add_months(self.start, index):
            index -= 1
        return index

    def month_bounds(self, index: int) -> tuple[date, date]:
        return add_months(self.start, index), add_months(self.start, index + 1) - timedelta(days=1)

    def period(self, kind: str, day: date) -> Period:
        """The period of ``kind`` that contains ``day``."""
        if kind == "day":
            return Period(kind, day, day)
        if kind == "week":
            monday = day - timedelta(days=day.weekday())
            return Period(kind, monday, monday + timedelta(days=6))
        if kind == "month":
            return Period(kind, *self.month_bounds(self.month_index(day)))
        if kind == "quarter":
            first = self.month_index(day) // 3 * 3
            return Period(kind, self.month_bounds(first)[0], self.month_bounds(first + 2)[1])
        if kind == "contract":
            return Period(kind, self.start, self.end)
        raise InvalidInputError("period", f"period must be one of: {', '.join(PERIODS)}")

    def previous(self, period: Period) -> Period:
        """The period of the same kind just before ``period``."""
        if period.kind == "contract":
            months_before = add_months(self.start, -self.months)
            return Period("contract", months_before, self.start - timedelta(days=1))
        return self.period(period.kind, period.first - timedelta(days=1))

    def next(self, period: Period) -> Period:
        if period.kind == "contract":
            return Period("contract", self.end + timedelta(days=1),
                          add_months(self.start, 2 * self.months) - timedelta(days=1))
        return self.period(period.kind, period.last + timedelta(days=1))

    def in_contract(self, day: date) -> bool:
        return self.start <= day <= self.end

    # -- targets and plan -----------------------------------------------------------------
    def target(self, line: str, period: Period, calendar: WorkingCalendar) -> Fraction:
        """The line's target for the period (``total`` is the sum of the lines)."""
        if line == "total":
            return sum((self.target(x, period, calendar) for x in LINES), Fraction(0))
        total = Fraction(self.targets.get(line, 0))
        if period.kind == "contract":
            return total if period.first == self.start else Fraction(0)
        if period.kind in ("month", "quarter"):
            months = 1 if period.kind == "month" else 3
            first = self.month_index(period.first)
            inside = sum(1 for m in range(first, first + months) if 0 <= m < self.months)
            return total * inside / self.months
        found = Fraction(0)  # day, week: each day's share of its month
        for day in period.days():
            index = self.month_index(day)
            if not 0 <= index < self.months or not calendar.is_working_day(day):
                continue
            month = Period("month", *self.month_bounds(index))
            found += total / self.months * working(calendar, day, day) / working(
                calendar, month.first, month.last
            )
        return found


def day_start(day: date, calendar: WorkingCalendar) -> datetime:
    """Local midnight at the start of ``day`` (the contract's zone, Asia/Shanghai)."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def working(calendar: WorkingCalendar, first: date, last: date,
            until: datetime | None = None) -> Fraction:
    """Working seconds from ``first`` 00:00 to the end of ``last`` (or ``until`` if earlier)."""
    start = day_start(first, calendar)
    # The last instant of ``last`` rather than the next midnight: the same working time, and
    # no need for the next year's schedule when ``last`` is 31 December.
    end = day_start(last + timedelta(days=1), calendar) - timedelta(microseconds=1)
    if until is not None:
        end = min(end, max(until, start))
    return Fraction(calendar.duration(start, end) // timedelta(microseconds=1), 1_000_000)


@dataclass(frozen=True)
class Progress:
    """One line's progress in one period at one instant."""

    line: str
    target: Fraction
    plan: Fraction
    actual: int
    forecast: Fraction | None
    elapsed_share: Fraction  # share of the period's working time gone by
    warning: bool
    margin: float

    def as_dict(self) -> dict[str, object]:
        deviation = self.actual - self.plan
        return {
            "line": self.line,
            "target": _round(self.target),
            "plan_to_date": _round(self.plan),
            "actual": self.actual,
            "deviation": _round(deviation),
            "deviation_rate": _round(deviation / self.plan, 4) if self.plan else None,
            "completion_rate": _round(self.actual / self.target, 4) if self.target else None,
            "forecast": _round(self.forecast) if self.forecast is not None else None,
            "elapsed_share": _round(self.elapsed_share, 4),
            "warning": self.warning,
            "warning_text": (
                f"进度预警: {self.line} behind plan by {_round(-deviation)} "
                f"({_round(-deviation / self.plan * 100, 1)}%, margin {self.margin:.0%})"
                if self.warning else None
            ),
        }


def progress(
    contract: Contract, calendar: WorkingCalendar, period: Period, line: str, actual: int,
    at: datetime,
) -> Progress:
    """Target, plan to date, forecast and warning of one line at instant ``at``."""
    target = contract.target(line, period, calendar)
    whole = working(calendar, period.first, period.last)
    elapsed = working(calendar, period.first, period.last, until=at)
    share = elapsed / whole if whole else (Fraction(1) if at >= day_start(
        period.last + timedelta(days=1), calendar) else Fraction(0))
    plan = target * share
    forecast: Fraction | None = Fraction(actual) / share if share else None
    warning = plan > 0 and actual < plan * (1 - Fraction(str(contract.warning_margin)))
    return Progress(line, target, plan, actual, forecast, share, warning, contract.warning_margin)


def _round(value: Fraction | float, digits: int = 2) -> float:
    return round(float(value), digits)


def parse_day(value: str | None, field_name: str) -> date | None:
    if value is None or value == "":
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidInputError(
            field_name, f"{field_name} must be a date like 2026-03-31"
        ) from None
