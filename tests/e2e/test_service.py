"""The service as a whole: start-up, health, documentation, routing errors."""

from __future__ import annotations

import shutil

import pytest

from api.app import create_app
from crypto.keyfile import create_key_file
from domain.errors import ConfigurationError
from taizhang.settings import Settings
from tests.e2e.support import TestClient, error_of


def test_health_reports_the_store_and_the_log_length_without_a_token(
    anonymous: TestClient,
) -> None:
    answer = anonymous.get("/health")
    assert answer.status_code == 200
    # initialise() recorded the bootstrap project lead: a user and a credential.
    assert answer.json() == {"status": "ok", "store": "sqlite", "log_length": 2}


def test_the_app_opens_its_own_ledger_at_start_and_closes_it_at_shutdown(
    settings: Settings, bootstrap: dict[str, str]
) -> None:
    app = create_app(settings)
    assert app.state.ledger is None  # nothing is opened before the service starts
    with TestClient(app) as client:
        assert client.get("/health").json()["log_length"] == 2
        assert app.state.ledger is not None
    assert app.state.ledger is None


def test_the_service_refuses_to_start_with_a_key_that_cannot_read_the_log(
    settings: Settings, bootstrap: dict[str, str], tmp_path: object
) -> None:
    stranger = settings.data_dir.parent / "other-keys.json"
    create_key_file(stranger)
    shutil.copyfile(stranger, settings.key_file)
    with (
        pytest.raises(ConfigurationError, match="cannot read event"),
        TestClient(create_app(settings)),
    ):
        pass


def test_the_openapi_document_and_the_docs_page_are_served(client: TestClient) -> None:
    document = client.get("/openapi.json")
    assert document.status_code == 200
    info = document.json()["info"]
    assert info["title"] == "taizhang"
    assert info["version"] == "0.1.0"
    paths = document.json()["paths"]
    for path in ("/health", "/subjects", "/tickets/{ticket_id}/classify", "/cases", "/users"):
        assert path in paths
    assert client.get("/docs").status_code == 200


def test_an_unknown_route_answers_404_in_the_error_format(client: TestClient) -> None:
    error = error_of(client.get("/no-such-thing"), 404)
    assert error["code"] == "not_found"
    assert error["field"] is None


def test_a_request_without_a_token_is_refused_with_401(anonymous: TestClient) -> None:
    answer = anonymous.get("/tickets/00000000-0000-0000-0000-000000000000")
    error = error_of(answer, 401)
    assert error["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_request_with_an_unknown_token_is_refused_with_401(anonymous: TestClient) -> None:
    answer = anonymous.post(
        "/subjects",
        json={"kind": "person", "name": "x"},
        headers={"Authorization": "Bearer tz_not-a-real-token"},
    )
    assert error_of(answer, 401)["code"] == "unauthenticated"
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_a_body_that_is_not_json_answers_400_malformed_json(client: TestClient) -> None:
    answer = client.post(
        "/subjects", content=b'{"kind": "person",', headers={"Content-Type": "application/json"}
    )
    error = error_of(answer, 400)
    assert error["code"] == "malformed_json"
    assert error["field"] is None
