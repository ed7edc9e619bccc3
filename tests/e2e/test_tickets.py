"""Tickets over HTTP: the lifecycle, its rules, and working-time deadlines."""

from __future__ import annotations

from typing import Any

from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    add_user,
    command,
    error_of,
    log_length,
    open_ticket,
    register_person,
)


def test_a_ticket_goes_from_registration_to_review_and_the_view_shows_every_step(
    client: TestClient, clock: Clock
) -> None:
    requester = register_person(client)
    created = open_ticket(client, requester["id"])
    assert created["status"] == "registered"
    assert created["number"].startswith("GD20261201-")
    assert created["due_at"] == "2026-12-02T10:00:00+08:00"  # one working day later
    tid = created["id"]
    handler = add_user(client)["id"]

    clock.advance(minutes=10)
    classified = command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE)
    assert classified["status"] == "classified"
    clock.advance(minutes=5)
    assigned = command(client, f"/tickets/{tid}/assign", {"assignee": handler})
    assert assigned["status"] == "assigned"
    clock.advance(minutes=15)
    stepped = command(
        client,
        f"/tickets/{tid}/steps",
        {"measure": "called the requester", "result": "explained the transfer rules"},
    )
    assert stepped["status"] == "in_progress"
    clock.advance(minutes=30)  # 11:00
    paused = command(client, f"/tickets/{tid}/pause", {"reason": "waiting for the contract"})
    assert paused["due_at"] is None  # no due time while the clock stands
    clock.advance(hours=2)  # 13:00
    resumed = client.post(f"/tickets/{tid}/resume")  # no body at all is fine
    assert resumed.status_code == 200, resumed.text
    assert resumed.json()["due_at"] == "2026-12-02T12:00:00+08:00"  # two hours later
    clock.advance(hours=1)  # 14:00
    resolved = command(client, f"/tickets/{tid}/resolve", {"result": "transfer explained"})
    assert resolved["status"] == "resolved"
    assert resolved["sla_state"] == "met"
    clock.advance(hours=1)
    command(client, f"/tickets/{tid}/callbacks", {"kind": "phone", "satisfaction": 5})
    reviewed_answer = client.post(f"/tickets/{tid}/review", json={"passed": True, "notes": "ok"})
    assert reviewed_answer.status_code == 200
    reviewed = reviewed_answer.json()
    assert reviewed_answer.headers["ETag"] == f'"{reviewed["version"]}"'

    answer = client.get(f"/tickets/{tid}")
    assert answer.status_code == 200
    view: dict[str, Any] = answer.json()
    assert answer.headers["ETag"] == f'"{view["version"]}"'
    assert view["version"] == reviewed["version"]
    assert view["id"] == tid
    assert view["number"] == created["number"]
    assert view["status"] == "resolved"
    assert view["channel"] == "phone"
    assert view["requester_id"] == requester["id"]
    assert view["description"] == "社保转移咨询"
    assert view["classification"]["complexity"] == "simple"
    assert view["assignee"] == handler
    assert view["received_at"] == "2026-12-01T10:00:00+08:00"
    assert view["resolved_at"] == "2026-12-01T14:00:00+08:00"
    assert view["due_at"] == "2026-12-02T12:00:00+08:00"
    assert view["sla_state"] == "met"
    assert view["deadlines"][0]["name"] == "resolution"
    assert view["deadlines"][0]["state"] == "met"
    assert view["paused"] is False
    assert view["pauses"] == [
        {"started_at": "2026-12-01T11:00:00+08:00", "ended_at": "2026-12-01T13:00:00+08:00"}
    ]
    assert [s["measure"] for s in view["steps"]] == ["called the requester"]
    assert view["steps"][0]["at"] == "2026-12-01T10:30:00+08:00"
    assert [a["assignee"] for a in view["assignments"]] == [handler]
    assert view["callbacks"][0]["satisfaction"] == 5
    assert view["reviews"][0]["passed"] is True
    # The requester appears by id only: none of the subject's personal data.
    for plain in ("张三丰", "13800138000"):
        assert plain not in answer.text


def test_an_unclassified_ticket_cannot_be_resolved(client: TestClient) -> None:
    ticket = open_ticket(client, register_person(client)["id"])
    error = error_of(client.post(f"/tickets/{ticket['id']}/resolve", json={"result": "x"}), 409)
    assert error["code"] == "rule_violation"
    assert error["rule"] == "ticket.resolve.requires_classification"


