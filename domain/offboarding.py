"""人员更换: what happens to a leaver's open work, as rules on loaded aggregates (no I/O).

Open tickets go to the named colleague (keeping the rest of a complex
ticket's team) or, without one, back to the unassigned queue
(``Ticket.release``). A complex ticket left with no team apart from the new
assignee is released too: SPEC.md gives complex tickets to a team. Open
cases always need a handler: without a named colleague they go to the project
lead who carries out the deactivation, who hands them on from there.

A leaver who is only on the team of an open ticket is taken off that team
(``Ticket.remove_team_member``); the assignee keeps the ticket. The catalog
does not index teams, so the open tickets that can have one (assigned or in
progress) are loaded and looked at one by one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.access import allows
from domain.errors import InvalidInputError
from domain.service_case import ServiceCase
from domain.ticket import Ticket
from domain.vocabulary import Complexity, TicketStatus
from domain.work_item import WorkItem

WORK_ACTION = {"ticket": "ticket.work", "case": "case.work"}
PAGE = 500
# The ticket statuses in which a ticket can have a team (released tickets have none).
TEAM_STATUSES = (TicketStatus.ASSIGNED.value, TicketStatus.IN_PROGRESS.value)


class WorkIndex(Protocol):
    """Finds items by assignee or status: the item catalog (``projections.catalog.ItemCatalog``)."""

    def query(
        self,
        kind: str,
        *,
        status: str | None = ...,
        assignee: str | None = ...,
        limit: int = ...,
        cursor: str | None = ...,
    ) -> tuple[list[dict[str, Any]], str | None]: ...


def _ids(work: WorkIndex, kind: str, **filters: str) -> list[str]:
    ids = []
    cursor = None
    while True:
        page, cursor = work.query(kind, **filters, limit=PAGE, cursor=cursor)
        ids.extend(row["id"] for row in page if row.get("done_at") is None)
        if not cursor:
            return ids


def open_item_ids(work: WorkIndex, assignee: str) -> list[str]:
    """Ids of the tickets and cases the index lists as assigned to ``assignee``, not done."""
    return [ident for kind in WORK_ACTION for ident in _ids(work, kind, assignee=assignee)]


def team_ticket_ids(work: WorkIndex) -> list[str]:
    """Ids of the open tickets that can have a team: every assigned or in-progress ticket."""
    return [ident for status in TEAM_STATUSES for ident in _ids(work, "ticket", status=status)]


def still_open_with(item: object, assignee: str) -> bool:
    """The loaded item is a ticket or case, not done, and still with ``assignee``."""
    return (
        isinstance(item, WorkItem)
        and not item.is_done
        and getattr(item, "assignee", None) == assignee
    )


def still_on_team(item: object, member: str) -> bool:
    """The loaded item is an open ticket with ``member`` on its team (not as its assignee)."""
    return (
        isinstance(item, Ticket)
        and not item.is_done
        and member in item.team
        and item.assignee != member
    )


def check_heir(heir_role: str | None, items: Sequence[WorkItem]) -> None:
    """The named colleague's role must allow the work handed over."""
    if heir_role is None:
        return
    for kind in sorted({item.kind for item in items}):
        if not allows(heir_role, WORK_ACTION[kind]):
            raise InvalidInputError(
                "reassign_to", f"the colleague's role {heir_role} may not {WORK_ACTION[kind]}"
            )


def hand_over(
    item: WorkItem, leaver: str, heir: str | None, lead: str, why: str, at: datetime
) -> dict[str, Any]:
    """Reassign or release one open item of ``leaver``; return what happened to it."""
    step_at = max(at, item.last_event_at)
    if isinstance(item, Ticket):
        team = [m for m in item.team if m not in (leaver, heir)]
        complex_alone = bool(item.classification) and not team and (
            item.classification["complexity"] == Complexity.COMPLEX.value  # type: ignore[index]
        )
        if heir is not None and not complex_alone:
            item.assign(assignee=heir, reason=why, team=team, at=step_at, by=lead)
        else:
            item.release(reason=why, at=step_at, by=lead)
        return {"kind": "ticket", "id": str(item.id), "number": item.number,
                "assignee": item.assignee}
    assert isinstance(item, ServiceCase)
    item.assign(assignee=heir or lead, reason=why, at=step_at, by=lead)
    return {"kind": "case", "id": str(item.id), "number": item.number, "assignee": item.assignee}


def leave_team(item: Ticket, leaver: str, lead: str, why: str, at: datetime) -> dict[str, Any]:
    """Take ``leaver`` off an open ticket's team; return the ticket's assignee and team."""
    item.remove_team_member(leaver, reason=why, at=max(at, item.last_event_at), by=lead)
    return {"kind": "ticket", "id": str(item.id), "number": item.number,
            "assignee": item.assignee, "team": list(item.team)}
