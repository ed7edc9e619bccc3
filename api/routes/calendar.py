"""The working calendar's year schedules: what is in force, and loading a new one.

A schedule is an event (``domain/calendar_book.py``): deadlines of later steps
use it, figures as of earlier dates do not change. The project lead loads the
State Council's notice for the next year as soon as it is published
(``docs/calendar-overrides.md``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from api.deps import CommandContext, LedgerDep, allow
from api.schemas import RequestBody, error_responses
from api.views import set_etag

router = APIRouter(prefix="/calendar", tags=["calendar"], responses=error_responses(401, 403))


class ScheduleLoad(RequestBody):
    holidays: list[str] = Field(description="weekdays (Mon-Fri) that are off, YYYY-MM-DD")
    workdays: list[str] = Field(description="weekend days that are worked (调休), YYYY-MM-DD")
    source: str = Field(description="the notice, e.g. 国办发明电〔2026〕N号")
    reason: str | None = Field(None, description="why it is loaded (a correction says so)")


class ScheduleLoaded(BaseModel):
    year: int
    source: str
    changed: bool = Field(description="false when this schedule was already in force")
    version: int


class YearInForce(BaseModel):
    year: int
    source: str
    holidays: int
    workdays: int


class ScheduleHistoryEntry(BaseModel):
    year: int
    source: str
    reason: str | None
    loaded_at: str
    loaded_by: str


class CalendarInfo(BaseModel):
    known_years: list[int]
    in_force: list[YearInForce]
    history: list[ScheduleHistoryEntry]
    version: int


@router.get("", response_model=CalendarInfo, dependencies=[allow("terms.read")])
def read_calendar(ledger: LedgerDep, response: Response) -> dict[str, Any]:
    """The years the calendar knows, the schedules loaded over the built-in data, and when."""
    info = ledger.calendar_info()
    set_etag(response, info)
    return info


@router.get("/{year}", dependencies=[allow("terms.read")], responses=error_responses(404))
def read_year(year: Annotated[int, Path(ge=1900, le=2200)], ledger: LedgerDep
              ) -> dict[str, Any]:
    """One year's working days and adjusted weekends, as the calendar in force has them."""
    return ledger.calendar_year(year)


@router.put(
    "/{year}", response_model=ScheduleLoaded, responses=error_responses(409, 422),
    dependencies=[allow("terms.manage")],
)
def load_schedule(
    year: Annotated[int, Path(ge=1900, le=2200)], body: ScheduleLoad, ledger: LedgerDep,
    ctx: CommandContext, response: Response,
) -> dict[str, Any]:
    """Record a year's schedule (replacing the one in force for that year).

    ``If-Match`` takes the calendar's version (``GET /calendar``'s ETag).
    """
    schedule = {"year": year, "holidays": body.holidays, "workdays": body.workdays,
                "source": body.source}
    receipt = ledger.load_calendar_schedule(schedule, ctx, reason=body.reason)
    set_etag(response, receipt)
    return receipt

