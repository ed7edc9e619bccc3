"""The working calendar: worked examples from the contract, then properties.

The properties are checked on instants in 2024-2026 (years chinese_calendar knows), and
``duration`` is cross-checked against a deliberately naive reference implementation.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.calendar import SHANGHAI, WorkingCalendar, YearSchedule
from domain.errors import CalendarYearUnknownError, InvalidInputError

CAL = WorkingCalendar()
HOUR = timedelta(hours=1)
DAY = timedelta(hours=8)


def sh(*args: int) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def schedule_2027() -> YearSchedule:
    """A made-up 2027 schedule: New Year's Day (a Friday) off, Saturday 9 January worked."""
    return YearSchedule.from_mapping(
        {
            "year": 2027,
            "holidays": ["2027-01-01"],
            "workdays": ["2027-01-09"],
            "source": "test-2027.json",
        }
    )


# -- worked examples ---------------------------------------------------------------------


def test_due_time_skips_the_national_day_holiday() -> None:
    assert CAL.add_working_days(sh(2026, 9, 30, 16, 30), 1) == sh(2026, 10, 8, 16, 30)


def test_due_time_can_fall_on_an_adjusted_working_saturday() -> None:
    assert chinese_calendar.is_workday(date(2026, 10, 10))
    assert date(2026, 10, 10).weekday() == 5
    assert CAL.add_working_days(sh(2026, 10, 9, 16, 30), 1) == sh(2026, 10, 10, 16, 30)


def test_working_hours_carry_over_an_ordinary_weekend() -> None:
    friday = sh(2026, 3, 6, 16)
    assert CAL.add_working_hours(friday, 2) == sh(2026, 3, 9, 10)


def test_clock_registered_in_the_evening_starts_at_the_next_opening() -> None:
    evening = sh(2026, 3, 4, 20)
    assert CAL.add(evening, timedelta(0)) == sh(2026, 3, 5, 9)
    assert CAL.add_working_hours(evening, 1) == sh(2026, 3, 5, 10)
    assert CAL.duration(evening, sh(2026, 3, 5, 9)) == timedelta(0)


def test_clock_registered_on_a_holiday_starts_after_the_holiday() -> None:
    assert CAL.next_opening(sh(2026, 10, 3, 11)) == sh(2026, 10, 8, 9)


def test_clock_registered_before_opening_starts_at_nine() -> None:
    assert CAL.next_opening(sh(2026, 3, 4, 7, 59)) == sh(2026, 3, 4, 9)


def test_closing_time_itself_counts_as_within_service_hours() -> None:
    closing = sh(2026, 3, 4, 17)
    assert CAL.next_opening(closing) == closing
    assert CAL.add(closing, timedelta(0)) == closing
    just_after = closing + timedelta(microseconds=1)
    assert CAL.next_opening(just_after) == sh(2026, 3, 5, 9)


def test_a_deadline_reached_at_closing_stays_at_closing() -> None:
    assert CAL.add_working_days(sh(2026, 3, 4, 9), 1) == sh(2026, 3, 4, 17)


def test_half_a_working_day_is_four_hours() -> None:
    assert CAL.working_day_length() == timedelta(hours=8)
    assert CAL.add_working_days(sh(2026, 3, 4, 9), 0.5) == sh(2026, 3, 4, 13)


def test_deadlines_cross_new_year_using_both_years() -> None:
    start = sh(2024, 12, 31, 16)
    due = CAL.add_working_hours(start, 2)
    assert due == sh(2025, 1, 2, 10)
    assert CAL.duration(start, due) == 2 * HOUR


def test_results_are_given_in_shanghai_time_whatever_the_input_zone() -> None:
    start_utc = datetime(2026, 3, 4, 1, 0, tzinfo=UTC)  # 09:00 in Shanghai
    due = CAL.add_working_hours(start_utc, 1)
    assert due.tzinfo is SHANGHAI
    assert due == sh(2026, 3, 4, 10)
    assert due.hour == 10


def test_working_day_check_matches_the_state_council_schedule() -> None:
    assert not CAL.is_working_day(date(2026, 10, 1))
    assert CAL.is_working_day(date(2026, 10, 10))
    assert not CAL.is_working_day(date(2026, 3, 7))
    assert CAL.is_working_day(date(2026, 3, 9))


