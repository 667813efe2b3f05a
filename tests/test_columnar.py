"""The columnar engine (issue 18) against the pure engine: the same result, line for line and to the cent.

- Hypothesis: random one-month companies on random v1 plans (marginal and retroactive bands, period and ytd
  quotas, ramps, caps, SPIFFs, draws, overrides, both rounding modes, splits, overlays, cancellations, reps
  without a plan, negative deals) give equal results and byte-identical JSON;
- the integer rounding equals Decimal's for both modes;
- ``calc --engine columnar`` prints the same bytes as ``--engine python`` (text and JSON) on the example
  company (a run it does not support: the fallback) and on a generated one-month company (the columnar path);
- a plan using what it does not support falls back to the pure engine, and says why.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compengine.cli import main
from compengine.core.fx import FxRate, FxRates
from compengine.core.periods import Period
from compengine.engine import Assignment, Dataset, Deal, Rep, Split, columnar, driver
from compengine.engine.report import result_json
from compengine.generate import generate
from compengine.plans import load_plan_text

ROOT = Path(__file__).resolve().parent.parent
JAN = Period(2026, 1)
TYPES = ["new_logo", "expansion", "renewal"]


# --------------------------------------------------------------------------- random plans and companies


@st.composite
def plan_texts(draw, pid: str, manager: bool, currency: str = "USD", fx: str | None = None) -> str:
    rates = {t: Decimal(draw(st.integers(0, 150))).scaleb(-3) for t in TYPES}
    n = draw(st.integers(1, 4))
    uptos = sorted(draw(st.lists(st.integers(10, 300), min_size=n - 1, max_size=n - 1, unique=True)))
    mults = [Decimal(draw(st.integers(0, 40))).scaleb(-1) for _ in range(n)]
    tiers = "\n".join([f"    - {{upto: {Decimal(u).scaleb(-2)}, multiplier: {m}}}" for u, m in zip(uptos, mults)]
                      + [f"    - {{multiplier: {mults[-1]}}}"])
    out = [f"id: {pid}", f"currency: {currency}", f"rounding: {draw(st.sampled_from(['half_up', 'half_even']))}",
           f"quota:\n  annual: {draw(st.integers(0, 3_000_000))}\n  measure: {draw(st.sampled_from(['period', 'ytd']))}",
           "rates:\n" + "".join(f"  {t}: {r}\n" for t, r in rates.items()).rstrip(),
           f"accelerators:\n  mode: {draw(st.sampled_from(['marginal', 'retroactive']))}\n  tiers:\n{tiers}"]
    if draw(st.booleans()):
        out.append("ramp:\n  - {months: [1, 2], quota_pct: 0}\n  - {months: [3, 4], quota_pct: 50}")
    if draw(st.booleans()):
        out.append(f"cap:\n  per_period: {draw(st.integers(1, 20000))}")
    if draw(st.booleans()):
        out.append(f"spiffs:\n  - {{id: s1, amount: {draw(st.integers(1, 900))}.{draw(st.integers(0, 99)):02d}, "
                   f"when: {{deal_type: {draw(st.sampled_from(TYPES))}, min_term_months: 24}}}}\n"
                   f"  - {{id: s2, amount: 7.77, when: {{min_term_months: 36}}}}\n"
                   f"  - {{id: s3, amount: 3.33, when: {{min_amount: {draw(st.integers(0, 200000))}.5, product: Platform}}}}")
    if draw(st.booleans()):
        out.append(f"clawback:\n  window_days: {draw(st.integers(0, 90))}")
    if draw(st.booleans()):
        out.append(f"draw:\n  amount: {draw(st.integers(1, 5000))}\n  months: {draw(st.integers(1, 6))}\n"
                   f"  recoverable: {draw(st.sampled_from(['true', 'false']))}")
    if manager or draw(st.booleans()):
        out.append(f"override:\n  rate: {Decimal(draw(st.integers(1, 30))).scaleb(-3)}")
    if draw(st.booleans()):
        out.append("payout:\n  negative: pay")
    if fx is not None:
        out.append(fx)
    return "\n".join(out) + "\n"


@st.composite
def companies(draw, fx: bool = False) -> tuple[dict, Dataset]:
    plans = {}
    for k, pid in enumerate(["p1", "p2", "p3"]):
        currency, policy = "USD", None
        if fx:
            currency = draw(st.sampled_from(["USD", "USD", "EUR", "GBP"]))
            rate_date = draw(st.sampled_from(["close_date", "month_end", "month_average"]))
            base = draw(st.sampled_from([", base: USD", ", base: USD", ", base: USD", ""]))
            policy = f"fx: {{rate_date: {rate_date}{base}}}"
        plan, errors = load_plan_text(draw(plan_texts(pid, manager=k == 2, currency=currency, fx=policy)), f"{pid}.yaml")
        assert plan is not None, errors
        plans[pid] = plan
    rep_ids = ["M1", "M2", "R1", "R2", "R3", "R4", "S1", "X1"]  # X1: credited, but no assignment
    reps, assignments = {}, []
    for r in rep_ids:
        hire = date(2026, 1, 1) + timedelta(days=draw(st.integers(-200, 45)))
        boss = None if r.startswith("M") and r == "M1" else draw(st.sampled_from([None, "M1", "M2"]))
        if boss == r:
            boss = None
        reps[r] = Rep(r, r, manager_id=boss, hire_date=draw(st.sampled_from([None, hire])))
        if r != "X1":
            annual = draw(st.sampled_from([None, Decimal(draw(st.integers(0, 2_000_000)))]))
            pid = "p3" if r.startswith("M") else draw(st.sampled_from(["p1", "p2", "p3"]))
            assignments.append(Assignment(r, pid, date(2026, 1, draw(st.sampled_from([1, 1, 1]))), None, annual))
    deals, splits = [], []
    for i in range(draw(st.integers(0, 25))):
        close = date(2026, 1, draw(st.integers(1, 31)))
        cancel = draw(st.one_of(st.none(), st.integers(-5, 60)))
        amount = Decimal(draw(st.integers(1, 40_000_000))).scaleb(-2)
        currency = draw(st.sampled_from(["USD", "USD", "EUR", "GBP", "JPY"])) if fx else "USD"
        if currency == "JPY":  # whole yen, written with or without places
            amount = Decimal(draw(st.integers(1, 400_000_000)))
            if draw(st.booleans()):  # 1234.00: the pure engine's exact-fraction path
                amount = amount.quantize(Decimal("0.01"))
        did = f"D{draw(st.integers(0, 999)):03d}-{i}"
        deals.append(Deal(did, f"acct {i}", draw(st.sampled_from(TYPES)), amount, currency, close,
                          draw(st.sampled_from(rep_ids)), draw(st.sampled_from([None, 12, 24, 36])),
                          draw(st.sampled_from([None, "Platform"])),
                          None if cancel is None else close + timedelta(days=cancel)))
        if draw(st.booleans()):
            a, b = draw(st.lists(st.sampled_from(rep_ids), min_size=2, max_size=2, unique=True))
            pct = Decimal(draw(st.integers(1, 99)))
            splits += [Split(did, a, pct, "primary"), Split(did, b, 100 - pct, "primary")]
            if draw(st.booleans()):
                other = draw(st.sampled_from([x for x in rep_ids if x not in (a, b)]))
                splits.append(Split(did, other, Decimal(draw(st.integers(1, 100))), "overlay"))
    rates = None
    if fx:
        rows = []
        for pair in draw(st.sampled_from([
                [("EUR", "USD"), ("GBP", "USD"), ("JPY", "USD")],  # direct into USD, inverse out of it, cross via USD
                [("EUR", "USD"), ("USD", "GBP"), ("USD", "JPY"), ("EUR", "GBP")]])):
            first = draw(st.sampled_from([-40, -3, 0, 0, 0, 2]))  # a first rate after the 1st: rates missing
            for day in sorted({first, *draw(st.lists(st.integers(1, 30), max_size=3))}):
                rate = Decimal(draw(st.integers(1, 2_000_000))).scaleb(-draw(st.integers(2, 6)))
                if pair[0] == "USD" and pair[1] == "JPY":
                    rate = Decimal(draw(st.integers(10_000, 20_000))).scaleb(-2)
                rows.append(FxRate(date(2026, 1, 1) + timedelta(days=day), pair[0], pair[1], rate))
        rates = FxRates(rows)
    return plans, Dataset(reps, assignments, deals, splits, fx=rates)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(company=companies())
def test_columnar_equals_pure_engine_line_for_line(company):
    plans, data = company
    assert columnar.unsupported(data, plans, JAN) is None
    got, why = columnar.calculate_month(data, plans, JAN)
    assert why is None
    want = driver.calculate_month(data, plans, JAN)
    assert got.exceptions == want.exceptions
    assert [r.rep_id for r in got.reps] == [r.rep_id for r in want.reps]
    for a, b in zip(got.reps, want.reps):
        assert a.lines == b.lines and len(a.lines) == len(b.lines)
        assert a == b
        # a rep's lines are made when read, and kept by nothing (printing a month holds one rep's at a time)
        assert isinstance(a.lines, columnar.RepLines)
        if b.lines:
            assert list(a.lines) == b.lines and a.lines[0] == b.lines[0] and a.lines[0] is not a.lines[0]
    assert got.total_payout == want.total_payout
    assert result_json(got) == result_json(want)
    assert result_json(got, detail=False) == result_json(want, detail=False)
    # totals straight from the columns, before any line is made
    cols = columnar.calculate_columns(data, plans, JAN)
    assert cols.payouts() == {r.rep_id: int(r.payout.scaleb(2)) for r in want.reps}


@pytest.mark.slow
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(company=companies(fx=True))
def test_columnar_equals_pure_engine_on_multi_currency_companies(company):
    """Deals in USD, EUR, GBP and JPY for plans paying USD, EUR or GBP with every ``fx.rate_date`` policy, rates
    direct, inverse and cross (through ``fx.base``), changing within the month: the same lines, record for record
    (conversion notes included), as the pure engine; a month with a missing rate is the pure engine's."""
    plans, data = company
    assert columnar.unsupported(data, plans, JAN) is None
    got, why = columnar.calculate_month(data, plans, JAN)
    want = driver.calculate_month(data, plans, JAN)
    if why is not None:  # only a missing rate sends it back, and then the pure engine reports the deal
        assert "missing exchange rate" in why
        assert any("rate in force" in e for e in want.exceptions)
    assert got.exceptions == want.exceptions
    assert [r.rep_id for r in got.reps] == [r.rep_id for r in want.reps]
    for a, b in zip(got.reps, want.reps):
        assert a.lines == b.lines
        assert a == b
    assert result_json(got) == result_json(want)
    if why is None:
        cols = columnar.calculate_columns(data, plans, JAN)
        assert cols.payouts() == {r.rep_id: int(r.payout.scaleb(2)) for r in want.reps}


