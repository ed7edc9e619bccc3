"""Validation and display masking of Chinese personal and enterprise identifiers.

The ledger records service to residents (identified by their resident identity
number and mobile number) and to enterprises (identified by their unified social
credit code). A mistyped identifier splits one person's history across two
records and makes the contract's headcounts wrong, so identifiers are checked
against their national standards before anything is stored: the check
characters catch every single mistyped character.

These values are personal data. Validation errors therefore say *what* is wrong
(length, which position, which rule) but never repeat the value, because error
messages end up in logs and HTTP responses. The masking helpers produce the
forms shown on screens and in exports; they never raise, because a display
helper that fails on odd legacy data would break a whole page.

Pure: standard library only, no I/O.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone

from domain.errors import InvalidIdentifierError

__all__ = [
    "USCC_ALPHABET",
    "check_resident_id_char",
    "check_uscc_char",
    "mask_enterprise_name",
    "mask_mobile",
    "mask_name",
    "mask_resident_id",
    "mask_uscc",
    "validate_mobile",
    "validate_resident_id",
    "validate_uscc",
]

# Deliberately ASCII only: ``str.isdigit`` and ``\d`` also accept full-width and
# other Unicode digits, which would slip past validation and then fail to match
# the same person's record typed with ASCII digits.
_DIGITS = "0123456789"

# --- resident identity number, GB 11643-1999 -------------------------------------------------

_RESIDENT_ID_LENGTH = 18
# ISO 7064 MOD 11-2: weight of position i (1-based) is 2**(18 - i) mod 11.
_RESIDENT_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
# Index is (weighted sum mod 11); value is the check character that makes the
# whole 18-character number sum to 1 mod 11 (X stands for 10).
_RESIDENT_ID_CHECK_MAP = "10X98765432"
_EARLIEST_BIRTH_DATE = date(1900, 1, 1)
# The service runs for a mainland contract, so "today" is the date in China.
# China has kept UTC+8 without daylight saving since 1991, so a fixed offset is
# exact and needs no time zone database.
_CHINA_TIME = timezone(timedelta(hours=8), "CST")

# --- unified social credit code, GB 32100-2015 -----------------------------------------------

_USCC_LENGTH = 18
#: The 31 characters a unified social credit code may use; I, O, Z, S and V are
#: left out because they are easily confused with 1, 0, 2, 5 and U.
CHECK_MISMATCH = "check character does not match the other 17 characters"
USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_INDEX = {char: index for index, char in enumerate(USCC_ALPHABET)}
# Weight of position i (1-based) is 3**(i - 1) mod 31.
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)

# --- mobile numbers ---------------------------------------------------------------------------

_MOBILE_LENGTH = 11
# Digit groups separated by spaces and/or hyphens, optionally led by "+".
_MOBILE_SHAPE = re.compile(r"\+?[0-9]+(?:[ \-]+[0-9]+)*")
_MOBILE_SEPARATORS = re.compile(r"[ \-]+")


def _require_string(value: object, field: str) -> str:
    """Return ``value`` stripped, or fail: callers may hand in numbers or ``None``."""
    if not isinstance(value, str):
        raise InvalidIdentifierError(field, f"{field} must be a string")
    text = value.strip()
    if not text:
        raise InvalidIdentifierError(field, f"{field} must not be blank")
    return text


def _china_today() -> date:
    """The current calendar date in mainland China, whatever the server's zone."""
    return datetime.now(_CHINA_TIME).date()


def check_resident_id_char(first17: str) -> str:
    """The GB 11643-1999 check character for the first 17 digits of a resident ID.

    Exposed so that tests and fixture generators can build valid numbers from a
    chosen region, birth date and sequence instead of copying real people's IDs.
    """
    if (
        not isinstance(first17, str)
        or len(first17) != _RESIDENT_ID_LENGTH - 1
        or any(char not in _DIGITS for char in first17)
    ):
        raise InvalidIdentifierError("first17", "first17 must be exactly 17 ASCII digits")
    total = sum(
        int(char) * weight for char, weight in zip(first17, _RESIDENT_ID_WEIGHTS, strict=True)
    )
    return _RESIDENT_ID_CHECK_MAP[total % 11]


