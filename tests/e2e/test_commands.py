"""Retries and races: Idempotency-Key and If-Match."""

from __future__ import annotations

from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    TestClient,
    add_user,
    command,
    error_of,
    log_length,
    open_ticket,
    register_person,
)


def test_the_same_key_and_body_twice_returns_the_first_answer_and_records_once(
    client: TestClient,
) -> None:
    requester = register_person(client)["id"]
    body = {"channel": "online", "requester_id": requester, "description": "求职登记"}
    before = log_length(client)
    first = client.post("/tickets", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201
    after_first = log_length(client)
    assert after_first > before
    # The same JSON with other whitespace and key order is the same request.
    again = client.post(
        "/tickets",
        content=(
            f'{{ "description": "求职登记",\n  "requester_id": "{requester}",'
            '   "channel": "online" }'
        ).encode(),
        headers={"Idempotency-Key": "k-1", "Content-Type": "application/json"},
    )
    assert again.status_code == 201
    assert again.json() == first.json()
    assert log_length(client) == after_first


def test_a_retried_command_is_answered_from_its_first_result(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    key = {"Idempotency-Key": "classify-1"}
    first = command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE, headers=key)
    length = log_length(client)
    assert command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE, headers=key) == first
    assert log_length(client) == length


def test_the_same_key_with_another_body_is_a_conflict(client: TestClient) -> None:
    requester = register_person(client)["id"]
    body = {"channel": "online", "requester_id": requester, "description": "求职登记"}
    assert client.post("/tickets", json=body, headers={"Idempotency-Key": "k-2"}).status_code == 201
    before = log_length(client)
    other = client.post(
        "/tickets", json={**body, "description": "创业补贴"}, headers={"Idempotency-Key": "k-2"}
    )
    error = error_of(other, 409)
    assert error["code"] == "idempotency_key_reused"
    assert log_length(client) == before


def test_the_same_key_on_another_path_is_a_conflict(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    key = {"Idempotency-Key": "k-3"}
    command(client, f"/tickets/{tid}/review-entry", {"passed": True}, headers=key)
    command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE)
    answer = client.post(f"/tickets/{tid}/review", json={"passed": True}, headers=key)
    assert error_of(answer, 409)["code"] == "idempotency_key_reused"


def test_an_overlong_idempotency_key_is_refused(client: TestClient) -> None:
    answer = client.post(
        "/subjects", json={"kind": "person", "name": "赵六"}, headers={"Idempotency-Key": "k" * 201}
    )
    assert error_of(answer, 422)["field"] == "Idempotency-Key"


def test_a_command_based_on_a_stale_version_is_refused_and_stores_nothing(
    client: TestClient,
) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    handler = add_user(client)["id"]
    first = client.get(f"/tickets/{tid}")
    etag = first.headers["ETag"]
    classified = client.post(
        f"/tickets/{tid}/classify", json=CLASSIFY_SIMPLE, headers={"If-Match": etag}
    )
    assert classified.status_code == 200, classified.text
    assert classified.headers["ETag"] != etag
    before = log_length(client)
    stale = client.post(
        f"/tickets/{tid}/assign", json={"assignee": handler}, headers={"If-Match": etag}
    )
    assert error_of(stale, 409)["code"] == "concurrent_write"
    assert log_length(client) == before
    view = client.get(f"/tickets/{tid}").json()
    assert view["assignee"] is None
    assert view["version"] == classified.json()["version"]
    # The current version, quoted or bare, is accepted.
    fresh = client.post(
        f"/tickets/{tid}/assign",
        json={"assignee": handler},
        headers={"If-Match": str(view["version"])},
    )
    assert fresh.status_code == 200


def test_an_if_match_that_is_not_a_version_is_refused(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    answer = client.post(
        f"/tickets/{tid}/classify", json=CLASSIFY_SIMPLE, headers={"If-Match": "yesterday"}
    )
    assert error_of(answer, 422)["field"] == "If-Match"
