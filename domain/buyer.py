"""The buyer's basic information (采购人基本信息): high-level, project lead only.

One record per deployment, with a fixed id. Its fields are sealed like a
subject's (with a data key of the record's own), so they are readable only
through the read gate, which records every attempt first.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError
from domain.values import require_text

BUYER_RECORD_ID = uuid.UUID("0b7c1d44-4a8e-4f67-9f0c-7d0a3c2e5b19")
BUYER_FIELDS = ("organisation", "contact_person", "contact_phone", "address")
MAX_FIELD = 500


def validate_buyer_fields(given: dict[str, Any]) -> dict[str, str]:
    """The buyer's fields, each a non-blank string; at least one, none unknown."""
    unknown = [name for name in given if name not in BUYER_FIELDS]
    if unknown:
        raise InvalidInputError(unknown[0], f"the buyer's record has no field {unknown[0]}")
    fields = {
        name: require_text(value, name, max_length=MAX_FIELD)
        for name, value in given.items()
        if value is not None
    }
    if not fields:
        raise InvalidInputError("organisation", "give at least one of: " + ", ".join(BUYER_FIELDS))
    return fields


class BuyerRecord(Aggregate):
    """The buyer's sealed basic information; each change replaces the fields it names."""

    @staticmethod
    def create_id(**_: object) -> uuid.UUID:
        return BUYER_RECORD_ID

    @event("Set")
    def __init__(self, sealed: dict[str, str], at: datetime, by: str) -> None:
        self.sealed = dict(sealed)
        self.updated_at = at
        self.updated_by = by

    def update(self, sealed: dict[str, str], at: datetime, by: str) -> None:
        self._updated(sealed=sealed, at=at, by=by)

    @event("Updated")
    def _updated(self, sealed: dict[str, str], at: datetime, by: str) -> None:
        self.sealed = {**self.sealed, **sealed}
        self.updated_at = at
        self.updated_by = by

    @property
    def fields(self) -> list[str]:
        return [name for name in BUYER_FIELDS if name in self.sealed]


def buyer_receipt(buyer: BuyerRecord) -> dict[str, object]:
    """Which fields the buyer's record holds and when it changed; never their values."""
    return {
        "id": str(buyer.id),
        "fields": buyer.fields,
        "updated_at": buyer.updated_at.isoformat(),
        "updated_by": buyer.updated_by,
        "version": buyer.version,
    }
