"""Liveness: is the service up, which store, how long is the log."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import PUBLIC, LedgerDep
from api.schemas import Health

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", response_model=Health, dependencies=[PUBLIC])
def read_health(request: Request, ledger: LedgerDep) -> dict[str, object]:
    """Whether the service is up, its store, and how many events the log holds."""
    return {
        "status": "ok",
        "store": request.app.state.settings.store,
        "log_length": ledger.log_length(),
    }
