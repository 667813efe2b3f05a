"""Plan language v2 in the engine: components, bases, quota periods, hybrid bands, gates, rate rules,
per-deal amounts, bonus curves, override levels, clawback schedules and negative payouts.

Plans are built from a v1 file and given their v2 parts as compiled model objects, so these cases
pin the engine's arithmetic; tests/test_plans_v2.py checks that the YAML keys compile to them.
Every number is worked by hand in the comments.
"""

from __future__ import annotations

import dataclasses
from datetime import date
from decimal import Decimal
from types import MappingProxyType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compengine.core.periods import Period
from compengine.engine.driver import Dataset, calculate_through
from compengine.engine.pipeline import Cancellation, calculate_period, credit_deals, group_assignments
from compengine.engine.records import Assignment, Deal, Quota, Rep, group_quotas
from compengine.plans import load_plan_text
from compengine.plans.model import ClawbackStep, Component, Condition, CurvePoint, Plan, RateRule, Tier

D = Decimal
OCT, NOV, DEC = Period(2026, 10), Period(2026, 11), Period(2026, 12)
V1 = """
id: p
currency: USD
quota: {annual: 120000}
rates: {new_logo: 0.10, expansion: 0.05, renewal: 0.02}
"""


def base_plan(text: str = V1) -> Plan:
    plan, errors = load_plan_text(text, "p.yaml")
    assert not errors, errors
    return plan


def tiers(*spec: tuple[str | None, str]) -> tuple[Tier, ...]:
    out, lower = [], D(0)
    for i, (upto, mult) in enumerate(spec, start=1):
        out.append(Tier(i, lower, D(upto) if upto else None, D(mult)))
        lower = D(upto) if upto else lower
    return tuple(out)


def v2(*components: Component, **kw: object) -> Plan:
    plan = base_plan()
    measure = "ytd" if any(c.period != "month" for c in components) else "period"
    return dataclasses.replace(plan, components=components, measure=measure, **kw)


def deal(deal_id: str, amount: str, day: date, deal_type: str = "new_logo", owner: str = "R1", **kw: object) -> Deal:
    return Deal(deal_id, f"acct-{deal_id}", deal_type, D(amount), "USD", day, owner, **kw)


def run(plan: Plan, deals: list[Deal], last: Period = OCT, *, reps: dict | None = None, annual: str | None = None,
        quotas: list[Quota] = (), first: Period | None = None, assignments: list[Assignment] | None = None):
    reps = reps or {"R1": Rep("R1", "Rep One")}
    rows = assignments or [Assignment(r, plan.id, date(2026, 1, 1), annual_quota=D(annual) if annual else None)
                           for r in reps]
    data = Dataset(reps, rows, deals, quotas=group_quotas(quotas))
    return calculate_through(data, {plan.id: plan}, last, first_wanted=first)


def amounts(r, kind: str | None = None) -> list[str]:
    return [f"{ln.amount}" for ln in r.lines if kind is None or ln.kind == kind]


# --------------------------------------------------------------------------- bases and band modes


def test_hybrid_pays_the_band_where_attainment_ends_up_to_quota_then_marginal_above():
    # quota 33,000 a month (annual 396,000), 10%, x0.5 to 50%, x1.0 to 100%, x2.0 above; credit 40,000:
    #   33,000 x 10% x 1.0 (the band holding 100%) + 7,000 x 10% x 2.0 = 3,300 + 1,400 = 4,700.00
    comp = Component(id="nb", type="commission", rate=D("0.10"), mode="hybrid",
                     tiers=tiers(("0.5", "0.5"), ("1.0", "1.0"), (None, "2.0")))
    plan = v2(comp)
    [res] = run(plan, [deal("D1", "40000", date(2026, 10, 5))], annual="396000")
    r = res.rep("R1")
    assert r.components["commission"] == D("4700.00")
    assert amounts(r) == ["3300.00", "1400.00"]
    # attainment ending at 45% (credit 14,850): all of it at band 1's x0.5: 14,850 x 10% x 0.5 = 742.50
    [res] = run(plan, [deal("D1", "9850", date(2026, 10, 5)), deal("D2", "5000", date(2026, 10, 6))], annual="396000")
    assert res.rep("R1").components["commission"] == D("742.50")
    assert amounts(res.rep("R1")) == ["492.50", "250.00"]
    # marginal on the same 40,000: 16,500 x 5% + 16,500 x 10% + 7,000 x 20% = 825 + 1,650 + 1,400 = 3,875.00
    [res] = run(dataclasses.replace(plan, components=(dataclasses.replace(comp, mode="marginal"),)),
                [deal("D1", "40000", date(2026, 10, 5))], annual="396000")
    assert res.rep("R1").components["commission"] == D("3875.00")


