"""Money: Decimal made in one place, rounded once, never float.

The rounding policy of compengine (see README, "Rounding"):

* Amounts are computed exactly (Decimal with 34 significant digits, under an
  explicit context, never the ambient one).
* They are rounded **once**, to cents, at a named boundary: when a payout line
  is finalized (:func:`round_money`), when a split divides a deal's amount into
  credits (:func:`allocate`), and when a monthly quota is resolved.
* The mode is ``half_up`` unless the plan says ``rounding: half_even``.
* Totals are sums of rounded lines; formatting (:func:`money_str`) never rounds.
"""

from __future__ import annotations

import re
from decimal import (
    ROUND_HALF_EVEN,
    ROUND_HALF_UP,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
)

CONTEXT = Context(prec=34, rounding=ROUND_HALF_UP, traps=[InvalidOperation, DivisionByZero, Overflow])
CENT = Decimal("0.01")
THOUSANDTH = Decimal("0.001")
ZERO = Decimal("0.00")
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}

# The largest amount an input may hold (a deal, a quota, an adjustment, a plan's money
# field): 999,999,999,999.99. In cents that is just under 10^14, so a month's sum of even
# 90,000 such amounts still fits the signed 64-bit count of cents the ledger stores.
MAX_AMOUNT = Decimal("999999999999.99")
# The longest number an input may write (sign, digits and point): enough for any amount
# and any rate, and short enough that no number costs time or memory to read.
MAX_NUMBER_CHARS = 30
_PLAIN_NUMBER = re.compile(r"[-+]?[0-9]+(?:\.[0-9]+)?|[-+]?\.[0-9]+", re.ASCII)
_EXPONENT = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)[eE][-+]?[0-9]+", re.ASCII)


