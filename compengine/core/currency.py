"""Currencies: codes, minor units, names and formats from CLDR (through Babel), one Money type.

Where the data comes from
-------------------------
Nothing here is a table typed by hand. Babel ships the Unicode CLDR data:

* **Known codes** (:func:`is_known`): the ISO 4217 codes that CLDR records as legal
  tender in some territory, now or in the past (``EUR``, ``JPY``, ``KWD``, also ``DEM``
  or ``HRK`` for old data). Codes that are not money one can be paid in are refused:
  fund codes (``CLF``, ``USN``), metals (``XAU``), ``XDR``, ``XTS`` (testing), ``XXX``
  (no currency). Codes are upper case, as ISO writes them.
* **Minor units** (:func:`minor_units`): CLDR's ``digits`` for the currency, i.e. the
  accounting digits (``babel.numbers.get_currency_precision``), not the cash digits and
  not the cash rounding (CHF cash rounds to 0.05; a payout is a transfer, not cash).
  USD, EUR, GBP: 2; JPY, KRW, CLP, ISK: 0; KWD, BHD, OMR, TND: 3.

  CLDR agrees with ISO 4217 for every currency above. It differs for a few whose minor
  unit is out of use: ISO 4217 still gives HUF, IDR, COP, LBP, IRR, MGA 2 places and IQD 3,
  CLDR gives them 0 (no one is paid 0.50 HUF; payrolls there pay whole units).
  compengine follows CLDR: one source, maintained, and what a payroll can pay out.
  A Babel upgrade may bring a newer CLDR: the digits of the currencies the tests name
  are pinned by tests/test_currency_fx.py, so a change there fails loudly.

Rounding
--------
Amounts are exact Decimals. They are rounded **once**, to the currency's minor unit, at
a named boundary (:func:`round_minor`, :meth:`Money.round`, a conversion in
:mod:`compengine.core.fx`, :func:`allocate_minor`). :func:`to_minor` and the formatters
never round: an amount with more places than its currency has is refused.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from decimal import Decimal

from babel.core import Locale, UnknownLocaleError, get_global
from babel.numbers import format_currency as _babel_format_currency
from babel.numbers import get_currency_name, get_currency_precision, list_currencies

from compengine.core.money import CONTEXT, MAX_AMOUNT, QUANTIZE, ROUNDING_MODES, D, check_amount

__all__ = [
    "CurrencyError", "CurrencyMismatch", "Money", "allocate_minor", "check_code", "check_locale", "currency_name", "format_money",
    "from_minor", "is_known", "known_codes", "minor_units", "quantum", "round_minor", "to_minor",
]


class CurrencyError(ValueError):
    """An unknown currency code."""


class CurrencyMismatch(ValueError):
    """Two amounts in different currencies combined without a conversion."""

    def __init__(self, a: str, b: str) -> None:
        self.currencies = (a, b)
        super().__init__(f"cannot mix currencies {a} and {b}: convert one first (compengine.core.fx)")


@functools.cache
def known_codes() -> frozenset[str]:
    """Every code CLDR records as legal tender in some territory, at any date."""
    tender: set[str] = set()
    for entries in get_global("territory_currencies").values():
        for code, _start, _end, is_tender in entries:
            if is_tender:
                tender.add(code)
    return frozenset(tender & set(list_currencies()))


def is_known(code: object) -> bool:
    return isinstance(code, str) and code in known_codes()


def check_code(code: object) -> str:
    """The code itself when it is known, else :class:`CurrencyError` saying what to write."""
    if is_known(code):
        return code  # type: ignore[return-value]
    text = code if isinstance(code, str) else repr(code)
    shown = text if len(text) <= 12 else text[:12] + "..."
    hint = " (e.g. USD)"
    if isinstance(code, str) and code.strip().upper() in known_codes():
        hint = f": write {code.strip().upper()}"
    raise CurrencyError(f"unknown currency code {shown!r}{hint}")


@functools.cache
def minor_units(code: str) -> int:
    """The places of the currency's minor unit: USD 2, JPY 0, KWD 3 (CLDR ``digits``)."""
    return get_currency_precision(check_code(code))


@functools.cache
def quantum(code: str) -> Decimal:
    """The currency's smallest amount: ``Decimal('1')``, ``Decimal('0.01')``, ``Decimal('0.001')``."""
    return Decimal(1).scaleb(-minor_units(code))


