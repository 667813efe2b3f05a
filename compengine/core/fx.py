"""Exchange rates and conversions: pure, exact, rounded once (issue 15; docs/currencies.md).

Rates
-----
A rate row says: from ``day`` on, 1 unit of ``from_ccy`` is ``rate`` units of ``to_ccy``,
until the next row for that pair (the direction as written). :meth:`FxRates.rate`
finds, for a pair and a day:

1. **direct**: the latest row of the pair on or before the day;
2. else **inverse**: ``1 / r`` for the latest row of the reverse pair on or before the day;
3. else **cross** through a base currency (a plan's ``fx.base``): from->base times
   base->to, each leg direct or inverse as above, at the later of the two legs' dates;
4. else :class:`MissingRate`, naming the pair and the day.

A direct row wins over the reverse pair's row even when the reverse row is more recent:
keep one direction per pair in a file.

Exactness
---------
A rate is held as an exact fraction (:class:`fractions.Fraction` of the decimal
written): an inverse ``1/1.0832`` or an average over 31 days is never rounded. The
:attr:`Quote.rate` shown is that fraction as a Decimal of 34 significant digits (the
package's context); the conversion does not use it but the exact fraction, so the
converted amount is ``amount x rate`` **rounded once**, to the target currency's minor
units (:func:`compengine.core.currency.minor_units`), with the plan's rounding mode.

Month average
-------------
:meth:`FxRates.month_average` is the arithmetic mean of the rates in force on each
calendar day of the month (each found as in :meth:`FxRates.rate`): a rate in force for
10 days weighs 10/31 in October. A day before the pair's first rate is missing: the
average needs a rate on every day of the month.
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Context, Decimal, Inexact, InvalidOperation
from enum import Enum
from fractions import Fraction

from compengine.core.currency import Money, check_code, format_money, minor_units, to_minor
from compengine.core.errors import Source
from compengine.core.money import CONTEXT, ROUNDING_MODES, D
from compengine.core.periods import Period

__all__ = ["Conversion", "FxPolicy", "FxRate", "FxRates", "MissingRate", "Quote", "RateDate", "round_fraction"]


class RateDate(str, Enum):
    """Which day's rate converts a deal: plan key ``fx.rate_date``."""

    CLOSE_DATE = "close_date"  # the rate in force on the deal's close date (the default)
    MONTH_END = "month_end"  # the rate in force on the last day of the close month
    MONTH_AVERAGE = "month_average"  # the mean of the rates in force on each day of the close month

    @classmethod
    def parse(cls, value: object) -> RateDate:
        if isinstance(value, RateDate):
            return value
        for member in cls:
            if value == member.value:
                return member
        shown = repr(value) if not isinstance(value, str) or len(value) <= 30 else repr(value[:30] + "...")
        raise ValueError(f"unknown rate_date {shown}: expected {', '.join(m.value for m in cls)}")


@dataclass(frozen=True, slots=True)
class FxPolicy:
    """A plan's ``fx:`` key: ``{rate_date: close_date | month_end | month_average, base: USD}``."""

    rate_date: RateDate = RateDate.CLOSE_DATE
    base: str | None = None

    @classmethod
    def from_mapping(cls, value: object) -> FxPolicy:
        """The policy from a plan's ``fx`` mapping (None: the defaults). ValueError names the key."""
        if value is None:
            return cls()
        if not isinstance(value, dict):
            raise ValueError(f"fx: expected a mapping with rate_date and base, got {type(value).__name__}")
        unknown = sorted(set(map(str, value)) - {"rate_date", "base"})
        if unknown:
            raise ValueError(f"fx: unknown key(s) {', '.join(unknown)}: expected rate_date, base")
        try:
            rate_date = RateDate.parse(value.get("rate_date", RateDate.CLOSE_DATE.value))
        except ValueError as exc:
            raise ValueError(f"fx.rate_date: {exc}") from None
        base = value.get("base")
        if base is not None:
            try:
                check_code(base)
            except ValueError as exc:
                raise ValueError(f"fx.base: {exc}") from None
        return cls(rate_date, base)