def validate_resident_id(value: str, field: str = "id_number", *, today: date | None = None) -> str:
    """Return the normalised 18-character resident identity number, or raise.

    Checks, in order: length, that positions 1-17 are digits and position 18 is
    a digit or X, that the region code starts with 1-8, that the birth date
    (positions 7-14) is a real date from 1900 up to ``today`` (default: today in
    China), and the MOD 11-2 check character. Surrounding whitespace is stripped
    and a lowercase ``x`` is accepted; the result always uses uppercase ``X`` so
    one person never becomes two records.

    Error messages name ``field`` and the rule broken but never the value.
    """
    text = _require_string(value, field)
    if len(text) != _RESIDENT_ID_LENGTH:
        raise InvalidIdentifierError(
            field,
            f"{field} must be {_RESIDENT_ID_LENGTH} characters long, not {len(text)}",
        )
    for position, char in enumerate(text[:-1], start=1):
        if char not in _DIGITS:
            raise InvalidIdentifierError(
                field, f"{field} must have a digit 0-9 at position {position}"
            )
    check = text[-1].upper()
    if check not in _DIGITS + "X":
        raise InvalidIdentifierError(
            field, f"{field} must end in a check character that is a digit 0-9 or X"
        )
    if text[0] not in "12345678":
        raise InvalidIdentifierError(field, f"{field} region code must start with a digit 1-8")

    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise InvalidIdentifierError(
            field, f"{field} birth date (positions 7-14) is not a real calendar date"
        ) from None
    if birth < _EARLIEST_BIRTH_DATE:
        raise InvalidIdentifierError(field, f"{field} birth date (positions 7-14) is before 1900")
    if birth > (today if today is not None else _china_today()):
        raise InvalidIdentifierError(field, f"{field} birth date (positions 7-14) is in the future")

    expected = check_resident_id_char(text[:-1])
    if check != expected:
        raise InvalidIdentifierError(field, f"{field} {CHECK_MISMATCH}")
    return text[:-1] + check


def validate_mobile(value: str, field: str = "mobile") -> str:
    """Return the bare 11-digit mainland mobile number, or raise.

    People write numbers as ``+86 138 0013 8000`` or ``138-0013-8000``; all of
    those are the same subscriber, so an optional ``+86``/``86`` country prefix
    and spaces or hyphens between digit groups are accepted and removed. The
    number must then be 11 digits, start with 1 and have 3-9 as second digit.

    Error messages name ``field`` and the rule broken but never the value.
    """
    text = _require_string(value, field)
    if not _MOBILE_SHAPE.fullmatch(text):
        raise InvalidIdentifierError(
            field,
            f"{field} may contain only digits, an optional +86 prefix, "
            "and spaces or hyphens between digit groups",
        )
    digits = _MOBILE_SEPARATORS.sub("", text)
    if digits.startswith("+"):
        if not digits.startswith("+86"):
            raise InvalidIdentifierError(
                field, f"{field} must be a mainland number: the only country code allowed is +86"
            )
        digits = digits[3:]
    elif len(digits) == _MOBILE_LENGTH + 2 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) != _MOBILE_LENGTH:
        raise InvalidIdentifierError(
            field, f"{field} must have {_MOBILE_LENGTH} digits, not {len(digits)}"
        )
    if digits[0] != "1":
        raise InvalidIdentifierError(field, f"{field} must start with 1")
    if digits[1] not in "3456789":
        raise InvalidIdentifierError(field, f"{field} must have a second digit of 3-9")
    return digits


