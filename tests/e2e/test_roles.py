"""Every role × every endpoint, generated from the app's routes and the authorisation table.

Each endpoint declares one action of ``domain/access.py`` (or that it is
public). The walk calls every endpoint with every role's token and expects 403
``forbidden`` exactly when the table denies the role that action; otherwise the
request must get past authorisation (any answer but 401/403 ``forbidden``; the
read gate's own refusal, 403 ``access_refused``, is past the table). A new
endpoint is walked automatically; one without a declaration fails the suite.
"""

from __future__ import annotations

import logging
from typing import Any

import orjson
import pytest
from fastapi import FastAPI
from typer.testing import CliRunner

from api.app import create_app
from api.deps import Authorised, Endpoint, Public, endpoints
from domain import access
from domain.ledger import Ledger
from domain.vocabulary import Role
from taizhang.cli import app as cli
from taizhang.settings import Settings
from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    command,
    open_ticket,
    register_person,
)

DOCS = {"/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc"}


def undeclared(app: FastAPI) -> list[str]:
    """Endpoints that declare no action, or more than one."""
    problems = []
    for endpoint in endpoints(app):
        if not endpoint.is_api:
            if endpoint.path not in DOCS:
                problems.append(f"{endpoint.method} {endpoint.path}: not an API route")
            continue
        if len(endpoint.declarations) != 1:
            problems.append(
                f"{endpoint.method} {endpoint.path}: declares {list(endpoint.declarations)}"
            )
    return problems


def test_every_endpoint_declares_exactly_one_action_of_the_table(settings: Settings) -> None:
    app = create_app(settings)
    assert undeclared(app) == []
    actions = {
        e.declarations[0].action for e in endpoints(app)
        if e.is_api and isinstance(e.declarations[0], Authorised)
    }
    assert actions <= set(access.ACTIONS)


def test_an_endpoint_without_a_declaration_is_caught(settings: Settings) -> None:
    app = create_app(settings)
    app.add_api_route("/forgotten", lambda: {"ok": True}, methods=["GET"])
    assert undeclared(app) == ["GET /forgotten: declares []"]


# -- the walk --------------------------------------------------------------------------------
def sample_bodies(ids: dict[str, str]) -> dict[tuple[str, str], Any]:
    """Valid-enough bodies, so a role the table allows gets past validation too."""
    return {
        ("POST", "/subjects"): {"kind": "person", "name": "巡检"},
        ("POST", "/subjects/{subject_id}/reveal"): {"fields": ["name"], "purpose": "巡检"},
        ("POST", "/subjects/{subject_id}/destruction-requests"): {"reason": "巡检"},
        ("POST", "/tickets"): {"channel": "phone", "requester_id": ids["subject_id"],
                               "description": "巡检"},
        ("POST", "/cases"): {"service_type": "policy_consultation",
                             "subject_id": ids["subject_id"], "materials": ["申请表"]},
        ("POST", "/users"): {"name": "巡检", "role": "analyst"},
        ("POST", "/users/{user_id}/role"): {"role": "auditor"},
        ("POST", "/grants"): {"subject_id": ids["subject_id"], "fields": ["name"],
                              "purpose": "巡检", "valid_until": "2026-12-31T17:00:00+08:00"},
        ("POST", "/access-reviews"): {"level": "low", "period_start": "2026-11-01T00:00:00+08:00",
                                      "period_end": "2026-12-01T00:00:00+08:00",
                                      "findings": "无异常"},
        ("PUT", "/buyer"): {"organisation": "济南高新区管委会"},
        ("POST", "/buyer/reveal"): {"fields": ["organisation"], "purpose": "巡检"},
        ("POST", "/destruction-requests/{request_id}/reject"): {"reason": "巡检"},
        ("PUT", "/calendar/{year}"): {"holidays": ["2026-11-18"], "workdays": [],
                                      "source": "巡检", "reason": "巡检"},
        ("PUT", "/contract"): {"warning_margin": 0.1, "reason": "巡检"},
    }


