"""Access grants (申请、审批、使用): apply, approve or reject, revoke, read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel, Field

from api.deps import CommandContext, LedgerDep, allow
from api.routes.users import localised_times
from api.schemas import RequestBody, error_responses
from domain.grant import grant_receipt

router = APIRouter(prefix="/grants", tags=["grants"], responses=error_responses(401, 403))
TIMES = ("valid_until", "applied_at", "decided_at", "revoked_at")


class GrantCreate(RequestBody):
    subject_id: str | None = Field(None, description="the subject whose fields are wanted")
    record: str | None = Field(
        None, description='"buyer" for the buyer\'s basic information (project lead only)'
    )
    fields: list[str] = Field(description="name, id_number, mobile, uscc (a subject's)")
    purpose: str = Field(description="why: recorded with the grant and with every use")
    valid_until: AwareDatetime = Field(description="when the grant ends by itself")


class GrantDecision(RequestBody):
    reason: str | None = None


class GrantPublic(BaseModel):
    id: str
    status: str = Field(description="requested | approved | rejected | revoked | expired")
    reader: str
    reader_role: str
    target: str = Field(description="subject | buyer")
    subject_id: str | None
    fields: list[str]
    purpose: str
    valid_until: datetime
    applied_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    revoked_by: str | None
    revoked_at: datetime | None
    version: int


def shown(receipt: dict[str, Any]) -> dict[str, Any]:
    return localised_times(receipt, TIMES)


@router.post(
    "", status_code=201, response_model=GrantPublic, responses=error_responses(404, 409, 422),
    dependencies=[allow("grant.apply")],
)
def apply_for_grant(body: GrantCreate, ledger: LedgerDep, ctx: CommandContext) -> dict[str, Any]:
    """申请: ask to read named fields of a subject, for a purpose, until a time."""
    return shown(
        ledger.apply_for_grant(
            subject_id=body.subject_id,
            record=body.record,
            fields=body.fields,
            purpose=body.purpose,
            valid_until=body.valid_until,
            ctx=ctx,
        )
    )


@router.get(
    "/{grant_id}", response_model=GrantPublic, responses=error_responses(404),
    dependencies=[allow("grant.read")],
)
def read_grant(grant_id: str, ledger: LedgerDep) -> dict[str, Any]:
    """A grant and its status now (``expired`` once valid_until has passed)."""
    return shown(grant_receipt(ledger.grant(grant_id), ledger.now()))


DECISION = {
    "response_model": GrantPublic,
    "responses": error_responses(404, 409, 422),
    "dependencies": [allow("grant.decide")],
}


@router.post("/{grant_id}/approve", **DECISION)
def approve_grant(
    grant_id: str, ledger: LedgerDep, ctx: CommandContext, body: GrantDecision | None = None
) -> dict[str, Any]:
    """审批: approve a requested grant (project lead; never the applicant)."""
    return shown(ledger.decide_grant(grant_id, "approve", None, ctx))


@router.post("/{grant_id}/reject", **DECISION)
def reject_grant(
    grant_id: str, ledger: LedgerDep, ctx: CommandContext, body: GrantDecision | None = None
) -> dict[str, Any]:
    """Reject a requested grant (project lead), with an optional reason."""
    return shown(ledger.decide_grant(grant_id, "reject", body.reason if body else None, ctx))


@router.post("/{grant_id}/revoke", **DECISION)
def revoke_grant(
    grant_id: str, ledger: LedgerDep, ctx: CommandContext, body: GrantDecision | None = None
) -> dict[str, Any]:
    """Revoke a requested or approved grant now (project lead), with an optional reason."""
    return shown(ledger.decide_grant(grant_id, "revoke", body.reason if body else None, ctx))