@settings(max_examples=300, deadline=None)
@given(units=st.integers(0, 10**14), weights=st.lists(st.integers(1, 10**8), min_size=1, max_size=6),
       places=st.integers(0, 6))
def test_integer_allocation_equals_allocate_minor(units, weights, places):
    from compengine.core.currency import allocate_minor

    ws = [Decimal(w).scaleb(-places) for w in weights]
    want = [int(x.scaleb(2)) for x in allocate_minor(Decimal(units).scaleb(-2), ws, "USD")]
    assert columnar._allocate_cents(units, ws) == want
    assert sum(want) == units


@settings(max_examples=300, deadline=None)
@given(num=st.integers(-10**15, 10**15), den=st.integers(1, 10**6), mode=st.sampled_from(["half_up", "half_even"]))
def test_integer_rounding_equals_decimal(num, den, mode):
    want = (Decimal(num) / Decimal(den)).quantize(Decimal(1), rounding=ROUND_HALF_UP if mode == "half_up" else ROUND_HALF_EVEN)
    got = columnar.round_div(np.array([num], dtype=np.int64), den, mode)
    assert int(got[0]) == int(want)
    assert columnar._round_int(num, den, mode) == int(want)


# --------------------------------------------------------------------------- calc: the same bytes


def _calc(args: list[str]) -> tuple[str, str]:
    out = {}
    for engine in ("columnar", "python"):
        res = CliRunner().invoke(main, ["calc", *args, "--engine", engine])
        assert res.exit_code == 0, res.output
        out[engine] = res.stdout
    return out["columnar"], out["python"]


