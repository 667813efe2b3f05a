"""The plan file language v2 (issue 14): components, rate rules, bonuses, override levels, clawback
schedules, payout.negative and attributes; v1 files compile as before (plans/README.md, "Components")."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from compengine.cli import main
from compengine.plans import load_plan_file, load_plan_text
from compengine.plans.model import (DEAL_FIELDS, ClawbackStep, Component, Condition, CurvePoint, Plan, all_match,
                                    v1_component)

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"
V2_EXAMPLES = ROOT / "examples" / "plans-v2"
D = Decimal

# line numbers are part of the expected errors below: keep this text's lines where they are
V2 = """\
id: v2
currency: USD
attributes: [region, segment]
quota:
  annual: 1200000
components:
  - id: new_business
    measure:
      deal_type: [new_logo]
      product: ["Platform*"]
    base: amount
    quota: {annual: 800000, period: quarter}
    rates: {new_logo: 0.10}
    rate_rules:
      - {when: {product: "Desk (Steel, White)"}, rate: 0.15}
      - {when: {category: "Office Furniture", region: [EMEA, "A?AC"]}, amount_per_deal: 20}
    accelerators:
      mode: hybrid
      gate: {annual_attainment: 1.0}
      tiers:
        - {upto: 0.5, multiplier: 0.5}
        - {upto: 1.0, multiplier: 1.0}
        - {multiplier: 2.0}
    per_deal: 50
  - id: attainment_bonus
    type: bonus
    target: 20000
    of: [new_business]
    curve: [{attainment: 0.5, pct: 0.25}, {attainment: 1.0, pct: 1.0}, {attainment: 2.0, pct: 3.0}]
  - id: services
    measure: {segment: Enterprise}
    base: margin
    rate: 0.05
override:
  levels: [0.03, 0.02]
  base: commission
clawback:
  window_days: 365
  schedule: [{upto_days: 90, pct: 100}, {upto_days: 180, pct: 50}]
payout:
  negative: pay
cap:
  per_period: 50000
spiffs:
  - {id: multi-year, amount: 500, when: {deal_type: new_logo, min_term_months: 24}}
