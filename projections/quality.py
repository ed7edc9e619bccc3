"""The quality view (质量考核): accuracy, timeliness, satisfaction, complaints, statistics.

Per staff member and business type, for items done in a period:

* accuracy — reviews passed / reviews (a quality supervisor's review of done work);
* timeliness — items done with every time limit kept / items done;
* satisfaction — mean callback score (1–5) over the callbacks of those items;
* complaints — complaint tickets (nature ``complaint``) closed in the period by
  the staff member, and those open now by current assignee.

Reviews and callbacks count with the item they are about (in the period the
item was done), so a late callback improves the quarter the work belongs to;
"as of" a date shows what was known then.

Ranking (季度考核): within each line (ticket handlers, service specialists) a
composite score = 0.4 × accuracy + 0.3 × timeliness + 0.3 × (satisfaction − 1)
/ 4, weights renormalised over the components a staff member has; ties go to
the larger volume, then the id. The last ``BOTTOM`` of a line with at least two
ranked members is flagged (末位淘汰).

Statistics (SPEC.md "Quality and assessment"): mean, median and population
standard deviation of satisfaction, handling time (working minutes; medians
to the half hour) and daily volumes (working days only); growth against the
previous period of the same kind; Pearson's r between handling time and
satisfaction (one pair per callback) and between daily ticket and service
volumes (working days received); and a forecast: an ordinary least-squares
linear trend through the daily handled volume of the working days of the
previous and the current period up to the evaluation day, summed over the
working days left in the period and over the next period.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import CalendarYearUnknownError
from projections.base import Contribution, ReportView, Snapshot, local_day
from projections.contract import LINES, Contract, Period
from projections.facts import ItemFacts
from projections.stats import (
    forecast_total,
    growth,
    histogram_summary,
    moments,
    pearson,
    pearson_from_sums,
    summary,
)
from projections.tally import Range, Tally

STAFF = "quality_staff"
TYPES = "quality_types"
SCORES = "quality_scores"
HANDLING = "quality_handling"
OPEN_COMPLAINTS = "quality_open_complaints"
VOLUME = "quality_volume"
MEASURES = (
    "handled", "on_time", "reviewed", "passed", "callbacks", "score_sum", "score_sq",
    "handling_min", "handling_min_sq", "pair_x", "pair_xy", "pair_xx", "complaints_closed",
)
WEIGHTS = {"accuracy": 0.4, "timeliness": 0.3, "satisfaction": 0.3}
BOTTOM = 1
HANDLING_BUCKET_MIN = 30


class QualityView(ReportView):
    name = "quality"

    def make_tallies(self) -> Iterable[Tally]:
        return [
            Tally(STAFF, ("day", "line", "staff"), MEASURES),
            Tally(TYPES, ("day", "line", "business_type"), MEASURES),
            Tally(SCORES, ("day", "line", "score"), ("n",)),
            Tally(HANDLING, ("day", "line", "minutes"), ("n",)),
            Tally(OPEN_COMPLAINTS, ("line", "staff", "business_type"), ("n",)),
            Tally(VOLUME, ("day", "line", "what"), ("n",)),
        ]

    def contributions(self, facts: ItemFacts) -> Iterable[Contribution]:
        found: list[Contribution] = [
            (VOLUME, (local_day(facts.received_us), facts.line, "received"), (1,))
        ]
        if facts.done_us is None:
            if facts.is_complaint:
                found.append((OPEN_COMPLAINTS, (facts.line, facts.staff, facts.business_type),
                              (1,)))
            return found
        day = local_day(facts.done_us)
        minutes = (facts.handling_s or 0) // 60
        scores = facts.scores
        n = len(scores)
        total = sum(scores)
        found.append((VOLUME, (day, facts.line, "handled"), (1,)))
        measures = (
            1,
            1 if facts.fixed_state == "met" else 0,
            facts.reviews,
            facts.reviews_passed,
            n,
            total,
            sum(s * s for s in scores),
            minutes,
            minutes * minutes,
            minutes * n,
            minutes * total,
            minutes * minutes * n,
            1 if facts.is_complaint else 0,
        )
        found.append((STAFF, (day, facts.line, facts.staff), measures))
        found.append((TYPES, (day, facts.line, facts.business_type), measures))
        bucket = str(minutes // HANDLING_BUCKET_MIN * HANDLING_BUCKET_MIN)
        found.append((HANDLING, (day, facts.line, bucket), (1,)))
        for score in scores:
            found.append((SCORES, (day, facts.line, str(score)), (1,)))
        return found


# -- the report --------------------------------------------------------------------------------
def _r(value: float | None, digits: int = 4) -> float | None:
    return None if value is None else round(value, digits)


def metrics(m: list[int]) -> dict[str, Any]:
    """Rates from one vector of ``MEASURES``."""
    v = dict(zip(MEASURES, m, strict=True))
    accuracy = v["passed"] / v["reviewed"] if v["reviewed"] else None
    timeliness = v["on_time"] / v["handled"] if v["handled"] else None
    satisfaction = v["score_sum"] / v["callbacks"] if v["callbacks"] else None
    return {
        "handled": v["handled"],
        "reviewed": v["reviewed"],
        "passed": v["passed"],
        "accuracy": _r(accuracy),
        "on_time": v["on_time"],
        "timeliness": _r(timeliness),
        "callbacks": v["callbacks"],
        "satisfaction": _r(satisfaction),
        "mean_handling_minutes": _r(v["handling_min"] / v["handled"], 1) if v["handled"] else None,
        "complaints_closed": v["complaints_closed"],
    }


def composite(row: dict[str, Any]) -> float | None:
    """The ranking score (see the module docstring); None without any component."""
    parts = {
        "accuracy": row["accuracy"],
        "timeliness": row["timeliness"],
        "satisfaction": (row["satisfaction"] - 1) / 4 if row["satisfaction"] is not None else None,
    }
    weight = sum(WEIGHTS[k] for k, v in parts.items() if v is not None)
    if not weight:
        return None
    return sum(WEIGHTS[k] * v for k, v in parts.items() if v is not None) / weight


def _add(target: dict[Any, list[int]], key: Any, values: list[int]) -> None:
    entry = target.get(key)
    if entry is None:
        target[key] = list(values)
    else:
        for i, value in enumerate(values):
            entry[i] += value


def _sum(vectors: Iterable[list[int]]) -> list[int]:
    total = [0] * len(MEASURES)
    for values in vectors:
        for i, value in enumerate(values):
            total[i] += value
    return total


def _working_days(calendar: WorkingCalendar, period: Period, until: date | None = None
                  ) -> list[date]:
    last = min(period.last, until) if until else period.last
    return [d for d in period.days() if d <= last and calendar.is_working_day(d)]


def quality_report(
    snap: Snapshot,
    view: QualityView,
    contract: Contract,
    calendar: WorkingCalendar,
    period_kind: str = "quarter",
    day: date | None = None,
) -> dict[str, Any]:
    """Per staff and business type figures, the ranking and the statistics for one period."""
    today = snap.at.astimezone(SHANGHAI).date()
    period = contract.period(period_kind, day or today)
    previous = contract.previous(period)
    following = contract.next(period)
    within = {"day": Range(period.first.isoformat(), period.last.isoformat())}
    before = {"day": Range(previous.first.isoformat(), previous.last.isoformat())}
    both = {"day": Range(previous.first.isoformat(), period.last.isoformat())}
    t = view.tallies
    with snap.db.transaction(commit=False) as cur:
        by_staff = snap.tally(cur, t[STAFF], ("line", "staff"), within)
        by_type = snap.tally(cur, t[TYPES], ("line", "business_type"), within)
        done_before = snap.tally(cur, t[STAFF], ("line",), before)
        scores = snap.tally(cur, t[SCORES], ("score",), within)
        handling = snap.tally(cur, t[HANDLING], ("line", "minutes"), within)
        complaints = snap.tally(cur, t[OPEN_COMPLAINTS], ("line", "staff", "business_type"))
        volume = snap.tally(cur, t[VOLUME], ("day", "line", "what"), both)

    by_line: dict[str, list[int]] = {}
    for (line, _), values in by_staff.items():
        _add(by_line, line, values)
    open_by_staff: dict[tuple[str, str], int] = defaultdict(int)
    open_by_type: dict[tuple[str, str], int] = defaultdict(int)
    for (line, staff, business_type), (n,) in complaints.items():
        open_by_staff[(line, staff)] += n
        open_by_type[(line, business_type)] += n

    staff_rows = []
    for (line, staff), values in sorted(by_staff.items()):
        entry = {"line": line, "staff_id": staff or None, **metrics(values),
                 "complaints_open": open_by_staff.get((line, staff), 0)}
        entry["score"] = _r(composite(entry))
        staff_rows.append(entry)
    for (line, staff), n in sorted(open_by_staff.items()):
        if (line, staff) not in by_staff:
            entry = {"line": line, "staff_id": staff or None, **metrics([0] * len(MEASURES)),
                     "complaints_open": n, "score": None}
            staff_rows.append(entry)
    ranking = _rank(staff_rows)

    type_rows = [
        {"line": line, "business_type": business_type or None, **metrics(values),
         "complaints_open": open_by_type.get((line, business_type), 0)}
        for (line, business_type), values in sorted(by_type.items())
    ]
    totals = {line: metrics(by_line.get(line, [0] * len(MEASURES))) for line in LINES}
    all_now = _sum(by_line.values())
    all_before = _sum(done_before.values())
    totals_before = {line: metrics(done_before.get((line,), [0] * len(MEASURES)))
                     for line in LINES}
    overall, overall_before = metrics(all_now), metrics(all_before)

    statistics = _statistics(
        snap, calendar, period, previous, following, today, scores, handling, by_line, volume,
        all_now, staff_rows,
    )
    statistics["growth"] = {
        "previous_period": previous.as_dict(),
        "handled": {
            **{line: _r(growth(totals[line]["handled"], totals_before[line]["handled"]))
               for line in LINES},
            "total": _r(growth(overall["handled"], overall_before["handled"])),
        },
        "accuracy": _r(growth(overall["accuracy"], overall_before["accuracy"])),
        "timeliness": _r(growth(overall["timeliness"], overall_before["timeliness"])),
        "satisfaction": _r(growth(overall["satisfaction"], overall_before["satisfaction"])),
    }
    return {
        **snap.header(),
        "period": period.as_dict(),
        "totals": {**totals, "total": overall},
        "staff": staff_rows,
        "business_types": type_rows,
        "ranking": ranking,
        "statistics": statistics,
    }


def _rank(staff_rows: list[dict[str, Any]]) -> dict[str, Any]:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in staff_rows:
        row["rank"] = None
        row["bottom"] = False
        if row["score"] is not None and row["handled"] > 0:
            groups[row["line"]].append(row)
    ranked: dict[str, list[dict[str, Any]]] = {}
    for line, rows in sorted(groups.items()):
        rows.sort(key=lambda r: (-r["score"], -r["handled"], r["staff_id"] or ""))
        for index, row in enumerate(rows, start=1):
            row["rank"] = index
            row["bottom"] = len(rows) >= 2 and index > len(rows) - BOTTOM
        ranked[line] = [
            {"rank": r["rank"], "staff_id": r["staff_id"], "score": r["score"],
             "bottom": r["bottom"]}
            for r in rows
        ]
    return {"weights": WEIGHTS, "bottom_count": BOTTOM, "by_line": ranked}


def _statistics(
    snap: Snapshot,
    calendar: WorkingCalendar,
    period: Period,
    previous: Period,
    following: Period,
    today: date,
    scores: dict[tuple[str, ...], list[int]],
    handling: dict[tuple[str, ...], list[int]],
    by_line: dict[str, list[int]],
    volume: dict[tuple[str, ...], list[int]],
    all_now: list[int],
    staff_rows: list[dict[str, Any]],
) -> dict[str, Any]:
    v = dict(zip(MEASURES, all_now, strict=True))
    satisfaction = histogram_summary({int(k[0]): n for k, (n,) in scores.items()})
    handling_stats: dict[str, Any] = {}
    for line in LINES:
        m = dict(zip(MEASURES, by_line.get(line, [0] * len(MEASURES)), strict=True))
        mean, stdev = moments(m["handled"], m["handling_min"], m["handling_min_sq"])
        hist = {int(k[1]): n for k, (n,) in handling.items() if k[0] == line}
        median = histogram_summary(hist, HANDLING_BUCKET_MIN).median
        handling_stats[line] = {"n": m["handled"], "mean": _r(mean, 2), "median": median,
                                "stdev": _r(stdev, 2)}
    daily: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for (day, line, what), (n,) in volume.items():
        daily[day][f"{line}_{what}"] += n
    until = min(today, period.last)
    days_now = _working_days(calendar, period, until)
    days_before = _working_days(calendar, previous)

    def series(days: list[date], name: str) -> list[int]:
        return [daily[d.isoformat()][name] if d.isoformat() in daily else 0 for d in days]

    tickets_received = series(days_now, "tickets_received")
    services_received = series(days_now, "services_received")
    handled_total = [a + b for a, b in zip(series(days_now, "tickets_handled"),
                                           series(days_now, "services_handled"), strict=True)]
    remaining = [d for d in _working_days(calendar, period) if d > until]
    forecast: dict[str, Any] = {
        "method": "ordinary least-squares linear trend of daily handled volume over the working "
                  "days of the previous and current period up to the evaluation day",
        "rest_of_period": {"working_days": len(remaining)},
        "next_period": {**following.as_dict()},
    }
    try:
        following_days = len(_working_days(calendar, following))
    except CalendarYearUnknownError:  # a year the calendar does not know: no forecast for it
        following_days = None
    forecast["next_period"]["working_days"] = following_days
    for line in LINES:
        history = series(days_before, f"{line}_handled") + series(days_now, f"{line}_handled")
        rest = forecast_total(history, len(remaining)) if remaining else 0.0
        forecast["rest_of_period"][line] = _r(rest, 1)
        ahead = (forecast_total(history, len(remaining) + following_days)
                 if following_days is not None else None)
        forecast["next_period"][line] = (_r(ahead - rest, 1)
                                         if ahead is not None and rest is not None else None)
    staff_scores = {
        line: summary([r["score"] for r in staff_rows if r["line"] == line
                       and r["score"] is not None]).as_dict()
        for line in LINES
    }
    return {
        "satisfaction": satisfaction.as_dict(),
        "handling_minutes": handling_stats,
        "daily_volume": {
            "working_days": len(days_now),
            "tickets_received": summary(tickets_received).as_dict(2),
            "services_received": summary(services_received).as_dict(2),
            "handled": summary(handled_total).as_dict(2),
        },
        "staff_scores": staff_scores,
        "correlation": {
            "handling_time_vs_satisfaction": {
                "pairs": v["callbacks"],
                "r": _r(pearson_from_sums(v["callbacks"], v["pair_x"], v["score_sum"],
                                          v["pair_xy"], v["pair_xx"], v["score_sq"])),
            },
            "tickets_vs_services_daily": {
                "days": len(days_now),
                "r": _r(pearson(tickets_received, services_received)),
            },
        },
        "forecast": forecast,
    }