def test_calc_columnar_prints_the_same_bytes_on_the_example_company():
    base = ["--plans", str(ROOT / "plans"), "--data", str(ROOT / "examples" / "acme"), "--period", "2026-10"]
    for extra in ([], ["--json"], ["--rep", "R1"]):
        col, py = _calc(base + extra)
        assert col == py and py.strip()


def test_calc_columnar_prints_the_same_bytes_on_a_generated_month(tmp_path):
    generate(tmp_path, seed=11, reps=60, deals=4000, months=1, plans_dir=ROOT / "plans")
    from compengine.api import read_catalog_and_folder

    catalog, data = read_catalog_and_folder(tmp_path / "plans", tmp_path)
    assert columnar.unsupported(data, catalog.for_month(JAN), JAN) is None  # the columnar path, not the fallback
    base = ["--plans", str(tmp_path / "plans"), "--data", str(tmp_path), "--period", "2026-01"]
    ae = sorted(r for r in data.reps if r.startswith("AE"))[0]
    for extra in ([], ["--json"], ["--no-explain"], ["--rep", ae, "--json"]):
        col, py = _calc(base + extra)
        assert col == py and "commission" in py


# --------------------------------------------------------------------------- fallback


def test_unsupported_plan_falls_back_to_the_pure_engine():
    text = ("id: lv\ncurrency: USD\nquota: {annual: 1200000}\nrates: {new_logo: 0.1, expansion: 0.1, renewal: 0.1}\n"
            "override:\n  levels: [0.02, 0.01]\n")
    plan, errors = load_plan_text(text, "lv.yaml")
    assert plan is not None, errors
    reps = {"M1": Rep("M1", "M1"), "M2": Rep("M2", "M2", manager_id="M1"), "R1": Rep("R1", "R1", manager_id="M2")}
    assignments = [Assignment(r, "lv", date(2026, 1, 1)) for r in reps]
    deals = [Deal("D1", "a", "new_logo", Decimal("1000.00"), "USD", date(2026, 1, 5), "R1")]
    data = Dataset(reps, assignments, deals)
    assert "override levels" in (columnar.unsupported(data, {"lv": plan}, JAN) or "")
    got, why = columnar.calculate_month(data, {"lv": plan}, JAN)
    assert why is not None and "override levels" in why
    want = driver.calculate_month(data, {"lv": plan}, JAN)
    assert result_json(got) == result_json(want)
    m1 = next(r for r in got.reps if r.rep_id == "M1")
    assert [ln.explain for ln in m1.lines if ln.kind == "override"] == [
        "Level 2 override on R1's (via M2) D1 credit 1,000.00 at 1% = 10.00"]


