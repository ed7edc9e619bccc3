"""Request and response bodies.

Request models check only shapes: JSON types, required fields and unknown
fields (refused). Identifiers and vocabularies (channels, urgencies, resident ID
numbers, ...) travel as plain strings to the domain, whose errors name the
field, so clients see one kind of message for every rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StrictBool, StrictInt


class RequestBody(BaseModel):
    model_config = ConfigDict(extra="forbid")


# -- subjects ----------------------------------------------------------------------------
class SubjectCreate(RequestBody):
    kind: str = Field(description="person | enterprise")
    name: str
    id_number: str | None = Field(None, description="18-character resident ID number")
    mobile: str | None = Field(None, description="mainland mobile number")
    uscc: str | None = Field(None, description="unified social credit code (enterprises)")


class SubjectReceipt(BaseModel):
    id: str
    kind: str
    name_masked: str | None
    id_number_masked: str | None = None
    mobile_masked: str | None = None
    uscc_masked: str | None = None
    destroyed: bool = False


class SubjectPublic(SubjectReceipt):
    fields: list[str] = Field(description="names of the personal fields held (sealed)")
    registered_at: datetime
    destroyed_at: datetime | None = None
    version: int


# -- tickets -----------------------------------------------------------------------------
class TicketCreate(RequestBody):
    channel: str = Field(description="phone | email | online | window")
    requester_id: str = Field(description="the id of a registered subject")
    description: str
    received_at: AwareDatetime | None = Field(
        None, description="when the request arrived (with offset); defaults to now"
    )


class TicketClassify(RequestBody):
    nature: str = Field(description="consultation | complaint | suggestion")
    urgency: str = Field(description="urgent | important | general | minor")
    business_type: str = Field(description="employment | entrepreneurship | social_security")
    complexity: str = Field(description="simple | medium | complex")
    sub_type: str | None = None


class TicketAssign(RequestBody):
    assignee: str
    reason: str | None = Field(None, description="required when reassigning")
    team: list[str] | None = Field(None, description="required for a complex ticket")


class TicketStep(RequestBody):
    measure: str
    result: str


class TicketPause(RequestBody):
    reason: str


class Empty(RequestBody):
    """No fields; ``{}`` or no body at all."""


class TicketResolve(RequestBody):
    result: str


class CallbackCreate(RequestBody):
    kind: str = Field(description="phone | sms | survey")
    satisfaction: StrictInt = Field(description="1 (very dissatisfied) to 5 (very satisfied)")
    problems: str | None = None


class ReviewCreate(RequestBody):
    passed: StrictBool
    notes: str | None = None


# -- service cases -----------------------------------------------------------------------
class CaseCreate(RequestBody):
    service_type: str = Field(
        description="employment_training | entrepreneurship_guidance | project_recommendation"
        " | funding_support | policy_consultation"
    )
    subject_id: str = Field(description="the id of a registered subject")
    materials: list[str]
    received_at: AwareDatetime | None = None


class CaseAccept(RequestBody):
    materials_complete: StrictBool
    missing: list[str] | None = Field(None, description="required when materials are incomplete")


class CaseApprove(RequestBody):
    approved: StrictBool
    notes: str | None = None


class CaseFeedback(RequestBody):
    result: str


class CaseAssign(RequestBody):
    assignee: str
    reason: str


# -- users -------------------------------------------------------------------------------
class UserCreate(RequestBody):
    name: str
    role: str = Field(
        description="project_lead | ticket_handler | service_specialist | quality_supervisor"
        " | confidentiality_officer | analyst | auditor"
    )


class UserCreated(BaseModel):
    id: str
    name: str
    role: str
    token: str | None = Field(
        None, description="shown once; a retried request gets the receipt without it"
    )


# -- answers -----------------------------------------------------------------------------
class ItemReceipt(BaseModel):
    """What a command on a ticket or case answers."""

    id: str
    number: str
    status: str
    version: int
    due_at: datetime | None
    sla_state: str


class Deadline(BaseModel):
    name: str
    started_at: datetime
    limit_seconds: int
    due_at: datetime | None
    met_at: datetime | None
    elapsed_seconds: int
    state: str


class Pause(BaseModel):
    started_at: datetime | None
    ended_at: datetime | None


class WorkItemPublic(BaseModel):
    id: str
    number: str
    status: str
    assignee: str | None
    received_at: datetime
    due_at: datetime | None
    sla_state: str
    deadlines: list[Deadline]
    paused: bool
    pauses: list[Pause]
    resolved_at: datetime | None
    callbacks: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    assignments: list[dict[str, Any]]
    version: int


class TicketPublic(WorkItemPublic):
    channel: str
    requester_id: str
    description: str
    classification: dict[str, Any] | None
    team: list[str]
    steps: list[dict[str, Any]]
    entry_reviews: list[dict[str, Any]]
    first_response_at: datetime | None
    resolution: str | None
    registered_by: str


class CasePublic(WorkItemPublic):
    service_type: str
    subject_id: str
    materials: list[str]
    missing: list[str]
    accepted_at: datetime | None
    decided_at: datetime | None
    approved: bool | None
    approval_notes: str | None
    closed_at: datetime | None
    result: str | None
    history: list[dict[str, Any]]
    opened_by: str


class ItemPage(BaseModel):
    items: list[dict[str, Any]]
    next_cursor: str | None


class Health(BaseModel):
    status: str
    store: str
    log_length: int


class ErrorDetail(BaseModel):
    code: str
    message: str
    field: str | None
    rule: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


_ERROR_TEXT = {
    400: "The body is not JSON",
    401: "No bearer token, or one that is not valid",
    403: "The role does not allow this",
    404: "No such item",
    409: "A rule forbids this now, or the item changed meanwhile",
    422: "A field is missing or not valid (`field` names it)",
    503: "A collaborator of this endpoint is not running",
}


def error_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI entries for the error answers an endpoint can give."""
    return {code: {"model": ErrorBody, "description": _ERROR_TEXT[code]} for code in codes}