def test_gross_profit_tables_marginal_44_and_whole_amount_66():
    # a public case: gross profit 1,200 on 0-200 at 2%, to 500 at 3%, to 1,000 at 4%, above at 5.5%.
    # As bands: quota 1,000 (annual 12,000), rate 1% x 2 / 3 / 4 / 5.5, base margin (amount 5,000 - cost 3,800).
    #   marginal: 200 x 2% + 300 x 3% + 500 x 4% + 200 x 5.5% = 4 + 9 + 20 + 11 = 44.00
    #   whole amount (retroactive): 1,200 x 5.5% = 66.00
    bands = tiers(("0.2", "2"), ("0.5", "3"), ("1.0", "4"), (None, "5.5"))
    comp = Component(id="gp", type="commission", base="margin", rate=D("0.01"), tiers=bands)
    d = deal("D1", "5000", date(2026, 10, 9), cost=D("3800"))
    [res] = run(v2(comp), [d], annual="12000")
    r = res.rep("R1")
    assert r.components["commission"] == D("44.00") and r.credited == D("1200.00")
    assert amounts(r) == ["4.00", "9.00", "20.00", "11.00"]
    [res] = run(v2(dataclasses.replace(comp, mode="retroactive")), [d], annual="12000")
    assert res.rep("R1").components["commission"] == D("66.00") and amounts(res.rep("R1")) == ["66.00"]


def test_quantity_base_with_a_rate_per_unit_and_a_split():
    # 12 seats at 25.00 a seat, R1 holds 50%: 6 units x 25 = 150.00
    comp = Component(id="seats", type="commission", base="quantity", rate=D("25"))
    d = deal("D1", "9000", date(2026, 10, 9), quantity=D(12))
    from compengine.engine.records import Split
    data = Dataset({"R1": Rep("R1", "One"), "R2": Rep("R2", "Two")},
                   [Assignment(r, "p", date(2026, 1, 1), annual_quota=D(0)) for r in ("R1", "R2")], [d],
                   [Split("D1", "R1", D(50)), Split("D1", "R2", D(50))])
    [res] = calculate_through(data, {"p": v2(comp)}, OCT)
    assert amounts(res.rep("R1")) == ["150.00"] and res.rep("R1").credited == D("6.00")


# --------------------------------------------------------------------------- rules, measures, components


def test_a_fixed_amount_per_line_by_product_category_first_rule_wins():
    # a public case: 10 / 20 / 50 / 150 a line by rule precedence
    rules = (
        RateRule(0, (Condition("product", ("Desk*",)), Condition("category", ("Office Furniture",))), None, D(150)),
        RateRule(1, (Condition("category", ("Office Furniture",)),), None, D(50)),
        RateRule(2, (Condition("category", ("Technology",)),), None, D(20)),
        RateRule(3, (), None, D(10)),
    )
    comp = Component(id="lines", type="commission", rate_rules=rules)
    deals = [
        deal("D1", "900", date(2026, 10, 1), product="Desk (Steel, White)", attrs=(("category", "Office Furniture"),)),
        deal("D2", "300", date(2026, 10, 2), product="Chair", attrs=(("category", "Office Furniture"),)),
        deal("D3", "700", date(2026, 10, 3), product="Phone", attrs=(("category", "Technology"),)),
        deal("D4", "40", date(2026, 10, 4), product="Paper", attrs=(("category", "Office Supplies"),)),
    ]
    [res] = run(v2(comp), deals, annual="0")
    r = res.rep("R1")
    assert amounts(r) == ["150.00", "50.00", "20.00", "10.00"]
    assert [ln.rule for ln in r.lines] == [f"components.lines.rate_rules[{i}]" for i in range(4)]
    assert r.credited == D("1940.00")  # every deal still counts toward the component


