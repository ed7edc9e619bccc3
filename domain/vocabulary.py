"""Closed vocabularies of SPEC.md, as string enums.

Events store the plain string values, so a stored log stays readable even if
an enum member is later renamed in code.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TypeVar

from domain.errors import InvalidInputError


class Channel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ONLINE = "online"
    WINDOW = "window"


class Nature(StrEnum):
    CONSULTATION = "consultation"  # 咨询
    COMPLAINT = "complaint"  # 投诉
    SUGGESTION = "suggestion"  # 建议


class Urgency(StrEnum):
    URGENT = "urgent"  # 紧急
    IMPORTANT = "important"  # 重要
    GENERAL = "general"  # 一般
    MINOR = "minor"  # 轻微


class BusinessType(StrEnum):
    EMPLOYMENT = "employment"  # 就业
    ENTREPRENEURSHIP = "entrepreneurship"  # 创业
    SOCIAL_SECURITY = "social_security"  # 社保


class Complexity(StrEnum):
    SIMPLE = "simple"  # 简单: any handler
    MEDIUM = "medium"  # 中等: an experienced handler
    COMPLEX = "complex"  # 复杂: a team, tracked closely


class ServiceType(StrEnum):
    EMPLOYMENT_TRAINING = "employment_training"
    ENTREPRENEURSHIP_GUIDANCE = "entrepreneurship_guidance"
    PROJECT_RECOMMENDATION = "project_recommendation"
    FUNDING_SUPPORT = "funding_support"
    POLICY_CONSULTATION = "policy_consultation"


class CallbackKind(StrEnum):
    PHONE = "phone"  # first callback: satisfaction and problems
    SMS = "sms"  # second callback: satisfaction with the result
    SURVEY = "survey"  # periodic questionnaire


class SubjectKind(StrEnum):
    PERSON = "person"
    ENTERPRISE = "enterprise"


class Role(StrEnum):
    PROJECT_LEAD = "project_lead"
    TICKET_HANDLER = "ticket_handler"
    SERVICE_SPECIALIST = "service_specialist"
    QUALITY_SUPERVISOR = "quality_supervisor"
    CONFIDENTIALITY_OFFICER = "confidentiality_officer"
    ANALYST = "analyst"
    AUDITOR = "auditor"


class TicketStatus(StrEnum):
    REGISTERED = "registered"
    CLASSIFIED = "classified"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    RESOLVED = "resolved"


class CaseStatus(StrEnum):
    RECEIVED = "received"
    AWAITING_MATERIALS = "awaiting_materials"
    ACCEPTED = "accepted"
    APPROVED = "approved"
    REJECTED = "rejected"
    CLOSED = "closed"


E = TypeVar("E", bound=StrEnum)


def parse(enum: type[E], value: object, field: str) -> E:
    """Return ``value`` as a member of ``enum`` or raise an error naming ``field``."""
    try:
        return enum(value)
    except ValueError:
        allowed = ", ".join(m.value for m in enum)
        raise InvalidInputError(field, f"{field} must be one of: {allowed}") from None