def resolved_ticket(client: TestClient) -> str:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{tid}/assign", {"assignee": add_user(client)["id"]})
    command(client, f"/tickets/{tid}/resolve", {"result": "answered"})
    return tid


def test_a_callback_before_resolution_is_refused(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    answer = client.post(f"/tickets/{tid}/callbacks", json={"kind": "sms", "satisfaction": 4})
    assert error_of(answer, 409)["rule"] == "ticket.callback.before_done"


def test_a_ticket_cannot_be_resolved_twice(client: TestClient) -> None:
    tid = resolved_ticket(client)
    before = log_length(client)
    answer = client.post(f"/tickets/{tid}/resolve", json={"result": "again"})
    assert error_of(answer, 409)["rule"] == "ticket.resolve.already_resolved"
    assert log_length(client) == before


def test_a_complex_ticket_needs_a_team_when_assigned(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    first, second = add_user(client)["id"], add_user(client)["id"]
    command(client, f"/tickets/{tid}/classify", {**CLASSIFY_SIMPLE, "complexity": "complex"})
    alone = client.post(f"/tickets/{tid}/assign", json={"assignee": first})
    assert error_of(alone, 409)["rule"] == "ticket.assign.complex_requires_team"
    teamed = command(client, f"/tickets/{tid}/assign", {"assignee": first, "team": [second]})
    assert teamed["status"] == "assigned"
    assert client.get(f"/tickets/{tid}").json()["team"] == [second]


def test_a_reassignment_without_a_reason_names_the_reason_field(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    first, second = add_user(client)["id"], add_user(client)["id"]
    command(client, f"/tickets/{tid}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{tid}/assign", {"assignee": first})
    error = error_of(client.post(f"/tickets/{tid}/assign", json={"assignee": second}), 422)
    assert error["field"] == "reason"
    command(client, f"/tickets/{tid}/assign", {"assignee": second, "reason": "on leave"})


def test_an_entry_review_is_recorded_on_the_ticket(client: TestClient) -> None:
    tid = open_ticket(client, register_person(client)["id"])["id"]
    command(client, f"/tickets/{tid}/review-entry", {"passed": False, "notes": "typo in name"})
    assert client.get(f"/tickets/{tid}").json()["entry_reviews"][0]["passed"] is False


def test_an_unknown_ticket_is_404(client: TestClient) -> None:
    assert error_of(client.get("/tickets/3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f"), 404)
    assert error_of(client.get("/tickets/not-a-uuid"), 404)["code"] == "not_found"
    answer = client.post(
        "/tickets/3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f/classify", json=CLASSIFY_SIMPLE
    )
    assert error_of(answer, 404)["code"] == "not_found"


def test_an_unknown_channel_is_refused_by_the_domain_naming_the_field(
    client: TestClient,
) -> None:
    before = log_length(client)
    requester = register_person(client)["id"]
    answer = client.post(
        "/tickets", json={"channel": "fax", "requester_id": requester, "description": "x"}
    )
    assert error_of(answer, 422)["field"] == "channel"
    assert log_length(client) == before + 1  # only the subject


def test_a_ticket_for_an_unknown_requester_names_requester_id(client: TestClient) -> None:
    answer = client.post(
        "/tickets",
        json={
            "channel": "email",
            "requester_id": "3f1d1e4c-2a9b-4c8e-9d7f-0a1b2c3d4e5f",
            "description": "x",
        },
    )
    assert error_of(answer, 422)["field"] == "requester_id"


def test_a_received_at_without_an_offset_is_refused_naming_received_at(
    client: TestClient,
) -> None:
    requester = register_person(client)["id"]
    before = log_length(client)
    answer = client.post(
        "/tickets",
        json={
            "channel": "phone",
            "requester_id": requester,
            "description": "x",
            "received_at": "2026-11-30T10:00:00",
        },
    )
    error = error_of(answer, 422)
    assert error["field"] == "received_at"
    assert log_length(client) == before


def test_a_ticket_received_before_national_day_is_due_after_the_holiday(
    client: TestClient,
) -> None:
    requester = register_person(client)["id"]
    ticket = open_ticket(client, requester, received_at="2026-09-30T16:30:00+08:00")
    assert ticket["due_at"] == "2026-10-08T16:30:00+08:00"
    assert ticket["number"].startswith("GD20260930-")
    view = client.get(f"/tickets/{ticket['id']}").json()
    assert view["received_at"] == "2026-09-30T16:30:00+08:00"
    assert view["due_at"] == "2026-10-08T16:30:00+08:00"


def test_times_given_in_utc_are_shown_in_shanghai_time(client: TestClient) -> None:
    requester = register_person(client)["id"]
    ticket = open_ticket(client, requester, received_at="2026-11-30T02:00:00Z")
    view = client.get(f"/tickets/{ticket['id']}").json()
    assert view["received_at"] == "2026-11-30T10:00:00+08:00"
    assert ticket["due_at"] == "2026-12-01T10:00:00+08:00"


def test_a_year_the_calendar_does_not_know_is_refused_naming_received_at(
    client: TestClient,
) -> None:
    requester = register_person(client)["id"]
    answer = client.post(
        "/tickets",
        json={
            "channel": "phone",
            "requester_id": requester,
            "description": "x",
            "received_at": "2031-03-03T10:00:00+08:00",
        },
    )
    error = error_of(answer, 422)
    assert error["code"] == "calendar_year_unknown"
    assert error["field"] == "received_at"


def test_a_satisfaction_that_is_not_an_integer_is_refused(client: TestClient) -> None:
    tid = resolved_ticket(client)
    answer = client.post(f"/tickets/{tid}/callbacks", json={"kind": "phone", "satisfaction": "5"})
    assert error_of(answer, 422)["field"] == "satisfaction"
    answer = client.post(f"/tickets/{tid}/callbacks", json={"kind": "phone", "satisfaction": 9})
    assert error_of(answer, 422)["field"] == "satisfaction"


def test_a_ticket_is_assigned_only_to_active_staff_whose_role_may_work_tickets(
    client: TestClient,
) -> None:
    requester = register_person(client)["id"]
    tid = open_ticket(client, requester)["id"]
    command(client, f"/tickets/{tid}/classify", {**CLASSIFY_SIMPLE, "complexity": "complex"})
    handler, colleague = add_user(client)["id"], add_user(client, name="同事")["id"]
    analyst = add_user(client, "analyst")["id"]
    specialist = add_user(client, "service_specialist")["id"]
    leaver = add_user(client, name="离职")["id"]
    command(client, f"/users/{leaver}/deactivate")
    version = client.get(f"/tickets/{tid}").json()["version"]

    refusals = [
        ({"assignee": "handler-1", "team": [colleague]}, "assignee", "names no staff member"),
        ({"assignee": requester, "team": [colleague]}, "assignee", "names no staff member"),
        ({"assignee": analyst, "team": [colleague]}, "assignee",
         "analyst, which may not ticket.work"),
        ({"assignee": specialist, "team": [colleague]}, "assignee",
         "service_specialist, which may not ticket.work"),
        ({"assignee": leaver, "team": [colleague]}, "assignee", "deactivated"),
        ({"assignee": handler, "team": [colleague, "handler-2"]}, "team[1]",
         "names no staff member"),
        ({"assignee": handler, "team": [analyst]}, "team[0]", "may not ticket.work"),
        ({"assignee": handler, "team": [leaver]}, "team[0]", "deactivated"),
    ]
    for body, field, message in refusals:
        before = log_length(client)
        error = error_of(client.post(f"/tickets/{tid}/assign", json=body), 422)
        assert (error["code"], error["field"]) == ("invalid_input", field), body
        assert message in error["message"], error
        assert log_length(client) == before, body  # nothing stored
    view = client.get(f"/tickets/{tid}").json()
    assert (view["assignee"], view["team"], view["version"]) == (None, [], version)

    # Staff may be named by any spelling of their id; the canonical one is recorded.
    assigned = command(
        client, f"/tickets/{tid}/assign", {"assignee": handler.upper(), "team": [colleague]}
    )
    assert assigned["status"] == "assigned"
    view = client.get(f"/tickets/{tid}").json()
    assert (view["assignee"], view["team"]) == (handler, [colleague])
    mine = client.get("/tickets", params={"assignee": handler}).json()["items"]
    assert [item["id"] for item in mine] == [tid]