def test_rate_rules_fall_back_to_rate_then_rates_by_deal_type():
    rules = (RateRule(0, (Condition("product", ("Platform*",)),), D("0.15"), None),)
    comp = Component(id="c", type="commission", rates=MappingProxyType({"new_logo": D("0.10"), "renewal": D("0.02")}),
                     rate_rules=rules)
    deals = [deal("D1", "1000", date(2026, 10, 1), product="Platform Pro"),
             deal("D2", "1000", date(2026, 10, 2), product="Services"),
             deal("D3", "1000", date(2026, 10, 3), deal_type="renewal", product="Services")]
    [res] = run(v2(comp), deals, annual="0")
    assert amounts(res.rep("R1")) == ["150.00", "100.00", "20.00"]


def test_a_credit_counts_toward_every_component_whose_measure_it_meets_and_none_is_an_exception():
    nb = Component(id="new_business", type="commission", measure=(Condition("deal_type", ("new_logo",)),), rate=D("0.10"))
    plat = Component(id="platform", type="commission", measure=(Condition("product", ("Platform*",)),), rate=D("0.01"))
    deals = [deal("D1", "10000", date(2026, 10, 1), product="Platform Pro"),   # both: 1,000 + 100
             deal("D2", "5000", date(2026, 10, 2), product="Services"),         # new_business: 500
             deal("D3", "2000", date(2026, 10, 3), deal_type="renewal", product="Services")]  # none
    [res] = run(v2(nb, plat), deals, annual="120000")
    r = res.rep("R1")
    assert [(ln.component, ln.deal_id, f"{ln.amount}") for ln in r.lines] == [
        ("new_business", "D1", "1000.00"), ("new_business", "D2", "500.00"), ("platform", "D1", "100.00")]
    assert [(p.component, p.credited) for p in r.parts] == [("new_business", D("15000.00")), ("platform", D("10000.00"))]
    assert res.exceptions == ["R1: D3 (renewal) matches no component of plan p; not credited"]


def test_per_deal_is_a_flat_amount_not_scaled_by_the_split():
    from compengine.engine.records import Split
    comp = Component(id="demos", type="commission", rate=D(0), per_deal=D(50))
    data = Dataset({"R1": Rep("R1", "One"), "R2": Rep("R2", "Two")},
                   [Assignment(r, "p", date(2026, 1, 1)) for r in ("R1", "R2")],
                   [deal("D1", "1000", date(2026, 10, 1)), deal("D2", "1000", date(2026, 10, 2))],
                   [Split("D1", "R1", D(30)), Split("D1", "R2", D(70))])
    [res] = calculate_through(data, {"p": v2(comp)}, OCT)
    assert [f"{ln.amount}" for ln in res.rep("R1").lines if ln.rule.endswith("per_deal")] == ["50.00", "50.00"]
    assert [f"{ln.amount}" for ln in res.rep("R2").lines if ln.rule.endswith("per_deal")] == ["50.00"]


# --------------------------------------------------------------------------- quota periods


