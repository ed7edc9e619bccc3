"""``taizhang users``: add staff (the token is printed once), change roles, deactivate.

These run as the operator (``system:cli``) with direct access to the store,
like ``init``; over HTTP the same commands need the project lead's token.
A token is printed once and stored only as a SHA-256 digest.
"""

from __future__ import annotations

from typing import Annotated, Any

import orjson
import typer

from domain.errors import TaizhangError
from domain.ledger import Context
from projections.catalog import open_catalog
from taizhang.bootstrap import open_ledger
from taizhang.cli_common import DataDir, fail, settings_for

CLI_ACTOR = "system:cli"

app = typer.Typer(
    name="users",
    help="Add staff, change their role, deactivate them (人员更换).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def _echo(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    if as_json:
        typer.echo(orjson.dumps(result).decode())
        return
    for line in lines:
        typer.echo(line)


@app.command("add")
def add_user(
    name: Annotated[str, typer.Argument(help="The staff member's name.")],
    role: Annotated[
        str,
        typer.Option(
            "--role",
            help="project_lead | ticket_handler | service_specialist | quality_supervisor"
            " | confidentiality_officer | analyst | auditor",
        ),
    ],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Add a staff member and print their bearer token (shown once, never stored)."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        try:
            created = ledger.add_user(name=name, role=role, ctx=Context(CLI_ACTOR))
        finally:
            ledger.close()
    except TaizhangError as exc:
        fail(exc.message)
    _echo(created, as_json, [
        f"user:  {created['id']}  ({created['role']})",
        f"token: {created['token']}  (shown once; keep it safe)",
    ])


@app.command("role")
def change_role(
    user_id: Annotated[str, typer.Argument(help="The user's id.")],
    role: Annotated[str, typer.Option("--role", help="The new role.")],
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Give a staff member another role (recorded in the log)."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        try:
            changed = ledger.change_role(user_id, role, Context(CLI_ACTOR))
        finally:
            ledger.close()
    except TaizhangError as exc:
        fail(exc.message)
    _echo(changed, as_json, [f"user:  {changed['id']}  now {changed['role']}"])


@app.command("deactivate")
def deactivate(
    user_id: Annotated[str, typer.Argument(help="The leaver's user id.")],
    reassign_to: Annotated[
        str | None,
        typer.Option(
            "--reassign-to",
            help="A colleague's user id for the open work (without it: tickets go back to"
            " the queue; open cases need one).",
        ),
    ] = None,
    reason: Annotated[str | None, typer.Option(help="Recorded with every change.")] = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """人员更换: revoke the user's tokens and grants and hand over open work, in one step."""
    try:
        ledger = open_ledger(settings_for(data_dir))
        try:
            catalog = open_catalog(ledger)
            done = ledger.deactivate_user(
                user_id, reassign_to=reassign_to, reason=reason, work=catalog,
                ctx=Context(CLI_ACTOR),
            )
        finally:
            ledger.close()
    except TaizhangError as exc:
        fail(exc.message)
    moved = [f"  {w['kind']} {w['number']} -> {w['assignee'] or 'queue'}" for w in done["work"]]
    _echo(done, as_json, [
        f"user:  {done['id']}  deactivated at {done['deactivated_at']}",
        f"credentials revoked: {done['credentials_revoked']}; grants revoked:"
        f" {len(done['grants_revoked'])}; open items handed over: {len(done['work'])}",
        *moved,
    ])
