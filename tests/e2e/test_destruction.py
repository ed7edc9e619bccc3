"""信息销毁 over HTTP: request, approval by another project lead, and what remains afterwards."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    command,
    error_of,
    log_length,
    open_ticket,
    register_person,
)


def signed_in(client: TestClient, role: str, name: str = "员工") -> tuple[TestClient, str]:
    """A client on the same app for a new user with ``role``, and the user's id."""
    answer = client.post("/users", json={"name": name, "role": role})
    assert answer.status_code == 201, answer.text
    user = answer.json()
    return TestClient(client.app, headers={"Authorization": f"Bearer {user['token']}"}), user["id"]


@pytest.fixture
def second_lead(client: TestClient) -> TestClient:
    return signed_in(client, "project_lead", "第二负责人")[0]


def request_destruction(client: TestClient, subject_id: str, **body: Any) -> dict[str, Any]:
    answer = client.post(
        f"/subjects/{subject_id}/destruction-requests", json={"reason": "保存期限届满", **body}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_lead_approves_another_persons_request_and_the_subject_is_destroyed(
    client: TestClient, second_lead: TestClient, clock: Clock
) -> None:
    subject = register_person(client)
    ticket = open_ticket(client, subject["id"])
    command(client, f"/tickets/{ticket['id']}/classify", CLASSIFY_SIMPLE)
    listed_before = client.get("/tickets").json()["items"]

    requested = request_destruction(client, subject["id"])
    assert requested["status"] == "requested"
    assert requested["subject_id"] == subject["id"]
    before = log_length(client)
    clock.advance(hours=1)
    approved = command(second_lead, f"/destruction-requests/{requested['id']}/approve")

    assert approved["status"] == "destroyed"
    assert approved["destroyed_at"] == "2026-12-01T11:00:00+08:00"
    assert log_length(client) == before + 2  # the approval and the subject's destruction
    view = client.get(f"/subjects/{subject['id']}").json()
    assert view["destroyed"] is True
    assert view["destroyed_at"] == approved["destroyed_at"]
    assert view["destruction_request_id"] == requested["id"]
    assert {view["name_masked"], view["id_number_masked"], view["mobile_masked"]} == {"***"}
    decision = client.get(f"/destruction-requests/{requested['id']}").json()
    assert decision["status"] == "destroyed"
    assert decision["key_destroyed"] is True
    assert decision["approved_by"] != decision["requested_by"]
    # The work done for the subject still counts.
    assert client.get(f"/tickets/{ticket['id']}").status_code == 200
    assert client.get("/tickets").json()["items"] == listed_before

    again = command(second_lead, f"/destruction-requests/{requested['id']}/approve")
    assert again == approved  # the repair path answers the same and records nothing
    assert log_length(client) == before + 2


def test_the_requester_cannot_approve_their_own_request(client: TestClient) -> None:
    requested = request_destruction(client, register_person(client)["id"])
    error = error_of(client.post(f"/destruction-requests/{requested['id']}/approve"), 409)
    assert error["rule"] == "destruction.approve.self_approval"
    assert client.get(f"/destruction-requests/{requested['id']}").json()["status"] == "requested"


def test_only_a_project_lead_approves_or_rejects(client: TestClient) -> None:
    handler, _ = signed_in(client, "ticket_handler")
    requested = request_destruction(handler, register_person(client)["id"])
    before = log_length(client)
    for path, body in (("approve", {}), ("reject", {"reason": "不同意"})):
        answer = handler.post(f"/destruction-requests/{requested['id']}/{path}", json=body)
        assert error_of(answer, 403)["code"] == "forbidden"
    assert log_length(client) == before
    assert command(client, f"/destruction-requests/{requested['id']}/approve")["status"] == (
        "destroyed"
    )


def test_a_rejected_request_leaves_the_data_and_cannot_be_approved_later(
    client: TestClient, second_lead: TestClient
) -> None:
    subject = register_person(client)
    requested = request_destruction(client, subject["id"])
    error = error_of(
        second_lead.post(f"/destruction-requests/{requested['id']}/reject", json={}), 422
    )
    assert error["field"] == "reason"
    rejected = command(
        second_lead, f"/destruction-requests/{requested['id']}/reject", {"reason": "仍在办理中"}
    )
    assert rejected["status"] == "rejected"
    error = error_of(second_lead.post(f"/destruction-requests/{requested['id']}/approve"), 409)
    assert error["rule"] == "destruction.approve.not_requested"
    view = client.get(f"/subjects/{subject['id']}").json()
    assert view["destroyed"] is False
    assert view["name_masked"] == subject["name_masked"]
    shown = client.get(f"/destruction-requests/{requested['id']}").json()
    assert shown["rejection_reason"] == "仍在办理中"
    assert shown["key_destroyed"] is False


def test_a_destroyed_subject_takes_no_new_request_and_no_new_work(
    client: TestClient, second_lead: TestClient
) -> None:
    subject = register_person(client)
    requested = request_destruction(client, subject["id"])
    command(second_lead, f"/destruction-requests/{requested['id']}/approve")
    answer = client.post(
        f"/subjects/{subject['id']}/destruction-requests", json={"reason": "again"}
    )
    assert error_of(answer, 409)["rule"] == "subject.destroyed"
    answer = client.post(
        "/tickets", json={"channel": "phone", "requester_id": subject["id"], "description": "x"}
    )
    assert error_of(answer, 409)["rule"] == "subject.destroyed"


def test_unknown_subjects_and_requests_are_404(client: TestClient) -> None:
    missing = "3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f"
    answer = client.post(f"/subjects/{missing}/destruction-requests", json={"reason": "x"})
    assert error_of(answer, 404)["code"] == "not_found"
    assert error_of(client.post(f"/destruction-requests/{missing}/approve"), 404)
    assert error_of(client.get(f"/destruction-requests/{missing}"), 404)
    assert error_of(client.get("/destruction-requests/not-a-uuid"), 404)


def test_a_retried_request_with_the_same_idempotency_key_records_one(client: TestClient) -> None:
    subject = register_person(client)
    path = f"/subjects/{subject['id']}/destruction-requests"
    headers = {"Idempotency-Key": "destroy-1"}
    first = client.post(path, json={"reason": "r"}, headers=headers)
    length = log_length(client)
    second = client.post(path, json={"reason": "r"}, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()
    assert log_length(client) == length


def test_destruction_needs_a_token(anonymous: TestClient) -> None:
    missing = "3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f"
    answer = anonymous.post(f"/subjects/{missing}/destruction-requests", json={"reason": "x"})
    assert error_of(answer, 401)["code"] == "unauthenticated"
    assert error_of(anonymous.post(f"/destruction-requests/{missing}/approve"), 401)
