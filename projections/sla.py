"""The SLA view (时限): every ticket and case with its due times, and on-time rates.

Per item (``sla_items``, with history): the overall due time in working time,
the :class:`~domain.sla.SlaWatch` that tells its state at any instant without
a calendar (``on_track`` / ``at_risk`` / ``breached``, or ``met``), first
response, resolution, the working time its clock was paused, and for done
items the working time it took and how late it was.

On-time rates: done items by the day they were done and outcome (``met`` when
every time limit was kept, else ``breached``), with their working time taken
and overdue — by kind (``sla_daily``), business type (``sla_types``), ticket
urgency (``sla_urgency``) and staff member (``sla_staff``); urgent tickets'
first responses separately (``sla_first_response``).
"""

from __future__ import annotations

import base64
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

import orjson

from domain.calendar import SHANGHAI
from domain.errors import InvalidInputError
from projections.base import Contribution, ReportView, Snapshot, local_day
from projections.contract import Contract
from projections.database import ViewCursor
from projections.facts import ItemFacts, from_us, state_at
from projections.runtime import ItemChange
from projections.tally import Changes, History, Range, Tally

ITEMS = "sla_items"
DAILY = "sla_daily"
TYPES = "sla_types"
URGENCY = "sla_urgency"
STAFF = "sla_staff"
FIRST_RESPONSE = "sla_first_response"
TIMED = ("n", "late_s", "handling_s")
STATES = ("on_track", "at_risk", "breached", "met")
COLUMNS = (
    "kind", "number", "status", "staff", "business_type", "urgency", "received_us", "due_us",
    "done_us", "first_response_us", "fixed_state", "watch_due_us", "watch_risk_us", "open",
    "paused_s", "paused_since_us", "handling_s", "late_s", "first_response_state",
)
COLUMN_TYPES = {c: "BIGINT" for c in COLUMNS if c.endswith("_us")} | {
    "open": "INTEGER", "paused_s": "BIGINT", "handling_s": "BIGINT", "late_s": "BIGINT",
}
STATE_SQL = (
    "(CASE WHEN fixed_state IS NOT NULL THEN fixed_state "
    "WHEN watch_due_us IS NOT NULL AND ? > watch_due_us THEN 'breached' "
    "WHEN watch_risk_us IS NOT NULL AND ? > watch_risk_us THEN 'at_risk' ELSE 'on_track' END)"
)
MAX_LIMIT = 500


class SlaView(ReportView):
    name = "sla"

    def make_tallies(self) -> Iterable[Tally]:
        # One narrow tally per breakdown: each report reads a few thousand rows at most.
        return [
            Tally(DAILY, ("day", "kind", "outcome"), TIMED),
            Tally(TYPES, ("day", "kind", "business_type", "outcome"), TIMED),
            Tally(URGENCY, ("day", "urgency", "outcome"), TIMED),
            Tally(STAFF, ("day", "kind", "staff", "outcome"), TIMED),
            Tally(FIRST_RESPONSE, ("day", "outcome"), ("n",)),
        ]

    def make_histories(self) -> Iterable[History]:
        return [
            History(ITEMS, "item_id", COLUMNS, COLUMN_TYPES, indexes=[
                ("received_us", "item_id"), (("received_us", "item_id"), "open = 1"),
                ("fixed_state", "received_us"),
            ])
        ]

    def contributions(self, facts: ItemFacts) -> Iterable[Contribution]:
        found: list[Contribution] = []
        if facts.done_us is not None and facts.fixed_state is not None:
            day, outcome = local_day(facts.done_us), facts.fixed_state
            values = (1, facts.late_s or 0, facts.handling_s or 0)
            found.append((DAILY, (day, facts.kind, outcome), values))
            found.append((TYPES, (day, facts.kind, facts.business_type, outcome), values))
            if facts.kind == "ticket":
                found.append((URGENCY, (day, facts.urgency, outcome), values))
            found.append((STAFF, (day, facts.kind, facts.staff, outcome), values))
        if facts.first_response_state is not None and facts.first_response_us is not None:
            key = (local_day(facts.first_response_us), facts.first_response_state)
            found.append((FIRST_RESPONSE, key, (1,)))
        return found

    def item_rows(self, changes: Changes, change: ItemChange) -> None:
        changes.put(ITEMS, change.after.item_id, change.position, row(change.after),
                    fresh=change.before is None)