@pytest.fixture
def world(client: TestClient, clock: Clock) -> dict[str, Any]:
    """One of each thing an endpoint can name, and a signed-in client per role."""
    subject = register_person(client)["id"]
    spare = register_person(client, name="李四")["id"]
    ticket = open_ticket(client, subject)["id"]
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    case = client.post("/cases", json={"service_type": "policy_consultation",
                                       "subject_id": subject, "materials": ["申请表"]}).json()
    victim = client.post("/users", json={"name": "被调整者", "role": "ticket_handler"}).json()
    handler = client.post("/users", json={"name": "申请人", "role": "ticket_handler"}).json()
    as_handler = TestClient(client.app, headers={"Authorization": f"Bearer {handler['token']}"})
    grant = as_handler.post("/grants", json={"subject_id": subject, "fields": ["name"],
                                              "purpose": "回访",
                                              "valid_until": "2026-12-31T17:00:00+08:00"})
    assert grant.status_code == 201, grant.text
    request = client.post(f"/subjects/{spare}/destruction-requests", json={"reason": "到期"})
    assert client.put("/buyer", json={"organisation": "济南高新区"}).status_code == 200
    clients = {Role.PROJECT_LEAD.value: client}
    for role in Role:
        if role is not Role.PROJECT_LEAD:
            made = client.post("/users", json={"name": role.value, "role": role.value}).json()
            clients[role.value] = TestClient(
                client.app, headers={"Authorization": f"Bearer {made['token']}"}
            )
    ids = {
        "subject_id": subject, "ticket_id": ticket, "case_id": case["id"],
        "grant_id": grant.json()["id"], "request_id": request.json()["id"],
        "user_id": victim["id"], "position": "1", "year": "2026",
    }
    return {"ids": ids, "clients": clients, "anonymous": TestClient(client.app)}


def call(client: TestClient, endpoint: Endpoint, ids: dict[str, str]) -> Any:
    path = endpoint.path.format(**{k: v for k, v in ids.items() if "{" + k + "}" in
                                   endpoint.path})
    body = sample_bodies(ids).get((endpoint.method, endpoint.path), {})
    if endpoint.method in ("GET", "HEAD"):
        return client.request(endpoint.method, path)
    return client.request(endpoint.method, path, json=body)


def test_every_role_meets_the_table_at_every_endpoint(world: dict[str, Any]) -> None:
    app = world["clients"]["project_lead"].app
    walked, wrong = 0, []
    for endpoint in endpoints(app):
        if not endpoint.is_api:
            continue
        (declaration,) = endpoint.declarations
        if isinstance(declaration, Public):
            answer = call(world["anonymous"], endpoint, world["ids"])
            if answer.status_code in (401, 403):
                wrong.append(f"{endpoint.method} {endpoint.path}: public but {answer.status_code}")
            continue
        for role in Role:
            answer = call(world["clients"][role.value], endpoint, world["ids"])
            walked += 1
            denied = not access.allows(role.value, declaration.action)
            code = answer.json().get("error", {}).get("code") if answer.content else None
            refused_by_table = answer.status_code == 403 and code == "forbidden"
            if denied != refused_by_table or answer.status_code in (401, 500):
                wrong.append(
                    f"{role.value:24} {endpoint.method} {endpoint.path} ({declaration.action}):"
                    f" table {'denies' if denied else 'allows'}, got {answer.status_code} {code}"
                )
    assert wrong == [], "\n".join(wrong)
    assert walked >= 7 * 50  # every role at every endpoint


def test_without_a_token_only_health_answers(world: dict[str, Any]) -> None:
    app = world["clients"]["project_lead"].app
    for endpoint in endpoints(app):
        if endpoint.is_api and not isinstance(endpoint.declarations[0], Public):
            answer = call(world["anonymous"], endpoint, world["ids"])
            assert answer.status_code == 401, f"{endpoint.method} {endpoint.path}"


