"""The service case (就业创业服务办理): accept, approve, feed back, follow up.

SPEC.md "Service cases": acceptance checks the materials (1 working day),
approval covers internal approval and external coordination (2), feedback
notifies the applicant and provides the service (1); the whole case has 3.
Incomplete materials pause the clock until the applicant supplies them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from eventsourcing.domain import event

from domain.errors import InvalidInputError, RuleViolationError
from domain.values import optional_text, require_text
from domain.vocabulary import CaseStatus, ServiceType, parse
from domain.work_item import WorkItem

MAX_MATERIALS = 200


def _materials(value: object, field: str) -> list[str]:
    if not isinstance(value, list):
        raise InvalidInputError(field, f"{field} must be a list of strings")
    if len(value) > MAX_MATERIALS:
        raise InvalidInputError(field, f"{field} lists more than {MAX_MATERIALS} items")
    return [require_text(item, f"{field}[{i}]", max_length=500) for i, item in enumerate(value)]


class ServiceCase(WorkItem):
    """An employment or entrepreneurship service handled for a citizen or enterprise."""

    kind = "case"

    @event("Opened")
    def __init__(
        self,
        number: str,
        service_type: str,
        subject_id: str,
        materials: list[str],
        received_at: datetime,
        by: str,
    ) -> None:
        self._init_work_item(number, received_at)
        self.service_type = service_type
        self.subject_id = subject_id
        self.materials = materials
        self.opened_by = by
        self.status = CaseStatus.RECEIVED.value
        self.assignee: str | None = by
        self.missing: list[str] = []
        self.accepted_at: datetime | None = None
        self.decided_at: datetime | None = None
        self.approved: bool | None = None
        self.approval_notes: str | None = None
        self.closed_at: datetime | None = None
        self.result: str | None = None
        self.history: list[dict[str, Any]] = []

    @classmethod
    def open(
        cls,
        *,
        number: str,
        service_type: str,
        subject_id: str,
        materials: list[str],
        received_at: datetime,
        by: str,
    ) -> ServiceCase:
        """Validate a new application, then open the case."""
        return cls(
            number=number,
            service_type=parse(ServiceType, service_type, "service_type").value,
            subject_id=subject_id,
            materials=_materials(materials, "materials"),
            received_at=received_at,
            by=by,
        )

    @property
    def is_done(self) -> bool:
        return self.status == CaseStatus.CLOSED.value

    # -- acceptance (申请受理) ---------------------------------------------------------------
    def accept(
        self, *, materials_complete: bool, missing: list[str] | None, at: datetime, by: str
    ) -> None:
        """Check the materials: complete → accepted; incomplete → ask and pause the clock."""
        if self.status != CaseStatus.RECEIVED.value:
            raise RuleViolationError(
                "case.accept.not_received",
                f"only a received case can be accepted (this one is {self.status})",
            )
        if not isinstance(materials_complete, bool):
            raise InvalidInputError(
                "materials_complete", "materials_complete must be true or false"
            )
        self.check_in_order(at)
        if materials_complete:
            self._accepted(at=at, by=by)
            return
        wanted = _materials(missing or [], "missing")
        if not wanted:
            raise InvalidInputError("missing", "name the missing materials")
        self._materials_requested(missing=wanted, at=at, by=by)

    @event("Accepted")
    def _accepted(self, at: datetime, by: str) -> None:
        self.status = CaseStatus.ACCEPTED.value
        self.accepted_at = at
        self.missing = []
        self.history.append({"step": "accepted", "at": at, "by": by})
        self.last_event_at = at

    @event("MaterialsRequested")
    def _materials_requested(self, missing: list[str], at: datetime, by: str) -> None:
        self.status = CaseStatus.AWAITING_MATERIALS.value
        self.missing = missing
        self.pauses.append([at, None])
        self.history.append({"step": "materials_requested", "missing": missing, "at": at, "by": by})
        self.last_event_at = at

    def supply_materials(self, materials: list[str] | None, at: datetime, by: str) -> None:
        """The applicant supplied what was missing: the clock runs again."""
        if self.status != CaseStatus.AWAITING_MATERIALS.value:
            raise RuleViolationError(
                "case.resume.not_awaiting_materials", "the case is not waiting for materials"
            )
        self.check_in_order(at)
        self._materials_supplied(materials=_materials(materials or [], "materials"), at=at, by=by)

    @event("MaterialsSupplied")
    def _materials_supplied(self, materials: list[str], at: datetime, by: str) -> None:
        self.materials = [*self.materials, *materials]
        self.pauses[-1][1] = at
        self.status = CaseStatus.RECEIVED.value
        self.history.append({"step": "materials_supplied", "at": at, "by": by})
        self.last_event_at = at

    def resume(self, at: datetime, by: str) -> None:
        """Resume a case: after a materials request it means the materials arrived."""
        if self.status == CaseStatus.AWAITING_MATERIALS.value:
            self.supply_materials([], at, by)
        else:
            super().resume(at, by)

    # -- approval (审批办理) ---------------------------------------------------------------------
    def decide(self, *, approved: bool, notes: str | None, at: datetime, by: str) -> None:
        """Internal approval and external coordination end in approval or rejection."""
        if self.status != CaseStatus.ACCEPTED.value:
            raise RuleViolationError(
                "case.approve.requires_acceptance",
                f"only an accepted case can be decided (this one is {self.status})",
            )
        if not isinstance(approved, bool):
            raise InvalidInputError("approved", "approved must be true or false")
        if self.is_paused:
            raise RuleViolationError("case.approve.while_paused", "resume the clock first")
        self.check_in_order(at)
        self._decided(approved=approved, notes=optional_text(notes, "notes"), at=at, by=by)

    @event("Decided")
    def _decided(self, approved: bool, notes: str | None, at: datetime, by: str) -> None:
        self.approved = approved
        self.approval_notes = notes
        self.decided_at = at
        self.status = CaseStatus.APPROVED.value if approved else CaseStatus.REJECTED.value
        self.history.append({"step": "decided", "approved": approved, "at": at, "by": by})
        self.last_event_at = at

    # -- result feedback (结果反馈) -----------------------------------------------------------
    def give_feedback(self, *, result: str, at: datetime, by: str) -> None:
        """Notify the applicant of the decision and provide the service; closes the case."""
        if self.is_done:
            raise RuleViolationError("case.feedback.already_closed", "the case is closed")
        if self.status not in (CaseStatus.APPROVED.value, CaseStatus.REJECTED.value):
            raise RuleViolationError(
                "case.feedback.requires_decision",
                f"feedback needs an approval decision first (the case is {self.status})",
            )
        if self.is_paused:
            raise RuleViolationError("case.feedback.while_paused", "resume the clock first")
        self.check_in_order(at)
        self._closed(result=require_text(result, "result"), at=at, by=by)

    @event("Closed")
    def _closed(self, result: str, at: datetime, by: str) -> None:
        self.result = result
        self.closed_at = at
        self.status = CaseStatus.CLOSED.value
        self.history.append({"step": "closed", "at": at, "by": by})
        self.last_event_at = at

    # -- handling staff ------------------------------------------------------------------------
    def assign(self, *, assignee: str, reason: str | None, at: datetime, by: str) -> None:
        """Hand the case to another specialist; a handover always gives a reason."""
        self.check_open("assign")
        assignee = require_text(assignee, "assignee", max_length=100)
        if assignee == self.assignee:
            raise RuleViolationError("case.assign.unchanged", f"the case is with {assignee}")
        self.check_in_order(at)
        self._assigned(assignee=assignee, reason=require_text(reason, "reason"), at=at, by=by)

    @event("Assigned")
    def _assigned(self, assignee: str, reason: str, at: datetime, by: str) -> None:
        self.assignee = assignee
        self.history.append({"step": "assigned", "assignee": assignee, "reason": reason, "at": at})
        self.last_event_at = at