def row(f: ItemFacts) -> tuple[Any, ...]:
    return (
        f.kind, f.number, f.status, f.staff, f.business_type, f.urgency, f.received_us, f.due_us,
        f.done_us, f.first_response_us, f.fixed_state, f.watch_due_us, f.watch_risk_us,
        0 if f.is_done else 1, f.paused_s, f.paused_since_us, f.handling_s, f.late_s,
        f.first_response_state,
    )


# -- reading ---------------------------------------------------------------------------------
def _iso(us: int | None) -> str | None:
    moment = from_us(us)
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


def _present(item_id: str, values: dict[str, Any], now_us: int) -> dict[str, Any]:
    return {
        "id": item_id,
        "kind": values["kind"],
        "number": values["number"],
        "status": values["status"],
        "staff_id": values["staff"] or None,
        "business_type": values["business_type"] or None,
        "urgency": values["urgency"] or None,
        "received_at": _iso(values["received_us"]),
        "due_at": _iso(values["due_us"]),
        "first_response_at": _iso(values["first_response_us"]),
        "done_at": _iso(values["done_us"]),
        "paused_working_seconds": values["paused_s"],
        "paused_since": _iso(values["paused_since_us"]),
        "handling_working_seconds": values["handling_s"],
        "late_working_seconds": values["late_s"],
        "first_response_state": values["first_response_state"],
        "state": state_at(values["fixed_state"], values["watch_due_us"], values["watch_risk_us"],
                          now_us),
    }


def _state_condition(state: str | None) -> tuple[str, int]:
    """SQL for a state filter, and how many times it takes the instant as a parameter."""
    if state is None:
        return "1 = 1", 0
    if state == "met":
        return "fixed_state = 'met'", 0
    if state == "breached":
        return f"(fixed_state = 'breached' OR (open = 1 AND {STATE_SQL} = 'breached'))", 2
    return f"(open = 1 AND {STATE_SQL} = ?)", 2


def _matches(values: dict[str, Any], state: str | None, now_us: int) -> bool:
    if state is None:
        return True
    current = state_at(values["fixed_state"], values["watch_due_us"], values["watch_risk_us"],
                       now_us)
    if state in ("met", "breached"):
        return current == state
    return bool(values["open"]) and current == state


