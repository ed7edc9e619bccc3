"""What the report views share: tables that keep their history, and changes as data.

A report view turns a page into :class:`~projections.tally.Changes` without
touching the database (:meth:`ReportView.changes`), then writes them
(:meth:`ReportView.write`). The follower does both in a page's transaction;
``replay/as_of.py`` computes changes for the few events after the last page
it reads and lays them over the tables. One piece of code, two uses: the
figures as of a past position cannot drift from what the follower wrote.

Item contributions are differences: a page adds what the item contributes
after the page and subtracts what it contributed before it. Summed over the
log this telescopes to what every item contributes now, whatever the page
boundaries were, which is why a live view equals a rebuild.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Any

from domain.calendar import SHANGHAI
from projections.database import ViewCursor, ViewDatabase
from projections.facts import ItemFacts, from_us, to_us
from projections.runtime import ItemChange, Page, Recorded
from projections.tally import Changes, History, Key, Overlay, Tally

Contribution = tuple[str, Key, Sequence[int]]


@lru_cache(maxsize=65_536)
def _day_of_hour(hour: int) -> str:
    moment = from_us(hour * 3_600_000_000)
    assert moment is not None
    return moment.astimezone(SHANGHAI).date().isoformat()


def local_day(us: int) -> str:
    """The Asia/Shanghai date of an instant given in µs, as ``YYYY-MM-DD``."""
    return _day_of_hour(us // 3_600_000_000)


class ReportView:
    """A view made of :class:`Tally` and :class:`History` tables."""

    name: str = ""
    tallies: dict[str, Tally]
    histories: dict[str, History]

    def __init__(self) -> None:
        self.tallies = {t.table: t for t in self.make_tallies()}
        self.histories = {h.table: h for h in self.make_histories()}

    # -- declared by subclasses ---------------------------------------------------------
    def make_tallies(self) -> Iterable[Tally]:
        return ()

    def make_histories(self) -> Iterable[History]:
        return ()

    def contributions(self, facts: ItemFacts) -> Iterable[Contribution]:
        """What one item adds to the counters, given its facts."""
        return ()

    def item_rows(self, changes: Changes, change: ItemChange) -> None:
        """Rows to make current for a changed item (none by default)."""

    def other_event(self, changes: Changes, recorded: Recorded) -> None:
        """Changes made by an event that is not a ticket's or a case's."""

    def derive(self, cur: ViewCursor | None, upto: int, changes: Sequence[Changes]) -> None:
        """Add changes that depend on the view's counters as of ``upto`` (before ``changes``).

        ``changes`` are those of consecutive pages from ``upto`` on; ``cur``
        reads the view's tables, which hold position ``upto`` (None: they hold
        nothing yet). Used for counters that count distinct keys or threshold
        crossings, which one page's events cannot tell alone.
        """

    # -- the View protocol ------------------------------------------------------------------
    def create(self, cur: ViewCursor) -> None:
        for tally in self.tallies.values():
            tally.create(cur)
        for history in self.histories.values():
            history.create(cur)

    def secondary_indexes(self) -> list[tuple[str, str]]:
        return [i for history in self.histories.values() for i in history.secondary_indexes()]

    def tables(self) -> list[str]:
        return [*(n for t in self.tallies for n in (t, f"{t}_delta")),
                *(n for h in self.histories for n in (h, f"{h}_history"))]

    def drop(self, cur: ViewCursor) -> None:
        for tally in self.tallies.values():
            tally.drop(cur)
        for history in self.histories.values():
            history.drop(cur)

    def apply(self, cur: ViewCursor, page: Page) -> None:
        self.apply_batch(cur, [page])

    def apply_batch(self, cur: ViewCursor, pages: Sequence[Page]) -> None:
        """Consecutive pages in one transaction: one statement per table for all of them."""
        changes = [self.changes(page) for page in pages]
        self.derive(cur, pages[0].start, changes)
        for name, tally in self.tallies.items():
            tally.write_pages(cur, [(page.start, page.end, change.tallies.get(name, {}))
                                    for page, change in zip(pages, changes, strict=True)])
        for name, history in self.histories.items():
            history.write_pages(cur, [(change.rows.get(name, {}), change.fresh.get(name, set()))
                                      for change in changes])

    # -- changes as data ------------------------------------------------------------------
    def changes(self, page: Page) -> Changes:
        found = Changes()
        for change in page.items.values():
            if change.before is not None:
                for tally, key, values in self.contributions(change.before):
                    found.count(tally, key, values, -1)
            for tally, key, values in self.contributions(change.after):
                found.count(tally, key, values)
            self.item_rows(found, change)
        for recorded in page.events:
            self.other_event(found, recorded)
        return found

    def logical(self, cur: ViewCursor) -> dict[str, Any]:
        """The view's content independent of page boundaries (to compare with a rebuild)."""
        found: dict[str, Any] = {}
        for name, tally in self.tallies.items():
            found[name] = tally.logical(cur)
        for name, history in self.histories.items():
            found[name] = history.logical(cur)
        return found


@dataclass
class Snapshot:
    """What a report reads: tables as of page end ``upto``, plus an overlay up to ``position``.

    ``at`` is the instant the time-dependent figures are evaluated at (SLA
    states, plan to date). ``final`` is true when the log already holds an
    event recorded after ``at``, so no later write can change ``position``.
    """

    db: ViewDatabase
    position: int
    upto: int
    at: datetime
    final: bool
    as_of: datetime | None = None
    overlay: Overlay = field(default_factory=Overlay)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def at_us(self) -> int:
        value = to_us(self.at)
        assert value is not None
        return value

    def header(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.astimezone(SHANGHAI).isoformat() if self.as_of else None,
            "evaluated_at": self.at.astimezone(SHANGHAI).isoformat(),
            "log_position": self.position,
            "final": self.final,
        }

    def tally(
        self, cur: ViewCursor, tally: Tally, group: Sequence[str], where: Any = None
    ) -> dict[Key, list[int]]:
        return tally.read(cur, self.upto, group, where, self.overlay.tally(tally.table))
