"""Date helpers for BPMN conditions, timers and scripts (German calendar, BGB §§ 187-193).

Conventions:

* Inputs: a ``date``, a ``datetime`` or an ISO 8601 string ("2026-03-31",
  "2026-03-31T10:00:00+02:00", "...Z"). An aware datetime is converted to Europe/Berlin before its
  date is taken (2026-06-30T22:30Z is 2026-07-01); a naive datetime is read as Berlin wall time.
* Outputs: date results are ISO strings ``YYYY-MM-DD`` and datetimes are ISO strings with the
  Berlin offset, because task data must stay JSON-serialisable. Strings compare correctly
  (``deadline(...) < today()``) and can be fed back into every helper.
* "Today" and "now" come only from the engine clock (``engine.clock.now()``), never the wall clock.
* Bad input (unparseable date, unknown state, and also wrong types such as ``None``) raises
  ``ValueError``, so script authors handle one error type (hence the ``noqa: TRY004``).
* Age (``age_on``): BGB § 187 Abs. 2 S. 2 counts the birthday itself, so a year of life is
  complete at the end of the day before the birthday and the person is older from its start.
  Born 29 Feb: in a common year the year ends with 28 Feb (§ 188 Abs. 3), older from 1 Mar.
* Due times (one rule, written and read the same everywhere: the referral record, timers,
  task due dates and the case page): a due time is a moment, written as ISO 8601 with the
  Berlin offset ("2026-03-31T15:37:00+02:00"). ``due_in(start, n)`` is ``n`` calendar days
  after the moment ``start`` at the same Berlin wall time (so a referral sent at 15:37 in winter
  time is due at 15:37 in summer time, not an hour off); ``due_time(value)`` reads one back:
  with an offset as is, a naive datetime as Berlin wall time, a bare date (written by older
  process versions) as 08:00 Berlin time, which is when their timers (``iso_at(d, "08:00")``)
  fire.
* Business days: Monday-Friday that are not public holidays of the given German state
  (``holidays.Germany``; two-letter code such as "NW", "BE", or the state's German name).
  24 and 31 December are no public holidays, so they count as business days.
"""

from __future__ import annotations

import calendar
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import holidays

from engine import clock
from engine.clock import BERLIN

DateLike = date | datetime | str


# --- parsing -------------------------------------------------------------------------------------


def to_date(value: DateLike) -> date:
    """Parse a date, datetime or ISO string into a calendar date (Berlin for aware datetimes)."""
    if isinstance(value, datetime):
        return value.astimezone(BERLIN).date() if value.tzinfo is not None else value.date()
    if isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError(  # noqa: TRY004
            f"expected a date, datetime or ISO date string, got {type(value).__name__}: {value!r}"
        )
    text = value.strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    try:
        return to_date(datetime.fromisoformat(text))
    except ValueError:
        raise ValueError(
            f"not an ISO date or datetime: {value!r} (expected e.g. '2026-03-31' "
            "or '2026-03-31T10:00:00+02:00')"
        ) from None


def _int(value: Any, name: str) -> int:
    """Return ``value`` if it is a whole number (not a bool), else raise ValueError."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number, got {value!r}")  # noqa: TRY004
    return value


def _iso(value: date) -> str:
    """Format a date as YYYY-MM-DD."""
    return value.isoformat()


# --- clock ---------------------------------------------------------------------------------------


def today() -> str:
    """Engine-clock date in Europe/Berlin as 'YYYY-MM-DD'."""
    return _iso(clock.now_berlin().date())


def now() -> str:
    """Engine-clock time in Europe/Berlin as an ISO datetime with offset (seconds precision)."""
    return clock.now_berlin().isoformat(timespec="seconds")


# --- calendar arithmetic -------------------------------------------------------------------------


def add_days(d: DateLike, n: int) -> str:
    """Add ``n`` calendar days (negative goes back)."""
    try:
        return _iso(to_date(d) + timedelta(days=_int(n, "n")))
    except OverflowError:
        raise ValueError(f"date out of range: {d!r} + {n} days") from None


def _add_months(d: date, n: int) -> date:
    """Same day number ``n`` months later, clamped to the month's end (BGB § 188 Abs. 2/3)."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    if not 1 <= year <= 9999:
        raise ValueError(f"date out of range: {d.isoformat()} + {n} months")
    return date(year, month + 1, min(d.day, calendar.monthrange(year, month + 1)[1]))


