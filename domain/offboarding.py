"""人员更换: what happens to a leaver's open work, as rules on loaded aggregates (no I/O).

Open tickets go to the named colleague (keeping the rest of a complex
ticket's team) or, without one, back to the unassigned queue
(``Ticket.release``). A complex ticket left with no team apart from the new
assignee is released too: SPEC.md gives complex tickets to a team. Open
cases always need a handler: without a named colleague they go to the project
lead who carries out the deactivation, who hands them on from there.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from domain.access import allows
from domain.errors import InvalidInputError
from domain.service_case import ServiceCase
from domain.ticket import Ticket
from domain.vocabulary import Complexity
from domain.work_item import WorkItem

WORK_ACTION = {"ticket": "ticket.work", "case": "case.work"}
PAGE = 500


class WorkIndex(Protocol):
    """Finds items by assignee: the item catalog (``projections.catalog.ItemCatalog``)."""

    def query(
        self, kind: str, *, assignee: str | None = ..., limit: int = ..., cursor: str | None = ...
    ) -> tuple[list[dict[str, Any]], str | None]: ...


def open_item_ids(work: WorkIndex, assignee: str) -> list[str]:
    """Ids of the tickets and cases the index lists as assigned to ``assignee``, not done."""
    ids = []
    for kind in WORK_ACTION:
        cursor = None
        while True:
            page, cursor = work.query(kind, assignee=assignee, limit=PAGE, cursor=cursor)
            ids.extend(row["id"] for row in page if row.get("done_at") is None)
            if not cursor:
                break
    return ids


def still_open_with(item: object, assignee: str) -> bool:
    """The loaded item is a ticket or case, not done, and still with ``assignee``."""
    return (
        isinstance(item, WorkItem)
        and not item.is_done
        and getattr(item, "assignee", None) == assignee
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