@dataclass(frozen=True, slots=True)
class FxRate:
    """One row of fx_rates.csv: from ``day`` on, 1 ``from_ccy`` = ``rate`` ``to_ccy``."""

    day: date
    from_ccy: str
    to_ccy: str
    rate: Decimal
    source: Source | None = None


class MissingRate(LookupError):
    """No rate for a pair on a day (nor an inverse, nor a cross rate through the base)."""

    def __init__(self, from_ccy: str, to_ccy: str, day: date, base: str | None = None, detail: str = "") -> None:
        self.from_ccy, self.to_ccy, self.day, self.base = from_ccy, to_ccy, day, base
        tried = f"nor {to_ccy}->{from_ccy}" + (f", nor through {base}" if base and base not in (from_ccy, to_ccy) else "")
        super().__init__(f"no {from_ccy}->{to_ccy} rate in force on {day} ({tried}){detail}")


@dataclass(frozen=True, slots=True)
class Quote:
    """A rate found for a pair: its exact value, when it took effect, how it was derived.

    ``text`` is the rate as a person checks it (``1.0832``, ``1/0.9232``,
    ``1.0832 x 151.37``, ``(10 x 1.0832 + 21 x 1.0862) / 31``); ``when`` the date shown
    beside it (the effective date, or ``2026-10 average``); ``rows`` the rate rows used.
    """

    exact: Fraction
    effective: date
    how: str  # "same currency", "direct", "inverse", "cross via USD", "month average"
    text: str
    when: str
    rows: tuple[FxRate, ...] = ()

    @property
    def rate(self) -> Decimal:
        """The rate as a Decimal of 34 significant digits (exact for a direct rate)."""
        return CONTEXT.divide(Decimal(self.exact.numerator), Decimal(self.exact.denominator))

    def __iter__(self):  # type: ignore[no-untyped-def]
        """``rate, effective, how = rates.rate(...)``."""
        return iter((self.rate, self.effective, self.how))


# exact arithmetic for the conversions whose rate is a finite decimal (80 digits: an amount times a rate of
# 34 significant digits is exact), rounding half up (away from zero) or half to even, as round_fraction does
_EXACT = Context(prec=80, traps=[Inexact, InvalidOperation])  # products and quotients that must be exact
_ROUND_TO = {"half_up": Context(prec=80, rounding=ROUND_HALF_UP, traps=[InvalidOperation]).quantize,
             "half_even": Context(prec=80, rounding=ROUND_HALF_EVEN, traps=[InvalidOperation]).quantize}


def round_fraction(value: Fraction, places: int, mode: str = "half_up") -> Decimal:
    """An exact fraction rounded once to ``places`` decimals: half_up rounds halves away from zero
    (as Decimal's ROUND_HALF_UP), half_even to the even neighbour."""
    if mode not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {mode!r}: expected {' or '.join(ROUNDING_MODES)}")
    scaled = abs(value) * 10**places
    q, r = divmod(scaled.numerator, scaled.denominator)
    twice, den = 2 * r, scaled.denominator
    if twice > den or (twice == den and (mode == "half_up" or q % 2 == 1)):
        q += 1
    return Decimal(-q if value < 0 else q).scaleb(-places)


def _rate_text(r: Decimal) -> str:
    return f"{r:f}"


@dataclass(frozen=True, slots=True)
class Conversion:
    """An amount converted at a quote, rounded once to the target currency's minor units."""

    amount: Money
    converted: Money
    quote: Quote
    day: date  # the day asked for (close date, month end, or the month's first day for an average)
    mode: str

    @property
    def rate(self) -> Decimal:
        return self.quote.rate

    @property
    def rate_date(self) -> date:
        return self.quote.effective

    def explain(self) -> str:
        """``EUR 10,000.00 at 1.0832 (2026-10-03) = USD 10,832.00``."""
        a, c = self.amount, self.converted
        return f"{a.currency} {format_money(a.amount, a.currency)} at {self.quote.text} ({self.quote.when}) " \
               f"= {c.currency} {format_money(c.amount, c.currency)}"


