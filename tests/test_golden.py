"""Golden cases: a plan snippet and a few deals as text, the expected lines as a small table.

Every expected number is computed by hand in the comments next to it; the same
numbers are worked through in plans/README.md. Monthly quota is annual / 12:
the plans below mostly use ``annual: 1200000`` = 100,000.00 a month.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from compengine.core.periods import Period
from compengine.engine import Dataset, Deal, calculate_month
from compengine.engine.records import Assignment, Rep
from compengine.plans import load_plan_text
from helpers_engine import amounts, comp, load_case, months, rep, table, write_case

REP = "R1,Ravi,,,West,2020-01-01"  # long tenure: no ramp, no draw months
ASSIGN = "R1,p,2026-01-01,,"

MARGINAL = """
    id: p
    currency: USD
    quota: {annual: 1200000}     # 100,000.00 a month
    rates: {new_logo: 0.10, expansion: 0.05}
    accelerators:
      mode: marginal
      tiers:
        - {upto: 1.0, multiplier: 1.0}
        - {upto: 1.5, multiplier: 1.5}
        - {multiplier: 2.0}
"""
RETRO = MARGINAL.replace("mode: marginal", "mode: retroactive")


def one_month(tmp_path, plan_text, deals, period="2026-01", reps=REP, assignments=ASSIGN, splits=None, plans=None):
    res = months(
        tmp_path, plans or {"p.yaml": plan_text}, period, period,
        reps=reps, assignments=assignments, deals=deals, splits=splits,
    )
    return res[period]


# --------------------------------------------------------------------------- tiers


def test_deal_crossing_two_thresholds_gives_three_lines(tmp_path):
    res = one_month(tmp_path, MARGINAL, """
        A,Globex,new_logo,40000.00,USD,2026-01-05,R1,12,,
        B,Initech,new_logo,140000.00,USD,2026-01-20,R1,12,,
    """)
    r1 = rep(res, "R1")
    # thresholds: 100% = 100,000.00, 150% = 150,000.00
    # A: 0 -> 40,000 all in band 1:          40,000 x 10% x 1.0 = 4,000.00
    # B: 40,000 -> 180,000:
    #    60,000 up to 100,000 in band 1:      60,000 x 10% x 1.0 = 6,000.00
    #    50,000 up to 150,000 in band 2:      50,000 x 10% x 1.5 = 7,500.00
    #    30,000 above 150,000 in band 3:      30,000 x 10% x 2.0 = 6,000.00
    assert table(r1) == [
        ("commission", "A", "40000.00", "1.0", "4000.00"),
        ("commission", "B", "60000.00", "1.0", "6000.00"),
        ("commission", "B", "50000.00", "1.5", "7500.00"),
        ("commission", "B", "30000.00", "2.0", "6000.00"),
    ]
    assert [ln.tier for ln in r1.lines] == [1, 1, 2, 3]
    assert r1.credited == Decimal("180000.00")
    assert r1.attainment == Decimal("1.8000")
    assert r1.payout == Decimal("23500.00")  # 4,000 + 6,000 + 7,500 + 6,000


def test_credit_exactly_on_a_threshold_belongs_to_the_lower_band(tmp_path):
    res = one_month(tmp_path, MARGINAL, """
        A,Globex,new_logo,100000.00,USD,2026-01-05,R1,12,,
        B,Initech,new_logo,1000.00,USD,2026-01-06,R1,12,,
    """)
    # A ends exactly on 100% (100,000.00): all of it in band 1, one line: 10,000.00
    # B starts at 100% and is therefore entirely above it, band 2: 1,000 x 10% x 1.5 = 150.00
    assert table(rep(res, "R1")) == [
        ("commission", "A", "100000.00", "1.0", "10000.00"),
        ("commission", "B", "1000.00", "1.5", "150.00"),
    ]


def test_retroactive_period_all_credit_at_the_final_band(tmp_path):
    res = one_month(tmp_path, RETRO, """
        A,Globex,new_logo,60000.00,USD,2026-01-05,R1,12,,
        B,Initech,new_logo,70000.00,USD,2026-01-20,R1,12,,
    """)
    # final attainment 130,000 / 100,000 = 130% -> band 2 (x1.5) for every deal:
    # A 60,000 x 10% x 1.5 = 9,000.00 ; B 70,000 x 10% x 1.5 = 10,500.00
    r1 = rep(res, "R1")
    assert table(r1) == [
        ("commission", "A", "60000.00", "1.5", "9000.00"),
        ("commission", "B", "70000.00", "1.5", "10500.00"),
    ]
    assert r1.payout == Decimal("19500.00")


def test_retroactive_final_attainment_on_a_boundary_uses_the_lower_band(tmp_path):
    res = one_month(tmp_path, RETRO, """
        A,Globex,new_logo,150000.00,USD,2026-01-05,R1,12,,
    """)
    # exactly 150% belongs to band 2 (x1.5), not band 3: 150,000 x 10% x 1.5 = 22,500.00
    assert table(rep(res, "R1")) == [("commission", "A", "150000.00", "1.5", "22500.00")]


YTD_RETRO = """
    id: p
    currency: USD
    quota: {annual: 1200000, measure: ytd}   # YTD quota: 100,000 x months so far
    rates: {expansion: 0.06}
    accelerators:
      mode: retroactive
      tiers:
        - {upto: 1.0, multiplier: 1.0}
        - {multiplier: 1.5}
"""

# YTD, retroactive, new logos at 10%, x2.0 above 100%, clawback within 90 days (the clawback,
# plan-switch and plan-return cases below)
YTD_X2 = """
    id: y
    currency: USD
    quota: {annual: 1200000, measure: ytd}
    rates: {new_logo: 0.10}
    accelerators:
      mode: retroactive
      tiers:
        - {upto: 1.0, multiplier: 1.0}
        - {multiplier: 2.0}
    clawback: {window_days: 90}
