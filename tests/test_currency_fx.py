"""Currencies and exchange rates (issue 15): CLDR minor units, one Money type, one formatter,
rates direct / inverse / cross / month average, conversions rounded once, fx_rates.csv errors.

Every golden number below is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import ast
from datetime import date
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compengine.core import money as money_module
from compengine.core.currency import (
    CurrencyError,
    CurrencyMismatch,
    Money,
    allocate_minor,
    check_code,
    currency_name,
    format_money,
    from_minor,
    is_known,
    minor_units,
    quantum,
    round_minor,
    to_minor,
)
from compengine.core.fx import FxPolicy, FxRate, FxRates, MissingRate, RateDate, round_fraction
from compengine.core.money import allocate
from compengine.fxfile import read_fx_rates
from compengine.statements.view import format_money as statement_format_money

FAST = settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
D = Decimal


def rates(*rows: tuple[str, str, str, str]) -> FxRates:
    return FxRates(FxRate(date.fromisoformat(d), f, t, D(r)) for d, f, t, r in rows)


# --------------------------------------------------------------------------- codes and minor units


@pytest.mark.parametrize("code, places, q", [
    ("USD", 2, "0.01"), ("EUR", 2, "0.01"), ("GBP", 2, "0.01"),
    ("JPY", 0, "1"), ("CLP", 0, "1"), ("ISK", 0, "1"), ("KRW", 0, "1"),
    ("KWD", 3, "0.001"), ("BHD", 3, "0.001"), ("TND", 3, "0.001"),
])
def test_minor_units_come_from_cldr_and_agree_with_iso_4217_here(code, places, q):
    assert minor_units(code) == places
    assert quantum(code) == D(q) and str(quantum(code)) == q


def test_cldr_digits_not_iso_where_the_minor_unit_is_out_of_use():
    # the documented choice (docs/currencies.md): ISO 4217 says 2 for HUF and IDR, CLDR 0
    assert minor_units("HUF") == 0 and minor_units("IDR") == 0
    # accounting digits, not cash digits: CHF cash rounds to 0.05, CRC cash to whole colones
    assert minor_units("CHF") == 2 and minor_units("CRC") == 2


@pytest.mark.parametrize("code, known", [
    ("USD", True), ("XOF", True), ("DEM", True),  # DEM: legal tender once (old data)
    ("XXX", False), ("XAU", False), ("XTS", False), ("CLF", False),  # not money a rep is paid in
    ("ZZZ", False), ("usd", False), ("US", False), ("", False), (None, False),
])
def test_known_codes(code, known):
    assert is_known(code) is known


def test_unknown_codes_say_what_to_write():
    with pytest.raises(CurrencyError, match=r"unknown currency code 'eur': write EUR"):
        check_code("eur")
    with pytest.raises(CurrencyError, match=r"unknown currency code 'ZZZ' \(e.g. USD\)"):
        minor_units("ZZZ")


def test_currency_names():
    assert currency_name("JPY") == "Japanese Yen"
    assert currency_name("KWD") == "Kuwaiti Dinar"
    assert currency_name("JPY", "de_DE") == "Japanischer Yen"
    with pytest.raises(ValueError, match="unknown locale"):
        currency_name("JPY", "xx_NOPE")


# --------------------------------------------------------------------------- rounding and minor units


@pytest.mark.parametrize("amount, code, mode, rounded", [
    ("2.5", "JPY", "half_up", "3"), ("2.5", "JPY", "half_even", "2"), ("-2.5", "JPY", "half_up", "-3"),
    ("1.0045", "KWD", "half_up", "1.005"), ("1.0045", "KWD", "half_even", "1.004"),
    ("0.125", "USD", "half_up", "0.13"), ("0.125", "USD", "half_even", "0.12"),
])
def test_round_minor(amount, code, mode, rounded):
    out = round_minor(D(amount), code, mode)
    assert str(out) == rounded


def test_round_minor_refuses_unknown_modes():
    with pytest.raises(ValueError, match="unknown rounding mode 'down'"):
        round_minor(D("1"), "USD", "down")


def test_to_and_from_minor_are_exact_and_refuse_extra_places():
    assert to_minor(D("1234.56"), "USD") == 123456
    assert to_minor(D("1235"), "JPY") == 1235
    assert to_minor(D("1234.568"), "KWD") == 1234568
    assert to_minor(D("12.5"), "KWD") == 12500
    assert str(from_minor(1235, "JPY")) == "1235"
    assert str(from_minor(1234568, "KWD")) == "1234.568"
    assert str(from_minor(-5, "USD")) == "-0.05"
    with pytest.raises(ValueError, match=r"1234.5 JPY has more than 0 decimal place\(s\)"):
        to_minor(D("1234.5"), "JPY")
    with pytest.raises(ValueError):
        to_minor(D("0.0001"), "KWD")
    with pytest.raises(TypeError):
        from_minor(1.0, "USD")  # type: ignore[arg-type]


CODES = st.sampled_from(["USD", "EUR", "JPY", "KWD", "GBP"])


@FAST
@given(units=st.integers(-10**15, 10**15), code=CODES)
def test_minor_units_round_trip(units, code):
    assert to_minor(from_minor(units, code), code) == units
    assert round_minor(from_minor(units, code), code) == from_minor(units, code)


# --------------------------------------------------------------------------- the one formatter


@pytest.mark.parametrize("amount, code, text", [
    ("1234.56", "USD", "1,234.56"), ("1235", "JPY", "1,235"), ("1234.568", "KWD", "1,234.568"),
    ("-1234567.5", "KWD", "-1,234,567.500"), ("0", "JPY", "0"), ("-0.00", "EUR", "0.00"), ("7", "USD", "7.00"),
])
def test_house_format_uses_the_currencys_places(amount, code, text):
    assert format_money(D(amount), code) == text


@pytest.mark.parametrize("amount, code, locale, text", [
    ("1234.56", "EUR", "de_DE", "1.234,56\u00a0€"),  # CLDR puts a no-break space before the euro sign
    ("1235", "JPY", "ja_JP", "￥1,235"),  # CLDR's yen sign for ja_JP is the full-width U+FFE5
    ("1234.56", "USD", "en_US", "$1,234.56"),
    ("-1234.56", "EUR", "de_DE", "-1.234,56\u00a0€"),
    ("1234.568", "KWD", "en_US", "KWD1,234.568"),  # no symbol in en: the code, as Babel prints it
    ("1234", "EUR", "de_DE", "1.234,00\u00a0€"),
])
def test_locale_formats_through_babel(amount, code, locale, text):
    assert format_money(D(amount), code, locale) == text


def test_the_formatter_never_rounds():
    # Babel alone would print JPY 1234.5 as "￥1,234" (it rounds to the currency's digits): refused here
    with pytest.raises(ValueError, match="more than 0 decimal place"):
        format_money(D("1234.5"), "JPY", "ja_JP")
    with pytest.raises(ValueError, match="fractions of a cent"):
        format_money(D("1.005"))
    with pytest.raises(TypeError):
        format_money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="needs a currency"):
        format_money(D("1.00"), None, "de_DE")
    with pytest.raises(ValueError, match="unknown locale"):
        format_money(D("1.00"), "EUR", "nope")
    assert format_money(None) == ""


@FAST
@given(cents=st.integers(-10**14, 10**14))
def test_without_a_currency_it_is_the_statements_format(cents):
    # statements.view.format_money is one of today's formatters this one replaces
    amount = from_minor(cents, "USD")
    assert format_money(amount) == format_money(amount, "USD") == statement_format_money(amount)


# --------------------------------------------------------------------------- Money


def test_money_refuses_mixing_currencies_with_one_error():
    usd, eur = Money(D("10.00"), "USD"), Money(D("10.00"), "EUR")
    for op in (lambda: usd + eur, lambda: usd - eur, lambda: usd < eur, lambda: usd >= eur):
        with pytest.raises(CurrencyMismatch, match="cannot mix currencies USD and EUR"):
            op()
    assert usd != eur
    with pytest.raises(TypeError):
        usd + D("1")  # type: ignore[operator]
    with pytest.raises(TypeError):
        Money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(CurrencyError):
        Money(D("1"), "usd")


def test_money_arithmetic_rounding_and_text():
    a = Money(D("10.00"), "USD") + Money("2.50", "USD") - Money("0.50", "USD")
    assert a == Money(D("12"), "USD") and hash(a) == hash(Money(D("12"), "USD"))
    assert a * D("1.0832") == Money(D("12.998400"), "USD")
    assert (a * D("1.0832")).round() == Money(D("13.00"), "USD")
    assert Money(D("2.5"), "JPY").round("half_even") == Money(D("2"), "JPY")
    assert str(Money(D("10000"), "EUR")) == "EUR 10,000.00"
    assert str(Money(D("1.005"), "USD")) == "USD 1.005"  # unrounded: every digit, never rounded for show
    assert Money(D("1234.56"), "EUR").format("de_DE") == "1.234,56\u00a0€"
    assert Money(D("1235"), "JPY").format() == "1,235"
    assert Money.of_minor(1234568, "KWD").amount == D("1234.568")
    assert Money(D("1234.568"), "KWD").minor == 1234568
    assert repr(Money(D("1.50"), "USD")) == "Money('1.50', 'USD')"
    assert Money(D("1000"), "JPY").allocate([D(1), D(1), D(1)]) == [Money(D(n), "JPY") for n in (334, 333, 333)]


def test_there_is_one_money_type():
    assert money_module.Money is Money
    from compengine.core import Money as exported

    assert exported is Money


# --------------------------------------------------------------------------- allocate_minor


@pytest.mark.parametrize("total, weights, code, parts", [
    ("1000", ["1", "1", "1"], "JPY", ["334", "333", "333"]),  # 333.33.. each: the leftover yen to the first
    ("10.000", ["1", "1", "1"], "KWD", ["3.334", "3.333", "3.333"]),
    ("100.00", ["60", "40"], "USD", ["60.00", "40.00"]),
    ("-1000", ["1", "1", "1"], "JPY", ["-333", "-333", "-334"]),  # floors -334 each, 2 yen back by position
    ("5", ["0", "0"], "JPY", ["0", "0"]),  # weights adding up to zero: zeros, as money.allocate
])
def test_allocate_minor_golden(total, weights, code, parts):
    assert [str(p) for p in allocate_minor(D(total), [D(w) for w in weights], code)] == parts


def test_allocate_minor_splits_and_does_not_round():
    with pytest.raises(ValueError, match="more than 0 decimal place"):
        allocate_minor(D("10.5"), [D(1)], "JPY")
    with pytest.raises(ValueError, match="zero or more"):
        allocate_minor(D("10"), [D(2), D(-1)], "JPY")


WEIGHTS = st.lists(st.decimals(min_value=0, max_value=100, places=2), min_size=1, max_size=6)


@FAST
@given(cents=st.integers(-10**12, 10**12), weights=WEIGHTS)
def test_allocate_minor_is_money_allocate_for_cents(cents, weights):
    total = from_minor(cents, "USD")
    assert allocate_minor(total, weights, "USD") == allocate(total, weights)


# --------------------------------------------------------------------------- rates


# EUR->USD 1.0832 from 2026-10-01, 1.0862 from 2026-10-11; USD->JPY 151.37; KWD->USD 3.2571
OCTOBER = rates(
    ("2026-10-01", "EUR", "USD", "1.0832"),
    ("2026-10-11", "EUR", "USD", "1.0862"),
    ("2026-10-01", "USD", "JPY", "151.37"),
    ("2026-10-01", "KWD", "USD", "3.2571"),
)


def test_golden_eur_deal_on_a_usd_plan():
    # 10,000.00 x 1.0832 = 10,832.00 exactly
    c = OCTOBER.convert(D("10000.00"), "EUR", "USD", date(2026, 10, 3))
    assert c.converted == Money(D("10832.00"), "USD")
    assert c.rate == D("1.0832") and c.rate_date == date(2026, 10, 1)
    assert c.explain() == "EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00"


def test_golden_usd_deal_for_a_jpy_paid_rep():
    # 1,234.56 x 151.37 = 186,875.3472 (1,234.56 x 150 = 185,184; x 1.37 = 1,691.3472) -> 186,875 yen
    c = OCTOBER.convert(D("1234.56"), "USD", "JPY", date(2026, 10, 20))
    assert str(c.converted.amount) == "186875"
    assert c.explain() == "USD 1,234.56 at 151.37 (2026-10-01) = JPY 186,875"
    assert c.converted.format("ja_JP") == "￥186,875"


def test_golden_kwd_three_places():
    # 1,234.567 x 3.2571 = 3,703.701 + 317.4071757 = 4,021.1081757 -> USD 4,021.11
    c = OCTOBER.convert(D("1234.567"), "KWD", "USD", date(2026, 10, 5))
    assert c.explain() == "KWD 1,234.567 at 3.2571 (2026-10-01) = USD 4,021.11"
    # the other way, inverse: 1,000.00 / 3.2571 = 307.02158... (3.2571 x 307 = 999.9297, 0.0703 / 3.2571 = 0.02158)
    back = OCTOBER.convert(D("1000.00"), "USD", "KWD", date(2026, 10, 5))
    assert str(back.converted.amount) == "307.022"
    assert back.explain() == "USD 1,000.00 at 1/3.2571 (2026-10-01) = KWD 307.022"
    with pytest.raises(ValueError, match="more than 3 decimal place"):
        OCTOBER.convert(D("1.0001"), "KWD", "USD", date(2026, 10, 5))


def test_golden_month_average_against_close_date_and_month_end():
    # October has 31 days: 1.0832 on the 1st..10th (10 days), 1.0862 on the 11th..31st (21 days).
    # Average = (10 x 1.0832 + 21 x 1.0862) / 31 = (10.832 + 22.8102) / 31 = 33.6422 / 31 = 1.0852322580645...
    # EUR 10,000.00 x 33.6422 / 31 = 336,422 / 31 = 10,852.3225806... -> USD 10,852.32
    avg = OCTOBER.convert(D("10000.00"), "EUR", "USD", date(2026, 10, 3), rate_date="month_average")
    assert avg.explain() == "EUR 10,000.00 at (10 x 1.0832 + 21 x 1.0862) / 31 (2026-10 average) = USD 10,852.32"
    assert avg.quote.exact == Fraction("33.6422") / 31
    assert str(avg.rate) == "1.085232258064516129032258064516129"
    # close date 2026-10-03: the first rate, 10,000.00 x 1.0832 = 10,832.00
    close = OCTOBER.convert(D("10000.00"), "EUR", "USD", date(2026, 10, 3), rate_date="close_date")
    assert close.converted.amount == D("10832.00")
    # month end 2026-10-31: the second rate, 10,000.00 x 1.0862 = 10,862.00
    end = OCTOBER.convert(D("10000.00"), "EUR", "USD", date(2026, 10, 3), rate_date=RateDate.MONTH_END)
    assert end.explain() == "EUR 10,000.00 at 1.0862 (2026-10-11) = USD 10,862.00" and end.day == date(2026, 10, 31)


def test_month_average_of_one_rate_is_that_rate_and_a_gap_is_missing():
    one = OCTOBER.month_average("USD", "JPY", "2026-10")
    assert one.exact == Fraction("151.37") and one.text == "151.37"
    with pytest.raises(MissingRate, match="no USD->JPY rate in force on 2026-09-01"):
        OCTOBER.month_average("USD", "JPY", "2026-09")
    late = rates(("2026-10-02", "EUR", "USD", "1.08"))
    with pytest.raises(MissingRate, match="on 2026-10-01 .*first rate is on 2026-10-02"):
        late.month_average("EUR", "USD", "2026-10")


def test_inverse_rate_is_computed_not_rounded():
    rate, effective, how = OCTOBER.rate("USD", "EUR", date(2026, 10, 5))
    assert how == "inverse" and effective == date(2026, 10, 1)
    # 1 / 1.0832 at 34 significant digits
    assert rate == D("0.9231905465288035450516986706056130")
    assert OCTOBER.rate("USD", "EUR", date(2026, 10, 5)).exact == 1 / Fraction("1.0832")
    # USD 10,832.00 back to EUR is exactly 10,000.00: the exact inverse, rounded once
    c = OCTOBER.convert(D("10832.00"), "USD", "EUR", date(2026, 10, 5))
    assert c.explain() == "USD 10,832.00 at 1/1.0832 (2026-10-01) = EUR 10,000.00"


def test_cross_rate_through_the_base():
    # EUR->JPY = EUR->USD x USD->JPY = 1.0832 x 151.37 = 163.963984 (151.37 + 0.0832 x 151.37 = 151.37 + 12.593984)
    q = OCTOBER.rate("EUR", "JPY", date(2026, 10, 5), base="USD")
    assert (q.rate, q.how) == (D("163.963984"), "cross via USD")
    # 10,000.00 x 163.963984 = 1,639,639.84 -> JPY 1,639,640
    c = OCTOBER.convert(D("10000.00"), "EUR", "JPY", date(2026, 10, 5), base="USD")
    assert c.explain() == "EUR 10,000.00 at 1.0832 x 151.37 (2026-10-01) = JPY 1,639,640"
    # JPY->KWD: both legs inverse, 1/151.37 x 1/3.2571. 151.37 x 3.2571 = 454.11 + 38.917227 = 493.027227;
    # 493.027227 x 2,028 = 999,859.216356, and the remaining 140.783644 / 493.027227 = 0.28555 -> KWD 2,028.286
    jk = OCTOBER.convert(D("1000000"), "JPY", "KWD", date(2026, 10, 5), base="USD")
    assert jk.quote.text == "1/151.37 x 1/3.2571"
    assert jk.converted.amount == D("2028.286")
    # the cross rate takes effect when its later leg does
    assert OCTOBER.rate("EUR", "JPY", date(2026, 10, 12), base="USD").effective == date(2026, 10, 11)
    with pytest.raises(MissingRate, match=r"no EUR->JPY rate in force on 2026-10-05 \(nor JPY->EUR\)$"):
        OCTOBER.rate("EUR", "JPY", date(2026, 10, 5))
    with pytest.raises(MissingRate, match=r"nor through GBP"):
        OCTOBER.rate("EUR", "JPY", date(2026, 10, 5), base="GBP")


def test_direct_wins_and_each_rate_holds_until_the_next():
    r = rates(("2026-01-01", "EUR", "USD", "1.05"), ("2026-06-01", "USD", "EUR", "0.90"),
              ("2026-03-01", "EUR", "USD", "1.10"))
    assert r.rate("EUR", "USD", date(2026, 2, 28)).rate == D("1.05")
    assert r.rate("EUR", "USD", date(2026, 3, 1)).rate == D("1.10")
    assert r.rate("EUR", "USD", date(2026, 7, 1)).how == "direct"  # the direct pair, though USD->EUR is newer
    assert r.rate("USD", "EUR", date(2026, 2, 1)).how == "inverse"  # USD->EUR only from June
    assert r.rate("USD", "EUR", date(2026, 6, 1)).how == "direct"
    with pytest.raises(MissingRate, match="first rate is on 2026-01-01"):
        r.rate("EUR", "USD", date(2025, 12, 31))
    same = r.convert(D("5.00"), "EUR", "EUR", date(2020, 1, 1))
    assert same.converted == Money(D("5.00"), "EUR") and same.quote.how == "same currency"


def test_fx_rates_refuse_bad_rows():
    with pytest.raises(ValueError, match="two rates on 2026-10-01"):
        rates(("2026-10-01", "EUR", "USD", "1.08"), ("2026-10-01", "EUR", "USD", "1.09"))
    with pytest.raises(ValueError, match="above zero"):
        rates(("2026-10-01", "EUR", "USD", "0"))
    with pytest.raises(ValueError, match="two currencies"):
        rates(("2026-10-01", "EUR", "EUR", "1"))
    with pytest.raises(CurrencyError):
        rates(("2026-10-01", "EUR", "ZZZ", "1"))


def test_rate_dates_and_fx_policy():
    assert RateDate.parse("month_end") is RateDate.MONTH_END
    with pytest.raises(ValueError, match="unknown rate_date 'month_start': expected close_date, month_end, month_average"):
        RateDate.parse("month_start")
    assert FxPolicy.from_mapping(None) == FxPolicy(RateDate.CLOSE_DATE, None)
    assert FxPolicy.from_mapping({"rate_date": "month_average", "base": "USD"}) == FxPolicy(RateDate.MONTH_AVERAGE, "USD")
    with pytest.raises(ValueError, match=r"^fx.rate_date: unknown rate_date 'weekly'"):
        FxPolicy.from_mapping({"rate_date": "weekly"})
    with pytest.raises(ValueError, match=r"^fx.base: unknown currency code 'usd': write USD"):
        FxPolicy.from_mapping({"base": "usd"})
    with pytest.raises(ValueError, match=r"unknown key\(s\) rate"):
        FxPolicy.from_mapping({"rate": "close_date"})
    with pytest.raises(ValueError, match="unknown rate_date"):
        OCTOBER.convert(D("1.00"), "EUR", "USD", date(2026, 10, 5), rate_date="daily")


@FAST
@given(num=st.integers(-10**9, 10**9), den=st.integers(1, 10**6), places=st.sampled_from([0, 2, 3]),
       mode=st.sampled_from(["half_up", "half_even"]))
def test_round_fraction_agrees_with_decimal_quantize(num, den, places, mode):
    # for values Decimal holds exactly (den a divisor of 10^k), the exact rounding is Decimal's
    value = Fraction(num, den)
    if (10**12) % den == 0:
        exact = D(num) / D(den)
        assert round_fraction(value, places, mode) == round_minor(exact, {0: "JPY", 2: "USD", 3: "KWD"}[places], mode)
    out = round_fraction(value, places, mode)
    assert abs(Fraction(out) - value) <= Fraction(1, 2 * 10**places)


# --------------------------------------------------------------------------- the invariant


@FAST
@given(units=st.integers(-10**11, 10**11), src=CODES, dst=CODES,
       rate=st.decimals(min_value=D("0.0001"), max_value=D("1000"), places=4),
       inverse=st.booleans(), weights=WEIGHTS, mode=st.sampled_from(["half_up", "half_even"]))
def test_convert_then_allocate_conserves_the_converted_credit(units, src, dst, rate, inverse, weights, mode):
    if src == dst:
        dst = "KWD" if src != "KWD" else "JPY"
    row = (dst, src) if inverse else (src, dst)
    r = FxRates([FxRate(date(2026, 10, 1), row[0], row[1], rate)])
    c = r.convert(from_minor(units, src), src, dst, date(2026, 10, 5), mode)
    # rounded once, to the target's minor units, within half a unit of the exact product
    exact = Fraction(from_minor(units, src)) * (1 / Fraction(rate) if inverse else Fraction(rate))
    assert abs(Fraction(c.converted.amount) - exact) <= Fraction(1, 2 * 10 ** minor_units(dst))
    parts = allocate_minor(c.converted.amount, weights, dst)
    if sum(weights) > 0:
        assert sum(parts, D(0)) == c.converted.amount
    # each part is whole minor units (to_minor raises else), and they add up to the converted credit
    assert sum(to_minor(p, dst) for p in parts) == (to_minor(c.converted.amount, dst) if sum(weights) > 0 else 0)


# --------------------------------------------------------------------------- fx_rates.csv


WHY = ": a rate is how many units of to_currency one from_currency buys"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fx_rates.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_read_fx_rates(tmp_path):
    path = write(tmp_path, "date,from_currency,to_currency,rate\n"
                           "2026-10-01,EUR,USD,1.0832\n"
                           "\n"
                           "2026-10-11,EUR,USD,1.0862\n"
                           "2026-10-01,USD,JPY,151.37\n")
    fx, errors = read_fx_rates(path)
    assert errors == []
    assert len(fx) == 3 and fx.pairs == [("EUR", "USD"), ("USD", "JPY")]
    q = fx.rate("EUR", "USD", date(2026, 10, 12))
    assert q.rate == D("1.0862") and str(q.rows[0].source) == f"{path}:4"


@pytest.mark.parametrize("row, where, message", [
    ("2026-10-02,EUR,ZZZ,1.1", "3: to_currency", "unknown currency code 'ZZZ' (e.g. USD)"),
    ("2026-10-02,eur,USD,1.1", "3: from_currency", "unknown currency code 'eur': write EUR"),
    ("2026-10-02,EUR,USD,0", "3: rate", "0 is not above zero" + WHY),
    ("2026-10-02,EUR,USD,-1.08", "3: rate", "-1.08 is not above zero" + WHY),
    ("2026-10-02,EUR,USD,1e3", "3: rate", "not a plain number '1e3': write it in digits, without an exponent (e.g. 60000.00)"),
    ("2026-10-02,EUR,USD,", "3: rate", "is required"),
    ("2026-10-02,EUR,EUR,1", "3: to_currency", "EUR is also the from_currency: a rate needs two currencies"),
    ("2026-10-01,EUR,USD,1.09", "3: date", "EUR->USD already has a rate on 2026-10-01 (line 2): one rate per pair and date"),
    ("2206-10-01,EUR,USD,1.09", "3: date", "2206-10-01 is outside the supported dates 1970-01-01 to 2100-12-31"),
    ("01/10/2026,EUR,USD,1.09", "3: date", "not a date '01/10/2026': expected YYYY-MM-DD"),
    ("2026-10-02,EUR,USD", "3", "has 3 fields, the header has 4"),
])
def test_read_fx_rates_errors_name_file_line_and_field(tmp_path, row, where, message):
    path = write(tmp_path, f"date,from_currency,to_currency,rate\n2026-10-01,EUR,USD,1.0832\n{row}\n")
    fx, errors = read_fx_rates(path)
    assert [str(e) for e in errors] == [f"{path}:{where}: {message}"]
    assert len(fx) == 1  # only the good row


def test_read_fx_rates_file_errors(tmp_path):
    path = write(tmp_path, "date,from,to,rate\n2026-10-01,EUR,USD,1.0832\n")
    assert [str(e) for e in read_fx_rates(path)[1]] == [f"{path}:1: missing column(s): from_currency, to_currency"]
    path = write(tmp_path, "date;from_currency;to_currency;rate\n")
    assert "separated by semicolons" in str(read_fx_rates(path)[1][0])
    path = write(tmp_path, "")
    assert [str(e) for e in read_fx_rates(path)[1]] == [
        f"{path}:1: the file is empty: expected a header row (date, from_currency, to_currency, rate)"]
    missing = tmp_path / "nope.csv"
    assert [str(e) for e in read_fx_rates(missing)[1]] == [f"{missing}: file not found"]
    # a row with several problems reports each of its fields
    path = write(tmp_path, "date,from_currency,to_currency,rate\nsoon,XXX,USD,0\n")
    assert [str(e) for e in read_fx_rates(path)[1]] == [
        f"{path}:2: date: not a date 'soon': expected YYYY-MM-DD",
        f"{path}:2: from_currency: unknown currency code 'XXX' (e.g. USD)",
        f"{path}:2: rate: 0 is not above zero: a rate is how many units of to_currency one from_currency buys",
    ]


# --------------------------------------------------------------------------- layers


@pytest.mark.parametrize("module", ["core/currency.py", "core/fx.py"])
def test_the_new_core_modules_stay_pure(module):
    source = (Path(__file__).resolve().parents[1] / "compengine" / module).read_text(encoding="utf-8")
    imported = {n.module for n in ast.walk(ast.parse(source)) if isinstance(n, ast.ImportFrom)}
    imported |= {a.name for n in ast.walk(ast.parse(source)) if isinstance(n, ast.Import) for a in n.names}
    assert {m for m in imported if m and not m.startswith(("compengine.core", "babel", "__future__"))} <= {
        "bisect", "collections", "collections.abc", "dataclasses", "datetime", "decimal", "enum", "fractions",
        "functools"}


@given(cents=st.integers(1, 10**13), rate_digits=st.integers(1, 10**9), scale=st.integers(0, 8),
       code=st.sampled_from(["USD", "JPY", "KWD", "EUR"]), mode=st.sampled_from(["half_up", "half_even"]))
def test_a_finite_rate_converts_in_decimal_exactly_as_the_fraction_rounds(cents, rate_digits, scale, code, mode):
    """FxRates.convert takes a Decimal shortcut when the rate is a finite decimal (direct rates, crosses of
    them): it must round exactly as the exact fraction does, for every amount, rate and rounding mode."""
    from datetime import date
    from fractions import Fraction

    from compengine.core.fx import FxRate, FxRates, round_fraction

    rate = Decimal(rate_digits).scaleb(-scale)
    amount = Decimal(cents).scaleb(-2)
    fx = FxRates([FxRate(date(2026, 1, 1), "USD" if code != "USD" else "EUR", code, rate)])
    src = "USD" if code != "USD" else "EUR"
    got = fx.convert(amount, src, code, date(2026, 3, 1), mode).converted.amount
    from compengine.core.currency import minor_units
    assert got == round_fraction(Fraction(amount) * Fraction(rate), minor_units(code), mode)
    assert str(got) == str(round_fraction(Fraction(amount) * Fraction(rate), minor_units(code), mode))
