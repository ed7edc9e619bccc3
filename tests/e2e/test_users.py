"""Staff accounts: only the project lead adds them; the token works at once."""

from __future__ import annotations

from tests.e2e.support import TestClient, error_of, register_person


def test_the_project_lead_adds_a_handler_whose_token_works_but_cannot_add_users(
    client: TestClient, anonymous: TestClient
) -> None:
    answer = client.post("/users", json={"name": "handler one", "role": "ticket_handler"})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["role"] == "ticket_handler"
    assert created["token"].startswith("tz_")

    handler = {"Authorization": f"Bearer {created['token']}"}
    subject = anonymous.post("/subjects", json={"kind": "person", "name": "钱七"}, headers=handler)
    assert subject.status_code == 201
    refused = anonymous.post(
        "/users", json={"name": "someone", "role": "project_lead"}, headers=handler
    )
    assert error_of(refused, 403)["code"] == "forbidden"


def test_an_unknown_role_is_refused_naming_the_field(client: TestClient) -> None:
    answer = client.post("/users", json={"name": "x", "role": "emperor"})
    assert error_of(answer, 422)["field"] == "role"


def test_work_records_the_acting_user(client: TestClient, bootstrap: dict[str, str]) -> None:
    subject = register_person(client)
    ticket = client.post(
        "/tickets", json={"channel": "window", "requester_id": subject["id"], "description": "x"}
    ).json()
    view = client.get(f"/tickets/{ticket['id']}").json()
    assert view["registered_by"] == bootstrap["user_id"]