def test_an_aware_datetime_is_judged_by_its_shanghai_date() -> None:
    # 2026-10-09 20:00 UTC is Saturday 10 October 04:00 in Shanghai, a working Saturday.
    assert CAL.is_working_day(datetime(2026, 10, 9, 20, tzinfo=UTC))


def test_duration_is_zero_when_end_is_not_after_start() -> None:
    t = sh(2026, 3, 4, 10)
    assert CAL.duration(t, t) == timedelta(0)
    assert CAL.duration(t, t - HOUR) == timedelta(0)


def test_duration_counts_only_service_hours_on_working_days() -> None:
    # Wed 30 Sep 10:00 to Thu 8 Oct 10:00: 7 hours, the holiday, then 1 hour.
    assert CAL.duration(sh(2026, 9, 30, 10), sh(2026, 10, 8, 10)) == 8 * HOUR


# -- pauses ------------------------------------------------------------------------------


def test_a_pause_of_one_working_day_moves_the_deadline_by_one_working_day() -> None:
    start = sh(2026, 3, 2, 10)
    paused = [(sh(2026, 3, 2, 14), sh(2026, 3, 3, 14))]
    assert CAL.add_working_days(start, 1, paused) == sh(2026, 3, 4, 10)
    assert CAL.duration(start, sh(2026, 3, 4, 10), paused) == DAY


def test_a_pause_begun_before_the_clock_started_only_counts_after_the_start() -> None:
    start = sh(2026, 3, 2, 10)
    paused = [(sh(2026, 3, 1, 12), sh(2026, 3, 2, 12))]
    assert CAL.add_working_days(start, 1, paused) == sh(2026, 3, 3, 12)


def test_overlapping_pauses_count_once() -> None:
    start = sh(2026, 3, 2, 10)
    overlapping = [
        (sh(2026, 3, 2, 11), sh(2026, 3, 2, 13)),
        (sh(2026, 3, 2, 12), sh(2026, 3, 2, 14)),
        (sh(2026, 3, 2, 12), sh(2026, 3, 2, 12, 30)),
    ]
    union = [(sh(2026, 3, 2, 11), sh(2026, 3, 2, 14))]
    assert CAL.add(start, 2 * HOUR, overlapping) == CAL.add(start, 2 * HOUR, union)
    assert CAL.add(start, 2 * HOUR, overlapping) == sh(2026, 3, 2, 15)


def test_a_deadline_reached_as_a_pause_begins_is_not_pushed_past_the_pause() -> None:
    start = sh(2026, 3, 2, 10)
    paused = [(sh(2026, 3, 2, 12), sh(2026, 3, 5, 12))]
    assert CAL.add(start, 2 * HOUR, paused) == sh(2026, 3, 2, 12)


def test_a_pause_outside_service_hours_changes_nothing() -> None:
    start = sh(2026, 3, 6, 16)
    weekend = [(sh(2026, 3, 6, 18), sh(2026, 3, 9, 8))]
    assert CAL.add_working_hours(start, 2, weekend) == sh(2026, 3, 9, 10)


# -- years and overrides -----------------------------------------------------------------


def test_package_years_are_known_and_2027_is_not() -> None:
    years = CAL.known_years()
    assert years[0] == 2004
    assert years[-1] == 2026
    assert 2027 not in years


def test_a_2027_date_raises_without_an_override() -> None:
    with pytest.raises(CalendarYearUnknownError) as caught:
        CAL.is_working_day(date(2027, 1, 4))
    assert caught.value.year == 2027


def test_a_2003_date_raises_because_the_package_starts_in_2004() -> None:
    with pytest.raises(CalendarYearUnknownError):
        CAL.add_working_days(sh(2003, 6, 2, 10), 1)


def test_a_deadline_running_into_an_unknown_year_raises_rather_than_guessing() -> None:
    with pytest.raises(CalendarYearUnknownError) as caught:
        CAL.add_working_hours(sh(2026, 12, 31, 16), 2)
    assert caught.value.year == 2027
    with pytest.raises(CalendarYearUnknownError):
        CAL.next_opening(sh(2026, 12, 31, 18))