def test_a_quarterly_quota_pays_period_to_date_less_what_the_quarter_paid():
    # annual 120,000: quarter-to-date quotas 10,000 (Oct), 20,000 (Nov), 30,000 (Dec); 10%, x2 above 100%
    comp = Component(id="nb", type="commission", rate=D("0.10"), period="quarter",
                     tiers=tiers(("1.0", "1.0"), (None, "2.0")))
    deals = [deal("O1", "15000", date(2026, 10, 10)), deal("D1", "20000", date(2026, 12, 10))]
    oct_, nov, dec = run(v2(comp), deals, DEC, annual="120000", first=OCT)
    # Oct: 10,000 x 10% + 5,000 x 20% = 2,000.00
    assert amounts(oct_.rep("R1")) == ["1000.00", "1000.00"]
    # Nov: 15,000 against 20,000 now earns 1,500.00; 2,000.00 paid: true-up -500.00 (carried forward)
    assert [(ln.kind, f"{ln.amount}") for ln in nov.rep("R1").lines] == [("true_up", "-500.00"), ("carry_forward", "500.00")]
    assert nov.rep("R1").parts[0].period == "2026-Q4" and nov.rep("R1").parts[0].quota == D("20000.00")
    # Dec: D1 from 15,000: 15,000 x 10% + 5,000 x 20% = 2,500.00; the earlier 15,000 earns what was kept (1,500)
    r = dec.rep("R1")
    assert [(ln.kind, f"{ln.amount}") for ln in r.lines] == [
        ("commission", "1500.00"), ("commission", "1000.00"), ("balance_recovery", "-500.00")]
    # the quarter: 2,000 - 500 + 2,500 = 4,000 = 30,000 x 10% + 5,000 x 20%
    assert r.parts[0].quota == D("30000.00") and r.parts[0].credited == D("35000.00")


def test_a_new_quarter_starts_a_new_tally():
    comp = Component(id="nb", type="commission", rate=D("0.10"), period="quarter")
    deals = [deal("S1", "1000", date(2026, 9, 10)), deal("O1", "1000", date(2026, 10, 10))]
    sep, oct_ = run(v2(comp), deals, OCT, annual="120000", first=Period(2026, 9))
    assert amounts(sep.rep("R1")) == ["100.00"] and amounts(oct_.rep("R1")) == ["100.00"]
    assert oct_.rep("R1").state.component_paid == (("nb", "2026-Q4", D("100.00")),)


def test_a_year_quota_of_one_million_is_exactly_one_million_in_december():
    # v1 measure: ytd (= period: year): twelve months of an annual 1,000,000 are 1,000,000.00, not
    # 12 x 83,333.33 = 999,999.96; a rep at exactly 100% stays in band 1 (no 0.01 in band 2)
    text = V1.replace("quota: {annual: 120000}", "quota: {annual: 1000000, measure: ytd}") + \
        "accelerators:\n  tiers:\n    - {upto: 1.0, multiplier: 1.0}\n    - {multiplier: 2.0}\n"
    plan = base_plan(text)
    deals = [deal("D1", "1000000", date(2026, 12, 15))]
    [res] = run(plan, deals, DEC)
    r = res.rep("R1")
    assert r.ytd_quota == D("1000000.00") and r.attainment == D("1.0000")
    assert amounts(r) == ["100000.00"] and [ln.tier for ln in r.lines] == [1]
    # the same as a v2 component over the year
    comp = Component(id="nb", type="commission", rate=D("0.10"), period="year", tiers=plan.tiers)
    [res2] = run(v2(comp), deals, DEC, annual="1000000")
    assert res2.rep("R1").parts[0].quota == D("1000000.00") and amounts(res2.rep("R1")) == ["100000.00"]


def test_quotas_csv_sets_a_components_quota_effective_dated():
    comp = Component(id="nb", type="commission", rate=D("0.10"), tiers=tiers(("1.0", "1.0"), (None, "2.0")))
    q = [Quota("R1", "p", "nb", date(2026, 10, 1), None, D("60000"))]  # 5,000.00 a month from October
    [res] = run(v2(comp), [deal("D1", "6000", date(2026, 10, 3))], annual="120000", quotas=q)
    # 5,000 x 10% + 1,000 x 20% = 700.00
    assert res.rep("R1").quota == D("5000.00") and amounts(res.rep("R1")) == ["500.00", "200.00"]