def test_a_run_of_several_months_falls_back():
    plans = {"p": load_plan_text("id: p\ncurrency: USD\nquota: {annual: 12000}\nrates: {new_logo: 0.1}\n", "p.yaml")[0]}
    data = Dataset({"R1": Rep("R1", "R1")}, [Assignment("R1", "p", date(2026, 1, 1))],
                   [Deal("D1", "a", "new_logo", Decimal("100.00"), "USD", date(2026, 2, 3), "R1")])
    feb = Period(2026, 2)
    assert "several months" in (columnar.unsupported(data, plans, feb) or "")
    got, why = columnar.calculate_month(data, plans, feb)
    assert why is not None
    assert result_json(got) == result_json(driver.calculate_month(data, plans, feb))


# --------------------------------------------------------------------------- the fast reader


def test_fast_reader_reads_what_the_full_reader_reads(tmp_path):
    from compengine.api import load_plan_catalog
    from compengine.datafiles import read_data_folder, read_data_folder_fast

    generate(tmp_path, seed=5, reps=30, deals=1500, months=1, plans_dir=ROOT / "plans")
    plans = load_plan_catalog(tmp_path / "plans").latest()
    fast, errors = read_data_folder_fast(tmp_path, plans)
    assert errors == []
    assert isinstance(fast.deals, columnar.DealColumns)  # the fast path, not the fallback
    full, errors = read_data_folder(tmp_path, plans)
    assert errors == []
    assert list(fast.deals) == full.deals and fast.deals[3] == full.deals[3]
    assert fast.reps == full.reps and fast.assignments == full.assignments and fast.splits == full.splits


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def test_fast_reader_falls_back_on_anything_odd_with_the_same_errors(tmp_path):
    from compengine.api import load_plan_catalog
    from compengine.datafiles import read_data_folder, read_data_folder_fast

    generate(tmp_path, seed=5, reps=30, deals=300, months=1, plans_dir=ROOT / "plans")
    plans = load_plan_catalog(tmp_path / "plans").latest()
    deals = tmp_path / "deals.csv"
    lines = deals.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")
    odd = [
        (",USD,", ",usd,"),  # unknown currency
        (f"{first[0]},", f"{lines[2].split(',')[0]},"),  # duplicate deal id
        (f",{first[3]},", f",{first[3]}0000000000000,"),  # too big
        (f",{first[3]},", ",1e3,"),  # not a plain number
        (f",{first[5]},", ",2026-02-30,"),  # no such day
        (f",{first[6]},", ",NOBODY,"),  # unknown owner
        (f",{first[3]},", f",\"{first[3]}\","),  # quoted: the full reader reads it (no error), the fast one does not try
        (f",{first[3]},", f", {first[3]} ,"),  # spaces around a field
    ]
    original = deals.read_text(encoding="utf-8")
    for old, new in odd:
        deals.write_text(original, encoding="utf-8")
        _edit(deals, old, new)
        fast, fast_errors = read_data_folder_fast(tmp_path, plans)
        full, full_errors = read_data_folder(tmp_path, plans)
        assert [str(e) for e in fast_errors] == [str(e) for e in full_errors], new
        assert not isinstance(fast.deals, columnar.DealColumns)  # read by the full reader
        assert fast.deals == full.deals
    deals.write_text(original, encoding="utf-8")
    _edit(tmp_path / "splits.csv", ",overlay", ",sideways")
    fast, fast_errors = read_data_folder_fast(tmp_path, plans)
    assert fast_errors and [str(e) for e in fast_errors] == [str(e) for e in read_data_folder(tmp_path, plans)[1]]
    assert "splits.csv:" in str(fast_errors[0]) and "role" in str(fast_errors[0])