"""


def test_ytd_retroactive_true_up_and_negative_month(tmp_path):
    res = months(tmp_path, {"p.yaml": YTD_RETRO}, "2026-01", "2026-04", reps=REP, assignments=ASSIGN, deals="""
        J1,Wayne,expansion,80000.00,USD,2026-01-15,R1,12,,
        F1,Wayne,expansion,150000.00,USD,2026-02-10,R1,12,,
        A1,Wayne,expansion,300000.00,USD,2026-04-10,R1,12,,
    """)
    jan, feb, mar, apr = (rep(res[p], "R1") for p in ("2026-01", "2026-02", "2026-03", "2026-04"))
    # Jan: YTD 80,000 / 100,000 = 80% -> band 1: 80,000 x 6% x 1.0 = 4,800.00
    assert table(jan) == [("commission", "J1", "80000.00", "1.0", "4800.00")]
    assert jan.attainment == Decimal("0.8000")
    # Feb: YTD 230,000 / 200,000 = 115% -> band 2 for the whole year:
    #   F1 150,000 x 6% x 1.5 = 13,500.00
    #   true-up: Jan's 80,000 now earns 80,000 x 6% x 1.5 = 7,200.00, 4,800.00 paid -> 2,400.00
    assert amounts(feb) == [("commission", "F1", "13500.00"), ("true_up", None, "2400.00")]
    assert feb.ytd_quota == Decimal("200000.00") and feb.ytd_credited == Decimal("230000.00")
    assert feb.attainment == Decimal("1.1500")
    assert feb.payout == Decimal("15900.00")
    # Mar: no deals, YTD 230,000 / 300,000 = 76.67% -> back to band 1:
    #   the year's credit now earns 230,000 x 6% = 13,800.00; paid 4,800 + 13,500 + 2,400 = 20,700.00
    #   true-up -6,900.00: a negative month pays 0 and carries 6,900.00 forward
    assert amounts(mar) == [("true_up", None, "-6900.00"), ("carry_forward", None, "6900.00")]
    assert mar.payout == Decimal("0.00")
    assert mar.state.carry_balance == Decimal("6900.00")
    # Apr: YTD 530,000 / 400,000 = 132.5% -> band 2 again:
    #   A1 300,000 x 6% x 1.5 = 27,000.00
    #   true-up: 230,000 x 6% x 1.5 = 20,700.00 less 13,800.00 paid so far = 6,900.00
    #   the carried 6,900.00 is recovered first -> payout 27,000.00
    assert amounts(apr) == [
        ("commission", "A1", "27000.00"),
        ("true_up", None, "6900.00"),
        ("balance_recovery", None, "-6900.00"),
    ]
    assert apr.payout == Decimal("27000.00")
    assert apr.state.carry_balance == Decimal("0.00")


def test_ytd_marginal_rebands_earlier_months_as_quota_grows(tmp_path):
    plan = """
        id: p
        currency: USD
        quota: {annual: 1200000, measure: ytd}
        rates: {new_logo: 0.10}
        accelerators:
          mode: marginal
          tiers:
            - {upto: 1.0, multiplier: 1.0}
            - {multiplier: 2.0}
    """
    res = months(tmp_path, {"p.yaml": plan}, "2026-01", "2026-03", reps=REP, assignments=ASSIGN, deals="""
        J1,Globex,new_logo,150000.00,USD,2026-01-15,R1,12,,
        F1,Globex,new_logo,30000.00,USD,2026-02-10,R1,12,,
        M1,Globex,new_logo,100000.00,USD,2026-03-10,R1,12,,
    """)
    jan, feb, mar = (rep(res[p], "R1") for p in ("2026-01", "2026-02", "2026-03"))
    # Jan: YTD quota 100,000: 100,000 x 10% = 10,000.00 ; 50,000 x 10% x 2 = 10,000.00
    assert table(jan) == [
        ("commission", "J1", "100000.00", "1.0", "10000.00"),
        ("commission", "J1", "50000.00", "2.0", "10000.00"),
    ]
    # Feb: YTD quota 200,000; J1's 150,000 is now all below it: earns 15,000.00, 20,000.00 paid -> true-up -5,000.00
    #   F1 from 150,000 to 180,000, band 1: 3,000.00 ; month = -2,000.00 -> carried
    assert amounts(feb) == [
        ("commission", "F1", "3000.00"),
        ("true_up", None, "-5000.00"),
        ("carry_forward", None, "2000.00"),
    ]
    # Mar: YTD quota 300,000; M1 from 180,000 to 280,000, band 1: 10,000.00; prior credit
    #   180,000 earns 18,000.00 = 20,000 - 5,000 + 3,000 paid: no true-up; carried 2,000 recovered
    assert amounts(mar) == [("commission", "M1", "10000.00"), ("balance_recovery", None, "-2000.00")]
    assert mar.payout == Decimal("8000.00")


# --------------------------------------------------------------------------- ramp


RAMPED = MARGINAL + """
    ramp:
      - {months: [1, 3], quota_pct: 0}
      - {months: [4, 6], quota_pct: 50}