def test_a_gate_holds_bands_above_100_percent_until_the_year_reaches_it():
    # quarterly, gate: the year's attainment 1.0; annual 120,000. Q1 (Jan-Mar) credit 45,000 against 30,000:
    #   year attainment 45,000 / 120,000 = 37.5% < 100%: the 15,000 above 100% pays x1.0 (not x2.0)
    comp = Component(id="nb", type="commission", rate=D("0.10"), period="quarter", gate=D("1.0"),
                     tiers=tiers(("1.0", "1.0"), (None, "2.0")))
    deals = [deal("D1", "45000", date(2026, 3, 10))]
    [res] = run(v2(comp), deals, Period(2026, 3), annual="120000")
    r = res.rep("R1")
    assert sum(D(a) for a in amounts(r)) == D("4500.00")
    assert any("below the gate" in n for n in r.notes)
    # without the gate: 30,000 x 10% + 15,000 x 20% = 6,000.00
    [res] = run(v2(dataclasses.replace(comp, gate=None)), deals, Period(2026, 3), annual="120000")
    assert sum(D(a) for a in amounts(res.rep("R1"))) == D("6000.00")
    # a year already at 100% (one deal of 120,000 in March): the bands above pay x2
    [res] = run(v2(comp), [deal("D1", "120000", date(2026, 3, 10))], Period(2026, 3), annual="120000")
    # 30,000 x 10% + 90,000 x 20% = 21,000.00
    assert sum(D(a) for a in amounts(res.rep("R1"))) == D("21000.00")


# --------------------------------------------------------------------------- bonus curves


def test_a_bonus_curve_is_linear_between_points_and_trued_up_over_the_quarter():
    # target 20,000 a year on new_business (quarterly, annual 800,000: 66,666.67 / 133,333.33 / 200,000.00 to date)
    nb = Component(id="new_business", type="commission", rate=D(0), period="quarter", annual_quota=D(800000))
    bonus = Component(id="attainment_bonus", type="bonus", target=D(20000), of=("new_business",),
                      curve=(CurvePoint(D("0.5"), D("0.25")), CurvePoint(D("1.0"), D("1.0")), CurvePoint(D("2.0"), D("3.0"))))
    deals = [deal("O1", "50000", date(2026, 10, 10)), deal("D1", "100000", date(2026, 12, 10))]
    oct_, nov, dec = run(v2(nb, bonus), deals, DEC, first=OCT)
    # Oct: 50,000 / 66,666.67 = 75.00%: 0.25 + 0.75 x 0.5 = 0.625 -> 20,000 x 1/12 x 0.625 = 1,041.67
    assert amounts(oct_.rep("R1"), "bonus") == ["1041.67"]
    # Nov: 50,000 / 133,333.33 = 37.50%, below the first point: 0 -> true-up -1,041.67
    assert amounts(nov.rep("R1"), "bonus") == ["-1041.67"]
    # Dec: 150,000 / 200,000 = 75%: 20,000 x 3/12 x 0.625 = 3,125.00, nothing kept so far
    r = dec.rep("R1")
    assert amounts(r, "bonus") == ["3125.00"]
    assert [(p.component, p.type, p.period, f"{p.attainment}") for p in r.parts] == [
        ("new_business", "commission", "2026-Q4", "0.7500"), ("attainment_bonus", "bonus", "2026-Q4", "0.7500")]


@given(st.lists(st.tuples(st.integers(0, 300), st.integers(0, 500)), min_size=1, max_size=5, unique_by=lambda p: p[0]),
       st.integers(0, 400), st.integers(0, 400))
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_a_curve_is_monotone_where_its_points_are(points, a, b):
    pts = sorted(points)
    pcts = sorted(p for _, p in pts)  # non-decreasing pct
    curve = tuple(CurvePoint(D(x) / 100, D(y) / 100) for (x, _), y in zip(pts, pcts))
    comp = Component(id="b", type="bonus", curve=curve)
    lo, hi = sorted((D(a) / 100, D(b) / 100))
    assert comp.curve_pct(lo) <= comp.curve_pct(hi)
    if lo < curve[0].attainment:
        assert comp.curve_pct(lo) == 0
    if lo >= curve[-1].attainment:
        assert comp.curve_pct(lo) == curve[-1].pct


# --------------------------------------------------------------------------- overrides, clawbacks, negative months


