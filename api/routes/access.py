"""Reading personal data through the gate, the access history, and access reviews.

``POST /subjects/{id}/reveal`` is the one endpoint that answers a subject's
personal fields in plain text. The Ledger records the attempt — granted or
refused — and waits for that record's commit before it decrypts anything; if
the record cannot be written, the answer is 503 and carries no data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import CommandContext, LedgerDep, RequestMetaDep, allow
from api.routes.users import localised_times
from api.schemas import RequestBody, error_responses
from domain.access_review import ReviewStatus
from domain.calendar import SHANGHAI
from domain.ledger import Context
from domain.people import User

router = APIRouter(tags=["access"], responses=error_responses(401, 403))
GATE_ERRORS = {
    **error_responses(404, 422),
    410: {"description": "The subject's personal data was destroyed (the attempt is recorded)"},
    503: {"description": "The access record could not be written: no data is returned"},
}


class RevealRequest(RequestBody):
    fields: list[str] = Field(description="name, id_number, mobile, uscc")
    purpose: str = Field(description="why you need them: stored in the access record")
    grant_id: str | None = Field(None, description="an approved grant of yours that covers them")
    item_id: str | None = Field(
        None, description="a ticket or case of this subject that you hold or are on the team of"
    )


class Revealed(BaseModel):
    target: str
    id: str
    fields: dict[str, str]
    basis: str = Field(description="project_lead | assignee | team | grant")
    access_record_id: str
    access_position: int = Field(description="the access record's position in the log")
    request_id: str


@router.post(
    "/subjects/{subject_id}/reveal", response_model=Revealed, responses=GATE_ERRORS
)
def reveal_subject(
    subject_id: str,
    body: RevealRequest,
    user: Annotated[User, allow("subject.reveal", gated=True)],
    ledger: LedgerDep,
    meta: RequestMetaDep,
) -> dict[str, Any]:
    """Personal fields in plain text, after the access is recorded (refusals too)."""
    return ledger.reveal(
        subject_id,
        body.fields,
        body.purpose,
        grant_id=body.grant_id,
        item_id=body.item_id,
        request_id=meta.request_id,
        client=meta.client,
        ctx=Context(actor=str(user.id)),
        reader=user,
    )


# -- the access history ------------------------------------------------------------------
class AccessRecordPublic(BaseModel):
    id: str
    position: int
    actor: str
    role: str
    target: str
    target_id: str | None
    subject_id: str | None
    fields: list[str]
    purpose: str
    level: str
    grant_id: str | None
    item_id: str | None
    request_id: str
    client: str | None
    outcome: str
    reason: str
    query: dict[str, Any] | None
    at: datetime


class AccessHistory(BaseModel):
    items: list[AccessRecordPublic]
    next_cursor: str | None
    access_position: int = Field(description="where this read itself was recorded")
    request_id: str


@router.get("/access-history", response_model=AccessHistory, responses=error_responses(422, 503))
def read_access_history(
    user: Annotated[User, allow("access_log.read", gated=True)],
    ledger: LedgerDep,
    meta: RequestMetaDep,
    subject_id: str | None = None,
    actor: str | None = None,
    purpose: Annotated[str, Query(max_length=500)] = "access log review",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[int, Query(ge=0)] = 0,
) -> dict[str, Any]:
    """Access records of a subject and/or an actor, oldest first; this read is recorded first."""
    answer = ledger.access_history(
        subject_id=subject_id,
        actor=actor,
        purpose=purpose,
        limit=limit,
        cursor=cursor,
        request_id=meta.request_id,
        client=meta.client,
        ctx=Context(actor=str(user.id)),
        reader=user,
    )
    for item in answer["items"]:
        item["at"] = item["at"].astimezone(SHANGHAI)
    return answer


# -- access reviews -------------------------------------------------------------------------
class AccessReviewCreate(RequestBody):
    level: str = Field(description="high | medium | low")
    period_start: AwareDatetime
    period_end: AwareDatetime
    findings: str


class AccessReviewRecorded(BaseModel):
    id: str
    level: str
    period_start: datetime
    period_end: datetime
    recorded_at: datetime
    next_due: datetime


class LevelStatus(BaseModel):
    level: str
    cadence: str
    last_review: dict[str, Any] | None = Field(
        description="id, period_start, period_end, recorded_at, by (findings are not shown)"
    )
    next_due: datetime
    overdue: bool


class ReviewSchedule(BaseModel):
    levels: list[LevelStatus]
    overdue: bool = Field(description="whether any level is overdue")


CADENCE = {"high": "weekly", "medium": "every two weeks", "low": "monthly"}


@router.post(
    "/access-reviews",
    status_code=201,
    response_model=AccessReviewRecorded,
    responses=error_responses(409, 422),
    dependencies=[allow("access_review.record")],
)
def record_access_review(
    body: AccessReviewCreate, ledger: LedgerDep, ctx: CommandContext
) -> dict[str, Any]:
    """Record a review of the access log for one level and period (confidentiality officer)."""
    receipt = ledger.record_access_review(
        level=body.level,
        period_start=body.period_start,
        period_end=body.period_end,
        findings=body.findings,
        ctx=ctx,
    )
    return localised_times(receipt, ("period_start", "period_end", "recorded_at", "next_due"))


def level_status(status: ReviewStatus) -> dict[str, Any]:
    last = status.last
    shown = None
    if last is not None:
        shown = {k: last[k] for k in ("id", "period_start", "period_end", "recorded_at", "by")}
        shown = {k: v.astimezone(SHANGHAI) if isinstance(v, datetime) else v
                 for k, v in shown.items()}
    return {
        "level": status.level,
        "cadence": CADENCE[status.level],
        "last_review": shown,
        "next_due": status.next_due.astimezone(SHANGHAI),
        "overdue": status.overdue,
    }


@router.get(
    "/access-reviews/status",
    response_model=ReviewSchedule,
    dependencies=[allow("access_review.read")],
)
def read_access_review_status(ledger: LedgerDep) -> dict[str, Any]:
    """Per level: the last review, when the next is due, and whether it is overdue."""
    levels = [level_status(s) for s in ledger.access_review_status()]
    return {"levels": levels, "overdue": any(level["overdue"] for level in levels)}
