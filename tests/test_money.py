"""Money: one Decimal constructor that refuses floats, one rounding boundary, exact splits."""

from __future__ import annotations

from decimal import Decimal, getcontext, localcontext

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compengine.core.money import CENT, D, Money, allocate, from_cents, money_str, round_money, to_cents


# --------------------------------------------------------------------------- D


@pytest.mark.parametrize("bad", [0.1, 1.0, float("nan"), True, False])
def test_D_refuses_floats_and_bools(bad):
    with pytest.raises(TypeError):
        D(bad)


@pytest.mark.parametrize("text, expected", [
    ("0.10", Decimal("0.10")),
    (" 12.5 ", Decimal("12.5")),
    ("1_200_000", Decimal("1200000")),
    ("-3", Decimal("-3")),
])
def test_D_reads_text_exactly(text, expected):
    got = D(text)
    assert got == expected
    assert str(got) == str(expected)  # scale kept: 0.10 stays 0.10


def test_D_keeps_ints_and_decimals():
    assert D(7) == Decimal(7)
    d = Decimal("1.23")
    assert D(d) is d


@pytest.mark.parametrize("bad", ["abc", "", "1,000.00", "NaN", "Infinity"])
def test_D_rejects_non_numbers(bad):
    with pytest.raises(ValueError):
        D(bad)


def test_D_rejects_other_types():
    with pytest.raises(TypeError):
        D([1])


# --------------------------------------------------------------------------- round_money


@pytest.mark.parametrize("value, half_up, half_even", [
    ("0.005", "0.01", "0.00"),
    ("0.015", "0.02", "0.02"),
    ("0.025", "0.03", "0.02"),
    ("2.675", "2.68", "2.68"),
    ("-0.005", "-0.01", "0.00"),
    ("1.004", "1.00", "1.00"),
    ("1.006", "1.01", "1.01"),
])
def test_round_money_half_up_vs_half_even(value, half_up, half_even):
    assert round_money(Decimal(value)) == Decimal(half_up)
    assert round_money(Decimal(value), "half_up") == Decimal(half_up)
    assert round_money(Decimal(value), "half_even") == Decimal(half_even)
    assert round_money(Decimal(value)).as_tuple().exponent == -2


def test_round_money_ignores_the_ambient_context():
    with localcontext() as ctx:
        ctx.prec = 3
        ctx.rounding = "ROUND_DOWN"
        assert round_money(Decimal("123456.785")) == Decimal("123456.79")
    assert getcontext().prec >= 28


def test_round_money_unknown_mode():
    with pytest.raises(KeyError):
        round_money(Decimal("1"), "bankers")


# --------------------------------------------------------------------------- allocate


def test_allocate_sums_exactly_with_leftover_cents():
    parts = allocate(Decimal("100.00"), [Decimal(1), Decimal(1), Decimal(1)])
    # 33.333... each: floors 33.33 x 3 = 99.99, one cent left; equal remainders -> first position
    assert parts == [Decimal("33.34"), Decimal("33.33"), Decimal("33.33")]
    assert sum(parts) == Decimal("100.00")


def test_allocate_gives_leftover_cents_to_largest_remainders():
    # 10.00 by 1/6, 2/6, 3/6: 1.6666, 3.3333, 5.00 -> floors 1.66 + 3.33 + 5.00 = 9.99;
    # the largest remainder is the first part's (0.66 of a cent)
    parts = allocate(Decimal("10.00"), [Decimal(1), Decimal(2), Decimal(3)])
    assert parts == [Decimal("1.67"), Decimal("3.33"), Decimal("5.00")]


@pytest.mark.parametrize("total, weights", [
    ("0.05", ["40", "30", "30"]),
    ("1000000.01", ["33.33", "33.33", "33.34"]),
    ("0.01", ["50", "50"]),
    ("99999.99", ["1", "1", "1", "1", "1", "1", "1"]),
])
def test_allocate_is_exact_and_deterministic(total, weights):
    ws = [Decimal(w) for w in weights]
    first = allocate(Decimal(total), ws)
    assert sum(first) == Decimal(total)
    assert all(p.as_tuple().exponent == -2 for p in first)
    assert allocate(Decimal(total), ws) == first


def test_allocate_zero_weights():
    assert allocate(Decimal("5.00"), [Decimal(0), Decimal(0)]) == [Decimal("0.00"), Decimal("0.00")]


def test_cents_round_trip():
    assert to_cents(Decimal("123.45")) == 12345
    assert from_cents(12345) == Decimal("123.45")
    with pytest.raises(ValueError):
        to_cents(Decimal("1.005"))


@given(st.integers(min_value=-(10**18), max_value=10**18), st.integers(min_value=-3, max_value=6))
def test_to_cents_is_exact_in_any_notation(cents, extra_places):
    """Any spelling of a cent amount (1, 1.5, 1.50, 1.500000, 1E+2) converts exactly; a
    value with a fraction of a cent (1.005, 0.125, -0.001) is refused, never rounded."""
    value = from_cents(cents)
    spelled = value.quantize(Decimal(1).scaleb(-2 - extra_places)) if extra_places >= 0 else value.normalize()
    assert spelled == value
    assert to_cents(spelled) == cents
    assert to_cents(-spelled) == -cents
    for fraction in (Decimal("0.001"), Decimal("0.005"), Decimal("0.0001")):
        with pytest.raises(ValueError):
            to_cents(value + fraction)


# --------------------------------------------------------------------------- Money


def test_money_refuses_floats():
    with pytest.raises(TypeError):
        Money(1.5, "USD")
    assert Money("1.50", "USD").amount == Decimal("1.50")


def test_money_refuses_mixed_currencies():
    usd, eur = Money("10.00", "USD"), Money("10.00", "EUR")
    with pytest.raises(ValueError, match="cannot mix currencies USD and EUR"):
        usd + eur
    with pytest.raises(ValueError):
        usd - eur
    with pytest.raises(ValueError):
        usd < eur  # noqa: B015
    assert usd != eur


def test_money_refuses_plain_numbers():
    with pytest.raises(TypeError):
        Money("1.00", "USD") + Decimal("1.00")  # type: ignore[operator]


def test_money_arithmetic_and_immutability():
    a = Money("10.00", "USD") + Money("2.50", "USD") - Money("0.50", "USD")
    assert a == Money("12.00", "USD")
    assert -a == Money("-12.00", "USD")
    with pytest.raises(AttributeError):
        a.amount = Decimal(0)  # type: ignore[misc]


@pytest.mark.parametrize("code", ["usd", "US", "USDX", ""])
def test_money_checks_currency_codes(code):
    with pytest.raises(ValueError):
        Money("1", code)


# --------------------------------------------------------------------------- money_str


@pytest.mark.parametrize("value, text", [
    ("1234567.89", "1234567.89"),
    ("5", "5.00"),
    ("1E+3", "1000.00"),
    ("1.500", "1.50"),
    ("-0.10", "-0.10"),
    ("0.00", "0.00"),
])
def test_money_str_is_plain_digits_two_places(value, text):
    out = money_str(Decimal(value))
    assert out == text
    assert "," not in out and " " not in out


@pytest.mark.parametrize("value", ["1.005", "0.001", "2.675"])
def test_money_str_never_rounds(value):
    with pytest.raises(ValueError):
        money_str(Decimal(value))


def test_money_str_none_is_empty():
    assert money_str(None) == ""


def test_cent_constant():
    assert CENT == Decimal("0.01")