def test_an_override_chain_agent_team_lead_branch_hq_on_one_policy():
    # a 3,000,000 policy sold by the agent; team lead 2% on level 1; branch 1% on level 2 (0.5% on level 1);
    # HQ 0.5% on level 3: 60,000.00 / 30,000.00 / 15,000.00
    reps = {"A": Rep("A", "Agent", manager_id="TL"), "TL": Rep("TL", "Team lead", manager_id="BR"),
            "BR": Rep("BR", "Branch", manager_id="HQ"), "HQ": Rep("HQ", "Head office")}
    agent = base_plan(V1.replace("id: p", "id: agent"))
    tl = dataclasses.replace(base_plan(V1.replace("id: p", "id: tl")), override_levels=(D("0.02"),))
    br = dataclasses.replace(base_plan(V1.replace("id: p", "id: br")), override_levels=(D("0.005"), D("0.01")))
    hq = dataclasses.replace(base_plan(V1.replace("id: p", "id: hq")), override_levels=(D(0), D(0), D("0.005")))
    rows = [Assignment(r, p, date(2026, 1, 1)) for r, p in (("A", "agent"), ("TL", "tl"), ("BR", "br"), ("HQ", "hq"))]
    data = Dataset(reps, rows, [deal("POL", "3000000", date(2026, 10, 1), owner="A")])
    [res] = calculate_through(data, {p.id: p for p in (agent, tl, br, hq)}, OCT)
    got = {r.rep_id: [(ln.rule, f"{ln.amount}") for ln in r.lines if ln.kind == "override"] for r in res.reps}
    assert got["TL"] == [("override.levels[0]", "60000.00")]
    assert got["BR"] == [("override.levels[1]", "30000.00")]  # no direct report of its own sold anything
    assert got["HQ"] == [("override.levels[0]", "0.00"), ("override.levels[1]", "0.00"), ("override.levels[2]", "15000.00")] \
        or got["HQ"] == [("override.levels[2]", "15000.00")]
    hq_line = next(ln for ln in res.rep("HQ").lines if ln.rule == "override.levels[2]")
    assert "via BR, TL" in hq_line.explain or "via TL, BR" in hq_line.explain


def _cancelled(plan: Plan, closed: date, cancelled: date, term: int | None = None):
    c = Cancellation("R1", "D1", closed, cancelled, D("1000.00"), D(0), str(Period.of(closed)), term)
    period = Period.of(cancelled)
    return calculate_period(period, {plan.id: plan}, {"R1": Rep("R1", "One")},
                            group_assignments([Assignment("R1", plan.id, date(2020, 1, 1))]), [], cancellations=[c])


def test_a_clawback_schedule_reverses_a_share_by_days_since_close():
    plan = dataclasses.replace(base_plan(V1 + "clawback: {window_days: 365}\n"),
                               clawback_schedule=(ClawbackStep(90, D(100)), ClawbackStep(180, D(50))))
    # 44 days: 100% of 1,000.00 ; 136 days: 50% ; 200 days: nothing (inside the window, past the schedule)
    r = _cancelled(plan, date(2026, 9, 1), date(2026, 10, 15)).rep("R1")
    assert [(ln.kind, f"{ln.amount}") for ln in r.lines][:1] == [("clawback", "-1000.00")]
    r = _cancelled(plan, date(2026, 9, 1), date(2027, 1, 15)).rep("R1")
    assert [(ln.kind, f"{ln.amount}", ln.rule) for ln in r.lines][:1] == [("clawback", "-500.00", "clawback.schedule")]
    r = _cancelled(plan, date(2026, 9, 1), date(2027, 3, 20)).rep("R1")
    assert [ln for ln in r.lines if ln.kind == "clawback"] == [] and any("reverses nothing" in n for n in r.notes)


def test_a_term_prorated_clawback_reverses_the_unearned_share():
    # a 12-month term from 2026-01-01 (365 days) cancelled after 90 days: 275/365 of 1,000.00 = 753.42
    plan = dataclasses.replace(base_plan(V1 + "clawback: {window_days: 365}\n"), clawback_prorate="term")
    r = _cancelled(plan, date(2026, 1, 1), date(2026, 4, 1), term=12).rep("R1")
    assert [(ln.kind, f"{ln.amount}") for ln in r.lines][:1] == [("clawback", "-753.42")]