"""


def load(text: str, file: str = "v2.yaml") -> Plan:
    plan, errors = load_plan_text(text, file)
    assert errors == [] and plan is not None, [str(e) for e in errors]
    return plan


def errors_of(text: str, file: str = "bad.yaml") -> list[str]:
    plan, errors = load_plan_text(text, file)
    assert plan is None, "expected the plan to be rejected"
    return [str(e) for e in errors]


def edit(old: str, new: str, text: str = V2) -> str:
    assert text.count(old) == 1, old
    return text.replace(old, new)


# --------------------------------------------------------------------------- v1 files compile unchanged


@pytest.mark.parametrize("name", ["ae.yaml", "am.yaml", "se.yaml", "manager.yaml"])
def test_v1_plans_are_one_commission_component(name):
    plan, errors = load_plan_file(PLANS / name)
    assert errors == [] and plan is not None
    assert not plan.v2 and plan.components == ()
    (part,) = plan.parts()
    assert part == v1_component(plan)
    assert (part.id, part.type, part.index, part.line, part.annual_quota) == ("commission", "commission", None, None, None)
    assert part.rates == plan.rates and set(plan.rates) == {"new_logo", "expansion", "renewal"}
    assert (part.mode, part.tiers, part.measure, part.base) == (plan.mode, plan.tiers, (), "amount")
    assert part.period == ("year" if plan.measure == "ytd" else "month")
    assert (plan.clawback_schedule, plan.clawback_prorate, plan.negative, plan.attributes) == ((), None, "carry", ())
    assert plan.override_base == "credit"
    assert plan.override_levels == (() if plan.override_rate is None else (plan.override_rate,))
    assert plan.component("commission") == part and plan.component("bonus") is None
    assert dataclass_field_names(Plan)[-1] == "examples"


def dataclass_field_names(cls) -> list[str]:
    import dataclasses

    return [f.name for f in dataclasses.fields(cls)]


def test_v1_override_rate_is_level_one():
    mgr = load_plan_file(PLANS / "manager.yaml")[0]
    assert mgr is not None
    assert (mgr.override_rate, mgr.override_levels, mgr.override_base) == (D("0.01"), (D("0.01"),), "credit")


def test_v1_line_of_covers_every_key():
    plan = load_plan_file(PLANS / "ae.yaml")[0]
    assert plan is not None
    lines = (PLANS / "ae.yaml").read_text(encoding="utf-8").splitlines()

    def line(text: str) -> int:
        return next(i for i, ln in enumerate(lines, start=1) if text in ln)

    assert plan.line_of["rates"] == line("rates:")  # the key's own line, not its first value's
    assert plan.line_of["rates.new_logo"] == line("new_logo:")
    assert plan.line_of["accelerators.tiers[0]"] == line("- {upto: 1.0")
    assert plan.line_of["accelerators.tiers[2].multiplier"] == line("- {multiplier: 2.0}")
    assert plan.line_of["spiffs[0]"] == line("- {id: multi-year")
    assert plan.line_of["cap.per_period"] == line("per_period:")
    assert plan.line_of["id"] == plan.source.line
    assert plan.rule_source("rates.new_logo") == f"{plan.source.file}:{line('new_logo:')} @{plan.digest[:8]}"
    assert plan.rule_source("no.such.key") == f"{plan.source.file} @{plan.digest[:8]}"
    assert v1_component(plan).key("rates", "new_logo") == "rates.new_logo"
    assert v1_component(plan).key("accelerators", "tiers", 1) == "accelerators.tiers[1]"


# --------------------------------------------------------------------------- v2 keys compile


def test_components_compile_to_the_model():
    plan = load(V2)
    assert plan.v2 and [c.id for c in plan.parts()] == ["new_business", "attainment_bonus", "services"]
    assert plan.measure == "ytd"  # a quarterly component: earlier months' credits are needed
    assert plan.rates == {} and plan.attributes == ("region", "segment")
    nb, bonus, svc = plan.components
    assert nb.measure == (Condition("deal_type", ("new_logo",)), Condition("product", ("Platform*",)))
    assert (nb.type, nb.base, nb.annual_quota, nb.period, nb.months) == ("commission", "amount", D(800000), "quarter", 3)
    assert dict(nb.rates) == {"new_logo": D("0.10"), "expansion": 0, "renewal": 0} and nb.rate is None
    r1, r2 = nb.rate_rules
    assert (r1.index, r1.when, r1.rate, r1.amount_per_deal, r1.line) == (
        0, (Condition("product", ("Desk (Steel, White)",)),), D("0.15"), None, 15)
    assert (r2.index, r2.rate, r2.amount_per_deal, r2.line) == (1, None, D(20), 16)
    assert r2.when == (Condition("category", ("Office Furniture",)), Condition("region", ("EMEA", "A?AC")))
    assert (nb.mode, nb.gate, nb.per_deal) == ("hybrid", D("1.0"), D(50))
    assert [(t.index, t.lower, t.upper, t.multiplier) for t in nb.tiers] == [
        (1, D(0), D("0.5"), D("0.5")), (2, D("0.5"), D("1.0"), D("1.0")), (3, D("1.0"), None, D("2.0"))]
    assert (nb.line, nb.index, nb.key("rate_rules", 1)) == (7, 0, "components[0].rate_rules[1]")
    # a bonus takes the quota period of the first component it names
    assert (bonus.type, bonus.target, bonus.of, bonus.period, bonus.line) == (
        "bonus", D(20000), ("new_business",), "quarter", 25)
    assert bonus.curve == (CurvePoint(D("0.5"), D("0.25")), CurvePoint(D("1.0"), D("1.0")), CurvePoint(D("2.0"), D("3.0")))
    assert (svc.base, svc.rate, dict(svc.rates), svc.period, svc.annual_quota, svc.mode, svc.gate) == (
        "margin", D("0.05"), {}, "month", None, "marginal", None)
    assert len(svc.tiers) == 1 and svc.tiers[0].upper is None
    assert plan.override_levels == (D("0.03"), D("0.02")) and plan.override_rate == D("0.03")
    assert plan.override_base == "commission"
    assert plan.clawback_days == 365 and plan.clawback_prorate is None
    assert plan.clawback_schedule == (ClawbackStep(90, D(100)), ClawbackStep(180, D(50)))
    assert plan.negative == "pay"
    # the v1 keys a v2 plan keeps
    assert plan.annual_quota == D(1200000) and plan.cap == D(50000) and [s.id for s in plan.spiffs] == ["multi-year"]
    assert plan.component("services") is svc


def test_a_v2_plan_of_monthly_components_measures_per_period():
    text = edit("    quota: {annual: 800000, period: quarter}\n", "    quota: {annual: 800000}\n")
    plan = load(text)
    assert plan.measure == "period" and {c.period for c in plan.components} == {"month"}
    plan = load(edit("    of: [new_business]\n", "    of: [new_business]\n    period: half\n", text))
    assert plan.measure == "ytd" and plan.components[1].period == "half"


def test_rate_for_first_rule_then_rate_then_rates():
    from compengine.engine.records import Credit

    plan = load(V2)
    nb, _, svc = plan.components

    def credit(**kw) -> Credit:
        base = dict(rep_id="R1", deal_id="D1", deal_type="new_logo", close_date=date(2026, 10, 1), credit=D(100),
                    role="primary", split_pct=D(100), deal_amount=D(100), account="A", term_months=None,
                    product="Platform Pro", cancelled_on=None, currency="USD")
        return Credit(**{**base, **kw})

    desk = credit(product="Desk (Steel, White)")
    assert nb.rate_for(desk) == (D("0.15"), None, nb.rate_rules[0])
    chair = credit(product="Chair", attrs=(("category", "Office Furniture"), ("region", "APAC")))
    assert nb.rate_for(chair) == (None, D(20), nb.rate_rules[1])
    assert nb.rate_for(credit(product="Chair", attrs=(("category", "Office Furniture"), ("region", "US")))) == (
        D("0.10"), None, None)
    assert nb.rate_for(credit(deal_type="renewal")) == (D(0), None, None)
    assert svc.rate_for(credit(deal_type="renewal")) == (D("0.05"), None, None)


def test_override_rate_and_levels():
    base = "id: o\ncurrency: USD\nquota: {annual: 1}\nrates: {new_logo: 0.1}\n"
    plan = load(base + "override: {rate: 0.01}\n")
    assert (plan.override_rate, plan.override_levels, plan.override_base) == (D("0.01"), (D("0.01"),), "credit")
    plan = load(base + "override: {levels: [0.04, 0.02, 0.01], base: credit}\n")
    assert (plan.override_rate, plan.override_levels) == (D("0.04"), (D("0.04"), D("0.02"), D("0.01")))
    plan = load(base)
    assert (plan.override_rate, plan.override_levels) == (None, ())


def test_clawback_prorate_and_payout_carry():
    text = edit("  schedule: [{upto_days: 90, pct: 100}, {upto_days: 180, pct: 50}]\n", "  prorate: term\n")
    plan = load(edit("  negative: pay\n", "  negative: carry\n", text))
    assert (plan.clawback_prorate, plan.clawback_schedule, plan.negative) == ("term", (), "carry")
    assert load(edit("payout:\n  negative: pay\n", "", text)).negative == "carry"


def test_line_of_has_every_key_path_of_a_v2_file():
    plan = load(V2)
    lines = V2.splitlines()
    expected = {
        "components": 6, "components[0]": 7, "components[0].measure": 8, "components[0].measure.product": 10,
        "components[0].measure.product[0]": 10, "components[0].rate_rules": 14, "components[0].rate_rules[0]": 15,
        "components[0].rate_rules[1]": 16, "components[0].rate_rules[1].when.region[1]": 16,
        "components[0].accelerators.gate.annual_attainment": 19, "components[0].accelerators.tiers[2]": 23,
        "components[0].per_deal": 24, "components[1]": 25, "components[1].curve": 29, "components[1].curve[2].pct": 29,
        "components[2].base": 32, "override.levels": 35, "override.levels[1]": 35, "override.base": 36,
        "clawback.schedule[0]": 39, "clawback.schedule[1].pct": 39, "payout.negative": 41, "cap.per_period": 43,
        "spiffs[0]": 45, "attributes[1]": 3, "quota.annual": 5, "id": 1,
    }
    assert {k: plan.line_of.get(k) for k in expected} == expected
    # every key of the file has a line, and each points at a line that names it
    assert len(plan.line_of) > 90 and all(1 <= n <= len(lines) for n in plan.line_of.values())
    for key, n in plan.line_of.items():
        last = key.rsplit(".", 1)[-1].split("[")[0]
        assert last in lines[n - 1] or key.endswith("]"), (key, n)
    assert plan.rule_source("components[0].rate_rules[1]") == f"v2.yaml:16 @{plan.digest[:8]}"


def test_the_v2_example_plans_load():
    from compengine.plans import load_plans

    plans, errors = load_plans(V2_EXAMPLES)
    assert errors == [] and sorted(plans) == ["ae-v2-2027", "director-2027", "retail-2027"]
    assert all(p.v2 and p.examples for p in plans.values())  # each carries hand-worked examples (plans test runs them)
    ae, director, retail = plans["ae-v2-2027"], plans["director-2027"], plans["retail-2027"]
    assert [(c.id, c.type, c.period) for c in ae.components] == [
        ("new_business", "commission", "quarter"), ("expansion", "commission", "quarter"),
        ("attainment_bonus", "bonus", "quarter")]
    assert director.override_levels == (D("0.03"), D("0.02")) and director.override_base == "commission"
    assert [c.base for c in retail.components] == ["margin", "quantity"] and retail.measure == "period"
    assert retail.clawback_prorate == "term" and retail.negative == "pay"


# --------------------------------------------------------------------------- bad input: file:line: key: message


BAD = [
    # unknown attribute in a measure, and in a rule's when
    (edit('      product: ["Platform*"]\n', '      regoin: EMEA\n'),
     "bad.yaml:10: components[0].measure.regoin: unknown deal field 'regoin': name a deal column (deal_id, account, "
     "deal_type, currency, product, amount, quantity, cost, term_months, close_date), category, or an attribute "
     "declared in attributes (region, segment)"),
    (edit('{when: {product: "Desk (Steel, White)"}', '{when: {colour: "White"}'),
     "bad.yaml:15: components[0].rate_rules[0].when.colour: unknown deal field 'colour': name a deal column "
     "(deal_id, account, deal_type, currency, product, amount, quantity, cost, term_months, close_date), category, "
     "or an attribute declared in attributes (region, segment)"),
    (edit("attributes: [region, segment]\n", ""),
     "bad.yaml:15: components[0].rate_rules[1].when.region: unknown deal field 'region': name a deal column "
     "(deal_id, account, deal_type, currency, product, amount, quantity, cost, term_months, close_date), category, "
     "or an attribute declared in attributes (none yet)"),
    # a rule with both rate and amount_per_deal, or neither
    (edit("amount_per_deal: 20}", "amount_per_deal: 20, rate: 0.1}"),
     "bad.yaml:16: components[0].rate_rules[1]: a rule sets rate or amount_per_deal, not both"),
    (edit('{when: {product: "Desk (Steel, White)"}, rate: 0.15}', '{when: {product: "Desk"}}'),
     "bad.yaml:15: components[0].rate_rules[0]: a rule sets rate or amount_per_deal"),
    # a curve not strictly ascending in attainment
    (edit("{attainment: 2.0, pct: 3.0}", "{attainment: 1.0, pct: 3.0}"),
     "bad.yaml:29: components[1].curve[2].attainment: must be greater than 1.0 (curve points ascend in attainment)"),
    (edit("curve: [{attainment: 0.5, pct: 0.25}, {attainment: 1.0, pct: 1.0}, {attainment: 2.0, pct: 3.0}]",
          "curve:\n      - {attainment: 0.5, pct: 0.25}\n      - {attainment: 0.4, pct: 1.0}"),
     "bad.yaml:31: components[1].curve[1].attainment: must be greater than 0.5 (curve points ascend in attainment)"),
    # a bonus naming an unknown component, or a bonus
    (edit("of: [new_business]", "of: [new_busines]"),
     "bad.yaml:28: components[1].of[0]: unknown component 'new_busines': a bonus pays on this plan's commission "
     "components (new_business, services)"),
    (edit("of: [new_business]", "of: [new_business, attainment_bonus]"),
     "bad.yaml:28: components[1].of[1]: 'attainment_bonus' is a bonus: a bonus pays on commission components"),
    # rates and rate both
    (edit("    rate: 0.05\n", "    rate: 0.05\n    rates: {renewal: 0.01}\n"),
     "bad.yaml:33: components[2].rate: give rates (a rate by deal type) or rate (one rate for every credit), not both"),
    # clawback schedule not ascending, pct outside 0..100, prorate other than term, both
    (edit("{upto_days: 180, pct: 50}", "{upto_days: 90, pct: 50}"),
     "bad.yaml:39: clawback.schedule[1].upto_days: must be greater than 90 (schedule steps ascend in upto_days)"),
    (edit("{upto_days: 180, pct: 50}", "{upto_days: 180, pct: 150}"),
     "bad.yaml:39: clawback.schedule[1].pct: input should be less than or equal to 100"),
    (edit("{upto_days: 90, pct: 100}", "{upto_days: 90, pct: -1}"),
     "bad.yaml:39: clawback.schedule[0].pct: input should be greater than or equal to 0"),
    (edit("  window_days: 365\n", "  window_days: 365\n  prorate: deal\n"),
     "bad.yaml:39: clawback.prorate: input should be 'term'"),
    (edit("  window_days: 365\n", "  window_days: 365\n  prorate: term\n"),
     "bad.yaml:39: clawback.prorate: give schedule or prorate, not both"),
    (edit("  window_days: 365\n", "  window_days: 120\n"),
     "bad.yaml:39: clawback.schedule[1].upto_days: is beyond window_days 120: a cancellation after the window is "
     "not clawed back"),
    # the v1 keys a v2 plan must not have
    (edit("quota:\n", "rates: {new_logo: 0.1}\nquota:\n"),
     "bad.yaml:4: rates: move rates into a component (components[].rates): a plan with components is priced by them"),
    (edit("override:\n", "accelerators:\n  tiers: [{multiplier: 1.0}]\noverride:\n"),
     "bad.yaml:34: accelerators: move accelerators into a component (components[].accelerators): a plan with "
     "components is priced by them"),
    (edit("  annual: 1200000\n", "  annual: 1200000\n  measure: ytd\n"),
     "bad.yaml:6: quota.measure: a plan with components measures each over its own quota period: set "
     "components[].quota.period instead"),
    # components: ids, types, bands
    (edit("  - id: services\n", "  - id: new_business\n"),
     "bad.yaml:30: components[2].id: duplicate component id 'new_business'"),
    (edit("  - id: services\n", "  - id: Services\n"),
     "bad.yaml:30: components[2].id: string should match pattern '^[a-z][a-z0-9_]*$'"),
    (edit("  - id: services\n", "  - id: services\n    target: 100\n"),
     "bad.yaml:31: components[2].target: only a bonus (type: bonus) has target"),
    (edit("  - id: services\n", "  - id: services\n    period: quarter\n"),
     "bad.yaml:31: components[2].period: only a bonus (type: bonus) has period (a commission component's period is "
     "quota.period)"),
    (edit("    target: 20000\n", "    target: 20000\n    rates: {new_logo: 0.1}\n"),
     "bad.yaml:28: components[1].rates: a bonus has no rates: it pays on the attainment of the components in of"),
    (edit("    target: 20000\n", "    target: 20000\n    quota: {period: year}\n"),
     "bad.yaml:28: components[1].quota: a bonus has no quota: it pays on the attainment of the components in of: "
     "set its quota period with period"),
    (edit("    target: 20000\n", ""),
     "bad.yaml:25: components[1].target: is required on a bonus"),
    (edit("    type: bonus\n", "    type: spiff\n"),
     "bad.yaml:26: components[1].type: input should be 'commission' or 'bonus'"),
    (edit("        - {upto: 1.0, multiplier: 1.0}\n", "        - {upto: 1.2, multiplier: 1.0}\n"),
     "bad.yaml:20: components[0].accelerators.tiers: hybrid mode needs a tier that ends at 1.0 (100%): the bands up "
     "to it and above it are paid differently"),
    (edit("      tiers:\n        - {upto: 0.5, multiplier: 0.5}\n", "      tiers:\n        - {upto: 1.5, multiplier: 0.5}\n"),
     "bad.yaml:22: components[0].accelerators.tiers[1].upto: must be greater than 1.5 (tiers ascend and must not "
     "overlap)"),
    (edit("    measure: {segment: Enterprise}\n", "    measure: {segment: []}\n"),
     "bad.yaml:31: components[2].measure.segment: give at least one value"),
    (edit("    measure: {segment: Enterprise}\n", "    measure: {segment: [Enterprise, true]}\n"),
     "bad.yaml:31: components[2].measure.segment[1]: not a value to match: True (write text, quoted if need be)"),
    (edit("components:\n", "components: []\n").split("  - id: new_business")[0] + "override:\n  levels: [0.03]\n",
     "bad.yaml:6: components: list should have at least 1 item after validation, not 0"),
    # attributes, override
    (edit("attributes: [region, segment]", "attributes: [region, product]"),
     "bad.yaml:3: attributes[1]: 'product' is a deal column: measure and when name it without declaring it"),
    (edit("attributes: [region, segment]", "attributes: [region, segment, region]"),
     "bad.yaml:3: attributes[2]: duplicate attribute 'region'"),
    (edit("  levels: [0.03, 0.02]\n", "  levels: [0.03, 0.02]\n  rate: 0.01\n"),
     "bad.yaml:35: override.levels: give rate (direct reports only) or levels, not both"),
    (edit("  levels: [0.03, 0.02]\n", "  levels: [0.03, 12]\n"),
     "bad.yaml:35: override.levels[1]: input should be less than or equal to 10"),
    (edit("  levels: [0.03, 0.02]\n", ""),
     "bad.yaml:34: override.rate: is required (or levels: a rate per level of reports)"),  # the override: line
    (edit("  base: commission\n", "  base: payout\n"),
     "bad.yaml:36: override.base: input should be 'credit' or 'commission'"),
    (edit("  negative: pay\n", "  negative: forgive\n"),
     "bad.yaml:41: payout.negative: input should be 'carry' or 'pay'"),
]


@pytest.mark.parametrize("text,error", BAD, ids=[e.split(": ")[1] + "-" + str(i) for i, (_, e) in enumerate(BAD)])
def test_bad_v2_input_is_one_located_error_and_nothing_compiled(text, error):
    assert errors_of(text) == [error]


def test_a_v1_plan_still_needs_rates():
    assert errors_of("id: t\ncurrency: USD\nquota: {annual: 1}\n") == ["bad.yaml:1: rates: is required"]


def test_errors_in_several_sections_are_all_reported():
    text = edit("{upto_days: 180, pct: 50}", "{upto_days: 180, pct: 150}",
                edit("amount_per_deal: 20}", "amount_per_deal: 20, rate: 0.1}"))
    assert errors_of(text) == [
        "bad.yaml:16: components[0].rate_rules[1]: a rule sets rate or amount_per_deal, not both",
        "bad.yaml:39: clawback.schedule[1].pct: input should be less than or equal to 100",
    ]


# --------------------------------------------------------------------------- conditions


@pytest.mark.parametrize("patterns,value,hit", [
    (("new_logo",), "new_logo", True),
    (("new_logo",), "new_log", False),
    (("new_logo", "expansion"), "expansion", True),
    (("Platform*",), "Platform Pro", True),
    (("Platform*",), "Platform", True),
    (("Platform*",), "platform Pro", False),  # case-sensitive
    (("*Pro",), "Platform Pro", True),
    (("A?AC",), "APAC", True),
    (("A?AC",), "AAPAC", False),
    (("Desk (Steel, White)",), "Desk (Steel, White)", True),
    (("Desk [Steel]",), "Desk [Steel]", True),  # brackets: a value always matches itself
    (("Desk [Steel]",), "Desk S", True),  # ... and as a glob, [Steel] is one of those letters
    (("2026-1?-*",), "2026-10-05", True),
    (("2026-1?-*",), "2026-09-05", False),
    (("*",), "", True),
    (("*",), None, False),  # a deal without the value never matches
])
def test_condition_matches_values_and_globs(patterns, value, hit):
    assert Condition("f", patterns).matches(value) is hit


def test_all_match_on_deals_and_credits():
    from compengine.engine.records import Credit, Deal

    deal = Deal("D1", "Acme", "new_logo", D("1000.00"), "USD", date(2026, 10, 5), "R1", 24, "Platform Pro",
                quantity=D(3), cost=D("400.00"), attrs=(("category", "Software"), ("region", "EMEA")))
    credit = Credit("R1", "D1", "new_logo", date(2026, 10, 5), D("500.00"), "primary", D(50), D("1000.00"), "Acme", 24,
                    "Platform Pro", None, "USD", D(3), D("400.00"), deal.attrs)
    conds = (Condition("product", ("Platform*",)), Condition("region", ("EMEA", "APAC")),
             Condition("category", ("Software",)), Condition("term_months", ("24",)), Condition("amount", ("1000.00",)))
    for record in (deal, credit):
        assert all_match((), record) and all_match(conds, record)
        assert not all_match(conds + (Condition("segment", ("*",)),), record)
        assert not all_match((Condition("region", ("US",)),), record)
        # every deal column a plan may name has a value on a deal and on a credit
        assert all(record.attr(name) is not None for name in DEAL_FIELDS), [n for n in DEAL_FIELDS if record.attr(n) is None]


def test_deal_fields_are_defined_once_for_plans_and_engine():
    from compengine.engine import records

    assert records.DEAL_FIELDS is DEAL_FIELDS
    assert set(DEAL_FIELDS) <= set(records.Deal._fields)


# --------------------------------------------------------------------------- curves and clawback shares

CURVE = Component("b", "bonus", curve=(CurvePoint(D("0.5"), D("0.25")), CurvePoint(D("1.0"), D("1.0")),
                                        CurvePoint(D("2.0"), D("3.0"))))


@pytest.mark.parametrize("attainment,pct", [
    ("0", "0"), ("0.4", "0"), ("0.4999", "0"), ("0.5", "0.25"), ("0.75", "0.625"), ("1.0", "1.0"), ("1.2", "1.4"),
    ("2.0", "3.0"), ("2.5", "3.0"), ("100", "3.0"),
])
def test_curve_is_zero_below_linear_between_flat_beyond(attainment, pct):
    assert CURVE.curve_pct(D(attainment)) == D(pct)


def test_curve_of_one_point_and_of_none():
    one = Component("b", "bonus", curve=(CurvePoint(D(1), D("0.5")),))
    assert [one.curve_pct(D(a)) for a in ("0.99", "1", "7")] == [0, D("0.5"), D("0.5")]
    assert Component("b", "bonus").curve_pct(D(1)) == 0


attainments = st.decimals(min_value=0, max_value=20, places=3, allow_nan=False, allow_infinity=False)


@st.composite
def curves(draw):
    xs = sorted(set(draw(st.lists(attainments, min_size=1, max_size=6))))
    steps = draw(st.lists(st.decimals(min_value=0, max_value=5, places=2), min_size=len(xs), max_size=len(xs)))
    pcts, total = [], D(0)
    for s in steps:  # non-decreasing
        total += s
        pcts.append(total)
    return tuple(CurvePoint(a, p) for a, p in zip(xs, pcts))


@given(curves(), attainments, attainments)
def test_an_ascending_non_decreasing_curve_is_monotone(points, a, b):
    c = Component("b", "bonus", curve=points)
    lo, hi = min(a, b), max(a, b)
    assert 0 <= c.curve_pct(lo) <= c.curve_pct(hi) <= points[-1].pct
    for p in points:  # passes through its points
        assert c.curve_pct(p.attainment) == p.pct


def test_clawback_share_by_schedule():
    plan = load(V2)
    closed = date(2026, 3, 1)
    share = [plan.clawback_share(closed, date(2026, 3, 1) if d == 0 else _days(closed, d), None)
             for d in (0, 75, 90, 91, 150, 180, 181, 214, 365)]
    assert share == [1, 1, 1, D("0.5"), D("0.5"), D("0.5"), 0, 0, 0]
    # the README's numbers: 1,000.00 paid, cancelled after 75, 150 and 214 days
    assert [1000 * plan.clawback_share(closed, d, 12) for d in (date(2026, 5, 15), date(2026, 7, 29), date(2026, 10, 1))] \
        == [1000, 500, 0]


def _days(d: date, n: int) -> date:
    from datetime import timedelta

    return d + timedelta(days=n)


def test_clawback_share_prorated_over_the_term():
    text = edit("  schedule: [{upto_days: 90, pct: 100}, {upto_days: 180, pct: 50}]\n", "  prorate: term\n")
    plan = load(text)
    closed = date(2026, 1, 15)  # a 12-month term ends 2027-01-15: 365 days
    assert plan.clawback_share(closed, date(2026, 4, 15), 12) == D(275) / D(365)
    assert (D(1200) * plan.clawback_share(closed, date(2026, 4, 15), 12)).quantize(D("0.01")) == D("904.11")
    assert plan.clawback_share(closed, closed, 12) == 1
    assert plan.clawback_share(closed, date(2027, 1, 15), 12) == 0
    assert plan.clawback_share(closed, date(2027, 3, 1), 12) == 0  # after the term: nothing left to reverse
    assert plan.clawback_share(closed, date(2026, 1, 10), 12) == 1  # never more than all of it
    assert plan.clawback_share(closed, date(2026, 4, 15), None) == 1  # no term: in full
    assert plan.clawback_share(date(2026, 1, 31), date(2026, 2, 14), 1) == D(14) / D(28)  # Jan 31 + 1 month = Feb 28


def test_clawback_share_without_schedule_is_everything():
    plan = load_plan_file(PLANS / "ae.yaml")[0]
    assert plan is not None and plan.clawback_share(date(2026, 1, 1), date(2026, 3, 1), 12) == 1


# --------------------------------------------------------------------------- the command line


def test_plans_validate_describes_components(tmp_path):
    (tmp_path / "v2.yaml").write_text(V2)
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [
        f"ok  v2                       {tmp_path / 'v2.yaml'}",
        "    new_business: amount of deal_type=new_logo product=Platform*; per quarter, quota 800,000; rates by deal "
        "type, 2 rules, 50 per deal; hybrid, 3 bands, gate at 100% of the year",
        "    attainment_bonus: bonus, target 20,000 a year on new_business; per quarter; curve of 3 points",
        "    services: margin of segment=Enterprise; per month, rep's quota; rate 0.05; marginal, 1 band",
        "1 plan(s) valid",
    ]


def test_plans_validate_output_for_v1_plans_is_unchanged(tmp_path):
    (tmp_path / "v1.yaml").write_text("id: v1\ncurrency: USD\nquota: {annual: 1}\nrates: {new_logo: 0.1}\n")
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.output.splitlines() == [f"ok  v1                       {tmp_path / 'v1.yaml'}", "1 plan(s) valid"]


def test_plans_validate_prints_v2_errors_and_warns_about_component_rates(tmp_path):
    (tmp_path / "bad.yaml").write_text(edit("of: [new_business]", "of: [nope]"))
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 1
    assert f"{tmp_path / 'bad.yaml'}:28: components[1].of[0]: unknown component 'nope'" in res.stderr
    (tmp_path / "bad.yaml").write_text(edit("    rate: 0.05\n", "    rate: 5\n", edit("[0.03, 0.02]", "[0.03, 2]")))
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert res.stderr.splitlines() == [
        f"warning: {tmp_path / 'bad.yaml'}:33: components[2].rate: 5 is above 1.0 (100%): a rate is a fraction, 10% is 0.10",
        f"warning: {tmp_path / 'bad.yaml'}:35: override.levels[1]: 2 is above 1.0 (100%): a rate is a fraction, 10% is 0.10",
    ]


def test_plans_show_a_v2_plan(tmp_path):
    (tmp_path / "v2.yaml").write_text(V2)
    res = CliRunner().invoke(main, ["plans", "show", str(tmp_path / "v2.yaml")])
    assert res.exit_code == 0, res.output
    out = res.output
    assert "  quota: 1,200,000 a year unless a component sets its own" in out
    assert "    rule 2: category=Office Furniture region=EMEA|A?AC: 20 per deal" in out
    assert "    curve: 50% -> 25%, 100% -> 100%, 200% -> 300%" in out
    assert "    up to 90 days after close: 100% reversed" in out
    assert "  override: level 1 0.03, level 2 0.02 on reports' commission" in out
    assert "  payout: a negative month is paid (not carried forward)" in out


def test_a_refused_component_does_not_also_make_its_examples_unknown(tmp_path):
    """A plan whose components are refused gets their error only, not a second one for each example that
    names a component (there are no components to check the name against)."""
    from compengine.plans import load_plans

    text = (V2_EXAMPLES / "retail-per-deal.yaml").read_text(encoding="utf-8")
    (tmp_path / "retail.yaml").write_text(text.replace("amount_per_deal: 20}", "amount_per_deal: 20, rate: 0.1}"),
                                          encoding="utf-8")
    _plans, errors = load_plans(tmp_path)
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'retail.yaml'}:17: components[0].rate_rules[1]: a rule sets rate or amount_per_deal, not both"]
