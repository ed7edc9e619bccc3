"""``taizhang calendar`` and ``taizhang contract``: the terms figures are computed under.

Both record events (as the operator, ``system:cli``), so a later report as of
an earlier date keeps the schedule and the terms that were in force then.
Bad input is one line naming the field, exit 2, and nothing is recorded.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
import typer

from domain.errors import InvalidInputError, TaizhangError
from domain.ledger import Context, Ledger
from taizhang.bootstrap import open_ledger
from taizhang.cli_common import DataDir, fail, settings_for

CLI_ACTOR = "system:cli"
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
Reason = Annotated[str | None, typer.Option(help="Why (required to change recorded terms).")]

calendar_app = typer.Typer(
    name="calendar", help="Year schedules of the working calendar (recorded as events).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)
contract_app = typer.Typer(
    name="contract", help="The contract's terms: period, targets, warning margin (events).",
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False,
)


def _run(data_dir: Path | None, command: Any) -> Any:
    """Open the ledger, run ``command`` on it, close it; errors end the process clearly."""
    try:
        ledger = open_ledger(settings_for(data_dir))
    except TaizhangError as exc:
        fail(exc.message)
    try:
        return command(ledger)
    except InvalidInputError as exc:
        fail(f"{exc.field}: {exc.message}" if exc.field else exc.message, 2)
    except TaizhangError as exc:
        fail(exc.message)
    finally:
        ledger.close()


def _echo(result: dict[str, Any], as_json: bool, lines: list[str]) -> None:
    typer.echo(orjson.dumps(result).decode() if as_json else "\n".join(lines))


@calendar_app.command("load")
def load_calendar(
    file: Annotated[Path, typer.Argument(help="A year schedule (docs/calendar-overrides.md).")],
    reason: Reason = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Record a year's schedule; steps from now on use it, past figures keep theirs."""
    try:
        data = orjson.loads(file.read_bytes())
    except OSError as exc:
        fail(f"cannot read {file}: {exc.strerror}", 2)
    except orjson.JSONDecodeError as exc:
        fail(f"{file} is not JSON: {exc}", 2)

    def load(ledger: Ledger) -> dict[str, Any]:
        return ledger.load_calendar_schedule(data, Context(CLI_ACTOR), reason=reason)

    result = _run(data_dir, load)
    state = "recorded" if result["changed"] else "already in force; nothing recorded"
    _echo(result, as_json, [f"{result['year']} ({result['source']}): {state}"])


@calendar_app.command("show")
def show_calendar(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """Known years, the schedules in force and every load."""
    info = _run(data_dir, lambda ledger: ledger.calendar_info())
    years = info["known_years"]
    lines = [f"known years: {years[0]}..{years[-1]}" if years else "known years: none"]
    lines += [f"{y['year']}: {y['source']} ({y['holidays']} holidays, {y['workdays']} workdays)"
              for y in info["in_force"]]
    lines += [f"  {h['loaded_at']} {h['loaded_by']}: {h['year']} {h['source']}"
              + (f" — {h['reason']}" if h["reason"] else "") for h in info["history"]]
    _echo(info, as_json, lines)


@contract_app.command("show")
def show_contract(data_dir: DataDir = None, as_json: AsJson = False) -> None:
    """The terms in force and every change."""
    info = _run(data_dir, lambda ledger: ledger.contract_info())
    _echo(info, as_json, [_terms_line(info["terms"]) + ("" if info["recorded"] else
                                                        "  (defaults: none recorded)")]
          + [f"  {c['set_at']} {c['set_by']}: {_terms_line(c)}"
             + (f" — {c['reason']}" if c["reason"] else "") for c in info["history"]])


@contract_app.command("set")
def set_contract(
    start: Annotated[str | None, typer.Option(help="First day, YYYY-MM-DD.")] = None,
    months: Annotated[int | None, typer.Option(help="Length of the service period.")] = None,
    tickets: Annotated[int | None, typer.Option(help="Tickets target per year.")] = None,
    services: Annotated[int | None, typer.Option(help="Services target per year.")] = None,
    warning_margin: Annotated[
        float | None, typer.Option(help="Share behind plan before a warning (0.05 = 5%).")
    ] = None,
    reason: Reason = None,
    data_dir: DataDir = None,
    as_json: AsJson = False,
) -> None:
    """Record the contract's terms; options left out keep the values in force."""
    given: dict[str, Any] = {k: v for k, v in (
        ("start", start), ("months", months), ("warning_margin", warning_margin)) if v is not None}
    targets = {k: v for k, v in (("tickets", tickets), ("services", services)) if v is not None}
    if targets:
        given["targets"] = targets
    result = _run(data_dir, lambda ledger: ledger.set_contract_terms(
        given, Context(CLI_ACTOR), reason=reason))
    state = "recorded" if result["changed"] else "already in force; nothing recorded"
    _echo(result, as_json, [f"{_terms_line(result['terms'])}: {state}"])


def _terms_line(terms: dict[str, Any]) -> str:
    targets = terms["targets"]
    return (f"from {terms['start']} for {terms['months']} months, targets tickets "
            f"{targets['tickets']:,} services {targets['services']:,}, "
            f"warning margin {terms['warning_margin']:.0%}")
