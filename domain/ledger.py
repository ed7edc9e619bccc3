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

import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    ConnectionPoolClosedError,
    PersistenceError,
    RecordConflictError,
)

from domain.access import Level, allows, authorise, cleared_for
from domain.access_record import (
    RECORDED_TOPIC,
    AccessRecord,
    Outcome,
    Target,
    asked_fields,
    bounded_ref,
    record_view,
    stated_purpose,
)
from domain.access_review import (
    REVIEW_LOG_ID,
    AccessReviewLog,
    ReviewStatus,
    review_receipt,
    review_status,
)
from domain.buyer import (
    BUYER_FIELDS,
    BUYER_RECORD_ID,
    BuyerRecord,
    buyer_receipt,
    validate_buyer_fields,
)
from domain.destruction import DestructionRequest
from domain.errors import (
    AccessRefusedError,
    AuditUnavailableError,
    AuthenticationError,
    CalendarYearUnknownError,
    ClockStartUnknownError,
    ConcurrentWriteError,
    InvalidInputError,
    NotFoundError,
    PermissionDeniedError,
    PersonalDataDestroyedError,
    RuleViolationError,
)
from domain.gate import Attempt, GrantFacts, ItemFacts, decide
from domain.grant import MAX_PURPOSE, Grant, GrantTarget, grant_receipt, require_fields
from domain.ledger_base import (
    NUMBER_RETRIES,
    A,
    Context,
    FieldSealer,
    Idempotency,
    LedgerServices,
    Receipt,
)
from domain.ledger_terms import TermsCommands
from domain.offboarding import (
    WorkIndex,
    check_heir,
    hand_over,
    leave_team,
    open_item_ids,
    still_on_team,
    still_open_with,
    team_ticket_ids,
)
from domain.people import Credential, User, credential_id, token_digest, user_receipt
from domain.service_case import ServiceCase
from domain.subject import (
    MASK_PREFIX,
    PERSONAL_FIELDS,
    Subject,
    masks_for,
    validate_subject_fields,
)
from domain.ticket import Ticket
from domain.values import optional_text, require_aware, require_text
from domain.work_item import WorkItem

__all__ = ["Context", "FieldSealer", "Idempotency", "Ledger", "LedgerServices", "NewSubject",
           "Receipt"]

TICKET_PREFIX = "GD"
CASE_PREFIX = "FW"
HISTORY_PAGE = 500
# What a store that cannot take a write raises (unreachable, read-only, full, locked).
STORE_FAILURES = (PersistenceError, ConnectionPoolClosedError)
R = TypeVar("R")


@dataclass(frozen=True)
class NewSubject:
    """A validated subject about to be registered (fields still in plain text)."""

    kind: str
    fields: Mapping[str, str]
    at: datetime
    id: UUID = field(default_factory=uuid4)

    def masks(self) -> dict[str, str]:
        return masks_for(self.kind, dict(self.fields))


