"""The log's clock: which log position stood at which instant (``as of`` is defined here).

Each event carries the ``timestamp`` eventsourcing gave it when it was
created, just before it was saved. Writers are serialised (a table lock or an
advisory lock orders commits by position), and an event cannot be committed
before it was created, so:

    **The log as of instant t** is its longest prefix in which every event was
    created at or before t: ``P(t) = (position of the first event whose
    timestamp is later than t) − 1``, or the whole log when there is none yet.

``P(t)`` never changes once the log holds an event created after t (the answer
is then *final*); before that, a write in flight at t may still join the
prefix, which is why a report as of "just now" says ``final: false``.

The view keeps, per page, the running maximum of the timestamps up to the
page's end; the first page whose maximum passes t holds the boundary, and the
events of that one page are read to find it exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from domain.ledger import Ledger
from projections.database import ViewCursor, ViewDatabase
from projections.facts import to_us
from projections.runtime import Follower, Page, read_events


def event_us(event: object) -> int:
    """When the event was created (eventsourcing's ``timestamp``), in µs; 0 if it has none."""
    stamp = getattr(event, "timestamp", None)
    if not isinstance(stamp, datetime):
        return 0
    return to_us(stamp) or 0


class LogClock:
    """Running maximum of event timestamps per page end."""

    name = "clock"

    def __init__(self) -> None:
        self._last: tuple[int, int] | None = None  # (page end, running max) last written

    def create(self, cur: ViewCursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS {schema}view_clock ("
            "end_position BIGINT PRIMARY KEY, max_us BIGINT NOT NULL)"
        )
        cur.execute("CREATE INDEX IF NOT EXISTS view_clock_max ON {schema}view_clock (max_us)")

    @staticmethod
    def tables() -> list[str]:
        return ["view_clock"]

    def drop(self, cur: ViewCursor) -> None:
        cur.execute("DROP TABLE IF EXISTS {schema}view_clock")
        self._last = None

    def reset_cache(self) -> None:
        self._last = None

    def apply(self, cur: ViewCursor, page: Page) -> None:
        self.apply_batch(cur, [page])

    def apply_batch(self, cur: ViewCursor, pages: Sequence[Page]) -> None:
        start = pages[0].start
        if self._last is not None and self._last[0] == start:
            running = self._last[1]
        else:
            cur.execute("SELECT max_us FROM {schema}view_clock WHERE end_position = ?", (start,))
            row = cur.fetchone()
            running = int(row["max_us"]) if row else 0
        rows = []
        for page in pages:
            for recorded in page.events:
                stamp = event_us(recorded.event)
                if stamp > running:
                    running = stamp
            rows.append((page.end, running))
        cur.executemany(
            "INSERT INTO {schema}view_clock (end_position, max_us) VALUES (?, ?)", rows
        )
        self._last = (pages[-1].end, running)

    def logical(self, cur: ViewCursor) -> dict[str, object]:
        cur.execute("SELECT MAX(max_us) AS m FROM {schema}view_clock")
        row = cur.fetchone()
        return {"max_us": int(row["m"]) if row and row["m"] is not None else 0}


def position_at(
    ledger: Ledger, db: ViewDatabase | None, clock_position: int, instant: datetime
) -> tuple[int, bool]:
    """``(P(t), final)`` for instant ``t`` (see the module's docstring).

    ``db``/``clock_position`` are the clock view and how far it got; the log
    beyond it (or all of it, without a view) is scanned instead.
    """
    t_us = to_us(instant)
    assert t_us is not None
    after, running = 0, 0
    if db is not None and clock_position > 0:
        with db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT MIN(end_position) AS e FROM {schema}view_clock WHERE max_us > ?", (t_us,)
            )
            row = cur.fetchone()
            crossing = int(row["e"]) if row and row["e"] is not None else None
            if crossing is not None:
                cur.execute(
                    "SELECT end_position, max_us FROM {schema}view_clock "
                    "WHERE end_position < ? ORDER BY end_position DESC LIMIT 1",
                    (crossing,),
                )
            else:
                cur.execute(
                    "SELECT end_position, max_us FROM {schema}view_clock "
                    "ORDER BY end_position DESC LIMIT 1"
                )
            row = cur.fetchone()
            if row is not None:
                after, running = int(row["end_position"]), int(row["max_us"])
    # Scan forward from the last page known to lie wholly at or before t.
    stop = ledger.log_length()
    position = after
    while position < stop:
        events, end = read_events(ledger, position, stop, 500)
        for recorded in events:
            stamp = event_us(recorded.event)
            running = max(running, stamp)
            if running > t_us:
                return recorded.position - 1, True
        position = end
    return stop, False


def clock_follower(ledger: Ledger) -> Follower:
    return Follower(ledger, LogClock())
