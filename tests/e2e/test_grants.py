"""申请、审批、使用 over HTTP: grants, reveals, the buyer's record, reviews, the access history,
and offboarding (人员更换) — each step visible in the log."""

from __future__ import annotations

from typing import Any

import pytest

from domain.access_record import RECORDED_TOPIC
from domain.ledger import Ledger
from projections.database import ViewDatabase
from replay.leaf_log import unpack_positions
from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    command,
    error_of,
    open_ticket,
    register_person,
    resident_id,
)

MOBILE = "13800138000"


def staff(client: TestClient, role: str, name: str = "员工") -> tuple[TestClient, str, str]:
    """A signed-in client for a new user with ``role``, the user's id and token."""
    made = client.post("/users", json={"name": name, "role": role})
    assert made.status_code == 201, made.text
    user = made.json()
    signed = TestClient(client.app, headers={"Authorization": f"Bearer {user['token']}"})
    return signed, user["id"], user["token"]


def reveal(client: TestClient, subject: str, fields: list[str], **extra: Any) -> Any:
    return client.post(f"/subjects/{subject}/reveal",
                       json={"fields": fields, "purpose": "回访核实", **extra})


def access_records(ledger: Ledger) -> list[Any]:
    found = ledger.recorder.select_notifications(start=1, limit=100_000, topics=[RECORDED_TOPIC])
    return [ledger.mapper.to_domain_event(n) for n in found]


def topics_since(ledger: Ledger, position: int) -> list[str]:
    found = ledger.recorder.select_notifications(start=position + 1, limit=100_000)
    return [n.topic.split(":")[1] for n in found]


def test_a_grant_is_applied_for_approved_used_and_ends_by_expiry_or_revocation(
    client: TestClient, ledger: Ledger, clock: Clock
) -> None:
    subject = register_person(client)["id"]
    handler, handler_id, _ = staff(client, "ticket_handler")

    refused = reveal(handler, subject, ["mobile"])
    assert error_of(refused, 403)["code"] == "access_refused"
    assert refused.json()["error"]["reason"] == "no_basis"
    assert MOBILE not in refused.text
    assert (access_records(ledger)[-1].actor, access_records(ledger)[-1].outcome) == (
        handler_id, "refused"
    )

    applied = handler.post("/grants", json={
        "subject_id": subject, "fields": ["mobile"], "purpose": "二次回访",
        "valid_until": (clock.now.replace(hour=17)).isoformat(),
    })
    assert applied.status_code == 201, applied.text
    grant = applied.json()
    assert (grant["status"], grant["reader"], grant["fields"]) == ("requested", handler_id,
                                                                   ["mobile"])
    assert error_of(handler.post(f"/grants/{grant['id']}/approve"), 403)["code"] == "forbidden"
    approved = command(client, f"/grants/{grant['id']}/approve")
    assert approved["status"] == "approved"

    answer = reveal(handler, subject, ["mobile"], grant_id=grant["id"])
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == {"mobile": MOBILE}
    assert answer.headers["X-Request-Id"] == answer.json()["request_id"]
    record = access_records(ledger)[-1]
    assert (record.outcome, record.reason, record.grant_id) == ("granted", "grant", grant["id"])
    assert str(record.originator_id) == answer.json()["access_record_id"]

    clock.advance(hours=7)  # 17:00: valid_until has come
    expired = reveal(handler, subject, ["mobile"], grant_id=grant["id"])
    assert expired.json()["error"]["reason"] == "grant_expired"
    assert client.get(f"/grants/{grant['id']}").json()["status"] == "expired"

    second = handler.post("/grants", json={
        "subject_id": subject, "fields": ["mobile", "name"], "purpose": "投诉处理",
        "valid_until": (clock.now.replace(day=2)).isoformat(),
    }).json()
    command(client, f"/grants/{second['id']}/approve")
    assert reveal(handler, subject, ["name"], grant_id=second["id"]).status_code == 200
    revoked = command(client, f"/grants/{second['id']}/revoke", {"reason": "用途已完成"})
    assert revoked["status"] == "revoked"
    after = reveal(handler, subject, ["name"], grant_id=second["id"])
    assert after.json()["error"]["reason"] == "grant_revoked"
    outcomes = [(r.reason, r.outcome) for r in access_records(ledger) if r.actor == handler_id]
    assert outcomes == [
        ("no_basis", "refused"), ("grant", "granted"), ("grant_expired", "refused"),
        ("grant", "granted"), ("grant_revoked", "refused"),
    ]


