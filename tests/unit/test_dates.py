"""Tests for processes.dates: hand-checked German calendar dates and BGB deadline arithmetic."""

from __future__ import annotations

import calendar
import json
from datetime import UTC, date, datetime, timedelta

import pytest

from engine.clock import BERLIN, SettableClock, using
from processes import dates
from processes.dates import (
    HELPERS,
    add_days,
    add_months,
    age_on,
    days_until,
    deadline,
    end_of_month,
    is_business_day,
    iso_at,
    next_business_day,
    now,
    today,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)


def _easter(year: int) -> date:
    """Easter Sunday by the anonymous Gregorian algorithm (independent of the holidays library)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    g = (8 * b + 13) // 25
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    el = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * el) // 451
    month, day = divmod(h + el - 7 * m + 114, 31)
    return date(year, month, day + 1)


# --- the calendar facts the expectations below rely on (checked with the calendar module) ------


@pytest.mark.parametrize(
    ("iso", "weekday"),
    [
        ("2026-01-31", SAT),
        ("2026-02-28", SAT),
        ("2026-03-02", MON),
        ("2027-02-28", SUN),
        ("2027-03-01", MON),
        ("2028-02-29", TUE),
        ("2026-04-03", FRI),
        ("2026-04-07", TUE),
        ("2026-05-01", FRI),
        ("2026-05-04", MON),
        ("2026-05-31", SUN),
        ("2026-06-04", THU),
        ("2026-12-25", FRI),
        ("2026-12-26", SAT),
        ("2026-12-28", MON),
        ("2025-10-03", FRI),
        ("2027-11-01", MON),
        ("2026-03-29", SUN),
        ("2026-10-25", SUN),
    ],
)
def test_calendar_facts(iso: str, weekday: int) -> None:
    assert calendar.weekday(*map(int, iso.split("-"))) == weekday


def test_easter_2026_is_5_april() -> None:
    assert _easter(2026) == date(2026, 4, 5)
    assert _easter(2027) == date(2027, 3, 28)
    assert _easter(2024) == date(2024, 3, 31)
    assert _easter(2019) == date(2019, 4, 21)


# --- input parsing -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        date(2026, 3, 31),
        datetime(2026, 3, 31, 10, 0),
        datetime(2026, 3, 31, 10, 0, tzinfo=BERLIN),
        "2026-03-31",
        " 2026-03-31 ",
        "2026-03-31T10:00:00+02:00",
        "2026-03-31T10:00:00",
        "2026-03-30T22:30:00Z",  # already 31 March in Berlin (00:30 CEST)
    ],
)
def test_accepts_dates_datetimes_and_iso_strings(value: object) -> None:
    assert add_days(value, 0) == "2026-03-31"


def test_aware_datetime_converted_to_berlin_date() -> None:
    assert add_days(datetime(2026, 6, 30, 22, 30, tzinfo=UTC), 0) == "2026-07-01"
    assert add_days(datetime(2026, 6, 30, 21, 59, tzinfo=UTC), 0) == "2026-06-30"


@pytest.mark.parametrize("value", ["31.03.2026", "2026-02-30", "", "tomorrow", "2026-13-01"])
def test_unparseable_strings_raise_value_error(value: str) -> None:
    with pytest.raises(ValueError, match="not an ISO date"):
        add_days(value, 1)


@pytest.mark.parametrize("value", [None, 20260331, 3.5, ["2026-03-31"]])
def test_wrong_types_raise_value_error(value: object) -> None:
    with pytest.raises(ValueError, match="expected a date"):
        end_of_month(value)  # type: ignore[arg-type]


@pytest.mark.parametrize("n", [True, "3", 1.5, None])
def test_counts_must_be_whole_numbers(n: object) -> None:
    with pytest.raises(ValueError, match="whole number"):
        add_days("2026-01-01", n)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="whole number"):
        add_months("2026-01-01", n)  # type: ignore[arg-type]


# --- add_days / add_months / end_of_month --------------------------------------------------------


def test_add_days() -> None:
    assert add_days("2026-12-30", 3) == "2027-01-02"
    assert add_days("2026-03-01", -1) == "2026-02-28"
    assert add_days("2024-03-01", -1) == "2024-02-29"
    with pytest.raises(ValueError, match="out of range"):
        add_days("9999-12-31", 1)


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-01-31", 1, "2026-02-28"),
        ("2024-01-31", 1, "2024-02-29"),
        ("2028-01-31", 1, "2028-02-29"),
        ("2026-03-31", -1, "2026-02-28"),
        ("2024-03-31", -1, "2024-02-29"),
        ("2026-08-31", 6, "2027-02-28"),
        ("2026-08-31", 1, "2026-09-30"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2024-02-29", 48, "2028-02-29"),
        ("2028-02-29", -12, "2027-02-28"),
        ("2026-12-15", 1, "2027-01-15"),
        ("2026-01-15", -1, "2025-12-15"),
        ("2026-05-31", -3, "2026-02-28"),
        ("2026-02-28", 1, "2026-03-28"),  # no "end of month stays end of month" rule
        ("2026-03-31", 0, "2026-03-31"),
        ("2026-03-31", -25, "2024-02-29"),
    ],
)
def test_add_months_clamps_to_month_end(start: str, n: int, expected: str) -> None:
    assert add_months(start, n) == expected


def test_add_months_out_of_range() -> None:
    with pytest.raises(ValueError, match="out of range"):
        add_months("9999-12-01", 1)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-02-10", "2026-02-28"),
        ("2028-02-01", "2028-02-29"),
        ("2026-12-05", "2026-12-31"),
        ("2026-04-30", "2026-04-30"),
        ("2026-04-30T23:30:00Z", "2026-05-31"),  # 1 May in Berlin
    ],
)
def test_end_of_month(value: str, expected: str) -> None:
    assert end_of_month(value) == expected


# --- business days -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "state", "expected"),
    [
        ("2026-04-08", "NW", "2026-04-08"),  # ordinary Wednesday
        ("2026-03-28", "NW", "2026-03-30"),  # Saturday
        ("2026-04-03", "NW", "2026-04-07"),  # Good Friday -> weekend -> Easter Monday -> Tuesday
        ("2026-04-06", "NW", "2026-04-07"),  # Easter Monday
        ("2026-05-01", "NW", "2026-05-04"),  # Labour Day, a Friday
        ("2026-12-25", "NW", "2026-12-28"),  # Christmas Fri, 26 Dec Sat, Sunday
        ("2026-12-24", "NW", "2026-12-24"),  # Christmas Eve is no public holiday
        ("2026-06-04", "NW", "2026-06-05"),  # Corpus Christi in NRW
        ("2026-06-04", "BY", "2026-06-05"),
        ("2026-06-04", "BE", "2026-06-04"),  # ... but not in Berlin
        ("2027-11-01", "NW", "2027-11-02"),  # All Saints (a Monday) in NRW
        ("2027-11-01", "BE", "2027-11-01"),  # ... but not in Berlin
        ("2025-10-03", "NW", "2025-10-06"),  # German Unity Day, a Friday, nationwide
        ("2025-10-03", "BE", "2025-10-06"),
        ("2027-03-08", "BE", "2027-03-09"),  # Women's Day only in Berlin
        ("2027-03-08", "NW", "2027-03-08"),
        ("2028-01-01", "NW", "2028-01-03"),
    ],
)
def test_next_business_day(day: str, state: str, expected: str) -> None:
    assert next_business_day(day, state=state) == expected
    assert is_business_day(day, state) is (day == expected)
    assert is_business_day(expected, state)


def test_next_business_day_defaults_to_nrw() -> None:
    assert next_business_day("2026-06-04") == "2026-06-05"
    assert not is_business_day("2026-11-01")  # All Saints 2026 (also a Sunday)
    assert not is_business_day("2026-10-03")  # German Unity Day 2026 (also a Saturday)


def test_good_friday_and_easter_monday_follow_easter() -> None:
    easter = _easter(2026)
    assert not is_business_day(easter - timedelta(days=2))
    assert not is_business_day(easter + timedelta(days=1))
    assert is_business_day(easter + timedelta(days=2))


@pytest.mark.parametrize("state", ["nw", " NW ", "Nordrhein-Westfalen", "nordrhein-westfalen"])
def test_state_spellings(state: str) -> None:
    assert next_business_day("2026-06-04", state=state) == "2026-06-05"


@pytest.mark.parametrize("state", ["XX", "NRW", "", None, 5])
def test_unknown_state_raises_value_error(state: object) -> None:
    with pytest.raises(ValueError, match="unknown German state"):
        next_business_day("2026-06-04", state=state)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown German state"):
        deadline("2026-06-04", days=1, state=state)  # type: ignore[arg-type]


# --- deadline (BGB §§ 187 Abs. 1, 188, 193) ------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "period", "expected"),
    [
        ("2026-04-01", {"days": 1}, "2026-04-02"),  # event day not counted
        ("2026-04-01", {"days": 14}, "2026-04-15"),
        ("2026-04-24", {"weeks": 2}, "2026-05-08"),  # § 17 BMG: Friday to Friday
        ("2028-01-31", {"months": 1}, "2028-02-29"),  # leap year, a Tuesday
        ("2027-01-31", {"months": 1}, "2027-03-01"),  # 28 Feb 2027 is a Sunday
        ("2026-01-31", {"months": 1}, "2026-03-02"),  # 28 Feb 2026 is a Saturday
        ("2026-03-31", {"months": 2}, "2026-06-01"),  # Schonfrist: 31 May 2026 is a Sunday
        ("2026-03-06", {"weeks": 4}, "2026-04-07"),  # ends on Good Friday
        ("2026-01-31", {"months": 1, "days": 15}, "2026-03-16"),  # 28 Feb + 15 = Sun 15 Mar
        ("2026-01-30T23:30:00Z", {"months": 1}, "2026-03-02"),  # served 31 Jan, Berlin time
    ],
)
def test_deadline(start: str, period: dict[str, int], expected: str) -> None:
    assert deadline(start, **period) == expected


def test_deadline_holiday_depends_on_state() -> None:
    assert deadline("2026-05-04", months=1) == "2026-06-05"  # Corpus Christi in NRW
    assert deadline("2026-05-04", months=1, state="BE") == "2026-06-04"


@pytest.mark.parametrize("period", [{}, {"days": 0}, {"days": -1}, {"months": 1, "weeks": -1}])
def test_deadline_needs_a_positive_period(period: dict[str, int]) -> None:
    with pytest.raises(ValueError, match="deadline needs"):
        deadline("2026-01-31", **period)


# --- clock-relative helpers ----------------------------------------------------------------------


def test_today_and_now_read_the_engine_clock_in_berlin() -> None:
    with using(SettableClock(datetime(2026, 6, 30, 22, 30, tzinfo=UTC))):
        assert today() == "2026-07-01"
        assert now() == "2026-07-01T00:30:00+02:00"
        assert days_until("2026-07-01") == 0
        assert days_until("2026-06-30") == -1
        assert days_until("2026-07-31") == 30
    with using(SettableClock(datetime(2026, 6, 30, 21, 59, tzinfo=UTC))):
        assert today() == "2026-06-30"
        assert days_until("2026-07-01") == 1
    with using(SettableClock(datetime(2026, 12, 31, 23, 15, tzinfo=UTC))):
        assert today() == "2027-01-01"
        assert now() == "2027-01-01T00:15:00+01:00"


def test_clock_can_be_advanced() -> None:
    clock = SettableClock(datetime(2030, 1, 1, 12, tzinfo=UTC))
    with using(clock):
        assert today() == "2030-01-01"
        clock.advance(timedelta(days=10))
        assert today() == "2030-01-11"
        assert days_until(add_days(today(), 5)) == 5


@pytest.mark.parametrize(
    ("birth", "ref", "expected"),
    [
        ("2000-05-10", "2026-05-09", 25),
        ("2000-05-10", "2026-05-10", 26),  # older from the start of the birthday
        ("2024-02-29", "2025-02-28", 0),
        ("2024-02-29", "2025-03-01", 1),  # born 29 Feb: older on 1 Mar in common years
        ("2024-02-29", "2028-02-28", 3),
        ("2024-02-29", "2028-02-29", 4),
        ("2020-09-30", "2026-09-30", 6),  # turns 6 by 30 Sept (school start, § 35 SchulG NRW)
        ("2026-01-01", "2026-01-01", 0),
    ],
)
def test_age_on(birth: str, ref: str, expected: int) -> None:
    assert age_on(birth, ref) == expected


def test_age_on_defaults_to_engine_today() -> None:
    with using(SettableClock(datetime(2026, 5, 9, 22, 30, tzinfo=UTC))):  # 10 May in Berlin
        assert age_on("2000-05-10") == 26
    with pytest.raises(ValueError, match="before birth_date"):
        age_on("2026-05-10", "2026-05-09")


# --- iso_at --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "at", "expected"),
    [
        ("2026-03-28", "08:00", "2026-03-28T08:00:00+01:00"),
        ("2026-03-29", "08:00", "2026-03-29T08:00:00+02:00"),  # DST started 02:00 -> 03:00
        ("2026-10-24", "08:00", "2026-10-24T08:00:00+02:00"),
        ("2026-10-25", "08:00", "2026-10-25T08:00:00+01:00"),  # DST ended 03:00 -> 02:00
        ("2026-03-29", "02:30", "2026-03-29T03:30:00+02:00"),  # wall time in the gap
        ("2026-10-25", "02:30", "2026-10-25T02:30:00+02:00"),  # ambiguous: first occurrence
        ("2026-07-01", "08:00:30", "2026-07-01T08:00:30+02:00"),
        ("2026-06-30T22:30:00Z", "08:00", "2026-07-01T08:00:00+02:00"),
    ],
)
def test_iso_at(day: str, at: str, expected: str) -> None:
    assert iso_at(day, at) == expected


def test_iso_at_is_the_right_instant() -> None:
    assert datetime.fromisoformat(iso_at("2026-03-29", "08:00")) == datetime(
        2026, 3, 29, 6, tzinfo=UTC
    )
    assert iso_at("2026-12-01") == "2026-12-01T00:00:00+01:00"


@pytest.mark.parametrize("at", ["8 Uhr", "25:00", "08:00+02:00", "", None])
def test_iso_at_rejects_bad_times(at: object) -> None:
    with pytest.raises(ValueError, match="time"):
        iso_at("2026-03-29", at)  # type: ignore[arg-type]


# --- registry ------------------------------------------------------------------------------------


def test_helpers_registry() -> None:
    assert set(HELPERS) == {
        "today",
        "now",
        "add_days",
        "add_months",
        "end_of_month",
        "next_business_day",
        "is_business_day",
        "deadline",
        "days_until",
        "age_on",
        "iso_at",
        "due_in",
        "due_time",
    }
    assert all(HELPERS[name] is getattr(dates, name) for name in HELPERS)


def test_results_are_json_values() -> None:
    with using(SettableClock(datetime(2026, 6, 30, 22, 30, tzinfo=UTC))):
        values = [
            today(),
            now(),
            add_days(today(), 1),
            add_months(today(), 1),
            end_of_month(today()),
            next_business_day(today()),
            is_business_day(today()),
            deadline(today(), months=1),
            days_until("2026-12-31"),
            age_on("2000-01-01"),
            iso_at(today(), "08:00"),
        ]
    assert json.loads(json.dumps(values)) == values


# --- due times (one rule for writing and reading them) -------------------------------------------


@pytest.mark.parametrize(
    ("start", "n", "expected"),
    [
        ("2026-01-12T15:37:00+01:00", 5, "2026-01-17T15:37:00+01:00"),  # winter time
        ("2026-07-13T15:37:00+02:00", 5, "2026-07-18T15:37:00+02:00"),  # summer time
        ("2026-03-26T15:37:00+01:00", 5, "2026-03-31T15:37:00+02:00"),  # into summer time
        ("2026-10-22T15:37:00+02:00", 5, "2026-10-27T15:37:00+01:00"),  # into winter time
        ("2026-03-26T14:37:00Z", 5, "2026-03-31T15:37:00+02:00"),  # UTC in, Berlin out
        ("2026-03-28T02:30:00+01:00", 1, "2026-03-29T03:30:00+02:00"),  # lands in the gap
        ("2026-03-02", 5, "2026-03-07T08:00:00+01:00"),  # a bare day: 08:00 Berlin
    ],
)
def test_due_in_keeps_the_berlin_wall_time(start: str, n: int, expected: str) -> None:
    assert dates.due_in(start, n) == expected


def test_due_time_reads_every_spelling_to_the_same_instant() -> None:
    instant = datetime(2026, 3, 31, 13, 37, tzinfo=UTC)
    for spelling in ("2026-03-31T15:37:00+02:00", "2026-03-31T13:37:00Z",
                     "2026-03-31T15:37:00", datetime(2026, 3, 31, 15, 37), instant):
        assert datetime.fromisoformat(dates.due_time(spelling)) == instant
    assert dates.due_time("2026-12-01") == "2026-12-01T08:00:00+01:00"
    with pytest.raises(ValueError, match="ISO"):
        dates.due_time("31.03.2026")
    with pytest.raises(ValueError):
        dates.due_time(None)  # type: ignore[arg-type]
