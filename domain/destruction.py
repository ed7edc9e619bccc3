"""信息销毁: a request to destroy a subject's personal data, and its decision.

SPEC.md "Confidentiality": personal data is destroyed on an *approved* request,
and the destruction itself is recorded. Approval follows the apply → approve
spirit of access grants: the person who approves is not the person who asked.
The approval event and the subject's ``Destroyed`` event are saved in one
transaction by the Ledger, which then has the sealer destroy the data key.

The reason is kept in the log forever and is never shredded: it should say
why, not who (no names or numbers of the subject).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.values import require_text

MAX_REASON = 1000


class DestructionStatus(StrEnum):
    REQUESTED = "requested"
    DESTROYED = "destroyed"  # approved: the data key is (being) destroyed
    REJECTED = "rejected"


class DestructionRequest(Aggregate):
    """A request to destroy one subject's personal data."""

    @event("Requested")
    def __init__(self, subject_id: str, reason: str, by: str, at: datetime) -> None:
        self.subject_id = subject_id
        self.reason = reason
        self.requested_by = by
        self.requested_at = at
        self.status = DestructionStatus.REQUESTED.value
        self.approved_by: str | None = None
        self.approved_at: datetime | None = None
        self.rejected_by: str | None = None
        self.rejected_at: datetime | None = None
        self.rejection_reason: str | None = None

    @classmethod
    def request(
        cls, *, subject_id: str, reason: object, by: str, at: datetime
    ) -> DestructionRequest:
        return cls(
            subject_id=subject_id,
            reason=require_text(reason, "reason", max_length=MAX_REASON),
            by=by,
            at=at,
        )

    @property
    def is_approved(self) -> bool:
        return self.status == DestructionStatus.DESTROYED.value

    def check_open(self, action: str) -> None:
        """Only a request still waiting for a decision can be approved or rejected."""
        if self.status != DestructionStatus.REQUESTED.value:
            raise RuleViolationError(
                f"destruction.{action}.not_requested",
                f"the destruction request is {self.status}; only a requested one can be {action}d",
            )

    def approve(self, *, by: str, at: datetime) -> None:
        """Approve: someone other than the requester decides that the data goes."""
        self.check_open("approve")
        if by == self.requested_by:
            raise RuleViolationError(
                "destruction.approve.self_approval",
                "the person who requested a destruction cannot approve it",
            )
        self._approved(by=by, at=at)

    @event("Approved")
    def _approved(self, by: str, at: datetime) -> None:
        self.status = DestructionStatus.DESTROYED.value
        self.approved_by = by
        self.approved_at = at

    def reject(self, *, by: str, reason: object, at: datetime) -> None:
        """Reject: the data stays; the reason is recorded."""
        self.check_open("reject")
        self._rejected(by=by, reason=require_text(reason, "reason", max_length=MAX_REASON), at=at)

    @event("Rejected")
    def _rejected(self, by: str, reason: str, at: datetime) -> None:
        self.status = DestructionStatus.REJECTED.value
        self.rejected_by = by
        self.rejected_at = at
        self.rejection_reason = reason
