"""The Ledger's plumbing: settings, the command context, loading and committing aggregates.

Every command goes through :meth:`LedgerBase._commit`, which saves the
command's aggregates and, when the caller sent an ``Idempotency-Key``, the
first answer in the same transaction. The concerns built on it (tickets and
cases, people and access, the contract's terms) are in their own modules and
meet in :class:`domain.ledger.Ledger`.

The storage, the cipher and the transcoder come from the environment that
``taizhang.bootstrap`` builds; this module does no I/O of its own.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError
from eventsourcing.utils import Environment

from domain.bookkeeping import IdempotencyRecord, NumberSequence, idempotency_id, sequence_id
from domain.calendar import WorkingCalendar
from domain.calendar_book import CALENDAR_BOOK_ID, CalendarBook
from domain.errors import ConcurrentWriteError, IdempotencyConflictError, NotFoundError
from domain.sla import SlaClock, SlaPolicy
from domain.values import require_aware
from domain.work_item import WorkItem

A = TypeVar("A", bound=Aggregate)
Receipt = dict[str, Any]
NUMBER_RETRIES = 20
CALENDAR_RECHECK_S = 1.0


@dataclass(frozen=True)
class Idempotency:
    """A client's ``Idempotency-Key`` and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class Context:
    """Who issues a command, when, and how a retry of it is recognised."""

    actor: str
    at: datetime | None = None
    idempotency: Idempotency | None = None
    expected_version: int | None = None


class FieldSealer:
    """How personal fields are sealed inside events; ``crypto/`` provides the real one.

    The base class keeps the fields as they are: they are then protected only by
    the store cipher that encrypts every event's state.
    """

    def seal(self, subject_id: UUID, fields: Mapping[str, str]) -> dict[str, str]:
        return dict(fields)

    def unseal(self, subject_id: UUID, sealed: Mapping[str, str]) -> dict[str, str]:
        return dict(sealed)

    def fingerprint(self, message: bytes) -> str:
        """A digest of a request, for idempotency records (keyed by the real sealer)."""
        return hashlib.sha256(message).hexdigest()

    def seal_new(self, subjects: Sequence[tuple[UUID, Mapping[str, str]]]) -> list[dict[str, str]]:
        """Seal the fields of many new subjects at once (the bulk path: one key batch)."""
        return [self.seal(subject_id, fields) for subject_id, fields in subjects]

    # -- crypto-shredding (docs/adr/20261129-crypto-shredding.md) --------------------------
    def destroy(self, subject_id: UUID) -> None:
        """Destroy the subject's data key; idempotent. Without data keys there is none."""

    def is_destroyed(self, subject_id: UUID) -> bool:
        """Whether the subject's data key was destroyed."""
        return False

    # -- end crypto-shredding ------------------------------------------------------------


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class LedgerServices:
    """What the Ledger needs besides storage: pure collaborators, injected."""

    calendar: WorkingCalendar
    policy: SlaPolicy = field(default_factory=SlaPolicy)
    sealer: FieldSealer = field(default_factory=FieldSealer)
    clock: Callable[[], datetime] = _utcnow
    monotonic: Callable[[], float] = time.monotonic


