"""Working-day and calendar-day deadlines on public-holiday calendars.

Every expected date is counted by hand in the comment beside it (day 0 is the start date),
never computed by the function under test.
"""

from __future__ import annotations

import datetime as dt

import pytest

from tiphub.screening.deadlines import (
    PLACEHOLDER_CALENDAR,
    Deadline,
    UnknownCalendarError,
    add_calendar_days,
    add_working_days,
    deadline_date,
    holiday_calendar,
    is_overdue,
    is_working_day,
    status_of,
    working_days_between,
)

D = dt.date


def test_friday_plus_one_working_day_is_monday() -> None:
    friday = D(2026, 3, 6)
    assert friday.weekday() == 4
    # Sat 7 and Sun 8 are skipped: Mon 9 is working day 1.
    assert add_working_days(friday, 1, "GB-ENG") == D(2026, 3, 9)
    # Mon 9 (1), Tue 10 (2), Wed 11 (3), Thu 12 (4), Fri 13 (5).
    assert add_working_days(friday, 5, "GB-ENG") == D(2026, 3, 13)


def test_day_zero_is_the_start_even_on_a_weekend() -> None:
    assert add_working_days(D(2026, 3, 6), 0, "GB-ENG") == D(2026, 3, 6)
    assert add_working_days(D(2026, 3, 7), 0, "GB-ENG") == D(2026, 3, 7)


def test_a_start_on_a_saturday_makes_the_next_working_day_day_one() -> None:
    saturday = D(2026, 3, 7)
    assert saturday.weekday() == 5
    # Sun 8 skipped; Mon 9 is day 1, Tue 10 day 2.
    assert add_working_days(saturday, 1, "GB-ENG") == D(2026, 3, 9)
    assert add_working_days(saturday, 2, "GB-ENG") == D(2026, 3, 10)


def test_english_christmas_2026_with_the_boxing_day_substitute() -> None:
    # Thu 24 Dec 2026. Fri 25 Christmas Day, Sat 26 / Sun 27 weekend, Mon 28 substitute
    # Boxing Day: Tue 29 Dec is working day 1.
    assert add_working_days(D(2026, 12, 24), 1, "GB-ENG") == D(2026, 12, 29)
    assert not is_working_day(D(2026, 12, 28), "GB-ENG")
    assert D(2026, 12, 28) in holiday_calendar("GB-ENG")


def test_english_deadline_across_the_year_end() -> None:
    # From Thu 24 Dec 2026: Tue 29 (1), Wed 30 (2), Thu 31 (3), Fri 1 Jan 2027 New Year's
    # Day skipped, Sat 2 / Sun 3 weekend, Mon 4 (4), Tue 5 Jan 2027 (5).
    assert add_working_days(D(2026, 12, 24), 5, "GB-ENG") == D(2027, 1, 5)


def test_english_easter_2027() -> None:
    # Thu 25 Mar 2027. Fri 26 Good Friday, Sat 27 / Sun 28 weekend, Mon 29 Easter Monday:
    # Tue 30 Mar is working day 1.
    assert add_working_days(D(2027, 3, 25), 1, "GB-ENG") == D(2027, 3, 30)
    # Tue 30 (1), Wed 31 (2), Thu 1 Apr (3).
    assert add_working_days(D(2027, 3, 25), 3, "GB-ENG") == D(2027, 4, 1)


def test_scotland_has_no_easter_monday_but_a_second_of_january() -> None:
    # Scotland: Good Friday 26 Mar 2027 is a holiday, Easter Monday 29 Mar is not.
    assert add_working_days(D(2027, 3, 25), 1, "GB-SCT") == D(2027, 3, 29)
    # Thu 31 Dec 2026. England: Fri 1 Jan holiday, weekend, Mon 4 Jan is day 1.
    assert add_working_days(D(2026, 12, 31), 1, "GB-ENG") == D(2027, 1, 4)
    # Scotland: Sat 2 Jan 2027 holiday is substituted on Mon 4 Jan, so Tue 5 Jan is day 1.
    assert add_working_days(D(2026, 12, 31), 1, "GB-SCT") == D(2027, 1, 5)


