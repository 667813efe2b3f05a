"""Issue 15 in the calculation path: deals in another currency than the receiver's plan are
converted (once per deal and plan currency, then allocated by split), lines are rounded to
the plan currency's minor unit, a missing rate is an exception, bad input is refused.

Every number below is worked by hand in the comments.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from compengine.cli import main
from compengine.core.currency import minor_units, to_minor
from compengine.core.fx import FxRate, FxRates
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder, read_plans_and_folder
from compengine.engine import calculate_month
from compengine.engine.pipeline import FxCredits, calculate_period, credit_deals, group_assignments, group_splits
from compengine.engine.records import Assignment, Deal, Rep, Split
from compengine.plans.loader import load_plan_text, load_plans

OCT = Period.parse("2026-10")
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "multi-currency"


def plan(pid: str, currency: str, rate: str = "0.10", fx: str = "", override: str | None = None):
    text = f"id: {pid}\ncurrency: {currency}\nquota: {{annual: 1200000}}\nrates: {{new_logo: {rate}}}\n{fx}\n"
    if override:
        text += f"override: {{rate: {override}}}\n"
    p, errors = load_plan_text(text, f"{pid}.yaml")
    assert p is not None, errors
    return p


def rates(*rows: tuple[str, str, str, str]) -> FxRates:
    return FxRates(FxRate(date.fromisoformat(d), a, b, Decimal(r)) for d, a, b, r in rows)


def deal(deal_id: str, amount: str, currency: str, close: date = date(2026, 10, 3), owner: str = "R1") -> Deal:
    return Deal(deal_id, "Globex", "new_logo", Decimal(amount), currency, close, owner, 12)


def month(plans, assignments, deals, *, fx, splits=(), reps=None):
    reps = reps or {a.rep_id: Rep(a.rep_id, a.rep_id) for a in assignments}
    return calculate_period(OCT, {p.id: p for p in plans}, reps, group_assignments(assignments),
                            credit_deals(deals, group_splits(splits)), fx=fx)


def on(plan_id: str, rep_id: str = "R1") -> Assignment:
    return Assignment(rep_id, plan_id, date(2026, 1, 1))


EUR_USD = rates(("2026-10-01", "EUR", "USD", "1.0832"))


# --------------------------------------------------------------------------- golden


def test_eur_deal_on_a_usd_plan():
    res = month([plan("us", "USD")], [on("us")], [deal("D1", "10000.00", "EUR")], fx=EUR_USD)
    r = res.rep("R1")
    # EUR 10,000.00 x 1.0832 = USD 10,832.00 (exact); 10,832.00 x 10% = 1,083.20
    assert [(ln.kind, ln.credit, ln.amount) for ln in r.lines] == [
        ("commission", Decimal("10832.00"), Decimal("1083.20"))]
    assert r.lines[0].explain.startswith(
        "D1 new_logo Globex: EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00; credit 10,832.00 in band 1")
    assert r.credited == Decimal("10832.00") and r.payout == Decimal("1083.20") and r.currency == "USD"
    assert res.exceptions == []


def test_usd_deal_for_a_jpy_paid_rep_rounds_to_whole_yen():
    fx = rates(("2026-10-01", "USD", "JPY", "151.37"))
    res = month([plan("jp", "JPY", "0.08")], [on("jp")], [deal("D3", "12345.67", "USD")], fx=fx)
    r = res.rep("R1")
    # 12,345.67 x 151.37 = 1,864,196.17 (x 151) + 4,567.8979 (x 0.37) = 1,868,764.0679 -> JPY 1,868,764
    # 1,868,764 x 8% = 149,501.12 -> 149,501 (the line is rounded to yen, not to cents)
    assert [(ln.credit, ln.amount) for ln in r.lines] == [(Decimal("1868764"), Decimal("149501"))]
    assert r.payout == Decimal("149501") and r.currency == "JPY"
    assert "USD 12,345.67 at 151.37 (2026-10-01) = JPY 1,868,764; credit 1,868,764 in band 1" in r.lines[0].explain
    assert r.lines[0].explain.endswith("= 149,501")


def test_inverse_rate_for_a_kwd_plan_rounds_to_fils():
    fx = rates(("2026-10-01", "KWD", "USD", "3.25"))
    res = month([plan("kw", "KWD", "0.10")], [on("kw")], [deal("D1", "1000.00", "USD")], fx=fx)
    r = res.rep("R1")
    # USD 1,000.00 x 1/3.25 = 307.6923076.. -> KWD 307.692 (3 places); x 10% = 30.7692 -> 30.769
    assert [(ln.credit, ln.amount) for ln in r.lines] == [(Decimal("307.692"), Decimal("30.769"))]
    assert "USD 1,000.00 at 1/3.25 (2026-10-01) = KWD 307.692" in r.lines[0].explain


def test_month_average_vs_close_date_vs_month_end():
    fx = rates(("2026-10-01", "EUR", "USD", "1.0800"), ("2026-10-11", "EUR", "USD", "1.0900"))
    out = {}
    for how in ("close_date", "month_end", "month_average"):
        p = plan("us", "USD", fx=f"fx: {{rate_date: {how}}}")
        r = month([p], [on("us")], [deal("D1", "10000.00", "EUR", close=date(2026, 10, 5))], fx=fx).rep("R1")
        out[how] = (r.lines[0].credit, r.lines[0].amount, r.lines[0].explain)
    # close date 2026-10-05: 1.0800 in force -> 10,800.00; 10% = 1,080.00
    assert out["close_date"][:2] == (Decimal("10800.00"), Decimal("1080.00"))
    # month end 2026-10-31: 1.0900 -> 10,900.00; 10% = 1,090.00
    assert out["month_end"][:2] == (Decimal("10900.00"), Decimal("1090.00"))
    # average: 1.0800 on the 1st..10th (10 days), 1.0900 on the 11th..31st (21 days):
    # (10 x 1.08 + 21 x 1.09) / 31 = (10.80 + 22.89) / 31 = 33.69 / 31 = 1.0867741935..
    # 10,000.00 x 33.69 / 31 = 336,900 / 31 = 10,867.741935.. -> 10,867.74 (rounded once, from the exact average)
    # 10,867.74 x 10% = 1,086.774 -> 1,086.77
    assert out["month_average"][:2] == (Decimal("10867.74"), Decimal("1086.77"))
    assert "EUR 10,000.00 at (10 x 1.0800 + 21 x 1.0900) / 31 (2026-10 average) = USD 10,867.74" in out["month_average"][2]


def test_split_deal_is_converted_once_then_allocated():
    deals = [deal("D1", "1000.01", "EUR")]
    splits = [Split("D1", "R1", Decimal("33.33")), Split("D1", "R2", Decimal("33.33")), Split("D1", "R3", Decimal("33.34"))]
    p = plan("us", "USD")
    res = month([p], [on("us", r) for r in ("R1", "R2", "R3")], deals, fx=EUR_USD, splits=splits)
    # EUR 1,000.01 x 1.0832 = 1,083.210832 -> USD 1,083.21 = 108,321 cents, allocated by 33.33/33.33/33.34:
    # 36,103.3893 -> 36,103; 36,103.3893 -> 36,103; 36,114.2214 -> 36,114; sum 108,320, 1 cent left
    # to the largest remainder (.3893, R1 before R2 by position): 361.04, 361.03, 361.14 (sum 1,083.21)
    got = {r.rep_id: r.credited for r in res.reps}
    assert got == {"R1": Decimal("361.04"), "R2": Decimal("361.03"), "R3": Decimal("361.14")}
    assert sum(got.values()) == Decimal("1083.21")
    assert "(primary 33.33% of 1,083.21)" in res.rep("R1").lines[0].explain


def test_override_on_a_report_paid_in_another_currency_is_converted():
    fx = rates(("2026-10-01", "EUR", "USD", "1.0832"))
    reps = {"M1": Rep("M1", "M"), "R1": Rep("R1", "R", manager_id="M1")}
    res = month([plan("eu", "EUR"), plan("mgr", "USD", "0", override="0.05")], [on("eu"), on("mgr", "M1")],
                [deal("D1", "10000.00", "EUR")], fx=fx, reps=reps)
    # R1 (EUR plan): no conversion, 10,000.00 x 10% = EUR 1,000.00
    assert res.rep("R1").payout == Decimal("1000.00")
    # M1 (USD plan): R1's credit converted 10,832.00 x 5% = USD 541.60
    m = res.rep("M1")
    assert [(ln.kind, ln.credit, ln.amount) for ln in m.lines] == [("override", Decimal("10832.00"), Decimal("541.60"))]
    assert "EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00" in m.lines[0].explain


def test_a_tie_is_rounded_by_each_plans_own_mode_when_plans_share_a_conversion():
    # R1 (USD, half-up) and its manager M1 (USD, half-even, override 5%) both convert D1 at 1.0125:
    # EUR 10.00 x 1.0125 = 10.125 exactly, a tie: half-up 10.13, half-even 10.12. The manager's
    # conversion is not the report's even though the currency and the rate policy are the same.
    fx = rates(("2026-10-01", "EUR", "USD", "1.0125"))
    reps = {"M1": Rep("M1", "M"), "R1": Rep("R1", "R", manager_id="M1")}
    mgr, errors = load_plan_text("id: mgr\ncurrency: USD\nrounding: half_even\nquota: {annual: 1200000}\n"
                                 "rates: {new_logo: 0}\noverride: {rate: 0.05}\n", "mgr.yaml")
    assert mgr is not None, errors
    res = month([plan("us", "USD"), mgr], [on("us"), on("mgr", "M1")], [deal("D1", "10.00", "EUR")], fx=fx, reps=reps)
    # R1: 10.13 x 10% = 1.013 -> 1.01
    assert [(ln.credit, ln.amount) for ln in res.rep("R1").lines] == [(Decimal("10.13"), Decimal("1.01"))]
    # M1: 10.12 x 5% = 0.506 -> 0.51 (half-even; the credit is what tells the two apart)
    m = res.rep("M1")
    assert [(ln.kind, ln.credit, ln.amount) for ln in m.lines] == [("override", Decimal("10.12"), Decimal("0.51"))]
    assert "EUR 10.00 at 1.0125 (2026-10-01) = USD 10.12" in m.lines[0].explain
    # and where the modes agree the manager reuses the report's conversion: EUR 10.00 x 1.0832 = 10.832 -> 10.83
    res = month([plan("us", "USD"), mgr], [on("us"), on("mgr", "M1")], [deal("D1", "10.00", "EUR")], fx=EUR_USD,
                reps=reps)
    assert [ln.credit for ln in res.rep("M1").lines] == [Decimal("10.83")]


def test_missing_rate_is_an_exception_naming_deal_pair_and_date():
    fx = rates(("2026-10-01", "GBP", "USD", "1.2650"))
    res = month([plan("us", "USD")], [on("us")], [deal("D1", "10000.00", "EUR", close=date(2026, 10, 3))], fx=fx)
    assert res.rep("R1").lines == [] and res.rep("R1").payout == 0
    assert len(res.exceptions) == 1
    text = res.exceptions[0]
    assert text.startswith("R1: deal D1 in EUR for plan us in USD: no EUR->USD rate in force on 2026-10-03")
    assert text.endswith("; not credited")


def test_without_rates_a_mismatch_stays_an_exception():
    res = month([plan("us", "USD")], [on("us")], [deal("D1", "10000.00", "EUR")], fx=None)
    assert res.exceptions == ["R1: deal D1 is in EUR, plan us pays USD; not credited"]


def test_usd_plan_lines_are_unchanged_by_the_minor_unit_rounding():
    # a 2-decimal plan rounds to cents exactly as before: 333.33 x 10% = 33.333 -> 33.33
    res = month([plan("us", "USD")], [on("us")], [deal("D1", "333.33", "USD")], fx=EUR_USD)
    assert [ln.amount for ln in res.rep("R1").lines] == [Decimal("33.33")]
    assert str(res.rep("R1").lines[0].amount) == "33.33"


# --------------------------------------------------------------------------- property

CODES = ["USD", "EUR", "GBP", "JPY", "KWD"]


@settings(max_examples=200, deadline=None)
@given(
    units=st.integers(min_value=1, max_value=10**12),
    src=st.sampled_from(CODES),
    dst=st.sampled_from(CODES),
    rate=st.decimals(min_value=Decimal("0.0001"), max_value=Decimal("500"), places=4),
    weights=st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=6),
)
def test_converting_then_splitting_conserves_the_converted_amount(units, src, dst, rate, weights):
    if src == dst:
        dst = "USD" if src != "USD" else "EUR"
    # a deal amount in whole cents and in the source currency's minor units (JPY: whole yen)
    amount = Decimal(units).scaleb(-min(2, minor_units(src)))
    # split percents summing to exactly 100: weights scaled, the last takes the rest
    total_w = sum(weights)
    pcts = [Decimal(w * 100 * 100 // total_w) / 100 for w in weights[:-1]]
    pcts.append(Decimal(100) - sum(pcts, Decimal(0)))
    if pcts[-1] <= 0:
        return
    fx = FxRates([FxRate(date(2026, 10, 1), src, dst, rate)])
    d = Deal("D1", "A", "new_logo", amount, src, date(2026, 10, 3), "R0", 12)
    splits = [Split("D1", f"R{i}", p) for i, p in enumerate(pcts)]
    credits = credit_deals([d], group_splits(splits))
    p = plan("x", dst)
    conv = FxCredits(fx, credits)
    converted = [conv.convert(c, p)[0] for c in credits]
    whole = fx.convert(amount, src, dst, d.close_date).converted.amount
    assert sum((c.credit for c in converted), Decimal(0)) == whole
    for c in converted:
        to_minor(c.credit, dst)  # each part in the plan currency's minor units
        assert c.currency == dst and c.deal_amount == whole


# --------------------------------------------------------------------------- the example folder, end to end


def test_example_multi_currency_folder():
    plans, data = read_plans_and_folder(EXAMPLE / "plans", EXAMPLE)
    res = calculate_month(data, plans, OCT)
    assert res.exceptions == []
    r1, r2 = res.rep("R1"), res.rep("R2")
    # R1 (USD): D1 EUR 10,000.00 x 1.0832 (the October rate, not September's 1.0790) = 10,832.00 -> 10% = 1,083.20
    #           D2 GBP 20,000.00 x 1.2650 = 25,300.00 -> 10% = 2,530.00; payout 3,613.20
    assert [(ln.deal_id, ln.credit, ln.amount) for ln in r1.lines] == [
        ("D1", Decimal("10832.00"), Decimal("1083.20")), ("D2", Decimal("25300.00"), Decimal("2530.00"))]
    assert r1.payout == Decimal("3613.20") and r1.currency == "USD"
    # R2 (JPY): D3 USD 12,345.67 x 151.37 = 1,868,764.0679 -> 1,868,764; 8% = 149,501.12 -> 149,501
    assert [(ln.deal_id, ln.credit, ln.amount) for ln in r2.lines] == [("D3", Decimal("1868764"), Decimal("149501"))]
    assert r2.payout == Decimal("149501") and r2.currency == "JPY"


def test_compengine_calc_on_the_example_folder():
    res = CliRunner().invoke(main, ["calc", "--plans", str(EXAMPLE / "plans"), "--data", str(EXAMPLE),
                                    "--period", "2026-10"])
    assert res.exit_code == 0, res.output
    assert "total payout JPY 149,501 + USD 3,613.20" in res.output
    assert "D1 new_logo Globex: EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00; credit 10,832.00" in res.output
    assert "= payout JPY 149,501   [commission 149,501]" in res.output


# --------------------------------------------------------------------------- bad input: file:line:field, nothing read


def _copy_example(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    folder.mkdir()
    for f in EXAMPLE.glob("*.csv"):
        (folder / f.name).write_text(f.read_text())
    return folder


def test_unknown_currency_code_in_deals_csv(tmp_path):
    folder = _copy_example(tmp_path)
    text = (folder / "deals.csv").read_text().replace("10000.00,EUR", "10000.00,EUX")
    (folder / "deals.csv").write_text(text)
    plans, _ = load_plans(EXAMPLE / "plans")
    _, errors = read_data_folder(folder, plans)
    assert [str(e) for e in errors] == [f"{folder}/deals.csv:2: currency: unknown currency code 'EUX' (e.g. USD)"]


def test_a_yen_amount_with_decimals_is_refused(tmp_path):
    folder = _copy_example(tmp_path)
    (folder / "deals.csv").write_text((folder / "deals.csv").read_text() + "D4,Soylent,new_logo,1000.50,JPY,2026-10-21,R2,12,,\n")
    plans, _ = load_plans(EXAMPLE / "plans")
    _, errors = read_data_folder(folder, plans)
    assert [str(e) for e in errors] == [f"{folder}/deals.csv:5: amount: 1000.50 has more than 0 decimal place(s) for JPY"]


def test_fx_rates_errors_surface_through_the_data_folder(tmp_path):
    folder = _copy_example(tmp_path)
    (folder / "fx_rates.csv").write_text(
        "date,from_currency,to_currency,rate\n"
        "2026-10-01,EUR,USD,1.0832\n"
        "2026-10-01,EUR,USD,1.0900\n"  # line 3: a second rate for the pair and date
        "2026-10-01,GBP,USD,0\n"  # line 4: zero
        "2026-10-01,USD,XYZ,150\n")  # line 5: unknown code
    plans, _ = load_plans(EXAMPLE / "plans")
    _, errors = read_data_folder(folder, plans)
    texts = [str(e) for e in errors]
    f = f"{folder}/fx_rates.csv"
    assert texts[0].startswith(f"{f}:3: date: EUR->USD already has a rate on 2026-10-01 (line 2)")
    assert texts[1].startswith(f"{f}:4: rate: 0 is not above zero")
    assert texts[2] == f"{f}:5: to_currency: unknown currency code 'XYZ' (e.g. USD)"
    assert len(texts) == 3


def test_unknown_plan_currency_and_rate_date(tmp_path):
    p, errors = load_plan_text("id: p\ncurrency: XYZ\nquota: {annual: 1}\nrates: {new_logo: 0.1}\n"
                               "fx:\n  rate_date: weekly\n", "plans/p.yaml")
    assert p is None
    assert [str(e) for e in errors] == [
        "plans/p.yaml:2: currency: unknown currency code 'XYZ' (e.g. USD)",
        "plans/p.yaml:6: fx.rate_date: unknown rate_date 'weekly': expected close_date, month_end, month_average",
    ]


# ---- amounts in each currency's own minor units: data files and plan files alike


def test_a_dinar_deal_keeps_its_three_places_and_pays_to_the_fils(tmp_path):
    """A KWD rep on a KWD plan: the deal 1,234.567 at 10% earns 123.4567, rounded once half-up to 123.457;
    four places are refused naming the file, line and field."""
    folder = tmp_path / "data"
    (folder / "plans").mkdir(parents=True)
    (folder / "plans" / "kw-ae.yaml").write_text(
        "id: kw-ae\ncurrency: KWD\nquota: {annual: 120000.006}\nrates: {new_logo: 0.10}\n"
        "spiffs:\n  - {id: logo, amount: 25.125, when: {deal_type: new_logo}}\n")
    (folder / "reps.csv").write_text("rep_id,name,email,manager_id,team,hire_date\nK1,Fatima,f@example.com,,KW,2024-01-01\n")
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nK1,kw-ae,2026-01-01,,\n")
    deals = "deal_id,account,deal_type,amount,currency,close_date,owner_id,term_months,product,cancelled_on\n"
    (folder / "deals.csv").write_text(deals + "K-1,Gulf,new_logo,1234.567,KWD,2026-10-05,K1,12,,\n")
    plans, errors = load_plans(folder / "plans")
    assert errors == []
    data, errors = read_data_folder(folder, plans)
    assert errors == []
    assert plans["kw-ae"].annual_quota == Decimal("120000.006")
    result = calculate_month(data, plans, OCT)
    k1 = result.rep("K1")
    assert k1.quota == Decimal("10000.001")  # 120,000.006 / 12 = 10,000.0005, half-up to the fils
    assert [(ln.kind, str(ln.amount)) for ln in k1.lines] == [("commission", "123.457"), ("spiff", "25.125")]
    assert k1.payout == Decimal("148.582")
    (folder / "deals.csv").write_text(deals + "K-1,Gulf,new_logo,1234.5678,KWD,2026-10-05,K1,12,,\n"
                                              "U-1,Acme,new_logo,10.001,USD,2026-10-05,K1,12,,\n")
    _, errors = read_data_folder(folder, plans)
    assert [str(e) for e in errors] == [
        f"{folder}/deals.csv:2: amount: 1234.5678 has more than 3 decimal place(s) for KWD",
        f"{folder}/deals.csv:3: amount: 10.001 has fractions of a cent"]
    # a quota in assignments.csv is in its plan's currency too: fils for a KWD plan, no finer
    (folder / "deals.csv").write_text(deals + "K-1,Gulf,new_logo,1234.567,KWD,2026-10-05,K1,12,,\n")
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nK1,kw-ae,2026-01-01,,120000.125\n")
    data, errors = read_data_folder(folder, plans)
    assert errors == [] and calculate_month(data, plans, OCT).rep("K1").quota == Decimal("10000.010")
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nK1,kw-ae,2026-01-01,,120000.1255\n")
    _, errors = read_data_folder(folder, plans)
    assert [str(e) for e in errors] == [
        f"{folder}/assignments.csv:2: annual_quota: 120000.1255 has more than 3 decimal place(s) for KWD"]


def test_plan_amounts_are_checked_in_the_plan_currency(tmp_path):
    """A yen plan's quota, SPIFF and per-deal amounts are whole yen; a dinar plan may use three places;
    a dollar plan keeps whole cents. Each refusal names file, line and key."""
    jp = "id: jp\ncurrency: JPY\nquota: {annual: 12000000.5}\nrates: {new_logo: 0.1}\n" \
         "spiffs:\n  - {id: s1, amount: 1000.5, when: {deal_type: new_logo}}\n"
    _, errors = load_plan_text(jp, "jp.yaml")
    assert [str(e) for e in errors] == [
        "jp.yaml:3: quota.annual: 12000000.5 has more than 0 decimal place(s) for JPY",
        "jp.yaml:6: spiffs[0].amount: 1000.5 has more than 0 decimal place(s) for JPY"]
    kw, errors = load_plan_text("id: kw\ncurrency: KWD\nquota: {annual: 120000.125}\nrates: {new_logo: 0.1}\n", "kw.yaml")
    assert errors == [] and kw.annual_quota == Decimal("120000.125")
    _, errors = load_plan_text("id: kw\ncurrency: KWD\nquota: {annual: 120000.1255}\nrates: {new_logo: 0.1}\n", "kw.yaml")
    assert [str(e) for e in errors] == ["kw.yaml:3: quota.annual: 120000.1255 has more than 3 decimal place(s) for KWD"]
    _, errors = load_plan_text("id: us\ncurrency: USD\nquota: {annual: 1200.125}\nrates: {new_logo: 0.1}\n", "us.yaml")
    assert [str(e) for e in errors] == ["us.yaml:3: quota.annual: 1200.125 has fractions of a cent"]
