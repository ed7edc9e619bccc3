"""``taizhang replay`` (rebuild views, reports as of a past instant) and ``taizhang project run``.

* ``replay rebuild [NAME|--all]`` drops the view(s) and follows the log again
  from its first event, with a progress bar on a terminal, then prints the
  throughput in events/s.
* ``replay as-of INSTANT NAME [--format json|csv]`` prints a report as the log
  stood at INSTANT (``replay/as_of.py`` defines it), reading the views without
  changing them — a store whose views were never built is replayed in memory.
* ``replay access --subject ID | --actor USER [--from --to]`` prints an access
  history from the log for an officer (the read itself recorded first);
* ``project run`` follows the log with every view until interrupted, as a
  process of its own (several may run on one database: each page of events is
  applied once, by whichever gets there first).
"""

from __future__ import annotations

import csv
import io
import signal
import threading
import time
from typing import Annotated, Any

import orjson
import typer

from domain.errors import TaizhangError
from projections.registry import ALL, REPORTS, Reports
from projections.runtime import LogWatcher
from replay.as_of import parse_instant, report
from replay.rebuild import REBUILD_PAGE_SIZE, rebuild
from taizhang.bootstrap import open_ledger
from taizhang.cli_common import DataDir, fail, settings_for
from taizhang.progress import progress

app = typer.Typer(help="Rebuild views from the log; reports as of a past instant.",
                  no_args_is_help=True)
project_app = typer.Typer(help="Run the projections (views built from the log).",
                          no_args_is_help=True)


@app.command("rebuild")
def rebuild_views(
    name: Annotated[str | None, typer.Argument(help=f"A view: {', '.join(ALL)}.")] = None,
    all_views: Annotated[bool, typer.Option("--all", help="Rebuild every view.")] = False,
    data_dir: DataDir = None,
    page_size: Annotated[int, typer.Option(min=1, max=100_000,
                                           help="Events per transaction.")] = REBUILD_PAGE_SIZE,
) -> None:
    """Drop views and build them again from the log; print events/s."""
    if (name is None) == (not all_views) or (name and all_views):
        fail("name one view or give --all", 2)
    if name is not None and name not in ALL:
        fail(f"no view named {name!r}; views: {', '.join(ALL)}", 2)
    settings = settings_for(data_dir)
    try:
        ledger = open_ledger(settings)
    except TaizhangError as exc:
        fail(exc.message)
    try:
        total = ledger.log_length()
        names = None if all_views else [name or ""]
        with progress("rebuild", total) as ticker:
            result = rebuild(ledger, names, progress=ticker.advance, page_size=page_size)
    except TaizhangError as exc:
        fail(exc.message)
    finally:
        ledger.close()
    typer.echo(
        f"rebuilt {', '.join(result.views)}: {result.events:,} events in {result.seconds:.1f}s "
        f"({result.rate:,.0f} events/s)"
    )


def _csv(name: str, answer: dict[str, Any]) -> str:
    """The report's main table as CSV: quota lines, SLA items, quality staff rows."""
    rows: list[dict[str, Any]]
    if name == "quota":
        rows = [{"period": answer["period"]["label"], **line} for line in answer["lines"]]
    elif name in ("sla", "access_log"):
        rows = answer["items"]
    else:
        rows = answer["staff"]
    out = io.StringIO()
    header = ["as_of", "log_position", *(rows[0].keys() if rows else [])]
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        flat = {k: ";".join(v) if isinstance(v, list) else v for k, v in row.items()}
        writer.writerow({"as_of": answer["as_of"], "log_position": answer["log_position"], **flat})
    return out.getvalue()


@app.command("as-of")
def as_of(
    instant: Annotated[str, typer.Argument(help="ISO 8601 with offset, or a date (its end).")],
    name: Annotated[str, typer.Argument(help=f"A report: {', '.join(REPORTS)}.")],
    output: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    period: Annotated[str | None, typer.Option(help="day|week|month|quarter|contract")] = None,
    day: Annotated[str | None, typer.Option(help="The period containing this day.")] = None,
    state: Annotated[str | None, typer.Option(help="sla: on_track|at_risk|breached|met")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="sla: items listed.")] = 50,
    data_dir: DataDir = None,
) -> None:
    """Print a report as the log stood at INSTANT, without changing any view."""
    if name not in REPORTS:
        fail(f"no report named {name!r}; reports: {', '.join(REPORTS)}", 2)
    if output not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    settings = settings_for(data_dir)
    try:
        moment = parse_instant(instant, "INSTANT")
        ledger = open_ledger(settings)
    except TaizhangError as exc:
        fail(exc.message)
    try:
        reports = Reports(ledger, setup=False)
        answer = report(reports, name, moment,
                        {"period": period, "day": day, "state": state, "limit": limit},
                        catch_up=False)
    except TaizhangError as exc:
        fail(exc.message)
    finally:
        ledger.close()
    if output == "csv":
        typer.echo(_csv(name, answer), nl=False)
    else:
        typer.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())


