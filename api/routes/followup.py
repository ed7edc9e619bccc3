"""What the ticket and case routes share: the command answer's shape, follow-up callbacks
and quality reviews (the same steps of :class:`domain.work_item.WorkItem` for both)."""

# No ``from __future__ import annotations`` here: FastAPI must see the endpoints' annotations
# as objects, since ``ItemId`` is local to the function that declares them.
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from api.deps import CommandContext, LedgerDep, allow
from api.schemas import CallbackCreate, ItemReceipt, ReviewCreate, error_responses
from api.views import command_answer
from domain.ledger import Context, Ledger, Receipt
from domain.work_item import WorkItem

COMMAND: dict[str, Any] = {
    "response_model": ItemReceipt,
    "responses": error_responses(400, 404, 409, 422),
}
# The ledger's command applying one step to the item: ``lambda ledger: ledger.change_ticket``.
Change = Callable[[Ledger], Callable[[str, Context, Callable[[Any, datetime], None]], Receipt]]


def add_followup_routes(
    router: APIRouter, *, kind: str, change: Change, review_description: str
) -> None:
    """``POST /{<kind>_id}/callbacks`` and ``POST /{<kind>_id}/review`` on ``router``.

    The endpoints keep the names, paths and descriptions they had when each
    module declared its own (``record_ticket_callback``, ``review_case``, ...).
    """
    param = f"{kind}_id"
    ItemId = Annotated[str, Path(alias=param)]  # noqa: N806 - a type alias

    def record_callback(
        item_id: ItemId,
        body: CallbackCreate,
        ledger: LedgerDep,
        ctx: CommandContext,
        response: Response,
    ) -> dict[str, Any]:
        def step(item: WorkItem, at: datetime) -> None:
            item.record_callback(body.kind, body.satisfaction, body.problems, at=at, by=ctx.actor)

        return command_answer(response, change(ledger)(item_id, ctx, step))

    def review(
        item_id: ItemId,
        body: ReviewCreate,
        ledger: LedgerDep,
        ctx: CommandContext,
        response: Response,
    ) -> dict[str, Any]:
        def step(item: WorkItem, at: datetime) -> None:
            item.review(body.passed, body.notes, at=at, by=ctx.actor)

        return command_answer(response, change(ledger)(item_id, ctx, step))

    router.add_api_route(
        f"/{{{param}}}/callbacks", record_callback, methods=["POST"],
        name=f"record_{kind}_callback",
        description="Record a follow-up callback (phone, SMS or survey) with a satisfaction"
        " score.",
        dependencies=[allow("followup.record")], **COMMAND,
    )
    router.add_api_route(
        f"/{{{param}}}/review", review, methods=["POST"], name=f"review_{kind}",
        description=review_description, dependencies=[allow("quality.review")], **COMMAND,
    )