"""


def test_ramped_rep_quota_zero_then_half(tmp_path):
    res = months(tmp_path, {"p.yaml": RAMPED}, "2026-01", "2026-04",
                 reps="R1,Jo,,,West,2026-01-15", assignments="R1,p,2026-01-15,,", deals="""
        A,Hooli,new_logo,250000.00,USD,2026-01-20,R1,12,,
        B,Hooli,new_logo,60000.00,USD,2026-04-20,R1,12,,
    """)
    jan, apr = rep(res["2026-01"], "R1"), rep(res["2026-04"], "R1")
    # tenure month 1 = January (the hire month): ramp 0% -> quota 0, every credit at x1.0
    assert jan.tenure_month == 1 and jan.quota == Decimal("0.00")
    assert table(jan) == [("commission", "A", "250000.00", "1.0", "25000.00")]  # 250,000 x 10%
    assert jan.attainment == Decimal("0.0000")
    # tenure month 4 = April: 50% -> quota 1,200,000 x 50% / 12 = 50,000.00
    #   B 60,000: 50,000 in band 1 = 5,000.00 ; 10,000 in band 2 x1.5 = 1,500.00
    assert apr.tenure_month == 4 and apr.quota == Decimal("50000.00")
    assert table(apr) == [
        ("commission", "B", "50000.00", "1.0", "5000.00"),
        ("commission", "B", "10000.00", "1.5", "1500.00"),
    ]
    assert apr.attainment == Decimal("1.2000")


def test_quota_is_rounded_once_to_cents(tmp_path):
    plan = MARGINAL.replace("annual: 1200000", "annual: 1000000")
    res = one_month(tmp_path, plan, """
        A,Globex,new_logo,90000.00,USD,2026-01-05,R1,12,,
    """)
    r1 = rep(res, "R1")
    # 1,000,000 / 12 = 83,333.333... -> 83,333.33 ; 100% threshold 83,333.33
    # A: 83,333.33 x 10% = 8,333.333 -> 8,333.33 ; 6,666.67 x 10% x 1.5 = 1,000.0005 -> 1,000.00
    assert r1.quota == Decimal("83333.33")
    assert table(r1) == [
        ("commission", "A", "83333.33", "1.0", "8333.33"),
        ("commission", "A", "6666.67", "1.5", "1000.00"),
    ]


# --------------------------------------------------------------------------- cap and SPIFF


def test_cap_applies_to_commission_and_spiff_sits_outside_it(tmp_path):
    plan = """
        id: p
        currency: USD
        quota: {annual: 1200000}
        rates: {new_logo: 0.10}
        cap: {per_period: 5000}
        spiffs:
          - {id: multi-year, amount: 500, when: {deal_type: new_logo, min_term_months: 24}}
    """
    res = one_month(tmp_path, plan, """
        A,Globex,new_logo,80000.00,USD,2026-01-05,R1,36,,
        B,Initech,new_logo,1000.00,USD,2026-01-06,R1,12,,
    """)
    r1 = rep(res, "R1")
    # commission 80,000 x 10% = 8,000.00 + 1,000 x 10% = 100.00 = 8,100.00 ; cap 5,000 -> cap line -3,100.00
    # SPIFF: A has term 36 >= 24 -> 500.00 ; B (term 12) none ; SPIFF is not capped
    assert amounts(r1) == [
        ("commission", "A", "8000.00"),
        ("commission", "B", "100.00"),
        ("spiff", "A", "500.00"),
        ("cap", None, "-3100.00"),
    ]
    assert (comp(r1, "commission"), comp(r1, "cap"), comp(r1, "spiff")) == ("8100.00", "-3100.00", "500.00")
    assert r1.payout == Decimal("5500.00")  # 5,000 cap + 500 SPIFF


def test_spiff_conditions_and_split_share(tmp_path):
    plan = """
        id: p
        currency: USD
        quota: {annual: 1200000}
        rates: {new_logo: 0.10, expansion: 0.05}
        spiffs:
          - {id: big, amount: 1000, when: {min_amount: 50000, product: Platform}}
    """
    res = one_month(
        tmp_path, plan, """
        A,Globex,new_logo,50000.00,USD,2026-01-05,R1,12,Platform,
        B,Initech,expansion,49999.99,USD,2026-01-06,R1,12,Platform,
        C,Umbrella,new_logo,90000.00,USD,2026-01-07,R1,12,Add-on,
        """,
        reps=REP + "\nR2,Jo,,,West,2020-01-01", assignments=ASSIGN + "\nR2,p,2026-01-01,,",
        splits="""
        A,R1,75,primary
        A,R2,25,primary
        """,
    )
    # A qualifies (amount 50,000 >= 50,000, product Platform): 1,000 x 75% = 750.00 to R1, x 25% = 250.00 to R2
    # B is a cent short, C is the wrong product
    assert [a for a in amounts(rep(res, "R1")) if a[0] == "spiff"] == [("spiff", "A", "750.00")]
    assert [a for a in amounts(rep(res, "R2")) if a[0] == "spiff"] == [("spiff", "A", "250.00")]


# --------------------------------------------------------------------------- clawback

CLAW_PLANS = {
    "ae.yaml": """
        id: ae
        currency: USD
        quota: {annual: 1200000}
        rates: {new_logo: 0.10}
        spiffs:
          - {id: multi-year, amount: 500, when: {min_term_months: 24}}
        clawback: {window_days: 90}
    """,
    "mgr.yaml": """
        id: mgr
        currency: USD
        quota: {annual: 600000}
        rates: {new_logo: 0.05}
        override: {rate: 0.01}
        clawback: {window_days: 90}
    """,
}
CLAW_REPS = """
    M1,Maria,,,West,2020-01-01
    R1,Ravi,,M1,West,2020-01-01
"""
CLAW_ASSIGN = """
    M1,mgr,2026-01-01,,
    R1,ae,2026-01-01,,
