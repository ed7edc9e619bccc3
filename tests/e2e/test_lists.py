"""Listing tickets and cases through the catalog view."""

from __future__ import annotations

from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    add_user,
    command,
    error_of,
    open_ticket,
    register_person,
)


def test_tickets_are_listed_newest_first_filtered_and_paged(
    client: TestClient, clock: Clock
) -> None:
    requester = register_person(client)["id"]
    ids = []
    for hour in (1, 2, 3):
        received = f"2026-12-01T0{hour}:00:00+08:00"
        ids.append(open_ticket(client, requester, received_at=received)["id"])
    command(client, f"/tickets/{ids[0]}/classify", CLASSIFY_SIMPLE)
    handler = add_user(client)["id"]
    command(client, f"/tickets/{ids[0]}/assign", {"assignee": handler})

    page = client.get("/tickets", params={"limit": 2}).json()
    assert [item["id"] for item in page["items"]] == [ids[2], ids[1]]
    assert page["next_cursor"]
    rest = client.get("/tickets", params={"limit": 2, "cursor": page["next_cursor"]}).json()
    assert [item["id"] for item in rest["items"]] == [ids[0]]
    assert rest["next_cursor"] is None

    mine = client.get("/tickets", params={"assignee": handler}).json()["items"]
    assert [item["id"] for item in mine] == [ids[0]]
    assert mine[0]["status"] == "assigned"
    registered = client.get("/tickets", params={"status": "registered"}).json()["items"]
    assert {item["id"] for item in registered} == set(ids[1:])
    assert client.get("/cases").json() == {"items": [], "next_cursor": None}


def test_the_sla_state_filter_follows_the_clock(client: TestClient, clock: Clock) -> None:
    requester = register_person(client)["id"]
    tid = open_ticket(client, requester)["id"]  # Tuesday 10:00, due Wednesday 10:00
    on_track = client.get("/tickets", params={"sla_state": "on_track"}).json()["items"]
    assert [item["id"] for item in on_track] == [tid]
    clock.advance(days=1, hours=1)
    breached = client.get("/tickets", params={"sla_state": "breached"}).json()["items"]
    assert [item["id"] for item in breached] == [tid]
    assert client.get("/tickets", params={"sla_state": "on_track"}).json()["items"] == []


def test_cases_are_listed_by_status(client: TestClient) -> None:
    subject = register_person(client)["id"]
    body = {"service_type": "policy_consultation", "subject_id": subject, "materials": []}
    cid = client.post("/cases", json=body).json()["id"]
    items = client.get("/cases", params={"status": "received"}).json()["items"]
    assert [(item["id"], item["kind"]) for item in items] == [(cid, "case")]


def test_list_parameters_are_checked(client: TestClient) -> None:
    assert error_of(client.get("/tickets", params={"limit": 0}), 422)["field"] == "limit"
    assert error_of(client.get("/cases", params={"limit": 501}), 422)["field"] == "limit"
    assert error_of(client.get("/tickets", params={"sla_state": "late"}), 422)["field"] == (
        "sla_state"
    )
    assert error_of(client.get("/tickets", params={"cursor": "%%%"}), 422)["field"] == "cursor"


def test_without_a_catalog_the_lists_answer_503_in_the_error_format(client: TestClient) -> None:
    client.app.state.catalog = None  # as when the view could not be opened
    error = error_of(client.get("/tickets"), 503)
    assert error["code"] == "unavailable"
    assert "catalog" in error["message"]
