"""Aggregates that keep the ledger's own promises: numbering and idempotent retries."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate, event

SEQUENCE_NAMESPACE = uuid.UUID("0c6f5d0e-0a5e-4d2b-8a51-3b1f6f1e2a77")
IDEMPOTENCY_NAMESPACE = uuid.UUID("a3d4f3f0-6a8e-4b7e-b7a4-90d1e2c3b4a5")


def sequence_id(prefix: str, day: date) -> uuid.UUID:
    return uuid.uuid5(SEQUENCE_NAMESPACE, f"{prefix}:{day.isoformat()}")


class NumberSequence(Aggregate):
    """Gap-free daily numbering (GD20261129-0001) for tickets and cases.

    One aggregate per prefix and day: two writers allocating the same number
    collide on the aggregate's version, and the loser retries.
    """

    @staticmethod
    def create_id(prefix: str, day: str, **_: object) -> uuid.UUID:
        return sequence_id(prefix, date.fromisoformat(day))

    @event("Started")
    def __init__(self, prefix: str, day: str) -> None:
        self.prefix = prefix
        self.day = day
        self.issued = 0

    def allocate(self, count: int = 1) -> list[str]:
        """Allocate ``count`` consecutive numbers."""
        first = self.issued + 1
        self._allocated(first=first, count=count)
        compact = self.day.replace("-", "")
        return [f"{self.prefix}{compact}-{n:05d}" for n in range(first, first + count)]

    @event("Allocated")
    def _allocated(self, first: int, count: int) -> None:
        self.issued = first + count - 1


def idempotency_id(actor: str, key: str) -> uuid.UUID:
    return uuid.uuid5(IDEMPOTENCY_NAMESPACE, f"{actor}\x00{key}")


class IdempotencyRecord(Aggregate):
    """The first answer to a command sent with an ``Idempotency-Key``.

    Saved in the same transaction as the command's own events, so a retried
    request either finds this record (and gets the first answer back) or the
    command never happened.
    """

    @staticmethod
    def create_id(actor: str, key: str, **_: object) -> uuid.UUID:
        return idempotency_id(actor, key)

    @event("Recorded")
    def __init__(self, actor: str, key: str, fingerprint: str, receipt: dict[str, Any]) -> None:
        self.actor = actor
        self.key = key
        self.fingerprint = fingerprint
        self.receipt = receipt
