"""What tickets and service cases have in common.

Both are handled items with a working-time clock that can pause, follow-up
callbacks after they are done, and quality reviews. Keeping these rules in one
base class keeps the two lifecycles' extra steps the only difference.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import Aggregate, event

from domain.errors import InvalidInputError, RuleViolationError
from domain.values import optional_text, require_not_before, require_satisfaction
from domain.vocabulary import CallbackKind, parse


class WorkItem(Aggregate):
    """A ticket or a service case: numbered, clocked, followed up and reviewed."""

    # No class-level annotations here: eventsourcing would make them event fields.
    kind = "item"

    # -- state every subclass initialises ------------------------------------------
    def _init_work_item(self, number: str, received_at: datetime) -> None:
        self.number = number
        self.received_at = received_at
        self.pauses: list[list[datetime | None]] = []
        self.callbacks: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []
        self.last_event_at = received_at

    # -- questions ---------------------------------------------------------------------
    @property
    def is_done(self) -> bool:
        """Resolved (ticket) or closed with feedback (case)."""
        raise NotImplementedError

    @property
    def is_paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    def closed_pauses(self) -> list[tuple[datetime, datetime]]:
        """Paused intervals that have ended, for working-time arithmetic."""
        return [(start, end) for start, end in self.pauses if start and end]

    # -- guards --------------------------------------------------------------------------
    def check_in_order(self, at: datetime) -> None:
        require_not_before(at, self.last_event_at, "at", f"the {self.kind}'s previous step")

    def check_open(self, action: str) -> None:
        if self.is_done:
            raise RuleViolationError(
                f"{self.kind}.{action}.after_done", f"cannot {action}: the {self.kind} is done"
            )

    # -- the clock -----------------------------------------------------------------------
    def pause(self, reason: str, at: datetime, by: str) -> None:
        """Stop the clock while waiting for the requester (materials, a reply)."""
        self.check_open("pause")
        if self.is_paused:
            raise RuleViolationError(f"{self.kind}.pause.already_paused", "the clock is paused")
        self.check_in_order(at)
        self._paused(reason=optional_text(reason, "reason") or "", at=at, by=by)

    @event("Paused")
    def _paused(self, reason: str, at: datetime, by: str) -> None:
        self.pauses.append([at, None])
        self.last_event_at = at

    def resume(self, at: datetime, by: str) -> None:
        """Restart the clock; the paused interval does not count against the limit."""
        if not self.is_paused:
            raise RuleViolationError(f"{self.kind}.resume.not_paused", "the clock is not paused")
        self.check_in_order(at)
        self._resumed(at=at, by=by)

    @event("Resumed")
    def _resumed(self, at: datetime, by: str) -> None:
        self.pauses[-1][1] = at
        self.last_event_at = at

    # -- follow-up -----------------------------------------------------------------------
    def record_callback(
        self, kind: str, satisfaction: int, problems: str | None, at: datetime, by: str
    ) -> None:
        """A callback after the item is done: phone, SMS or survey, scored 1-5."""
        if not self.is_done:
            raise RuleViolationError(
                f"{self.kind}.callback.before_done",
                f"a callback needs the {self.kind} to be done first",
            )
        self.check_in_order(at)
        self._callback_recorded(
            kind=parse(CallbackKind, kind, "kind").value,
            satisfaction=require_satisfaction(satisfaction),
            problems=optional_text(problems, "problems"),
            at=at,
            by=by,
        )

    @event("CallbackRecorded")
    def _callback_recorded(
        self, kind: str, satisfaction: int, problems: str | None, at: datetime, by: str
    ) -> None:
        self.callbacks.append(
            {"kind": kind, "satisfaction": satisfaction, "problems": problems, "at": at, "by": by}
        )
        self.last_event_at = at

    def review(self, passed: bool, notes: str | None, at: datetime, by: str) -> None:
        """A quality supervisor's review of handled work; feeds the accuracy rate."""
        if not self.is_done:
            raise RuleViolationError(
                f"{self.kind}.review.before_done", f"only a done {self.kind} can be reviewed"
            )
        if not isinstance(passed, bool):
            raise InvalidInputError("passed", "passed must be true or false")
        self.check_in_order(at)
        self._reviewed(passed=passed, notes=optional_text(notes, "notes"), at=at, by=by)

    @event("Reviewed")
    def _reviewed(self, passed: bool, notes: str | None, at: datetime, by: str) -> None:
        self.reviews.append({"passed": passed, "notes": notes, "at": at, "by": by})
        self.last_event_at = at