def test_a_2027_override_makes_2027_usable() -> None:
    cal = CAL.with_override(schedule_2027())
    assert 2027 in cal.known_years()
    assert not cal.is_working_day(date(2027, 1, 1))  # a Friday made a holiday
    assert cal.is_working_day(date(2027, 1, 9))  # a Saturday made a working day
    assert not cal.is_working_day(date(2027, 1, 10))  # an ordinary Sunday
    assert cal.is_working_day(date(2027, 1, 4))  # an ordinary Monday
    # Thursday 31 Dec 2026 16:00 + 2h: the Friday holiday and the weekend are skipped.
    assert cal.add_working_hours(sh(2026, 12, 31, 16), 2) == sh(2027, 1, 4, 10)
    # Friday 8 Jan 16:00 + 2h lands on the worked Saturday.
    assert cal.add_working_hours(sh(2027, 1, 8, 16), 2) == sh(2027, 1, 9, 10)
    assert cal.duration(sh(2026, 12, 31, 16), sh(2027, 1, 4, 10)) == 2 * HOUR


def test_with_override_leaves_the_original_calendar_unchanged() -> None:
    original = WorkingCalendar()
    extended = original.with_override(schedule_2027())
    assert extended.is_working_day(date(2027, 1, 4))
    assert 2027 not in original.known_years()
    with pytest.raises(CalendarYearUnknownError):
        original.is_working_day(date(2027, 1, 4))


def test_an_override_for_2026_replaces_the_package_data_for_2026() -> None:
    plain_2026 = YearSchedule(2026, frozenset(), frozenset(), source="no holidays")
    cal = WorkingCalendar([plain_2026])
    assert cal.is_working_day(date(2026, 10, 1))  # National Day is not in the override
    assert not cal.is_working_day(date(2026, 10, 10))  # nor is the adjusted Saturday
    assert cal.add_working_days(sh(2026, 9, 30, 16, 30), 1) == sh(2026, 10, 1, 16, 30)
    assert not cal.is_working_day(date(2025, 10, 1))  # other years still use the package


def test_a_later_override_for_the_same_year_replaces_the_earlier_one() -> None:
    first = schedule_2027()
    second = YearSchedule(2027, frozenset(), frozenset(), source="corrected")
    cal = WorkingCalendar([first]).with_override(second)
    assert cal.is_working_day(date(2027, 1, 1))


def test_two_overrides_for_one_year_in_the_constructor_are_refused() -> None:
    second = YearSchedule(2027, frozenset(), frozenset(), source="other")
    with pytest.raises(InvalidInputError) as caught:
        WorkingCalendar([schedule_2027(), second])
    assert caught.value.field == "overrides[1]"


def test_without_the_package_only_overrides_are_known() -> None:
    cal = WorkingCalendar([schedule_2027()], use_builtin=False)
    assert cal.known_years() == [2027]
    with pytest.raises(CalendarYearUnknownError):
        cal.is_working_day(date(2026, 3, 4))


def test_service_hours_are_local_wall_clock_hours_across_a_daylight_saving_change() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    mon_fri = YearSchedule(2026, frozenset(), frozenset(), source="plain weeks")
    cal = WorkingCalendar([mon_fri], tz=berlin, use_builtin=False)
    friday = datetime(2026, 3, 27, 16, tzinfo=berlin)  # clocks go forward on Sunday 29th
    due = cal.add_working_hours(friday, 2)
    assert due == datetime(2026, 3, 30, 10, tzinfo=berlin)
    assert (due.hour, due.utcoffset()) == (10, timedelta(hours=2))
    assert cal.duration(friday, due) == 2 * HOUR


