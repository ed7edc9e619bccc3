"""Tickets (工单): registration, the lifecycle commands, the full view and the list."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Response

from api.deps import CatalogDep, CommandContext, LedgerDep, allow, get_current_user
from api.routes.followup import COMMAND, add_followup_routes
from api.schemas import (
    Empty,
    ItemPage,
    ReviewCreate,
    TicketAssign,
    TicketClassify,
    TicketCreate,
    TicketPause,
    TicketPublic,
    TicketResolve,
    TicketStep,
    error_responses,
)
from api.views import command_answer, item_page, set_etag, ticket_view

router = APIRouter(
    prefix="/tickets",
    tags=["tickets"],
    dependencies=[Depends(get_current_user)],
    responses=error_responses(401),
)


@router.post("", status_code=201, dependencies=[allow("ticket.create")], **COMMAND)
def create_ticket(
    body: TicketCreate, ledger: LedgerDep, ctx: CommandContext, response: Response
) -> dict[str, Any]:
    """Register a ticket for a registered requester; its clock starts at received_at."""
    receipt = ledger.open_ticket(
        channel=body.channel,
        requester_id=body.requester_id,
        description=body.description,
        received_at=body.received_at,
        ctx=ctx,
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/review-entry", dependencies=[allow("ticket.work")], **COMMAND)
def review_ticket_entry(
    ticket_id: str,
    body: ReviewCreate,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Review the registered entry (登记审核) before or after classification."""
    receipt = ledger.change_ticket(
        ticket_id,
        ctx,
        lambda t, at: t.review_entry(body.passed, body.notes, at=at, by=ctx.actor),
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/classify", dependencies=[allow("ticket.work")], **COMMAND)
def classify_ticket(
    ticket_id: str,
    body: TicketClassify,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Classify on the four axes: nature, urgency, business type, complexity."""
    receipt = ledger.change_ticket(
        ticket_id,
        ctx,
        lambda t, at: t.classify(
            nature=body.nature,
            urgency=body.urgency,
            business_type=body.business_type,
            complexity=body.complexity,
            sub_type=body.sub_type,
            at=at,
            by=ctx.actor,
        ),
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/assign", dependencies=[allow("ticket.work")], **COMMAND)
def assign_ticket(
    ticket_id: str,
    body: TicketAssign,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Assign to a handler (a complex ticket also to a team); reassigning needs a reason.

    The assignee and every team member must be active users whose role may work tickets."""
    receipt = ledger.assign_ticket(
        ticket_id, assignee=body.assignee, team=body.team, reason=body.reason, ctx=ctx
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/steps", dependencies=[allow("ticket.work")], **COMMAND)
def record_ticket_step(
    ticket_id: str,
    body: TicketStep,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Record one processing step: the measure taken and its result."""
    receipt = ledger.change_ticket(
        ticket_id,
        ctx,
        lambda t, at: t.record_step(measure=body.measure, result=body.result, at=at, by=ctx.actor),
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/pause", dependencies=[allow("ticket.work")], **COMMAND)
def pause_ticket(
    ticket_id: str,
    body: TicketPause,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Stop the clock while waiting for the requester."""
    receipt = ledger.change_ticket(
        ticket_id, ctx, lambda t, at: t.pause(body.reason, at=at, by=ctx.actor)
    )
    return command_answer(response, receipt)


@router.post("/{ticket_id}/resume", dependencies=[allow("ticket.work")], **COMMAND)
def resume_ticket(
    ticket_id: str,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
    body: Empty | None = None,
) -> dict[str, Any]:
    """Restart the clock; the paused time does not count against the limit."""
    receipt = ledger.change_ticket(ticket_id, ctx, lambda t, at: t.resume(at=at, by=ctx.actor))
    return command_answer(response, receipt)


@router.post("/{ticket_id}/resolve", dependencies=[allow("ticket.work")], **COMMAND)
def resolve_ticket(
    ticket_id: str,
    body: TicketResolve,
    ledger: LedgerDep,
    ctx: CommandContext,
    response: Response,
) -> dict[str, Any]:
    """Feed the result back to the requester: the ticket is handled."""
    receipt = ledger.change_ticket(
        ticket_id, ctx, lambda t, at: t.resolve(result=body.result, at=at, by=ctx.actor)
    )
    return command_answer(response, receipt)


add_followup_routes(
    router,
    kind="ticket",
    change=lambda ledger: ledger.change_ticket,
    review_description="Record a quality review of the handled ticket (feeds the accuracy rate).",
)


@router.get(
    "/{ticket_id}",
    response_model=TicketPublic,
    responses=error_responses(404),
    dependencies=[allow("ticket.read")],
)
def read_ticket(ticket_id: str, ledger: LedgerDep, response: Response) -> dict[str, Any]:
    """The whole ticket with its deadlines; the requester appears by id only."""
    view = ticket_view(ledger, ledger.ticket(ticket_id))
    set_etag(response, view)
    return view


@router.get(
    "",
    response_model=ItemPage,
    responses=error_responses(422, 503),
    dependencies=[allow("ticket.read")],
)
def list_tickets(
    catalog: CatalogDep,
    status: str | None = None,
    assignee: str | None = None,
    sla_state: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Tickets, filtered by status, assignee and SLA state, a page at a time."""
    return item_page(catalog, "ticket", status, assignee, sla_state, limit, cursor)
