"""The ticket (工单): registered, classified, assigned, processed, resolved, followed up.

SPEC.md "Tickets": four independent classification axes; complex tickets go to
a team; reassignment needs a reason; one working day from registration to
resolution, and urgent tickets also owe a first response within a short
working-time window.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.errors import InvalidInputError, RuleViolationError
from domain.values import optional_text, require_text
from domain.vocabulary import (
    BusinessType,
    Channel,
    Complexity,
    Nature,
    TicketStatus,
    Urgency,
    parse,
)
from domain.work_item import WorkItem


class Ticket(WorkItem):
    """A work order from a citizen or enterprise, arriving by one of four channels."""

    kind = "ticket"

    @event("Registered")
    def __init__(
        self,
        number: str,
        channel: str,
        requester_id: str,
        description: str,
        received_at: datetime,
        by: str,
    ) -> None:
        self._init_work_item(number, received_at)
        self.channel = channel
        self.requester_id = requester_id
        self.description = description
        self.registered_by = by
        self.status = TicketStatus.REGISTERED.value
        self.classification: dict[str, str] | None = None
        self.assignee: str | None = None
        self.team: list[str] = []
        self.assignments: list[dict[str, Any]] = []
        self.steps: list[dict[str, Any]] = []
        self.entry_reviews: list[dict[str, Any]] = []
        self.first_response_at: datetime | None = None
        self.resolved_at: datetime | None = None
        self.resolution: str | None = None

    @classmethod
    def register(
        cls,
        *,
        number: str,
        channel: str,
        requester_id: str,
        description: str,
        received_at: datetime,
        by: str,
    ) -> Ticket:
        """Validate a new ticket's fields, then create it."""
        return cls(
            number=number,
            channel=parse(Channel, channel, "channel").value,
            requester_id=requester_id,
            description=require_text(description, "description"),
            received_at=received_at,
            by=by,
        )

    @property
    def is_done(self) -> bool:
        return self.status == TicketStatus.RESOLVED.value

    @property
    def urgency(self) -> str | None:
        return self.classification["urgency"] if self.classification else None

    # -- entry review (登记审核) ----------------------------------------------------------
    def review_entry(self, passed: bool, notes: str | None, at: datetime, by: str) -> None:
        """A second pair of eyes on the registered entry, before or after classification."""
        self.check_open("review_entry")
        if not isinstance(passed, bool):
            raise InvalidInputError("passed", "passed must be true or false")
        self.check_in_order(at)
        self._entry_reviewed(passed=passed, notes=optional_text(notes, "notes"), at=at, by=by)

    @event("EntryReviewed")
    def _entry_reviewed(self, passed: bool, notes: str | None, at: datetime, by: str) -> None:
        self.entry_reviews.append({"passed": passed, "notes": notes, "at": at, "by": by})
        self.last_event_at = at

    # -- classification (分类) --------------------------------------------------------------
    def classify(
        self,
        *,
        nature: str,
        urgency: str,
        business_type: str,
        complexity: str,
        sub_type: str | None = None,
        at: datetime,
        by: str,
    ) -> None:
        """Classify on the four axes; reclassifying later is allowed and recorded."""
        self.check_open("classify")
        self.check_in_order(at)
        self._classified(
            nature=parse(Nature, nature, "nature").value,
            urgency=parse(Urgency, urgency, "urgency").value,
            business_type=parse(BusinessType, business_type, "business_type").value,
            complexity=parse(Complexity, complexity, "complexity").value,
            sub_type=optional_text(sub_type, "sub_type", max_length=200),
            at=at,
            by=by,
        )

    @event("Classified")
    def _classified(
        self,
        nature: str,
        urgency: str,
        business_type: str,
        complexity: str,
        sub_type: str | None,
        at: datetime,
        by: str,
    ) -> None:
        self.classification = {
            "nature": nature,
            "urgency": urgency,
            "business_type": business_type,
            "complexity": complexity,
            "sub_type": sub_type,
        }
        if self.status == TicketStatus.REGISTERED.value:
            self.status = TicketStatus.CLASSIFIED.value
        self.last_event_at = at

    # -- assignment (分配 / 转派) ------------------------------------------------------------
    def assign(
        self,
        *,
        assignee: str,
        reason: str | None = None,
        team: list[str] | None = None,
        at: datetime,
        by: str,
    ) -> None:
        """Assign to a staff member; a complex ticket needs a team, a reassignment a reason."""
        self.check_open("assign")
        if self.classification is None:
            raise RuleViolationError(
                "ticket.assign.requires_classification", "classify the ticket before assigning it"
            )
        assignee = require_text(assignee, "assignee", max_length=100)
        members = [require_text(m, f"team[{i}]", max_length=100) for i, m in enumerate(team or [])]
        members = [m for m in dict.fromkeys(members) if m != assignee]
        if self.classification["complexity"] == Complexity.COMPLEX.value and not members:
            raise RuleViolationError(
                "ticket.assign.complex_requires_team",
                "a complex ticket is handled by a team: name at least one team member",
            )
        reason = optional_text(reason, "reason")
        if self.assignee is not None:
            if assignee == self.assignee and members == self.team:
                raise RuleViolationError(
                    "ticket.assign.unchanged", f"the ticket is already assigned to {assignee}"
                )
            if reason is None:
                raise InvalidInputError("reason", "a reassignment must give a reason")
        self.check_in_order(at)
        self._assigned(assignee=assignee, team=members, reason=reason, at=at, by=by)

    @event("Assigned")
    def _assigned(
        self, assignee: str, team: list[str], reason: str | None, at: datetime, by: str
    ) -> None:
        self.assignments.append(
            {"assignee": assignee, "team": team, "reason": reason, "at": at, "by": by}
        )
        self.assignee = assignee
        self.team = team
        if self.status in (TicketStatus.REGISTERED.value, TicketStatus.CLASSIFIED.value):
            self.status = TicketStatus.ASSIGNED.value
        self.last_event_at = at

    def remove_team_member(self, member: str, reason: str, at: datetime, by: str) -> None:
        """Take ``member`` off the team (they left the project); the assignee keeps the ticket.

        Only a team member can be removed this way: the assignee is replaced by
        :meth:`assign` or :meth:`release`. A complex ticket may be left without
        a team; naming a new one is a reassignment, with its reason.
        """
        self.check_open("remove_team_member")
        if member not in self.team:
            raise RuleViolationError(
                "ticket.team.not_member", f"{member} is not on the ticket's team"
            )
        self.check_in_order(at)
        self._team_member_removed(member=member, reason=require_text(reason, "reason"), at=at,
                                  by=by)

    @event("TeamMemberRemoved")
    def _team_member_removed(self, member: str, reason: str, at: datetime, by: str) -> None:
        self.team = [m for m in self.team if m != member]
        self.assignments.append(
            {"assignee": self.assignee, "team": list(self.team), "reason": reason, "at": at,
             "by": by}
        )
        self.last_event_at = at

    def release(self, reason: str, at: datetime, by: str) -> None:
        """Return the ticket to the unassigned queue (a handler left the project)."""
        self.check_open("release")
        if self.assignee is None:
            raise RuleViolationError("ticket.release.not_assigned", "the ticket is not assigned")
        self.check_in_order(at)
        self._released(reason=require_text(reason, "reason"), at=at, by=by)

    @event("Released")
    def _released(self, reason: str, at: datetime, by: str) -> None:
        self.assignments.append(
            {"assignee": None, "team": [], "reason": reason, "at": at, "by": by}
        )
        self.assignee = None
        self.team = []
        self.status = TicketStatus.CLASSIFIED.value
        self.last_event_at = at

    # -- processing (处理) ----------------------------------------------------------------------
    def record_step(self, *, measure: str, result: str, at: datetime, by: str) -> None:
        """One processing step: what was done and what came of it."""
        self.check_open("record_step")
        if self.assignee is None:
            raise RuleViolationError(
                "ticket.step.requires_assignment", "assign the ticket before processing it"
            )
        self.check_in_order(at)
        self._step_recorded(
            measure=require_text(measure, "measure"),
            result=require_text(result, "result"),
            at=at,
            by=by,
        )

    @event("StepRecorded")
    def _step_recorded(self, measure: str, result: str, at: datetime, by: str) -> None:
        self.steps.append({"measure": measure, "result": result, "at": at, "by": by})
        if self.first_response_at is None:
            self.first_response_at = at
        self.status = TicketStatus.IN_PROGRESS.value
        self.last_event_at = at

    # -- resolution (办结反馈) -----------------------------------------------------------------
    def resolve(self, *, result: str, at: datetime, by: str) -> None:
        """Feed the result back to the requester and departments; the ticket is handled."""
        if self.is_done:
            raise RuleViolationError("ticket.resolve.already_resolved", "the ticket is resolved")
        if self.classification is None:
            raise RuleViolationError(
                "ticket.resolve.requires_classification",
                "an unclassified ticket cannot be resolved",
            )
        if self.assignee is None:
            raise RuleViolationError(
                "ticket.resolve.requires_assignment", "an unassigned ticket cannot be resolved"
            )
        if self.is_paused:
            raise RuleViolationError(
                "ticket.resolve.while_paused", "resume the clock before resolving the ticket"
            )
        self.check_in_order(at)
        self._resolved(result=require_text(result, "result"), at=at, by=by)

    @event("Resolved")
    def _resolved(self, result: str, at: datetime, by: str) -> None:
        self.resolution = result
        self.resolved_at = at
        if self.first_response_at is None:
            self.first_response_at = at
        self.status = TicketStatus.RESOLVED.value
        self.last_event_at = at
