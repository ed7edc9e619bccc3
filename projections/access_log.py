"""The access-log view (保密): every recorded read of medium or high information.

Built from ``domain.access_record:AccessRecord.Recorded`` (one event per
attempt, granted or refused) and ``domain.access_review:AccessReviewLog.Reviewed``.

Per record: actor, role, target, subject, field names (never values),
purpose, level, grant, item, request id, client, outcome and reason, and two
flags fixed when it is recorded:

* ``out_of_hours`` — outside service hours (09:00–17:00 on working days);
* ``outside_assigned_work`` — a granted read of a subject that did not rest on
  the reader's own assigned work (the gate's basis was not ``assignee`` or
  ``team``: a grant, or the project lead's standing).

And two computed over each actor's local clock hour, from counters:

* ``bulk`` — more than :data:`BULK_SUBJECTS` distinct subjects read in one hour;
* ``repeated_refusals`` — at least :data:`REFUSALS` refused attempts in one hour.

Both are kept as they happen (:meth:`AccessLogView.derive`): the distinct
subjects of each actor-hour and a flag row when an actor-hour crosses a
threshold, so a report reads the few flagged actor-hours, never every read of
the log (a full read cost seconds on a 200,000-record log).

Review status: per level, the last review, the next due date and whether it is
overdue at the evaluation instant (``domain.access_review``: weekly for high,
every two weeks for medium, monthly for low, from when the log began until the
first review).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, time
from typing import Any

import orjson

from domain.access_review import review_status
from domain.calendar import SHANGHAI, WorkingCalendar
from domain.errors import CalendarYearUnknownError, InvalidInputError
from projections.base import ReportView, Snapshot, local_day
from projections.database import ViewCursor
from projections.facts import from_us, to_us
from projections.runtime import Recorded
from projections.tally import Changes, History, Key, Range, Tally
from projections.timeline import Timeline

RECORDS = "access_records"
REVIEWS = "access_reviews"
META = "access_meta"
COUNTS = "access_counts"
READS = "access_reads"  # (hour, actor, subject): granted reads
REFUSED = "access_refused"  # (hour, actor): refusals per actor-hour
SUBJECTS = "access_subjects"  # (hour, actor): distinct subjects read (derived from READS)
FLAGS = "access_flags"  # (hour, actor, kind): 1 once the actor-hour crossed a threshold
BULK, REPEATED = "bulk", "repeated_refusals"
BULK_SUBJECTS = 20
REFUSALS = 3
RECORD_TOPIC = "AccessRecord.Recorded"
REVIEW_TOPIC = "AccessReviewLog.Reviewed"
LEVELS = ("high", "medium", "low")
CADENCE = {"high": "weekly", "medium": "every two weeks", "low": "monthly"}
COLUMNS = (
    "position", "at_us", "actor", "role", "target", "target_id", "subject_id", "fields",
    "purpose", "level", "grant_id", "item_id", "request_id", "client", "outcome", "reason",
    "hour", "out_of_hours", "outside_work",
)
COLUMN_TYPES = {"position": "BIGINT", "at_us": "BIGINT", "out_of_hours": "INTEGER",
                "outside_work": "INTEGER"}
MAX_LIMIT = 1000
NARROW = 30_000  # a time window with up to this many records is read whole, then sorted


def outside_service_hours(calendar: WorkingCalendar, at: datetime) -> bool:
    """Outside 09:00-17:00 on a working day of the calendar recorded by then.

    In a year no recorded schedule covers, Monday to Friday count as working
    days: an access is never left unflagged for want of a calendar, and the
    view never stops on it.
    """
    try:
        return calendar.next_opening(at) != at
    except CalendarYearUnknownError:
        local = at.astimezone(SHANGHAI)
        return local.weekday() >= 5 or not time(9) <= local.time() <= time(17)


def local_hour(us: int) -> str:
    moment = from_us(us)
    assert moment is not None
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H")


class AccessLogView(ReportView):
    name = "access_log"
    version = 2  # 2: distinct subjects and threshold flags per actor-hour (derive)

    def __init__(self, timeline: Timeline) -> None:
        super().__init__()
        self.timeline = timeline

    def make_tallies(self) -> Iterable[Tally]:
        return [
            Tally(COUNTS, ("day", "level", "outcome"), ("n",)),
            Tally(READS, ("hour", "actor", "subject_id"), ("n",), index=("hour", "actor")),
            Tally(REFUSED, ("hour", "actor"), ("n",), index=("hour", "actor")),
            Tally(SUBJECTS, ("hour", "actor"), ("n",), index=("hour", "actor")),
            # n: 1 once flagged; count: the subjects or refusals of the hour, kept from then on
            Tally(FLAGS, ("hour", "actor", "kind"), ("n", "count")),
        ]

    def make_histories(self) -> Iterable[History]:
        return [
            # Newest first, by any one filter, stopping after a page: one index per filter.
            History(RECORDS, "record_id", COLUMNS, COLUMN_TYPES,
                    indexes=[("position",), ("at_us",), ("subject_id", "position"),
                             ("actor", "position"), ("level", "position"),
                             ("outcome", "position")]),
            History(REVIEWS, "review_id",
                    ("level", "period_start_us", "period_end_us", "recorded_at_us", "by_id"),
                    {"period_start_us": "BIGINT", "period_end_us": "BIGINT",
                     "recorded_at_us": "BIGINT"}),
            History(META, "name", ("value",), {"value": "BIGINT"}),
        ]

    def other_event(self, changes: Changes, recorded: Recorded) -> None:
        event = recorded.event
        topic = type(event).__qualname__
        if recorded.position == 1:  # when the log began: the review cadence's first start
            began = getattr(event, "at", None)
            began = began if isinstance(began, datetime) else event.timestamp
            changes.put(META, "log_began", recorded.position, (to_us(began),), fresh=True)
        if topic == RECORD_TOPIC:
            self._record(changes, recorded)
        elif topic == REVIEW_TOPIC:
            changes.put(REVIEWS, event.review_id, recorded.position, (
                event.level, to_us(event.period_start), to_us(event.period_end),
                to_us(event.at), event.by,
            ), fresh=True)

    def derive(self, cur: ViewCursor | None, upto: int, changes: Sequence[Changes]) -> None:
        """Distinct subjects per actor-hour, and the threshold crossings that flag one.

        A page knows which subjects it saw read, not whether they were read
        earlier in the same hour; the counters as of ``upto`` tell. Reports
        then read the few flagged actor-hours instead of every read.
        """
        reads = {k: v[0] for c in changes for k, v in c.tallies.get(READS, {}).items() if v[0]}
        refused = {k: v[0] for c in changes for k, v in c.tallies.get(REFUSED, {}).items() if v[0]}
        if not reads and not refused:
            return
        pairs = {(h, a) for h, a, _ in reads} | set(refused)
        where = {"hour": sorted({h for h, _ in pairs}), "actor": sorted({a for _, a in pairs})}
        known_reads = self._known(cur, READS, upto, ("hour", "actor", "subject_id"), where)
        known_subjects = self._known(cur, SUBJECTS, upto, ("hour", "actor"), where)
        known_refused = self._known(cur, REFUSED, upto, ("hour", "actor"), where)
        for page in changes:
            for key, (n,) in sorted(page.tallies.get(READS, {}).items()):
                before = known_reads.get(key, 0)
                known_reads[key] = before + n
                if before <= 0 < before + n:
                    pair = key[:2]
                    subjects = known_subjects.get(pair, 0)
                    known_subjects[pair] = subjects + 1
                    page.count(SUBJECTS, pair, (1,))
                    if subjects == BULK_SUBJECTS:  # the (BULK_SUBJECTS + 1)th subject
                        page.count(FLAGS, (*pair, BULK), (1, subjects + 1))
                    elif subjects > BULK_SUBJECTS:
                        page.count(FLAGS, (*pair, BULK), (0, 1))
            for pair, (n,) in sorted(page.tallies.get(REFUSED, {}).items()):
                before = known_refused.get(pair, 0)
                known_refused[pair] = before + n
                if before < REFUSALS <= before + n:
                    page.count(FLAGS, (*pair, REPEATED), (1, before + n))
                elif before >= REFUSALS:
                    page.count(FLAGS, (*pair, REPEATED), (0, n))

    def _known(self, cur: ViewCursor | None, name: str, upto: int, group: tuple[str, ...],
               where: dict[str, Any]) -> dict[Key, int]:
        if cur is None or upto <= 0:
            return {}
        return {k: v[0] for k, v in self.tallies[name].read(cur, upto, group, where).items()}

    def _record(self, changes: Changes, recorded: Recorded) -> None:
        event = recorded.event
        at_us = to_us(event.at) or 0
        hour = local_hour(at_us)
        out_of_hours = outside_service_hours(self.timeline.calendar_at(recorded.position),
                                             event.at)
        granted = event.outcome == "granted"
        outside_work = granted and event.target == "subject" and event.reason not in (
            "assignee", "team")
        changes.put(RECORDS, str(event.originator_id), recorded.position, (
            recorded.position, at_us, event.actor, event.role, event.target, event.target_id,
            event.subject_id, orjson.dumps(list(event.fields)).decode(), event.purpose,
            event.level, event.grant_id, event.item_id, event.request_id, event.client,
            event.outcome, event.reason, hour, int(out_of_hours), int(outside_work),
        ), fresh=True)
        changes.count(COUNTS, (local_day(at_us), event.level, event.outcome), (1,))
        if granted and event.subject_id:
            changes.count(READS, (hour, event.actor, event.subject_id), (1,))
        if not granted:
            changes.count(REFUSED, (hour, event.actor), (1,))


# -- the report ---------------------------------------------------------------------------------
def _iso(us: int | None) -> str | None:
    moment = from_us(us)
    return moment.astimezone(SHANGHAI).isoformat() if moment is not None else None


def access_log_report(
    snap: Snapshot,
    view: AccessLogView,
    *,
    subject_id: str | None = None,
    actor: str | None = None,
    level: str | None = None,
    outcome: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int = 100,
    cursor: int | None = None,
) -> dict[str, Any]:
    """Records (newest first, filtered), counts, anomaly flags and the review schedule."""
    if level is not None and level not in LEVELS:
        raise InvalidInputError("level", f"level must be one of: {', '.join(LEVELS)}")
    if outcome is not None and outcome not in ("granted", "refused"):
        raise InvalidInputError("outcome", "outcome must be granted or refused")
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInputError("limit", f"limit must be between 1 and {MAX_LIMIT}")
    lo, hi = to_us(start), to_us(end)
    hours = Range(local_hour(lo) if lo is not None else None,
                  local_hour(hi) if hi is not None else None)
    days = Range(local_day(lo) if lo is not None else None,
                 local_day(hi) if hi is not None else None)

    def wanted(values: dict[str, Any]) -> bool:
        return ((subject_id is None or values["subject_id"] == subject_id)
                and (actor is None or values["actor"] == actor)
                and (level is None or values["level"] == level)
                and (outcome is None or values["outcome"] == outcome)
                and (lo is None or values["at_us"] >= lo)
                and (hi is None or values["at_us"] <= hi)
                and (cursor is None or values["position"] < cursor))

    conditions, params = [], []
    for column, value in (("subject_id", subject_id), ("actor", actor), ("level", level),
                          ("outcome", outcome)):
        if value is not None:
            conditions.append(f"{column} = ?")
            params.append(value)
    if lo is not None:
        conditions.append("at_us >= ?")
        params.append(lo)
    if hi is not None:
        conditions.append("at_us <= ?")
        params.append(hi)
    if cursor is not None:
        conditions.append("position < ?")
        params.append(cursor)
    where = " AND ".join(conditions) or "1 = 1"
    overlay = snap.overlay.table(RECORDS)
    t = view.tallies
    window = {"hour": hours} if lo or hi else None
    with snap.db.transaction(commit=False) as cur:
        counts = snap.tally(cur, t[COUNTS], ("level", "outcome"),
                            {"day": days} if lo or hi else None)
        in_window = sum(n for (n,) in counts.values())
        rows = _records(cur, view.histories[RECORDS], snap.upto, where, params,
                        limit + 1 + len(overlay),
                        narrow=(lo is not None or hi is not None) and in_window <= NARROW)
        found = [(r["record_id"], r) for r in rows if r["record_id"] not in overlay]
        for key, values in overlay.items():
            if values is not None:
                found.append((key, dict(zip(COLUMNS, values, strict=True))))
        found = [(k, v) for k, v in found if wanted(v)]
        found.sort(key=lambda kv: kv[1]["position"], reverse=True)
        more = len(found) > limit
        found = found[:limit]
        shown = {"hour": sorted({v["hour"] for _, v in found}),
                 "actor": sorted({v["actor"] for _, v in found})}
        flagged = snap.tally(cur, t[FLAGS], ("hour", "actor", "kind"), window)
        flags_shown = snap.tally(cur, t[FLAGS], ("hour", "actor", "kind"), shown)
        reviews = _current(cur, view.histories[REVIEWS], snap.upto)
        meta = _current(cur, view.histories[META], snap.upto)
    for key, values in snap.overlay.table(REVIEWS).items():
        if values is not None:
            reviews[key] = values
    for key, values in snap.overlay.table(META).items():
        if values is not None:
            meta[key] = values
    bulk = {(h, a): v[1] for (h, a, kind), v in flagged.items() if kind == BULK and v[0]}
    refusing = {(h, a): v[1] for (h, a, kind), v in flagged.items() if kind == REPEATED and v[0]}
    marked = {key for key, v in flags_shown.items() if v[0]}
    items = []
    for key, values in found:
        flags = []
        if values["out_of_hours"]:
            flags.append("out_of_hours")
        if values["outside_work"]:
            flags.append("outside_assigned_work")
        if (values["hour"], values["actor"], BULK) in marked:
            flags.append("bulk")
        if (values["hour"], values["actor"], REPEATED) in marked:
            flags.append("repeated_refusals")
        items.append({
            "id": key, "position": values["position"], "at": _iso(values["at_us"]),
            **{c: values[c] for c in ("actor", "role", "target", "target_id", "subject_id",
                                      "purpose", "level", "grant_id", "item_id",
                                      "request_id", "client", "outcome", "reason")},
            "fields": orjson.loads(values["fields"]),
            "flags": flags,
        })
    return {
        **snap.header(),
        "filters": {"subject_id": subject_id, "actor": actor, "level": level,
                    "outcome": outcome, "from": _iso(lo), "to": _iso(hi)},
        "thresholds": {"bulk_subjects_per_hour": BULK_SUBJECTS,
                       "refusals_per_hour": REFUSALS},
        "items": items,
        "next_cursor": str(found[-1][1]["position"]) if more and found else None,
        "counts": {
            f"{lvl}_{out}": counts.get((lvl, out), [0])[0]
            for lvl in LEVELS for out in ("granted", "refused")
        },
        "anomalies": {
            "bulk_readers": [{"hour": h, "actor": a, "subjects": n}
                             for (h, a), n in sorted(bulk.items())],
            "repeated_refusals": [{"hour": h, "actor": a, "refusals": n}
                                  for (h, a), n in sorted(refusing.items())],
        },
        "reviews": _reviews(reviews, meta, snap),
    }


def _records(cur: Any, history: History, upto: int, where: str, params: list[Any],
             limit: int, *, narrow: bool) -> list[dict[str, Any]]:
    """Newest first. In a ``narrow`` time window (few records, by the day counters), the
    window's records sorted (the ``at_us`` index); else the position index walked from the
    end until the page is full."""
    columns = ", ".join(("record_id", *COLUMNS))
    order = "position + 0" if narrow else "position"  # + 0: not by the position index
    # A record's row is made current by its own event: valid_from = position, so an
    # as-of read seeks the position index at ``upto`` instead of walking past later rows.
    cur.execute(
        f"SELECT {columns} FROM {{schema}}{RECORDS} WHERE position <= ? AND valid_from <= ? "
        f"AND {where} ORDER BY {order} DESC LIMIT ?",
        [upto, upto, *params, limit],
    )
    return list(cur.fetchall())


def _current(cur: Any, history: History, upto: int) -> dict[str, tuple[Any, ...]]:
    columns = ", ".join((history.key, *history.columns))
    cur.execute(
        f"SELECT {columns} FROM {{schema}}{history.table} WHERE valid_from <= ?", [upto]
    )
    return {str(r[history.key]): tuple(r[c] for c in history.columns) for r in cur.fetchall()}


def _reviews(reviews: dict[str, tuple[Any, ...]], meta: dict[str, tuple[Any, ...]],
             snap: Snapshot) -> list[dict[str, Any]]:
    began = from_us(meta["log_began"][0]) if "log_began" in meta else snap.at
    assert began is not None
    found = []
    for level in LEVELS:
        mine = [(k, v) for k, v in reviews.items() if v[0] == level]
        last = max(mine, key=lambda kv: (kv[1][2], kv[0])) if mine else None
        last_review = None
        if last is not None:
            last_review = {"id": last[0], "period_start": from_us(last[1][1]),
                           "period_end": from_us(last[1][2]), "recorded_at": from_us(last[1][3]),
                           "by": last[1][4]}
        status = review_status(level, last_review, began, snap.at)
        shown = None
        if last_review is not None:
            shown = {k: (v.astimezone(SHANGHAI).isoformat() if isinstance(v, datetime) else v)
                     for k, v in last_review.items()}
        found.append({"level": level, "cadence": CADENCE[level], "last_review": shown,
                      "next_due": status.next_due.astimezone(SHANGHAI).isoformat(),
                      "overdue": status.overdue})
    return found
