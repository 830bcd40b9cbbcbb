"""Deadlines in working and calendar days, on a jurisdiction's public-holiday calendar.

A calendar is named by a code: an ISO 3166 country, optionally followed by a subdivision as the
``holidays`` package spells it (``"GB-ENG"`` England and Wales bank holidays, ``"GB-SCT"``
Scotland, ``"RO"`` Romania, ``"PT"``, ``"FR"``). An unknown code, or the generic workflow
template's placeholder, is refused with :class:`UnknownCalendarError`: a deadline is never
silently counted in calendar days because its calendar is missing.

Counting convention (the same for working and calendar days): day 0 is the start date, and
day *n* is the *n*-th counted day after it. A working day is a Monday to Friday that is not a
public holiday of the calendar (substitute days such as "Boxing Day (observed)" included). A
start on a non-working day is not itself counted: the first working day after it is day 1.

A deadline's ``kind`` says what its date means. ``"target"``: the step should happen by the
end of that day (:func:`status_of` and :func:`is_overdue` are about targets). ``"minimum"``:
the stage lasts at least until that day, the earliest day its next step may be taken.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

import holidays

__all__ = [
    "DEADLINE_KINDS",
    "DEADLINE_UNITS",
    "PLACEHOLDER_CALENDAR",
    "Deadline",
    "UnknownCalendarError",
    "add_calendar_days",
    "add_working_days",
    "deadline_date",
    "holiday_calendar",
    "is_overdue",
    "is_working_day",
    "status_of",
    "working_days_between",
]

DEADLINE_UNITS = ("working", "calendar")
DEADLINE_KINDS = ("target", "minimum")
# The generic workflow template carries this calendar until whoever copies it sets a real one.
PLACEHOLDER_CALENDAR = "CHANGE-ME"
# How close (in days) a target must be to count as "due soon".
DUE_SOON_DAYS = 2

_CODE = re.compile(r"^(?P<country>[A-Z]{2})(?:-(?P<subdiv>[A-Z0-9]{1,4}))?$")

Status = Literal["overdue", "due_soon", "on_time"]


class UnknownCalendarError(ValueError):
    """The calendar code names no holidays calendar (or is the template's placeholder)."""


@dataclass(frozen=True)
class Deadline:
    """``days`` counted in ``unit`` ("working" | "calendar") from the day a stage is entered.

    ``kind`` is "target" (the step is due by then) or "minimum" (the stage lasts at least
    that long; the next step may not be taken earlier).
    """

    days: int
    unit: str
    kind: str
    label: str

    def __post_init__(self) -> None:
        if self.unit not in DEADLINE_UNITS:
            raise ValueError(f"deadline unit {self.unit!r} is not one of {list(DEADLINE_UNITS)}")
        if self.kind not in DEADLINE_KINDS:
            raise ValueError(f"deadline kind {self.kind!r} is not one of {list(DEADLINE_KINDS)}")
        if isinstance(self.days, bool) or not isinstance(self.days, int) or self.days < 0:
            raise ValueError(f"deadline days must be a whole number ≥ 0, not {self.days!r}")


def _parse_code(code: str) -> tuple[str, str | None]:
    if not isinstance(code, str) or not code.strip():
        raise UnknownCalendarError(
            "no holiday calendar is set: give a code such as 'GB-ENG' or 'RO'"
        )
    normalised = code.strip().upper()
    if normalised == PLACEHOLDER_CALENDAR:
        raise UnknownCalendarError(
            f"calendar {code!r} is the generic template's placeholder: copy the template and "
            "set its 'calendar' to the jurisdiction's holiday calendar (for example 'GB-ENG' "
            "or 'RO') before computing deadlines"
        )
    match = _CODE.match(normalised)
    if match is None:
        raise UnknownCalendarError(
            f"unknown holiday calendar {code!r}: expected a country code with an optional "
            "subdivision, such as 'RO' or 'GB-ENG'"
        )
    country, subdiv = match.group("country"), match.group("subdiv")
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise UnknownCalendarError(
            f"unknown holiday calendar {code!r}: country {country!r} has no holidays calendar"
        )
    if subdiv is not None and subdiv not in supported[country]:
        known = ", ".join(f"{country}-{s}" for s in supported[country]) or "none"
        raise UnknownCalendarError(
            f"unknown holiday calendar {code!r}: {country} has no subdivision {subdiv!r} "
            f"(known: {known})"
        )
    return country, subdiv


@cache
def holiday_calendar(code: str) -> holidays.HolidayBase:
    """The ``holidays`` calendar for ``code`` ("GB-ENG", "RO", ...); cached per code.

    Raises :class:`UnknownCalendarError` naming the code when it is unknown or a placeholder.
    """
    country, subdiv = _parse_code(code)
    return holidays.country_holidays(country, subdiv=subdiv)


@cache
def _holidays_in(code: str, year: int) -> frozenset[dt.date]:
    # One immutable set per calendar and year: the shared holidays object fills itself in
    # lazily, which is not safe to share between threads; these sets are.
    country, subdiv = _parse_code(code)
    return frozenset(holidays.country_holidays(country, subdiv=subdiv, years=year).keys())


def is_working_day(day: dt.date, calendar: str) -> bool:
    """Monday to Friday and not a public holiday of ``calendar``."""
    return day.weekday() < 5 and day not in _holidays_in(calendar, day.year)


def _as_date(value: dt.date) -> dt.date:
    # A datetime is a date too; deadlines are whole days.
    return value.date() if isinstance(value, dt.datetime) else value


def add_working_days(start: dt.date, days: int, calendar: str) -> dt.date:
    """The ``days``-th working day after ``start`` (``days=0`` gives ``start`` itself)."""
    if days < 0:
        raise ValueError(f"days must be ≥ 0, not {days}")
    holiday_calendar(calendar)  # refuse an unknown calendar even for days=0
    day = _as_date(start)
    counted = 0
    while counted < days:
        day += dt.timedelta(days=1)
        if is_working_day(day, calendar):
            counted += 1
    return day


def working_days_between(start: dt.date, end: dt.date, calendar: str) -> int:
    """Working days after ``start`` up to and including ``end``.

    The inverse of :func:`add_working_days`: ``working_days_between(s, add_working_days(s, n,
    c), c) == n``. Negative when ``end`` is before ``start``.
    """
    holiday_calendar(calendar)
    start, end = _as_date(start), _as_date(end)
    if end < start:
        return -working_days_between(end, start, calendar)
    # Weekdays in (start, end] by whole weeks, then the remainder day by day.
    span = (end - start).days
    weeks, rest = divmod(span, 7)
    count = weeks * 5
    day = start + dt.timedelta(days=weeks * 7)
    for _ in range(rest):
        day += dt.timedelta(days=1)
        if day.weekday() < 5:
            count += 1
    for year in range(start.year, end.year + 1):
        count -= sum(
            1 for h in _holidays_in(calendar, year) if start < h <= end and h.weekday() < 5
        )
    return count


def add_calendar_days(start: dt.date, days: int) -> dt.date:
    """``start`` plus ``days`` calendar days."""
    return _as_date(start) + dt.timedelta(days=days)


def deadline_date(start: dt.date, deadline: Deadline, calendar: str) -> dt.date:
    """The date of ``deadline`` for a stage entered on ``start``.

    The calendar is checked for calendar-day deadlines too, so that a workflow whose calendar
    was never set refuses every deadline rather than only some.
    """
    holiday_calendar(calendar)
    if deadline.unit == "working":
        return add_working_days(start, deadline.days, calendar)
    if deadline.unit == "calendar":
        return add_calendar_days(start, deadline.days)
    raise ValueError(f"deadline unit {deadline.unit!r} is not one of {list(DEADLINE_UNITS)}")


def is_overdue(due: dt.date, today: dt.date) -> bool:
    """A target is overdue from the day after its due date."""
    return _as_date(today) > _as_date(due)


def status_of(
    due: dt.date, today: dt.date, *, calendar: str | None = None, soon: int = DUE_SOON_DAYS
) -> Status:
    """ "overdue" after the due date, "due_soon" within ``soon`` days of it, else "on_time".

    Days are calendar days, or working days when a ``calendar`` is given.
    """
    due, today = _as_date(due), _as_date(today)
    if is_overdue(due, today):
        return "overdue"
    left = (due - today).days if calendar is None else working_days_between(today, due, calendar)
    return "due_soon" if left <= soon else "on_time"