class FxRates:
    """Rate rows, indexed by pair and date. Pure: built from rows, asked for quotes.

    The constructor refuses what :func:`compengine.fxfile.read_fx_rates` reports as input
    errors (unknown code, a rate of zero or below, from = to, two rates for a pair on a
    day) with a ValueError: rows read from a file are checked there first, with sources.
    """

    def __init__(self, rows: Iterable[FxRate] = ()) -> None:
        by_pair: dict[tuple[str, str], list[FxRate]] = defaultdict(list)
        for row in rows:
            check_code(row.from_ccy)
            check_code(row.to_ccy)
            if row.from_ccy == row.to_ccy:
                raise ValueError(f"{row.from_ccy}->{row.to_ccy}: a rate needs two currencies")
            if not isinstance(row.rate, Decimal) or not row.rate.is_finite() or row.rate <= 0:
                raise ValueError(f"{row.from_ccy}->{row.to_ccy} on {row.day}: the rate must be a Decimal above zero")
            by_pair[(row.from_ccy, row.to_ccy)].append(row)
        self._rows: dict[tuple[str, str], list[FxRate]] = {}
        self._days: dict[tuple[str, str], list[date]] = {}
        for pair, entries in by_pair.items():
            entries.sort(key=lambda r: r.day)
            for a, b in zip(entries, entries[1:]):
                if a.day == b.day:
                    raise ValueError(f"{pair[0]}->{pair[1]} has two rates on {a.day}")
            self._rows[pair] = entries
            self._days[pair] = [r.day for r in entries]
        # what a month of deals asks again and again (the rows never change after this): quotes by
        # (pair, day, rate_date, base), and each quote's exact rate as a Decimal when it has a finite one
        self._quotes: dict[tuple, tuple[Quote, date]] = {}
        self._finite: dict[Fraction, Decimal | None] = {}

    def __len__(self) -> int:
        return sum(len(v) for v in self._rows.values())

    @property
    def pairs(self) -> list[tuple[str, str]]:
        return sorted(self._rows)

    def rows(self) -> list[FxRate]:
        """Every rate row, by pair and then by date."""
        return [r for pair in self.pairs for r in self._rows[pair]]

    def _in_force(self, pair: tuple[str, str], day: date) -> FxRate | None:
        days = self._days.get(pair)
        if not days:
            return None
        i = bisect.bisect_right(days, day)
        return self._rows[pair][i - 1] if i else None

    def _leg(self, from_ccy: str, to_ccy: str, day: date) -> Quote | None:
        """Direct, else inverse; None when neither is in force."""
        row = self._in_force((from_ccy, to_ccy), day)
        if row is not None:
            return Quote(Fraction(row.rate), row.day, "direct", _rate_text(row.rate), str(row.day), (row,))
        row = self._in_force((to_ccy, from_ccy), day)
        if row is not None:
            return Quote(1 / Fraction(row.rate), row.day, "inverse", f"1/{_rate_text(row.rate)}", str(row.day), (row,))
        return None

    def rate(self, from_ccy: str, to_ccy: str, day: date, base: str | None = None) -> Quote:
        """The rate in force on ``day``: direct, else inverse, else cross through ``base``.

        Unpacks as ``(rate, effective, how)``; :class:`MissingRate` when there is none.
        """
        check_code(from_ccy)
        check_code(to_ccy)
        if from_ccy == to_ccy:
            return Quote(Fraction(1), day, "same currency", "1", str(day))
        leg = self._leg(from_ccy, to_ccy, day)
        if leg is not None:
            return leg
        if base is not None and check_code(base) not in (from_ccy, to_ccy):
            first, second = self._leg(from_ccy, base, day), self._leg(base, to_ccy, day)
            if first is not None and second is not None:
                effective = max(first.effective, second.effective)
                return Quote(first.exact * second.exact, effective, f"cross via {base}",
                             f"{first.text} x {second.text}", str(effective), first.rows + second.rows)
        raise MissingRate(from_ccy, to_ccy, day, base, self._first_hint(from_ccy, to_ccy, day))

    def _first_hint(self, from_ccy: str, to_ccy: str, day: date) -> str:
        firsts = [self._days[p][0] for p in ((from_ccy, to_ccy), (to_ccy, from_ccy)) if p in self._days]
        if firsts and min(firsts) > day:
            return f"; the pair's first rate is on {min(firsts)}"
        return ""

    def month_average(self, from_ccy: str, to_ccy: str, period: Period | str, base: str | None = None) -> Quote:
        """The arithmetic mean of the rates in force on each calendar day of the month, exact.

        Each day's rate is found as :meth:`rate` finds it. A day without one raises
        :class:`MissingRate` for that day (the first such day).
        """
        p = period if isinstance(period, Period) else Period.parse(period)
        check_code(from_ccy)
        check_code(to_ccy)
        runs: list[tuple[int, Quote]] = []  # consecutive days with the same rate: (days, quote)
        day = p.start
        while day <= p.end:
            q = self.rate(from_ccy, to_ccy, day, base)
            if runs and runs[-1][1].rows == q.rows and runs[-1][1].exact == q.exact:
                runs[-1] = (runs[-1][0] + 1, runs[-1][1])
            else:
                runs.append((1, q))
            day += timedelta(days=1)
        days = (p.end - p.start).days + 1
        exact = sum((n * q.exact for n, q in runs), Fraction(0)) / days
        if len(runs) == 1:
            text = runs[0][1].text
        else:
            text = "(" + " + ".join(f"{n} x {q.text}" for n, q in runs) + f") / {days}"
        rows = tuple(r for _, q in runs for r in q.rows)
        effective = runs[-1][1].effective if from_ccy != to_ccy else p.start
        return Quote(exact, effective, "month average", text, f"{p} average", rows)

    def quote(self, from_ccy: str, to_ccy: str, day: date, *, rate_date: RateDate | str = RateDate.CLOSE_DATE,
              base: str | None = None) -> tuple[Quote, date]:
        """The quote a plan's ``fx.rate_date`` asks for a deal closed on ``day``, and the day it looked at."""
        key = (from_ccy, to_ccy, day, rate_date, base)
        got = self._quotes.get(key)
        if got is not None:
            return got
        how = RateDate.parse(rate_date)
        if how is RateDate.CLOSE_DATE:
            got = self.rate(from_ccy, to_ccy, day, base), day
        else:
            p = Period.of(day)
            if how is RateDate.MONTH_END:
                got = self.rate(from_ccy, to_ccy, p.end, base), p.end
            else:
                got = self.month_average(from_ccy, to_ccy, p, base), p.start
        self._quotes[key] = got
        return got

    def _finite_rate(self, exact: Fraction) -> Decimal | None:
        """The rate as an exact Decimal when it has a finite decimal expansion (a direct rate, a cross of
        direct rates), else None (an inverse rate such as 1/1.08)."""
        if exact in self._finite:
            return self._finite[exact]
        den = exact.denominator
        for f in (2, 5):
            while den % f == 0:
                den //= f
        out = None
        if den == 1:
            out = _EXACT.divide(Decimal(exact.numerator), Decimal(exact.denominator))
        self._finite[exact] = out
        return out

    def convert(self, amount: Decimal, from_ccy: str, to_ccy: str, day: date, mode: str = "half_up",
                base: str | None = None, *, rate_date: RateDate | str = RateDate.CLOSE_DATE) -> Conversion:
        """``amount`` (in ``from_ccy``'s minor units, or refused) converted to ``to_ccy`` at the rate
        ``rate_date`` picks for ``day``, rounded once to ``to_ccy``'s minor units with ``mode``."""
        amount = D(amount)
        to_minor(amount, from_ccy)  # refuses an amount finer than its currency
        q, asked = self.quote(from_ccy, to_ccy, day, rate_date=rate_date, base=base)
        finite = self._finite_rate(q.exact)
        if finite is not None and mode in _ROUND_TO:  # exact in Decimal: the same result as the fraction's
            converted = _ROUND_TO[mode](_EXACT.multiply(amount, finite), Decimal(1).scaleb(-minor_units(to_ccy)))
            if converted == 0:
                converted = abs(converted)  # as round_fraction: no negative zero
        else:
            converted = round_fraction(Fraction(amount) * q.exact, minor_units(to_ccy), mode)
        return Conversion(Money(amount, from_ccy), Money(converted, to_ccy), q, asked, mode)
