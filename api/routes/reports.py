"""Reports (projections): quota progress, SLA, quality — live or as of a past instant.

Every report accepts ``as_of`` (ISO 8601 with offset, or a date meaning the end
of that day in Beijing time): the figures as the log stood then, computed by
``replay.as_of`` — the same code as ``taizhang replay as-of``. Answers carry
``log_position`` (how many events the figures cover) and ``final``. Reports
hold statistics and ids only: no subject's personal data ever reaches a view.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request

from api.deps import RequestMetaDep, allow
from api.errors import ServiceUnavailableError
from api.schemas import error_responses
from domain.ledger import Context, Ledger
from domain.people import User
from projections.registry import Reports
from projections.runtime import Follower
from replay.as_of import parse_instant, report

router = APIRouter(
    prefix="/reports", tags=["reports"], responses=error_responses(401, 403, 422, 503)
)
STATISTICS = [allow("report.read")]
_opening = threading.Lock()
MAX_LAG = 20_000  # events a request may make the views catch up with before it answers

PeriodKind = Literal["day", "week", "month", "quarter", "contract"]
AsOf = Annotated[
    str | None,
    Query(description="The figures as the log stood at this instant (ISO 8601 with offset; "
                      "a date means the end of that day, Beijing time)."),
]
Day = Annotated[
    date | None,
    Query(description="Report the period containing this day (default: the evaluation day)."),
]


def attach(app: FastAPI, ledger: Ledger) -> list[Follower]:
    """Open the report views on ``ledger`` for ``app``; their follower, to run in the background."""
    reports = Reports(ledger)
    app.state.reports = reports
    return [reports.follower]


def get_reports(request: Request) -> Reports:
    """The app's report views (opened on first use when the app started without them)."""
    reports: Reports | None = getattr(request.app.state, "reports", None)
    ledger = request.app.state.ledger
    if reports is None or reports.ledger is not ledger:
        with _opening:
            reports = getattr(request.app.state, "reports", None)
            if reports is None or reports.ledger is not ledger:
                reports = Reports(ledger)
                request.app.state.reports = reports
    return reports


ReportsDep = Annotated[Reports, Depends(get_reports)]


def _as_of(value: str | None) -> Any:
    return parse_instant(value) if value else None


def _ready(reports: Reports) -> None:
    """503 while the views are far behind the log (just started on a long log, or rebuilding).

    A report catches the views up before it answers; a few thousand events
    take milliseconds, a million take a minute, which no request should wait
    for (``taizhang replay rebuild --all`` builds them quickest).
    """
    length = reports.ledger.log_length()
    position = reports.follower.position()
    if length - position > MAX_LAG:
        raise ServiceUnavailableError(
            f"the report views are catching up with the log ({position:,} of {length:,} "
            "events): try again shortly"
        )


@router.get("/quota", dependencies=STATISTICS)
def read_quota_report(
    reports: ReportsDep,
    period: PeriodKind = "month",
    as_of: AsOf = None,
    day: Day = None,
) -> dict[str, Any]:
    """Target, plan to date, actual, deviation, run-rate forecast and progress warning per line
    (tickets, services, total) for the period, with breakdowns by staff and business type."""
    params = {"period": period, "day": day.isoformat() if day else None}
    _ready(reports)
    return report(reports, "quota", _as_of(as_of), params)


@router.get("/sla", dependencies=STATISTICS)
def read_sla_report(
    reports: ReportsDep,
    state: Literal["on_track", "at_risk", "breached", "met"] | None = None,
    as_of: AsOf = None,
    period: PeriodKind = "month",
    from_: Annotated[date | None, Query(alias="from", description="First done day counted "
                                                                  "in the on-time rates.")] = None,
    to: Annotated[date | None, Query(description="Last done day counted in the rates.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Items with their due times in working time and SLA state at the evaluation instant
    (newest first, filtered by ``state``), counts by state, and on-time rates by period,
    business type, urgency and staff."""
    params = {
        "state": state, "period": period, "limit": limit, "cursor": cursor,
        "from": from_.isoformat() if from_ else None, "to": to.isoformat() if to else None,
    }
    _ready(reports)
    return report(reports, "sla", _as_of(as_of), params)


@router.get("/quality", dependencies=STATISTICS)
def read_quality_report(
    reports: ReportsDep,
    period: PeriodKind = "quarter",
    as_of: AsOf = None,
    day: Day = None,
) -> dict[str, Any]:
    """Accuracy, timeliness, satisfaction and complaints per staff member and business type;
    the ranking with the bottom flagged (末位淘汰); mean, median, standard deviation, growth,
    correlations and a volume forecast."""
    params = {"period": period, "day": day.isoformat() if day else None}
    _ready(reports)
    return report(reports, "quality", _as_of(as_of), params)


@router.get("/access-log")
def read_access_log_report(
    reports: ReportsDep,
    user: Annotated[User, allow("access_log.read", gated=True)],
    meta: RequestMetaDep,
    subject_id: str | None = None,
    actor: str | None = None,
    level: Literal["high", "medium", "low"] | None = None,
    outcome: Literal["granted", "refused"] | None = None,
    from_: Annotated[str | None, Query(alias="from", description="An instant or a date.")] = None,
    to: Annotated[str | None, Query(description="An instant or a date (its end).")] = None,
    as_of: AsOf = None,
    purpose: Annotated[str, Query(max_length=500)] = "access log review",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Access records (newest first) by subject, actor, level, outcome and time, with anomaly
    flags (out of hours, bulk reading, outside assigned work, repeated refusals) and the
    review status per level. Reading it is an access itself: recorded first, refused if the
    role may not read the access log."""
    _ready(reports)
    ledger = reports.ledger
    # The gate records this read (with its filters), committed before anything is computed,
    # and refuses roles without access_log.read (the refusal recorded too).
    ledger.record_access_log_read(
        subject_id=subject_id, actor=actor, purpose=purpose, request_id=meta.request_id,
        client=meta.client, ctx=Context(actor=str(user.id)), reader=user,
    )
    params = {"subject_id": subject_id, "actor": actor, "level": level, "outcome": outcome,
              "from": from_, "to": to, "limit": limit, "cursor": cursor}
    return report(reports, "access_log", _as_of(as_of), params)