def add_months(d: DateLike, n: int) -> str:
    """Add ``n`` months keeping the day number, clamped to the month end (01-31 + 1 -> 02-28)."""
    return _iso(_add_months(to_date(d), _int(n, "n")))


def end_of_month(d: DateLike) -> str:
    """Last day of the month of ``d``."""
    day = to_date(d)
    return _iso(day.replace(day=calendar.monthrange(day.year, day.month)[1]))


# --- business days -------------------------------------------------------------------------------


def _state_codes() -> dict[str, str]:
    """Map upper-cased state codes and German state names to holidays' subdivision codes."""
    codes = {code.upper(): code for code in holidays.Germany.subdivisions}
    aliases = getattr(holidays.Germany, "subdivisions_aliases", {}) or {}
    codes.update({name.upper(): code for name, code in aliases.items()})
    return codes


_STATES = _state_codes()


def _state(state: Any) -> str:
    """Validate a German state code (case-insensitive) and return holidays' spelling."""
    code = _STATES.get(state.strip().upper()) if isinstance(state, str) else None
    if code is None:
        known = ", ".join(sorted(c for c in holidays.Germany.subdivisions if len(c) == 2))
        raise ValueError(f"unknown German state {state!r} (expected one of {known})")
    return code


@lru_cache(maxsize=512)
def _holidays(state: str, year: int) -> frozenset[date]:
    """Public holidays of ``state`` in ``year`` (immutable, so safe to share across threads)."""
    return frozenset(holidays.Germany(subdiv=state, years=year).keys())


def _is_business_day(day: date, state: str) -> bool:
    """True for Monday-Friday that is no public holiday in ``state``."""
    return day.weekday() < 5 and day not in _holidays(state, day.year)


def _next_business_day(day: date, state: str) -> date:
    """``day`` itself if it is a business day, else the next one (BGB § 193)."""
    while not _is_business_day(day, state):
        day += timedelta(days=1)
    return day


def is_business_day(d: DateLike, state: str = "NW") -> bool:
    """True unless ``d`` is a Saturday, Sunday or public holiday in ``state``."""
    return _is_business_day(to_date(d), _state(state))


def next_business_day(d: DateLike, state: str = "NW") -> str:
    """``d`` if it is a business day, else the next business day in ``state`` (BGB § 193)."""
    return _iso(_next_business_day(to_date(d), _state(state)))


def deadline(
    start: DateLike, *, days: int = 0, weeks: int = 0, months: int = 0, state: str = "NW"
) -> str:
    """Last day of a period triggered by the event on ``start`` (BGB §§ 187 Abs. 1, 188, 193).

    The event day is not counted (§ 187 Abs. 1). A period of days ends with the last day
    (``start + days``); one of weeks or months ends with the day named or numbered like the event
    day (§ 188 Abs. 2), or the last day of the month if that day is missing (§ 188 Abs. 3).
    Mixed periods add months first, then weeks and days (cf. § 189 Abs. 2). An end on a
    Saturday, Sunday or public holiday in ``state`` moves to the next business day (§ 193).
    The period runs until 24:00 on the returned day. ``start`` is the day of the event itself
    (e.g. service of a notice); a statutory presumption of receipt must be applied by the caller.

    Examples (brief § 6):
    * objection/action period, 1 month from a notice served 2028-01-31 -> 2028-02-29 (Tuesday);
      served 2027-01-31 -> 2027-02-28 is a Sunday -> 2027-03-01; served 2026-01-31 -> 2026-02-28
      is a Saturday -> 2026-03-02.
    * rent-arrears grace period (§ 569 Abs. 3 Nr. 2 BGB), 2 months from service of the eviction
      suit on 2026-03-31 -> 2026-05-31 is a Sunday -> 2026-06-01.
    * residence registration, 2 weeks from moving in on Friday 2026-04-24 -> Friday 2026-05-08.
    """
    n_days, n_weeks, n_months = _int(days, "days"), _int(weeks, "weeks"), _int(months, "months")
    if min(n_days, n_weeks, n_months) < 0 or n_days + n_weeks + n_months == 0:
        raise ValueError("deadline needs days, weeks and months >= 0, at least one of them > 0")
    code = _state(state)
    try:
        end = _add_months(to_date(start), n_months) + timedelta(days=7 * n_weeks + n_days)
    except OverflowError:
        raise ValueError(f"deadline out of range for start {start!r}") from None
    return _iso(_next_business_day(end, code))


