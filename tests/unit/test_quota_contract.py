"""Quota targets, periods and plan to date by hand; the statistics helpers on small data."""

from __future__ import annotations

import math
from datetime import date, datetime
from fractions import Fraction

import pytest

from domain.calendar import SHANGHAI, WorkingCalendar
from domain.contract_terms import ContractBook, ContractTerms
from domain.errors import InvalidInputError
from projections.contract import Contract, add_months, progress
from projections.stats import (
    forecast_total,
    growth,
    histogram_summary,
    linear_trend,
    moments,
    pearson,
    pearson_from_sums,
    summary,
)

CALENDAR = WorkingCalendar()
SMALL = Contract(start=date(2026, 1, 1), targets={"tickets": 120, "services": 24})


def test_the_default_targets_are_the_seeds_per_month_quarter_and_contract() -> None:
    contract = Contract()
    month = contract.period("month", date(2026, 5, 20))
    quarter = contract.period("quarter", date(2026, 5, 20))
    whole = contract.period("contract", date(2026, 5, 20))
    assert (month.first, month.last) == (date(2026, 5, 1), date(2026, 5, 31))
    assert (quarter.first, quarter.last) == (date(2026, 4, 1), date(2026, 6, 30))
    assert (whole.first, whole.last) == (date(2026, 1, 1), date(2026, 12, 31))
    assert round(float(contract.target("tickets", month, CALENDAR)), 2) == 833.33
    assert round(float(contract.target("services", month, CALENDAR)), 2) == 45416.67
    assert contract.target("tickets", quarter, CALENDAR) == 2500
    assert contract.target("total", whole, CALENDAR) == 555_000


def test_days_and_weeks_share_their_months_target_by_working_time() -> None:
    # November 2026 has 21 working days; October 18 (National Day off, Saturday 10th worked).
    nov = Fraction(10, 21)
    assert SMALL.target("tickets", SMALL.period("day", date(2026, 11, 2)), CALENDAR) == nov
    assert SMALL.target("tickets", SMALL.period("day", date(2026, 11, 1)), CALENDAR) == 0
    assert SMALL.target("tickets", SMALL.period("week", date(2026, 11, 11)), CALENDAR) == 5 * nov
    saturday = SMALL.period("day", date(2026, 10, 10))  # 调休: a working Saturday
    assert SMALL.target("tickets", saturday, CALENDAR) == Fraction(10, 18)
    national_day = SMALL.period("day", date(2026, 10, 5))
    assert SMALL.target("tickets", national_day, CALENDAR) == 0


def test_plan_to_date_is_linear_in_working_time_and_the_warning_has_a_margin() -> None:
    month = SMALL.period("month", date(2026, 11, 13))
    evening = datetime(2026, 11, 13, 18, 0, tzinfo=SHANGHAI)  # 10 of 21 working days gone
    behind = progress(SMALL, CALENDAR, month, "tickets", 4, evening)
    assert behind.plan == Fraction(100, 21)  # 4.76
    assert behind.elapsed_share == Fraction(10, 21)
    assert behind.forecast == Fraction(42, 5)  # 4 x 21 / 10 = 8.4
    assert behind.warning  # 4 < 4.76 x 0.95 = 4.52
    shown = behind.as_dict()
    assert (shown["target"], shown["plan_to_date"], shown["deviation"]) == (10.0, 4.76, -0.76)
    assert not progress(SMALL, CALENDAR, month, "tickets", 5, evening).warning
    noon = datetime(2026, 11, 13, 13, 0, tzinfo=SHANGHAI)  # 9.5 working days
    assert progress(SMALL, CALENDAR, month, "tickets", 0, noon).plan == Fraction(95, 21)
    before = datetime(2026, 10, 31, 12, 0, tzinfo=SHANGHAI)
    early = progress(SMALL, CALENDAR, month, "tickets", 0, before)
    assert (early.plan, early.forecast, early.warning) == (0, None, False)


