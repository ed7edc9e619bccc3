"""Reports over HTTP: quota, SLA and quality, live and as of a past instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from domain.access_record import RECORDED_TOPIC
from domain.ledger import Ledger
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
    signed_in_as,
)


def resolved_ticket(client: TestClient, requester: str, received: str, resolved: str,
                    clock: Clock, handler: str) -> str:
    ticket = open_ticket(client, requester, received_at=received)["id"]
    clock.now = datetime.fromisoformat(received) + timedelta(minutes=10)
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": handler})
    clock.now = datetime.fromisoformat(resolved)
    command(client, f"/tickets/{ticket}/resolve", {"result": "已答复"})
    return ticket


def test_reports_count_what_was_done_and_reproduce_it_as_of_an_instant(
    client: TestClient, clock: Clock
) -> None:
    person = register_person(client, name="欧阳报表", mobile="13912345678")
    handler = add_user(client)["id"]
    first = resolved_ticket(client, person["id"], "2026-12-01T09:00:00+08:00",
                            "2026-12-01T15:00:00+08:00", clock, handler)
    between = datetime.now(UTC)
    resolved_ticket(client, person["id"], "2026-12-02T09:00:00+08:00",
                    "2026-12-03T11:00:00+08:00", clock, handler)  # 10 working hours: late

    quota = client.get("/reports/quota", params={"period": "month"}).json()
    tickets = next(line for line in quota["lines"] if line["line"] == "tickets")
    assert quota["period"]["first"] == "2026-12-01"
    assert (tickets["actual"], tickets["target"]) == (2, 833.33)
    assert quota["by_staff"] == [
        {"line": "tickets", "staff_id": handler, "actual": 2, "share": 1.0}]

    sla = client.get("/reports/sla", params={"state": "breached"}).json()
    assert [item["number"] for item in sla["items"]] != []
    assert sla["counts"]["done"] == {"met": 1, "breached": 1}
    assert sla["on_time"]["overall"]["on_time_rate"] == 0.5

    quality = client.get("/reports/quality", params={"period": "quarter"}).json()
    assert quality["totals"]["tickets"]["handled"] == 2
    assert quality["totals"]["tickets"]["timeliness"] == 0.5
    assert quality["ranking"]["by_line"]["tickets"][0]["staff_id"] == handler

    # As of the instant between the two resolutions: one ticket, the same figures every time.
    params = {"period": "month", "as_of": between.isoformat(), "day": "2026-12-01"}
    then = client.get("/reports/quota", params=params).json()
    assert next(line for line in then["lines"] if line["line"] == "tickets")["actual"] == 1
    assert then["final"] is True
    assert then["log_position"] < quota["log_position"]
    assert client.get("/reports/quota", params=params).json() == then
    sla_then = client.get("/reports/sla", params={"as_of": between.isoformat()}).json()
    assert [i["id"] for i in sla_then["items"] if i["done_at"]] == [first]

    # Statistics and ids only: no personal data of the requester anywhere.
    for answer in (quota, sla, quality, then):
        text = str(answer)
        assert "欧阳" not in text
        assert "13912345678" not in text
        assert person["id"] not in text


def test_reports_need_a_token_and_an_analyst_may_read_them(
    client: TestClient, anonymous: TestClient
) -> None:
    assert anonymous.get("/reports/quota").status_code == 401
    analyst = client.post("/users", json={"name": "数据分析员", "role": "analyst"}).json()
    reader = TestClient(client.app, headers={"Authorization": f"Bearer {analyst['token']}"})
    for path in ("/reports/quota", "/reports/sla", "/reports/quality"):
        assert reader.get(path).status_code == 200, path


def test_bad_report_parameters_are_refused_naming_the_field(client: TestClient) -> None:
    assert error_of(client.get("/reports/quota", params={"as_of": "yesterday"}), 422)[
        "field"] == "as_of"
    assert error_of(client.get("/reports/quota", params={"as_of": "2026-12-01T10:00"}), 422)[
        "field"] == "as_of"
    assert error_of(client.get("/reports/quota", params={"period": "fortnight"}), 422)[
        "field"] == "period"
    assert error_of(client.get("/reports/sla", params={"state": "late"}), 422)["field"] == "state"
    assert error_of(client.get("/reports/sla", params={"cursor": "!!"}), 422)["field"] == "cursor"


def test_the_access_log_report_is_itself_a_recorded_access(
    client: TestClient, clock: Clock
) -> None:
    person = register_person(client)
    body = {"fields": ["name"], "purpose": "核实身份"}
    assert client.post(f"/subjects/{person['id']}/reveal", json=body).status_code == 200
    first = client.get("/reports/access-log", params={"subject_id": person["id"]}).json()
    # This read was recorded before the answer (filtered by the subject, it concerns it too).
    assert [(i["target"], i["outcome"], i["fields"]) for i in first["items"]] == [
        ("access_history", "granted", []), ("subject", "granted", ["name"])]
    assert {r["level"] for r in first["reviews"]} == {"high", "medium", "low"}
    second = client.get("/reports/access-log").json()
    targets = [i["target"] for i in second["items"]]
    assert targets == ["access_history", "access_history", "subject"]  # newest first

    analyst = client.post("/users", json={"name": "分析员", "role": "analyst"}).json()
    reader = TestClient(client.app, headers={"Authorization": f"Bearer {analyst['token']}"})
    assert reader.get("/reports/access-log").status_code == 403
    refused = client.get("/reports/access-log", params={"actor": analyst["id"]}).json()
    assert [(i["target"], i["outcome"]) for i in refused["items"]] == [
        ("access_history", "refused")]


def test_the_access_log_report_records_its_read_before_answering_and_a_refusal_too(
    client: TestClient, ledger: Ledger
) -> None:
    person = register_person(client)
    officer = add_user(client, "confidentiality_officer", "保密员")
    reader = signed_in_as(client, officer)
    filters = {"subject_id": person["id"], "purpose": "月度审查"}
    before = log_length(client)
    answer = reader.get("/reports/access-log", params=filters, headers={"X-Request-Id": "rv-1"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-Request-Id"] == "rv-1"
    report = answer.json()
    assert log_length(client) == before + 1  # the record, and nothing else
    # The answer already holds the record: it was committed before the report was computed.
    assert report["log_position"] >= before + 1
    (itself,) = report["items"]
    assert itself["position"] == before + 1
    assert {k: itself[k] for k in ("actor", "role", "target", "subject_id", "purpose",
                                   "request_id", "outcome", "reason")} == {
        "actor": officer["id"], "role": "confidentiality_officer", "target": "access_history",
        "subject_id": person["id"], "purpose": "月度审查", "request_id": "rv-1",
        "outcome": "granted", "reason": "role"}
    assert itself["client"]

    analyst = add_user(client, "analyst", "分析员")
    before = log_length(client)
    refused = signed_in_as(client, analyst).get(
        "/reports/access-log", params={"actor": officer["id"]}, headers={"X-Request-Id": "rv-2"})
    assert error_of(refused, 403)["code"] == "forbidden"
    assert "items" not in refused.text
    assert log_length(client) == before + 1
    last = ledger.recorder.select_notifications(start=before + 1, limit=1)[0]
    record = ledger.mapper.to_domain_event(last)
    assert last.topic == RECORDED_TOPIC
    assert (record.actor, record.role, record.target, record.outcome, record.reason) == (
        analyst["id"], "analyst", "access_history", "refused", "role")
    assert (record.request_id, record.query) == ("rv-2", {"subject_id": None,
                                                          "actor": officer["id"]})


def test_reports_answer_503_while_the_views_catch_up_with_a_long_log(
    client: TestClient, monkeypatch: Any
) -> None:
    from api.routes import reports

    monkeypatch.setattr(reports, "MAX_LAG", -1)  # as if the views were far behind the log
    error = error_of(client.get("/reports/quota"), 503)
    assert "catching up" in error["message"]
