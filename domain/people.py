"""Staff users and their credentials.

A credential's aggregate id is derived from the SHA-256 digest of its bearer
token, so authenticating a request is one lookup by id: no table scan, and the
token itself is never stored.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import RuleViolationError
from domain.values import require_text
from domain.vocabulary import Role, parse

CREDENTIAL_NAMESPACE = uuid.UUID("6f1c8a52-5d43-4a0e-9a7e-2f4b8e0c7d11")


def token_digest(token: str) -> str:
    """SHA-256 of a bearer token; tokens carry 256 random bits, so no slow hash is needed."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def credential_id(digest: str) -> uuid.UUID:
    """The id of the credential aggregate for a token digest."""
    return uuid.uuid5(CREDENTIAL_NAMESPACE, digest)


class User(Aggregate):
    """A member of the provider's staff with one role of SPEC.md."""

    @event("Registered")
    def __init__(
        self, name: str, role: str, at: datetime, by: str, credential_id: str | None = None
    ) -> None:
        self.name = name
        self.role = role
        self.active = True
        self.registered_at = at
        self.deactivated_at: datetime | None = None
        # Links recorded in the user's own events, so offboarding finds them without a scan.
        # (Users registered before credentials were linked carry none: their tokens still
        # stop working at deactivation, because authentication checks the user too.)
        self.credential_ids: list[str] = [credential_id] if credential_id else []
        self.grant_ids: list[str] = []

    @classmethod
    def register(
        cls, *, name: str, role: str, at: datetime, by: str, credential_id: str | None = None
    ) -> User:
        """A new user; ``credential_id`` links the bearer token issued with the account."""
        return cls(
            name=require_text(name, "name", max_length=100),
            role=parse(Role, role, "role").value,
            at=at,
            by=by,
            credential_id=credential_id,
        )

    def link_grant(self, grant_id: str, at: datetime) -> None:
        """This user applied for an access grant."""
        self.check_active()
        self._grant_linked(grant_id=grant_id, at=at)

    @event("GrantLinked")
    def _grant_linked(self, grant_id: str, at: datetime) -> None:
        self.grant_ids.append(grant_id)

    def change_role(self, role: str, at: datetime, by: str) -> None:
        """Give the user another of SPEC.md's roles; the table applies from the next request."""
        self.check_active()
        new_role = parse(Role, role, "role").value
        if new_role == self.role:
            raise RuleViolationError("user.role.unchanged", f"the user already is {new_role}")
        self._role_changed(role=new_role, previous=self.role, at=at, by=by)

    @event("RoleChanged")
    def _role_changed(self, role: str, previous: str, at: datetime, by: str) -> None:
        self.role = role

    def check_active(self) -> None:
        if not self.active:
            raise RuleViolationError("user.inactive", "the user was deactivated")

    def deactivate(self, reason: str | None, at: datetime, by: str) -> None:
        """人员更换: the user leaves; credentials and grants go with them."""
        if not self.active:
            raise RuleViolationError("user.deactivate.inactive", "the user is already inactive")
        self._deactivated(reason=reason, at=at, by=by)

    @event("Deactivated")
    def _deactivated(self, reason: str | None, at: datetime, by: str) -> None:
        self.active = False
        self.deactivated_at = at


class Credential(Aggregate):
    """A bearer token, known only by its digest."""

    @staticmethod
    def create_id(digest: str, **_: object) -> uuid.UUID:
        return credential_id(digest)

    @event("Issued")
    def __init__(self, digest: str, user_id: str, at: datetime) -> None:
        self.digest = digest
        self.user_id = user_id
        self.issued_at = at
        self.revoked_at: datetime | None = None

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    def revoke(self, at: datetime, by: str) -> None:
        if self.revoked_at is None:
            self._revoked(at=at, by=by)

    @event("Revoked")
    def _revoked(self, at: datetime, by: str) -> None:
        self.revoked_at = at


def user_receipt(user: User) -> dict[str, object]:
    """A staff member's account: no token, no digest; links by id."""
    return {
        "id": str(user.id),
        "name": user.name,
        "role": user.role,
        "active": user.active,
        "registered_at": user.registered_at.isoformat(),
        "deactivated_at": user.deactivated_at.isoformat() if user.deactivated_at else None,
        "credentials": len(user.credential_ids),
        "grants": list(user.grant_ids),
        "version": user.version,
    }