# --- relative to today ---------------------------------------------------------------------------


def days_until(d: DateLike) -> int:
    """Whole calendar days from the engine's today (Berlin) to ``d``; negative if ``d`` is past."""
    return (to_date(d) - clock.now_berlin().date()).days


def age_on(birth_date: DateLike, ref_date: DateLike | None = None) -> int:
    """Completed years on ``ref_date`` (default engine today); born 29 Feb -> older on 1 Mar."""
    born = to_date(birth_date)
    ref = clock.now_berlin().date() if ref_date is None else to_date(ref_date)
    if ref < born:
        raise ValueError(f"ref_date {ref.isoformat()} is before birth_date {born.isoformat()}")
    return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))


def iso_at(d: DateLike, at: str = "00:00") -> str:
    """ISO datetime of Berlin wall time ``at`` ('HH:MM[:SS]') on ``d``, with the offset in force."""
    if not isinstance(at, str):
        raise ValueError(f"time must be a string 'HH:MM[:SS]', got {at!r}")  # noqa: TRY004
    try:
        wall = time.fromisoformat(at.strip())
    except ValueError:
        raise ValueError(f"not a time of day: {at!r} (expected 'HH:MM' or 'HH:MM:SS')") from None
    if wall.tzinfo is not None:
        raise ValueError(f"time must be Berlin wall time without offset, got {at!r}")
    local = datetime.combine(to_date(d), wall, tzinfo=BERLIN)
    # A round trip through UTC moves a wall time inside the spring-forward gap past the gap
    # (02:30 on 2026-03-29 -> 03:30+02:00); an ambiguous autumn time keeps its first, +02:00.
    return local.astimezone(UTC).astimezone(BERLIN).isoformat()


# --- due times (see the module docstring) -------------------------------------------------------

BARE_DATE_DUE_AT = time(8, 0)


def to_moment(value: DateLike) -> datetime:
    """A due time as an aware datetime in Europe/Berlin (the reading rule of due times)."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=BERLIN)
    elif isinstance(value, date):
        moment = datetime.combine(value, BARE_DATE_DUE_AT, tzinfo=BERLIN)
    elif isinstance(value, str):
        text = value.strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            try:
                parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
            except ValueError:
                raise ValueError(
                    f"not an ISO date or datetime: {value!r} (expected e.g. "
                    "'2026-03-31T15:37:00+02:00')") from None
            return to_moment(parsed)
        return to_moment(day)
    else:
        raise ValueError(  # noqa: TRY004
            f"expected a date, datetime or ISO string, got {type(value).__name__}: {value!r}")
    # normalise through UTC: a wall time in the spring-forward gap moves past it
    return moment.astimezone(UTC).astimezone(BERLIN)


def due_time(value: DateLike) -> str:
    """A due time written the one way: ISO 8601 with the Berlin offset, to the second."""
    return to_moment(value).isoformat(timespec="seconds")


def due_in(start: DateLike, n: int) -> str:
    """The due time ``n`` calendar days after the moment ``start``, at the same Berlin wall
    time (across a change of summer/winter time too), as ISO 8601 with the Berlin offset."""
    begin = to_moment(start)
    try:
        day = begin.date() + timedelta(days=_int(n, "n"))
    except OverflowError:
        raise ValueError(f"date out of range: {start!r} + {n} days") from None
    return due_time(datetime.combine(day, begin.time(), tzinfo=BERLIN))


HELPERS: dict[str, Callable[..., Any]] = {
    "today": today,
    "now": now,
    "add_days": add_days,
    "add_months": add_months,
    "end_of_month": end_of_month,
    "next_business_day": next_business_day,
    "is_business_day": is_business_day,
    "deadline": deadline,
    "days_until": days_until,
    "age_on": age_on,
    "iso_at": iso_at,
    "due_in": due_in,
    "due_time": due_time,
}