def test_contract_months_follow_the_start_day() -> None:
    contract = Contract(start=date(2026, 3, 15))
    assert contract.period("month", date(2026, 4, 14)).first == date(2026, 3, 15)
    assert contract.period("month", date(2026, 4, 15)).first == date(2026, 4, 15)
    assert contract.end == date(2027, 3, 14)
    assert contract.month_index(date(2026, 3, 14)) == -1
    assert contract.target("tickets", contract.period("month", date(2026, 3, 1)), CALENDAR) == 0
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)


def test_contract_terms_parse_keep_unnamed_values_and_name_the_bad_field() -> None:
    base = ContractTerms()
    terms = ContractTerms.from_mapping(
        {"start": "2026-07-01", "targets": {"tickets": 1200}, "warning_margin": 0.1}, base=base)
    contract = Contract.from_terms(terms)
    assert (contract.start, contract.targets["tickets"], contract.targets["services"]) == (
        date(2026, 7, 1), 1200, 545_000)
    assert (contract.months, contract.warning_margin) == (12, 0.1)
    assert ContractTerms.from_mapping(terms.to_mapping()) == terms
    for bad, field in (
        ({"start": "July"}, "start"),
        ({"months": 0}, "months"),
        ({"months": "12"}, "months"),
        ({"targets": {"tickets": -1}}, "targets.tickets"),
        ({"targets": {"tickets": True}}, "targets.tickets"),
        ({"targets": {"callbacks": 5}}, "targets.callbacks"),
        ({"warning_margin": 1}, "warning_margin"),
        ({"target": {}}, "target"),
    ):
        with pytest.raises(InvalidInputError) as caught:
            ContractTerms.from_mapping(bad, base=base)
        assert caught.value.field == field, bad
    with pytest.raises(InvalidInputError):
        SMALL.period("fortnight", date(2026, 1, 1))


def test_the_contract_book_records_changes_with_reasons_and_skips_no_change() -> None:
    at = datetime(2026, 3, 1, 9, tzinfo=SHANGHAI)
    book = ContractBook(at=at, by="lead")
    assert book.set_terms(ContractTerms(), None, at, "lead")  # the first record needs no reason
    assert not book.set_terms(ContractTerms(), "again", at, "lead")
    with pytest.raises(InvalidInputError) as caught:
        book.set_terms(ContractTerms(months=24), None, at, "lead")
    assert caught.value.field == "reason"
    assert book.set_terms(ContractTerms(months=24), "补充协议: extended", at, "lead")
    assert book.terms.months == 24
    assert [c["reason"] for c in book.changes] == [None, "补充协议: extended"]


def test_statistics_by_hand() -> None:
    four = summary([4, 1, 3, 2])
    assert (four.n, four.mean, four.median) == (4, 2.5, 2.5)
    assert math.isclose(four.stdev or 0, math.sqrt(1.25))
    scores = histogram_summary({1: 1, 5: 3})
    assert (scores.n, scores.mean, scores.median) == (4, 4.0, 5.0)
    assert math.isclose(scores.stdev or 0, math.sqrt(3.0))
    assert histogram_summary({0: 1, 10: 2}, width=10).median == 15.0
    mean, stdev = moments(3, 6, 14)  # 1, 2, 3
    assert (mean, stdev) == (2.0, pytest.approx(math.sqrt(2 / 3)))
    assert pearson([1, 2, 3], [2, 4, 6]) == pytest.approx(1.0)
    assert pearson([1, 2, 3], [5, 5, 5]) is None
    # pairs (1, 2), (2, 4), (3, 6): n=3, Σx=6, Σy=12, Σxy=28, Σx²=14, Σy²=56
    assert pearson_from_sums(3, 6, 12, 28, 14, 56) == pytest.approx(1.0)
    assert growth(110, 100) == pytest.approx(0.1)
    assert growth(5, 0) is None
    trend = linear_trend([1, 2, 3])
    assert trend is not None
    assert (trend.intercept, trend.slope) == (1.0, 1.0)
    assert forecast_total([1, 2, 3], 2) == 9.0  # 4 + 5
    assert forecast_total([3, 2, 1], 5) == 0.0  # never below zero
    assert summary([]).mean is None