# -- input validation --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: CAL.add(datetime(2026, 3, 4, 10), HOUR), "start"),
        (lambda: CAL.add_working_days(datetime(2026, 3, 4, 10), 1), "start"),
        (lambda: CAL.duration(sh(2026, 3, 4, 10), datetime(2026, 3, 5, 10)), "end"),
        (lambda: CAL.next_opening(datetime(2026, 3, 4, 10)), "instant"),
        (lambda: CAL.is_working_day(datetime(2026, 3, 4, 10)), "day"),
        (
            lambda: CAL.add(sh(2026, 3, 4, 10), HOUR, [(sh(2026, 3, 4), datetime(2026, 3, 5))]),
            "paused[0]",
        ),
    ],
)
def test_naive_datetimes_are_refused_naming_the_parameter(call, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call()
    assert caught.value.field == field
    assert "timezone-aware" in caught.value.message


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda: CAL.add(sh(2026, 3, 4, 10), -HOUR), "duration"),
        (lambda: CAL.add_working_days(sh(2026, 3, 4, 10), -1), "days"),
        (lambda: CAL.add_working_days(sh(2026, 3, 4, 10), True), "days"),
        (lambda: CAL.add_working_hours(sh(2026, 3, 4, 10), float("nan")), "hours"),
        (lambda: CAL.add_working_hours(sh(2026, 3, 4, 10), float("inf")), "hours"),
        (
            lambda: CAL.add(sh(2026, 3, 4, 10), HOUR, [(sh(2026, 3, 5), sh(2026, 3, 4))]),
            "paused[0]",
        ),
        (lambda: CAL.add(sh(2026, 3, 4, 10), HOUR, [(sh(2026, 3, 5),)]), "paused[0]"),
        (lambda: WorkingCalendar(opens=time(17), closes=time(9)), "closes"),
    ],
)
def test_impossible_arguments_are_refused_naming_the_parameter(call, field: str) -> None:
    with pytest.raises(InvalidInputError) as caught:
        call()
    assert caught.value.field == field


# -- the override format -----------------------------------------------------------------


def valid_mapping(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "year": 2027,
        "holidays": ["2027-01-01", "2027-02-08"],
        "workdays": ["2027-01-09"],
        "source": "国办发明电〔2026〕99号 (test)",
    }
    data.update(changes)
    return data


def test_an_override_mapping_round_trips() -> None:
    schedule = YearSchedule.from_mapping(valid_mapping())
    assert schedule.holidays == {date(2027, 1, 1), date(2027, 2, 8)}
    assert schedule.workdays == {date(2027, 1, 9)}
    assert YearSchedule.from_mapping(schedule.to_mapping()) == schedule
    assert schedule.to_mapping() == valid_mapping()


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"holidays": ["2027-01-01", "2027-01-02"]}, "holidays[1]", "Saturday"),
        ({"workdays": ["2027-01-04"]}, "workdays[0]", "Monday"),
        ({"holidays": ["2027-01-01", "2026-12-31"]}, "holidays[1]", "not in the schedule's year"),
        ({"holidays": ["2027-02-30"]}, "holidays[0]", "not a real date"),
        ({"holidays": ["2027/01/01"]}, "holidays[0]", "YYYY-MM-DD"),
        ({"holidays": [20270101]}, "holidays[0]", "YYYY-MM-DD"),
        ({"holidays": ["2027-01-01", "2027-01-01"]}, "holidays[1]", "twice"),
        ({"holidays": "2027-01-01"}, "holidays", "list"),
        ({"year": "2027"}, "year", "integer"),
        ({"year": True}, "year", "integer"),
        ({"source": " "}, "source", "source"),
        ({"workday": []}, "workday", "unknown field"),
    ],
)
def test_a_bad_override_mapping_is_refused_naming_the_field(
    changes: dict[str, object], field: str, words: str
) -> None:
    with pytest.raises(InvalidInputError) as caught:
        YearSchedule.from_mapping(valid_mapping(**changes))
    assert caught.value.field == field
    assert words in caught.value.message


def test_an_override_mapping_missing_a_key_is_refused() -> None:
    data = valid_mapping()
    del data["workdays"]
    with pytest.raises(InvalidInputError) as caught:
        YearSchedule.from_mapping(data)
    assert caught.value.field == "workdays"


def test_a_schedule_built_directly_is_checked_too() -> None:
    with pytest.raises(InvalidInputError) as caught:
        YearSchedule(2027, frozenset({date(2027, 1, 2)}), frozenset(), source="x")
    assert caught.value.field == "holidays"