def D(value: object) -> Decimal:
    """Make a Decimal from str, int or Decimal. Floats (and bools) are refused."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool) or isinstance(value, float):
        raise TypeError(f"refusing to make money from {type(value).__name__} {value!r}; use a string")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            d = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"not a number: {value!r}") from None
        if not d.is_finite():
            raise ValueError(f"not a finite number: {value!r}")
        return d
    raise TypeError(f"cannot make a Decimal from {type(value).__name__}")


def parse_plain_number(text: str) -> Decimal:
    """A Decimal from a number written plainly in ASCII digits: ``-250``, ``60000.00``, ``0.10``.

    Python's ``Decimal`` reads much more: ``6e4``, ``1E+20``, ``60_000.00``, Arabic-Indic
    digits, ``Infinity``. Input files and options are read through this instead, and each
    refusal (a ``ValueError``) says what to write.
    """
    text = text.strip()
    shown = text if len(text) <= MAX_NUMBER_CHARS else text[:12] + "..."
    if len(text) > MAX_NUMBER_CHARS:
        raise ValueError(f"number {shown!r} is too long ({len(text):,} characters, at most {MAX_NUMBER_CHARS})")
    if _PLAIN_NUMBER.fullmatch(text):
        return Decimal(text)
    if not text.isascii():
        raise ValueError(f"not a number {text!r}: write it with the ASCII digits 0-9")
    if _EXPONENT.fullmatch(text):
        raise ValueError(f"not a plain number {text!r}: write it in digits, without an exponent (e.g. 60000.00)")
    if any(c in text for c in "_, '") and _PLAIN_NUMBER.fullmatch(re.sub(r"[_, ']", "", text)):
        raise ValueError(f"not a plain number {text!r}: write it without separators (e.g. 60000.00)")
    raise ValueError(f"not a number {text!r}")


def check_amount(value: Decimal, places: int = 2) -> str | None:
    """Why a cent amount read from input is out of range (None when it is fine). ``places=3``: an amount in
    any currency (a thousandth is the finest minor unit, KWD's fils), before its own currency is known."""
    if places == 3:
        if value != value.quantize(THOUSANDTH, context=CONTEXT):
            return f"{value} has more than 3 decimal places (no currency has more)"
    elif value != value.quantize(CENT, context=CONTEXT):
        return f"{value} has fractions of a cent"
    if abs(value) > MAX_AMOUNT:
        return f"{value} is above the maximum amount {MAX_AMOUNT:,}"
    return None


def parse_amount(text: str, places: int = 2) -> Decimal:
    """A cent amount from input text: a plain number, whole cents (``places=3``: thousandths), at most
    :data:`MAX_AMOUNT` either way."""
    value = parse_plain_number(text)
    problem = check_amount(value, places)
    if problem:
        raise ValueError(problem)
    return value


# ``QUANTIZE[mode](value, CENT)`` is ``round_money(value, mode)``: the engine's hot loops
# call it directly (one function call less per line, millions of lines).
QUANTIZE = {
    mode: Context(prec=34, rounding=rounding, traps=[InvalidOperation, DivisionByZero, Overflow]).quantize
    for mode, rounding in ROUNDING_MODES.items()
}


def round_money(value: Decimal, mode: str = "half_up") -> Decimal:
    """Round to cents with the named mode. The one rounding boundary for amounts.

    (A context per mode, built once: called millions of times in a big close.)
    """
    return QUANTIZE[mode](value, CENT)


def money_str(value: Decimal | None) -> str:
    """Canonical text of an already-rounded amount: plain digits, two places, no separators."""
    if value is None:
        return ""
    if value.as_tuple().exponent != -2:  # type: ignore[comparison-overlap]
        scaled = value.quantize(CENT, context=CONTEXT)  # exact for cent values: scale only
        if scaled != value:
            raise ValueError(f"{value} is not a cent amount: round it before formatting")
        value = scaled
    return f"{value:f}"


def shown(value: Decimal) -> str:
    """An amount in a sentence for people (explain text, CLI tables, audit notes): thousands separators and two
    places, three when it has a third (a KWD or BHD amount; the ledger keeps thousandths), so a fils is never
    rounded away in what is shown. ``1,234.50``, ``25.125``, ``149,501.00``."""
    text = f"{value:,.3f}"
    return text[:-1] if text[-1] == "0" else text


def signed(value: Decimal) -> str:
    """:func:`shown` with its sign always written: ``+1,234.50``, ``-0.125``, ``+0.00``."""
    text = shown(value)
    return text if text[0] == "-" else "+" + text


def json_money(value: Decimal) -> str:
    """An amount already rounded to its currency's places, as JSON text: two places for cents and whole units
    (``149501.00``), three for fils (``37.963``). Never rounds (an amount finer than a thousandth is refused)."""
    try:
        return money_str(value)
    except ValueError:
        if value != value.quantize(Decimal("0.001"), context=CONTEXT):
            raise ValueError(f"{value} is finer than a thousandth: round it before formatting") from None
        return f"{value:f}"


def to_cents(value: Decimal) -> int:
    """Exact integer minor units of a cent amount (raises if it has fractions of a cent).

    (Through the exact ratio n/d: a cent amount has d dividing 100. A big close converts
    four million amounts; this is a fifth faster than ``scaleb`` and a comparison.)
    """
    n, d = value.as_integer_ratio()
    if d == 1:
        return n * 100
    q, r = divmod(100, d)
    if r:
        raise ValueError(f"{value} has fractions of a cent")
    return n * q


def from_cents(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)


THOUSANDTHS = 1000  # the ledger stores every amount as an integer count of thousandths of its unit


def to_thousandths(value: Decimal) -> int:
    """Exact integer thousandths of an amount (the ledger's storage of money in every currency: 0-, 2- and
    3-decimal currencies alike); raises if it is finer than a thousandth. Amounts are rounded to their
    currency's minor units before (``currency.round_minor``): this only scales."""
    n, d = value.as_integer_ratio()
    if d == 1:
        return n * 1000
    q, r = divmod(1000, d)
    if r:
        raise ValueError(f"{value} has fractions of a thousandth")
    return n * q


def from_thousandths(units: int) -> Decimal:
    """The amount of a stored count of thousandths, with two places when it is a whole number of cents
    (as amounts were read when the ledger stored cents) and three otherwise (KWD, BHD...)."""
    q, r = divmod(units, 10)
    return Decimal(q).scaleb(-2) if not r else Decimal(units).scaleb(-3)


def allocate(total: Decimal, weights: list[Decimal], mode: str = "half_up") -> list[Decimal]:
    """Split a cent amount by weights so the parts add up exactly to the total.

    Each part is ``total * w / sum(w)`` rounded down to cents; the leftover cents go,
    one each, to the parts with the largest remainders, ties broken by position
    (a fixed order, so the result is deterministic).
    """
    wsum = sum(weights, Decimal(0))
    if wsum == 0:
        return [ZERO for _ in weights]
    total_c = to_cents(round_money(total, mode))
    raw = [CONTEXT.divide(CONTEXT.multiply(Decimal(total_c), w), wsum) for w in weights]
    floors = [int(r.to_integral_value(rounding="ROUND_FLOOR")) for r in raw]
    left = total_c - sum(floors)
    order = sorted(range(len(raw)), key=lambda i: (-(raw[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [from_cents(c) for c in floors]


def __getattr__(name: str) -> object:
    """``Money`` lives in :mod:`compengine.core.currency` (one money type, with CLDR currency data);
    it is found here too, where it was first defined. (Imported on first use: currency imports this module.)"""
    if name == "Money":
        from compengine.core.currency import Money

        return Money
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
