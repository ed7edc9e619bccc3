"""Reports over HTTP: quota, SLA and quality, live and as of a past instant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.e2e.support import (
    CLASSIFY_SIMPLE,
    Clock,
    TestClient,
    command,
    error_of,
    open_ticket,
    register_person,
)


def resolved_ticket(client: TestClient, requester: str, received: str, resolved: str,
                    clock: Clock) -> str:
    ticket = open_ticket(client, requester, received_at=received)["id"]
    clock.now = datetime.fromisoformat(received) + timedelta(minutes=10)
    command(client, f"/tickets/{ticket}/classify", CLASSIFY_SIMPLE)
    command(client, f"/tickets/{ticket}/assign", {"assignee": "handler-1"})
    clock.now = datetime.fromisoformat(resolved)
    command(client, f"/tickets/{ticket}/resolve", {"result": "已答复"})
    return ticket


def test_reports_count_what_was_done_and_reproduce_it_as_of_an_instant(
    client: TestClient, clock: Clock
) -> None:
    person = register_person(client, name="欧阳报表", mobile="13912345678")
    first = resolved_ticket(client, person["id"], "2026-12-01T09:00:00+08:00",
                            "2026-12-01T15:00:00+08:00", clock)
    between = datetime.now(UTC)
    resolved_ticket(client, person["id"], "2026-12-02T09:00:00+08:00",
                    "2026-12-03T11:00:00+08:00", clock)  # 10 working hours: late

    quota = client.get("/reports/quota", params={"period": "month"}).json()
    tickets = next(line for line in quota["lines"] if line["line"] == "tickets")
    assert quota["period"]["first"] == "2026-12-01"
    assert (tickets["actual"], tickets["target"]) == (2, 833.33)
    assert quota["by_staff"] == [
        {"line": "tickets", "staff_id": "handler-1", "actual": 2, "share": 1.0}]

    sla = client.get("/reports/sla", params={"state": "breached"}).json()
    assert [item["number"] for item in sla["items"]] != []
    assert sla["counts"]["done"] == {"met": 1, "breached": 1}
    assert sla["on_time"]["overall"]["on_time_rate"] == 0.5

    quality = client.get("/reports/quality", params={"period": "quarter"}).json()
    assert quality["totals"]["tickets"]["handled"] == 2
    assert quality["totals"]["tickets"]["timeliness"] == 0.5
    assert quality["ranking"]["by_line"]["tickets"][0]["staff_id"] == "handler-1"

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


def test_reports_answer_503_while_the_views_catch_up_with_a_long_log(
    client: TestClient, monkeypatch: Any
) -> None:
    from api.routes import reports

    monkeypatch.setattr(reports, "MAX_LAG", -1)  # as if the views were far behind the log
    error = error_of(client.get("/reports/quota"), 503)
    assert "catching up" in error["message"]
