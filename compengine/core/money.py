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
ZERO = Decimal("0.00")
ROUNDING_MODES = {"half_up": ROUND_HALF_UP, "half_even": ROUND_HALF_EVEN}


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


class Money:
    """An amount in one currency. Refuses floats and refuses to mix currencies."""

    __slots__ = ("amount", "currency")

    def __init__(self, amount: object, currency: str) -> None:
        if not (isinstance(currency, str) and len(currency) == 3 and currency.isupper()):
            raise ValueError(f"bad currency code {currency!r}")
        object.__setattr__(self, "amount", D(amount))
        object.__setattr__(self, "currency", currency)

    def __setattr__(self, name: str, value: object) -> None:  # immutable
        raise AttributeError("Money is immutable")

    def _check(self, other: object) -> Money:
        if not isinstance(other, Money):
            raise TypeError(f"cannot combine Money with {type(other).__name__}")
        if other.currency != self.currency:
            raise ValueError(f"cannot mix currencies {self.currency} and {other.currency}")
        return other

    def __add__(self, other: object) -> Money:
        o = self._check(other)
        return Money(self.amount + o.amount, self.currency)

    def __sub__(self, other: object) -> Money:
        o = self._check(other)
        return Money(self.amount - o.amount, self.currency)

    def __neg__(self) -> Money:
        return Money(-self.amount, self.currency)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Money) and other.currency == self.currency and other.amount == self.amount

    def __lt__(self, other: object) -> bool:
        return self.amount < self._check(other).amount

    def __hash__(self) -> int:
        return hash((self.amount, self.currency))

    def __repr__(self) -> str:
        return f"Money('{self.amount}', '{self.currency}')"

    def __str__(self) -> str:
        return f"{self.currency} {self.amount:,.2f}"
