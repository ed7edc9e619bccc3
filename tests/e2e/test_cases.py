"""Service cases over HTTP: incomplete materials stop the clock until they arrive."""

from __future__ import annotations

from tests.e2e.support import (
    Clock,
    TestClient,
    add_user,
    command,
    error_of,
    log_length,
    register_person,
)


def test_a_case_with_incomplete_materials_waits_then_runs_to_feedback(
    client: TestClient, clock: Clock
) -> None:
    subject = register_person(client)
    answer = client.post(
        "/cases",
        json={
            "service_type": "funding_support",
            "subject_id": subject["id"],
            "materials": ["application form"],
        },
    )
    assert answer.status_code == 201, answer.text
    opened = answer.json()
    assert opened["status"] == "received"
    assert opened["number"].startswith("FW20261201-")
    assert opened["due_at"] == "2026-12-04T10:00:00+08:00"  # three working days
    cid = opened["id"]

    clock.advance(hours=1)  # 11:00
    waiting = command(
        client,
        f"/cases/{cid}/accept",
        {"materials_complete": False, "missing": ["business licence copy"]},
    )
    assert waiting["status"] == "awaiting_materials"
    assert waiting["due_at"] is None
    view = client.get(f"/cases/{cid}").json()
    assert view["paused"] is True
    assert view["missing"] == ["business licence copy"]

    clock.advance(days=1)  # Wednesday 11:00: a working day passed while paused
    resumed = command(client, f"/cases/{cid}/resume")
    assert resumed["status"] == "received"
    assert resumed["due_at"] == "2026-12-07T10:00:00+08:00"  # a working day later: Monday
    clock.advance(hours=1)
    assert command(client, f"/cases/{cid}/accept", {"materials_complete": True})["status"] == (
        "accepted"
    )
    clock.advance(hours=2)
    approved = command(client, f"/cases/{cid}/approve", {"approved": True, "notes": "eligible"})
    assert approved["status"] == "approved"
    clock.advance(hours=1)
    closed = command(client, f"/cases/{cid}/feedback", {"result": "subsidy granted"})
    assert closed["status"] == "closed"
    assert closed["sla_state"] == "met"
    command(client, f"/cases/{cid}/callbacks", {"kind": "sms", "satisfaction": 4})
    command(client, f"/cases/{cid}/review", {"passed": True})

    answer = client.get(f"/cases/{cid}")
    assert answer.status_code == 200
    view = answer.json()
    assert answer.headers["ETag"] == f'"{view["version"]}"'
    assert view["status"] == "closed"
    assert view["service_type"] == "funding_support"
    assert view["subject_id"] == subject["id"]
    assert view["approved"] is True
    assert view["result"] == "subsidy granted"
    assert view["resolved_at"] == view["closed_at"] == "2026-12-02T15:00:00+08:00"
    assert view["pauses"] == [
        {"started_at": "2026-12-01T11:00:00+08:00", "ended_at": "2026-12-02T11:00:00+08:00"}
    ]
    assert [d["name"] for d in view["deadlines"]] == ["case", "acceptance", "approval", "feedback"]
    assert all(d["state"] == "met" for d in view["deadlines"])
    assert [h["step"] for h in view["history"]] == [
        "materials_requested",
        "materials_supplied",
        "accepted",
        "decided",
        "closed",
    ]
    assert view["callbacks"][0]["kind"] == "sms"
    assert view["reviews"][0]["passed"] is True
    assert "张三丰" not in answer.text


def test_a_case_can_be_handed_to_another_specialist_with_a_reason(client: TestClient) -> None:
    subject = register_person(client)
    cid = client.post(
        "/cases",
        json={"service_type": "policy_consultation", "subject_id": subject["id"], "materials": []},
    ).json()["id"]
    specialist = add_user(client, "service_specialist")["id"]
    command(client, f"/cases/{cid}/assign", {"assignee": specialist, "reason": "expertise"})
    view = client.get(f"/cases/{cid}").json()
    assert view["assignee"] == specialist
    assert view["assignments"][0]["reason"] == "expertise"


def test_a_case_cannot_be_approved_before_it_is_accepted(client: TestClient) -> None:
    subject = register_person(client)
    cid = client.post(
        "/cases",
        json={
            "service_type": "employment_training",
            "subject_id": subject["id"],
            "materials": ["form"],
        },
    ).json()["id"]
    answer = client.post(f"/cases/{cid}/approve", json={"approved": True})
    assert error_of(answer, 409)["rule"] == "case.approve.requires_acceptance"


def test_a_material_that_is_not_text_is_refused_naming_its_position(client: TestClient) -> None:
    subject = register_person(client)
    answer = client.post(
        "/cases",
        json={
            "service_type": "employment_training",
            "subject_id": subject["id"],
            "materials": ["form", "photo", 3],
        },
    )
    assert error_of(answer, 422)["field"] == "materials.2"


def test_an_unknown_service_type_is_refused_naming_the_field(client: TestClient) -> None:
    subject = register_person(client)
    answer = client.post(
        "/cases",
        json={"service_type": "lottery", "subject_id": subject["id"], "materials": []},
    )
    assert error_of(answer, 422)["field"] == "service_type"


def test_a_case_is_handed_only_to_active_staff_whose_role_may_work_cases(
    client: TestClient,
) -> None:
    subject = register_person(client)
    cid = client.post(
        "/cases",
        json={"service_type": "policy_consultation", "subject_id": subject["id"], "materials": []},
    ).json()["id"]
    handler = add_user(client, "ticket_handler")["id"]
    leaver = add_user(client, "service_specialist", "离职")["id"]
    command(client, f"/users/{leaver}/deactivate")
    refusals = [
        ("specialist-2", "names no staff member"),
        (subject["id"], "names no staff member"),
        (handler, "ticket_handler, which may not case.work"),
        (leaver, "deactivated"),
    ]
    for assignee, message in refusals:
        before = log_length(client)
        answer = client.post(f"/cases/{cid}/assign", json={"assignee": assignee, "reason": "x"})
        error = error_of(answer, 422)
        assert error["field"] == "assignee"
        assert message in error["message"], error
        assert log_length(client) == before
    assert client.get(f"/cases/{cid}").json()["assignments"] == []