def test_a_deal_type_without_a_rate_is_left_to_the_pure_engine():
    plans = {"p": load_plan_text("id: p\ncurrency: USD\nquota: {annual: 12000}\nrates: {new_logo: 0.1}\n", "p.yaml")[0]}
    data = Dataset({"R1": Rep("R1", "R1")}, [Assignment("R1", "p", date(2026, 1, 1))],
                   [Deal("D1", "a", "upsell", Decimal("100.00"), "USD", date(2026, 1, 3), "R1")])  # (a Dataset made
    assert "no rate for upsell" in (columnar.unsupported(data, plans, JAN) or "")  # in Python: the reader refuses it)


# --------------------------------------------------------------------------- multi-currency months (issue 15)


def test_calc_columnar_prints_the_same_bytes_on_a_generated_multi_currency_month(tmp_path):
    from compengine.api import load_plan_catalog
    from compengine.datafiles import read_data_folder, read_data_folder_fast

    generate(tmp_path, seed=3, reps=60, deals=4000, months=1, plans_dir=ROOT / "plans",
             currencies=("USD", "EUR", "GBP", "JPY"))
    plans = load_plan_catalog(tmp_path / "plans").latest()
    fast, errors = read_data_folder_fast(tmp_path, plans)
    assert errors == [] and isinstance(fast.deals, columnar.DealColumns) and fast.fx is not None  # the fast reader
    full, errors = read_data_folder(tmp_path, plans)
    assert errors == [] and list(fast.deals) == full.deals and fast.fx.rows() == full.fx.rows()
    assert {d.currency for d in full.deals} == {"USD", "EUR", "GBP", "JPY"}
    assert columnar.unsupported(fast, plans, JAN) is None
    cols = columnar.calculate_columns(fast, plans, JAN)
    assert (cols.c_tok >= 0).sum() > 100  # credits converted in columns
    base = ["--plans", str(tmp_path / "plans"), "--data", str(tmp_path), "--period", "2026-01"]
    for extra in ([], ["--json"]):
        col, py = _calc(base + extra)
        assert col == py and " at 0.0067 (2026-01-01) = USD " in py


