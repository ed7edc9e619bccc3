"""An access history for confidentiality officers, from the log itself (``replay access``).

Who read which subject's data, when, why and on what basis — every attempt,
granted or refused — straight from the ``AccessRecord`` events of the log, not
from a view, so it holds even when the views are stale or were never built.
The Ledger's gate records this read first (with its filters and purpose) and
refuses it, recorded too, when the officer's role may not read the access log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from domain.calendar import SHANGHAI
from domain.ledger import Context, Ledger
from domain.people import User

EVERYTHING = 10_000_000


def access_history(
    ledger: Ledger,
    reader: User,
    *,
    subject_id: str | None = None,
    actor: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    purpose: str = "access log review",
    request_id: str = "cli",
) -> dict[str, Any]:
    """The records of a subject and/or an actor between two instants, oldest first."""
    answer = ledger.access_history(
        subject_id=subject_id, actor=actor, purpose=purpose, limit=EVERYTHING, cursor=0,
        request_id=request_id, client="cli", ctx=Context(actor=str(reader.id)), reader=reader,
    )
    items = [
        {**item, "at": item["at"].astimezone(SHANGHAI).isoformat()}
        for item in answer["items"]
        if (start is None or item["at"] >= start) and (end is None or item["at"] <= end)
    ]
    return {"items": items, "access_position": answer["access_position"],
            "subject_id": subject_id, "actor": actor,
            "from": start.isoformat() if start else None, "to": end.isoformat() if end else None}