"""


def test_clawback_inside_window_reverses_commission_spiff_and_override(tmp_path):
    res = months(tmp_path, CLAW_PLANS, "2026-03", "2026-06", reps=CLAW_REPS, assignments=CLAW_ASSIGN, deals="""
        A,Stark,new_logo,50000.00,USD,2026-03-10,R1,24,,2026-05-20
        B,Wayne,new_logo,100000.00,USD,2026-06-05,R1,12,,
    """)
    # March: A earns R1 50,000 x 10% = 5,000.00 + SPIFF 500.00 ; M1 override 50,000 x 1% = 500.00
    assert amounts(rep(res["2026-03"], "R1")) == [("commission", "A", "5000.00"), ("spiff", "A", "500.00")]
    assert amounts(rep(res["2026-03"], "M1")) == [("override", "A", "500.00")]
    # May: A cancelled 71 days after closing (window 90): each receiver gives back what A paid them;
    # nothing else that month, so each month is negative and carried forward
    may_r1, may_m1 = rep(res["2026-05"], "R1"), rep(res["2026-05"], "M1")
    assert amounts(may_r1) == [("clawback", "A", "-5500.00"), ("carry_forward", None, "5500.00")]
    assert may_r1.lines[0].ref_period == "2026-03"
    assert amounts(may_m1) == [("clawback", "A", "-500.00"), ("carry_forward", None, "500.00")]
    assert may_r1.payout == may_m1.payout == Decimal("0.00")
    assert may_r1.state.carry_balance == Decimal("5500.00")
    # June: B earns 10,000.00; the carried 5,500.00 is recovered first -> 4,500.00
    #        M1: override 1,000.00 less the carried 500.00 -> 500.00
    jun_r1, jun_m1 = rep(res["2026-06"], "R1"), rep(res["2026-06"], "M1")
    assert amounts(jun_r1) == [("commission", "B", "10000.00"), ("balance_recovery", None, "-5500.00")]
    assert jun_r1.payout == Decimal("4500.00") and jun_r1.state.carry_balance == Decimal("0.00")
    assert amounts(jun_m1) == [("override", "B", "1000.00"), ("balance_recovery", None, "-500.00")]
    assert jun_m1.payout == Decimal("500.00")


def test_clawback_outside_window_reverses_nothing(tmp_path):
    res = months(tmp_path, CLAW_PLANS, "2026-07", "2026-07", reps=CLAW_REPS, assignments=CLAW_ASSIGN, deals="""
        A,Stark,new_logo,50000.00,USD,2026-03-10,R1,24,,2026-07-01
    """)
    # cancelled 113 days after closing: outside the 90-day window, no line for anyone
    r1, m1 = rep(res["2026-07"], "R1"), rep(res["2026-07"], "M1")
    assert r1.lines == [] and m1.lines == []
    assert r1.payout == m1.payout == Decimal("0.00")
    assert any("outside the clawback window" in n for n in r1.notes)


def test_clawback_window_edge_is_inclusive(tmp_path):
    res = months(tmp_path, CLAW_PLANS, "2026-06", "2026-06", reps=CLAW_REPS, assignments=CLAW_ASSIGN, deals="""
        A,Stark,new_logo,50000.00,USD,2026-03-10,R1,12,,2026-06-08
    """)
    # 2026-03-10 + 90 days = 2026-06-08: still inside the window
    assert amounts(rep(res["2026-06"], "R1"))[0] == ("clawback", "A", "-5000.00")


def test_deal_cancelled_in_its_close_month_is_never_credited(tmp_path):
    res = months(tmp_path, CLAW_PLANS, "2026-03", "2026-04", reps=CLAW_REPS, assignments=CLAW_ASSIGN, deals="""
        A,Stark,new_logo,50000.00,USD,2026-03-10,R1,24,,2026-03-25
        B,Wayne,new_logo,20000.00,USD,2026-03-12,R1,12,,
    """)
    mar = rep(res["2026-03"], "R1")
    # A is cancelled inside the window before the month ends: no credit, no commission, no SPIFF, no override
    assert mar.credited == Decimal("20000.00")
    assert amounts(mar) == [("commission", "B", "2000.00")]
    assert amounts(rep(res["2026-03"], "M1")) == [("override", "B", "200.00")]
    # and nothing to claw back later
    assert rep(res["2026-04"], "R1").lines == []


def test_ytd_clawback_leaves_the_paid_tally_and_rebands_the_rest(tmp_path):
    res = months(tmp_path, {"p.yaml": YTD_X2.replace("id: y", "id: p")}, "2026-01", "2026-03", reps=REP, assignments=ASSIGN, deals="""
        A,Stark,new_logo,50000.00,USD,2026-01-10,R1,12,,2026-02-15
        B,Wayne,new_logo,80000.00,USD,2026-01-20,R1,12,,
    """)
    # Jan: 130,000 / 100,000 = 130% -> x2.0: A 10,000.00, B 16,000.00
    assert amounts(rep(res["2026-01"], "R1")) == [("commission", "A", "10000.00"), ("commission", "B", "16000.00")]
    # Feb: A cancelled (36 days): clawback -10,000.00 (what A paid). A leaves the YTD credit:
    #   80,000 / 200,000 = 40% -> x1.0: B now earns 8,000.00; paid 26,000 - 10,000 clawed = 16,000 -> true-up -8,000.00
    #   month = -18,000.00, carried
    feb = rep(res["2026-02"], "R1")
    assert amounts(feb) == [
        ("true_up", None, "-8000.00"),
        ("clawback", "A", "-10000.00"),
        ("carry_forward", None, "18000.00"),
    ]
    # Mar: nothing changes: B still earns 8,000.00 and 8,000.00 is the paid tally -> no line
    mar = rep(res["2026-03"], "R1")
    assert mar.lines == []
    assert mar.state.carry_balance == Decimal("18000.00")


def test_ytd_clawback_of_last_years_deal_is_not_repaid_by_a_true_up(tmp_path):
    plan = YTD_RETRO.replace("rates: {expansion: 0.06}", "rates: {expansion: 0.06}\n    clawback: {window_days: 90}")
    res = months(tmp_path, {"p.yaml": plan}, "2026-01", "2026-02", reps=REP, assignments="R1,p,2025-01-01,,", deals="""
        A,Stark,expansion,50000.00,USD,2025-12-10,R1,12,,2026-01-15
    """)
    # Dec 2025: 50,000 x 6% = 3,000.00 (YTD 2025). Jan 2026: clawback -3,000.00, carried.
    jan, feb = rep(res["2026-01"], "R1"), rep(res["2026-02"], "R1")
    assert amounts(jan) == [("clawback", "A", "-3000.00"), ("carry_forward", None, "3000.00")]
    # Feb: the 2026 tally never held A's commission: no true-up pays it back
    assert feb.lines == []
    assert feb.state.carry_balance == Decimal("3000.00")


def test_switching_to_a_ytd_plan_mid_year_starts_a_new_year_to_date(tmp_path):
    plans = {
        "per.yaml": FLAT.replace("id: p", "id: per") + "    clawback: {window_days: 90}\n",
        "y.yaml": YTD_X2,
    }
    res = months(tmp_path, plans, "2026-03", "2026-08", reps=REP,
                 assignments="R1,per,2026-01-01,2026-06-30,\nR1,y,2026-07-01,,", deals="""
        A,Stark,new_logo,300000.00,USD,2026-03-10,R1,12,,
        C,Wayne,new_logo,50000.00,USD,2026-06-15,R1,12,,2026-07-20
        B,Acme,new_logo,10000.00,USD,2026-07-20,R1,12,,
    """)
    # under the period plan: March A 300,000 x 10% = 30,000.00 ; June C 50,000 x 10% = 5,000.00
    assert amounts(rep(res["2026-03"], "R1")) == [("commission", "A", "30000.00")]
    # July, first month on y: YTD = July only (quota 100,000, credit B 10,000 = 10%, x1.0): B 1,000.00 and no
    # true-up for A, paid under the other plan; C (closed in June, cancelled after 35 days) is clawed back
    jul = rep(res["2026-07"], "R1")
    assert jul.ytd_quota == Decimal("100000.00") and jul.ytd_credited == Decimal("10000.00")
    assert amounts(jul) == [("commission", "B", "1000.00"), ("clawback", "C", "-5000.00"), ("carry_forward", None, "4000.00")]
    # August: B still earns 1,000.00, 1,000.00 paid under y: nothing to true up (C's commission was never in y's tally)
    assert rep(res["2026-08"], "R1").lines == []



# R1: y in Jan-Feb, the period plan in March, y again from April. R2: y in Jan-Feb, no plan in
# March (a leave), y again from April.
RETURNING = {
    "reps": "R1,Ravi,,,West,2020-01-01\nR2,Rosa,,,West,2020-01-01",
    "assignments": "\n".join([
        "R1,y,2026-01-01,2026-02-28,", "R1,per,2026-03-01,2026-03-31,", "R1,y,2026-04-01,,",
        "R2,y,2026-01-01,2026-02-28,", "R2,y,2026-04-01,,",
    ]),
    "deals": """
        A1,Stark,new_logo,100000.00,USD,2026-01-10,R1,12,,
        B1,Acme,new_logo,10000.00,USD,2026-04-10,R1,12,,
        A2,Wayne,new_logo,100000.00,USD,2026-01-12,R2,12,,
        B2,Umbrella,new_logo,10000.00,USD,2026-04-12,R2,12,,
    """,
}


def returning_plans() -> dict[str, str]:
    return {"y.yaml": YTD_X2, "per.yaml": FLAT.replace("id: p", "id: per")}


def test_returning_to_a_ytd_plan_after_another_plan_starts_a_new_year_to_date(tmp_path):
    """Only another plan in between ends y's year to date; a month without a plan does not."""
    res = months(tmp_path, returning_plans(), "2026-01", "2026-05", **RETURNING)
    for r in ("R1", "R2"):
        # January: YTD quota 100,000, credit 100,000 = 100% (a boundary is in the lower band): 10,000.00
        assert amounts(rep(res["2026-01"], r)) == [("commission", f"A{r[1]}", "10000.00")]
        # February: YTD 100,000 of 200,000 = 50%, still band 1: earned 10,000.00, paid 10,000.00, no true-up
        assert rep(res["2026-02"], r).lines == []
    # R1 in April, back on y after a month on per: y's year to date starts again in April (quota
    # 100,000, credit B1 10,000 = 10%): B1 10,000 x 10% = 1,000.00. January's A1 was paid under the
    # old stint and is not paid again (before the fix a true-up of +10,000.00 paid it twice).
    apr1 = rep(res["2026-04"], "R1")
    assert (apr1.ytd_quota, apr1.ytd_credited) == (Decimal("100000.00"), Decimal("10000.00"))
    assert amounts(apr1) == [("commission", "B1", "1000.00")]
    # R2 in April, back on y after a month without a plan: the year to date goes on (quota 300,000 over
    # Jan, Feb, Apr; credit 110,000 = 36.67%, band 1): B2 1,000.00; earned on A2 10,000.00 = paid, no true-up
    apr2 = rep(res["2026-04"], "R2")
    assert (apr2.ytd_quota, apr2.ytd_credited) == (Decimal("300000.00"), Decimal("110000.00"))
    assert amounts(apr2) == [("commission", "B2", "1000.00")]
    # May: nothing new for either; the tallies hold what was paid (R1 1,000.00 in this stint; R2 11,000.00)
    assert rep(res["2026-05"], "R1").lines == [] and rep(res["2026-05"], "R2").lines == []
    assert rep(res["2026-05"], "R1").state.ytd_paid == Decimal("1000.00")
    assert rep(res["2026-05"], "R2").state.ytd_paid == Decimal("11000.00")


