"""The item catalog: one row per ticket and case, for lists and filters.

A row keeps what lists filter on (status, assignee, kind) and an
:class:`~domain.sla.SlaWatch` in microseconds, so the SLA state at any instant
is one SQL expression and needs no calendar at query time.

Items are folded by the follower (``projections.runtime.ItemFold``: an LRU of
aggregates, reloaded from the log at the right version when needed) and the
row is made from their :class:`~projections.facts.ItemFacts`.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from domain.calendar import SHANGHAI as _SHANGHAI
from domain.errors import InvalidInputError
from domain.ledger import Ledger
from domain.sla import SlaState
from projections.database import ViewCursor
from projections.facts import ItemFacts, from_us, to_us
from projections.runtime import Page

COLUMNS = (
    "item_id",
    "kind",
    "number",
    "status",
    "assignee",
    "received_us",
    "due_us",
    "watch_due_us",
    "watch_risk_us",
    "fixed_state",
    "done_us",
    "version",
    "position",
)
__all__ = ["ItemCatalog", "from_us", "open_catalog", "to_us"]


class ItemCatalog:
    """The catalog view and its queries."""

    name = "catalog"
    # Tickets' and cases' events only: the rest of the log is not even decrypted.
    topics = ("domain.ticket:", "domain.service_case:", "domain.work_item:")

    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self.follower: Any = None  # set by the runner that drives this view

    # -- the View protocol -------------------------------------------------------------
    def create(self, cur: ViewCursor) -> None:
        cur.execute(
            "CREATE TABLE IF NOT EXISTS {schema}view_items ("
            "item_id TEXT PRIMARY KEY, kind TEXT NOT NULL, number TEXT NOT NULL, "
            "status TEXT NOT NULL, assignee TEXT, received_us BIGINT NOT NULL, due_us BIGINT, "
            "watch_due_us BIGINT, watch_risk_us BIGINT, fixed_state TEXT, done_us BIGINT, "
            "version INTEGER NOT NULL, position BIGINT NOT NULL)"
        )
        for _, statement in self.secondary_indexes():
            cur.execute(statement)

    @staticmethod
    def tables() -> list[str]:
        return ["view_items"]

    @staticmethod
    def secondary_indexes() -> list[tuple[str, str]]:
        return [(
            "view_items_list",
            "CREATE INDEX IF NOT EXISTS view_items_list "
            "ON {schema}view_items (kind, received_us, item_id)",
        )]

    def drop(self, cur: ViewCursor) -> None:
        cur.execute("DROP TABLE IF EXISTS {schema}view_items")

    def apply(self, cur: ViewCursor, page: Page) -> None:
        self.apply_batch(cur, [page])

    def apply_batch(self, cur: ViewCursor, pages: Sequence[Page]) -> None:
        """The pages' last row of each item, in one statement."""
        latest = {}
        fresh = set()
        for page in pages:
            for ident, change in page.items.items():
                if ident not in latest and change.before is None:
                    fresh.add(ident)  # created in these pages: a plain insert suffices
                latest[ident] = change
        insert = self._upsert_sql(cur).split(" ON CONFLICT")[0]
        cur.executemany(insert, [self._row(c.after, c.position)
                                 for i, c in latest.items() if i in fresh])
        cur.executemany(self._upsert_sql(cur), [self._row(c.after, c.position)
                                                for i, c in latest.items() if i not in fresh])

    @staticmethod
    def _row(facts: ItemFacts, position: int) -> tuple[Any, ...]:
        return (
            facts.item_id,
            facts.kind,
            facts.number,
            facts.status,
            facts.assignee,
            facts.received_us,
            facts.due_us,
            facts.watch_due_us,
            facts.watch_risk_us,
            facts.fixed_state,
            facts.done_us,
            facts.version,
            position,
        )

    @staticmethod
    def _upsert_sql(cur: ViewCursor) -> str:
        names = ", ".join(COLUMNS)
        marks = ", ".join("?" for _ in COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c != "item_id")
        return (
            f"INSERT INTO {{schema}}view_items ({names}) VALUES ({marks}) "
            f"ON CONFLICT (item_id) DO UPDATE SET {updates}"
        )

    # -- queries ---------------------------------------------------------------------------
    def query(
        self,
        kind: str,
        *,
        status: str | None = None,
        assignee: str | None = None,
        sla_state: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        now: datetime | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of items, newest first, with their SLA state at ``now``."""
        if self.follower is not None:
            self.follower.catch_up()
        now_us = to_us(now or self.ledger.now())
        state_sql = (
            "COALESCE(fixed_state, CASE WHEN watch_due_us IS NOT NULL AND ? > watch_due_us "
            "THEN 'breached' WHEN watch_risk_us IS NOT NULL AND ? > watch_risk_us "
            "THEN 'at_risk' ELSE 'on_track' END)"
        )
        where = ["kind = ?"]
        params: list[Any] = [now_us, now_us, kind]
        if status:
            where.append("status = ?")
            params.append(status)
        if assignee:
            where.append("assignee = ?")
            params.append(assignee)
        if sla_state:
            if sla_state not in {s.value for s in SlaState}:
                allowed = ", ".join(s.value for s in SlaState)
                raise InvalidInputError("sla_state", f"sla_state must be one of: {allowed}")
            where.append(f"{state_sql} = ?")
            params.extend([now_us, now_us, sla_state])
        if cursor:
            received_us, item_id = decode_cursor(cursor)
            where.append("(received_us < ? OR (received_us = ? AND item_id < ?))")
            params.extend([received_us, received_us, item_id])
        params.append(limit + 1)
        sql = (
            f"SELECT item_id, kind, number, status, assignee, received_us, due_us, done_us, "
            f"version, {state_sql} AS sla_state FROM {{schema}}view_items "
            f"WHERE {' AND '.join(where)} ORDER BY received_us DESC, item_id DESC LIMIT ?"
        )
        with self.follower.db.transaction(commit=False) as cur:
            cur.execute(sql, params)
            rows = cur.fetchall()
        more = len(rows) > limit
        rows = rows[:limit]
        items = [_present(row) for row in rows]
        next_cursor = encode_cursor(rows[-1]["received_us"], rows[-1]["item_id"]) if more else None
        return items, next_cursor


def _present(row: dict[str, Any]) -> dict[str, Any]:
    def iso(value: int | None) -> str | None:
        moment = from_us(value)
        return moment.astimezone(_SHANGHAI).isoformat() if moment else None

    return {
        "id": row["item_id"],
        "kind": row["kind"],
        "number": row["number"],
        "status": row["status"],
        "assignee": row["assignee"],
        "received_at": iso(row["received_us"]),
        "due_at": iso(row["due_us"]),
        "done_at": iso(row["done_us"]),
        "sla_state": row["sla_state"],
        "version": row["version"],
    }


def encode_cursor(received_us: int, item_id: str) -> str:
    return base64.urlsafe_b64encode(orjson.dumps([received_us, item_id])).decode("ascii")


def decode_cursor(cursor: str) -> tuple[int, str]:
    try:
        received_us, item_id = orjson.loads(base64.urlsafe_b64decode(cursor.encode("ascii")))
        return int(received_us), str(item_id)
    except (ValueError, TypeError, orjson.JSONDecodeError):
        raise InvalidInputError("cursor", "cursor is not one this service returned") from None


def open_catalog(ledger: Ledger) -> ItemCatalog:
    """The catalog view in the ledger's database, with its follower attached."""
    from projections.runtime import Follower

    view = ItemCatalog(ledger)
    view.follower = Follower(ledger, view)
    return view
