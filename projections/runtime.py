"""The follower: reads the log in pages and applies each page to its views exactly once.

One follower drives a group of views: each page of events is read and decoded
once, tickets and cases are folded once (an LRU of aggregates, reloaded from
the log at the right version when the cached copy is not exactly one version
behind), their :class:`~projections.facts.ItemFacts` are computed once, and
every view of the group applies the page.

Exactly once: a transaction (one page, or a batch of pages in a rebuild)
first moves each participating view's tracking position from the value it
read to the last page's end (a compare-and-set) and then writes the views.
If another process got there first, an update matches no row, the
transaction is rolled back and the pages are skipped, so several followers on
one database never double-count. A crash in the middle of a transaction loses
that transaction and nothing else.

Views that lag (a view just rebuilt, one added later) are brought level first:
a page starts at the lowest position of the group and ends no later than the
next view's position, so the views join as they catch up.

Waking up: on PostgreSQL a listener on the channel the event recorder NOTIFYs
after each insert (``LISTEN taizhang_events``) wakes the followers at once;
SQLite has no such thing, so they poll. Either way a timeout keeps them
polling, so a lost notification only delays.
"""

from __future__ import annotations

import gc
import logging
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol
from uuid import UUID

from domain.ledger import Ledger
from domain.sla import SlaClock
from domain.work_item import WorkItem
from projections.database import ViewCursor, ViewDatabase
from projections.decoding import event_decoder
from projections.facts import ItemFacts, item_facts
from projections.timeline import Timeline

logger = logging.getLogger(__name__)

TRACKING_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}view_tracking ("
    "view_name TEXT PRIMARY KEY, position BIGINT NOT NULL)"
)
PAGES_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}view_pages ("
    "view_name TEXT NOT NULL, end_position BIGINT NOT NULL, "
    "PRIMARY KEY (view_name, end_position))"
)
VERSIONS_DDL = (
    "CREATE TABLE IF NOT EXISTS {schema}view_versions ("
    "view_name TEXT PRIMARY KEY, version BIGINT NOT NULL)"
)
CACHE_SIZE = 50_000


@dataclass(frozen=True, slots=True)
class Recorded:
    """One event of the log with its position."""

    position: int
    event: Any


@dataclass(frozen=True, slots=True)
class ItemChange:
    """A ticket or case that changed in a page: its facts before the page and after it."""

    item_id: UUID
    before: ItemFacts | None  # None when the page created it
    after: ItemFacts
    position: int  # the position of its last event in the page


@dataclass(frozen=True)
class Page:
    """Events ``(start, end]`` of the log, with the items they changed."""

    start: int
    end: int
    events: Sequence[Recorded]
    items: dict[UUID, ItemChange]


class View(Protocol):
    """A projection: tables, and how a page of events changes them."""

    name: str

    def create(self, cur: ViewCursor) -> None: ...

    def drop(self, cur: ViewCursor) -> None: ...

    def apply(self, cur: ViewCursor, page: Page) -> None: ...


class LostRaceError(Exception):
    """Another follower applied this page first."""


class ItemFold:
    """Tickets and cases folded from their events, with their facts, in an LRU."""

    def __init__(self, ledger: Ledger, timeline: Timeline | None = None,
                 cache_size: int = CACHE_SIZE) -> None:
        self.ledger = ledger
        self.timeline = timeline or Timeline(ledger)
        self._cache: OrderedDict[UUID, tuple[WorkItem, ItemFacts]] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self._cache.clear()

    def fold(self, events: Sequence[Recorded]) -> dict[UUID, ItemChange]:
        with self._lock:
            return self._fold(events)

    def _fold(self, events: Sequence[Recorded]) -> dict[UUID, ItemChange]:
        if events:  # one look for term events per page, not one per item
            self.timeline.advance(events[-1].position)
        open_items: dict[UUID, list[Any]] = {}  # id -> [item, facts before, last position]
        for recorded in events:
            event = recorded.event
            if not isinstance(event, WorkItem.Event):
                continue
            ident = event.originator_id
            entry = open_items.get(ident)
            if entry is None:
                entry = open_items[ident] = [*self._before(event, recorded.position),
                                             recorded.position]
            item = entry[0]
            wanted = event.originator_version - 1
            if (item.version if item is not None else 0) != wanted:
                item = self._load(ident, wanted)  # only if the log itself is out of order
            entry[0] = event.mutate(item)
            entry[2] = recorded.position
        changes: dict[UUID, ItemChange] = {}
        for ident, (item, before, position) in open_items.items():
            if not isinstance(item, WorkItem):
                continue
            after = item_facts(self.timeline.clock_at(position), item)
            changes[ident] = ItemChange(ident, before, after, position)
            self._cache[ident] = (item, after)
            self._cache.move_to_end(ident)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return changes

    def _before(self, event: Any, position: int) -> tuple[WorkItem | None, ItemFacts | None]:
        wanted = event.originator_version - 1
        if wanted == 0:
            return None, None
        cached = self._cache.pop(event.originator_id, None)
        if cached is not None and cached[0].version == wanted:
            return cached
        item = self._load(event.originator_id, wanted)
        if item is None:
            return None, None
        return item, item_facts(self._clock_of(event.originator_id, wanted, position), item)

    def _clock_of(self, ident: UUID, version: int, later: int) -> SlaClock:
        """The clock the facts of ``ident`` at ``version`` were computed with.

        Those facts were computed after the page holding that version, with the
        schedules recorded by its position; look the position up only when some
        schedule was recorded before ``later``, the position of a later step.
        """
        timeline = self.timeline
        if not timeline.has_schedules(later):
            return timeline.clock_at(0)
        return timeline.clock_at(timeline.position_of(ident, version))

    def _load(self, ident: UUID, version: int) -> WorkItem | None:
        if version == 0:
            return None
        item = self.ledger.repository.get(ident, version=version)
        return item if isinstance(item, WorkItem) else None


