"""Service cases (就业创业服务): accept, approve, feed back, follow up; the view and the list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.deps import CatalogDep, CommandContext, LedgerDep, allow, get_current_user
from api.routes.followup import COMMAND, add_followup_routes
from api.schemas import (
    CaseAccept,
    CaseApprove,
    CaseAssign,
    CaseCreate,
    CaseFeedback,
    CasePublic,
    Empty,
    ItemPage,
    error_responses,
)
from api.views import case_view, command_answer, item_page, set_etag

router = APIRouter(
    prefix="/cases",
    tags=["cases"],
    dependencies=[Depends(get_current_user)],
    responses=error_responses(401),
)


@router.post("", status_code=201, dependencies=[allow("case.create")], **COMMAND)
def create_case(
    body: CaseCreate, ledger: LedgerDep, ctx: CommandContext, response: Response
) -> dict[str, Any]:
    """Open a service case for a registered subject; its clock starts at received_at."""
    receipt = ledger.open_case(
        service_type=body.service_type,
        subject_id=body.subject_id,
        materials=body.materials,
        received_at=body.received_at,
        ctx=ctx,
    )
    return command_answer(response, receipt)


@router.post("/{case_id}/accept", dependencies=[allow("case.work")], **COMMAND)
def accept_case(
    case_id: str, body: CaseAccept, ledger: LedgerDep, ctx: CommandContext, response: Response
) -> dict[str, Any]:
    """Check the materials: complete accepts the case, incomplete pauses it until /resume."""
    receipt = ledger.change_case(
        case_id,
        ctx,
        lambda c, at: c.accept(
            materials_complete=body.materials_complete,
            missing=body.missing,
            at=at,
            by=ctx.actor,
        ),
    )
    return command_answer(response, receipt)


@router.post("/{case_id}/resume", dependencies=[allow("case.work")], **COMMAND)
def resume_case(
    case_id: str,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
    body: Empty | None = None,
) -> dict[str, Any]:
    """Restart the clock (after a materials request: the materials arrived)."""
    receipt = ledger.change_case(case_id, ctx, lambda c, at: c.resume(at=at, by=ctx.actor))
    return command_answer(response, receipt)


@router.post("/{case_id}/approve", dependencies=[allow("case.work")], **COMMAND)
def approve_case(
    case_id: str, body: CaseApprove, ledger: LedgerDep, ctx: CommandContext, response: Response
) -> dict[str, Any]:
    """Record the approval decision (approved or rejected) of an accepted case."""
    receipt = ledger.change_case(
        case_id,
        ctx,
        lambda c, at: c.decide(approved=body.approved, notes=body.notes, at=at, by=ctx.actor),
    )
    return command_answer(response, receipt)


@router.post("/{case_id}/feedback", dependencies=[allow("case.work")], **COMMAND)
def give_case_feedback(
    case_id: str,
    body: CaseFeedback,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Notify the applicant of the result and provide the service; closes the case."""
    receipt = ledger.change_case(
        case_id, ctx, lambda c, at: c.give_feedback(result=body.result, at=at, by=ctx.actor)
    )
    return command_answer(response, receipt)


@router.post("/{case_id}/assign", dependencies=[allow("case.work")], **COMMAND)
def assign_case(
    case_id: str, body: CaseAssign, ledger: LedgerDep, ctx: CommandContext, response: Response
) -> dict[str, Any]:
    """Hand the case to another specialist (an active user whose role may work cases),
    with a reason."""
    receipt = ledger.assign_case(case_id, assignee=body.assignee, reason=body.reason, ctx=ctx)
    return command_answer(response, receipt)


add_followup_routes(
    router,
    kind="case",
    change=lambda ledger: ledger.change_case,
    review_description="Record a quality review of the closed case (feeds the accuracy rate).",
)


@router.get(
    "/{case_id}",
    response_model=CasePublic,
    responses=error_responses(404),
    dependencies=[allow("case.read")],
)
def read_case(case_id: str, ledger: LedgerDep, response: Response) -> dict[str, Any]:
    """The whole case with its deadlines; the subject appears by id only."""
    view = case_view(ledger, ledger.case(case_id))
    set_etag(response, view)
    return view


@router.get(
    "",
    response_model=ItemPage,
    responses=error_responses(422, 503),
    dependencies=[allow("case.read")],
)
def list_cases(
    catalog: CatalogDep,
    status: str | None = None,
    assignee: str | None = None,
    sla_state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Service cases, filtered by status, assignee and SLA state, a page at a time."""
    return item_page(catalog, "case", status, assignee, sla_state, limit, cursor)