def test_payout_negative_pay_pays_a_refund_month_instead_of_carrying_it():
    plan = base_plan(V1 + "clawback: {window_days: 365}\n")
    carry = _cancelled(plan, date(2026, 9, 1), date(2026, 10, 15)).rep("R1")
    assert carry.payout == 0 and carry.state.carry_balance == D("1000.00")
    pay = _cancelled(dataclasses.replace(plan, negative="pay"), date(2026, 9, 1), date(2026, 10, 15)).rep("R1")
    assert pay.payout == D("-1000.00") and pay.state.carry_balance == 0
    assert [ln.kind for ln in pay.lines] == ["clawback"]


# --------------------------------------------------------------------------- lines cite their sources


def test_lines_carry_component_base_and_where_deal_and_rule_come_from(tmp_path):
    from compengine.core.errors import Source
    plan = base_plan()
    d = deal("D1", "1000", date(2026, 10, 1), source=Source("deals.csv", 7))
    [res] = run(plan, [d])
    [ln] = res.rep("R1").lines
    assert ln.component == "commission" and ln.base == D("100.00") and str(ln.base) == "100.00" and str(ln.deal_source) == "deals.csv:7"
    assert ln.rule_source is not None and ln.rule_source.startswith("p.yaml:")


# --------------------------------------------------------------------------- v1 and its v2 rewriting


def v2_of(plan: Plan) -> Plan:
    """A v1 plan written as one component (what plans/README.md says a v1 file means)."""
    comp = Component(id="commission", type="commission", rates=plan.rates, mode=plan.mode, tiers=plan.tiers,
                     period="year" if plan.measure == "ytd" else "month")
    return dataclasses.replace(plan, components=(comp,))


V1_VARIANTS = [
    V1,
    V1 + "accelerators:\n  tiers:\n    - {upto: 1.0, multiplier: 1.0}\n    - {upto: 1.5, multiplier: 1.5}\n    - {multiplier: 2.0}\n",
    V1 + "accelerators:\n  mode: retroactive\n  tiers:\n    - {upto: 0.5, multiplier: 0.5}\n    - {multiplier: 1.2}\n",
    V1.replace("quota: {annual: 120000}", "quota: {annual: 120000, measure: ytd}")
    + "accelerators:\n  tiers:\n    - {upto: 1.0, multiplier: 1.0}\n    - {multiplier: 2.0}\n",
    V1 + "cap: {per_period: 1500}\nspiffs:\n  - {id: big, amount: 100, when: {min_amount: 5000}}\n",
]


@given(variant=st.sampled_from(V1_VARIANTS),
       deals=st.lists(st.tuples(st.integers(1, 2_000_000), st.integers(0, 330), st.sampled_from(["new_logo", "expansion", "renewal"])),
                      max_size=8),
       annual=st.sampled_from([None, "0", "60000", "240000"]))
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_a_v1_plan_and_its_v2_rewriting_pay_the_same(variant, deals, annual):
    plan = base_plan(variant)
    ds = [deal(f"D{i}", str(D(c) / 100), date(2026, 1, 1) + __import__("datetime").timedelta(days=day), t)
          for i, (c, day, t) in enumerate(deals)]
    one = run(plan, ds, Period(2026, 12), annual=annual, first=Period(2026, 1))
    two = run(v2_of(plan), ds, Period(2026, 12), annual=annual, first=Period(2026, 1))
    for a, b in zip(one, two):
        ra, rb = a.rep("R1"), b.rep("R1")
        assert [(ln.kind, ln.deal_id, ln.amount) for ln in ra.lines] == [(ln.kind, ln.deal_id, ln.amount) for ln in rb.lines]
        assert ra.payout == rb.payout and ra.state.carry_balance == rb.state.carry_balance
        assert (ra.parts[0].quota, ra.parts[0].credited) == (rb.parts[0].quota, rb.parts[0].credited)


@given(st.lists(st.tuples(st.integers(1, 10_000_00), st.sampled_from(["new_logo", "expansion", "renewal"]),
                          st.sampled_from(["Platform Pro", "Platform", "Services", "Desk"])), max_size=10))
