"""Plans that prove themselves (issue 14): a plan file's ``examples:``, ``compengine plans test``,
``plans validate`` running them, and the examples shipped in every plan of ``plans/``."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main
from compengine.engine.examples import run_plan_examples
from compengine.engine.records import COMPONENTS
from compengine.plans import Plan, load_plan_file
from compengine.plans.model import ExampleCredit, PlanExample
from compengine.plans.schema import EXAMPLE_COMPONENTS

ROOT = Path(__file__).resolve().parent.parent
PLANS = ROOT / "plans"
VERSIONS = ROOT / "examples" / "plan-versions" / "plans"

# 100,000 a month; 10% on new logos, x1.5 above quota; a 500.00 SPIFF on deals of 100,000 or more
HEAD = """\
id: t
currency: USD
quota: {annual: 1200000}
rates: {new_logo: 0.10, expansion: 0.05}
accelerators:
  tiers:
    - {upto: 1.0, multiplier: 1.0}
    - {multiplier: 1.5}
spiffs:
  - {id: big, amount: 500, when: {min_amount: 100000}}
examples:
"""
HEAD_LINES = HEAD.count("\n")  # the first example starts on line HEAD_LINES + 1 = 12

# the issue's example: 100,000 x 10% = 10,000.00 + 10,000 x 10% x 1.5 = 1,500.00 = 11,500.00
CROSS = """\
  - name: two deals cross the band
    month: 2026-10
    quota: 100000
    credits:
      - {deal_type: new_logo, amount: 60000}
      - {deal_type: new_logo, amount: 50000}
    expect: {commission: "11500.00", payout: "11500.00"}
"""


def write(tmp_path: Path, *examples: str, head: str = HEAD, name: str = "t.yaml") -> Path:
    path = tmp_path / name
    path.write_text(head + "".join(examples), encoding="utf-8")
    return path


def invoke(*args: str):
    return CliRunner().invoke(main, list(args))


def line_of(path: Path, text: str) -> int:
    """The line (from 1) of the first line of ``path`` containing ``text``."""
    return next(i for i, ln in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in ln)


# --------------------------------------------------------------------------- the shipped plans


def test_every_plan_in_plans_passes_plans_test():
    res = invoke("plans", "test", str(PLANS))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"ok  {PLANS / 'ae.yaml'}: 4 example(s)",
        f"ok  {PLANS / 'am.yaml'}: 3 example(s)",
        f"ok  {PLANS / 'manager.yaml'}: 2 example(s)",
        f"ok  {PLANS / 'se.yaml'}: 3 example(s)",
        "12 example(s) in 4 plan file(s) pass",
    ]
    assert res.stderr == ""


@pytest.mark.parametrize("name", ["ae.yaml", "am.yaml", "manager.yaml", "se.yaml"])
def test_every_shipped_plan_carries_examples_that_check_something(name):
    plan, errors = load_plan_file(PLANS / name)
    assert errors == [] and plan is not None
    assert len(plan.examples) >= 2
    outcomes = run_plan_examples([plan])
    assert [o.ok for o in outcomes] == [True] * len(plan.examples)
    # each checks at least one non-zero amount (an example expecting only zeros proves little)
    assert all(any(v != 0 for v in o.expected.values()) for o in outcomes)


def test_the_plan_version_examples_pass():
    res = invoke("plans", "test", str(VERSIONS))
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[-1] == "2 example(s) in 2 plan file(s) pass"


def test_the_shipped_examples_cover_each_plans_features():
    """ae: bands, cap + SPIFF, ramp + draw; am: the ytd true-up; manager: override; se: the guarantee."""
    named = {p: {k for o in run_plan_examples([load_plan_file(PLANS / p)[0]]) for k in o.expected}
             for p in ("ae.yaml", "am.yaml", "manager.yaml", "se.yaml")}
    assert {"commission", "cap", "spiff", "draw_recovery"} <= named["ae.yaml"]
    assert "true_up" in named["am.yaml"]
    assert "override" in named["manager.yaml"]
    assert "draw" in named["se.yaml"]


# --------------------------------------------------------------------------- passing and failing


def test_the_issues_example_passes_with_its_hand_checked_numbers(tmp_path):
    plan, errors = load_plan_file(write(tmp_path, CROSS))
    assert errors == []
    (outcome,) = run_plan_examples([plan])
    assert outcome.ok and outcome.line == HEAD_LINES + 1
    assert {k: str(v) for k, v in outcome.actual.items()} == {"commission": "11500.00", "payout": "11500.00"}


def test_a_wrong_expectation_is_reported_with_file_line_expected_and_actual(tmp_path):
    path = write(tmp_path, CROSS.replace('commission: "11500.00"', 'commission: "11000.00"'))
    res = invoke("plans", "test", str(path))
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f'{path}:12: example "two deals cross the band": commission expected 11,000.00, got 11,500.00',
        "Error: 1 of 1 example(s) failed",
    ]
    assert "Traceback" not in res.output


def test_a_broken_shipped_plan_fails_at_its_examples_line(tmp_path):
    """Changing ae.yaml's band 2 multiplier (x1.5 -> x1.4) fails the examples that reach band 2, at their lines."""
    text = (PLANS / "ae.yaml").read_text(encoding="utf-8").replace("{upto: 1.5, multiplier: 1.5}",
                                                                  "{upto: 1.5, multiplier: 1.4}")
    path = tmp_path / "ae.yaml"
    path.write_text(text, encoding="utf-8")
    res = invoke("plans", "test", str(path))
    assert res.exit_code == 1
    cross, cap = line_of(path, "- name: two deals cross the band"), line_of(path, "- name: a multi-year deal")
    ramp = line_of(path, "- name: a new hire on the ramp")
    # band 2 at x1.4: 10,000 x 10% x 1.4 = 1,400.00, so 11,400.00; the capped one still pays the cap;
    # the ramp: 5,000 + 1,400 = 6,400.00, recovery 6,400 - 3,000 = 3,400.00
    assert res.stderr.splitlines() == [
        f'{path}:{cross}: example "two deals cross the band": commission expected 11,500.00, got 11,400.00; '
        f"payout expected 11,500.00, got 11,400.00",
        f'{path}:{cap}: example "a multi-year deal hits the cap and earns the SPIFF": commission expected '
        f"67,500.00, got 67,000.00; cap expected -17,500.00, got -17,000.00",
        f'{path}:{ramp}: example "a new hire on the ramp repays the draw": commission expected 6,500.00, '
        f"got 6,400.00; draw_recovery expected -3,500.00, got -3,400.00",
        "Error: 3 of 4 example(s) failed",
    ]


