"""Who may do what: the one authorisation table (SPEC.md, "Who uses it", "Confidentiality").

Three small tables, read together:

* ``ACTIONS`` — every action the service knows, with the information level it
  touches (high: the buyer's basic information; medium: business handling
  information, i.e. personal data and case content; low: statistics and
  metadata without personal data).
* ``CLEARANCE`` — the highest level each role may ever read. Analysts and
  auditors are cleared for ``low`` only: they never see personal data, not
  even masks (a mask such as ``110105********002X`` still carries the region
  and the last digits, so masked subject views are ``medium``).
* ``PERMISSIONS`` — role × action. :func:`check_table` proves that no role is
  given an action above its clearance, so the two tables cannot drift apart.

The HTTP layer declares one action per endpoint and asks only :func:`authorise`.
Whether a *particular* read of personal data is allowed (the actor handles the
item, holds a grant, or is the project lead) is the read gate's decision
(:mod:`domain.gate`), made after this table allowed the action at all.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from domain.errors import PermissionDeniedError
from domain.vocabulary import Role


class Level(StrEnum):
    """Information levels of SPEC.md, lowest first."""

    LOW = "low"  # 统计分析信息: statistics, metadata; no personal data
    MEDIUM = "medium"  # 业务办理信息: requester identity, ID number, phone, case materials
    HIGH = "high"  # 采购人基本信息: the buyer's basic information

    @property
    def rank(self) -> int:
        return _RANK[self]


_RANK = {Level.LOW: 0, Level.MEDIUM: 1, Level.HIGH: 2}


@dataclass(frozen=True)
class Action:
    name: str
    level: Level
    summary: str


def _actions(*rows: tuple[str, Level, str]) -> dict[str, Action]:
    return {name: Action(name, level, summary) for name, level, summary in rows}


L, M, H = Level.LOW, Level.MEDIUM, Level.HIGH
ACTIONS: dict[str, Action] = _actions(
    ("self.read", L, "see one's own account"),
    ("subject.register", M, "register a person or enterprise (fields are sealed at once)"),
    ("subject.read_masked", M, "a subject's masked view"),
    ("subject.reveal", M, "attempt to read a subject's personal fields through the gate"),
    ("ticket.create", M, "register a ticket"),
    ("ticket.work", M, "entry review, classify, assign, process, pause, resolve a ticket"),
    ("ticket.read", M, "read tickets and list them"),
    ("case.create", M, "open a service case"),
    ("case.work", M, "accept, approve, feed back, hand over a service case"),
    ("case.read", M, "read service cases and list them"),
    ("followup.record", M, "record a callback or survey on a done ticket or case"),
    ("quality.review", M, "record a quality review of handled work"),
    ("report.read", L, "read statistical reports (no personal data)"),
    ("audit.read", L, "signed tree heads, proofs, audit bundles (ciphertext only)"),
    ("user.manage", L, "add staff, change roles, deactivate (人员更换)"),
    ("user.read", L, "read a staff member's account and links"),
    ("grant.apply", M, "apply for access to fields of a subject (申请)"),
    ("grant.decide", M, "approve, reject or revoke a grant (审批)"),
    ("grant.read", M, "read a grant"),
    ("access_review.record", L, "record a periodic review of the access log"),
    ("access_review.read", L, "the review schedule: last review, next due, overdue"),
    ("access_log.read", M, "read the access history of a subject or actor (itself recorded)"),
    ("destruction.request", M, "ask for a subject's personal data to be destroyed"),
    ("destruction.approve", M, "approve or reject a destruction request"),
    ("destruction.read", L, "read a destruction request and its decision"),
    ("terms.read", L, "read the working calendar's schedules and the contract's terms"),
    ("terms.manage", L, "load a year schedule or change the contract's terms (recorded)"),
    ("buyer.manage", H, "set the buyer's basic information"),
    ("buyer.reveal", H, "read the buyer's basic information through the gate"),
)

CLEARANCE: dict[Role, Level] = {
    Role.PROJECT_LEAD: H,
    Role.TICKET_HANDLER: M,
    Role.SERVICE_SPECIALIST: M,
    Role.QUALITY_SUPERVISOR: M,
    Role.CONFIDENTIALITY_OFFICER: M,
    Role.ANALYST: L,
    Role.AUDITOR: L,
}

_STAFF = {"self.read", "terms.read"}
# Reports are statistics: for the lead, supervisors, officers, analysts and auditors.
_STATISTICS = {"report.read"}
PERMISSIONS: dict[Role, frozenset[str]] = {
    # 项目负责人: all information; approves grants, destruction, reassignments.
    Role.PROJECT_LEAD: frozenset(ACTIONS),
    # 工单处理专员: registers, classifies and processes tickets.
    Role.TICKET_HANDLER: frozenset(
        _STAFF
        | {"subject.register", "subject.read_masked", "subject.reveal"}
        | {"ticket.create", "ticket.work", "ticket.read", "followup.record"}
        | {"grant.apply", "grant.read", "destruction.request", "destruction.read"}
    ),
    # 就业创业服务专员: handles service cases and callbacks (tickets' callbacks too).
    Role.SERVICE_SPECIALIST: frozenset(
        _STAFF
        | {"subject.register", "subject.read_masked", "subject.reveal"}
        | {"case.create", "case.work", "case.read", "ticket.read", "followup.record"}
        | {"grant.apply", "grant.read", "destruction.request", "destruction.read"}
    ),
    # 质量监督: reviews handled work, satisfaction, quarterly assessment.
    Role.QUALITY_SUPERVISOR: frozenset(
        _STAFF
        | _STATISTICS
        | {"subject.read_masked", "subject.reveal", "ticket.read", "case.read"}
        | {"quality.review", "followup.record", "grant.apply", "grant.read"}
    ),
    # 保密监督员: replays access history, reviews access logs on schedule, handles leaks.
    Role.CONFIDENTIALITY_OFFICER: frozenset(
        _STAFF
        | _STATISTICS
        | {"subject.read_masked", "subject.reveal", "ticket.read", "case.read"}
        | {"access_log.read", "access_review.record", "access_review.read", "audit.read"}
        | {"grant.apply", "grant.read", "user.read"}
        | {"destruction.request", "destruction.read"}
    ),
    # 数据分析: statistics only, never personal data.
    Role.ANALYST: frozenset(_STAFF | _STATISTICS),
    # 审计/合规: log integrity, audit bundles, reports as of a past date; no personal data.
    Role.AUDITOR: frozenset(
        _STAFF | _STATISTICS | {"audit.read", "access_review.read", "destruction.read"}
    ),
}


class Principal(Protocol):
    """Anything with a role (a :class:`~domain.people.User`)."""

    @property
    def role(self) -> str: ...


def action(name: str) -> Action:
    """The action called ``name``; an unknown name is a programming error."""
    try:
        return ACTIONS[name]
    except KeyError:
        raise KeyError(f"no such action in the authorisation table: {name!r}") from None


def allows(role: str, name: str) -> bool:
    """Does ``role`` hold ``name``, within its clearance? Unknown roles hold nothing."""
    wanted = action(name)
    try:
        held = Role(role)
    except ValueError:
        return False
    return name in PERMISSIONS[held] and wanted.level.rank <= CLEARANCE[held].rank


def cleared_for(role: str, level: Level) -> bool:
    """May ``role`` read information of ``level`` at all?"""
    try:
        return level.rank <= CLEARANCE[Role(role)].rank
    except ValueError:
        return False


def authorise(principal: Principal, name: str) -> None:
    """Raise :class:`PermissionDeniedError` (naming role and action) unless allowed."""
    if not allows(principal.role, name):
        raise PermissionDeniedError(
            f"the role {principal.role} may not {name} ({action(name).summary})"
        )


def roles_allowed(name: str) -> list[str]:
    """The roles that hold ``name``, in the order of :class:`Role`."""
    return [role.value for role in Role if allows(role.value, name)]


def check_table() -> list[str]:
    """Inconsistencies between the tables (empty when they agree)."""
    problems = []
    for role in Role:
        if role not in PERMISSIONS or role not in CLEARANCE:
            problems.append(f"{role.value} is missing from PERMISSIONS or CLEARANCE")
            continue
        for name in sorted(PERMISSIONS[role]):
            if name not in ACTIONS:
                problems.append(f"{role.value} holds an unknown action {name}")
            elif ACTIONS[name].level.rank > CLEARANCE[role].rank:
                problems.append(
                    f"{role.value} (cleared for {CLEARANCE[role].value}) holds {name}"
                    f" ({ACTIONS[name].level.value})"
                )
    return problems
