"""The read gate's decision, as a pure function of plain facts.

Whether one read of personal data is allowed: the authorisation table must
give the role the action (``subject.reveal`` or ``buyer.reveal``) within its
clearance; then one basis must hold:

* the reader is the project lead (all information, SPEC.md);
* for a subject: the reader is the assignee, or on the team, of the cited
  ticket or case, and that item's requester/subject is this subject;
* an approved, unrevoked, unexpired grant of this reader covering every
  requested field of this target.

The Ledger gathers the facts, asks :func:`decide`, records the outcome, and
only then decrypts (``Ledger.reveal``). Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from domain.access import allows
from domain.access_record import Outcome
from domain.grant import GrantStatus
from domain.vocabulary import Role


@dataclass(frozen=True)
class ItemFacts:
    """What the gate needs to know of a cited ticket or case."""

    id: str
    subject_id: str  # the ticket's requester, the case's subject
    assignee: str | None
    team: tuple[str, ...] = ()


@dataclass(frozen=True)
class GrantFacts:
    """What the gate needs to know of a cited grant."""

    id: str
    reader: str
    target: str
    target_id: str
    fields: tuple[str, ...]
    status: str  # as of now: requested | approved | rejected | revoked | expired


@dataclass(frozen=True)
class Attempt:
    """One attempt to read ``fields`` of ``target``/``target_id``."""

    actor: str
    role: str
    action: str  # subject.reveal | buyer.reveal
    target: str  # subject | buyer
    target_id: str
    fields: Sequence[str]
    item: ItemFacts | None = None
    item_cited: bool = False  # an item id was given (it may not exist: item is None)
    grant: GrantFacts | None = None
    grant_cited: bool = False


@dataclass(frozen=True)
class Decision:
    outcome: str
    reason: str
    message: str = field(default="")

    @property
    def granted(self) -> bool:
        return self.outcome == Outcome.GRANTED.value


def _granted(basis: str) -> Decision:
    return Decision(Outcome.GRANTED.value, basis)


def _refused(reason: str, message: str) -> Decision:
    return Decision(Outcome.REFUSED.value, reason, message)


def decide(attempt: Attempt) -> Decision:
    """Granted with its basis, or refused with a reason code and a message."""
    if not allows(attempt.role, attempt.action):
        return _refused("role", f"the role {attempt.role} may not {attempt.action}")
    if attempt.role == Role.PROJECT_LEAD.value:
        return _granted("project_lead")
    refusals: list[Decision] = []
    if attempt.item_cited:
        by_item = _by_item(attempt)
        if by_item.granted:
            return by_item
        refusals.append(by_item)
    if attempt.grant_cited:
        by_grant = _by_grant(attempt)
        if by_grant.granted:
            return by_grant
        refusals.append(by_grant)
    if refusals:
        return refusals[-1]
    return _refused(
        "no_basis",
        "reading personal data needs an assigned ticket or case (item_id) or an approved"
        " grant (grant_id)",
    )


def _by_item(attempt: Attempt) -> Decision:
    item = attempt.item
    if attempt.target != "subject":
        return _refused("item_other_subject", "an assigned item opens a subject, not this record")
    if item is None:
        return _refused("item_not_found", "the cited item (item_id) does not exist")
    if item.subject_id != attempt.target_id:
        return _refused("item_other_subject", "the cited item concerns another subject")
    if item.assignee == attempt.actor:
        return _granted("assignee")
    if attempt.actor in item.team:
        return _granted("team")
    return _refused("not_assigned", "you neither hold nor are on the team of the cited item")


_GRANT_STATUS_REFUSALS = {
    GrantStatus.REQUESTED.value: ("grant_requested", "the grant is not approved yet"),
    GrantStatus.REJECTED.value: ("grant_rejected", "the grant was rejected"),
    GrantStatus.REVOKED.value: ("grant_revoked", "the grant was revoked"),
    GrantStatus.EXPIRED.value: ("grant_expired", "the grant has expired (valid_until passed)"),
}


def _by_grant(attempt: Attempt) -> Decision:
    grant = attempt.grant
    if grant is None:
        return _refused("grant_not_found", "the cited grant (grant_id) does not exist")
    if grant.reader != attempt.actor:
        return _refused("grant_other_reader", "the cited grant was given to someone else")
    if grant.target != attempt.target or grant.target_id != attempt.target_id:
        return _refused("grant_other_target", "the cited grant covers another subject or record")
    if grant.status in _GRANT_STATUS_REFUSALS:
        return _refused(*_GRANT_STATUS_REFUSALS[grant.status])
    missing = [name for name in attempt.fields if name not in grant.fields]
    if missing:
        return _refused("grant_fields", f"the grant does not cover: {', '.join(missing)}")
    return _granted("grant")
