"""Access grants (申请、审批、使用): apply, approve or reject, use, expire, revoke.

A grant names its reader (the user who applied), what it covers (one subject,
or the buyer's record), the fields, the purpose and the time it ends. Only the
project lead decides, and never on their own application. A grant is *usable*
while it is approved, unrevoked and ``now < valid_until`` by the ledger's
clock: expiry needs no event, it is a comparison at the moment of use.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, RuleViolationError
from domain.values import optional_text, require_aware, require_text

MAX_PURPOSE = 500
MAX_REASON = 1000


class GrantStatus(StrEnum):
    REQUESTED = "requested"
    APPROVED = "approved"
    REJECTED = "rejected"
    REVOKED = "revoked"
    EXPIRED = "expired"  # derived: approved, and valid_until has passed


class GrantTarget(StrEnum):
    SUBJECT = "subject"
    BUYER = "buyer"


def require_fields(value: object, allowed: list[str] | tuple[str, ...], field: str) -> list[str]:
    """A non-empty list of distinct field names, each one of ``allowed`` (order kept)."""
    if not isinstance(value, list) or not value:
        raise InvalidInputError(field, f"{field} must be a non-empty list of field names")
    names = []
    for i, item in enumerate(value):
        if not isinstance(item, str) or item not in allowed:
            raise InvalidInputError(
                field, f"{field}[{i}] must be one of: {', '.join(allowed)}"
            )
        if item not in names:
            names.append(item)
    return names


class Grant(Aggregate):
    """Permission for one reader to read named fields of one subject (or the buyer's record)."""

    @event("Applied")
    def __init__(
        self,
        reader: str,
        reader_role: str,
        target: str,
        target_id: str,
        fields: list[str],
        purpose: str,
        valid_until: datetime,
        at: datetime,
    ) -> None:
        self.reader = reader
        self.reader_role = reader_role
        self.target = target
        self.target_id = target_id
        self.fields = fields
        self.purpose = purpose
        self.valid_until = valid_until
        self.applied_at = at
        self.status = GrantStatus.REQUESTED.value
        self.decided_by: str | None = None
        self.decided_at: datetime | None = None
        self.decision_reason: str | None = None
        self.revoked_by: str | None = None
        self.revoked_at: datetime | None = None
        self.revocation_reason: str | None = None

    @classmethod
    def apply(
        cls,
        *,
        reader: str,
        reader_role: str,
        target: str,
        target_id: str,
        fields: list[str],
        purpose: object,
        valid_until: object,
        at: datetime,
    ) -> Grant:
        until = require_aware(valid_until, "valid_until")
        if until <= at:
            raise InvalidInputError("valid_until", "valid_until must be in the future")
        return cls(
            reader=reader,
            reader_role=reader_role,
            target=GrantTarget(target).value,
            target_id=target_id,
            fields=fields,
            purpose=require_text(purpose, "purpose", max_length=MAX_PURPOSE),
            valid_until=until,
            at=at,
        )

    # -- questions ------------------------------------------------------------------------
    def status_at(self, now: datetime) -> str:
        """The status, with ``expired`` for an approved grant whose time is up."""
        if self.status == GrantStatus.APPROVED.value and now >= self.valid_until:
            return GrantStatus.EXPIRED.value
        return self.status

    def is_usable(self, now: datetime) -> bool:
        return self.status_at(now) == GrantStatus.APPROVED.value

    @property
    def is_final(self) -> bool:
        """Rejected or revoked: nothing more can happen to it."""
        return self.status in (GrantStatus.REJECTED.value, GrantStatus.REVOKED.value)

    # -- decisions (project lead) -----------------------------------------------------------
    def _check_requested(self, action: str) -> None:
        if self.status != GrantStatus.REQUESTED.value:
            raise RuleViolationError(
                f"grant.{action}.not_requested",
                f"the grant is {self.status}; only a requested grant can be {action}d",
            )

    def approve(self, *, by: str, at: datetime) -> None:
        """审批: someone other than the reader allows the grant until ``valid_until``."""
        self._check_requested("approve")
        if by == self.reader:
            raise RuleViolationError(
                "grant.approve.self_approval", "nobody approves their own access grant"
            )
        if at >= self.valid_until:
            raise RuleViolationError(
                "grant.approve.expired", "the grant's valid_until has passed: apply again"
            )
        self._approved(by=by, at=at)

    @event("Approved")
    def _approved(self, by: str, at: datetime) -> None:
        self.status = GrantStatus.APPROVED.value
        self.decided_by = by
        self.decided_at = at

    def reject(self, *, by: str, reason: object, at: datetime) -> None:
        self._check_requested("reject")
        self._rejected(by=by, reason=optional_text(reason, "reason", max_length=MAX_REASON), at=at)

    @event("Rejected")
    def _rejected(self, by: str, reason: str | None, at: datetime) -> None:
        self.status = GrantStatus.REJECTED.value
        self.decided_by = by
        self.decided_at = at
        self.decision_reason = reason

    def revoke(self, *, by: str, reason: object, at: datetime) -> None:
        """End a requested or approved grant now (also when its reader leaves)."""
        if self.is_final:
            raise RuleViolationError(
                "grant.revoke.final", f"the grant is {self.status}; there is nothing to revoke"
            )
        self._revoked(by=by, reason=optional_text(reason, "reason", max_length=MAX_REASON), at=at)

    @event("Revoked")
    def _revoked(self, by: str, reason: str | None, at: datetime) -> None:
        self.status = GrantStatus.REVOKED.value
        self.revoked_by = by
        self.revoked_at = at
        self.revocation_reason = reason


def grant_receipt(grant: Grant, now: datetime) -> dict[str, object]:
    """A grant as answers show it and idempotency records store it (times as ISO strings)."""
    return {
        "id": str(grant.id),
        "status": grant.status_at(now),
        "reader": grant.reader,
        "reader_role": grant.reader_role,
        "target": grant.target,
        "subject_id": grant.target_id if grant.target == GrantTarget.SUBJECT.value else None,
        "fields": list(grant.fields),
        "purpose": grant.purpose,
        "valid_until": grant.valid_until.isoformat(),
        "applied_at": grant.applied_at.isoformat(),
        "decided_by": grant.decided_by,
        "decided_at": grant.decided_at.isoformat() if grant.decided_at else None,
        "decision_reason": grant.decision_reason,
        "revoked_by": grant.revoked_by,
        "revoked_at": grant.revoked_at.isoformat() if grant.revoked_at else None,
        "version": grant.version,
    }