def test_romanian_national_day_and_saint_andrew() -> None:
    # Fri 27 Nov 2026. Weekend, Mon 30 Nov Saint Andrew, Tue 1 Dec National Day:
    # Wed 2 Dec is working day 1.
    assert add_working_days(D(2026, 11, 27), 1, "RO") == D(2026, 12, 2)
    # The same start in England: Mon 30 Nov is working day 1.
    assert add_working_days(D(2026, 11, 27), 1, "GB-ENG") == D(2026, 11, 30)


def test_romanian_new_year_epiphany_and_saint_john() -> None:
    # Wed 31 Dec 2025. Thu 1 and Fri 2 Jan New Year, weekend 3-4: Mon 5 Jan 2026 is day 1;
    # Tue 6 (Epiphany) and Wed 7 (Saint John) are holidays, so Thu 8 Jan is day 2.
    assert add_working_days(D(2025, 12, 31), 1, "RO") == D(2026, 1, 5)
    assert add_working_days(D(2025, 12, 31), 2, "RO") == D(2026, 1, 8)


def test_orthodox_easter_2026_differs_from_western_easter() -> None:
    # Orthodox Easter 2026 is Sun 12 Apr: Good Friday Fri 10 Apr and Easter Monday Mon 13 Apr
    # are Romanian holidays. From Thu 9 Apr: Tue 14 Apr is working day 1 in Romania.
    assert add_working_days(D(2026, 4, 9), 1, "RO") == D(2026, 4, 14)
    # Western Easter 2026 was 5 Apr, so in England Fri 10 Apr is an ordinary working day.
    assert add_working_days(D(2026, 4, 9), 1, "GB-ENG") == D(2026, 4, 10)


def test_other_country_codes_resolve() -> None:
    # Portugal: Wed 10 Jun 2026 is Portugal Day. From Tue 9 Jun: Thu 11 (1), Fri 12 (2),
    # Mon 15 (3), Tue 16 (4), Wed 17 (5).
    assert add_working_days(D(2026, 6, 9), 5, "PT") == D(2026, 6, 17)
    # France: Tue 14 Jul 2026 is the national day. From Mon 13 Jul, Wed 15 is day 1.
    assert add_working_days(D(2026, 7, 13), 1, "FR") == D(2026, 7, 15)


def test_working_days_between() -> None:
    # The English Christmas example above, counted back: 5 working days.
    assert working_days_between(D(2026, 12, 24), D(2027, 1, 5), "GB-ENG") == 5
    assert working_days_between(D(2027, 1, 5), D(2026, 12, 24), "GB-ENG") == -5
    assert working_days_between(D(2026, 3, 6), D(2026, 3, 9), "GB-ENG") == 1  # Fri -> Mon
    assert working_days_between(D(2026, 3, 7), D(2026, 3, 8), "GB-ENG") == 0  # Sat -> Sun
    assert working_days_between(D(2026, 3, 6), D(2026, 3, 6), "GB-ENG") == 0


def test_working_days_in_england_in_2027() -> None:
    # 2027 has 365 days starting on a Friday: 52 whole weeks (260 weekdays) plus Fri 31 Dec,
    # 261 weekdays. Weekday bank holidays: 1 Jan, 26 Mar, 29 Mar, 3 May, 31 May, 30 Aug,
    # 27 Dec and 28 Dec (Christmas and Boxing Day fall on a weekend and are substituted) = 8.
    # 261 - 8 = 253.
    assert working_days_between(D(2026, 12, 31), D(2027, 12, 31), "GB-ENG") == 253


@pytest.mark.parametrize("calendar", ["GB-ENG", "GB-SCT", "RO"])
def test_working_days_between_inverts_add_working_days(calendar: str) -> None:
    # Two independent implementations (day by day, and by whole weeks minus holidays) agree.
    start = D(2026, 11, 20)
    for offset in range(0, 15):
        first = start + dt.timedelta(days=offset)
        for days in (0, 1, 2, 5, 9, 23):
            end = add_working_days(first, days, calendar)
            assert working_days_between(first, end, calendar) == days


def test_calendar_days() -> None:
    # 20 Dec 2026 + 11 days = 31 Dec; + 19 more = 19 Jan 2027.
    assert add_calendar_days(D(2026, 12, 20), 30) == D(2027, 1, 19)
    # 2028 is a leap year: 15 Feb + 14 = 29 Feb; + 16 more = 16 Mar.
    assert add_calendar_days(D(2028, 2, 15), 30) == D(2028, 3, 16)