def _no_folders(out: dict) -> dict:
    """A result's JSON with the lines' sources named by file name (the two runs read copies in two folders)."""
    for r in out["reps"]:
        for ln in r["lines"]:
            for k in ("deal_source", "rule_source"):
                if ln.get(k):
                    ln[k] = Path(ln[k]).name
    return out


def test_returning_to_a_ytd_plan_closes_the_same_in_the_ledger(ledger, tmp_path):
    """The ledger carries the tally's plan in rep_periods: its closes pay what the calculation does."""
    from compengine.engine.report import result_dict
    from compengine.ledger import import_folder, run_close, transaction

    plans_dir, data_dir = write_case(tmp_path / "ledger", returning_plans(), **RETURNING)
    with transaction(ledger) as s:
        import_folder(s, data_dir, plans_dir, "ops")
    want = months(tmp_path / "calc", returning_plans(), "2026-01", "2026-05", **RETURNING)
    got = {}
    for p in Period.parse("2026-01").months_through(Period.parse("2026-05")):
        with transaction(ledger) as s:
            got[str(p)] = run_close(s, p, "ops")
        assert _no_folders(result_dict(got[str(p)])) == _no_folders(result_dict(want[str(p)])), str(p)
    assert amounts(rep(got["2026-04"], "R1")) == [("commission", "B1", "1000.00")]  # no second payment of A1
    assert amounts(rep(got["2026-04"], "R2")) == [("commission", "B2", "1000.00")]


