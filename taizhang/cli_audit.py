"""Integrity commands: ``seal``, ``verify``, ``audit export|verify|heads``, ``db setup``.

``verify`` exits 0 on a clean log, 1 when it finds tampering, 2 on an error;
``audit verify`` likewise, needing nothing but the bundle file.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import Annotated

import orjson
import typer

from domain.errors import TaizhangError
from projections.database import ViewDatabase
from replay.append_only import grant_app_role, install_append_only
from replay.bundle import export_bundle, verify_bundle
from replay.records import count_records
from replay.sealer import load_heads
from replay.verify import verify_log
from taizhang.bootstrap import open_ledger
from taizhang.cli_common import DataDir, fail, settings_for
from taizhang.integrity import head_verifier, open_sealer
from taizhang.progress import progress

audit_app = typer.Typer(
    name="audit",
    help="Export and verify audit bundles.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    name="db",
    help="Database setup for operators.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def seal(
    data_dir: DataDir = None,
    follow: Annotated[bool, typer.Option(help="Keep sealing until interrupted.")] = False,
) -> None:
    """Append the new events to the Merkle tree and sign a tree head."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        sealer = open_sealer(ledger, settings_for(data_dir))
        head = sealer.seal_once(force=True)
        latest = head or sealer.latest
        typer.echo(orjson.dumps(latest.as_dict() if latest else {"tree_size": 0}).decode())
        if follow:
            stop = threading.Event()
            try:
                sealer.run(stop)
            except KeyboardInterrupt:
                stop.set()
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message, 2)


def verify(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Recompute every leaf, check every signed head; exit 1 on tampering."""
    try:
        settings = settings_for(data_dir)
        ledger = open_ledger(settings)
        db = ViewDatabase(ledger)
        with progress("verifying", count_records(db)) as ticker:
            report = verify_log(db, head_verifier(settings), ticker)
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message, 2)
    if as_json:
        typer.echo(orjson.dumps(report.as_dict()).decode())
    else:
        state = "OK" if report.ok else "TAMPERED"
        typer.echo(
            f"{state}: {report.records} events, {report.sealed} sealed under "
            f"{report.heads} signed heads, {report.unsealed} not yet sealed"
        )
        for finding in report.findings:
            where = f"position {finding.position}" if finding.position is not None else "log"
            typer.echo(f"  {finding.kind} at {where}: {finding.detail}")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("export")
def audit_export(
    file: Annotated[Path, typer.Argument(help="Where to write the bundle (JSON Lines).")],
    first: Annotated[int, typer.Option(help="Tree size of the earlier signed head (0: none).")],
    second: Annotated[int, typer.Option(help="Tree size of the later signed head.")],
    data_dir: DataDir = None,
) -> None:
    """Write a self-contained audit bundle between two signed heads."""
    try:
        settings = settings_for(data_dir)
        ledger = open_ledger(settings)
        sealer = open_sealer(ledger, settings)
        with file.open("wb") as out, progress("exporting", second) as ticker:
            written = export_bundle(sealer, first, second, out, ticker)
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message, 2)
    typer.echo(f"wrote {written} records, heads {first} -> {second}, to {file}")


@audit_app.command("verify")
def audit_verify(
    file: Annotated[Path, typer.Argument(help="The bundle to check.")],
    trusted_head: Annotated[
        str | None, typer.Option(help="A head you hold (JSON, or a file with it).")
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Verify a bundle offline: no database, no decryption key."""
    try:
        trusted = None
        if trusted_head:
            text = Path(trusted_head).read_text() if Path(trusted_head).exists() else trusted_head
            trusted = orjson.loads(text)
        with progress("verifying bundle", None) as ticker:
            report = verify_bundle(file, trusted, ticker)
    except (OSError, orjson.JSONDecodeError) as exc:
        fail(f"cannot read input: {exc}", 2)
    except TaizhangError as exc:
        fail(exc.message, 2)
    if as_json:
        typer.echo(orjson.dumps(report.as_dict()).decode())
    else:
        typer.echo(("OK" if report.ok else "FAILED") + f": {report.records} records")
        for line in report.checks:
            typer.echo(f"  ok    {line}")
        for line in report.problems:
            typer.echo(f"  FAIL  {line}")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("heads")
def audit_heads(data_dir: DataDir = None) -> None:
    """List the signed tree heads (JSON Lines)."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        for head in load_heads(ViewDatabase(ledger)):
            sys.stdout.write(orjson.dumps(head.as_dict()).decode() + "\n")
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message, 2)


@db_app.command("setup")
def db_setup(
    app_role: Annotated[
        str | None, typer.Option(help="PostgreSQL role for the service: SELECT/INSERT on the log.")
    ] = None,
    data_dir: DataDir = None,
) -> None:
    """As the tables' owner: install append-only triggers and (PostgreSQL) the service role."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        db = ViewDatabase(ledger)
        install_append_only(db)
        if app_role:
            grant_app_role(db, app_role)
            typer.echo(f"role {app_role}: SELECT, INSERT on the log; no UPDATE/DELETE/TRUNCATE")
        ledger.close()
    except TaizhangError as exc:
        fail(exc.message, 2)
    typer.echo("append-only triggers installed")


def register(app: typer.Typer) -> None:
    """Add these commands to the main ``taizhang`` command."""
    app.command()(seal)
    app.command()(verify)
    app.add_typer(audit_app, name="audit")
    app.add_typer(db_app, name="db")
