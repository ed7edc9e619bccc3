"""Staff users: accounts, bearer tokens, roles and offboarding (人员更换)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import CatalogDep, CommandContext, LedgerDep, allow
from api.schemas import RequestBody, UserCreate, UserCreated, error_responses
from domain.calendar import SHANGHAI
from domain.people import User, user_receipt

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 403))


class UserDeactivate(RequestBody):
    reassign_to: str | None = Field(
        None,
        description="a colleague's user id: open tickets and cases go to them. Without it,"
        " open tickets return to the unassigned queue and open cases go to you",
    )
    reason: str | None = Field(None, description="recorded with every change (default 人员更换)")


class UserRoleChange(RequestBody):
    role: str = Field(description="one of SPEC.md's roles")


class UserPublic(BaseModel):
    id: str
    name: str
    role: str
    active: bool
    registered_at: datetime
    deactivated_at: datetime | None
    credentials: int = Field(description="bearer tokens issued (never shown again)")
    grants: list[str] = Field(description="ids of the grants the user applied for")
    version: int


class HandedOver(BaseModel):
    kind: str
    id: str
    number: str
    assignee: str | None = Field(description="the new assignee; null: back to the queue")


class TeamLeft(BaseModel):
    kind: str
    id: str
    number: str
    assignee: str | None = Field(description="the ticket's assignee, who keeps it")
    team: list[str] = Field(description="the team without the leaver (may be empty)")


class UserDeactivated(UserPublic):
    credentials_revoked: int
    grants_revoked: list[str]
    work: list[HandedOver]
    teams_left: list[TeamLeft] = Field(
        default_factory=list,
        description="open tickets whose team the user was on: they are taken off it",
    )


TIMES = ("registered_at", "deactivated_at")


def localised_times(receipt: dict[str, Any], keys: tuple[str, ...]) -> dict[str, Any]:
    """A stored receipt (ISO strings) with the named times shown in Asia/Shanghai."""
    shown = dict(receipt)
    for key in keys:
        if isinstance(shown.get(key), str):
            shown[key] = datetime.fromisoformat(shown[key]).astimezone(SHANGHAI)
    return shown


@router.post(
    "", status_code=201, response_model=UserCreated, responses=error_responses(400, 409, 422),
    dependencies=[allow("user.manage")],
)
def create_user(body: UserCreate, ledger: LedgerDep, ctx: CommandContext) -> dict[str, Any]:
    """Add a staff member (project lead only); the token is shown in this answer only."""
    return ledger.add_user(name=body.name, role=body.role, ctx=ctx)


@router.get("/me", response_model=UserPublic)
def read_me(user: Annotated[User, allow("self.read")]) -> dict[str, Any]:
    """The account the bearer token belongs to."""
    return localised_times(user_receipt(user), TIMES)


@router.get(
    "/{user_id}", response_model=UserPublic, responses=error_responses(404),
    dependencies=[allow("user.read")],
)
def read_user(user_id: str, ledger: LedgerDep) -> dict[str, Any]:
    """A staff member's account: role, whether active, credentials and grants by id."""
    return localised_times(user_receipt(ledger.user(user_id)), TIMES)


@router.post(
    "/{user_id}/role", response_model=UserPublic, responses=error_responses(404, 409, 422),
    dependencies=[allow("user.manage")],
)
def change_user_role(
    user_id: str, body: UserRoleChange, ledger: LedgerDep, ctx: CommandContext
) -> dict[str, Any]:
    """Give a staff member another role (recorded); it applies from their next request."""
    return localised_times(ledger.change_role(user_id, body.role, ctx), TIMES)


@router.post(
    "/{user_id}/deactivate",
    response_model=UserDeactivated,
    responses=error_responses(404, 409, 422, 503),
    dependencies=[allow("user.manage")],
)
def deactivate_user(
    user_id: str,
    ledger: LedgerDep,
    catalog: CatalogDep,
    ctx: CommandContext,
    body: UserDeactivate | None = None,
) -> dict[str, Any]:
    """人员更换 in one transaction: revoke every token and grant, hand over open work and take
    the user off the team of every open ticket."""
    given = body or UserDeactivate()
    receipt = ledger.deactivate_user(
        user_id, reassign_to=given.reassign_to, reason=given.reason, work=catalog, ctx=ctx
    )
    return localised_times(receipt, TIMES)
