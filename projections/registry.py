"""Every view by name, and the report views with the one follower that keeps them.

Names: ``catalog`` (lists), ``clock`` (the log's time → position index),
``quota``, ``sla``, ``quality``, ``access_log``. The report views are followed as one group,
so each page of the log is decoded and folded once for all of them.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from domain.calendar import WorkingCalendar
from domain.ledger import Ledger
from projections.access_log import AccessLogView
from projections.base import ReportView
from projections.catalog import ItemCatalog
from projections.clock import LogClock
from projections.contract import Contract
from projections.database import ViewDatabase
from projections.quality import QualityView
from projections.quota import QuotaView
from projections.runtime import Follower, ItemFold, View
from projections.sla import SlaView
from projections.timeline import Timeline

REPORTS = ("quota", "sla", "quality", "access_log")
ALL = ("catalog", "clock", *REPORTS)


def make_view(name: str, ledger: Ledger, timeline: Timeline) -> View:
    if name == "catalog":
        return ItemCatalog(ledger)
    if name == "clock":
        return LogClock()
    if name == "quota":
        return QuotaView()
    if name == "sla":
        return SlaView()
    if name == "quality":
        return QualityView()
    if name == "access_log":
        return AccessLogView(timeline)
    raise KeyError(name)


class Reports:
    """The report views (and the clock) on one database, followed together.

    ``include`` adds other views to the group (``catalog`` in ``project run``
    and ``replay rebuild``); ``setup=False`` opens without creating anything,
    for reading a store whose views may not exist (``replay as-of``).
    """

    def __init__(
        self,
        ledger: Ledger,
        *,
        db: ViewDatabase | None = None,
        names: Sequence[str] = ("clock", *REPORTS),
        page_size: int = 500,
        batch_pages: int = 1,
        setup: bool = True,
    ) -> None:
        self.ledger = ledger
        self.db = db or ViewDatabase(ledger)
        self.timeline = Timeline(ledger)
        self.views: dict[str, Any] = {name: make_view(name, ledger, self.timeline)
                                      for name in names}
        self.follower = Follower(
            ledger, list(self.views.values()), page_size=page_size, batch_pages=batch_pages,
            db=self.db, fold=ItemFold(ledger, self.timeline), setup=setup,
        )
        self.lock = threading.Lock()
        self.memo: dict[str, Any] = {}  # immutable answers kept by replay.as_of
        catalog = self.views.get("catalog")
        if catalog is not None:
            catalog.follower = self.follower

    def report_view(self, name: str) -> ReportView:
        view = self.views.get(name)
        if not isinstance(view, ReportView):
            raise KeyError(name)
        return view

    def calendar_at(self, position: int) -> WorkingCalendar:
        """The working calendar as the log stood after ``position``."""
        return self.timeline.calendar_at(position)

    def contract_at(self, position: int) -> Contract:
        """The contract's terms as the log stood after ``position``."""
        return self.timeline.contract_at(position)

    def close(self) -> None:
        self.db.close()
