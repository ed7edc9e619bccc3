"""Data subjects: registration and the masked view."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from api.deps import CommandContext, LedgerDep, allow, get_current_user
from api.routes.destruction import (
    DestructionReceipt,
    DestructionRequestCreate,
    SubjectDestructionView,
    destruction_answer,
)
from api.schemas import SubjectCreate, SubjectReceipt, error_responses
from api.views import subject_view

router = APIRouter(
    prefix="/subjects",
    tags=["subjects"],
    dependencies=[Depends(get_current_user)],
    responses=error_responses(401),
)


@router.post(
    "",
    status_code=201,
    response_model=SubjectReceipt,
    responses=error_responses(400, 403, 409, 422),
    dependencies=[allow("subject.register")],
)
def create_subject(body: SubjectCreate, ledger: LedgerDep, ctx: CommandContext) -> dict[str, Any]:
    """Register a person or enterprise; the answer shows only masks."""
    return ledger.register_subject(
        kind=body.kind,
        name=body.name,
        id_number=body.id_number,
        mobile=body.mobile,
        uscc=body.uscc,
        ctx=ctx,
    )


@router.get(
    "/{subject_id}",
    response_model=SubjectDestructionView,
    responses=error_responses(403, 404),
    dependencies=[allow("subject.read_masked")],
)
def read_subject(subject_id: str, ledger: LedgerDep) -> dict[str, Any]:
    """A subject's masked view, nothing unsealed; if destroyed: when, by which request."""
    subject = ledger.subject(subject_id)
    return {
        **subject_view(subject, ledger.masks(subject)),
        "destruction_request_id": subject.destruction_request_id,
    }


@router.post(
    "/{subject_id}/destruction-requests",
    status_code=201,
    response_model=DestructionReceipt,
    responses=error_responses(403, 404, 409, 422),
    dependencies=[allow("destruction.request")],
)
def request_destruction(
    subject_id: str, body: DestructionRequestCreate, ledger: LedgerDep, ctx: CommandContext
) -> dict[str, Any]:
    """Ask for the subject's personal data to be destroyed; the project lead decides."""
    return destruction_answer(ledger.request_destruction(subject_id, body.reason, ctx))