# --------------------------------------------------------------------------- draws

DRAW_PLAN = """
    id: p
    currency: USD
    quota: {annual: 1200000}
    rates: {new_logo: 0.10}
    draw: {amount: 3000, months: 3, recoverable: true}
"""
DRAW_DEALS = """
    D1,A,new_logo,10000.00,USD,2026-01-10,R1,12,,
    D2,B,new_logo,20000.00,USD,2026-02-10,R1,12,,
    D3,C,new_logo,50000.00,USD,2026-03-10,R1,12,,
    D4,D,new_logo,5000.00,USD,2026-04-10,R1,12,,
    D5,E,new_logo,30000.00,USD,2026-05-10,R1,12,,
"""
NEW_HIRE = "R1,Jo,,,West,2026-01-05"


def test_recoverable_draw(tmp_path):
    res = months(tmp_path, {"p.yaml": DRAW_PLAN}, "2026-01", "2026-05",
                 reps=NEW_HIRE, assignments="R1,p,2026-01-05,,", deals=DRAW_DEALS)
    got = {p: (amounts(rep(r, "R1")), f"{rep(r, 'R1').payout:.2f}", f"{rep(r, 'R1').state.draw_balance:.2f}")
           for p, r in res.items()}
    assert got == {
        # Jan (draw month 1): earns 1,000.00 -> topped up by 2,000.00 to the 3,000 draw; balance 2,000
        "2026-01": ([("commission", "D1", "1000.00"), ("draw", None, "2000.00")], "3000.00", "2000.00"),
        # Feb (2): earns 2,000.00 -> top-up 1,000.00; balance 3,000
        "2026-02": ([("commission", "D2", "2000.00"), ("draw", None, "1000.00")], "3000.00", "3000.00"),
        # Mar (3): earns 5,000.00; only the 2,000.00 above the draw is recovered -> pays 3,000; balance 1,000
        "2026-03": ([("commission", "D3", "5000.00"), ("draw_recovery", None, "-2000.00")], "3000.00", "1000.00"),
        # Apr (after the draw months): earns 500.00, all of it recovered -> pays 0; balance 500
        "2026-04": ([("commission", "D4", "500.00"), ("draw_recovery", None, "-500.00")], "0.00", "500.00"),
        # May: earns 3,000.00, the last 500.00 recovered -> pays 2,500; balance 0
        "2026-05": ([("commission", "D5", "3000.00"), ("draw_recovery", None, "-500.00")], "2500.00", "0.00"),
    }


def test_non_recoverable_draw_is_a_guarantee(tmp_path):
    plan = DRAW_PLAN.replace("recoverable: true", "recoverable: false")
    res = months(tmp_path, {"p.yaml": plan}, "2026-01", "2026-05",
                 reps=NEW_HIRE, assignments="R1,p,2026-01-05,,", deals=DRAW_DEALS)
    got = {p: (amounts(rep(r, "R1")), f"{rep(r, 'R1').payout:.2f}", f"{rep(r, 'R1').state.draw_balance:.2f}")
           for p, r in res.items()}
    assert got == {
        "2026-01": ([("commission", "D1", "1000.00"), ("draw", None, "2000.00")], "3000.00", "0.00"),
        "2026-02": ([("commission", "D2", "2000.00"), ("draw", None, "1000.00")], "3000.00", "0.00"),
        "2026-03": ([("commission", "D3", "5000.00")], "5000.00", "0.00"),  # nothing to recover
        "2026-04": ([("commission", "D4", "500.00")], "500.00", "0.00"),
        "2026-05": ([("commission", "D5", "3000.00")], "3000.00", "0.00"),
    }


# --------------------------------------------------------------------------- credit: splits, overlay, override

FLAT = """
    id: p
    currency: USD
    quota: {annual: 1200000}
    rates: {new_logo: 0.10}
"""


def test_split_with_odd_cents_gives_leftover_cent_in_a_fixed_order(tmp_path):
    reps = "\n".join(f"{r},{r},,,West,2020-01-01" for r in ("R1", "R2", "R3"))
    assigns = "\n".join(f"{r},p,2026-01-01,," for r in ("R1", "R2", "R3"))
    res = one_month(tmp_path, FLAT, "A,Globex,new_logo,10000.05,USD,2026-01-05,R1,12,,",
                    reps=reps, assignments=assigns, splits="""
        A,R3,30,primary
        A,R1,40,primary
        A,R2,30,primary
    """)
    # exact shares 4,000.02 / 3,000.015 / 3,000.015: floors 4,000.02 + 3,000.01 + 3,000.01 = 10,000.04,
    # one cent left over; R2 and R3 tie on the remainder (0.5 cent), ties go by rep_id -> R2
    credits = {r.rep_id: r.credited for r in res.reps}
    assert credits == {"R1": Decimal("4000.02"), "R2": Decimal("3000.02"), "R3": Decimal("3000.01")}
    assert sum(credits.values()) == Decimal("10000.05")
    # commission per receiver: 400.002 -> 400.00, 300.002 -> 300.00, 300.001 -> 300.00
    assert [amounts(rep(res, r)) for r in ("R1", "R2", "R3")] == [
        [("commission", "A", "400.00")], [("commission", "A", "300.00")], [("commission", "A", "300.00")]
    ]


