"""Issue 13: mid-month assignment changes (segments, proration), termination, overrides by the
manager in force on the close date. Golden numbers are worked out by hand in the comments.

October 2026 has 31 days; every case is in October unless said otherwise.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from unittest.mock import patch

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compengine.core.money import ZERO
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine import pipeline
from compengine.engine.driver import Dataset, calculate_through
from compengine.engine.pipeline import Cancellation, calculate_period, credit_deals, group_assignments, segment_quota
from compengine.engine.records import Adjustment, Assignment, Deal, Rep
from compengine.plans import Plan, load_plan_text

OCT = Period(2026, 10)
NOV = Period(2026, 11)

SDR = """
id: sdr-2026
currency: USD
quota: {annual: 120000}          # 10,000.00 a month
rates: {new_logo: 0.10}
accelerators:
  tiers:
    - {upto: 1.0, multiplier: 1.0}
    - {multiplier: 2.0}
"""

AE = """
id: ae-2026
currency: USD
quota: {annual: 600000}          # 50,000.00 a month
rates: {new_logo: 0.08}
accelerators:
  tiers:
    - {upto: 1.0, multiplier: 1.0}
    - {multiplier: 1.5}
clawback: {window_days: 90}
"""

MGR = """
id: mgr
currency: USD
quota: {annual: 0}
rates: {}
override: {rate: 0.02}
"""


def plan(text: str, **extra: str) -> Plan:
    for key, value in extra.items():
        text += f"{key}: {value}\n"
    p, errors = load_plan_text(text, "p.yaml")
    assert p is not None, errors
    return p


def plans(*texts: str) -> dict[str, Plan]:
    out = {}
    for t in texts:
        p = plan(t)
        out[p.id] = p
    return out


def deal(deal_id: str, amount: str, close: date, owner: str = "R1", cancelled: date | None = None,
         currency: str = "USD") -> Deal:
    return Deal(deal_id=deal_id, account="Acme", deal_type="new_logo", amount=Decimal(amount), currency=currency,
                close_date=close, owner_id=owner, term_months=12, cancelled_on=cancelled)


def assign(plan_id: str, start: date, end: date | None = None, quota: str | None = None, rep_id: str = "R1") -> Assignment:
    return Assignment(rep_id=rep_id, plan_id=plan_id, start=start, end=end,
                      annual_quota=Decimal(quota) if quota is not None else None)


R1 = Rep(rep_id="R1", name="Ravi", hire_date=date(2020, 1, 1))


def october(loaded: dict[str, Plan], assignments: list[Assignment], deals: list[Deal], reps: dict[str, Rep] | None = None,
            **kw):
    return calculate_period(OCT, loaded, reps or {"R1": R1}, group_assignments(assignments),
                            credit_deals(deals, {}), **kw)


def amounts(r) -> list[tuple[str, str | None, str]]:
    return [(ln.kind, ln.deal_id, str(ln.amount)) for ln in r.lines]


# --------------------------------------------------------------------------- promotion on the 15th


def test_promotion_on_the_15th_prices_each_side_under_its_own_plan_and_prorated_quota():
    res = october(plans(SDR, AE),
                  [assign("sdr-2026", date(2026, 1, 1), date(2026, 10, 14)), assign("ae-2026", date(2026, 10, 15))],
                  [deal("D1", "3000.00", date(2026, 10, 5)), deal("D3", "30000.00", date(2026, 10, 20))])
    r = res.rep("R1")
    # SDR 1..14 October: quota 10,000.00 x 14/31 = 4,516.129.. -> 4,516.13; D1 3,000 x 10% = 300.00 (band 1)
    # AE 15..31 October: quota 50,000.00 x 17/31 = 27,419.354.. -> 27,419.35
    #   D3 30,000: 27,419.35 x 8% = 2,193.548 -> 2,193.55 ; 2,580.65 x 8% x 1.5 = 309.678 -> 309.68
    assert amounts(r) == [("commission", "D1", "300.00"), ("commission", "D3", "2193.55"), ("commission", "D3", "309.68")]
    assert r.payout == Decimal("2803.23")  # 300.00 + 2,193.55 + 309.68
    # the month's result is the AE segment's (in force on the 31st): 30,000 / 27,419.35 = 1.09411..
    assert (r.plan_id, r.quota, r.credited, r.attainment) == ("ae-2026", Decimal("27419.35"), Decimal("30000.00"),
                                                               Decimal("1.0941"))
    assert r.notes == [
        "2026-10-01..2026-10-14 on sdr-2026 (quota 4,516.13 = 10,000.00 x 14/31): credit 3,000.00, attainment 66.43%",
        "2026-10-15..2026-10-31 on ae-2026 (quota 27,419.35 = 50,000.00 x 17/31): credit 30,000.00, attainment 109.41%",
    ]
    # each line says which segment made it
    assert r.lines[0].rule == "segment 2026-10-01..2026-10-14 sdr-2026: rates.new_logo x accelerators.tiers[0]"
    assert r.lines[0].explain.startswith("[2026-10-01..2026-10-14 on sdr-2026] D1 new_logo Acme: credit 3,000.00")
    assert r.lines[2].rule == "segment 2026-10-15..2026-10-31 ae-2026: rates.new_logo x accelerators.tiers[1]"
    assert [ln.seq for ln in r.lines] == [1, 2, 3]
    assert res.exceptions == []


# --------------------------------------------------------------------------- quota change on the 10th


QUOTA_CHANGE = [assign("ae-2026", date(2026, 1, 1), date(2026, 10, 9), "600000"), assign("ae-2026", date(2026, 10, 10), None, "720000")]
QUOTA_DEALS = [deal("D1", "20000.00", date(2026, 10, 3)), deal("D2", "40000.00", date(2026, 10, 25))]


def test_quota_change_on_the_10th_gives_two_segments_of_one_plan():
    r = october(plans(AE), QUOTA_CHANGE, QUOTA_DEALS).rep("R1")
    # 1..9 October at 600,000: 50,000.00 x 9/31 = 14,516.129.. -> 14,516.13
    #   D1 20,000: 14,516.13 x 8% = 1,161.2904 -> 1,161.29 ; 5,483.87 x 8% x 1.5 = 658.0644 -> 658.06
    # 10..31 October at 720,000: 60,000.00 x 22/31 = 42,580.645.. -> 42,580.65
    #   D2 40,000 (under the quota): 40,000 x 8% = 3,200.00
    assert amounts(r) == [("commission", "D1", "1161.29"), ("commission", "D1", "658.06"), ("commission", "D2", "3200.00")]
    assert r.payout == Decimal("5019.35")
    assert (r.quota, r.credited, r.attainment) == (Decimal("42580.65"), Decimal("40000.00"), Decimal("0.9394"))
    assert r.notes[0] == ("2026-10-01..2026-10-09 on ae-2026 (quota 14,516.13 = 50,000.00 x 9/31): "
                          "credit 20,000.00, attainment 137.78%")  # 20,000 / 14,516.13 = 1.37777..


def test_proration_none_gives_each_segment_the_full_monthly_quota():
    loaded = {"ae-2026": plan(AE, proration="none")}
    assert loaded["ae-2026"].proration == "none" and plan(AE).proration == "calendar_days"
    r = october(loaded, QUOTA_CHANGE, QUOTA_DEALS).rep("R1")
    # quotas 50,000.00 and 60,000.00: both deals in band 1: 20,000 x 8% = 1,600.00 ; 40,000 x 8% = 3,200.00
    assert amounts(r) == [("commission", "D1", "1600.00"), ("commission", "D2", "3200.00")]
    assert r.quota == Decimal("60000.00") and r.payout == Decimal("4800.00")
    assert r.notes[0] == "2026-10-01..2026-10-09 on ae-2026 (quota 50,000.00, not prorated): credit 20,000.00, attainment 40.00%"


def test_the_cap_is_prorated_with_the_quota():
    capped = plan(SDR + "cap: {per_period: 1000}\n")
    res = october({"sdr-2026": capped, **plans(AE)},
                  [assign("sdr-2026", date(2026, 1, 1), date(2026, 10, 14)), assign("ae-2026", date(2026, 10, 15))],
                  [deal("D1", "4000.00", date(2026, 10, 5))])
    r = res.rep("R1")
    # SDR quota 4,516.13: D1 4,000 x 10% = 400.00 ; cap 1,000.00 x 14/31 = 451.6129 -> 451.61: not reached
    assert amounts(r) == [("commission", "D1", "400.00")]
    res = october({"sdr-2026": capped, **plans(AE)},
                  [assign("sdr-2026", date(2026, 1, 1), date(2026, 10, 14)), assign("ae-2026", date(2026, 10, 15))],
                  [deal("D1", "5000.00", date(2026, 10, 5))])
    r = res.rep("R1")
    # D1 5,000: 4,516.13 x 10% = 451.613 -> 451.61 ; 483.87 x 10% x 2 = 96.774 -> 96.77 ; commission 548.38
    # over the prorated cap 451.61 by 96.77
    assert amounts(r) == [("commission", "D1", "451.61"), ("commission", "D1", "96.77"), ("cap", None, "-96.77")]
    assert "over the cap 451.61 for 14 of 31 days (1,000.00 x 14/31)" in r.lines[2].explain
    assert r.payout == Decimal("451.61")


# --------------------------------------------------------------------------- leave, currency


def test_a_deal_closed_during_unpaid_leave_is_an_exception_not_paid():
    res = october(plans(AE),
                  [assign("ae-2026", date(2026, 1, 1), date(2026, 10, 9)), assign("ae-2026", date(2026, 10, 20))],
                  [deal("D7", "5000.00", date(2026, 10, 15)), deal("D8", "3000.00", date(2026, 10, 25))])
    r = res.rep("R1")
    # on leave 10..19 October. D8 in 20..31: quota 50,000 x 12/31 = 19,354.838.. -> 19,354.84; 3,000 x 8% = 240.00
    assert res.exceptions == ["R1: D7 closed 2026-10-15 while R1 had no plan assignment; not paid"]
    assert amounts(r) == [("commission", "D8", "240.00")]
    assert r.quota == Decimal("19354.84") and r.credited == Decimal("3000.00") and r.payout == Decimal("240.00")


def test_segments_in_different_currencies_are_not_mixed():
    eur = SDR.replace("currency: USD", "currency: EUR")
    res = october(plans(eur, AE),
                  [assign("sdr-2026", date(2026, 1, 1), date(2026, 10, 14)), assign("ae-2026", date(2026, 10, 15))],
                  [deal("D1", "3000.00", date(2026, 10, 5), currency="EUR"), deal("D3", "1000.00", date(2026, 10, 20))])
    r = res.rep("R1")
    assert r.currency == "USD" and amounts(r) == [("commission", "D3", "80.00")]  # 1,000 x 8%
    assert res.exceptions == [
        "R1: 2026-10-01..2026-10-14 on sdr-2026 pays EUR but the month ends on ae-2026 in USD; currencies are not "
        "mixed in a month: its 1 credit line(s) totalling 3,000.00 not paid"
    ]


# --------------------------------------------------------------------------- termination


def test_termination_ends_crediting_and_a_later_clawback_lands_on_a_final_statement():
    terminated = Rep(rep_id="R1", name="Ravi", hire_date=date(2020, 1, 1), termination_date=date(2026, 10, 15))
    data = Dataset(
        reps={"R1": terminated},
        assignments=[assign("ae-2026", date(2026, 10, 1))],
        deals=[deal("D1", "10000.00", date(2026, 10, 5), cancelled=date(2026, 11, 10)),
               deal("D2", "5000.00", date(2026, 10, 20)),
               deal("D3", "1000.00", date(2026, 11, 3))],
    )
    oct_, nov = calculate_through(data, plans(AE), NOV, first_wanted=OCT)
    r = oct_.rep("R1")
    # October 1..15 (terminated on the 15th): quota 50,000 x 15/31 = 24,193.548.. -> 24,193.55
    #   D1 10,000 x 8% = 800.00 ; D2 closed after the termination: not paid
    assert amounts(r) == [("commission", "D1", "800.00")]
    assert r.quota == Decimal("24193.55")
    assert oct_.exceptions == ["R1: D2 closed 2026-10-20, after R1's termination on 2026-10-15; not paid"]
    # November: D1 cancelled 36 days after its close (inside 90): the 800.00 is clawed back on a
    # final statement, carried forward (nothing paid)
    f = nov.rep("R1")
    assert f is not None and f.plan_id == "ae-2026"
    assert amounts(f) == [("clawback", "D1", "-800.00"), ("carry_forward", None, "800.00")]
    assert f.payout == ZERO and f.state.carry_balance == Decimal("800.00")
    assert "terminated on 2026-10-15; final statement (plan ae-2026)" in f.notes
    assert nov.exceptions == ["R1: D3 closed 2026-11-03, after R1's termination on 2026-10-15; not paid"]


def test_final_statement_pays_no_draw_and_a_rep_never_assigned_still_gets_the_exception():
    drawn = plan(AE + "draw: {amount: 1000, months: 12}\n")
    reps = {"R1": Rep(rep_id="R1", name="Ravi", hire_date=date(2026, 9, 1), termination_date=date(2026, 9, 30)),
            "R9": Rep(rep_id="R9", name="Nobody")}
    x = [Cancellation(rep_id="R1", deal_id="D1", close_date=date(2026, 9, 5), cancelled_on=date(2026, 10, 2),
                      commission=Decimal("800.00"), other=ZERO, period="2026-09"),
         Cancellation(rep_id="R9", deal_id="D9", close_date=date(2026, 9, 5), cancelled_on=date(2026, 10, 2),
                      commission=Decimal("10.00"), other=ZERO, period="2026-09")]
    adj = [Adjustment(rep_id="R1", amount=Decimal("100.00"), reason="late dispute")]
    res = october({"ae-2026": drawn}, [assign("ae-2026", date(2026, 9, 1))], [], reps=reps, cancellations=x,
                  adjustments=adj)
    r = res.rep("R1")
    # tenure month 2 is a draw month, but a final statement tops nothing up: -800 + 100 = -700 carried
    assert amounts(r) == [("clawback", "D1", "-800.00"), ("adjustment", None, "100.00"), ("carry_forward", None, "700.00")]
    assert res.exceptions == ["R9: D9 cancelled on 2026-10-02 but no plan assignment in 2026-10; nothing reversed"]
    assert res.rep("R9") is None


# --------------------------------------------------------------------------- overrides by close-date manager


def test_override_follows_the_manager_in_force_on_the_close_date():
    loaded = plans(AE, MGR)
    v1 = Rep(rep_id="R1", name="Ravi", manager_id="M1", hire_date=date(2020, 1, 1))
    v2 = Rep(rep_id="R1", name="Ravi", manager_id="M2", hire_date=date(2020, 1, 1), valid_from=date(2026, 10, 15))
    reps = {"R1": v2, "M1": Rep(rep_id="M1", name="Mo"), "M2": Rep(rep_id="M2", name="Mia")}
    rows = [assign("ae-2026", date(2026, 1, 1)), assign("mgr", date(2026, 1, 1), rep_id="M1"),
            assign("mgr", date(2026, 1, 1), rep_id="M2")]
    deals = [deal("D1", "10000.00", date(2026, 10, 5)), deal("D2", "20000.00", date(2026, 10, 20))]
    res = october(loaded, rows, deals, reps=reps, rep_versions={"R1": [v1, v2]})
    # D1 closed on the 5th, under M1: 10,000 x 2% = 200.00 ; D2 on the 20th, under M2: 20,000 x 2% = 400.00
    assert amounts(res.rep("M1")) == [("override", "D1", "200.00")]
    assert amounts(res.rep("M2")) == [("override", "D2", "400.00")]
    # without versions: today's rule, the current manager (M2) on every credit
    res = october(loaded, rows, deals, reps=reps)
    assert amounts(res.rep("M1")) == []
    assert amounts(res.rep("M2")) == [("override", "D1", "200.00"), ("override", "D2", "400.00")]


# --------------------------------------------------------------------------- ytd


YTD = """
id: y
currency: USD
quota: {annual: 120000, measure: ytd}   # 10,000.00 a month
rates: {new_logo: 0.10}
accelerators:
  tiers:
    - {upto: 1.0, multiplier: 1.0}
    - {multiplier: 2.0}