def test_nobody_approves_their_own_grant(client: TestClient, clock: Clock) -> None:
    subject = register_person(client)["id"]
    own = client.post("/grants", json={
        "subject_id": subject, "fields": ["name"], "purpose": "核对",
        "valid_until": clock.now.replace(hour=16).isoformat(),
    }).json()
    assert error_of(client.post(f"/grants/{own['id']}/approve"), 409)["rule"] == (
        "grant.approve.self_approval"
    )


def test_the_handler_of_a_ticket_reads_its_requester_without_a_grant(
    client: TestClient, ledger: Ledger
) -> None:
    subject = register_person(client)["id"]
    handler, handler_id, _ = staff(client, "ticket_handler")
    ticket = open_ticket(client, subject)["id"]
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": handler_id})
    answer = reveal(handler, subject, ["mobile", "id_number"], item_id=ticket)
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == {"mobile": MOBILE, "id_number": resident_id()}
    assert answer.json()["basis"] == "assignee"
    assert access_records(ledger)[-1].item_id == ticket


@pytest.mark.parametrize("role", ["analyst", "auditor"])
def test_analysts_and_auditors_see_no_personal_data_not_even_masks(
    client: TestClient, ledger: Ledger, role: str
) -> None:
    subject = register_person(client)
    viewer, viewer_id, _ = staff(client, role)
    assert error_of(viewer.get(f"/subjects/{subject['id']}"), 403)["code"] == "forbidden"
    assert error_of(reveal(viewer, subject["id"], ["name"]), 403)["code"] == "forbidden"
    assert (access_records(ledger)[-1].actor, access_records(ledger)[-1].reason) == (
        viewer_id, "role"
    )
    assert viewer.get("/reports/quality").status_code != 403


