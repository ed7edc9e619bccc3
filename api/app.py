"""The FastAPI application: ``create_app(settings)`` and nothing built at import time."""

from __future__ import annotations

import threading
import tomllib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata
from pathlib import Path

from fastapi import FastAPI

from api.deps import ItemCatalog
from api.errors import install_error_handlers
from api.routes import (
    access,
    audit,
    buyer,
    calendar,
    cases,
    contract,
    destruction,
    grants,
    health,
    reports,
    subjects,
    tickets,
    users,
)
from domain.ledger import Ledger
from projections.catalog import open_catalog
from projections.runtime import BackgroundFollowers
from taizhang.bootstrap import open_ledger
from taizhang.integrity import open_sealer
from taizhang.settings import Settings

DESCRIPTION = (
    "The system of record of an employment & entrepreneurship service contract: tickets, "
    "service cases and the people they concern, every step an encrypted, append-only event."
)


def package_version() -> str:
    """The installed package's version, else the one in a source checkout's pyproject.toml."""
    try:
        return metadata.version("taizhang")
    except metadata.PackageNotFoundError:
        pyproject = Path(__file__).resolve().parents[1] / "pyproject.toml"
        try:
            return str(tomllib.loads(pyproject.read_text("utf-8"))["project"]["version"])
        except (OSError, KeyError, tomllib.TOMLDecodeError):
            return "0+unknown"


def create_app(
    settings: Settings, ledger: Ledger | None = None, *, catalog: ItemCatalog | None = None
) -> FastAPI:
    """The HTTP service on ``ledger``, or on one opened from ``settings`` at start.

    A ledger opened here is closed at shutdown; one passed in belongs to the
    caller. ``catalog`` serves the list endpoints; by default the catalog view
    is opened on the ledger at start (if ``app.state.catalog`` is None, lists
    answer 503).
    """

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A ledger opened here is ours to close; a wrong key or an unreachable store fails here.
        opened = ledger if ledger is not None else open_ledger(settings)
        view = catalog if catalog is not None else open_catalog(opened)
        background = (BackgroundFollowers([view.follower, *reports.attach(app, opened)])
                      if view.follower else None)
        sealer = open_sealer(opened, settings)
        stop_sealing = threading.Event()
        sealing = threading.Thread(target=sealer.run, args=(stop_sealing,), name="sealer",
                                   daemon=True)
        app.state.ledger, app.state.catalog, app.state.sealer = opened, view, sealer
        if background:
            background.start()
        sealing.start()
        try:
            yield
        finally:
            stop_sealing.set()
            sealing.join(timeout=5)
            if background:
                background.stop()
            app.state.catalog = catalog
            if ledger is None:
                app.state.ledger = None
                opened.close()

    app = FastAPI(
        title="taizhang", version=package_version(), description=DESCRIPTION, lifespan=lifespan
    )
    app.state.settings = settings
    app.state.ledger = ledger
    app.state.catalog = catalog
    install_error_handlers(app)
    for module in (
        health, subjects, tickets, cases, users, destruction, audit, grants, access, buyer,
        reports, calendar, contract,
    ):
        app.include_router(module.router)
    return app