def test_plans_validate_runs_the_examples(tmp_path):
    path = write(tmp_path, CROSS.replace('payout: "11500.00"', 'payout: "11499.99"'))
    res = invoke("plans", "validate", str(path))
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [
        f'{path}:12: example "two deals cross the band": payout expected 11,499.99, got 11,500.00',
        "Error: 1 error(s) in plan files",
    ]
    out = json.loads(invoke("plans", "validate", "--json", str(path)).stdout)
    assert out["ok"] is False and out["errors"] == res.stderr.splitlines()[:1]
    assert invoke("plans", "validate", str(write(tmp_path, CROSS, name="good.yaml"))).exit_code == 0


def test_plans_test_json(tmp_path):
    path = write(tmp_path, CROSS, CROSS.replace("two deals cross the band", "wrong").replace('"11500.00", payout', '"1.00", payout'))
    res = invoke("plans", "test", "--json", str(path))
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    assert out["ok"] is False and out["errors"] == []
    assert out["files"] == [{"file": str(path), "plan": "t", "examples": 2, "failed": 1}]
    first, second = out["examples"]
    assert first == {"file": str(path), "line": 12, "plan": "t", "name": "two deals cross the band", "month": "2026-10",
                     "ok": True, "expected": {"commission": "11500.00", "payout": "11500.00"},
                     "actual": {"commission": "11500.00", "payout": "11500.00"}, "problems": []}
    assert second["ok"] is False and second["line"] == 19
    assert second["expected"]["commission"] == "1.00" and second["actual"]["commission"] == "11500.00"
    assert second["error"] == f'{path}:19: example "wrong": commission expected 1.00, got 11,500.00'
    ok = json.loads(invoke("plans", "test", "--json", str(PLANS)).stdout)
    assert ok["ok"] is True and len(ok["examples"]) == 12


def test_a_plan_without_examples_is_listed_and_passes(tmp_path):
    path = write(tmp_path, head=HEAD.replace("examples:\n", ""))
    res = invoke("plans", "test", str(path))
    assert res.exit_code == 0 and res.stdout.splitlines() == [f"--  {path}: no examples",
                                                            "0 example(s) in 1 plan file(s) pass"]