@settings(max_examples=100, deadline=None)
def test_components_partition_credit_as_their_measures_say(rows):
    nb = Component(id="nb", type="commission", measure=(Condition("deal_type", ("new_logo",)),), rate=D("0.1"))
    ex = Component(id="ex", type="commission", measure=(Condition("deal_type", ("expansion", "renewal")),
                                                        Condition("product", ("Platform*",))), rate=D("0.1"))
    ds = [deal(f"D{i}", str(D(c) / 100), date(2026, 10, 1), t, product=p) for i, (c, t, p) in enumerate(rows)]
    [res] = run(v2(nb, ex), ds, annual="0")
    r = res.rep("R1")
    parts = {p.component: p.credited for p in r.parts}
    assert parts["nb"] == sum((d.amount for d in ds if d.deal_type == "new_logo"), D(0))
    assert parts["ex"] == sum((d.amount for d in ds if d.deal_type != "new_logo" and d.product.startswith("Platform")), D(0))
    unmatched = [d.deal_id for d in ds if d.deal_type != "new_logo" and not d.product.startswith("Platform")]
    assert [e.split()[1] for e in res.exceptions] == unmatched


def test_override_on_commission_takes_the_reports_commission_after_bands():
    # plans/README.md: M manages R, who manages S. R closes 40,000.00 (10% -> 4,000.00), S closes 50,000.00
    # (5,000.00). M's plan: levels [0.03, 0.02] on commission: 4,000 x 3% = 120.00 and 5,000 x 2% = 100.00
    reps = {"M": Rep("M", "Manager"), "R": Rep("R", "Rep", manager_id="M"), "S": Rep("S", "Sub", manager_id="R")}
    rep_plan = base_plan(V1.replace("id: p", "id: rep"))
    mgr = dataclasses.replace(base_plan(V1.replace("id: p", "id: mgr")), override_levels=(D("0.03"), D("0.02")),
                              override_base="commission")
    rows = [Assignment("M", "mgr", date(2026, 1, 1)), Assignment("R", "rep", date(2026, 1, 1)),
            Assignment("S", "rep", date(2026, 1, 1))]
    data = Dataset(reps, rows, [deal("D1", "40000", date(2026, 10, 1), owner="R"),
                                deal("D2", "50000", date(2026, 10, 2), owner="S")])
    [res] = calculate_through(data, {"rep": rep_plan, "mgr": mgr}, OCT)
    got = [(ln.deal_id, ln.rule, f"{ln.amount}") for ln in res.rep("M").lines if ln.kind == "override"]
    assert got == [("D1", "override.levels[0] (base: commission)", "120.00"),
                   ("D2", "override.levels[1] (base: commission)", "100.00")]
    # the reports' own months are untouched by being read
    assert amounts(res.rep("R")) == ["4000.00"] and amounts(res.rep("S")) == ["5000.00"]


def test_a_deal_clawed_back_inside_its_quarter_is_not_reversed_twice():
    # quarterly component, 10%, quota to date 10,000 / 20,000; O1 15,000 (Oct) is x1 to 10,000 and x2 above:
    # 1,000 + 1,000 = 2,000.00 paid. O1 cancelled in November, inside the window: the clawback reverses the
    # 2,000.00 paid on it, and the quarter's tally loses it too, so the true-up has nothing more to take.
    plan = dataclasses.replace(v2(Component(id="nb", type="commission", rate=D("0.10"), period="quarter",
                                            tiers=tiers(("1.0", "1.0"), (None, "2.0")))),
                               clawback_days=365)
    deals = [deal("O1", "15000", date(2026, 10, 10), cancelled_on=date(2026, 11, 5)),
             deal("N1", "5000", date(2026, 11, 20))]
    oct_, nov = run(plan, deals, NOV, annual="120000", first=OCT)
    assert sum(D(a) for a in amounts(oct_.rep("R1"))) == D("2000.00")
    r = nov.rep("R1")
    # November: N1 5,000 against 20,000 to date: 500.00; the clawback -2,000.00; no true-up; -1,500 carried
    assert [(ln.kind, f"{ln.amount}") for ln in r.lines] == [
        ("commission", "500.00"), ("clawback", "-2000.00"), ("carry_forward", "1500.00")]
    assert r.state.component_paid == (("nb", "2026-Q4", D("500.00")),)
