"""The follower: reads the log in pages and applies each page to a view exactly once.

The library has no subscription for SQLite, so this polls (on PostgreSQL too,
for now). Each page is one transaction that first moves the view's tracking
position from the value it read to the page's last position (a compare-and-set)
and then applies the page: if another process got there first the update
matches no row, the transaction is rolled back and the page is skipped, so
several followers on one database never double-count.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from domain.ledger import Ledger
from projections.database import ViewCursor, ViewDatabase

logger = logging.getLogger(__name__)

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}view_tracking ("
    "view_name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)


@dataclass(frozen=True)
class Recorded:
    """One event of the log with its position."""

    position: int
    event: Any


class View(Protocol):
    """A projection: tables, and how a page of events changes them."""

    name: str

    def create(self, cur: ViewCursor) -> None: ...

    def drop(self, cur: ViewCursor) -> None: ...

    def apply(self, cur: ViewCursor, page: Sequence[Recorded]) -> None: ...


class LostRaceError(Exception):
    """Another follower applied this page first."""


class Follower:
    """Keeps one view up to date with the log."""

    def __init__(self, ledger: Ledger, view: View, *, page_size: int = 500) -> None:
        self.ledger = ledger
        self.view = view
        self.db = ViewDatabase(ledger)
        self.page_size = page_size
        self._lock = threading.Lock()
        self.setup()

    def setup(self) -> None:
        with self.db.transaction() as cur:
            cur.execute(TRACKING_DDL)
            self.view.create(cur)
            cur.execute(
                "INSERT INTO {schema}view_tracking (view_name, position) VALUES (?, 0) "
                "ON CONFLICT (view_name) DO NOTHING",
                (self.view.name,),
            )

    def position(self) -> int:
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT position FROM {schema}view_tracking WHERE view_name = ?",
                (self.view.name,),
            )
            row = cur.fetchone()
        return int(row["position"]) if row else 0

    def catch_up(self, until: int | None = None) -> int:
        """Apply every page up to ``until`` (default: the log's end); return events applied."""
        applied = 0
        with self._lock:
            target = self.ledger.log_length() if until is None else until
            while True:
                start = self.position()
                if start >= target:
                    return applied
                page = self._read_page(start, target)
                if not page:
                    return applied
                try:
                    self._apply_page(start, page)
                except LostRaceError:
                    continue
                applied += len(page)

    def _read_page(self, after: int, target: int) -> list[Recorded]:
        notifications = self.ledger.recorder.select_notifications(
            start=after + 1, limit=self.page_size, stop=target
        )
        to_event = self.ledger.mapper.to_domain_event
        return [Recorded(n.id, to_event(n)) for n in notifications]

    def _apply_page(self, start: int, page: Sequence[Recorded]) -> None:
        try:
            with self.db.transaction() as cur:
                cur.execute(
                    "UPDATE {schema}view_tracking SET position = ? "
                    "WHERE view_name = ? AND position = ?",
                    (page[-1].position, self.view.name, start),
                )
                if cur.rowcount != 1:
                    raise LostRaceError
                self.view.apply(cur, page)
        except LostRaceError:
            raise
        except Exception:
            self.view_failed()
            raise

    def view_failed(self) -> None:
        """Hook: a view that keeps in-memory state drops it when a page rolls back."""
        reset = getattr(self.view, "reset_cache", None)
        if reset is not None:
            reset()

    def rebuild(self) -> int:
        """Drop the view's tables and apply the whole log again."""
        with self._lock, self.db.transaction() as cur:
            self.view.drop(cur)
            self.view.create(cur)
            cur.execute(
                "UPDATE {schema}view_tracking SET position = 0 WHERE view_name = ?",
                (self.view.name,),
            )
        self.view_failed()
        return self.catch_up()


class BackgroundFollowers:
    """Followers running in daemon threads until :meth:`stop` (inside ``taizhang serve``)."""

    def __init__(self, followers: Sequence[Follower], interval: float = 0.5) -> None:
        self.followers = list(followers)
        self.interval = interval
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        for follower in self.followers:
            thread = threading.Thread(
                target=self._run, args=(follower,), name=f"follow-{follower.view.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, follower: Follower) -> None:
        while not self._stop.is_set():
            try:
                follower.catch_up()
            except Exception:  # keep following; the next query or poll retries the page
                logger.exception("view %s failed to apply a page", follower.view.name)
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)