def encode_cursor(received_us: int, item_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([received_us, item_id])).decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        received_us, item_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return int(received_us), str(item_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInputError("cursor", "cursor is not one this service returned") from None


class _Items:
    """Reads ``sla_items`` as of a snapshot, overlay included.

    Rows current at ``upto`` are the current rows made current at or before it
    plus the history rows retired after it; both are read with the same
    condition, order and limit, and merged here.
    """

    def __init__(self, snap: Snapshot, history: History, cur: ViewCursor) -> None:
        self.snap = snap
        self.history = history
        self.cur = cur
        self.overlay = snap.overlay.table(ITEMS)

    def _select(self, condition: str, params: Sequence[Any], order: str = "",
                limit: int | None = None) -> list[dict[str, Any]]:
        columns = ", ".join(("item_id", *COLUMNS))
        tail = f" ORDER BY {order}" if order else ""
        tail_params: list[Any] = []
        if limit is not None:
            tail += " LIMIT ?"
            tail_params.append(limit)
        upto = self.snap.upto
        found: list[dict[str, Any]] = []
        self.cur.execute(
            f"SELECT {columns} FROM {{schema}}{ITEMS} WHERE valid_from <= ? AND {condition}{tail}",
            [upto, *params, *tail_params],
        )
        found.extend(self.cur.fetchall())
        self.cur.execute(
            f"SELECT {columns} FROM {{schema}}{ITEMS}_history "
            f"WHERE valid_to > ? AND valid_from <= ? AND {condition}{tail}",
            [upto, upto, *params, *tail_params],
        )
        found.extend(self.cur.fetchall())
        return [r for r in found if r["item_id"] not in self.overlay]

    def _overlaid(self) -> list[tuple[str, dict[str, Any]]]:
        return [(k, dict(zip(COLUMNS, v, strict=True))) for k, v in self.overlay.items()
                if v is not None]

    def open_counts(self) -> dict[str, int]:
        now = self.snap.at_us
        counts: dict[str, int] = defaultdict(int)
        found = [(r["item_id"], r) for r in self._select("open = 1", [])]
        for _, values in [*found, *self._overlaid()]:
            if values["open"]:
                counts[state_at(values["fixed_state"], values["watch_due_us"],
                                values["watch_risk_us"], now)] += 1
        return {s: counts.get(s, 0) for s in ("on_track", "at_risk", "breached")}

    def page(self, state: str | None, limit: int, cursor: str | None
             ) -> tuple[list[dict[str, Any]], str | None]:
        now = self.snap.at_us
        condition, uses = _state_condition(state)
        params: list[Any] = [now] * uses
        if state in ("on_track", "at_risk"):
            params.append(state)
        after: tuple[int, str] | None = decode_cursor(cursor) if cursor else None
        if after is not None:
            condition += " AND (received_us < ? OR (received_us = ? AND item_id < ?))"
            params.extend([after[0], after[0], after[1]])
        wanted = limit + 1 + len(self.overlay)
        rows = self._select(condition, params, "received_us DESC, item_id DESC", wanted)
        found: list[tuple[str, dict[str, Any]]] = [(r["item_id"], r) for r in rows]
        for key, values in self._overlaid():
            if not _matches(values, state, now):
                continue
            if after is not None and (values["received_us"], key) >= after:
                continue
            found.append((key, values))
        found.sort(key=lambda kv: (kv[1]["received_us"], kv[0]), reverse=True)
        more = len(found) > limit
        found = found[:limit]
        items = [_present(key, values, now) for key, values in found]
        next_cursor = (encode_cursor(found[-1][1]["received_us"], found[-1][0])
                       if more and found else None)
        return items, next_cursor


def _rate(n: int, met: int) -> dict[str, Any]:
    return {"done": n, "on_time": met, "breached": n - met,
            "on_time_rate": round(met / n, 4) if n else None}


def sla_report(
    snap: Snapshot,
    view: SlaView,
    contract: Contract,
    *,
    state: str | None = None,
    period: str = "month",
    first: date | None = None,
    last: date | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> dict[str, Any]:
    """Items (filtered by state at the evaluation instant), counts by state, on-time rates."""
    if state is not None and state not in STATES:
        raise InvalidInputError("state", f"state must be one of: {', '.join(STATES)}")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    contract.period(period, contract.start)  # validates the period kind
    where: dict[str, Any] = {}
    if first is not None or last is not None:
        where["day"] = Range(first.isoformat() if first else None,
                             last.isoformat() if last else None)
    t = view.tallies
    with snap.db.transaction(commit=False) as cur:
        reader = _Items(snap, view.histories[ITEMS], cur)
        open_counts = reader.open_counts()
        items, next_cursor = reader.page(state, limit, cursor)
        daily = snap.tally(cur, t[DAILY], ("day", "kind", "outcome"))
        by_type = snap.tally(cur, t[TYPES], ("kind", "business_type", "outcome"), where)
        by_urgency = snap.tally(cur, t[URGENCY], ("urgency", "outcome"), where)
        by_staff = snap.tally(cur, t[STAFF], ("kind", "staff", "outcome"), where)
        first_response = snap.tally(cur, t[FIRST_RESPONSE], ("outcome",), where)
    window = where.get("day")
    by_day: dict[tuple[str, ...], list[int]] = {}
    by_kind: dict[tuple[str, ...], list[int]] = {}
    done_all: dict[tuple[str, ...], list[int]] = {}
    for (day, kind, outcome), values in daily.items():
        _add(done_all, (outcome,), values)
        if window is None or window.holds(day):
            _add(by_day, (day, outcome), values)
            _add(by_kind, (kind, outcome), values)
    return {
        **snap.header(),
        "state": state,
        "counts": {
            "open": open_counts,
            "done": {"met": done_all.get(("met",), [0])[0],
                     "breached": done_all.get(("breached",), [0])[0]},
        },
        "items": items,
        "next_cursor": next_cursor,
        "on_time": {
            "window": {"first": first.isoformat() if first else None,
                       "last": last.isoformat() if last else None},
            "overall": _grouped_rates(by_day, 0, timed=True)[()],
            "by_kind": [
                {"kind": k[0], **rate}
                for k, rate in sorted(_grouped_rates(by_kind, 1, timed=True).items())
            ],
            "by_period": [
                {"period": label[0], **rate}
                for label, rate in _period_rates(by_day, contract, period).items()
            ],
            "by_business_type": [
                {"kind": k[0], "business_type": k[1] or None, **rate}
                for k, rate in sorted(_grouped_rates(by_type, 2, timed=True).items())
            ],
            "by_urgency": [
                {"urgency": k[0] or None, **rate}
                for k, rate in sorted(_grouped_rates(by_urgency, 1, timed=True).items())
            ],
            "by_staff": [
                {"kind": k[0], "staff_id": k[1] or None, **rate}
                for k, rate in sorted(_grouped_rates(by_staff, 2, timed=True).items())
            ],
            "first_response": _grouped_rates(first_response, 0, timed=False)[()],
        },
    }


def _add(target: dict[tuple[str, ...], list[int]], key: tuple[str, ...], values: list[int]
         ) -> None:
    entry = target.setdefault(key, [0] * len(values))
    for i, value in enumerate(values):
        entry[i] += value


def _grouped_rates(rows: dict[tuple[str, ...], list[int]], width: int, *, timed: bool
                   ) -> dict[tuple[str, ...], dict[str, Any]]:
    """Rows keyed ``(*group, outcome)`` → on-time rate per group (group = first ``width``).

    ``timed`` rows also carry late and handling working seconds (``sla_done``).
    """
    totals: dict[tuple[str, ...], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    if width == 0:
        totals[()] = [0, 0, 0, 0]
    for key, values in rows.items():
        group, outcome = key[:width], key[-1]
        entry = totals[group]
        entry[0] += values[0]
        if outcome == "met":
            entry[1] += values[0]
        if timed:
            entry[2] += values[1]
            entry[3] += values[2]
    found = {}
    for group, (n, met, late, handling) in totals.items():
        rate = _rate(n, met)
        if timed:
            rate["mean_late_working_seconds"] = round(late / (n - met), 1) if n - met else None
            rate["mean_handling_working_seconds"] = round(handling / n, 1) if n else None
        found[group] = rate
    return found


def _period_rates(by_day: dict[tuple[str, ...], list[int]], contract: Contract, kind: str
                  ) -> dict[str, dict[str, Any]]:
    labels: dict[str, str] = {}
    grouped: dict[tuple[str, ...], list[int]] = {}
    for (day, outcome), values in by_day.items():
        label = labels.get(day)
        if label is None:
            label = labels[day] = contract.period(kind, date.fromisoformat(day)).label
        key = (label, outcome)
        entry = grouped.setdefault(key, [0, 0, 0])
        for i, v in enumerate(values):
            entry[i] += v
    return dict(sorted(_grouped_rates(grouped, 1, timed=True).items()))