def _fx_month(currency: str, amount: str, rates: list[FxRate]) -> tuple[dict, Dataset]:
    plan, errors = load_plan_text("id: p\ncurrency: USD\nquota: {annual: 120000}\nrates: {new_logo: 0.1}\n"
                                  "fx: {base: USD}\n", "p.yaml")
    assert plan is not None, errors
    data = Dataset({"R1": Rep("R1", "R1")}, [Assignment("R1", "p", date(2026, 1, 1))],
                   [Deal("D1", "a", "new_logo", Decimal(amount), currency, date(2026, 1, 3), "R1")], fx=FxRates(rates))
    return {"p": plan}, data


def test_a_deal_in_a_three_decimal_currency_is_left_to_the_pure_engine():
    plans, data = _fx_month("KWD", "1000.125", [FxRate(date(2026, 1, 1), "KWD", "USD", Decimal("3.25"))])
    assert "KWD" in (columnar.unsupported(data, plans, JAN) or "")
    got, why = columnar.calculate_month(data, plans, JAN)
    assert why is not None and "KWD" in why
    assert result_json(got) == result_json(driver.calculate_month(data, plans, JAN))
    assert "KWD 1,000.125 at 3.25 (2026-01-01) = USD 3,250.41" in got.reps[0].lines[0].explain


def test_a_missing_rate_is_left_to_the_pure_engine_which_reports_the_deal():
    plans, data = _fx_month("EUR", "1000.00", [FxRate(date(2026, 1, 10), "EUR", "USD", Decimal("1.08"))])
    assert columnar.unsupported(data, plans, JAN) is None  # known only when the quote is asked for
    got, why = columnar.calculate_month(data, plans, JAN)
    assert why is not None and "missing exchange rate" in why and "EUR->USD" in why
    want = driver.calculate_month(data, plans, JAN)
    assert result_json(got) == result_json(want)
    assert any("D1" in e and "EUR->USD" in e for e in got.exceptions)


def test_a_yen_deal_converts_in_columns():
    plans, data = _fx_month("JPY", "1234567", [FxRate(date(2026, 1, 1), "USD", "JPY", Decimal("151.37"))])
    got, why = columnar.calculate_month(data, plans, JAN)
    assert why is None
    assert result_json(got) == result_json(driver.calculate_month(data, plans, JAN))
    # 1,234,567 / 151.37 = 8,155.9556...: rounded once to cents
    assert got.reps[0].lines[0].explain.startswith("D1 new_logo a: JPY 1,234,567 at 1/151.37 (2026-01-01) = USD 8,155.96; "
                                                   "credit 8,155.96")
