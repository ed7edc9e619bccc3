"""How aggregates and receipts are shown over HTTP.

Times are shown in the contract's zone (Asia/Shanghai) with their offset.
Subjects appear only by id and masks: no view here unseals a personal field.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from fastapi import Response

from domain.calendar import SHANGHAI
from domain.ledger import Ledger
from domain.service_case import ServiceCase
from domain.subject import Subject
from domain.ticket import Ticket
from domain.work_item import WorkItem


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(SHANGHAI) if value is not None else None


def localised(value: Any) -> Any:
    """A copy of ``value`` with every datetime inside it moved to Asia/Shanghai."""
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI)
    if isinstance(value, Mapping):
        return {k: localised(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [localised(v) for v in value]
    return value


def set_etag(response: Response, receipt: Mapping[str, Any]) -> None:
    """``ETag: "<version>"`` when the answer carries a version."""
    version = receipt.get("version")
    if isinstance(version, int):
        response.headers["ETag"] = f'"{version}"'


def item_receipt(receipt: Mapping[str, Any]) -> dict[str, Any]:
    """The ledger's receipt with ``due_at`` shown in Asia/Shanghai."""
    due = receipt.get("due_at")
    shown = dict(receipt)
    if isinstance(due, str):
        shown["due_at"] = datetime.fromisoformat(due).astimezone(SHANGHAI)
    return shown


def subject_view(subject: Subject, masked: Mapping[str, str]) -> dict[str, Any]:
    """The masked view; ``masked`` comes from ``Ledger.masks`` (sealed like the fields)."""
    return {
        "id": str(subject.id),
        "kind": subject.kind,
        "name_masked": masked.get("name"),
        "id_number_masked": masked.get("id_number"),
        "mobile_masked": masked.get("mobile"),
        "uscc_masked": masked.get("uscc"),
        "fields": subject.fields,
        "registered_at": local(subject.registered_at),
        "destroyed": subject.is_destroyed,
        "destroyed_at": local(subject.destroyed_at),
        "version": subject.version,
    }


def _work_item_view(ledger: Ledger, item: WorkItem, done_at: datetime | None) -> dict[str, Any]:
    now = ledger.now()
    deadlines = ledger.sla.deadlines(item, now)
    return {
        "id": str(item.id),
        "number": item.number,
        "status": item.status,  # type: ignore[attr-defined]
        "assignee": item.assignee,  # type: ignore[attr-defined]
        "received_at": local(item.received_at),
        "due_at": local(deadlines[0].due_at),
        "sla_state": ledger.sla.state(item, now).value,
        "deadlines": [
            {
                **d.as_dict(),
                "started_at": local(d.started_at),
                "due_at": local(d.due_at),
                "met_at": local(d.met_at),
            }
            for d in deadlines
        ],
        "paused": item.is_paused,
        "pauses": [{"started_at": local(s), "ended_at": local(e)} for s, e in item.pauses],
        "resolved_at": local(done_at),
        "callbacks": localised(item.callbacks),
        "reviews": localised(item.reviews),
        "version": item.version,
    }


def ticket_view(ledger: Ledger, ticket: Ticket) -> dict[str, Any]:
    """The whole ticket, for staff: its description is work content, not a subject's data."""
    return {
        **_work_item_view(ledger, ticket, ticket.resolved_at),
        "channel": ticket.channel,
        "requester_id": ticket.requester_id,
        "description": ticket.description,
        "classification": ticket.classification,
        "team": list(ticket.team),
        "steps": localised(ticket.steps),
        "assignments": localised(ticket.assignments),
        "entry_reviews": localised(ticket.entry_reviews),
        "first_response_at": local(ticket.first_response_at),
        "resolution": ticket.resolution,
        "registered_by": ticket.registered_by,
    }


def case_view(ledger: Ledger, case: ServiceCase) -> dict[str, Any]:
    """The whole case; ``resolved_at`` is when it closed, as ``closed_at``."""
    handovers = [
        {k: v for k, v in entry.items() if k != "step"}
        for entry in case.history
        if entry.get("step") == "assigned"
    ]
    return {
        **_work_item_view(ledger, case, case.closed_at),
        "service_type": case.service_type,
        "subject_id": case.subject_id,
        "materials": list(case.materials),
        "missing": list(case.missing),
        "accepted_at": local(case.accepted_at),
        "decided_at": local(case.decided_at),
        "approved": case.approved,
        "approval_notes": case.approval_notes,
        "closed_at": local(case.closed_at),
        "result": case.result,
        "history": localised(case.history),
        "assignments": localised(handovers),
        "opened_by": case.opened_by,
    }


def command_answer(response: Response, receipt: Mapping[str, Any]) -> dict[str, Any]:
    """A ticket or case command's answer, with its ETag."""
    set_etag(response, receipt)
    return item_receipt(receipt)


def item_page(
    catalog: Any,
    kind: str,
    status: str | None,
    assignee: str | None,
    sla_state: str | None,
    limit: int,
    cursor: str | None,
) -> dict[str, Any]:
    """One page of the catalog for the ticket and case list endpoints."""
    items, next_cursor = catalog.query(
        kind, status=status, assignee=assignee, sla_state=sla_state, limit=limit, cursor=cursor
    )
    return {"items": items, "next_cursor": next_cursor}
