"""The Ledger: one eventsourcing Application holding every aggregate.

One application means one notification log, a single total order that the
Merkle tree, the projections and replay all follow (DESIGN.md, "One log").
Every command goes through :meth:`Ledger._commit`, which saves the command's
aggregates and, when the caller sent an ``Idempotency-Key``, the first answer
in the same transaction.

The storage, the cipher and the transcoder come from the environment that
``taizhang.bootstrap`` builds; this module does no I/O of its own.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError
from eventsourcing.utils import Environment

from domain.bookkeeping import IdempotencyRecord, NumberSequence, idempotency_id, sequence_id
from domain.calendar import WorkingCalendar
from domain.destruction import DestructionRequest
from domain.errors import (
    AuthenticationError,
    CalendarYearUnknownError,
    ClockStartUnknownError,
    ConcurrentWriteError,
    IdempotencyConflictError,
    InvalidInputError,
    NotFoundError,
    PersonalDataDestroyedError,
    RuleViolationError,
)
from domain.people import Credential, User, credential_id, token_digest
from domain.service_case import ServiceCase
from domain.sla import SlaClock, SlaPolicy
from domain.subject import MASK_PREFIX, Subject, masks_for, validate_subject_fields
from domain.ticket import Ticket
from domain.values import require_aware
from domain.work_item import WorkItem

A = TypeVar("A", bound=Aggregate)
Receipt = dict[str, Any]
NUMBER_RETRIES = 20
TICKET_PREFIX = "GD"
CASE_PREFIX = "FW"


@dataclass(frozen=True)
class Idempotency:
    """A client's ``Idempotency-Key`` and the fingerprint of the request it came with."""

    key: str
    fingerprint: str


@dataclass(frozen=True)
class NewSubject:
    """A validated subject about to be registered (fields still in plain text)."""

    kind: str
    fields: Mapping[str, str]
    at: datetime
    id: UUID = field(default_factory=uuid4)

    def masks(self) -> dict[str, str]:
        return masks_for(self.kind, dict(self.fields))


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