def test_overlay_does_not_reduce_primary_credit(tmp_path):
    plans = {
        "p.yaml": FLAT,
        "se.yaml": """
            id: se
            currency: USD
            quota: {annual: 3000000}
            rates: {new_logo: 0.02}
        """,
    }
    res = one_month(tmp_path, None, "A,Globex,new_logo,100000.00,USD,2026-01-05,R1,12,,",
                    plans=plans, reps=REP + "\nS1,Sam,,,SE,2020-01-01", assignments=ASSIGN + "\nS1,se,2026-01-01,,",
                    splits="A,S1,50,overlay")
    # R1 keeps 100% (no primary split rows: the owner): 100,000 x 10% = 10,000.00
    # S1 gets an overlay of 50%: 50,000 x 2% = 1,000.00
    assert table(rep(res, "R1")) == [("commission", "A", "100000.00", "1.0", "10000.00")]
    assert table(rep(res, "S1")) == [("commission", "A", "50000.00", "1.0", "1000.00")]
    assert rep(res, "S1").lines[0].role == "overlay"


def test_manager_override_on_every_credit_of_direct_reports(tmp_path):
    plans = {
        "p.yaml": FLAT,
        "mgr.yaml": """
            id: mgr
            currency: USD
            quota: {annual: 600000}
            rates: {new_logo: 0.05}
            override: {rate: 0.01}
        """,
    }
    reps = """
        M1,Maria,,,West,2020-01-01
        R1,Ravi,,M1,West,2020-01-01
        R2,Jo,,M1,West,2020-01-01
        S1,Sam,,M1,SE,2020-01-01
        X1,Xi,,,East,2020-01-01
    """
    assigns = """
        M1,mgr,2026-01-01,,
        R1,p,2026-01-01,,
        R2,p,2026-01-01,,
        S1,p,2026-01-01,,
        X1,p,2026-01-01,,
    """
    res = one_month(tmp_path, None, """
        A,Globex,new_logo,50000.00,USD,2026-01-05,R1,12,,
        B,Hooli,new_logo,10000.00,USD,2026-01-06,M1,12,,
        C,Acme,new_logo,70000.00,USD,2026-01-07,X1,12,,
    """, plans=plans, reps=reps, assignments=assigns, splits="""
        A,R1,60,primary
        A,R2,40,primary
        A,S1,50,overlay
    """)
    m1 = rep(res, "M1")
    # M1's own deal B: 10,000 x 5% = 500.00
    # overrides at 1% on each direct report's credit of A: R1 30,000 -> 300.00, R2 20,000 -> 200.00,
    # S1 overlay 25,000 -> 250.00 ; X1 is not M1's report: nothing on C
    assert table(m1) == [
        ("commission", "B", "10000.00", "1.0", "500.00"),
        ("override", "A", "30000.00", None, "300.00"),
        ("override", "A", "20000.00", None, "200.00"),
        ("override", "A", "25000.00", None, "250.00"),
    ]
    assert (comp(m1, "commission"), comp(m1, "override"), f"{m1.payout:.2f}") == ("500.00", "750.00", "1250.00")


def test_override_is_outside_the_cap(tmp_path):
    plans = {
        "p.yaml": FLAT,
        "mgr.yaml": """
            id: mgr
            currency: USD
            quota: {annual: 600000}
            rates: {new_logo: 0.05}
            cap: {per_period: 100}
            override: {rate: 0.01}
        """,
    }
    res = one_month(tmp_path, None, """
        A,Globex,new_logo,50000.00,USD,2026-01-05,R1,12,,
        B,Hooli,new_logo,10000.00,USD,2026-01-06,M1,12,,
    """, plans=plans, reps="M1,Maria,,,West,2020-01-01\nR1,Ravi,,M1,West,2020-01-01",
        assignments="M1,mgr,2026-01-01,,\nR1,p,2026-01-01,,")
    # commission 500.00 capped at 100 (cap -400.00); the 500.00 override is not capped
    assert amounts(rep(res, "M1")) == [("commission", "B", "500.00"), ("cap", None, "-400.00"), ("override", "A", "500.00")]


# --------------------------------------------------------------------------- rounding, currency, empty months


def test_half_even_plan_rounds_to_even_and_half_up_plan_rounds_up(tmp_path):
    deals = """
        A,Globex,new_logo,1000.10,USD,2026-01-05,R1,12,,
        B,Globex,new_logo,1000.30,USD,2026-01-06,R1,12,,
    """
    plan = FLAT.replace("rates: {new_logo: 0.10}", "rates: {new_logo: 0.05}")
    up = one_month(tmp_path / "up", plan, deals)
    even = one_month(tmp_path / "even", plan + "\n    rounding: half_even\n", deals)
    # A: 1,000.10 x 5% = 50.005 ; B: 1,000.30 x 5% = 50.015
    # half_up:   50.01, 50.02        half_even: 50.00 (0 is even), 50.02 (2 is even)
    assert amounts(rep(up, "R1")) == [("commission", "A", "50.01"), ("commission", "B", "50.02")]
    assert amounts(rep(even, "R1")) == [("commission", "A", "50.00"), ("commission", "B", "50.02")]
    assert rep(even, "R1").payout == Decimal("100.02")  # totals are sums of rounded lines


