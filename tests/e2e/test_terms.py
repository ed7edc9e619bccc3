"""The working calendar's schedules and the contract's terms over HTTP and on the CLI.

Both are recorded as events: a load shows in the history with who and why,
bad input names the field and stores nothing, a stale ``If-Match`` is 409,
and only the project lead may change them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from taizhang.settings import Settings
from tests.e2e.support import TestClient, error_of, log_length, open_ticket, register_person

ROOT = Path(__file__).resolve().parents[2]
NOTICE_2027 = {"holidays": ["2027-01-01"], "workdays": [], "source": "国办发明电〔2026〕N号",
               "reason": "2027年部分节假日安排"}


def as_role(client: TestClient, role: str) -> TestClient:
    made = client.post("/users", json={"name": role, "role": role}).json()
    return TestClient(client.app, headers={"Authorization": f"Bearer {made['token']}"})


def test_next_years_notice_is_loaded_once_and_unblocks_year_end_deadlines(
    client: TestClient, clock: Any
) -> None:
    clock.now = clock.now.replace(month=12, day=31)  # 10:00 on 31 December 2026
    subject = register_person(client)["id"]
    refused = client.post("/tickets", json={"channel": "phone", "requester_id": subject,
                                            "description": "咨询"})
    assert error_of(refused, 503)["code"] == "calendar_year_unknown"
    before = log_length(client)

    loaded = client.put("/calendar/2027", json=NOTICE_2027)
    assert loaded.status_code == 200, loaded.text
    assert loaded.json() == {"year": 2027, "source": NOTICE_2027["source"], "changed": True,
                             "version": 2}
    assert loaded.headers["ETag"] == '"2"'
    assert log_length(client) == before + 2  # the book opened, the schedule recorded
    again = client.put("/calendar/2027", json=NOTICE_2027)
    assert again.json()["changed"] is False
    assert log_length(client) == before + 2

    ticket = open_ticket(client, subject)
    assert ticket["due_at"] == "2027-01-04T10:00:00+08:00"  # 1 January off, then a weekend
    info = client.get("/calendar").json()
    assert 2027 in info["known_years"]
    assert info["in_force"] == [{"year": 2027, "source": NOTICE_2027["source"], "holidays": 1,
                                 "workdays": 0}]
    assert [(h["year"], h["reason"]) for h in info["history"]] == [(2027, NOTICE_2027["reason"])]
    year = client.get("/calendar/2027").json()
    assert (year["holidays"], year["workdays"], year["source"]) == (
        ["2027-01-01"], [], NOTICE_2027["source"])
    assert client.get("/calendar/2026").json()["source"].startswith("built-in")
    assert error_of(client.get("/calendar/2031"), 404)["code"] == "not_found"


def test_bad_schedules_name_the_field_and_store_nothing(client: TestClient) -> None:
    before = log_length(client)
    cases = [
        ({**NOTICE_2027, "holidays": ["2027-01-02"]}, "holidays[0]"),  # a Saturday
        ({**NOTICE_2027, "holidays": ["2027-02-30"]}, "holidays[0]"),
        ({**NOTICE_2027, "workdays": ["2027-01-04"]}, "workdays[0]"),  # a Monday
        ({**NOTICE_2027, "holidays": ["2026-12-31"]}, "holidays[0]"),  # another year
        ({**NOTICE_2027, "source": " "}, "source"),
        ({k: v for k, v in NOTICE_2027.items() if k != "workdays"}, "workdays"),
        ({**NOTICE_2027, "workday": []}, "workday"),
    ]
    for body, field in cases:
        assert error_of(client.put("/calendar/2027", json=body), 422)["field"] == field, body
    assert log_length(client) == before


def test_a_stale_if_match_is_409_and_only_the_lead_may_load(client: TestClient) -> None:
    assert client.get("/calendar").headers["ETag"] == '"0"'
    assert client.put("/calendar/2027", json=NOTICE_2027,
                      headers={"If-Match": '"0"'}).status_code == 200
    correction = {**NOTICE_2027, "holidays": ["2027-01-01", "2027-02-05"], "reason": "更正"}
    stale = client.put("/calendar/2027", json=correction, headers={"If-Match": '"0"'})
    assert error_of(stale, 409)["code"] == "concurrent_write"
    before = log_length(client)
    analyst = as_role(client, "analyst")
    assert analyst.get("/calendar").status_code == 200
    assert error_of(analyst.put("/calendar/2027", json=correction), 403)
    assert error_of(analyst.put("/contract", json={"months": 24, "reason": "x"}), 403)
    assert log_length(client) == before + 2  # the analyst's account only (user + credential)


def test_contract_terms_are_recorded_with_reasons_and_checked_field_by_field(
    client: TestClient,
) -> None:
    shown = client.get("/contract").json()
    assert shown["recorded"] is False
    assert shown["terms"] == {"start": "2026-01-01", "months": 12, "warning_margin": 0.05,
                              "targets": {"tickets": 10_000, "services": 545_000}}
    first = client.put("/contract", json={"start": "2026-03-01", "targets": {"tickets": 12_000}})
    assert first.status_code == 200, first.text
    assert first.json()["terms"]["targets"] == {"tickets": 12_000, "services": 545_000}
    before = log_length(client)
    for body, field in (
        ({"months": 0, "reason": "x"}, "months"),
        ({"months": "12", "reason": "x"}, "months"),
        ({"start": "March", "reason": "x"}, "start"),
        ({"targets": {"tickets": -5}, "reason": "x"}, "targets.tickets"),
        ({"targets": {"callbacks": 5}, "reason": "x"}, "targets.callbacks"),
        ({"warning_margin": 1.5, "reason": "x"}, "warning_margin"),
        ({"months": 24}, "reason"),  # recorded terms change only with a reason
    ):
        assert error_of(client.put("/contract", json=body), 422)["field"] == field, body
    assert log_length(client) == before
    changed = client.put("/contract", json={"months": 24, "reason": "补充协议"},
                         headers={"If-Match": first.headers["ETag"]})
    assert changed.status_code == 200, changed.text
    stale = client.put("/contract", json={"months": 36, "reason": "x"},
                       headers={"If-Match": first.headers["ETag"]})
    assert error_of(stale, 409)
    history = client.get("/contract").json()["history"]
    assert [(h["months"], h["reason"]) for h in history] == [(12, None), (24, "补充协议")]
    quota = client.get("/reports/quota", params={"period": "month", "day": "2026-12-01"})
    assert quota.status_code == 200, quota.text
    assert quota.json()["contract"]["months"] == 24


def run_cli(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TAIZHANG_")}
    return subprocess.run(
        [sys.executable, "-m", "taizhang.cli", *args, "--data-dir", str(settings.data_dir)],
        capture_output=True, text=True, env=env, cwd=ROOT, check=False,
    )


def test_the_cli_loads_a_schedule_file_and_refuses_a_bad_one(
    settings: Settings, bootstrap: dict[str, str], tmp_path: Path
) -> None:
    bad = tmp_path / "2027-bad.json"
    bad.write_text(json.dumps({"year": 2027, "holidays": ["2027-01-02"], "workdays": [],
                               "source": "x"}), "utf-8")
    refused = run_cli(settings, "calendar", "load", str(bad))
    assert refused.returncode == 2
    assert "holidays[0]" in refused.stderr
    good = tmp_path / "2027.json"
    good.write_text(json.dumps({"year": 2027, "holidays": ["2027-01-01"], "workdays": [],
                                "source": "notice"}), "utf-8")
    loaded = run_cli(settings, "calendar", "load", str(good), "--reason", "published")
    assert loaded.returncode == 0, loaded.stderr
    assert "2027 (notice): recorded" in loaded.stdout
    shown = json.loads(run_cli(settings, "calendar", "show", "--json").stdout)
    assert [(h["year"], h["reason"], h["loaded_by"]) for h in shown["history"]] == [
        (2027, "published", "system:cli")]
    set_terms = run_cli(settings, "contract", "set", "--months", "0")
    assert set_terms.returncode == 2
    assert "months" in set_terms.stderr
    assert run_cli(settings, "contract", "set", "--tickets", "9000").returncode == 0
    assert "tickets 9,000" in run_cli(settings, "contract", "show").stdout
