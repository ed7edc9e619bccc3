"""The quota view (工作量/进度): handled items per day, line, staff member and business type.

"Handled" (SPEC.md "Targets"): a ticket is handled when it is resolved, a
service case when it is closed with its result fed back; each counts once, on
the local day it was done, for the staff member it was assigned to then and
its business type (a ticket's ``business_type``, a case's ``service_type``).
A destroyed subject's items still count: the view never looks at subjects.

The report compares the count with the contract's target and plan to date
(``projections/contract.py``) for the period containing a day.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import Any

from domain.calendar import SHANGHAI, WorkingCalendar
from projections.base import Contribution, ReportView, Snapshot, local_day
from projections.contract import LINES, Contract, progress
from projections.facts import ItemFacts
from projections.tally import Range, Tally

DAILY = "quota_daily"
STAFF = "quota_staff"
TYPES = "quota_types"


class QuotaView(ReportView):
    name = "quota"

    def make_tallies(self) -> Iterable[Tally]:
        # One narrow tally per breakdown: each report reads a few thousand rows at most.
        return [
            Tally(DAILY, ("day", "line"), ("n",)),
            Tally(STAFF, ("day", "line", "staff"), ("n",)),
            Tally(TYPES, ("day", "line", "business_type"), ("n",)),
        ]

    def contributions(self, facts: ItemFacts) -> Iterable[Contribution]:
        if facts.done_us is None:
            return ()
        day = local_day(facts.done_us)
        return (
            (DAILY, (day, facts.line), (1,)),
            (STAFF, (day, facts.line, facts.staff), (1,)),
            (TYPES, (day, facts.line, facts.business_type), (1,)),
        )


def quota_report(
    snap: Snapshot,
    view: QuotaView,
    contract: Contract,
    calendar: WorkingCalendar,
    period_kind: str,
    day: date | None = None,
) -> dict[str, Any]:
    """Target, plan to date, actual, deviation, forecast and warning per line, with breakdowns."""
    day = day or snap.at.astimezone(SHANGHAI).date()
    period = contract.period(period_kind, day)
    t = view.tallies
    where = {"day": Range(period.first.isoformat(), period.last.isoformat())}
    with snap.db.transaction(commit=False) as cur:
        daily = snap.tally(cur, t[DAILY], ("day", "line"), where)
        by_staff = {k: v[0] for k, v in snap.tally(cur, t[STAFF], ("line", "staff"), where).items()}
        by_type = {
            k: v[0] for k, v in snap.tally(cur, t[TYPES], ("line", "business_type"), where).items()
        }
    per_line: dict[str, int] = defaultdict(int)
    for (_, line), (n,) in daily.items():
        per_line[line] += n
    lines = [
        progress(contract, calendar, period, line, per_line.get(line, 0), snap.at).as_dict()
        for line in LINES
    ]
    total = sum(per_line.get(line, 0) for line in LINES)
    lines.append(progress(contract, calendar, period, "total", total, snap.at).as_dict())
    series: dict[str, dict[str, int]] = {}
    for (d, line), (n,) in sorted(daily.items()):
        series.setdefault(d, {x: 0 for x in LINES})[line] = n
    return {
        **snap.header(),
        "contract": contract.as_dict(),
        "period": period.as_dict(),
        "lines": lines,
        "warning": any(line["warning"] for line in lines),
        "by_staff": [
            {
                "line": line,
                "staff_id": staff or None,
                "actual": n,
                "share": round(n / per_line[line], 4) if per_line[line] else None,
            }
            for (line, staff), n in sorted(by_staff.items(), key=lambda kv: (kv[0][0], -kv[1],
                                                                             kv[0][1]))
        ],
        "by_business_type": [
            {
                "line": line,
                "business_type": business_type or None,
                "actual": n,
                "share": round(n / per_line[line], 4) if per_line[line] else None,
            }
            for (line, business_type), n in sorted(by_type.items(),
                                                   key=lambda kv: (kv[0][0], -kv[1], kv[0][1]))
        ],
        "daily": [{"day": d, **counts, "total": sum(counts.values())}
                  for d, counts in sorted(series.items())],
    }