@given(
    year=st.integers(1990, 2100),
    offsets=st.sets(st.integers(0, 364), max_size=40),
    source=st.text(min_size=1).filter(str.strip),
)
def test_any_valid_schedule_round_trips_through_its_mapping(
    year: int, offsets: set[int], source: str
) -> None:
    days = [date(year, 1, 1) + timedelta(days=n) for n in offsets]
    schedule = YearSchedule(
        year,
        frozenset(d for d in days if d.weekday() < 5),
        frozenset(d for d in days if d.weekday() >= 5),
        source=source,
    )
    assert YearSchedule.from_mapping(schedule.to_mapping()) == schedule


# -- properties --------------------------------------------------------------------------

SECOND = timedelta(seconds=1)
MAX_SPAN = 30 * 8 * 3600  # thirty working days, in seconds

service_edges = st.sampled_from(
    [time(0), time(8, 59, 59), time(9), time(12, 30), time(16, 59, 59), time(17), time(17, 0, 1)]
)


@st.composite
def instants(draw: st.DrawFn) -> datetime:
    """Instants in 2024 - Aug 2026, often exactly at or next to opening and closing."""
    day = draw(st.dates(date(2024, 1, 1), date(2026, 8, 31)))
    moment = draw(service_edges) if draw(st.booleans()) else draw(st.times())
    return datetime.combine(day, moment, tzinfo=SHANGHAI)


