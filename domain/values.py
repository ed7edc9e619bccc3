"""Small validators shared by the aggregates.

They raise :class:`InvalidInputError` naming the field, so the HTTP layer can
answer 422 with the field and nothing is stored.
"""

from __future__ import annotations

from datetime import datetime

from domain.errors import InvalidInputError

MAX_TEXT = 20_000


def require_text(value: object, field: str, *, max_length: int = MAX_TEXT) -> str:
    """A non-blank string of at most ``max_length`` characters, stripped."""
    if not isinstance(value, str):
        raise InvalidInputError(field, f"{field} must be a string")
    text = value.strip()
    if not text:
        raise InvalidInputError(field, f"{field} must not be blank")
    if len(text) > max_length:
        raise InvalidInputError(field, f"{field} is longer than {max_length} characters")
    return text


def optional_text(value: object, field: str, *, max_length: int = MAX_TEXT) -> str | None:
    """Like :func:`require_text`, but ``None`` and blank strings become ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    return require_text(value, field, max_length=max_length)


def require_aware(value: object, field: str) -> datetime:
    """A timezone-aware datetime; naive times are ambiguous in a ledger."""
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidInputError(field, f"{field} must be a date-time with a UTC offset")
    return value


def require_satisfaction(value: object, field: str = "satisfaction") -> int:
    """A satisfaction score of 1 (very dissatisfied) to 5 (very satisfied)."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 5:
        raise InvalidInputError(field, f"{field} must be an integer from 1 to 5")
    return value


def require_not_before(at: datetime, earlier: datetime, field: str, what: str) -> None:
    """Steps are recorded in order; a step dated before ``earlier`` is a typo."""
    if at < earlier:
        raise InvalidInputError(field, f"{field} is before {what}")
