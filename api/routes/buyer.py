"""The buyer's basic information (采购人基本信息): high level, project lead only, via the gate."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CommandContext, LedgerDep, RequestMetaDep, allow
from api.routes.access import GATE_ERRORS, Revealed
from api.routes.users import localised_times
from api.schemas import RequestBody, error_responses
from domain.buyer import buyer_receipt
from domain.ledger import Context
from domain.people import User

router = APIRouter(prefix="/buyer", tags=["buyer"], responses=error_responses(401, 403))


class BuyerSet(RequestBody):
    organisation: str | None = None
    contact_person: str | None = None
    contact_phone: str | None = None
    address: str | None = None


class BuyerPublic(BaseModel):
    id: str
    fields: list[str] = Field(description="which fields are held (sealed); never their values")
    updated_at: datetime
    updated_by: str
    version: int


class BuyerReveal(RequestBody):
    fields: list[str] = Field(description="organisation, contact_person, contact_phone, address")
    purpose: str
    grant_id: str | None = None


@router.put(
    "", response_model=BuyerPublic, responses=error_responses(409, 422),
    dependencies=[allow("buyer.manage")],
)
def set_buyer(body: BuyerSet, ledger: LedgerDep, ctx: CommandContext) -> dict[str, Any]:
    """Seal and store the buyer's fields; those given replace the stored ones."""
    receipt = ledger.set_buyer(body.model_dump(exclude_none=True), ctx)
    return localised_times(receipt, ("updated_at",))


@router.get(
    "", response_model=BuyerPublic, responses=error_responses(404),
    dependencies=[allow("buyer.manage")],
)
def read_buyer(ledger: LedgerDep) -> dict[str, Any]:
    """Which fields the buyer's record holds, and when it last changed (no values)."""
    return localised_times(buyer_receipt(ledger.buyer()), ("updated_at",))


@router.post("/reveal", response_model=Revealed, responses=GATE_ERRORS)
def reveal_buyer(
    body: BuyerReveal,
    user: Annotated[User, allow("buyer.reveal", gated=True)],
    ledger: LedgerDep,
    meta: RequestMetaDep,
) -> dict[str, Any]:
    """The buyer's fields in plain text, after the access is recorded (project lead)."""
    return ledger.reveal_buyer(
        body.fields,
        body.purpose,
        grant_id=body.grant_id,
        request_id=meta.request_id,
        client=meta.client,
        ctx=Context(actor=str(user.id)),
        reader=user,
    )
