"""Any report as the log stood at a past instant — the one code path for ``as_of``.

Definition (also in ``projections/clock.py``): **the log as of instant t** is its
longest prefix whose events were all created at or before t — positions
``1 .. P(t)``, where ``P(t)`` is the position before the first event whose
eventsourcing ``timestamp`` is later than t. Writers are serialised and an
event is committed after it is created, so nothing after ``P(t)`` can have
been in the log at t. A report as of t is computed from exactly those events,
and its time-dependent figures (SLA states of open items, plan to date, the
current period) are evaluated at t. The answer carries ``log_position`` =
``P(t)`` and ``final``: true once the log holds an event created after t, when
no later write can change the answer. Same t, same figures, byte for byte.

How: the report views keep their history by log position
(``projections/tally.py``), so the figures as of ``P`` are a read of the view
tables at the last page end ``B <= P`` plus the events ``(B, P]`` (at most one
page) folded in memory with the view's own code and laid over the read. The
live tables are only read, never changed; a store whose views were never built
is replayed from its first event in memory.

``GET /reports/*?as_of=`` and ``taizhang replay as-of`` both call
:func:`report`.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from datetime import date, datetime, time, timedelta
from typing import Any

from domain.calendar import SHANGHAI
from domain.errors import InvalidInputError
from projections.access_log import AccessLogView, access_log_report
from projections.base import ReportView, Snapshot
from projections.clock import position_at
from projections.contract import parse_day
from projections.database import ViewDatabase
from projections.quality import QualityView, quality_report
from projections.quota import QuotaView, quota_report
from projections.registry import Reports
from projections.runtime import ItemFold, Page, read_events
from projections.sla import SlaView, sla_report
from projections.tally import Overlay

_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(text: str, field: str = "as_of") -> datetime:
    """An ISO 8601 instant with its offset; a bare date means the end of that day (Beijing)."""
    text = text.strip()
    if _DATE.match(text):
        day = date.fromisoformat(text)
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=SHANGHAI) - timedelta(
            microseconds=1
        )
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInputError(
            field, f"{field} must be an ISO 8601 instant such as 2026-10-31T18:00:00+08:00"
        ) from None
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInputError(field, f"{field} needs a UTC offset, e.g. +08:00")
    return moment


def overlay_between(reports: Reports, view: ReportView, after: int, upto: int) -> Overlay:
    """The view's changes for events ``(after, upto]``, folded in memory (nothing written)."""
    overlay = Overlay()
    fold = ItemFold(reports.ledger, reports.timeline)
    position = after
    page_size = reports.follower.page_size
    pages = []
    while position < upto:
        events, end = read_events(reports.ledger, position, upto, page_size)
        pages.append(view.changes(Page(position, end, events, fold.fold(events))))
        position = end
    if after == 0:  # nothing in the tables at position 0
        view.derive(None, 0, pages)
    else:
        with reports.db.transaction(commit=False) as cur:
            view.derive(cur, after, pages)
    for changes in pages:
        overlay.add(changes)
    return overlay


def snapshot_at(
    reports: Reports, view: ReportView, position: int, at: datetime, *, final: bool,
    as_of: datetime | None,
) -> Snapshot:
    """The view as of log ``position``: tables at the last page end before it, plus the rest.

    The events up to ``position`` never change, so the overlay for a given
    ``(view, page end, position)`` is computed once and kept (a few dozen).
    """
    applied = reports.follower.positions()[view.name]
    upto = reports.follower.page_end_at_or_before(view.name, min(position, applied))
    key = (view.name, upto, position)
    overlay = _remembered(reports, "overlays", key)
    if overlay is None:
        overlay = overlay_between(reports, view, upto, position)
        _remember(reports, "overlays", key, overlay)
    db = reports.db
    if applied == 0:  # never built here: empty tables of its own, the whole log in the overlay
        db = ViewDatabase.scratch(":memory:")
        with db.transaction() as cur:
            view.create(cur)
    return Snapshot(db, position, upto, at, final, as_of, overlay)