def test_an_invalid_plan_file_fails_plans_test(tmp_path):
    path = write(tmp_path, CROSS, head=HEAD.replace("USD", "usd"))
    res = invoke("plans", "test", str(path))
    assert res.exit_code == 1
    assert res.stderr.splitlines()[0].startswith(f"{path}:2: currency: ")


# --------------------------------------------------------------------------- what an example can say


def run(tmp_path: Path, example: str, head: str = HEAD) -> dict[str, str]:
    """The actual amounts of one example (which must be valid); its expectations need not hold."""
    plan, errors = load_plan_file(write(tmp_path, example, head=head))
    assert errors == [], errors
    (outcome,) = run_plan_examples([plan])
    assert outcome.problems == []
    return {k: str(v) for k, v in outcome.actual.items()}


def test_split_overlay_spiff_and_default_quota(tmp_path):
    # a 60% primary split of 200,000: credit 120,000 = 120% of the plan's 100,000 quota:
    # 100,000 x 10% = 10,000.00 + 20,000 x 10% x 1.5 = 3,000.00 = 13,000.00; SPIFF 500 x 60% = 300.00
    split = """\
  - name: split
    month: 2026-10
    credits: [{deal_type: new_logo, amount: 200000, split_pct: 60}]
    expect: {commission: "0", spiff: "0", payout: "0"}
"""
    assert run(tmp_path, split) == {"commission": "13000.00", "spiff": "300.00", "payout": "13300.00"}
    # an overlay 25% of 40,000 = 10,000.00 credit at 5% (expansion) = 500.00; no SPIFF (40,000 < 100,000)
    overlay = """\
  - name: overlay
    month: 2026-10
    credits: [{deal_type: expansion, amount: 40000, split_pct: 25, role: overlay}]
    expect: {commission: "0", spiff: "0"}
"""
    assert run(tmp_path, overlay) == {"commission": "500.00", "spiff": "0.00"}


def test_quota_is_the_months_quota(tmp_path):
    # quota 50,000 a month: 60,000 = 120%: 5,000.00 + 10,000 x 15% = 1,500.00 = 6,500.00
    # (at the plan's 100,000 it would be 6,000.00)
    ex = """\
  - name: q
    month: 2026-03
    quota: 50000
    credits: [{deal_type: new_logo, amount: 60000}]
    expect: {commission: "0"}
"""
    assert run(tmp_path, ex) == {"commission": "6500.00"}


def test_tenure_month_applies_the_ramp(tmp_path):
    # tenure month 2 is in the ramp step at 50%: quota 50,000; 60,000 = 120% -> 6,500.00 as above;
    # without tenure_month the ramp does not apply -> 6,000.00
    head = HEAD.replace("spiffs:", "ramp:\n  - {months: [1, 3], quota_pct: 50}\nspiffs:")
    ex = """\
  - name: r
    month: 2026-03
    tenure_month: 2
    credits: [{deal_type: new_logo, amount: 60000}]
    expect: {commission: "0"}
"""
    assert run(tmp_path, ex, head) == {"commission": "6500.00"}
    assert run(tmp_path, ex.replace("    tenure_month: 2\n", ""), head) == {"commission": "6000.00"}


def test_reports_pay_the_override(tmp_path):
    head = HEAD.replace("spiffs:", "override: {rate: 0.02}\nspiffs:")
    # 2% of the report's 30,000 credit = 600.00; the report's deal is no credit of the manager
    ex = """\
  - name: o
    month: 2026-10
    reports: [{deal_type: new_logo, amount: 30000}]
    expect: {override: "0", commission: "0"}
"""
    assert run(tmp_path, ex, head) == {"override": "600.00", "commission": "0.00"}


def test_earlier_credits_of_the_year_are_paid_in_their_month(tmp_path):
    # a period plan: March's 150,000 deal is March's, not October's; October pays 20,000 x 10% = 2,000.00
    ex = """\
  - name: e
    month: 2026-10
    credits:
      - {deal_type: new_logo, amount: 150000, close_date: 2026-03-31}
      - {deal_type: new_logo, amount: 20000}
    expect: {commission: "0", spiff: "0"}
"""
    assert run(tmp_path, ex) == {"commission": "2000.00", "spiff": "0.00"}


def test_examples_are_stored_on_the_plan_as_frozen_records_last():
    plan, _ = load_plan_file(PLANS / "ae.yaml")
    assert "examples" in {f.name for f in dataclasses.fields(Plan)}
    first = plan.examples[0]
    assert isinstance(first, PlanExample) and isinstance(first.credits[0], ExampleCredit)
    assert first.line == line_of(PLANS / "ae.yaml", "- name: two deals cross the band")
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.name = "x"  # type: ignore[misc]