# -- tokens -----------------------------------------------------------------------------------
def decrypted_events(ledger: Ledger) -> str:
    found = ledger.recorder.select_notifications(start=1, limit=1_000_000)
    return "\n".join(repr(vars(ledger.mapper.to_domain_event(n))) for n in found)


def test_tokens_are_never_stored_or_logged(
    client: TestClient, ledger: Ledger, settings: Settings, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    over_http = client.post("/users", json={"name": "甲", "role": "ticket_handler"}).json()
    retried = client.post("/users", json={"name": "乙", "role": "analyst"},
                          headers={"Idempotency-Key": "add-yi"})
    again = client.post("/users", json={"name": "乙", "role": "analyst"},
                        headers={"Idempotency-Key": "add-yi"})
    assert again.json()["token"] is None  # a retry gets the receipt, not the token
    by_cli = CliRunner().invoke(
        cli, ["users", "add", "丙", "--role", "auditor", "--json",
              "--data-dir", str(settings.data_dir)],
    )
    assert by_cli.exit_code == 0, by_cli.output
    cli_token = orjson.loads(by_cli.stdout)["token"]
    tokens = [over_http["token"], retried.json()["token"], cli_token]
    for token in tokens:  # each one works ...
        me = client.get("/users/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200
    base = settings.sqlite_path
    stored = b"".join(p.read_bytes() for p in (base, base.with_name(base.name + "-wal"))
                      if p.exists())
    events = decrypted_events(ledger)
    for token in tokens:  # ... and is nowhere: not on disk, not in any event, not in the logs
        assert token.encode() not in stored
        assert token not in events
        assert token[3:] not in caplog.text


def test_a_role_change_applies_from_the_next_request(client: TestClient) -> None:
    made = client.post("/users", json={"name": "转岗", "role": "ticket_handler"}).json()
    staff = TestClient(client.app, headers={"Authorization": f"Bearer {made['token']}"})
    assert staff.get("/tickets").status_code == 200
    changed = client.post(f"/users/{made['id']}/role", json={"role": "analyst"})
    assert changed.json()["role"] == "analyst"
    refused = staff.get("/tickets")
    assert refused.status_code == 403
    assert "analyst may not ticket.read" in refused.json()["error"]["message"]
    assert client.post(f"/users/{made['id']}/role", json={"role": "analyst"}).status_code == 409


def test_the_cli_changes_roles_and_deactivates_handing_work_to_a_colleague(
    client: TestClient, settings: Settings
) -> None:
    leaver = client.post("/users", json={"name": "离职", "role": "ticket_handler"}).json()
    heir = client.post("/users", json={"name": "接手", "role": "analyst"}).json()
    ticket = open_ticket(client, register_person(client)["id"])["id"]
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": leaver["id"]})
    data = ["--data-dir", str(settings.data_dir)]
    runner = CliRunner()

    refused = runner.invoke(cli, ["users", "deactivate", leaver["id"], "--reassign-to",
                                  heir["id"], *data])
    assert refused.exit_code == 1
    assert "may not ticket.work" in refused.output
    promoted = runner.invoke(cli, ["users", "role", heir["id"], "--role", "ticket_handler",
                                   "--json", *data])
    assert orjson.loads(promoted.stdout)["role"] == "ticket_handler"
    done = runner.invoke(cli, ["users", "deactivate", leaver["id"], "--reassign-to", heir["id"],
                               "--json", *data])
    assert done.exit_code == 0, done.output
    assert [w["assignee"] for w in orjson.loads(done.stdout)["work"]] == [heir["id"]]
    gone = client.get("/users/me", headers={"Authorization": f"Bearer {leaver['token']}"})
    assert gone.status_code == 401
    assert client.get(f"/tickets/{ticket}").json()["assignee"] == heir["id"]