def amount_problem(value: Decimal, currency: str | None) -> str | None:
    """Why an input amount in ``currency`` is refused (None when it is fine): finer than the currency's minor
    unit (``0.5`` yen, ``1.234`` dollars; a KWD amount may have three places) or beyond
    :data:`~compengine.core.money.MAX_AMOUNT` either way. A two-place currency, or none known (``None``: an
    unknown code, a rep without a plan), keeps the message every reader gives for cents."""
    places = 2 if currency is None else minor_units(currency)
    if places == 2:
        return check_amount(value)
    if not value.is_finite() or value != value.quantize(quantum(currency), context=CONTEXT):
        return f"{value} has more than {places} decimal place(s) for {currency}"
    if abs(value) > MAX_AMOUNT:
        return f"{value} is above the maximum amount {MAX_AMOUNT:,}"
    return None


def _mode(mode: str) -> str:
    if mode not in ROUNDING_MODES:
        raise ValueError(f"unknown rounding mode {mode!r}: expected {' or '.join(ROUNDING_MODES)}")
    return mode


def round_minor(amount: Decimal, code: str, mode: str = "half_up") -> Decimal:
    """Round to the currency's minor unit with the named mode. The one rounding boundary for amounts."""
    return QUANTIZE[_mode(mode)](D(amount), quantum(code))


def to_minor(amount: Decimal, code: str) -> int:
    """Exact integer minor units (cents, yen, fils); refuses an amount with more places than the currency has."""
    n, d = D(amount).as_integer_ratio()
    scale = 10 ** minor_units(code)
    q, r = divmod(n * scale, d)
    if r:
        raise ValueError(f"{amount} {code} has more than {minor_units(code)} decimal place(s): round it first")
    return q


def from_minor(units: int, code: str) -> Decimal:
    """The amount of a count of minor units, with exactly the currency's places (``from_minor(5, 'JPY')`` is 5)."""
    if isinstance(units, bool) or not isinstance(units, int):
        raise TypeError(f"minor units must be an int, got {type(units).__name__}")
    return Decimal(units).scaleb(-minor_units(code))


def currency_name(code: str, locale: str = "en") -> str:
    """The currency's name in a language: ``currency_name('JPY')`` is ``'Japanese Yen'``."""
    return get_currency_name(check_code(code), locale=_locale(locale))


@functools.cache
def _locale(name: str) -> Locale:
    try:
        return Locale.parse(name)
    except (UnknownLocaleError, ValueError, TypeError):
        raise ValueError(f"unknown locale {name!r} (a CLDR locale such as en_US, de_DE, ja_JP)") from None


def format_money(amount: Decimal | None, currency: str | None = None, locale: str | None = None, *,
                 symbol: bool = True) -> str:
    """The one money format of the package (statements, reports, the portal, the CLI). Never rounds:
    round (:func:`round_minor`) before.

    * Without a locale, compengine's house format: thousands separators, a leading minus, no
      currency sign, and the currency's own places: ``1,234.56`` (USD, EUR; also when no
      currency is given), ``1,235`` (JPY), ``1,234.568`` (KWD). ``-0`` prints as ``0.00``.
    * With a locale, CLDR's format for that locale through Babel: ``1.234,56 €`` for
      de_DE (a no-break space before the sign), ``￥1,235`` for ja_JP (CLDR's full-width
      yen sign), ``$1,234.56`` for en_US. A locale needs a currency.
    * ``symbol=False`` with a locale: the locale's digits and separators without the sign,
      for a table whose header names the currency (``1.234,56`` for de_DE).

    ``None`` prints as ``""``. Refuses floats and amounts finer than the currency's minor unit.
    """
    if amount is None:
        return ""
    if not isinstance(amount, Decimal):
        raise TypeError(f"money must be a Decimal, got {type(amount).__name__} {amount!r}")
    places = 2 if currency is None else minor_units(currency)
    q = _QUANTA[places] if places in _QUANTA else Decimal(1).scaleb(-places)
    if not amount.is_finite() or amount != amount.quantize(q, context=CONTEXT):
        what = "fractions of a cent" if currency is None else f"more than {places} decimal place(s) for {currency}"
        raise ValueError(f"{amount} has {what}: round it before formatting")
    if amount == 0:
        amount = abs(amount)  # no "-0.00"
    if locale is None:
        return f"{amount:,.{places}f}"
    if currency is None:
        raise ValueError("formatting for a locale needs a currency")
    loc = _locale(locale)
    if symbol:
        return _babel_format_currency(amount, currency, locale=loc, currency_digits=True)
    return _babel_format_currency(amount, currency, format=_number_pattern(loc), locale=loc, currency_digits=True)


_QUANTA = {p: Decimal(1).scaleb(-p) for p in range(4)}


