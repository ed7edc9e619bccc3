"""End-to-end fixtures: the real app over HTTP, on a real Ledger in a temporary SQLite store.

Nothing is mocked. The ledger runs on a clock the tests move by hand, so the
deadlines they check do not depend on the day the suite runs (the working
calendar refuses years it does not know, which wall-clock time would reach).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from api.app import create_app
from domain.ledger import Ledger
from taizhang.bootstrap import initialise, open_ledger
from taizhang.settings import Settings
from tests.e2e.support import Clock, TestClient


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data")


@pytest.fixture
def bootstrap(settings: Settings) -> dict[str, str]:
    """Keys, the store and a project lead; ``token`` is the lead's bearer token."""
    return initialise(settings)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def ledger(settings: Settings, bootstrap: dict[str, str], clock: Clock) -> Iterator[Ledger]:
    opened = open_ledger(settings, clock=clock)
    yield opened
    opened.close()


@pytest.fixture
def client(settings: Settings, ledger: Ledger, bootstrap: dict[str, str]) -> Iterator[TestClient]:
    """A client signed in as the bootstrap project lead."""
    app = create_app(settings, ledger)
    headers = {"Authorization": f"Bearer {bootstrap['token']}"}
    with TestClient(app, headers=headers) as signed_in:
        yield signed_in


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    """A client on the same app without a token."""
    return TestClient(client.app)
