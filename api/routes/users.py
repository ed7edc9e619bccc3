"""Staff users and their bearer tokens."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import CommandContext, CurrentUser, LedgerDep, require_role
from api.schemas import UserCreate, UserCreated, error_responses
from domain.vocabulary import Role

router = APIRouter(prefix="/users", tags=["users"], responses=error_responses(401, 403))


@router.post(
    "", status_code=201, response_model=UserCreated, responses=error_responses(400, 409, 422)
)
def create_user(
    body: UserCreate, user: CurrentUser, ledger: LedgerDep, ctx: CommandContext
) -> dict[str, Any]:
    """Add a staff member (project lead only); the token is shown in this answer only."""
    require_role(user, Role.PROJECT_LEAD.value)
    return ledger.add_user(name=body.name, role=body.role, ctx=ctx)