@functools.cache
def _number_pattern(loc: Locale) -> str:
    """The locale's currency pattern without its sign (``#,##0.00 ¤`` -> ``#,##0.00``)."""
    out = loc.currency_formats["standard"].pattern
    for space in ("\u00a0", "\u202f", " "):
        out = out.replace(space + "\u00a4", "").replace("\u00a4" + space, "")
    return out.replace("\u00a4", "")


def check_locale(name: object) -> str:
    """A locale name Babel knows (``de_DE``, ``ja_JP``), as given; raises ValueError naming examples."""
    if not isinstance(name, str) or not name.strip():
        raise ValueError("a locale is a name such as en_US, de_DE or ja_JP")
    _locale(name.strip())
    return name.strip()


def allocate_minor(total: Decimal, weights: list[Decimal], code: str) -> list[Decimal]:
    """Split an amount by weights, to the currency's minor unit, so the parts add up exactly to the total.

    Largest remainder: each part is ``total * w / sum(w)`` rounded down to the minor unit;
    the units left over go, one each, to the parts with the largest remainders, ties
    broken by position (deterministic). For cents this is exactly
    :func:`compengine.core.money.allocate` on an amount already in cents. The total must
    already be in the currency's minor units (it was rounded once, at a conversion or on
    input): this splits, it does not round. Weights are zero or more; when they add up to
    zero every part is zero (as ``allocate``).
    """
    units = to_minor(total, code)
    if any(D(w) < 0 for w in weights):
        raise ValueError("weights must be zero or more")
    wsum = sum(weights, Decimal(0))
    if wsum == 0:
        return [from_minor(0, code) for _ in weights]
    raw = [CONTEXT.divide(CONTEXT.multiply(Decimal(units), w), wsum) for w in weights]
    floors = [int(r.to_integral_value(rounding="ROUND_FLOOR")) for r in raw]
    left = units - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [from_minor(u, code) for u in floors]


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency: the one money value type of compengine.

    The amount is an exact Decimal (floats are refused), the currency a known ISO 4217
    code. Adding, subtracting or comparing two amounts in different currencies raises
    :class:`CurrencyMismatch` (a ValueError); a plain number is refused (TypeError).
    Multiplying by a number gives an unrounded amount: :meth:`round` once at the boundary.
    """

    amount: Decimal
    currency: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", D(self.amount))
        if not self.amount.is_finite():
            raise ValueError(f"not a finite amount: {self.amount}")
        check_code(self.currency)

    @classmethod
    def of_minor(cls, units: int, currency: str) -> Money:
        return cls(from_minor(units, currency), currency)

    def _same(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise CurrencyMismatch(self.currency, other.currency)
        return other

    def __add__(self, other: object) -> Money:
        return Money(CONTEXT.add(self.amount, self._same(other).amount), self.currency)

    def __sub__(self, other: object) -> Money:
        return Money(CONTEXT.subtract(self.amount, self._same(other).amount), self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __mul__(self, factor: object) -> Money:
        if isinstance(factor, Money) or isinstance(factor, (bool, float)) or not isinstance(factor, (int, Decimal)):
            raise TypeError(f"Money can be multiplied by a Decimal or an int, not {type(factor).__name__}")
        return Money(CONTEXT.multiply(self.amount, Decimal(factor)), self.currency)

    __rmul__ = __mul__

    def __lt__(self, other: object) -> bool:
        return self.amount < self._same(other).amount

    def __le__(self, other: object) -> bool:
        return self.amount <= self._same(other).amount

    def __gt__(self, other: object) -> bool:
        return self.amount > self._same(other).amount

    def __ge__(self, other: object) -> bool:
        return self.amount >= self._same(other).amount

    @property
    def minor(self) -> int:
        """Exact minor units (raises when the amount is not rounded to them)."""
        return to_minor(self.amount, self.currency)

    def round(self, mode: str = "half_up") -> Money:
        return Money(round_minor(self.amount, self.currency, mode), self.currency)

    def allocate(self, weights: list[Decimal]) -> list[Money]:
        return [Money(a, self.currency) for a in allocate_minor(self.amount, weights, self.currency)]

    def format(self, locale: str | None = None) -> str:
        """:func:`format_money` of the amount in its currency (no code without a locale)."""
        return format_money(self.amount, self.currency, locale)

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __str__(self) -> str:
        """``EUR 10,000.00``; an unrounded amount shows all its digits (``USD 1.005``)."""
        try:
            return f"{self.currency} {self.format()}"
        except ValueError:
            return f"{self.currency} {self.amount:,f}"