@app.command("access")
def access(
    subject: Annotated[str | None, typer.Option("--subject", help="A subject's id.")] = None,
    actor: Annotated[str | None, typer.Option("--actor", help="A user's id.")] = None,
    start: Annotated[str | None, typer.Option("--from", help="An instant or a date.")] = None,
    end: Annotated[str | None, typer.Option("--to", help="An instant or a date (its end).")
                   ] = None,
    purpose: Annotated[str, typer.Option(help="Why: stored in the access record.")
                       ] = "access log review",
    token: Annotated[str | None, typer.Option(
        envvar="TAIZHANG_TOKEN", help="Your bearer token [env TAIZHANG_TOKEN].")] = None,
    output: Annotated[str, typer.Option("--format", help="json or csv.")] = "json",
    data_dir: DataDir = None,
) -> None:
    """Print the access history of a subject or an actor (the read is recorded first)."""
    from replay.access_history import access_history

    if subject is None and actor is None:
        fail("give --subject or --actor (or both)", 2)
    if not token:
        fail("give your bearer token: --token or TAIZHANG_TOKEN", 2)
    if output not in ("json", "csv"):
        fail("--format must be json or csv", 2)
    settings = settings_for(data_dir)
    try:
        lo = parse_instant(start, "--from") if start else None
        hi = parse_instant(end, "--to") if end else None
        if lo is not None and start and len(start.strip()) == 10:  # a date: from its start
            lo = lo.replace(hour=0, minute=0, second=0, microsecond=0)
        ledger = open_ledger(settings)
    except TaizhangError as exc:
        fail(exc.message)
    try:
        reader = ledger.authenticate(token)
        answer = access_history(ledger, reader, subject_id=subject, actor=actor, start=lo,
                                end=hi, purpose=purpose)
    except TaizhangError as exc:
        fail(exc.message)
    finally:
        ledger.close()
    if output == "csv":
        typer.echo(_csv("access_log", {"as_of": None, "log_position": answer["access_position"],
                                       "items": answer["items"]}), nl=False)
    else:
        typer.echo(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())


@project_app.command("run")
def run(
    data_dir: DataDir = None,
    interval: Annotated[float, typer.Option(min=0.05, help="Seconds between polls.")] = 0.5,
    page_size: Annotated[int, typer.Option(min=1, max=100_000,
                                           help="Events per transaction.")] = 500,
    hold: Annotated[float, typer.Option(hidden=True, help="Seconds to wait inside each page "
                                                          "transaction (crash tests).")] = 0.0,
) -> None:
    """Follow the log with every view until interrupted (SIGINT / SIGTERM)."""
    settings = settings_for(data_dir)
    try:
        ledger = open_ledger(settings)
        reports = Reports(ledger, names=ALL, page_size=page_size)
    except TaizhangError as exc:
        fail(exc.message)
    follower = reports.follower
    follower.hold = hold
    stop = threading.Event()
    watcher = LogWatcher(ledger)
    wake = watcher.waiter()

    def interrupted(signum: int, frame: object) -> None:
        stop.set()
        wake.set()

    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, interrupted)
    watcher.start()
    how = "LISTEN/NOTIFY" if watcher.channel else "polling"
    typer.echo(f"following {', '.join(ALL)} on {settings.describe_database()} ({how})")
    try:
        while not stop.is_set():
            wake.clear()
            began = time.perf_counter()
            applied = follower.catch_up()
            if applied:
                seconds = time.perf_counter() - began
                typer.echo(f"applied {applied:,} events up to position {follower.position():,} "
                           f"({applied / seconds if seconds else 0:,.0f} events/s)")
            wake.wait(interval)
    except TaizhangError as exc:
        fail(exc.message)
    finally:
        watcher.stop()
        reports.close()
        ledger.close()
    typer.echo("stopped")
