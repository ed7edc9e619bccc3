"""The authorisation table, the gate's decision, grants, review cadences and offboarding rules.

No storage: the table and the decision are pure, the aggregates run in memory.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from types import SimpleNamespace

import pytest

from domain.access import (
    ACTIONS,
    CLEARANCE,
    PERMISSIONS,
    Level,
    allows,
    authorise,
    check_table,
    cleared_for,
    roles_allowed,
)
from domain.access_review import AccessReviewLog, add_months, next_due, review_status
from domain.calendar import SHANGHAI
from domain.errors import InvalidInputError, PermissionDeniedError, RuleViolationError
from domain.gate import Attempt, GrantFacts, ItemFacts, decide
from domain.grant import Grant, require_fields
from domain.offboarding import check_heir, hand_over
from domain.people import User
from domain.service_case import ServiceCase
from domain.ticket import Ticket
from domain.vocabulary import Role

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)
H = timedelta(hours=1)
SUBJECT = "11111111-1111-1111-1111-111111111111"
OTHER = "22222222-2222-2222-2222-222222222222"


# -- the table -------------------------------------------------------------------------------
def test_the_tables_agree_every_role_is_listed_and_nobody_holds_more_than_its_clearance() -> None:
    assert check_table() == []
    assert set(PERMISSIONS) == set(Role) == set(CLEARANCE)


@pytest.mark.parametrize("role", [Role.ANALYST, Role.AUDITOR])
def test_analysts_and_auditors_hold_no_action_that_touches_personal_data(role: Role) -> None:
    assert CLEARANCE[role] is Level.LOW
    for name in PERMISSIONS[role]:
        assert ACTIONS[name].level is Level.LOW, name
    for name in ("subject.reveal", "subject.read_masked", "ticket.read", "case.read"):
        assert not allows(role.value, name)


def test_only_the_project_lead_reads_or_sets_the_buyers_record_and_decides() -> None:
    for name in ("buyer.reveal", "buyer.manage", "grant.decide", "destruction.approve"):
        assert roles_allowed(name) == ["project_lead"], name
    assert cleared_for("project_lead", Level.HIGH)
    assert not cleared_for("confidentiality_officer", Level.HIGH)


def test_a_refusal_names_the_role_and_the_action() -> None:
    with pytest.raises(PermissionDeniedError, match=r"analyst may not ticket\.read"):
        authorise(SimpleNamespace(role="analyst"), "ticket.read")
    authorise(SimpleNamespace(role="ticket_handler"), "ticket.read")


def test_an_unknown_role_holds_nothing_and_an_unknown_action_is_a_programming_error() -> None:
    assert not allows("emperor", "report.read")
    with pytest.raises(KeyError, match="no such action"):
        allows("project_lead", "ticket.delete")


# -- the gate's decision ------------------------------------------------------------------
def attempt(role: str = "ticket_handler", **kwargs: object) -> Attempt:
    base = Attempt(
        actor="u1", role=role, action="subject.reveal", target="subject", target_id=SUBJECT,
        fields=["name", "mobile"],
    )
    return replace(base, **kwargs)  # type: ignore[arg-type]


def grant(**kwargs: object) -> GrantFacts:
    base = GrantFacts(
        id="g1", reader="u1", target="subject", target_id=SUBJECT,
        fields=("name", "mobile", "id_number"), status="approved",
    )
    return replace(base, **kwargs)  # type: ignore[arg-type]


ITEM = ItemFacts(id="t1", subject_id=SUBJECT, assignee="u1", team=("u2",))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        (attempt(role="project_lead"), ("granted", "project_lead")),
        (attempt(item=ITEM, item_cited=True), ("granted", "assignee")),
        (attempt(actor="u2", item=ITEM, item_cited=True), ("granted", "team")),
        (attempt(actor="u3", item=ITEM, item_cited=True), ("refused", "not_assigned")),
        (attempt(item=None, item_cited=True), ("refused", "item_not_found")),
        (attempt(item=replace(ITEM, subject_id=OTHER), item_cited=True),
         ("refused", "item_other_subject")),
        (attempt(grant=grant(), grant_cited=True), ("granted", "grant")),
        (attempt(grant=grant(status="expired"), grant_cited=True), ("refused", "grant_expired")),
        (attempt(grant=grant(status="revoked"), grant_cited=True), ("refused", "grant_revoked")),
        (attempt(grant=grant(status="requested"), grant_cited=True),
         ("refused", "grant_requested")),
        (attempt(grant=grant(reader="u9"), grant_cited=True), ("refused", "grant_other_reader")),
        (attempt(grant=grant(target_id=OTHER), grant_cited=True),
         ("refused", "grant_other_target")),
        (attempt(grant=grant(fields=("name",)), grant_cited=True), ("refused", "grant_fields")),
        (attempt(grant=None, grant_cited=True), ("refused", "grant_not_found")),
        (attempt(), ("refused", "no_basis")),
        (attempt(role="analyst", grant=grant(), grant_cited=True), ("refused", "role")),
        (attempt(role="auditor"), ("refused", "role")),
        # Either basis is enough: a foreign item does not spoil a good grant.
        (attempt(actor="u1", item=replace(ITEM, assignee="u7", team=()), item_cited=True,
                 grant=grant(), grant_cited=True), ("granted", "grant")),
    ],
)
def test_the_gate_grants_only_on_a_basis(case: Attempt, expected: tuple[str, str]) -> None:
    decision = decide(case)
    assert (decision.outcome, decision.reason) == expected
    assert decision.granted == (expected[0] == "granted")


def test_the_buyers_record_is_the_project_leads_alone_even_with_a_grant() -> None:
    buyer = attempt(action="buyer.reveal", target="buyer", target_id="b", fields=["address"])
    for role in ("ticket_handler", "confidentiality_officer", "quality_supervisor"):
        refused = decide(replace(buyer, role=role, grant=grant(target="buyer", target_id="b",
                                                                fields=("address",)),
                                 grant_cited=True))
        assert (refused.outcome, refused.reason) == ("refused", "role")
    assert decide(replace(buyer, role="project_lead")).reason == "project_lead"


# -- grants ---------------------------------------------------------------------------------
def new_grant(until: datetime = T0 + 24 * H) -> Grant:
    return Grant.apply(
        reader="u1", reader_role="ticket_handler", target="subject", target_id=SUBJECT,
        fields=["name"], purpose="回访核实", valid_until=until, at=T0,
    )


def test_a_grant_is_usable_from_approval_until_valid_until_by_the_clock() -> None:
    grant_ = new_grant()
    assert grant_.status_at(T0) == "requested"
    assert not grant_.is_usable(T0)
    grant_.approve(by="lead", at=T0 + H)
    assert grant_.is_usable(T0 + 23 * H)
    assert grant_.status_at(T0 + 24 * H) == "expired"
    assert not grant_.is_usable(T0 + 24 * H)


def test_nobody_approves_their_own_grant_nor_one_already_expired() -> None:
    with pytest.raises(RuleViolationError) as own:
        new_grant().approve(by="u1", at=T0 + H)
    assert own.value.rule == "grant.approve.self_approval"
    with pytest.raises(RuleViolationError) as late:
        new_grant(until=T0 + H).approve(by="lead", at=T0 + 2 * H)
    assert late.value.rule == "grant.approve.expired"


def test_decisions_follow_the_lifecycle() -> None:
    grant_ = new_grant()
    grant_.reject(by="lead", reason="用途不明", at=T0 + H)
    with pytest.raises(RuleViolationError) as again:
        grant_.approve(by="lead", at=T0 + 2 * H)
    assert again.value.rule == "grant.approve.not_requested"
    with pytest.raises(RuleViolationError) as final:
        grant_.revoke(by="lead", reason=None, at=T0 + 2 * H)
    assert final.value.rule == "grant.revoke.final"
    approved = new_grant()
    approved.approve(by="lead", at=T0 + H)
    approved.revoke(by="lead", reason="人员更换", at=T0 + 2 * H)
    assert approved.status_at(T0 + 2 * H) == "revoked"


def test_a_grant_needs_a_future_end_a_purpose_and_known_fields() -> None:
    with pytest.raises(InvalidInputError) as past:
        new_grant(until=T0)
    assert past.value.field == "valid_until"
    with pytest.raises(InvalidInputError) as naive:
        new_grant(until=datetime(2026, 12, 2, 10, 0))
    assert naive.value.field == "valid_until"
    with pytest.raises(InvalidInputError):
        require_fields(["name", "password"], ("name", "mobile"), "fields")
    with pytest.raises(InvalidInputError):
        require_fields([], ("name",), "fields")
    assert require_fields(["mobile", "name", "mobile"], ("name", "mobile"), "fields") == [
        "mobile", "name"
    ]


# -- access reviews -----------------------------------------------------------------------
def test_review_cadences_are_weekly_fortnightly_and_monthly() -> None:
    end = datetime(2027, 1, 31, 17, 0, tzinfo=SHANGHAI)
    assert next_due("high", end) == end + timedelta(days=7)
    assert next_due("medium", end) == end + timedelta(days=14)
    assert next_due("low", end) == datetime(2027, 2, 28, 17, 0, tzinfo=SHANGHAI)
    assert add_months(datetime(2027, 12, 15, tzinfo=SHANGHAI), 1).date().isoformat() == (
        "2028-01-15"
    )


def test_a_level_is_overdue_one_cadence_after_its_last_period_or_after_the_log_began() -> None:
    log = AccessReviewLog()
    log.record(level="high", period_start=T0 - 7 * 24 * H, period_end=T0, findings="无异常",
               at=T0, by="officer")
    last = log.last_of("high")
    assert last is not None
    assert last["period_end"] == T0
    on_time = review_status("high", last, T0 - 100 * 24 * H, T0 + 6 * 24 * H)
    assert not on_time.overdue
    assert review_status("high", last, T0, T0 + 8 * 24 * H).overdue
    never = review_status("medium", None, T0, T0 + 13 * 24 * H)
    assert (never.next_due, never.overdue) == (T0 + 14 * 24 * H, False)
    assert review_status("medium", None, T0, T0 + 15 * 24 * H).overdue


def test_a_review_covers_a_finished_period_of_a_known_level() -> None:
    log = AccessReviewLog()
    for bad, field in (
        ({"level": "secret"}, "level"),
        ({"period_end": T0 - 2 * 24 * H}, "period_end"),
        ({"period_end": T0 + H}, "period_end"),
        ({"findings": " "}, "findings"),
    ):
        given = {"level": "low", "period_start": T0 - 24 * H, "period_end": T0,
                 "findings": "ok", **bad}
        with pytest.raises(InvalidInputError) as refused:
            log.record(**given, at=T0, by="officer")  # type: ignore[arg-type]
        assert refused.value.field == field
    assert log.reviews == []


# -- offboarding ---------------------------------------------------------------------------
def ticket(complexity: str, team: list[str]) -> Ticket:
    item = Ticket.register(
        number="GD20261201-00001", channel="phone", requester_id=SUBJECT, description="咨询",
        received_at=T0, by="h0",
    )
    item.classify(nature="consultation", urgency="general", business_type="employment",
                  complexity=complexity, at=T0, by="h0")
    item.assign(assignee="leaver", team=team, at=T0, by="lead")
    return item


def test_a_leavers_ticket_goes_to_the_colleague_keeping_the_rest_of_the_team() -> None:
    item = ticket("complex", ["leaver", "x", "heir"])
    moved = hand_over(item, "leaver", "heir", "lead", "人员更换", T0 + H)
    assert (item.assignee, item.team, moved["assignee"]) == ("heir", ["x"], "heir")


def test_without_a_colleague_a_ticket_returns_to_the_queue_and_a_case_to_the_lead() -> None:
    item = ticket("simple", [])
    assert hand_over(item, "leaver", None, "lead", "人员更换", T0 + H)["assignee"] is None
    assert (item.assignee, item.status) == (None, "classified")
    case = ServiceCase.open(number="FW1", service_type="policy_consultation", subject_id=SUBJECT,
                            materials=["申请表"], received_at=T0, by="leaver")
    assert hand_over(case, "leaver", None, "lead", "人员更换", T0 + H)["assignee"] == "lead"


def test_a_complex_ticket_whose_only_team_member_takes_over_goes_back_to_the_queue() -> None:
    item = ticket("complex", ["heir"])
    hand_over(item, "leaver", "heir", "lead", "人员更换", T0 + H)
    assert item.assignee is None


def test_the_colleague_must_be_allowed_the_work_handed_over() -> None:
    with pytest.raises(InvalidInputError) as refused:
        check_heir("analyst", [ticket("simple", [])])
    assert refused.value.field == "reassign_to"
    check_heir("ticket_handler", [ticket("simple", [])])


def test_role_changes_and_deactivation_are_events_of_the_user() -> None:
    user = User.register(name="张工", role="ticket_handler", at=T0, by="lead", credential_id="c1")
    user.change_role("service_specialist", at=T0 + H, by="lead")
    user.link_grant("g1", at=T0 + H)
    user.deactivate(reason="离职", at=T0 + 2 * H, by="lead")
    names = [type(e).__name__ for e in user.collect_events()]
    assert names == ["Registered", "RoleChanged", "GrantLinked", "Deactivated"]
    assert (user.role, user.credential_ids, user.grant_ids) == ("service_specialist", ["c1"],
                                                                ["g1"])
    with pytest.raises(RuleViolationError):
        user.change_role("analyst", at=T0 + 3 * H, by="lead")
