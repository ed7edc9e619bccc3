"""Commands on the terms every figure is computed under: year schedules and contract terms.

Both are single books with fixed ids (``domain/calendar_book.py``,
``domain/contract_terms.py``), so two concurrent changes collide and the second
gets 409 instead of silently overwriting the first; ``If-Match`` works as for
any aggregate. Recording what is already in force records nothing and answers
``changed: false``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import RecordConflictError

from domain.calendar import YearSchedule
from domain.calendar_book import (
    CALENDAR_BOOK_ID,
    CalendarBook,
    calendar_receipt,
    year_deviations,
)
from domain.contract_terms import CONTRACT_BOOK_ID, ContractBook, ContractTerms, contract_receipt
from domain.errors import ConcurrentWriteError, NotFoundError
from domain.ledger_base import Context, LedgerBase, Receipt, check_expected_version


class TermsCommands(LedgerBase):
    """Year schedules of the working calendar and the contract's terms, as events."""

    # -- the working calendar's year schedules ------------------------------------------
    def calendar_book(self) -> CalendarBook | None:
        book = self._find(CALENDAR_BOOK_ID)
        return book if isinstance(book, CalendarBook) else None

    def calendar_info(self) -> Receipt:
        """Known years, schedules in force and every load (what ``GET /calendar`` answers)."""
        self.refresh_calendar()
        return calendar_receipt(self.calendar_book(), self.sla.calendar)

    def calendar_year(self, year: int) -> Receipt:
        """One year's deviations from Monday-Friday in the calendar in force, and their source."""
        calendar = self.sla.calendar
        if year not in calendar.known_years():
            raise NotFoundError("calendar year", year)
        book = self.calendar_book()
        in_force = book.in_force.get(year) if book is not None else None
        source = in_force["source"] if in_force else "built-in data (chinese-calendar)"
        return {"year": year, **year_deviations(calendar, year), "source": source}

    def load_calendar_schedule(
        self, schedule: YearSchedule | Mapping[str, Any], ctx: Context, *, reason: object = None
    ) -> Receipt:
        """Record a year schedule (a new year's notice, or a correction) as an event.

        Deadlines of steps recorded from now on use it; figures as of earlier
        dates keep the schedules recorded by then.
        """
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        parsed = schedule if isinstance(schedule, YearSchedule) else YearSchedule.from_mapping(
            schedule
        )
        at = self._at(ctx)
        book = self.calendar_book()
        check_expected_version(ctx, book.version if book else 0, "the calendar book")
        if book is None:
            book = CalendarBook(at=at, by=ctx.actor)
        changed = book.load(parsed, reason, at=at, by=ctx.actor)
        receipt = {"year": parsed.year, "source": parsed.source, "changed": changed,
                   "version": book.version}
        if not changed:
            return receipt
        self._save_book(ctx, receipt, book, "the calendar book")
        self.refresh_calendar()
        return receipt

    # -- the contract's terms ---------------------------------------------------------------
    def contract_book(self) -> ContractBook | None:
        book = self._find(CONTRACT_BOOK_ID)
        return book if isinstance(book, ContractBook) else None

    def contract_info(self) -> Receipt:
        return contract_receipt(self.contract_book())

    def contract_terms(self) -> ContractTerms:
        book = self.contract_book()
        return ContractTerms() if book is None else book.terms

    def set_contract_terms(
        self, terms: ContractTerms | Mapping[str, Any], ctx: Context, *, reason: object = None
    ) -> Receipt:
        """Record the contract's terms; keys left out keep the values in force."""
        earlier = self.replayed(ctx)
        if earlier is not None:
            return earlier
        book = self.contract_book()
        check_expected_version(ctx, book.version if book else 0, "the contract's terms")
        current = ContractTerms() if book is None else book.terms
        parsed = terms if isinstance(terms, ContractTerms) else ContractTerms.from_mapping(
            terms, base=current
        )
        at = self._at(ctx)
        if book is None:
            book = ContractBook(at=at, by=ctx.actor)
        changed = book.set_terms(parsed, reason, at=at, by=ctx.actor)
        receipt = {"terms": parsed.to_mapping(), "changed": changed, "version": book.version}
        if changed:
            self._save_book(ctx, receipt, book, "the contract's terms")
        return receipt

    # -- shared ---------------------------------------------------------------------------
    def _save_book(self, ctx: Context, receipt: Receipt, book: Aggregate, what: str) -> None:
        try:
            self._commit(ctx, receipt, book)
        except RecordConflictError:
            raise ConcurrentWriteError(f"{what} changed meanwhile: reload and retry") from None