"""


def test_ytd_quota_is_the_sum_of_the_prorated_segments():
    # R1 joins y on 2026-09-16 (15 of September's 30 days) and changes quota on 2026-10-11
    data = Dataset(
        reps={"R1": R1},
        assignments=[assign("y", date(2026, 9, 16), date(2026, 10, 10)), assign("y", date(2026, 10, 11), None, "240000")],
        deals=[deal("S1", "4000.00", date(2026, 9, 20)), deal("O1", "10000.00", date(2026, 10, 20))],
    )
    sep, oct_, nov = calculate_through(data, plans(YTD), NOV, first_wanted=Period(2026, 9))
    # September: 10,000 x 15/30 = 5,000.00 ; S1 4,000 x 10% = 400.00
    assert amounts(sep.rep("R1")) == [("commission", "S1", "400.00")]
    # October: 10,000 x 10/31 = 3,225.806 -> 3,225.81 and 20,000 x 21/31 = 13,548.387 -> 13,548.39
    #   YTD quota 5,000 + 3,225.806... + 13,548.387... = 21,774.193... summed exactly and rounded once: 21,774.19
    #   (not the rounded segments' sum 21,774.20) ; O1 from 4,000 to 14,000: band 1, 1,000.00
    r = oct_.rep("R1")
    assert r.ytd_quota == Decimal("21774.19") and r.ytd_credited == Decimal("14000.00")
    assert amounts(r) == [("commission", "O1", "1000.00")]
    # November (a whole month, but the year has part months): + 20,000.00 = 41,774.20; no deals, no true-up
    n = nov.rep("R1")
    assert n.ytd_quota == Decimal("41774.19") and n.lines == [] and n.state.ytd_paid == Decimal("1400.00")


# --------------------------------------------------------------------------- datafiles


def test_reps_csv_reads_an_optional_termination_date_and_refuses_one_before_hire(tmp_path: Path):
    folder = tmp_path / "data"
    folder.mkdir()
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nR1,ae-2026,2026-01-01,,\n")
    (folder / "deals.csv").write_text("deal_id,account,deal_type,amount,currency,close_date,owner_id,term_months,product,cancelled_on\n")
    header = "rep_id,name,email,manager_id,team,hire_date,termination_date\n"
    (folder / "reps.csv").write_text(header + "R1,Ravi,,,,2020-01-01,2026-10-15\n")
    data, errors = read_data_folder(folder, plans(AE))
    assert errors == [] and data.reps["R1"].termination_date == date(2026, 10, 15)
    (folder / "reps.csv").write_text(header + "R1,Ravi,,,,2020-01-01,2019-12-31\n")
    _, errors = read_data_folder(folder, plans(AE))
    assert [str(e).replace(str(folder) + "/", "") for e in errors] == [
        "reps.csv:2: termination_date: 2019-12-31 is before hire_date 2020-01-01"]


# --------------------------------------------------------------------------- properties


PLAN_VARIANTS = [
    AE,
    AE.replace("accelerators:\n  tiers:", "accelerators:\n  mode: retroactive\n  tiers:") + "cap: {per_period: 2500}\n",
    YTD + "spiffs:\n  - {id: big, amount: 150, when: {min_amount: 20000}}\n",
    AE + "draw: {amount: 3000, months: 24}\n",
]
amount_cents = st.integers(1_00, 60_000_00).map(lambda c: Decimal(c).scaleb(-2))
days_of_oct = st.integers(0, 30).map(lambda d: date(2026, 10, 1) + timedelta(days=d))
PROPS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPS
@given(variant=st.sampled_from(PLAN_VARIANTS), quota=st.none() | st.integers(0, 2_000_000).map(Decimal),
       deals=st.lists(st.tuples(amount_cents, days_of_oct), max_size=6),
       earlier=st.lists(st.tuples(amount_cents, st.integers(0, 250)), max_size=4),
       hire=st.sampled_from([date(2020, 1, 1), date(2026, 3, 17), None]))
def test_a_whole_month_priced_as_one_segment_equals_the_whole_month_path(variant, quota, deals, earlier, hire):
    """One assignment in force all month: the segment path (forced) gives the same result as the
    fast whole-month path, line for line, balances included (the ytd year to date too)."""
    p = plan(variant)
    rep = Rep(rep_id="R1", name="Ravi", hire_date=hire)
    rows = group_assignments([Assignment(rep_id="R1", plan_id=p.id, start=date(2026, 1, 1),
                                         annual_quota=quota)])
    month = credit_deals([deal(f"D{i}", str(a), d) for i, (a, d) in enumerate(deals)], {})
    ytd = credit_deals([deal(f"E{i}", str(a), date(2026, 1, 1) + timedelta(days=d)) for i, (a, d) in enumerate(earlier)], {})
    kw = dict(ytd_credits=ytd)
    fast = calculate_period(OCT, {p.id: p}, {"R1": rep}, rows, month, **kw)
    with patch.object(pipeline, "_whole_month", lambda *a: False):
        seg = calculate_period(OCT, {p.id: p}, {"R1": rep}, rows, month, **kw)
    assert seg == fast


@PROPS
@given(deals=st.lists(st.tuples(amount_cents, days_of_oct), max_size=8), cut=st.integers(1, 30),
       rate=st.integers(1, 20))
def test_splitting_an_assignment_in_two_same_rows_keeps_every_line_amount(deals, cut, rate):
    """One band (no accelerators), proration none: splitting the month's assignment into two rows
    of the same plan and quota on any day changes no commission line amount and drops no deal."""
    p = plan(f"id: flat\ncurrency: USD\nquota: {{annual: 600000}}\nrates: {{new_logo: 0.{rate:02d}}}\nproration: none\n")
    month = credit_deals([deal(f"D{i}", str(a), d) for i, (a, d) in enumerate(deals)], {})
    one = calculate_period(OCT, {"flat": p}, {"R1": R1}, group_assignments([assign("flat", date(2026, 1, 1))]), month)
    split_day = date(2026, 10, cut)
    two = calculate_period(OCT, {"flat": p}, {"R1": R1}, group_assignments(
        [assign("flat", date(2026, 1, 1), split_day), assign("flat", split_day + timedelta(days=1))]), month)
    a, b = one.rep("R1"), two.rep("R1")
    assert [(ln.deal_id, ln.amount) for ln in a.lines] == [(ln.deal_id, ln.amount) for ln in b.lines]
    assert a.payout == b.payout and two.exceptions == []
    assert b.quota == Decimal("50000.00")  # not prorated


@PROPS
@given(cuts=st.lists(st.integers(1, 30), unique=True, max_size=4), annual=st.integers(0, 5_000_000).map(Decimal))
def test_prorated_segment_quotas_add_up_to_the_month_within_a_cent_each(cuts, annual):
    p = plan(AE)
    bounds = [0, *sorted(cuts), 31]
    parts = [segment_quota(p, annual, None, b - a, 31) for a, b in zip(bounds, bounds[1:])]
    whole = p.monthly_quota(annual, None)
    # each part is rounded once from its exact share: the sum is within half a cent a part
    assert abs(sum(parts, ZERO) - annual / 12) <= Decimal("0.005") * len(parts)
    assert abs(sum(parts, ZERO) - whole) <= Decimal("0.01") * len(parts)


def test_a_terminated_manager_gets_no_override_on_deals_closed_after_the_termination():
    loaded = plans(AE, MGR)
    reps = {"R1": Rep(rep_id="R1", name="Ravi", manager_id="M1", hire_date=date(2020, 1, 1)),
            "M1": Rep(rep_id="M1", name="Mo", termination_date=date(2026, 10, 15))}
    rows = [assign("ae-2026", date(2026, 1, 1)), assign("mgr", date(2026, 1, 1), rep_id="M1")]
    deals = [deal("D1", "10000.00", date(2026, 10, 5)), deal("D2", "20000.00", date(2026, 10, 20))]
    res = october(loaded, rows, deals, reps=reps)
    # M1 manages R1 to the end, but leaves on the 15th: D1 10,000 x 2% = 200.00; D2 (20th): nothing
    assert amounts(res.rep("M1")) == [("override", "D1", "200.00")]
    # M1's final statement in November (a clawback of D1) carries no override on R1's November deals
    x = [Cancellation(rep_id="M1", deal_id="D1", close_date=date(2026, 10, 5), cancelled_on=date(2026, 11, 2),
                      commission=ZERO, other=Decimal("200.00"), period="2026-10")]
    nov = calculate_period(NOV, loaded, reps, group_assignments(rows),
                           credit_deals([deal("D5", "5000.00", date(2026, 11, 4))], {}), cancellations=x)
    m1 = nov.rep("M1")
    # the mgr plan has no clawback window: nothing reversed (a note), no override on D5
    assert amounts(m1) == [] and "terminated on 2026-10-15; final statement (plan mgr)" in m1.notes


def test_a_hire_on_the_15th_has_a_prorated_ramped_quota_and_earlier_deals_are_exceptions():
    ramped = plan(AE + "ramp:\n  - {months: [1, 3], quota_pct: 50}\n")
    rep = Rep(rep_id="R1", name="Ravi", hire_date=date(2026, 10, 15))
    res = october({"ae-2026": ramped}, [assign("ae-2026", date(2026, 10, 15))],
                  [deal("D0", "1000.00", date(2026, 10, 10)), deal("D1", "15000.00", date(2026, 10, 20))],
                  reps={"R1": rep})
    r = res.rep("R1")
    # tenure month 1, ramp 50%: 600,000 / 12 x 50% x 17/31 = 13,709.677.. -> 13,709.68
    # D1 15,000: 13,709.68 x 8% = 1,096.7744 -> 1,096.77 ; 1,290.32 x 8% x 1.5 = 154.8384 -> 154.84
    assert r.quota == Decimal("13709.68")
    assert amounts(r) == [("commission", "D1", "1096.77"), ("commission", "D1", "154.84")]
    assert res.exceptions == ["R1: D0 closed 2026-10-10 while R1 had no plan assignment; not paid"]
    assert r.notes == ["2026-10-15..2026-10-31 on ae-2026 (quota 13,709.68 = 25,000.00 x 17/31): "
                       "credit 15,000.00, attainment 109.41%"]  # 15,000 / 13,709.68 = 1.09411..


def _whole_months_by_walking(rows, period):
    """The definition: every earlier month of the year with an assignment in force has one, all month."""
    for m in period.year_start().months_through(period)[:-1]:
        segs = pipeline.month_segments(rows, m)
        if segs and not pipeline.covers_month(segs, m):
            return False
    return True


edges = st.integers(-200, 400).map(lambda d: date(2026, 1, 1) + timedelta(days=d))


@PROPS
@given(points=st.lists(edges, min_size=1, max_size=6, unique=True), open_end=st.booleans(),
       month=st.integers(1, 12), month_edges=st.booleans())
def test_whole_months_read_from_the_edges_agrees_with_walking_the_months(points, open_end, month, month_edges):
    """The whole-month test of a ytd rep's earlier months (read from the rows' edges, for speed)
    says what walking the months says, for consecutive non-overlapping rows (as datafiles allows)."""
    pts = sorted(points)
    if month_edges:  # boundaries on first days of months: whole months are the common case
        pts = sorted({d.replace(day=1) for d in pts})
    rows = []
    for i, start in enumerate(pts):
        nxt = pts[i + 1] if i + 1 < len(pts) else None
        end = None if nxt is None and open_end else (nxt - timedelta(days=1) if nxt is not None else start + timedelta(days=45))
        if i % 3 == 2 and end is not None and end > start + timedelta(days=10):
            end = end - timedelta(days=10)  # a gap (a leave) before the next row
        rows.append(Assignment(rep_id="R1", plan_id="y", start=start, end=end))
    period = Period(2026, month)
    assert pipeline._whole_months(rows, period) == _whole_months_by_walking(rows, period)