class Ledger(Application[UUID]):
    """The system of record for tickets, service cases, subjects and staff."""

    name = "taizhang"

    def __init__(self, env: Mapping[str, str], services: LedgerServices) -> None:
        self.services = services
        self.sla = SlaClock(services.calendar, services.policy)
        super().__init__(dict(env))

    def construct_env(self, name: str, env: Mapping[str, str] | None = None) -> Environment:
        """Only the settings passed in, never the process environment: one source of truth."""
        return Environment(name, dict(env or {}))

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
        if ctx.expected_version is not None and aggregate.version != ctx.expected_version:
            raise ConcurrentWriteError(
                f"{kind} {ident} is at version {aggregate.version}, "
                f"not {ctx.expected_version}: reload it and try again"
            )
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

    # -- subjects -------------------------------------------------------------------------
    def register_subject(
        self,
        *,
        kind: str,
        name: object,
        id_number: object = None,
        mobile: object = None,
        uscc: object = None,
        ctx: Context,
    ) -> Receipt:
        """Validate and seal a subject's personal fields; nothing is stored if any is bad."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return self.subject_receipt(self.subject(earlier["id"]))
        subject_kind, fields = validate_subject_fields(kind, name, id_number, mobile, uscc)
        spec = NewSubject(subject_kind, fields, self._at(ctx))
        subject = self.new_subjects([spec], ctx.actor)[0]
        # The stored first answer names the subject only: masks must not outlive its key.
        self._commit(ctx, {"id": str(subject.id), "kind": subject.kind}, subject)
        return self.subject_receipt(subject)

    def new_subjects(self, specs: Sequence[NewSubject], by: str) -> list[Subject]:
        """Unsaved subjects with sealed fields and masks; their keys stored in one batch."""
        plain = [
            (spec.id, {**spec.fields, **{MASK_PREFIX + k: v for k, v in spec.masks().items()}})
            for spec in specs
        ]
        made = []
        for spec, sealed in zip(specs, self.services.sealer.seal_new(plain), strict=True):
            fields = {k: v for k, v in sealed.items() if not k.startswith(MASK_PREFIX)}
            masks = {
                k[len(MASK_PREFIX) :]: v for k, v in sealed.items() if k.startswith(MASK_PREFIX)
            }
            made.append(
                Subject._create(
                    Subject.Registered, id=spec.id, kind=spec.kind, sealed=fields,
                    sealed_masks=masks, at=spec.at, by=by,
                )
            )
        return made

    def masks(self, subject: Subject) -> dict[str, str]:
        """The subject's display masks; like its fields, unreadable once destroyed."""
        if subject.is_destroyed:
            return {field: "***" for field in subject.sealed_masks}
        try:
            opened = self.services.sealer.unseal(
                subject.id, {MASK_PREFIX + k: v for k, v in subject.sealed_masks.items()}
            )
        except PersonalDataDestroyedError:
            return {field: "***" for field in subject.sealed_masks}
        return {k[len(MASK_PREFIX) :]: v for k, v in opened.items()}

    def subject_receipt(self, subject: Subject) -> Receipt:
        """What registering a subject answers: its id, kind and masks."""
        masks = self.masks(subject)
        return {
            "id": str(subject.id),
            "kind": subject.kind,
            "name_masked": masks.get("name"),
            "id_number_masked": masks.get("id_number"),
            "mobile_masked": masks.get("mobile"),
            "uscc_masked": masks.get("uscc"),
            "destroyed": subject.is_destroyed,
        }

    def subject(self, ident: UUID | str) -> Subject:
        return self._load(Subject, ident, "subject")

    # -- destruction (信息销毁; docs/adr/20261129-crypto-shredding.md) -------------------------
    def request_destruction(self, subject_id: UUID | str, reason: object, ctx: Context) -> Receipt:
        """Ask for a subject's personal data to be destroyed; someone else must approve."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        subject = self.subject(subject_id)
        subject.check_not_destroyed()
        request = DestructionRequest.request(
            subject_id=str(subject.id), reason=reason, by=ctx.actor, at=self._at(ctx)
        )
        return self._commit(ctx, destruction_receipt(request), request)

    def approve_destruction(self, request_id: UUID | str, ctx: Context) -> Receipt:
        """Record the approval and the subject's destruction in one transaction, then shred.

        The data key is destroyed after the commit, so the record always exists
        first. Approving an approved request (or retrying the approval) runs the
        key destruction again and answers the same: the repair path after a
        crash between the commit and the shredding.
        """
        request = self.destruction_request(request_id)
        receipt = self.replayed(ctx)
        if receipt is None and request.is_approved:
            receipt = destruction_receipt(request)
        if receipt is None:
            subject = self.subject(request.subject_id)
            at = self._at(ctx)
            request.approve(by=ctx.actor, at=at)
            subject.record_destruction(request_id=str(request.id), at=at, by=ctx.actor)
            try:
                receipt = self._commit(ctx, destruction_receipt(request), request, subject)
            except RecordConflictError:
                raise ConcurrentWriteError(
                    f"destruction request {request_id} or its subject was changed meanwhile:"
                    " reload it and try again"
                ) from None
        self.services.sealer.destroy(UUID(request.subject_id))
        return receipt

    def reject_destruction(self, request_id: UUID | str, reason: object, ctx: Context) -> Receipt:
        """Refuse a destruction request; the data stays and the reason is recorded."""
        return self._update(
            DestructionRequest,
            request_id,
            "destruction request",
            ctx,
            lambda request, at: request.reject(by=ctx.actor, reason=reason, at=at),
            destruction_receipt,
        )

    def destruction_request(self, ident: UUID | str) -> DestructionRequest:
        return self._load(DestructionRequest, ident, "destruction request")

    # -- end destruction ------------------------------------------------------------------------

    # -- tickets ----------------------------------------------------------------------------
    def open_ticket(
        self,
        *,
        channel: str,
        requester_id: str,
        description: str,
        received_at: datetime | None = None,
        ctx: Context,
    ) -> Receipt:
        """Register a ticket for an existing requester; the clock starts at ``received_at``."""

        def make(number: str, requester: str, received: datetime) -> Ticket:
            return Ticket.register(
                number=number,
                channel=channel,
                requester_id=requester,
                description=description,
                received_at=received,
                by=ctx.actor,
            )

        return self._open_item(ctx, TICKET_PREFIX, requester_id, "requester_id", received_at, make)

    def _check_clock_start(self, received: datetime, *, given: bool) -> None:
        """A clock cannot start in a year the calendar lacks.

        A ``received_at`` the caller gave is bad input (422); the service's own
        clock in such a year is a configuration gap (the error itself, 503).
        """
        try:
            self.sla.calendar.check_known(received)
        except CalendarYearUnknownError as exc:
            if given:
                raise ClockStartUnknownError("received_at", exc.message) from None
            raise

    def _requester(self, ident: str, field_name: str) -> Subject:
        try:
            subject = self._load(Subject, ident, "subject")
        except NotFoundError:
            raise InvalidInputError(field_name, f"{field_name} names no known subject") from None
        subject.check_not_destroyed()
        return subject

    def ticket(self, ident: UUID | str) -> Ticket:
        return self._load(Ticket, ident, "ticket")

    def change_ticket(
        self, ident: UUID | str, ctx: Context, change: Callable[[Ticket, datetime], None]
    ) -> Receipt:
        """Apply one lifecycle step to a ticket (classify, assign, step, resolve, ...)."""
        return self._update(Ticket, ident, "ticket", ctx, change, self.item_receipt)

    # -- service cases ----------------------------------------------------------------------
    def open_case(
        self,
        *,
        service_type: str,
        subject_id: str,
        materials: list[str],
        received_at: datetime | None = None,
        ctx: Context,
    ) -> Receipt:
        """Open a service case for an existing subject; the clock starts at ``received_at``."""

        def make(number: str, subject: str, received: datetime) -> ServiceCase:
            return ServiceCase.open(
                number=number,
                service_type=service_type,
                subject_id=subject,
                materials=materials,
                received_at=received,
                by=ctx.actor,
            )

        return self._open_item(ctx, CASE_PREFIX, subject_id, "subject_id", received_at, make)

    def _open_item(
        self,
        ctx: Context,
        prefix: str,
        subject_id: str,
        field_name: str,
        received_at: datetime | None,
        make: Callable[[str, str, datetime], WorkItem],
    ) -> Receipt:
        """Open a ticket or case: the subject must exist, the clock start be known."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        received = require_aware(received_at, "received_at") if received_at else self._at(ctx)
        subject = self._requester(subject_id, field_name)
        self._check_clock_start(received, given=received_at is not None)
        return self._allocate_and_save(
            ctx, prefix, received, lambda n: make(n, str(subject.id), received), self.item_receipt
        )

    def case(self, ident: UUID | str) -> ServiceCase:
        return self._load(ServiceCase, ident, "case")

    def change_case(
        self, ident: UUID | str, ctx: Context, change: Callable[[ServiceCase, datetime], None]
    ) -> Receipt:
        """Apply one lifecycle step to a case (accept, decide, feedback, ...)."""
        return self._update(ServiceCase, ident, "case", ctx, change, self.item_receipt)

    def item_receipt(self, item: WorkItem) -> Receipt:
        """What a command on a ticket or case answers: enough to continue without a GET."""
        now = self.now()
        due = self.sla.due_at(item, now)
        return {
            "id": str(item.id),
            "number": item.number,
            "status": item.status,  # type: ignore[attr-defined]
            "version": item.version,
            "due_at": due.isoformat() if due else None,
            "sla_state": self.sla.state(item, now).value,
        }

    # -- users and credentials ---------------------------------------------------------------
    def add_user(self, *, name: str, role: str, ctx: Context) -> Receipt:
        """Create a user and one bearer token; the token is in the answer and nowhere else."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        at = self._at(ctx)
        user = User.register(name=name, role=role, at=at, by=ctx.actor)
        token = new_token()
        credential = Credential(digest=token_digest(token), user_id=str(user.id), at=at)
        receipt = {"id": str(user.id), "name": user.name, "role": user.role}
        # The token is returned once and never stored; a retry gets the receipt without it.
        self._commit(ctx, receipt, user, credential)
        return {**receipt, "token": token}

    def user(self, ident: UUID | str) -> User:
        return self._load(User, ident, "user")

    def authenticate(self, token: str) -> User:
        """The active user holding ``token``; the same work whether or not it exists."""
        digest = token_digest(token)
        credential = self._find(credential_id(digest))
        if not isinstance(credential, Credential):
            # Compare against a dummy so an unknown token costs what a known one does.
            secrets.compare_digest(digest, "0" * len(digest))
            raise AuthenticationError("the bearer token is not valid")
        if not secrets.compare_digest(credential.digest, digest) or not credential.is_active:
            raise AuthenticationError("the bearer token is not valid")
        user = self.user(credential.user_id)
        if not user.active:
            raise AuthenticationError("the bearer token belongs to a deactivated user")
        return user

    # -- the log ------------------------------------------------------------------------------
    def log_length(self) -> int:
        """How many events the log holds (its highest notification id)."""
        return int(self.recorder.max_notification_id() or 0)

    def save_batch(self, aggregates: Iterable[Aggregate]) -> int:
        """Save many new or changed aggregates in one transaction (bulk import, demo)."""
        recordings = self.save(*aggregates)
        return len(recordings)


def new_token() -> str:
    """A bearer token with 256 random bits."""
    return "tz_" + secrets.token_urlsafe(32)


def destruction_receipt(request: DestructionRequest) -> Receipt:
    """What a destruction command answers (times as ISO strings: receipts are stored)."""
    receipt: Receipt = {
        "id": str(request.id),
        "status": request.status,
        "subject_id": request.subject_id,
        "version": request.version,
    }
    if request.approved_at is not None:
        receipt["destroyed_at"] = request.approved_at.isoformat()
    return receipt


def require_rule(condition: bool, rule: str, message: str) -> None:
    """Raise a rule violation unless ``condition`` holds."""
    if not condition:
        raise RuleViolationError(rule, message)
