"""Data subjects: the citizens and enterprises whose personal data the service holds.

The aggregate never sees plaintext after registration: the application seals
the personal fields (``name``, ``id_number``, ``mobile``, ``uscc``) before they
reach the event, and keeps only display masks in the clear of the event state.
Reading a sealed field is the read gate's job, never the aggregate's.
"""

from __future__ import annotations

from datetime import datetime

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, RuleViolationError
from domain.identifiers import (
    mask_enterprise_name,
    mask_mobile,
    mask_name,
    mask_resident_id,
    mask_uscc,
    validate_mobile,
    validate_resident_id,
    validate_uscc,
)
from domain.values import require_text
from domain.vocabulary import SubjectKind, parse

PERSONAL_FIELDS = ("name", "id_number", "mobile", "uscc")


def validate_subject_fields(
    kind: str,
    name: object,
    id_number: object | None,
    mobile: object | None,
    uscc: object | None,
) -> tuple[str, dict[str, str]]:
    """Check a new subject's fields; return its kind and the normalised personal fields.

    A person may carry a resident ID number and a mobile number; an enterprise
    carries a unified social credit code (and may carry a contact mobile).
    """
    subject_kind = parse(SubjectKind, kind, "kind").value
    fields = {"name": require_text(name, "name", max_length=200)}
    if id_number not in (None, ""):
        if subject_kind != SubjectKind.PERSON.value:
            raise InvalidInputError("id_number", "only a person has a resident ID number")
        fields["id_number"] = validate_resident_id(_as_str(id_number, "id_number"))
    if mobile not in (None, ""):
        fields["mobile"] = validate_mobile(_as_str(mobile, "mobile"))
    if uscc not in (None, ""):
        if subject_kind != SubjectKind.ENTERPRISE.value:
            raise InvalidInputError("uscc", "only an enterprise has a unified social credit code")
        fields["uscc"] = validate_uscc(_as_str(uscc, "uscc"))
    return subject_kind, fields


def _as_str(value: object, field: str) -> str:
    if not isinstance(value, str):
        raise InvalidInputError(field, f"{field} must be a string")
    return value


def masks_for(kind: str, fields: dict[str, str]) -> dict[str, str]:
    """The masked forms shown everywhere outside the read gate."""
    masked = {
        "name": (
            mask_name(fields["name"])
            if kind == SubjectKind.PERSON.value
            else mask_enterprise_name(fields["name"])
        )
    }
    if "id_number" in fields:
        masked["id_number"] = mask_resident_id(fields["id_number"])
    if "mobile" in fields:
        masked["mobile"] = mask_mobile(fields["mobile"])
    if "uscc" in fields:
        masked["uscc"] = mask_uscc(fields["uscc"])
    return masked


MASK_PREFIX = "mask:"


class Subject(Aggregate):
    """A person or enterprise; personal fields, and even their masks, held only sealed.

    ``sealed`` maps each field to its sealed token; ``sealed_masks`` maps it to
    its sealed display mask. Both open with the subject's data key, so both are
    gone once the key is destroyed.
    """

    @event("Registered")
    def __init__(
        self,
        kind: str,
        sealed: dict[str, str],
        sealed_masks: dict[str, str],
        at: datetime,
        by: str,
    ) -> None:
        self.kind = kind
        self.sealed = sealed
        self.sealed_masks = sealed_masks
        self.registered_at = at
        self.registered_by = by
        self.destroyed_at: datetime | None = None
        self.destruction_request_id: str | None = None

    @property
    def fields(self) -> list[str]:
        """Names of the personal fields this subject has."""
        return list(self.sealed)

    @property
    def is_destroyed(self) -> bool:
        return self.destroyed_at is not None

    def check_not_destroyed(self) -> None:
        if self.is_destroyed:
            raise RuleViolationError(
                "subject.destroyed",
                f"the subject's personal data was destroyed at {self.destroyed_at.isoformat()}"
                f" (request {self.destruction_request_id})",
            )

    def record_destruction(self, request_id: str, at: datetime, by: str) -> None:
        """Record that the subject's data key was destroyed (crypto-shredding)."""
        self.check_not_destroyed()
        self._destroyed(request_id=request_id, at=at, by=by)

    @event("Destroyed")
    def _destroyed(self, request_id: str, at: datetime, by: str) -> None:
        self.destroyed_at = at
        self.destruction_request_id = request_id