def check_uscc_char(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a USCC.

    Exposed so that tests and fixture generators can build valid codes.
    """
    if (
        not isinstance(first17, str)
        or len(first17) != _USCC_LENGTH - 1
        or any(char not in _USCC_INDEX for char in first17)
    ):
        raise InvalidIdentifierError(
            "first17",
            f"first17 must be exactly 17 characters from {USCC_ALPHABET}",
        )
    total = sum(
        _USCC_INDEX[char] * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True)
    )
    return USCC_ALPHABET[(31 - total % 31) % 31]


def validate_uscc(value: str, field: str = "uscc") -> str:
    """Return the uppercase 18-character unified social credit code, or raise.

    Only the length, the 31-character alphabet and the MOD 31 check character
    are checked; the meaning of individual positions (registration authority,
    entity type, region) is not, because the check character already catches
    every single mistyped character and the position codes change over time.

    Error messages name ``field`` and the rule broken but never the value.
    """
    text = _require_string(value, field).upper()
    if len(text) != _USCC_LENGTH:
        raise InvalidIdentifierError(
            field, f"{field} must be {_USCC_LENGTH} characters long, not {len(text)}"
        )
    for position, char in enumerate(text, start=1):
        if char not in _USCC_INDEX:
            raise InvalidIdentifierError(
                field,
                f"{field} has a character at position {position} that is not allowed: "
                "only digits and A-Y without I, O, S, V and Z may be used",
            )
    expected = check_uscc_char(text[:-1])
    if text[-1] != expected:
        raise InvalidIdentifierError(field, f"{field} {CHECK_MISMATCH}")
    return text


# --- display masks ----------------------------------------------------------------------------
#
# Each mask reveals at most the parts its docstring names. When the input does
# not have the expected shape we cannot tell which part is sensitive, so the
# whole value is replaced by asterisks (keeping the length, which is harmless).


def _as_text(value: object) -> str:
    """Best-effort text for display; masks must never raise on stored oddities."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    try:
        return str(value).strip()
    except Exception:
        return ""


def mask_resident_id(value: str) -> str:
    """``370102********123X``: region code and last four only.

    Anything that is not 18 characters long is masked completely.
    """
    text = _as_text(value)
    if len(text) != _RESIDENT_ID_LENGTH:
        return "*" * len(text)
    last = text[-1].upper() if text[-1] == "x" else text[-1]
    return text[:6] + "*" * 8 + text[-4:-1] + last


def mask_mobile(value: str) -> str:
    """``138****1234``: first three and last four digits only.

    Prefixes and separators are removed first (as :func:`validate_mobile`
    does); anything that does not then have 11 digits is masked completely.
    """
    text = _as_text(value)
    digits = _MOBILE_SEPARATORS.sub("", text)
    if digits.startswith("+86"):
        digits = digits[3:]
    elif len(digits) == _MOBILE_LENGTH + 2 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) != _MOBILE_LENGTH or any(char not in _DIGITS for char in digits):
        return "*" * len(text)
    return digits[:3] + "*" * 4 + digits[-4:]


def mask_name(value: str) -> str:
    """A person's name with only its first character shown: ``张三`` → ``张*``.

    A one-character name is fully masked (``*``), since showing its first
    character would show all of it.
    """
    text = _as_text(value)
    if len(text) <= 1:
        return "*" * len(text)
    return text[0] + "*" * (len(text) - 1)


def mask_enterprise_name(value: str) -> str:
    """An enterprise name with its first two and last two characters shown.

    ``济南某某科技有限公司`` → ``济南******公司``: enough for staff to recognise
    the enterprise. Names of four characters or fewer would be revealed entirely
    by that rule (at least one ``*`` must remain), so they show only their first
    character; a one-character name is fully masked.
    """
    text = _as_text(value)
    if len(text) <= 1:
        return "*" * len(text)
    if len(text) <= 4:
        return text[0] + "*" * (len(text) - 1)
    return text[:2] + "*" * (len(text) - 4) + text[-2:]


def mask_uscc(value: str) -> str:
    """``9137************2X``: first four and last two characters, same length.

    Anything that is not 18 characters long is masked completely.
    """
    text = _as_text(value)
    if len(text) != _USCC_LENGTH:
        return "*" * len(text)
    return text[:4] + "*" * (len(text) - 6) + text[-2:]