def test_engine_does_not_credit_a_deal_in_another_currency(tmp_path):
    plan, errors = load_plan_text(
        "id: p\ncurrency: USD\nquota: {annual: 1200000}\nrates: {new_logo: 0.10}\n", "p.yaml"
    )
    assert plan is not None and not errors
    from datetime import date

    data = Dataset(
        reps={"R1": Rep("R1", "Ravi", hire_date=date(2020, 1, 1))},
        assignments=[Assignment("R1", "p", date(2026, 1, 1))],
        deals=[
            Deal("A", "Globex", "new_logo", Decimal("1000.00"), "EUR", date(2026, 1, 5), "R1"),
            Deal("B", "Globex", "new_logo", Decimal("2000.00"), "USD", date(2026, 1, 6), "R1"),
        ],
    )
    res = calculate_month(data, {"p": plan}, Period(2026, 1))
    r1 = rep(res, "R1")
    # the EUR deal is never mixed into a USD payout: only B is credited (2,000 x 10% = 200.00)
    assert amounts(r1) == [("commission", "B", "200.00")]
    assert r1.credited == Decimal("2000.00")
    assert res.exceptions == ["R1: deal A is in EUR, plan p pays USD; not credited"]


def test_rep_with_assignment_but_no_deals_is_listed_with_zero(tmp_path):
    res = one_month(tmp_path, FLAT, "A,Globex,new_logo,1000.00,USD,2026-01-05,R1,12,,",
                    reps=REP + "\nR2,Jo,,,West,2020-01-01", assignments=ASSIGN + "\nR2,p,2026-01-01,,")
    r2 = rep(res, "R2")
    assert [r.rep_id for r in res.reps] == ["R1", "R2"]
    assert r2.lines == [] and r2.payout == Decimal("0.00") and r2.credited == Decimal("0.00")
    assert r2.quota == Decimal("100000.00")


def test_a_deal_is_priced_by_the_assignment_in_force_on_its_close_date(tmp_path):
    # (Until issue 13 the assignment active on the month's last day priced the whole month.)
    plans = {"p.yaml": FLAT, "q.yaml": FLAT.replace("id: p", "id: q").replace("0.10", "0.20")}
    res = one_month(tmp_path, None, "A,Globex,new_logo,1000.00,USD,2026-01-05,R1,12,,", plans=plans,
                    assignments="R1,p,2025-01-01,2026-01-20,\nR1,q,2026-01-21,,")
    # R1 moves from p to q on 21 January: A closed on the 5th, under p: 1,000 x 10% = 100.00
    # the month's result is q's (in force on the 31st): quota 100,000.00 x 11/31 = 35,483.8709... -> 35,483.87
    r1 = rep(res, "R1")
    assert r1.plan_id == "q" and amounts(r1) == [("commission", "A", "100.00")]
    assert r1.quota == Decimal("35483.87") and r1.credited == Decimal("0.00")


def test_assignment_quota_overrides_the_plan(tmp_path):
    res = one_month(tmp_path, MARGINAL, "A,Globex,new_logo,60000.00,USD,2026-01-05,R1,12,,",
                    assignments="R1,p,2026-01-01,,600000")
    # 600,000 / 12 = 50,000.00: 50,000 in band 1 (5,000.00), 10,000 in band 2 (1,500.00)
    r1 = rep(res, "R1")
    assert r1.quota == Decimal("50000.00")
    assert amounts(r1) == [("commission", "A", "5000.00"), ("commission", "A", "1500.00")]


@pytest.mark.parametrize("period", ["2026-10"])
def test_example_company_each_plan_exercised(period):
    """The four example plans on examples/acme (numbers worked in plans/README.md)."""
    from compengine.datafiles import read_data_folder
    from compengine.plans import load_plans

    plans, errors = load_plans("plans")
    assert not errors
    data, errors = read_data_folder("examples/acme", plans)
    assert not errors
    res = calculate_month(data, plans, Period.parse(period))
    by = {r.rep_id: r for r in res.reps}
    assert {r.plan_id for r in res.reps} == {"ae-2026", "am-2026", "se-2026", "mgr-2026"}
    # R1 (ae, marginal): D1 60,000 + 40,000 of D2 (60% of 80,000 = 48,000) in band 1; 8,000 of D2 and
    # D3's 30,000 expansion in band 2; SPIFF 500 x 60%; clawback of D5 (25,000 x 10% in September)
    assert amounts(by["R1"]) == [
        ("commission", "D1", "6000.00"), ("commission", "D2", "4000.00"), ("commission", "D2", "1200.00"),
        ("commission", "D3", "2250.00"), ("spiff", "D2", "300.00"), ("clawback", "D5", "-2500.00"),
    ]
    assert by["R1"].payout == Decimal("11250.00")
    # R2 (ae, hired 2026-06-15, tenure month 5 -> 50% ramp, quota 50,000): D4 40,000 then D2's 32,000 crosses 100%;
    # draw balance 4 x 3,000 = 12,000 from June-September; recovered only above the 3,000 draw
    assert amounts(by["R2"]) == [
        ("commission", "D4", "4000.00"), ("commission", "D2", "1000.00"), ("commission", "D2", "3300.00"),
        ("spiff", "D4", "500.00"), ("spiff", "D2", "200.00"), ("draw_recovery", None, "-6000.00"),
    ]
    assert by["R2"].payout == Decimal("3000.00") and by["R2"].state.draw_balance == Decimal("6000.00")
    # A1 (am, ytd retroactive): YTD 740,000 / 2,000,000 = 37% -> band 1 (x0.5)
    assert amounts(by["A1"]) == [("commission", "D7", "7500.00"), ("commission", "D8", "2700.00")]
    assert by["A1"].attainment == Decimal("0.3700")
    # S1 (se, overlay): 40,000 + 40,000 at 2% = 1,600.00, topped up to the 2,000 guaranteed draw
    assert amounts(by["S1"]) == [("commission", "D4", "800.00"), ("commission", "D2", "800.00"), ("draw", None, "400.00")]
    # M1 (manager): 1% on the reports' October credit (A1 590,000, R1 138,000, R2 72,000 = 800,000) = 8,000.00,
    # less the clawback of the 250.00 override on D5
    assert by["M1"].components["override"] == Decimal("8000.00")
    assert by["M1"].payout == Decimal("7750.00")
    assert res.total_payout == Decimal("34200.00")