class LedgerBase(Application[UUID]):
    """One eventsourcing Application: one log, one total order (DESIGN.md, "One log")."""

    name = "taizhang"

    def __init__(self, env: Mapping[str, str], services: LedgerServices) -> None:
        self.services = services
        self.base_calendar = services.calendar
        self._sla = SlaClock(services.calendar, services.policy)
        self._calendar_version = 0  # the version of the calendar book laid over the base
        self._calendar_checked = float("-inf")
        super().__init__(dict(env))

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """Only the settings passed in, never the process environment: one source of truth."""
        return Environment(name, dict(env or {}))

    # -- the working calendar in force ------------------------------------------------------
    @property
    def sla(self) -> SlaClock:
        """The SLA clock, its calendar including every year schedule recorded in the log.

        Another process may record a schedule; the book is re-read at most once
        every ``CALENDAR_RECHECK_S`` seconds. Only receipts and refusals use this
        clock: the views compute deadlines with the schedules recorded before
        each step (``projections/timeline.py``), whatever this process knows.
        """
        if self.services.monotonic() - self._calendar_checked >= CALENDAR_RECHECK_S:
            self.refresh_calendar()
        return self._sla

    def refresh_calendar(self) -> None:
        """Lay the calendar book's schedules over the base calendar, if the book changed."""
        self._calendar_checked = self.services.monotonic()
        book = self._find(CALENDAR_BOOK_ID)
        version = book.version if book is not None else 0
        if version == self._calendar_version:
            return
        calendar = (book.calendar(self.base_calendar) if isinstance(book, CalendarBook)
                    else self.base_calendar)
        self._sla = SlaClock(calendar, self.services.policy)
        self._calendar_version = version

    # -- plumbing -----------------------------------------------------------------------
    def now(self) -> datetime:
        return self.services.clock()

    def _at(self, ctx: Context) -> datetime:
        return require_aware(ctx.at, "at") if ctx.at is not None else self.now()

    def _load(self, cls: type[A], ident: UUID | str, kind: str) -> A:
        try:
            aggregate_id = ident if isinstance(ident, UUID) else UUID(str(ident))
        except ValueError:
            raise NotFoundError(kind, ident) from None
        try:
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFoundError(kind, ident) from None
        if not isinstance(aggregate, cls):
            raise NotFoundError(kind, ident)
        return aggregate

    def _find(self, aggregate_id: UUID) -> Aggregate | None:
        try:
            return self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            return None

    def replayed(self, ctx: Context) -> Receipt | None:
        """The first answer to this idempotent request, or None if it is new."""
        if ctx.idempotency is None:
            return None
        record = self._find(idempotency_id(ctx.actor, ctx.idempotency.key))
        if record is None:
            return None
        assert isinstance(record, IdempotencyRecord)
        if record.fingerprint != ctx.idempotency.fingerprint:
            raise IdempotencyConflictError(
                "this Idempotency-Key was already used with a different request"
            )
        return dict(record.receipt)

    def _commit(self, ctx: Context, receipt: Receipt, *aggregates: Aggregate) -> Receipt:
        """Save the command's aggregates, and its answer if the request is idempotent."""
        pending: list[Aggregate] = list(aggregates)
        if ctx.idempotency is not None:
            pending.append(
                IdempotencyRecord(
                    actor=ctx.actor,
                    key=ctx.idempotency.key,
                    fingerprint=ctx.idempotency.fingerprint,
                    receipt=receipt,
                )
            )
        try:
            self.save(*pending)
        except RecordConflictError:
            earlier = self.replayed(ctx)  # a concurrent retry of the same request won
            if earlier is not None:
                return earlier
            raise
        return receipt

    def _update(
        self,
        cls: type[A],
        ident: UUID | str,
        kind: str,
        ctx: Context,
        change: Callable[[A, datetime], None],
        render: Callable[[A], Receipt],
    ) -> Receipt:
        """Load, check the expected version, change, and commit one aggregate."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        aggregate = self._load(cls, ident, kind)
        check_expected_version(ctx, aggregate.version, f"{kind} {ident}")
        change(aggregate, self._at(ctx))
        try:
            return self._commit(ctx, render(aggregate), aggregate)
        except RecordConflictError:
            raise ConcurrentWriteError(
                f"{kind} {ident} was changed by another request: reload it and try again"
            ) from None

    def _allocate_and_save(
        self,
        ctx: Context,
        prefix: str,
        received_at: datetime,
        make: Callable[[str], WorkItem],
        render: Callable[[WorkItem], Receipt],
    ) -> Receipt:
        """Number a new item from the day's sequence; retry when another writer took it."""
        day = self.services.calendar.local_date(received_at)
        for _ in range(NUMBER_RETRIES):
            sequence = self.sequence(prefix, day)
            item = make(sequence.allocate(1)[0])
            try:
                return self._commit(ctx, render(item), item, sequence)
            except RecordConflictError:
                earlier = self.replayed(ctx)
                if earlier is not None:
                    return earlier
        raise ConcurrentWriteError("could not allocate a number: too many concurrent writers")

    def sequence(self, prefix: str, day: date) -> NumberSequence:
        """The day's number sequence for ``prefix``, new if nothing was numbered yet."""
        sequence = self._find(sequence_id(prefix, day))
        if sequence is None:
            return NumberSequence(prefix=prefix, day=day.isoformat())
        assert isinstance(sequence, NumberSequence)
        return sequence

    # -- the log ------------------------------------------------------------------------------
    def log_length(self) -> int:
        """How many events the log holds (its highest notification id)."""
        return int(self.recorder.max_notification_id() or 0)

    def save_batch(self, aggregates: Iterable[Aggregate]) -> int:
        """Save many new or changed aggregates in one transaction (bulk import, demo).

        The same as ``save``, minus its per-object runtime-protocol checks (about
        15 µs an aggregate on Python 3.11): these are known aggregates. Uses the
        library's ``_record``/``_notify``, stable in the pinned 9.5.6.
        """
        processing = ProcessingEvent[UUID]()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        recordings = self._record(processing)
        self._notify(recordings)
        return len(recordings)


def check_expected_version(ctx: Context, version: int, what: str) -> None:
    """``If-Match``: 409 unless ``what`` is still at the version the client saw."""
    if ctx.expected_version is not None and version != ctx.expected_version:
        raise ConcurrentWriteError(
            f"{what} is at version {version}, not {ctx.expected_version}: reload it and try again"
        )