def test_expect_names_the_engines_components_and_the_payout():
    assert EXAMPLE_COMPONENTS == (*COMPONENTS, "payout")


# --------------------------------------------------------------------------- bad input


BAD = [
    ("unknown component", CROSS.replace("payout:", "comission:"), 18, "examples[0].expect.comission",
     "unknown component 'comission': expect names any of commission, true_up, spiff, bonus, cap, clawback, override, "
     "adjustment, balance_recovery, draw, draw_recovery, carry_forward, payout"),
    ("month 13", CROSS.replace("2026-10", "2026-13"), 13, "examples[0].month",
     "not a month '2026-13': expected YYYY-MM, e.g. 2026-10"),
    ("a day, not a month", CROSS.replace("2026-10", "2026-10-01"), 13, "examples[0].month",
     "not a month '2026-10-01': expected YYYY-MM, e.g. 2026-10"),
    ("unknown deal type", CROSS.replace("amount: 60000", "amount: 60000").replace("new_logo, amount: 50000",
                                                                                   "upsell, amount: 50000"),
     17, "examples[0].credits[1].deal_type", "input should be 'new_logo', 'expansion' or 'renewal'"),
    ("exponent amount", CROSS.replace("amount: 60000", "amount: 6e4"), 16, "examples[0].credits[0].amount",
     "not a plain number '6e4': write it in digits, without an exponent (e.g. 60000.00)"),
    ("grouped expect", CROSS.replace('"11500.00", payout', '"11,500.00", payout'), 18,
     "examples[0].expect.commission", "not a plain number '11,500.00': write it without separators (e.g. 60000.00)"),
    ("fractions of a cent", CROSS.replace('"11500.00", payout', '"11500.001", payout'), 18,
     "examples[0].expect.commission", "11500.001 has fractions of a cent"),
    ("no expect", CROSS.replace('    expect: {commission: "11500.00", payout: "11500.00"}\n', ""), 12,
     "examples[0].expect", "is required"),
    ("no name", CROSS.replace("  - name: two deals cross the band\n    month", "  - month"), 12,
     "examples[0].name", "is required"),
    ("close date after the month", CROSS.replace("amount: 50000}", "amount: 50000, close_date: 2026-11-01}"), 17,
     "examples[0].credits[1].close_date",
     "2026-11-01 is outside 2026-01-01..2026-10-31: an example's credits close in its month or earlier in its plan year"),
    ("unknown key", CROSS.replace("    quota: 100000\n", "    quotas: 100000\n"), 14, "examples[0].quotas",
     "unknown key 'quotas'"),
    ("reports without override", CROSS.replace("    credits:", "    reports: [{deal_type: new_logo, amount: 1}]\n    credits:"),
     15, "examples[0].reports", "this plan has no override: a report's credits pay nothing on it"),
    ("duplicate name", CROSS + CROSS, 19, "examples[1].name", "duplicate example name 'two deals cross the band'"),
]


@pytest.mark.parametrize("what, example, line, field, message", BAD, ids=[b[0] for b in BAD])
def test_bad_examples_are_one_line_errors_at_file_line_field(tmp_path, what, example, line, field, message):
    path = write(tmp_path, example)
    res = invoke("plans", "test", str(path))
    assert res.exit_code == 1
    assert res.stderr.splitlines() == [f"{path}:{line}: {field}: {message}", "Error: 1 error(s) in plan files"]
    assert "Traceback" not in res.output


def test_a_versions_example_must_be_in_a_month_the_version_prices(tmp_path):
    head = HEAD.replace("currency: USD\n", "currency: USD\neffective_from: 2026-11-01\n")
    path = write(tmp_path, CROSS, head=head)
    res = invoke("plans", "validate", str(path))
    assert res.exit_code == 1
    assert res.stderr.splitlines()[0] == (
        f"{path}:14: examples[0].month: 2026-10 is not priced by this version (in force 2026-11-01.. on the "
        f"month's last day): an example's month must be")


def test_plans_show_counts_the_examples():
    res = invoke("plans", "show", str(PLANS / "ae.yaml"))
    assert res.exit_code == 0
    assert res.stdout.splitlines()[-1] == f"  examples: 4 (run them: compengine plans test {PLANS / 'ae.yaml'})"
