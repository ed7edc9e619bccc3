"""Drop views and build them again from the first event of the log.

Views are disposable: everything in them follows from the log. A rebuild
drops the named views' tables, resets their tracking positions and follows the
log from the start, all views of the group sharing each decoded page. Other
processes following the same views see their tracking row move back and simply
take part again from there (the compare-and-set keeps every page applied once).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from domain.ledger import Ledger
from projections.registry import ALL, Reports
from projections.runtime import gc_paused

REBUILD_PAGE_SIZE = 500  # events per page: what a report as of a past instant folds at most
REBUILD_BATCH_PAGES = 20  # pages per transaction


@dataclass(frozen=True)
class RebuildResult:
    views: tuple[str, ...]
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else 0.0


def rebuild(
    ledger: Ledger,
    names: Sequence[str] | None = None,
    *,
    progress: Callable[[int], None] | None = None,
    page_size: int = REBUILD_PAGE_SIZE,
    batch_pages: int = REBUILD_BATCH_PAGES,
) -> RebuildResult:
    """Rebuild the named views (default: all of them) and time it."""
    chosen = tuple(names) if names else ALL
    unknown = [n for n in chosen if n not in ALL]
    if unknown:
        raise KeyError(", ".join(unknown))
    reports = Reports(ledger, names=ALL, page_size=page_size, batch_pages=batch_pages)
    try:
        began = time.perf_counter()
        with gc_paused():
            events = reports.follower.rebuild(chosen, progress=progress)
        seconds = time.perf_counter() - began
    finally:
        reports.close()
    return RebuildResult(chosen, events, seconds)