durations = st.one_of(
    st.integers(0, MAX_SPAN).map(lambda s: s * SECOND),
    st.integers(0, MAX_SPAN // 60).map(lambda m: m * timedelta(minutes=1)),
    st.integers(0, 30).map(lambda n: n * DAY),
)


@st.composite
def pauses(draw: st.DrawFn, around: datetime) -> list[tuple[datetime, datetime]]:
    """Up to three pauses near ``around``, possibly overlapping or starting before it."""
    found = []
    for _ in range(draw(st.integers(0, 3))):
        begin = around + draw(st.integers(-5 * 86400, 30 * 86400)) * SECOND
        length = draw(st.integers(0, 10 * 86400)) * SECOND
        found.append((begin, begin + length))
    return found


def in_service_hours(instant: datetime) -> bool:
    local = instant.astimezone(SHANGHAI)
    return chinese_calendar.is_workday(local.date()) and time(9) <= local.time() <= time(17)


def reference_duration(
    start: datetime, end: datetime, paused: list[tuple[datetime, datetime]]
) -> timedelta:
    """Slow but obvious: cut time at every boundary, then test each piece's midpoint."""
    if end <= start:
        return timedelta(0)
    day = start.astimezone(SHANGHAI).date()
    hours = []
    while day <= end.astimezone(SHANGHAI).date():
        if chinese_calendar.is_workday(day):
            hours.append(
                (
                    datetime.combine(day, time(9), tzinfo=SHANGHAI),
                    datetime.combine(day, time(17), tzinfo=SHANGHAI),
                )
            )
        day += timedelta(days=1)
    cuts = {start, end}
    for a, b in hours + paused:
        cuts.update((a, b))
    points = sorted(c for c in cuts if start <= c <= end)
    total = timedelta(0)
    for a, b in pairwise(points):
        middle = a + (b - a) / 2
        working = any(o <= middle < c for o, c in hours)
        waiting = any(p <= middle < q for p, q in paused)
        if working and not waiting:
            total += b - a
    return total


@given(t=instants(), a=durations, b=durations)
def test_adding_twice_is_adding_the_sum(t: datetime, a: timedelta, b: timedelta) -> None:
    assert CAL.add(CAL.add(t, a), b) == CAL.add(t, a + b)


@given(t=instants(), d=durations)
def test_duration_undoes_add(t: datetime, d: timedelta) -> None:
    assert CAL.duration(t, CAL.add(t, d)) == d


@given(t=instants(), d=durations)
def test_add_gives_the_earliest_instant_with_enough_working_time(t: datetime, d: timedelta) -> None:
    due = CAL.add(t, d)
    assert due >= t
    if d > timedelta(0):
        assert CAL.duration(t, due - timedelta(microseconds=1)) < d
    else:
        assert due == CAL.next_opening(t)


@given(t=instants(), d=durations, p=st.data())
def test_results_always_fall_within_service_hours_on_a_working_day(
    t: datetime, d: timedelta, p: st.DataObject
) -> None:
    assert in_service_hours(CAL.add(t, d))
    assert in_service_hours(CAL.add(t, d, p.draw(pauses(t))))
    assert in_service_hours(CAL.next_opening(t))


@given(t=instants(), a=durations, b=durations)
def test_add_is_monotone_in_the_duration(t: datetime, a: timedelta, b: timedelta) -> None:
    short, long = sorted((a, b))
    assert CAL.add(t, short) <= CAL.add(t, long)


@given(x=instants(), y=instants(), z=instants())
def test_durations_add_up_over_consecutive_spans(x: datetime, y: datetime, z: datetime) -> None:
    a, b, c = sorted((x, y, z))
    assert CAL.duration(a, b) + CAL.duration(b, c) == CAL.duration(a, c)


@given(t=instants(), d=durations, data=st.data())
def test_duration_undoes_add_with_pauses(t: datetime, d: timedelta, data: st.DataObject) -> None:
    paused = data.draw(pauses(t))
    assert CAL.duration(t, CAL.add(t, d, paused), paused) == d


@given(t=instants(), a=durations, b=durations, data=st.data())
def test_adding_twice_is_adding_the_sum_with_pauses(
    t: datetime, a: timedelta, b: timedelta, data: st.DataObject
) -> None:
    paused = data.draw(pauses(t))
    assert CAL.add(CAL.add(t, a, paused), b, paused) == CAL.add(t, a + b, paused)


@settings(max_examples=200)
@given(t=instants(), d=durations, data=st.data())
def test_duration_agrees_with_a_naive_reference(
    t: datetime, d: timedelta, data: st.DataObject
) -> None:
    end = t + d * 2  # calendar time, so spans cover nights, weekends and holidays
    paused = data.draw(pauses(t))
    assert CAL.duration(t, end, paused) == reference_duration(t, end, paused)
    assert CAL.duration(t, end) == reference_duration(t, end, [])


@given(t=instants())
def test_next_opening_adds_no_working_time(t: datetime) -> None:
    opening = CAL.next_opening(t)
    assert opening >= t
    assert CAL.duration(t, opening) == timedelta(0)
    assert CAL.next_opening(opening) == opening


@given(day=st.dates(date(2004, 1, 1), date(2026, 12, 31)))
def test_working_days_agree_with_chinese_calendar(day: date) -> None:
    assert CAL.is_working_day(day) == chinese_calendar.is_workday(day)


# -- the documentation -------------------------------------------------------------------

OVERRIDE_DOC = Path(__file__).resolve().parents[2] / "docs" / "calendar-overrides.md"


def test_the_documented_override_example_parses_and_matches_the_package() -> None:
    text = OVERRIDE_DOC.read_text(encoding="utf-8")
    blocks = re.findall(r"```json\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        schedule = YearSchedule.from_mapping(json.loads(block))
        with_override = WorkingCalendar([schedule])
        first = date(schedule.year, 1, 1)
        for n in range(365):
            day = first + timedelta(days=n)
            assert with_override.is_working_day(day) == chinese_calendar.is_workday(day), day


# -- helpers used by the ledger ----------------------------------------------------------


def test_local_date_is_the_date_in_shanghai() -> None:
    assert CAL.local_date(datetime(2026, 3, 4, 17, tzinfo=UTC)) == date(2026, 3, 5)


def test_check_known_raises_only_for_unknown_years() -> None:
    CAL.check_known(sh(2026, 12, 31, 23))
    CAL.check_known(date(2004, 1, 1))
    with pytest.raises(CalendarYearUnknownError):
        CAL.check_known(datetime(2026, 12, 31, 16, tzinfo=UTC))  # 2027-01-01 in Shanghai
    with pytest.raises(InvalidInputError) as caught:
        CAL.check_known(datetime(2026, 3, 4))
    assert caught.value.field == "instant"
