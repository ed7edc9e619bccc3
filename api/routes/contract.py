"""The contract's terms: service period, yearly targets and the progress-warning margin.

Terms are events (``domain/contract_terms.py``): a report as of a date uses the
terms recorded by then, so changing a target never rewrites a past figure.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field, StrictFloat, StrictInt

from api.deps import CommandContext, LedgerDep, allow
from api.schemas import RequestBody, error_responses
from api.views import set_etag

router = APIRouter(prefix="/contract", tags=["contract"], responses=error_responses(401, 403))


class Targets(RequestBody):
    tickets: StrictInt | None = Field(None, description="tickets handled in the contract year")
    services: StrictInt | None = Field(None, description="services handled in the contract year")


class TermsSet(RequestBody):
    start: date | None = Field(None, description="the service period's first day")
    months: StrictInt | None = Field(None, description="length of the service period")
    targets: Targets | None = None
    warning_margin: StrictFloat | StrictInt | None = Field(
        None, description="share behind plan before a progress warning (0.05 = 5%)"
    )
    reason: str | None = Field(None, description="required when terms are already recorded")


class TermsPublic(BaseModel):
    start: date
    months: int
    targets: dict[str, int]
    warning_margin: float


class TermsChange(TermsPublic):
    reason: str | None
    set_at: str
    set_by: str


class ContractInfo(BaseModel):
    terms: TermsPublic
    recorded: bool = Field(description="false while SPEC.md's defaults apply")
    history: list[TermsChange]
    version: int


class TermsReceipt(BaseModel):
    terms: TermsPublic
    changed: bool = Field(description="false when these terms were already in force")
    version: int


@router.get("", response_model=ContractInfo, dependencies=[allow("terms.read")])
def read_contract(ledger: LedgerDep, response: Response) -> dict[str, Any]:
    """The terms in force and every change (who, when, why)."""
    info = ledger.contract_info()
    set_etag(response, info)
    return info


@router.put(
    "", response_model=TermsReceipt, responses=error_responses(409, 422),
    dependencies=[allow("terms.manage")],
)
def set_contract(body: TermsSet, ledger: LedgerDep, ctx: CommandContext, response: Response
                 ) -> dict[str, Any]:
    """Record the terms; fields left out keep the values in force.

    ``If-Match`` takes the terms' version (``GET /contract``'s ETag).
    """
    given = body.model_dump(exclude_none=True, exclude={"reason"})
    if "start" in given:
        given["start"] = given["start"].isoformat()
    receipt = ledger.set_contract_terms(given, ctx, reason=body.reason)
    set_etag(response, receipt)
    return receipt
