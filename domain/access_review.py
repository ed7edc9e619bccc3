"""Access reviews: confidentiality officers review the access log on a cadence per level.

SPEC.md, "Confidentiality": high-level information is reviewed weekly,
medium every two weeks, low monthly. Reviews are events of one aggregate per
deployment (a handful per month), so "the last review of each level" is one
load, not a scan. The due dates are a pure function of the last reviewed
period's end: the next review is due one cadence after it. Before the first
review of a level, the cadence runs from when the log began.
"""

from __future__ import annotations

import calendar
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.access import Level
from domain.calendar import SHANGHAI
from domain.errors import InvalidInputError
from domain.values import require_aware, require_text
from domain.vocabulary import parse

REVIEW_LOG_ID = uuid.UUID("5b0f7f8e-3c55-4f0e-9d59-6a3f5a0c2b10")
MAX_FINDINGS = 20_000


def add_months(moment: datetime, months: int) -> datetime:
    """The same local day and time ``months`` later (clamped to the month's last day)."""
    local = moment.astimezone(SHANGHAI)
    index = local.month - 1 + months
    year, month = local.year + index // 12, index % 12 + 1
    day = min(local.day, calendar.monthrange(year, month)[1])
    return local.replace(year=year, month=month, day=day)


def next_due(level: str, since: datetime) -> datetime:
    """When the next review of ``level`` is due, given the end of the last reviewed period."""
    match Level(level):
        case Level.HIGH:
            return since + timedelta(days=7)
        case Level.MEDIUM:
            return since + timedelta(days=14)
        case Level.LOW:
            return add_months(since, 1)
    raise AssertionError(level)  # pragma: no cover


@dataclass(frozen=True)
class ReviewStatus:
    level: str
    last: dict[str, Any] | None
    next_due: datetime
    overdue: bool


def review_status(
    level: str, last: dict[str, Any] | None, log_began: datetime, now: datetime
) -> ReviewStatus:
    """The schedule of one level: its last review, the next due date, whether it is late."""
    since = last["period_end"] if last is not None else log_began
    due = next_due(level, since)
    return ReviewStatus(level=level, last=last, next_due=due, overdue=now > due)


class AccessReviewLog(Aggregate):
    """Every access review of the deployment, in the order they were recorded."""

    @staticmethod
    def create_id(**_: object) -> uuid.UUID:
        return REVIEW_LOG_ID

    @event("Started")
    def __init__(self) -> None:
        self.reviews: list[dict[str, Any]] = []

    def record(
        self,
        *,
        level: object,
        period_start: object,
        period_end: object,
        findings: object,
        at: datetime,
        by: str,
    ) -> dict[str, Any]:
        """Record one review; return it."""
        level_value = parse(Level, level, "level").value
        start = require_aware(period_start, "period_start")
        end = require_aware(period_end, "period_end")
        if end <= start:
            raise InvalidInputError("period_end", "period_end must be after period_start")
        if end > at:
            raise InvalidInputError("period_end", "a review cannot cover a period not yet over")
        review_id = str(uuid.uuid4())
        self._reviewed(
            review_id=review_id,
            level=level_value,
            period_start=start,
            period_end=end,
            findings=require_text(findings, "findings", max_length=MAX_FINDINGS),
            at=at,
            by=by,
        )
        return self.reviews[-1]

    @event("Reviewed")
    def _reviewed(
        self,
        review_id: str,
        level: str,
        period_start: datetime,
        period_end: datetime,
        findings: str,
        at: datetime,
        by: str,
    ) -> None:
        self.reviews.append(
            {
                "id": review_id,
                "level": level,
                "period_start": period_start,
                "period_end": period_end,
                "findings": findings,
                "recorded_at": at,
                "by": by,
            }
        )

    def last_of(self, level: str) -> dict[str, Any] | None:
        """The review of ``level`` whose period ends latest."""
        mine = [r for r in self.reviews if r["level"] == level]
        return max(mine, key=lambda r: r["period_end"]) if mine else None


def review_receipt(review: dict[str, Any]) -> dict[str, Any]:
    """What recording a review answers (times as ISO strings: receipts are stored)."""
    return {
        "id": review["id"],
        "level": review["level"],
        "period_start": review["period_start"].isoformat(),
        "period_end": review["period_end"].isoformat(),
        "recorded_at": review["recorded_at"].isoformat(),
        "next_due": next_due(review["level"], review["period_end"]).isoformat(),
    }
