"""Periods are calendar months; tenure month 1 is the hire month."""

from __future__ import annotations

from datetime import date

import pytest

from compengine.core.periods import Period, tenure_month


def test_parse_and_str_round_trip():
    p = Period.parse("2026-10")
    assert (p.year, p.month) == (2026, 10)
    assert str(p) == "2026-10"
    assert str(Period(987, 3)) == "0987-03"


@pytest.mark.parametrize("bad", ["2026-13", "2026-00", "2026-1", "26-10", "2026/10", "october", ""])
def test_parse_rejects_bad_periods(bad):
    with pytest.raises(ValueError):
        Period.parse(bad)


def test_month_bounds_including_leap_february():
    assert Period(2028, 2).end == date(2028, 2, 29)
    assert Period(2026, 2).end == date(2026, 2, 28)
    assert Period(2026, 12).start == date(2026, 12, 1)
    assert Period(2026, 12).end == date(2026, 12, 31)


def test_next_prev_cross_years():
    assert Period(2026, 12).next() == Period(2027, 1)
    assert Period(2027, 1).prev() == Period(2026, 12)
    assert Period.from_index(Period(2026, 7).index) == Period(2026, 7)


def test_months_through_and_year_start():
    assert [str(p) for p in Period(2026, 11).months_through(Period(2027, 2))] == [
        "2026-11", "2026-12", "2027-01", "2027-02"
    ]
    assert Period(2026, 10).year_start() == Period(2026, 1)
    assert Period(2026, 3).months_through(Period(2026, 2)) == []


def test_order_and_contains():
    assert Period(2025, 12) < Period(2026, 1) < Period(2026, 2)
    assert Period(2026, 2).contains(date(2026, 2, 28))
    assert not Period(2026, 2).contains(date(2026, 3, 1))
    assert Period.of(date(2026, 5, 31)) == Period(2026, 5)


@pytest.mark.parametrize("hire, period, expected", [
    (date(2026, 6, 15), Period(2026, 6), 1),   # the hire month is tenure month 1, whatever the day
    (date(2026, 6, 30), Period(2026, 7), 2),
    (date(2026, 6, 15), Period(2026, 10), 5),
    (date(2025, 11, 1), Period(2026, 2), 4),   # across a year end
    (date(2026, 6, 15), Period(2026, 5), 0),   # before the hire month
    (None, Period(2026, 5), None),
])
def test_tenure_month(hire, period, expected):
    assert tenure_month(hire, period) == expected
