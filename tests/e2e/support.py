"""Helpers for the end-to-end tests: the hand-moved clock and HTTP shortcuts."""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from domain.calendar import SHANGHAI
from domain.identifiers import check_resident_id_char

with warnings.catch_warnings():
    # Starlette asks for the httpx2 package, which this environment does not provide yet.
    warnings.filterwarnings("ignore", message=".*httpx2.*")
    from fastapi.testclient import TestClient

START = datetime(2026, 12, 1, 10, 0, tzinfo=SHANGHAI)  # a Tuesday, in service hours


def resident_id(first17: str = "11010519491231002") -> str:
    """A resident ID number with a correct check character."""
    return first17 + check_resident_id_char(first17)


@dataclass
class Clock:
    """The ledger's clock: stands still until a test moves it."""

    now: datetime = START

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def log_length(client: TestClient) -> int:
    answer = client.get("/health")
    assert answer.status_code == 200
    return int(answer.json()["log_length"])


def add_user(
    client: TestClient, role: str = "ticket_handler", name: str = "经办人"
) -> dict[str, Any]:
    """A new staff member (the client must be the project lead): id, name, role and token."""
    answer = client.post("/users", json={"name": name, "role": role})
    assert answer.status_code == 201, answer.text
    return answer.json()


def signed_in_as(client: TestClient, user: dict[str, Any]) -> TestClient:
    """A client on the same app holding ``user``'s token."""
    return TestClient(client.app, headers={"Authorization": f"Bearer {user['token']}"})


def register_person(client: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"kind": "person", "name": "张三丰", "id_number": resident_id(), "mobile": "13800138000"}
    answer = client.post("/subjects", json={**body, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def open_ticket(client: TestClient, requester_id: str, **fields: Any) -> dict[str, Any]:
    body = {"channel": "phone", "requester_id": requester_id, "description": "社保转移咨询"}
    answer = client.post("/tickets", json={**body, **fields})
    assert answer.status_code == 201, answer.text
    return answer.json()


def command(
    client: TestClient, path: str, body: dict[str, Any] | None = None, **kwargs: Any
) -> dict[str, Any]:
    """POST a command that must succeed; return its receipt."""
    answer = client.post(path, json=body if body is not None else {}, **kwargs)
    assert answer.status_code == 200, answer.text
    return answer.json()


def error_of(answer: Any, status: int) -> dict[str, Any]:
    """The error object of an answer that must have failed with ``status``."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert set(body) == {"error"}
    assert {"code", "message", "field"} <= set(body["error"])
    return body["error"]


CLASSIFY_SIMPLE = {
    "nature": "consultation",
    "urgency": "general",
    "business_type": "social_security",
    "complexity": "simple",
}
