"""The contract's terms as events: service period, yearly targets, warning margin.

The quota report compares what was handled with a target and a plan to date,
both derived from these terms. If they were configuration, changing a target
would silently rewrite every past report; recorded in the log, a report as of a
date uses the terms recorded by then, and the change itself (who, when, why) is
part of the record the buyer and auditors read.

Defaults are SPEC.md's: 10,000 tickets and 545,000 services in 12 months from
2026-01-01, a 5% margin before a progress warning (进度预警).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError
from domain.values import optional_text

CONTRACT_BOOK_ID = uuid.UUID("9e4c2b17-8d5a-4f3e-b6c1-2a7d0f9e5b48")
LINES = ("tickets", "services")
DEFAULT_TARGETS: Mapping[str, int] = {"tickets": 10_000, "services": 545_000}
TERM_KEYS = ("start", "months", "targets", "warning_margin")
MAX_MONTHS = 120
MAX_TARGET = 100_000_000
MAX_REASON = 500


@dataclass(frozen=True)
class ContractTerms:
    """Start, length in months, yearly targets per line, and the progress-warning margin."""

    start: date = date(2026, 1, 1)
    months: int = 12
    targets: Mapping[str, int] = field(default_factory=lambda: dict(DEFAULT_TARGETS))
    warning_margin: float = 0.05

    def __post_init__(self) -> None:
        if isinstance(self.start, datetime) or not isinstance(self.start, date):
            raise InvalidInputError("start", "start must be a date such as 2026-01-01")
        if isinstance(self.months, bool) or not isinstance(self.months, int) or not (
            1 <= self.months <= MAX_MONTHS
        ):
            raise InvalidInputError("months", f"months must be an integer from 1 to {MAX_MONTHS}")
        if not isinstance(self.targets, Mapping):
            raise InvalidInputError("targets", "targets must map tickets and services to counts")
        for key in self.targets:
            if key not in LINES:
                raise InvalidInputError(f"targets.{key}", f"no quota line {key!r}; "
                                        f"the lines are {', '.join(LINES)}")
        for line in LINES:
            value = self.targets.get(line)
            if isinstance(value, bool) or not isinstance(value, int) or not (
                0 <= value <= MAX_TARGET
            ):
                raise InvalidInputError(
                    f"targets.{line}", f"targets.{line} must be an integer from 0 to {MAX_TARGET}"
                )
        margin = self.warning_margin
        if isinstance(margin, bool) or not isinstance(margin, (int, float)) or not (
            0 <= margin < 1
        ):
            raise InvalidInputError(
                "warning_margin", "warning_margin must be a share from 0 to below 1 (0.05 = 5%)"
            )
        object.__setattr__(self, "targets", {line: int(self.targets[line]) for line in LINES})
        object.__setattr__(self, "warning_margin", float(margin))

    @classmethod
    def from_mapping(cls, data: object, base: ContractTerms | None = None) -> ContractTerms:
        """Parse the JSON form; keys left out keep ``base``'s values (the terms in force)."""
        if not isinstance(data, Mapping):
            raise InvalidInputError("terms", "contract terms must be a JSON object")
        for key in data:
            if key not in TERM_KEYS:
                raise InvalidInputError(
                    str(key), f"unknown field {key!r}; expected {', '.join(TERM_KEYS)}"
                )
        base = base or cls()
        start: Any = data.get("start", base.start)
        if isinstance(start, str):
            try:
                start = date.fromisoformat(start)
            except ValueError:
                raise InvalidInputError("start", "start must be a date such as 2026-01-01"
                                        ) from None
        targets = data.get("targets", {})
        if not isinstance(targets, Mapping):
            raise InvalidInputError("targets", "targets must map tickets and services to counts")
        return cls(
            start=start,
            months=data.get("months", base.months),
            targets={**base.targets, **targets},
            warning_margin=data.get("warning_margin", base.warning_margin),
        )

    def to_mapping(self) -> dict[str, Any]:
        return {
            "start": self.start.isoformat(),
            "months": self.months,
            "targets": dict(self.targets),
            "warning_margin": self.warning_margin,
        }


class ContractBook(Aggregate):
    """Every change of the contract's terms, in order; the last is in force."""

    @staticmethod
    def create_id(**_: object) -> uuid.UUID:
        return CONTRACT_BOOK_ID

    @event("Opened")
    def __init__(self, at: datetime, by: str) -> None:
        self.opened_at = at
        self.changes: list[dict[str, Any]] = []

    @property
    def terms(self) -> ContractTerms:
        if not self.changes:
            return ContractTerms()
        return ContractTerms.from_mapping(self.changes[-1]["terms"])

    def set_terms(self, terms: ContractTerms, reason: object, at: datetime, by: str) -> bool:
        """Record ``terms`` unless they are the terms in force; True if recorded.

        A change must say why: targets are what the provider is judged by.
        """
        text = optional_text(reason, "reason", max_length=MAX_REASON)
        if self.changes and text is None:
            raise InvalidInputError("reason", "changing the contract's terms needs a reason")
        if self.changes and terms == self.terms:
            return False
        self._terms_set(terms=terms.to_mapping(), reason=text, at=at, by=by)
        return True

    @event("TermsSet")
    def _terms_set(self, terms: dict[str, Any], reason: str | None, at: datetime, by: str
                   ) -> None:
        self.changes.append({"terms": terms, "reason": reason, "at": at, "by": by})


def contract_receipt(book: ContractBook | None) -> dict[str, Any]:
    """The terms in force (the defaults until any are recorded) and every change."""
    terms = ContractTerms() if book is None else book.terms
    return {
        "terms": terms.to_mapping(),
        "recorded": book is not None and bool(book.changes),
        "history": [
            {**change["terms"], "reason": change["reason"], "set_at": change["at"].isoformat(),
             "set_by": change["by"]}
            for change in ([] if book is None else book.changes)
        ],
        "version": 0 if book is None else book.version,
    }