_decoders: weakref.WeakKeyDictionary[Ledger, Callable[[Any], Any]] = weakref.WeakKeyDictionary()


def read_events(
    ledger: Ledger, after: int, stop: int, limit: int, topics: tuple[str, ...] | None = None
) -> tuple[list[Recorded], int]:
    """Events after position ``after`` up to ``stop``, at most ``limit``; and the page's end.

    The end is the last event's position when the page is full, else ``stop``
    (positions can have gaps: a rolled-back insert never fills its number).
    With ``topics`` (prefixes), other events are not decrypted nor returned.
    """
    notifications = ledger.recorder.select_notifications(start=after + 1, limit=limit, stop=stop)
    end = notifications[-1].id if len(notifications) >= limit else stop
    to_event = _decoders.get(ledger)
    if to_event is None:
        to_event = _decoders[ledger] = event_decoder(ledger)
    if topics is None:
        return [Recorded(n.id, to_event(n)) for n in notifications], end
    return [Recorded(n.id, to_event(n)) for n in notifications if n.topic.startswith(topics)], end


class Follower:
    """Keeps a group of views up to date with the log (one view is a group of one)."""

    def __init__(
        self,
        ledger: Ledger,
        views: View | Sequence[View],
        *,
        page_size: int = 500,
        batch_pages: int = 1,
        db: ViewDatabase | None = None,
        fold: ItemFold | None = None,
        setup: bool = True,
    ) -> None:
        self.ledger = ledger
        self.views: list[View] = list(views) if isinstance(views, Sequence) else [views]
        if len({v.name for v in self.views}) != len(self.views):
            raise ValueError("two views of one follower share a name")
        self.db = db or ViewDatabase(ledger)
        self.fold = fold or ItemFold(ledger)
        self.page_size = page_size
        self.batch_pages = batch_pages  # pages per transaction: 1 live, more for a rebuild
        # Decode only the topics the views ask for, when every view says which it needs.
        wanted = [getattr(view, "topics", None) for view in self.views]
        self.topics: tuple[str, ...] | None = (
            None if any(w is None for w in wanted) else tuple(t for w in wanted for t in w)  # type: ignore[union-attr]
        )
        self.hold: float = 0.0  # seconds to wait inside each page transaction (crash tests)
        self._lock = threading.RLock()
        self._tracked = False  # the tracking tables are known to exist
        if setup:
            self.setup()

    @property
    def view(self) -> View:
        """The first view (a follower of one view, as the catalog uses it)."""
        return self.views[0]

    @property
    def name(self) -> str:
        return "+".join(v.name for v in self.views)

    def setup(self) -> None:
        """Create what is missing; a view whose definition changed starts again from empty.

        A view declares ``version`` (default 1) and raises it when its tables or
        what it derives change: tables built by another version would otherwise
        be extended by this one, and silently mix the two.
        """
        with self.db.transaction() as cur:
            cur.execute(TRACKING_DDL)
            cur.execute(PAGES_DDL)
            cur.execute(VERSIONS_DDL)
            cur.execute("SELECT view_name, version FROM {schema}view_versions")
            built = {row["view_name"]: int(row["version"]) for row in cur.fetchall()}
            cur.execute("SELECT view_name FROM {schema}view_tracking WHERE position > 0")
            for row in cur.fetchall():  # built before versions were kept: version 1
                built.setdefault(row["view_name"], 1)
            for view in self.views:
                version = int(getattr(view, "version", 1))
                if built.get(view.name, version) != version:
                    logger.warning("view %s changed (version %s to %s): building it again",
                                   view.name, built[view.name], version)
                    view.drop(cur)
                    cur.execute("DELETE FROM {schema}view_tracking WHERE view_name = ?",
                                (view.name,))
                    cur.execute("DELETE FROM {schema}view_pages WHERE view_name = ?",
                                (view.name,))
                view.create(cur)
                cur.execute(
                    "INSERT INTO {schema}view_tracking (view_name, position) VALUES (?, 0) "
                    "ON CONFLICT (view_name) DO NOTHING",
                    (view.name,),
                )
                cur.execute(
                    "INSERT INTO {schema}view_versions (view_name, version) VALUES (?, ?) "
                    "ON CONFLICT (view_name) DO UPDATE SET version = excluded.version",
                    (view.name, version),
                )
        self._tracked = True

    def positions(self) -> dict[str, int]:
        """Each view's tracking position (0 for a view that was never built)."""
        names = [v.name for v in self.views]
        if not self._tracked:
            if not self.db.has_table("view_tracking"):
                return dict.fromkeys(names, 0)
            self._tracked = True
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT view_name, position FROM {schema}view_tracking "
                f"WHERE view_name IN ({', '.join('?' for _ in names)})",
                names,
            )
            found = {row["view_name"]: int(row["position"]) for row in cur.fetchall()}
        return {name: found.get(name, 0) for name in names}

    def position(self) -> int:
        """The lowest position of the group: every view has applied the log up to here."""
        return min(self.positions().values())

    def catch_up(
        self, until: int | None = None, progress: Callable[[int], None] | None = None
    ) -> int:
        """Apply every page up to ``until`` (default: the log's end); return events applied."""
        applied = 0
        with self._lock:
            target = self.ledger.log_length() if until is None else until
            while True:
                positions = self.positions()
                start = min(positions.values())
                if start >= target:
                    return applied
                members = [v for v in self.views if positions[v.name] == start]
                stop = min([target, *(p for p in positions.values() if p > start)])
                try:
                    while start < stop:
                        pages = self._read_batch(start, stop)
                        self._apply_pages(members, pages)
                        applied += sum(len(page.events) for page in pages)
                        if progress is not None:
                            progress(pages[-1].end - start)
                        start = pages[-1].end
                except LostRaceError:
                    self.fold.reset()

    def _read_batch(self, start: int, stop: int) -> list[Page]:
        pages: list[Page] = []
        position = start
        while position < stop and len(pages) < self.batch_pages:
            events, end = read_events(self.ledger, position, stop, self.page_size, self.topics)
            pages.append(Page(position, end, events, self.fold.fold(events)))
            position = end
        return pages

    def _apply_pages(self, members: Sequence[View], pages: Sequence[Page]) -> None:
        """One transaction: move the members' positions over the pages, then apply each page.

        Each page stays a unit of its own inside (its end is recorded in
        ``view_pages`` and stamps what it wrote), so a report as of a past
        position reads at most one page in memory however large the transaction.
        """
        start, end = pages[0].start, pages[-1].end
        try:
            with self.db.transaction() as cur:
                for view in members:
                    cur.execute(
                        "UPDATE {schema}view_tracking SET position = ? "
                        "WHERE view_name = ? AND position = ?",
                        (end, view.name, start),
                    )
                    if cur.rowcount != 1:
                        raise LostRaceError
                cur.executemany(
                    "INSERT INTO {schema}view_pages (view_name, end_position) VALUES (?, ?)",
                    [(view.name, page.end) for page in pages for view in members],
                )
                for view in members:
                    batch = getattr(view, "apply_batch", None)
                    if batch is not None:
                        batch(cur, pages)
                        continue
                    for page in pages:
                        view.apply(cur, page)
                if self.hold:
                    threading.Event().wait(self.hold)
        except LostRaceError:
            raise
        except Exception:
            self.view_failed()
            raise

    def view_failed(self) -> None:
        """A page rolled back: in-memory state may be ahead of the tables; forget it."""
        self.fold.reset()
        for view in self.views:
            reset = getattr(view, "reset_cache", None)
            if reset is not None:
                reset()

    def rebuild(
        self,
        names: Sequence[str] | None = None,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        """Drop the named views' tables (default: all) and apply the whole log again.

        Indexes that only reads need are created after the last page, which
        is quicker than keeping them up to date row by row (a follower that
        starts meanwhile creates them again: they are ``IF NOT EXISTS``); then
        the tables are analysed for the query planner.
        """
        chosen = [v for v in self.views if names is None or v.name in names]
        deferred = [i for v in chosen for i in getattr(v, "secondary_indexes", list)()]
        with self._lock:
            with self.db.transaction() as cur:
                for view in chosen:
                    view.drop(cur)
                    view.create(cur)
                    cur.execute(
                        "UPDATE {schema}view_tracking SET position = 0 WHERE view_name = ?",
                        (view.name,),
                    )
                    cur.execute(
                        "DELETE FROM {schema}view_pages WHERE view_name = ?", (view.name,)
                    )
                for name, _ in deferred:
                    cur.execute(f"DROP INDEX IF EXISTS {{schema}}{name}")
            self.view_failed()
            applied = self.catch_up(progress=progress)
            with self.db.transaction() as cur:
                for _, statement in deferred:
                    cur.execute(statement)
                # Fresh tables have no statistics yet: give the query planner some.
                for view in chosen:
                    for table in getattr(view, "tables", list)():
                        cur.execute(f"ANALYZE {{schema}}{table}")
            return applied

    def page_end_at_or_before(self, view_name: str, position: int) -> int:
        """The last page end of a view at or before ``position`` (0 when none)."""
        if position <= 0 or not (self._tracked or self.db.has_table("view_pages")):
            return 0
        with self.db.transaction(commit=False) as cur:
            cur.execute(
                "SELECT MAX(end_position) AS p FROM {schema}view_pages "
                "WHERE view_name = ? AND end_position <= ?",
                (view_name, position),
            )
            row = cur.fetchone()
        return int(row["p"]) if row and row["p"] is not None else 0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (for a process that only follows, or a rebuild).

    A rebuild allocates millions of short-lived objects while tens of thousands
    of folded aggregates stay cached; every full collection walks the whole
    cache, which cost a quarter of a rebuild's time. Folding creates no
    reference cycles (a collection after a million events finds a handful), so
    reference counting frees everything; one collection runs at the end.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
        gc.collect()


class LogWatcher:
    """Wakes waiting followers when the log grows: LISTEN on PostgreSQL, a timer on SQLite."""

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._events: list[threading.Event] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        recorder: Any = ledger.recorder
        self.channel: str | None = getattr(recorder, "channel_name", None)
        self.listening = False

    def waiter(self) -> threading.Event:
        event = threading.Event()
        self._events.append(event)
        return event

    def start(self) -> None:
        if self.channel is None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._listen, name="log-watcher", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        import psycopg
        from psycopg import sql

        datastore: Any = self.ledger.recorder.datastore  # type: ignore[attr-defined]
        params = {k: v for k, v in datastore.pool.kwargs.items() if k != "row_factory"}
        while not self._stop.is_set():
            try:
                with psycopg.connect(autocommit=True, **params) as conn:
                    conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(self.channel)))
                    self.listening = True
                    self._wake()  # anything written while not listening
                    while not self._stop.is_set():
                        for _ in conn.notifies(timeout=0.5, stop_after=1):
                            self._wake()
            except psycopg.Error:
                self.listening = False
                logger.warning("LISTEN on %s failed; polling until it is back", self.channel)
                self._stop.wait(2.0)
        self.listening = False

    def _wake(self) -> None:
        for event in self._events:
            event.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake()
        if self._thread is not None:
            self._thread.join(timeout=5)


class BackgroundFollowers:
    """Followers running in daemon threads until :meth:`stop` (``serve``, ``project run``)."""

    def __init__(
        self,
        followers: Sequence[Follower],
        interval: float = 0.5,
        watcher: LogWatcher | None = None,
    ) -> None:
        self.followers = list(followers)
        self.interval = interval
        self.watcher = watcher
        if self.watcher is None and self.followers:
            self.watcher = LogWatcher(self.followers[0].ledger)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> None:
        if self.watcher is not None:
            self.watcher.start()
        for follower in self.followers:
            wake = self.watcher.waiter() if self.watcher is not None else threading.Event()
            thread = threading.Thread(
                target=self._run, args=(follower, wake), name=f"follow-{follower.name}",
                daemon=True,
            )
            thread.start()
            self._threads.append(thread)

    def _run(self, follower: Follower, wake: threading.Event) -> None:
        while not self._stop.is_set():
            wake.clear()
            try:
                follower.catch_up()
            except Exception:  # keep following; the next query or poll retries the page
                logger.exception("view %s failed to apply a page", follower.name)
            wake.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self.watcher is not None:
            self.watcher.stop()
        for thread in self._threads:
            thread.join(timeout=5)