class Ledger(TermsCommands):
    """The system of record for tickets, service cases, subjects and staff."""

    name = "taizhang"  # names the PostgreSQL tables; eventsourcing sets it per subclass

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

    def assign_ticket(
        self,
        ident: UUID | str,
        *,
        assignee: object,
        team: Sequence[object] | None = None,
        reason: str | None = None,
        ctx: Context,
    ) -> Receipt:
        """Assign a ticket to staff: the assignee and each team member must be an active user
        whose role may work tickets (``ticket.work``); ids are stored in their canonical form.
        """

        def change(ticket: Ticket, at: datetime) -> None:
            handler = self.staff_for(assignee, "ticket.work", "assignee")
            members = [
                self.staff_for(member, "ticket.work", f"team[{i}]")
                for i, member in enumerate(team or [])
            ]
            ticket.assign(
                assignee=str(handler.id), reason=reason, team=[str(m.id) for m in members],
                at=at, by=ctx.actor,
            )

        return self.change_ticket(ident, ctx, change)

    def staff_for(self, ident: object, action: str, field_name: str) -> User:
        """The active user ``ident`` names, if their role may ``action``; else 422 on the field.

        The check the HTTP commands make before handing work to someone; the
        aggregates themselves take any name (the domain tests, the demo).
        """
        found = self._find_uuid(ident) if isinstance(ident, str) else None
        if not isinstance(found, User):
            raise InvalidInputError(field_name, f"{field_name} names no staff member: give a"
                                                " user's id")
        if not found.active:
            raise InvalidInputError(field_name, f"{field_name} names a deactivated user")
        if not allows(found.role, action):
            raise InvalidInputError(
                field_name, f"{field_name} has the role {found.role}, which may not {action}"
            )
        return found

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

    def assign_case(
        self, ident: UUID | str, *, assignee: object, reason: str | None, ctx: Context
    ) -> Receipt:
        """Hand a case to an active user whose role may work cases (``case.work``)."""

        def change(case: ServiceCase, at: datetime) -> None:
            handler = self.staff_for(assignee, "case.work", "assignee")
            case.assign(assignee=str(handler.id), reason=reason, at=at, by=ctx.actor)

        return self.change_case(ident, ctx, change)

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
        token = new_token()
        digest = token_digest(token)
        user = User.register(
            name=name, role=role, at=at, by=ctx.actor, credential_id=str(credential_id(digest))
        )
        credential = Credential(digest=digest, user_id=str(user.id), at=at)
        receipt = {"id": str(user.id), "name": user.name, "role": user.role}
        # The token is returned once and never stored; a retry gets the receipt without it.
        self._commit(ctx, receipt, user, credential)
        return {**receipt, "token": token}

    def user(self, ident: UUID | str) -> User:
        return self._load(User, ident, "user")

    def authenticate(self, token: str) -> User:
        """The active user holding ``token``; the same work whether or not it exists.

        Both outcomes load one credential (a wrong token loads the last one that
        authenticated, as a decoy), compare one full-length digest, load one
        user, and decide once at the end: no early exit tells a wrong token
        from a right one by its cost.
        """
        digest = token_digest(token)
        found = self._find(credential_id(digest))
        credential = found if isinstance(found, Credential) else None
        probe = credential if credential is not None else self._decoy_credential()
        matches = secrets.compare_digest(probe.digest if probe else NO_DIGEST, digest)
        owner = self._find(UUID(probe.user_id)) if probe is not None else None
        user = owner if isinstance(owner, User) else None
        valid = (
            credential is not None
            and matches
            and credential.is_active
            and user is not None
            and user.active
        )
        if not valid or credential is None or user is None:
            raise AuthenticationError("the bearer token is not valid")
        self._last_credential = credential.id
        return user

    _last_credential: UUID | None = None

    def _decoy_credential(self) -> Credential | None:
        if self._last_credential is None:
            return None
        decoy = self._find(self._last_credential)
        return decoy if isinstance(decoy, Credential) else None

    # == people and access (issue 4) ========================================================
    # The read gate (the only code that unseals personal fields), grants, the buyer's
    # record, access reviews, the access history, role changes and offboarding. Who may
    # do what is domain/access.py; whether one read is allowed, domain/gate.py.

    def _record_access(self, **fields: Any) -> tuple[AccessRecord, int]:
        """Append one access record and return once it is committed; 503 if it cannot be."""
        record = AccessRecord(**fields)
        try:
            recordings = self.save(record)
        except STORE_FAILURES as exc:
            raise AuditUnavailableError(
                f"the access record could not be written ({type(exc).__name__}):"
                " nothing is returned"
            ) from None
        return record, recordings[0].notification.id

    def _gated(self, read: Callable[[], R]) -> R:
        """Run a recorded read; a store failing on the way is a 503, never data."""
        try:
            return read()
        except STORE_FAILURES as exc:
            raise AuditUnavailableError(
                f"the store failed during a recorded read ({type(exc).__name__}):"
                " nothing is returned"
            ) from None

    def reveal(
        self,
        subject_id: UUID | str,
        fields: object,
        purpose: object,
        *,
        grant_id: str | None = None,
        item_id: str | None = None,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None = None,
    ) -> Receipt:
        """The read gate for a subject: decide, record and commit, and only then unseal.

        ``reader`` is the authenticated user when the caller holds it already
        (the API); otherwise ``ctx.actor`` is loaded.
        """
        return self._gated(
            lambda: self._open_sealed(
                Target.SUBJECT, str(subject_id), fields, purpose, grant_id, item_id,
                request_id, client, ctx, reader,
            )
        )

    def reveal_buyer(
        self,
        fields: object,
        purpose: object,
        *,
        grant_id: str | None = None,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None = None,
    ) -> Receipt:
        """The read gate for the buyer's basic information (high level: the project lead)."""
        return self._gated(
            lambda: self._open_sealed(
                Target.BUYER, str(BUYER_RECORD_ID), fields, purpose, grant_id, None,
                request_id, client, ctx, reader,
            )
        )

    def _open_sealed(
        self,
        target: Target,
        ident: str,
        fields: object,
        purpose: object,
        grant_id: str | None,
        item_id: str | None,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None,
    ) -> Receipt:
        at = self._at(ctx)
        user = reader if reader is not None else self.user(ctx.actor)
        is_subject = target is Target.SUBJECT
        action, level = ("subject.reveal", Level.MEDIUM) if is_subject else (
            "buyer.reveal", Level.HIGH)
        record = partial(
            self._record_access, actor=str(user.id), role=user.role, target=target.value,
            target_id=bounded_ref(ident), subject_id=bounded_ref(ident) if is_subject else None,
            fields=asked_fields(fields), purpose=stated_purpose(purpose), level=level.value,
            grant_id=bounded_ref(grant_id), item_id=bounded_ref(item_id),
            request_id=request_id, client=client, query=None, at=at,
        )
        if not allows(user.role, action):
            record(outcome=Outcome.REFUSED.value, reason="role")
            authorise(user, action)
        wanted = require_fields(fields, PERSONAL_FIELDS if is_subject else BUYER_FIELDS, "fields")
        stated = require_text(purpose, "purpose", max_length=MAX_PURPOSE)
        holder = self._find_uuid(ident)
        if not isinstance(holder, Subject if is_subject else BuyerRecord):
            record(outcome=Outcome.REFUSED.value, reason="not_found")
            raise NotFoundError(target.value, ident)
        if isinstance(holder, Subject) and holder.is_destroyed:
            record(outcome=Outcome.REFUSED.value, reason="subject_destroyed")
            raise PersonalDataDestroyedError(
                "the subject's personal data was destroyed (request"
                f" {holder.destruction_request_id}): there is nothing to read"
            )
        lacking = [name for name in wanted if name not in holder.sealed]
        if lacking:
            raise InvalidInputError("fields", f"the {target.value} holds no {', '.join(lacking)}")
        decision = decide(
            Attempt(
                actor=str(user.id), role=user.role, action=action, target=target.value,
                target_id=str(holder.id), fields=wanted,
                item=self._item_facts(item_id), item_cited=item_id is not None,
                grant=self._grant_facts(grant_id, at), grant_cited=grant_id is not None,
            )
        )
        written, position = record(
            fields=wanted, purpose=stated, outcome=decision.outcome, reason=decision.reason
        )
        if not decision.granted:
            raise AccessRefusedError(decision.reason, decision.message)
        # The record is committed: only now is anything decrypted.
        plain = self.services.sealer.unseal(holder.id, {n: holder.sealed[n] for n in wanted})
        return {
            "target": target.value,
            "id": str(holder.id),
            "fields": {name: plain[name] for name in wanted},
            "basis": decision.reason,
            "access_record_id": str(written.id),
            "access_position": position,
            "request_id": request_id,
        }

    def _find_uuid(self, ident: object) -> Aggregate | None:
        try:
            return self._find(UUID(str(ident))) if ident is not None else None
        except ValueError:
            return None

    def _item_facts(self, item_id: str | None) -> ItemFacts | None:
        item = self._find_uuid(item_id)
        if isinstance(item, Ticket):
            return ItemFacts(str(item.id), item.requester_id, item.assignee, tuple(item.team))
        if isinstance(item, ServiceCase):
            return ItemFacts(str(item.id), item.subject_id, item.assignee)
        return None

    def _grant_facts(self, grant_id: str | None, now: datetime) -> GrantFacts | None:
        grant = self._find_uuid(grant_id)
        if not isinstance(grant, Grant):
            return None
        return GrantFacts(
            id=str(grant.id), reader=grant.reader, target=grant.target,
            target_id=grant.target_id, fields=tuple(grant.fields), status=grant.status_at(now),
        )

    # -- grants (申请、审批、使用) ------------------------------------------------------------
    def apply_for_grant(
        self,
        *,
        subject_id: str | None = None,
        record: str | None = None,
        fields: object,
        purpose: object,
        valid_until: object,
        ctx: Context,
    ) -> Receipt:
        """申请: the actor asks to read ``fields`` of a subject (or of the buyer's record)."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        at = self._at(ctx)
        user = self.user(ctx.actor)
        if (subject_id is None) == (record is None):
            raise InvalidInputError("subject_id", "name either a subject_id or record: buyer")
        if record is not None:
            if record != GrantTarget.BUYER.value:
                raise InvalidInputError("record", "the only record a grant can name is buyer")
            if not cleared_for(user.role, Level.HIGH):
                raise PermissionDeniedError(
                    "the buyer's record is high-level information, for the project lead only;"
                    f" no grant widens that (you are {user.role})"
                )
            target, target_id = GrantTarget.BUYER.value, str(BUYER_RECORD_ID)
            names = require_fields(fields, BUYER_FIELDS, "fields")
        else:
            subject = self._requester(str(subject_id), "subject_id")
            target, target_id = GrantTarget.SUBJECT.value, str(subject.id)
            names = require_fields(fields, subject.fields, "fields")
        grant = Grant.apply(
            reader=str(user.id), reader_role=user.role, target=target, target_id=target_id,
            fields=names, purpose=purpose, valid_until=valid_until, at=at,
        )
        for _ in range(NUMBER_RETRIES):  # the applicant's links may grow concurrently
            applicant = self.user(user.id)
            applicant.link_grant(str(grant.id), at)
            try:
                return self._commit(ctx, grant_receipt(grant, at), grant, applicant)
            except RecordConflictError:
                if (earlier := self.replayed(ctx)) is not None:
                    return earlier
        raise ConcurrentWriteError("could not record the application: too many concurrent writers")

    def grant(self, ident: UUID | str) -> Grant:
        return self._load(Grant, ident, "grant")

    def decide_grant(
        self, ident: UUID | str, decision: str, reason: object, ctx: Context
    ) -> Receipt:
        """审批: ``approve``, ``reject`` or ``revoke`` a grant (the API: project lead only)."""
        changes: dict[str, Callable[[Grant, datetime], None]] = {
            "approve": lambda g, at: g.approve(by=ctx.actor, at=at),
            "reject": lambda g, at: g.reject(by=ctx.actor, reason=reason, at=at),
            "revoke": lambda g, at: g.revoke(by=ctx.actor, reason=reason, at=at),
        }
        return self._update(
            Grant, ident, "grant", ctx, changes[decision], lambda g: grant_receipt(g, self.now())
        )

    # -- the buyer's basic information (采购人基本信息) -----------------------------------------
    def set_buyer(self, fields: dict[str, Any], ctx: Context) -> Receipt:
        """Seal and store the buyer's fields (those given replace the stored ones)."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        at = self._at(ctx)
        sealed = self.services.sealer.seal(BUYER_RECORD_ID, validate_buyer_fields(fields))
        buyer = self._find(BUYER_RECORD_ID)
        if isinstance(buyer, BuyerRecord):
            buyer.update(sealed, at=at, by=ctx.actor)
        else:
            buyer = BuyerRecord(sealed=sealed, at=at, by=ctx.actor)
        try:
            return self._commit(ctx, buyer_receipt(buyer), buyer)
        except RecordConflictError:
            raise ConcurrentWriteError("the buyer's record changed meanwhile: try again") from None

    def buyer(self) -> BuyerRecord:
        return self._load(BuyerRecord, BUYER_RECORD_ID, "buyer record")

    # -- access reviews -------------------------------------------------------------------
    def record_access_review(
        self, *, level: object, period_start: object, period_end: object, findings: object,
        ctx: Context,
    ) -> Receipt:
        """A confidentiality officer's review of the access log, for one level and period."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        at = self._at(ctx)
        for _ in range(NUMBER_RETRIES):  # two officers recording at once: the loser retries
            found = self._find(REVIEW_LOG_ID)
            log = found if isinstance(found, AccessReviewLog) else AccessReviewLog()
            review = log.record(
                level=level, period_start=period_start, period_end=period_end,
                findings=findings, at=at, by=ctx.actor,
            )
            try:
                return self._commit(ctx, review_receipt(review), log)
            except RecordConflictError:
                if (earlier := self.replayed(ctx)) is not None:
                    return earlier
        raise ConcurrentWriteError("could not record the review: too many concurrent writers")

    def access_review_status(self) -> list[ReviewStatus]:
        """Per level: the last review, when the next is due, and whether it is overdue."""
        found = self._find(REVIEW_LOG_ID)
        log = found if isinstance(found, AccessReviewLog) else None
        began, now = self._log_began(), self.now()
        return [
            review_status(level.value, log.last_of(level.value) if log else None, began, now)
            for level in (Level.HIGH, Level.MEDIUM, Level.LOW)
        ]

    def _log_began(self) -> datetime:
        """When the log's first event happened (the cadence's start before any review)."""
        first = self.recorder.select_notifications(start=1, limit=1)
        if not first:
            return self.now()
        event = self.mapper.to_domain_event(first[0])
        began = getattr(event, "at", None)
        return began if isinstance(began, datetime) else event.timestamp

    # -- the access history: reading it is itself recorded ---------------------------------
    def access_history(
        self,
        *,
        subject_id: str | None = None,
        actor: str | None = None,
        purpose: str = "access log review",
        limit: int = 100,
        cursor: int = 0,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None = None,
    ) -> Receipt:
        """Access records by subject and/or actor, after recording this read (committed)."""
        return self._gated(
            lambda: self._access_history(
                subject_id, actor, purpose, limit, cursor, request_id, client, ctx, reader
            )
        )

    def _access_history(
        self,
        subject_id: str | None,
        actor: str | None,
        purpose: str,
        limit: int,
        cursor: int,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None,
    ) -> Receipt:
        _, position = self._record_log_read(
            subject_id, actor, purpose, request_id, client, ctx, reader
        )
        items: list[dict[str, Any]] = []
        start = cursor + 1
        while len(items) < limit and start <= position:
            page = self.recorder.select_notifications(
                start=start, limit=HISTORY_PAGE, stop=position, topics=[RECORDED_TOPIC]
            )
            if not page:
                break
            for notification in page:
                start = notification.id + 1
                event = self.mapper.to_domain_event(notification)
                if subject_id not in (None, event.subject_id) or actor not in (None, event.actor):
                    continue
                items.append(record_view(event, notification.id))
                if len(items) == limit:
                    break
        more = len(items) == limit and start <= position
        return {
            "items": items,
            "next_cursor": str(items[-1]["position"]) if more else None,
            "access_position": position,
            "request_id": request_id,
        }

    def record_access_log_read(
        self,
        *,
        subject_id: str | None = None,
        actor: str | None = None,
        purpose: str = "access log review",
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None = None,
    ) -> Receipt:
        """Record a read of the access log served elsewhere (the access-log report), first.

        The same decision and the same record as :meth:`access_history` (the
        filters, purpose, request id and client), committed before it returns;
        a role without ``access_log.read`` is refused after its refusal is
        recorded. Nothing is read from the log.
        """
        record, position = self._gated(
            lambda: self._record_log_read(
                subject_id, actor, purpose, request_id, client, ctx, reader
            )
        )
        return {
            "access_record_id": str(record.id),
            "access_position": position,
            "request_id": request_id,
        }

    def _record_log_read(
        self,
        subject_id: str | None,
        actor: str | None,
        purpose: str,
        request_id: str,
        client: str | None,
        ctx: Context,
        reader: User | None,
    ) -> tuple[AccessRecord, int]:
        """Record a read of the access history, granted or refused; raise if refused."""
        user = reader if reader is not None else self.user(ctx.actor)
        allowed = allows(user.role, "access_log.read")
        recorded = self._record_access(
            actor=str(user.id), role=user.role, target=Target.ACCESS_HISTORY.value,
            target_id=None, subject_id=bounded_ref(subject_id), fields=[],
            purpose=stated_purpose(purpose), level=Level.MEDIUM.value, grant_id=None,
            item_id=None, request_id=request_id, client=client,
            query={"subject_id": bounded_ref(subject_id), "actor": bounded_ref(actor)},
            outcome=(Outcome.GRANTED if allowed else Outcome.REFUSED).value, reason="role",
            at=self._at(ctx),
        )
        authorise(user, "access_log.read")
        return recorded

    # -- staff: roles and offboarding (人员更换) ----------------------------------------------
    def change_role(self, user_id: UUID | str, role: str, ctx: Context) -> Receipt:
        """Give a user another role; the table applies from their next request."""
        if str(user_id) == ctx.actor:
            raise RuleViolationError("user.role.self", "nobody changes their own role")
        return self._update(
            User, user_id, "user", ctx,
            lambda user, at: user.change_role(role, at=at, by=ctx.actor), user_receipt,
        )

    def deactivate_user(
        self,
        user_id: UUID | str,
        *,
        reassign_to: str | None = None,
        reason: object = None,
        work: WorkIndex,
        ctx: Context,
    ) -> Receipt:
        """人员更换 in one transaction: the user, every credential and grant, their open work.

        The user's credentials and grants are found through the links recorded
        on the user; open work through ``work`` (the item catalog), each item
        loaded and checked again: items the leaver is assigned are handed over,
        open tickets whose team they are on lose them from the team
        (``teams_left``). What happens to the work: domain/offboarding.py.
        """
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        at = self._at(ctx)
        leaver = self.user(user_id)
        if str(leaver.id) == ctx.actor:
            raise RuleViolationError("user.deactivate.self", "nobody deactivates themselves")
        heir = None
        if reassign_to is not None:
            heir = self._find_uuid(reassign_to)
            if not isinstance(heir, User) or not heir.active or heir.id == leaver.id:
                raise InvalidInputError(
                    "reassign_to", "reassign_to must name another, active colleague"
                )
        why = optional_text(reason, "reason", max_length=500) or "人员更换"
        leaver.deactivate(reason=why, at=at, by=ctx.actor)
        credentials = [c for c in self._linked(leaver.credential_ids, Credential) if c.is_active]
        for credential in credentials:
            credential.revoke(at=at, by=ctx.actor)
        grants = [g for g in self._linked(leaver.grant_ids, Grant) if not g.is_final]
        for grant in grants:
            grant.revoke(by=ctx.actor, reason=why, at=at)
        gone = str(leaver.id)
        # Each open item once: those assigned to the leaver, then every ticket that has a team.
        candidates = [
            self._find_uuid(ident)
            for ident in dict.fromkeys([*open_item_ids(work, gone), *team_ticket_ids(work)])
        ]
        items = [item for item in candidates if still_open_with(item, gone)]
        teams = [t for t in candidates if isinstance(t, Ticket) and still_on_team(t, gone)]
        check_heir(heir.role if heir else None, items)  # type: ignore[arg-type]
        cases = any(isinstance(item, ServiceCase) for item in items)
        if heir is None and cases and not isinstance(self._find_uuid(ctx.actor), User):
            raise InvalidInputError(
                "reassign_to", "open cases need a handler: name a colleague in reassign_to"
            )
        heir_id = str(heir.id) if heir else None
        moved = [hand_over(i, gone, heir_id, ctx.actor, why, at) for i in items]
        left = [leave_team(t, gone, ctx.actor, why, at) for t in teams]
        receipt = {
            **user_receipt(leaver),
            "credentials_revoked": len(credentials),
            "grants_revoked": [str(g.id) for g in grants],
            "work": moved,
            "teams_left": left,
        }
        try:
            return self._commit(ctx, receipt, leaver, *credentials, *grants, *items, *teams)
        except RecordConflictError:
            raise ConcurrentWriteError(
                "the user, a grant or an item changed meanwhile: deactivate again"
            ) from None

    def _linked(self, ids: Sequence[str], cls: type[A]) -> list[A]:
        return [found for ident in ids if isinstance(found := self._find(UUID(ident)), cls)]

    # == end people and access =============================================================



NO_DIGEST = "0" * 64


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