def test_deadline_date_by_unit() -> None:
    working = Deadline(5, "working", "target", "decision")
    calendar = Deadline(30, "calendar", "minimum", "recovery period")
    # As in test_english_deadline_across_the_year_end.
    assert deadline_date(D(2026, 12, 24), working, "GB-ENG") == D(2027, 1, 5)
    # 24 Dec + 7 = 31 Dec; + 23 more = 23 Jan 2027 (holidays do not matter).
    assert deadline_date(D(2026, 12, 24), calendar, "GB-ENG") == D(2027, 1, 23)


@pytest.mark.parametrize("code", ["XX", "GB-XYZ", "Narnia", "G", "GB_ENG"])
def test_an_unknown_calendar_is_refused_by_name(code: str) -> None:
    with pytest.raises(UnknownCalendarError, match=code):
        holiday_calendar(code)
    with pytest.raises(UnknownCalendarError, match=code):
        add_working_days(D(2026, 3, 6), 1, code)
    with pytest.raises(UnknownCalendarError):
        working_days_between(D(2026, 3, 6), D(2026, 3, 9), code)


def test_an_empty_calendar_is_refused() -> None:
    with pytest.raises(UnknownCalendarError, match="no holiday calendar"):
        holiday_calendar("")


def test_the_template_placeholder_refuses_every_deadline() -> None:
    assert PLACEHOLDER_CALENDAR == "CHANGE-ME"
    with pytest.raises(UnknownCalendarError, match="placeholder"):
        add_working_days(D(2026, 3, 6), 0, PLACEHOLDER_CALENDAR)
    # Even a calendar-day deadline, which needs no holidays, is refused: a template is
    # never silently counted.
    with pytest.raises(UnknownCalendarError, match="placeholder"):
        deadline_date(D(2026, 3, 6), Deadline(30, "calendar", "minimum", "x"), "CHANGE-ME")


def test_holiday_calendar_is_cached_and_normalises_case() -> None:
    assert holiday_calendar("GB-ENG") is holiday_calendar("GB-ENG")
    assert D(2027, 3, 29) in holiday_calendar("gb-eng")  # Easter Monday 2027
    assert D(2027, 3, 29) not in holiday_calendar("GB-SCT")


def test_negative_days_are_refused() -> None:
    with pytest.raises(ValueError, match="≥ 0"):
        add_working_days(D(2026, 3, 6), -1, "GB-ENG")


def test_a_deadline_rejects_unknown_units_and_kinds() -> None:
    with pytest.raises(ValueError, match="unit"):
        Deadline(5, "weeks", "target", "x")
    with pytest.raises(ValueError, match="kind"):
        Deadline(5, "working", "maximum", "x")
    with pytest.raises(ValueError, match="days"):
        Deadline(-1, "working", "target", "x")


def test_is_overdue_from_the_day_after_the_due_date() -> None:
    assert not is_overdue(D(2027, 1, 5), D(2027, 1, 4))
    assert not is_overdue(D(2027, 1, 5), D(2027, 1, 5))
    assert is_overdue(D(2027, 1, 5), D(2027, 1, 6))


def test_status_of() -> None:
    due = D(2026, 3, 10)  # a Tuesday
    assert status_of(due, D(2026, 3, 11)) == "overdue"
    assert status_of(due, D(2026, 3, 10)) == "due_soon"  # due today
    assert status_of(due, D(2026, 3, 8)) == "due_soon"  # 2 days left
    assert status_of(due, D(2026, 3, 7)) == "on_time"  # 3 days left
    # Counted in working days from Fri 6 Mar: Mon 9 (1), Tue 10 (2) -> due soon; in calendar
    # days 4 are left -> on time.
    assert status_of(due, D(2026, 3, 6)) == "on_time"
    assert status_of(due, D(2026, 3, 6), calendar="GB-ENG") == "due_soon"
    assert status_of(due, D(2026, 3, 5), calendar="GB-ENG") == "on_time"  # 3 working days


def test_datetimes_count_as_their_day() -> None:
    friday_evening = dt.datetime(2026, 3, 6, 18, 30)
    assert add_working_days(friday_evening, 1, "GB-ENG") == D(2026, 3, 9)
    assert is_overdue(D(2026, 3, 6), dt.datetime(2026, 3, 6, 23, 59)) is False
