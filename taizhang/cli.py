"""The ``taizhang`` command line: init, serve, demo (and the operators' tools).

Every command takes ``--data-dir`` (or ``TAIZHANG_DATA_DIR``) and honours
``TAIZHANG_DATABASE_URL``. Errors are one line on stderr and a non-zero exit;
no key and no personal datum is ever printed.
"""

from __future__ import annotations

import sys
import time
from datetime import date
from typing import Annotated

import orjson
import typer

from domain.errors import TaizhangError
from taizhang import cli_audit, cli_keys, cli_replay, cli_terms, cli_users
from taizhang.bootstrap import (
    initialise,
    is_initialised,
    open_ledger,
    record_calendar_files,
)
from taizhang.cli_common import DataDir, fail, settings_for
from taizhang.progress import progress

app = typer.Typer(
    name="taizhang",
    help="台账 — the event-sourced, audit-first ledger of the service contract.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

app.add_typer(cli_keys.app, name="keys")
app.add_typer(cli_users.app, name="users")
app.add_typer(cli_terms.calendar_app, name="calendar")
app.add_typer(cli_terms.contract_app, name="contract")
app.add_typer(cli_replay.app, name="replay")
app.add_typer(cli_replay.project_app, name="project")
cli_audit.register(app)





@app.command()
def init(
    data_dir: DataDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    cipher: Annotated[
        str, typer.Option(help="Store cipher: AES-256-GCM (default) or SM4-GCM.")
    ] = "AES-256-GCM",
) -> None:
    """Create keys, the store and a bootstrap project lead; print its token once."""
    settings = settings_for(data_dir)
    try:
        info = initialise(settings, algorithm=cipher)
    except TaizhangError as exc:
        fail(exc.message)
    if as_json:
        typer.echo(orjson.dumps({k: info[k] for k in ("data_dir", "database", "token")}).decode())
        return
    typer.echo(f"data:     {info['data_dir']}")
    typer.echo(f"database: {info['database']}")
    typer.echo(f"keys:     {settings.key_file.resolve() if not settings.store_key else 'env'}")
    typer.echo(f"token:    {info['token']}  (bootstrap project lead; shown once)")


@app.command()
def serve(
    data_dir: DataDir = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Start the HTTP service (initialising a new data directory on first run)."""
    import uvicorn

    from api.app import create_app

    settings = settings_for(data_dir, host=host, port=port)
    try:
        if not is_initialised(settings):
            info = initialise(settings)
            typer.echo(f"initialised a new ledger in {info['data_dir']}")
            typer.echo(f"bootstrap project lead token (shown once): {info['token']}")
        ledger = open_ledger(settings)
        recorded = record_calendar_files(ledger, settings.calendar_dir)
    except TaizhangError as exc:
        fail(exc.message)
    typer.echo(f"store:    {settings.store} at {settings.describe_database()}")
    for line in recorded:
        typer.echo(f"calendar: recorded the schedule for {line}")
    if not settings.store_key and not settings.database_url:
        typer.echo(f"keys:     {settings.key_file.resolve()}")
    typer.echo(f"listening on http://{settings.host}:{settings.port}  (docs at /docs)")
    uvicorn.run(
        create_app(settings, ledger), host=settings.host, port=settings.port, log_level="warning"
    )


@app.command()
def demo(
    data_dir: DataDir = None,
    days: Annotated[int, typer.Option(min=1, max=3660, help="Calendar days of history.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same workload.")] = 1,
    scale: Annotated[
        float, typer.Option(min=0.0001, max=10.0, help="Share of the contract's yearly volume.")
    ] = 0.01,
    start: Annotated[
        str | None, typer.Option(help="First day (YYYY-MM-DD); default: ends yesterday.")
    ] = None,
) -> None:
    """Record a realistic synthetic workload (contract-year proportions x scale)."""
    from taizhang.demo import run_demo

    settings = settings_for(data_dir)
    try:
        first = date.fromisoformat(start) if start else None
    except ValueError:
        fail("--start must be a date like 2026-03-02", 2)
    try:
        if not is_initialised(settings):
            initialise(settings)
        ledger = open_ledger(settings)
        record_calendar_files(ledger, settings.calendar_dir)
        began = time.perf_counter()
        with progress("demo days", days) as ticker:
            stats = run_demo(ledger, days=days, seed=seed, scale=scale, start=first, ticker=ticker)
        seconds = time.perf_counter() - began
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message)
    rate = stats.events / seconds if seconds else 0.0
    typer.echo(
        f"{stats.days[0]}..{stats.days[-1]}: {stats.tickets} tickets, {stats.cases} cases, "
        f"{stats.subjects} subjects, {stats.events} events in {seconds:.1f}s ({rate:,.0f} events/s)"
    )


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
