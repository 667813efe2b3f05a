"""Periods are calendar months, written ``YYYY-MM``. The plan year is the calendar year."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date

_PERIOD_RE = re.compile(r"^(\d{4})-(\d{2})$", re.ASCII)
_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)

# Dates read from input must fall in this range: a year like 0206 or 2206 is a typo, and
# a month so far from the others would strand the ledger (every month between is closed).
FIRST_DATE = date(1970, 1, 1)
LAST_DATE = date(2100, 12, 31)


def parse_date(text: str) -> date:
    """A date written ``YYYY-MM-DD`` (ASCII digits) within FIRST_DATE..LAST_DATE; ValueError says why not."""
    text = text.strip()
    if not _DATE_RE.fullmatch(text):
        shown = text if len(text) <= 40 else text[:12] + "..."
        raise ValueError(f"not a date {shown!r}: expected YYYY-MM-DD")
    try:
        d = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"not a date {text!r}: expected YYYY-MM-DD") from None
    if not FIRST_DATE <= d <= LAST_DATE:
        raise ValueError(f"{text} is outside the supported dates {FIRST_DATE} to {LAST_DATE}")
    return d


@dataclass(frozen=True, slots=True, order=True)
class Period:
    year: int
    month: int

    def __post_init__(self) -> None:
        if not 1 <= self.month <= 12:
            raise ValueError(f"month must be 1..12, got {self.month}")

    @classmethod
    def parse(cls, text: str) -> Period:
        m = _PERIOD_RE.match(text.strip())
        if not m:
            raise ValueError(f"not a period {text!r}: expected YYYY-MM, e.g. 2026-10")
        return cls(int(m.group(1)), int(m.group(2)))

    @classmethod
    def of(cls, d: date) -> Period:
        return cls(d.year, d.month)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        return date(self.year, self.month, calendar.monthrange(self.year, self.month)[1])

    @property
    def index(self) -> int:
        """Months since year 0: makes month arithmetic simple."""
        return self.year * 12 + self.month - 1

    @classmethod
    def from_index(cls, index: int) -> Period:
        return cls(index // 12, index % 12 + 1)

    def next(self) -> Period:
        return Period.from_index(self.index + 1)

    def prev(self) -> Period:
        return Period.from_index(self.index - 1)

    def year_start(self) -> Period:
        return Period(self.year, 1)

    def months_through(self, last: Period) -> list[Period]:
        return [Period.from_index(i) for i in range(self.index, last.index + 1)]

    def contains(self, d: date) -> bool:
        return d.year == self.year and d.month == self.month

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def tenure_month(hire_date: date | None, period: Period) -> int | None:
    """Tenure month 1 is the calendar month of the hire date. None without a hire date."""
    if hire_date is None:
        return None
    return period.index - Period.of(hire_date).index + 1


def as_period(value: Period | str) -> Period:
    """A month from a :class:`Period` or ``"YYYY-MM"``; anything else refused in one line (CompErrors)."""
    from compengine.core.errors import CompErrors

    if isinstance(value, Period):
        return value
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise CompErrors(str(exc)) from None
