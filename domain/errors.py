"""One exception tree for the whole service.

Every error the service raises on purpose derives from :class:`TaizhangError`,
so the HTTP layer maps errors to status codes in one table and the CLI turns
them into one-line messages with a non-zero exit. Errors carry the ids and the
field involved as data, never personal values.
"""

from __future__ import annotations

from dataclasses import dataclass


class TaizhangError(Exception):
    """Base of every error the service raises on purpose."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidInputError(TaizhangError):
    """A value given by a caller is malformed; ``field`` names it."""

    code = "invalid_input"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


class InvalidIdentifierError(InvalidInputError):
    """A resident ID number, mobile number or credit code failed validation."""

    code = "invalid_identifier"


class RuleViolationError(TaizhangError):
    """A command is not allowed in the aggregate's current state.

    ``rule`` is a short, stable name for the rule (for example
    ``ticket.resolve.requires_classification``) so clients can branch on it.
    """

    code = "rule_violation"

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule


class NotFoundError(TaizhangError):
    """The named aggregate does not exist."""

    code = "not_found"

    def __init__(self, kind: str, ident: object) -> None:
        super().__init__(f"{kind} {ident} not found")
        self.kind = kind
        self.ident = ident


class ConflictError(TaizhangError):
    """A write lost a race or contradicts an earlier write (HTTP 409)."""

    code = "conflict"


class ConcurrentWriteError(ConflictError):
    """Another writer appended to the same aggregate first."""

    code = "concurrent_write"


class IdempotencyConflictError(ConflictError):
    """An idempotency key was reused with a different request body."""

    code = "idempotency_key_reused"


class PersonalDataDestroyedError(TaizhangError):
    """A subject's personal data was destroyed (crypto-shredded): it cannot be read (410)."""

    code = "subject_data_destroyed"


class CalendarYearUnknownError(TaizhangError):
    """No source knows the working days of this year; guessing is not allowed."""

    code = "calendar_year_unknown"

    def __init__(self, year: int) -> None:
        super().__init__(
            f"the working calendar has no schedule for {year}: load the State "
            f"Council's {year} holiday schedule as a calendar override"
        )
        self.year = year


class ClockStartUnknownError(InvalidInputError):
    """A caller-given start time lies in a year the working calendar does not know."""

    code = "calendar_year_unknown"


class AuthenticationError(TaizhangError):
    """No bearer token, or one that matches no active credential."""

    code = "unauthenticated"


class PermissionDeniedError(TaizhangError):
    """The actor's role or information level does not allow the action."""

    code = "forbidden"


class AccessRefusedError(PermissionDeniedError):
    """The read gate refused a read of personal data (and recorded the refusal).

    ``reason`` is the refusal code stored in the access record (``no_basis``,
    ``grant_expired``, ...); the table allowed the action, the basis was missing.
    """

    code = "access_refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class AuditUnavailableError(TaizhangError):
    """The access record could not be written (store unreachable, read-only, full): no data."""

    code = "audit_unavailable"


class ConfigurationError(TaizhangError):
    """Settings or key material are missing or wrong; the service must not start."""

    code = "configuration"


@dataclass(frozen=True)
class FieldProblem:
    """One problem with one field, for errors that report several at once."""

    field: str
    message: str
