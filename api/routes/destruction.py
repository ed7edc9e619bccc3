"""信息销毁: destruction requests, approved by the project lead (crypto-shredding).

``POST /subjects/{id}/destruction-requests`` (in :mod:`api.routes.subjects`)
asks; the project lead approves or rejects here. Approval records the decision
and the subject's destruction in one transaction, then destroys the subject's
data key; approving again repeats the key destruction (the repair path).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CommandContext, LedgerDep, allow
from api.schemas import RequestBody, SubjectPublic, error_responses
from api.views import local
from domain.calendar import SHANGHAI
from domain.destruction import DestructionRequest
from domain.ledger import Ledger

router = APIRouter(
    prefix="/destruction-requests",
    tags=["destruction"],
    responses=error_responses(401, 404),
)


# -- bodies (kept beside their routes; candidates for api/schemas.py) ------------------------
class DestructionRequestCreate(RequestBody):
    reason: str = Field(description="why the data must go (not who: no names or numbers)")


class DestructionReject(RequestBody):
    reason: str


class DestructionReceipt(BaseModel):
    id: str
    status: str = Field(description="requested | destroyed | rejected")
    subject_id: str
    destroyed_at: datetime | None = None
    version: int


class DestructionRequestPublic(DestructionReceipt):
    reason: str
    requested_by: str
    requested_at: datetime
    approved_by: str | None
    rejected_by: str | None
    rejected_at: datetime | None
    rejection_reason: str | None
    key_destroyed: bool = Field(
        description="whether the subject's data key is gone (false after an approval means"
        " the shredding must be repeated: approve again)"
    )


class SubjectDestructionView(SubjectPublic):
    """The subject view plus which destruction request destroyed it."""

    destruction_request_id: str | None = None


def destruction_answer(receipt: dict[str, Any]) -> dict[str, Any]:
    """A destruction receipt with ``destroyed_at`` shown in Asia/Shanghai."""
    shown = dict(receipt)
    if isinstance(shown.get("destroyed_at"), str):
        shown["destroyed_at"] = datetime.fromisoformat(shown["destroyed_at"]).astimezone(SHANGHAI)
    return shown


def destruction_view(ledger: Ledger, request: DestructionRequest) -> dict[str, Any]:
    return {
        "id": str(request.id),
        "subject_id": request.subject_id,
        "status": request.status,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "requested_at": local(request.requested_at),
        "approved_by": request.approved_by,
        "destroyed_at": local(request.approved_at),
        "rejected_by": request.rejected_by,
        "rejected_at": local(request.rejected_at),
        "rejection_reason": request.rejection_reason,
        "key_destroyed": ledger.services.sealer.is_destroyed(UUID(request.subject_id)),
        "version": request.version,
    }


@router.post(
    "/{request_id}/approve",
    response_model=DestructionReceipt,
    responses=error_responses(403, 409),
    dependencies=[allow("destruction.approve")],
)
def approve_destruction(request_id: str, ledger: LedgerDep, ctx: CommandContext) -> dict[str, Any]:
    """Approve and carry out a destruction (project lead; not the requester)."""
    return destruction_answer(ledger.approve_destruction(request_id, ctx))


@router.post(
    "/{request_id}/reject",
    response_model=DestructionReceipt,
    responses=error_responses(403, 409, 422),
    dependencies=[allow("destruction.approve")],
)
def reject_destruction(
    request_id: str, body: DestructionReject, ledger: LedgerDep, ctx: CommandContext
) -> dict[str, Any]:
    """Reject a destruction request (project lead); the data stays."""
    return destruction_answer(ledger.reject_destruction(request_id, body.reason, ctx))


@router.get(
    "/{request_id}",
    response_model=DestructionRequestPublic,
    responses=error_responses(403),
    dependencies=[allow("destruction.read")],
)
def read_destruction_request(request_id: str, ledger: LedgerDep) -> dict[str, Any]:
    """A destruction request, its decision, and whether the data key is gone."""
    return destruction_view(ledger, ledger.destruction_request(request_id))
