"""The access record: one event per attempt to read medium or high information.

SPEC.md, "Confidentiality": every read of personal or confidential
information is recorded *before* the data is returned, refused attempts too.
Each attempt is its own aggregate with a single event, so recording it is one
insert that never waits for, or conflicts with, another writer's aggregate.

``AccessRecord.Recorded`` (topic ``domain.access_record:AccessRecord.Recorded``)
carries, all as plain JSON values:

=============  ==============================================================
actor          the reader's user id
role           the reader's role at the time
target         ``subject`` | ``buyer`` | ``access_history``
target_id      the subject id, the buyer record's id, or None (history)
subject_id     the subject concerned (a reveal, or history filtered by it)
fields         the field names asked for (never values)
purpose        the stated purpose
level          ``medium`` | ``high``
grant_id       the grant cited, if any
item_id        the ticket or case cited, if any
request_id     the request's id (``X-Request-Id``)
client         the client address
outcome        ``granted`` | ``refused``
reason         why: the basis when granted (:data:`BASES`), else a refusal code
query          for ``access_history``: the filters used ({subject_id, actor})
at             when (the ledger's clock)
=============  ==============================================================
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from eventsourcing.domain import Aggregate, event


class Outcome(StrEnum):
    GRANTED = "granted"
    REFUSED = "refused"


class Target(StrEnum):
    SUBJECT = "subject"
    BUYER = "buyer"
    ACCESS_HISTORY = "access_history"


# Why an access was granted.
BASES = ("project_lead", "assignee", "team", "grant", "role")
# Why one was refused (``reason`` of a refused record).
REFUSALS = (
    "role",  # the authorisation table does not give the role this action
    "not_found",  # no such subject
    "subject_destroyed",  # the subject's personal data was destroyed (410)
    "no_basis",  # neither the project lead, nor an assigned item, nor a grant
    "item_not_found",
    "item_other_subject",  # the cited item concerns another subject
    "not_assigned",  # the actor neither holds nor is on the team of the cited item
    "grant_not_found",
    "grant_other_reader",
    "grant_other_target",
    "grant_fields",  # the grant does not cover every field asked for
    "grant_requested",  # not approved (yet)
    "grant_rejected",
    "grant_revoked",
    "grant_expired",
)


class AccessRecord(Aggregate):
    """One attempt to read medium or high information, and its outcome."""

    @event("Recorded")
    def __init__(
        self,
        actor: str,
        role: str,
        target: str,
        target_id: str | None,
        subject_id: str | None,
        fields: list[str],
        purpose: str,
        level: str,
        grant_id: str | None,
        item_id: str | None,
        request_id: str,
        client: str | None,
        outcome: str,
        reason: str,
        query: dict[str, Any] | None,
        at: datetime,
    ) -> None:
        self.actor = actor
        self.role = role
        self.target = target
        self.target_id = target_id
        self.subject_id = subject_id
        self.fields = fields
        self.purpose = purpose
        self.level = level
        self.grant_id = grant_id
        self.item_id = item_id
        self.request_id = request_id
        self.client = client
        self.outcome = outcome
        self.reason = reason
        self.query = query
        self.at = at

    @property
    def granted(self) -> bool:
        return self.outcome == Outcome.GRANTED.value


RECORDED_TOPIC = "domain.access_record:AccessRecord.Recorded"


def record_view(event: Any, position: int | None = None) -> dict[str, Any]:
    """An ``AccessRecord.Recorded`` event as a plain dict (for the access history)."""
    return {
        "id": str(event.originator_id),
        "position": position,
        "actor": event.actor,
        "role": event.role,
        "target": event.target,
        "target_id": event.target_id,
        "subject_id": event.subject_id,
        "fields": list(event.fields),
        "purpose": event.purpose,
        "level": event.level,
        "grant_id": event.grant_id,
        "item_id": event.item_id,
        "request_id": event.request_id,
        "client": event.client,
        "outcome": event.outcome,
        "reason": event.reason,
        "query": event.query,
        "at": event.at,
    }


# -- what an attempt asked for, bounded, for records written before the input is validated --
def asked_fields(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(name)[:40] for name in value[:20]]


def stated_purpose(value: object, max_length: int = 500) -> str:
    return value.strip()[:max_length] if isinstance(value, str) else ""


def bounded_ref(value: object) -> str | None:
    return None if value is None else str(value)[:64]