def test_the_buyers_record_is_set_and_read_by_the_project_lead_only(
    client: TestClient, ledger: Ledger, clock: Clock
) -> None:
    assert error_of(client.get("/buyer"), 404)["code"] == "not_found"
    stored = client.put("/buyer", json={
        "organisation": "济南高新技术产业开发区管理委员会", "contact_person": "王主任",
        "contact_phone": "0531-88888888",
    })
    assert stored.status_code == 200, stored.text
    assert stored.json()["fields"] == ["organisation", "contact_person", "contact_phone"]
    assert "王主任" not in stored.text
    assert "王主任" not in client.get("/buyer").text

    answer = client.post("/buyer/reveal", json={"fields": ["contact_person"], "purpose": "月报"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["fields"] == {"contact_person": "王主任"}
    assert access_records(ledger)[-1].level == "high"

    officer, officer_id, _ = staff(client, "confidentiality_officer")
    refused = officer.post("/buyer/reveal", json={"fields": ["contact_person"], "purpose": "x"})
    assert error_of(refused, 403)["code"] == "forbidden"
    assert "王主任" not in refused.text
    assert (access_records(ledger)[-1].actor, access_records(ledger)[-1].outcome) == (
        officer_id, "refused"
    )
    applied = officer.post("/grants", json={
        "record": "buyer", "fields": ["contact_person"], "purpose": "x",
        "valid_until": clock.now.replace(hour=16).isoformat(),
    })
    assert "project lead only" in error_of(applied, 403)["message"]


def test_access_reviews_follow_their_cadence_and_show_when_overdue(
    client: TestClient, clock: Clock
) -> None:
    officer, officer_id, _ = staff(client, "confidentiality_officer")
    recorded = officer.post("/access-reviews", json={
        "level": "high", "period_start": "2026-11-24T00:00:00+08:00",
        "period_end": "2026-12-01T00:00:00+08:00", "findings": "无异常访问",
    })
    assert recorded.status_code == 201, recorded.text
    assert recorded.json()["next_due"] == "2026-12-08T00:00:00+08:00"
    status = {s["level"]: s for s in officer.get("/access-reviews/status").json()["levels"]}
    assert status["high"]["overdue"] is False
    assert status["high"]["last_review"]["by"] == officer_id
    assert status["high"]["cadence"] == "weekly"
    assert status["medium"]["last_review"] is None

    clock.advance(days=8)
    late = officer.get("/access-reviews/status").json()
    assert {s["level"]: s["overdue"] for s in late["levels"]}["high"] is True
    assert late["overdue"] is True
    auditor, _, _ = staff(client, "auditor")
    assert auditor.get("/access-reviews/status").status_code == 200
    by_auditor = auditor.post("/access-reviews", json={
        "level": "low", "period_start": "2026-11-01T00:00:00+08:00",
        "period_end": "2026-12-01T00:00:00+08:00", "findings": "x"})
    assert error_of(by_auditor, 403)["code"] == "forbidden"


def test_reading_the_access_history_is_recorded_before_the_answer(
    client: TestClient, ledger: Ledger
) -> None:
    subject = register_person(client)["id"]
    assert reveal(client, subject, ["name"]).status_code == 200
    officer, officer_id, _ = staff(client, "confidentiality_officer")
    history = officer.get("/access-history", params={"subject_id": subject},
                          headers={"X-Request-Id": "review-2026-12-01"})
    assert history.status_code == 200, history.text
    items = history.json()["items"]
    assert [(i["target"], i["outcome"]) for i in items] == [
        ("subject", "granted"), ("access_history", "granted")
    ]
    assert items[-1]["actor"] == officer_id
    assert items[-1]["request_id"] == "review-2026-12-01"
    assert items[-1]["position"] == history.json()["access_position"]
    assert "张三丰" not in history.text  # records name fields, never values
    handler, _, _ = staff(client, "ticket_handler")
    assert error_of(handler.get("/access-history"), 403)["code"] == "forbidden"


def test_deactivation_stops_the_token_revokes_grants_and_hands_over_work_in_one_step(
    client: TestClient, ledger: Ledger, clock: Clock, bootstrap: dict[str, str]
) -> None:
    subject = register_person(client)["id"]
    leaver, leaver_id, leaver_token = staff(client, "ticket_handler", "离职专员")
    _, heir_id, _ = staff(client, "service_specialist", "接手专员")
    ticket = open_ticket(client, subject)["id"]
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": leaver_id})
    # Moved to service cases, the leaver still holds the ticket assigned as a handler.
    command(client, f"/users/{leaver_id}/role", {"role": "service_specialist"})
    grant = leaver.post("/grants", json={
        "subject_id": subject, "fields": ["mobile"], "purpose": "回访",
        "valid_until": clock.now.replace(hour=16).isoformat(),
    }).json()
    command(client, f"/grants/{grant['id']}/approve")
    case = leaver.post("/cases", json={"service_type": "policy_consultation",
                                       "subject_id": subject, "materials": ["申请表"]}).json()
    assert leaver.get("/users/me").status_code == 200
    before = ledger.log_length()

    refused = client.post(f"/users/{leaver_id}/deactivate", json={"reassign_to": heir_id})
    assert error_of(refused, 422)["field"] == "reassign_to"  # a specialist may not work tickets
    assert ledger.log_length() == before  # nothing of a refused deactivation is recorded
    done = command(client, f"/users/{leaver_id}/deactivate", {"reason": "合同到期"})

    assert done["active"] is False
    assert done["credentials_revoked"] == 1
    assert done["grants_revoked"] == [grant["id"]]
    handed = {w["kind"]: w["assignee"] for w in done["work"]}
    assert handed == {"ticket": None, "case": bootstrap["user_id"]}  # queue; the acting lead
    assert error_of(leaver.get("/users/me"), 401)["code"] == "unauthenticated"
    alone = TestClient(client.app, headers={"Authorization": f"Bearer {leaver_token}"})
    assert alone.post(f"/subjects/{subject}/reveal", json={
        "fields": ["mobile"], "purpose": "x", "grant_id": grant["id"]}).status_code == 401
    assert client.get(f"/grants/{grant['id']}").json()["status"] == "revoked"
    assert client.get(f"/tickets/{ticket}").json()["assignee"] is None
    assert client.get(f"/cases/{case['id']}").json()["assignee"] == bootstrap["user_id"]
    assert sorted(topics_since(ledger, before)) == sorted([
        "User.Deactivated", "Credential.Revoked", "Grant.Revoked", "Ticket.Released",
        "ServiceCase.Assigned",
    ])
    again = client.post(f"/users/{leaver_id}/deactivate")
    assert error_of(again, 409)["rule"] == "user.deactivate.inactive"
    view = client.get(f"/users/{leaver_id}").json()
    assert view["active"] is False
    assert view["grants"] == [grant["id"]]


def test_deactivation_hands_open_work_to_a_named_colleague(
    client: TestClient, ledger: Ledger
) -> None:
    subject = register_person(client)["id"]
    _, leaver_id, _ = staff(client, "ticket_handler")
    heir, heir_id, _ = staff(client, "ticket_handler")
    ticket = open_ticket(client, subject)["id"]
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": leaver_id})
    done = command(client, f"/users/{leaver_id}/deactivate", {"reassign_to": heir_id})
    assert [w["assignee"] for w in done["work"]] == [heir_id]
    view = client.get(f"/tickets/{ticket}").json()
    assert view["assignee"] == heir_id
    assert view["assignments"][-1]["reason"] == "人员更换"
    assert reveal(heir, subject, ["name"], item_id=ticket).json()["basis"] == "assignee"
    assert error_of(client.post(f"/users/{heir_id}/deactivate",
                                json={"reassign_to": leaver_id}), 422)["field"] == "reassign_to"


def test_deactivation_takes_the_leaver_off_every_open_ticket_team_in_the_same_transaction(
    client: TestClient, ledger: Ledger
) -> None:
    subject = register_person(client)["id"]
    _, assignee, _ = staff(client, "ticket_handler", "负责人")
    _, member, _ = staff(client, "ticket_handler", "组员")
    leaver_client, leaver, _ = staff(client, "ticket_handler", "离职组员")
    complex_ = {**CLASSIFY_SIMPLE, "complexity": "complex"}

    def ticket(classification: dict[str, str], body: dict[str, Any]) -> str:
        tid = open_ticket(client, subject)["id"]
        command(client, f"/tickets/{tid}/classify", classification)
        command(client, f"/tickets/{tid}/assign", body)
        return tid

    teamed = ticket(complex_, {"assignee": assignee, "team": [leaver, member]})
    only = ticket(complex_, {"assignee": assignee, "team": [leaver]})
    command(client, f"/tickets/{only}/steps", {"measure": "电话", "result": "已联系"})
    done = ticket(CLASSIFY_SIMPLE, {"assignee": assignee, "team": [leaver]})
    command(client, f"/tickets/{done}/resolve", {"result": "已答复"})
    held = ticket(CLASSIFY_SIMPLE, {"assignee": leaver, "team": [member]})
    elsewhere = ticket(complex_, {"assignee": assignee, "team": [member]})
    assert reveal(leaver_client, subject, ["name"], item_id=teamed).json()["basis"] == "team"
    versions = {t: client.get(f"/tickets/{t}").json()["version"] for t in (done, elsewhere)}
    before = ledger.log_length()

    answer = command(client, f"/users/{leaver}/deactivate")

    assert [(w["id"], w["assignee"]) for w in answer["work"]] == [(held, None)]  # the queue
    left = {t["id"]: (t["kind"], t["assignee"], t["team"]) for t in answer["teams_left"]}
    assert left == {teamed: ("ticket", assignee, [member]), only: ("ticket", assignee, [])}
    for tid, team in ((teamed, [member]), (only, [])):
        view = client.get(f"/tickets/{tid}").json()
        assert (view["assignee"], view["team"]) == (assignee, team)  # the assignee keeps it
        assert view["assignments"][-1]["reason"] == "人员更换"
        assert view["assignments"][-1]["team"] == team
    assert client.get(f"/tickets/{only}").json()["status"] == "in_progress"
    assert client.get(f"/tickets/{done}").json()["team"] == [leaver]  # history stays as it was
    for tid, version in versions.items():
        assert client.get(f"/tickets/{tid}").json()["version"] == version
    assert sorted(topics_since(ledger, before)) == sorted([
        "User.Deactivated", "Credential.Revoked", "Ticket.Released",
        "Ticket.TeamMemberRemoved", "Ticket.TeamMemberRemoved",
    ])
    # One transaction: the events' Merkle leaves were inserted together, in one row.
    db = ViewDatabase(ledger)
    with db.transaction(commit=False) as cur:
        cur.execute("SELECT positions FROM {schema}merkle_leaves "
                    "ORDER BY first_index DESC LIMIT 1")
        last = cur.fetchone()
    assert unpack_positions(bytes(last["positions"])) == list(range(before + 1, before + 6))
    assert client.get("/tickets", params={"assignee": leaver}).json()["items"] == []
    # Deactivating again is refused and records nothing.
    assert error_of(client.post(f"/users/{leaver}/deactivate"), 409)["rule"] == (
        "user.deactivate.inactive")
    assert ledger.log_length() == before + 5