REMEMBERED = 64


def _remembered(reports: Reports, kind: str, key: Any) -> Any:
    with reports.lock:
        return reports.memo.setdefault(kind, OrderedDict()).get(key)


def _remember(reports: Reports, kind: str, key: Any, value: Any) -> None:
    with reports.lock:
        found: OrderedDict[Any, Any] = reports.memo.setdefault(kind, OrderedDict())
        found[key] = value
        while len(found) > REMEMBERED:
            found.popitem(last=False)


def log_position_at(reports: Reports, moment: datetime) -> tuple[int, bool]:
    """``(P(t), final)``; a final answer never changes, so it is kept."""
    known = _remembered(reports, "positions", moment)
    if known is not None:
        return known, True
    clock = reports.follower.positions().get("clock", 0)
    position, final = position_at(reports.ledger, reports.db, clock, moment)
    if final:
        _remember(reports, "positions", moment, position)
    return position, final


def snapshot(
    reports: Reports, name: str, as_of: datetime | None, *, catch_up: bool = True
) -> Snapshot:
    """The snapshot a report reads: live (``as_of`` None) or as the log stood at ``as_of``."""
    view = reports.report_view(name)
    if catch_up:
        reports.follower.catch_up()
    if as_of is None:
        applied = reports.follower.positions()[view.name]
        if not catch_up:
            applied = reports.ledger.log_length()
            return snapshot_at(reports, view, applied, reports.ledger.now(), final=False,
                               as_of=None)
        return Snapshot(reports.db, applied, applied, reports.ledger.now(), False)
    position, final = log_position_at(reports, as_of)
    return snapshot_at(reports, view, position, as_of, final=final, as_of=as_of)


def report(
    reports: Reports,
    name: str,
    as_of: datetime | None = None,
    params: dict[str, Any] | None = None,
    *,
    catch_up: bool = True,
) -> dict[str, Any]:
    """One report (``quota``, ``sla``, ``quality``), live or as of an instant."""
    params = dict(params or {})
    snap = snapshot(reports, name, as_of, catch_up=catch_up)
    view = reports.report_view(name)
    calendar = reports.calendar_at(snap.position)
    contract = reports.contract_at(snap.position)
    if isinstance(view, QuotaView):
        return quota_report(snap, view, contract, calendar,
                            params.get("period") or "month", parse_day(params.get("day"), "day"))
    if isinstance(view, SlaView):
        return sla_report(
            snap, view, contract,
            state=params.get("state") or None,
            period=params.get("period") or "month",
            first=parse_day(params.get("from"), "from"),
            last=parse_day(params.get("to"), "to"),
            limit=int(params.get("limit") or 50),
            cursor=params.get("cursor") or None,
        )
    if isinstance(view, QualityView):
        return quality_report(snap, view, contract, calendar,
                              params.get("period") or "quarter",
                              parse_day(params.get("day"), "day"))
    if isinstance(view, AccessLogView):
        cursor = params.get("cursor")
        return access_log_report(
            snap, view,
            subject_id=params.get("subject_id") or None,
            actor=params.get("actor") or None,
            level=params.get("level") or None,
            outcome=params.get("outcome") or None,
            start=_bound(params.get("from"), "from", end=False),
            end=_bound(params.get("to"), "to", end=True),
            limit=int(params.get("limit") or 100),
            cursor=_position(cursor) if cursor else None,
        )
    raise KeyError(name)


def _bound(value: Any, field: str, *, end: bool) -> datetime | None:
    """An instant for a time filter; a bare date is its start (``from``) or its end (``to``)."""
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value
    text = str(value)
    if _DATE.match(text.strip()) and not end:
        return datetime.combine(date.fromisoformat(text.strip()), time(0), tzinfo=SHANGHAI)
    return parse_instant(text, field)


def _position(cursor: str) -> int:
    if not cursor.isdigit():
        raise InvalidInputError("cursor", "cursor is not one this service returned")
    return int(cursor)
