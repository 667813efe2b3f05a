"""Plan versions (issue 13, item 4): effective_from/effective_to, the catalog, calc by month, plans validate."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine import api
from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.engine.report import iter_result_json, result_dict
from compengine.plans import load_plan_catalog, load_plan_text, load_plans

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "plan-versions"

BODY = """currency: USD
quota:
  annual: 1200000
rates:
  new_logo: {rate}
"""


def version(pid: str = "ae", rate: str = "0.10", start: str | None = None, end: str | None = None,
            currency: str = "USD") -> str:
    """A plan file: line 1 its id, then effective_from (line 2) and effective_to (next line) when given."""
    out = f"id: {pid}\n"
    if start:
        out += f"effective_from: {start}\n"
    if end:
        out += f"effective_to: {end}\n"
    return out + BODY.format(rate=rate).replace("USD", currency)


def folder(tmp_path: Path, **files: str) -> Path:
    for name, text in files.items():
        (tmp_path / f"{name}.yaml").write_text(text, encoding="utf-8")
    return tmp_path


# --------------------------------------------------------------------------- the keys


def test_dates_are_read_inclusive_and_default_to_none():
    plan, errors = load_plan_text(version(start="2026-01-01", end="2026-06-30"), "h1.yaml")
    assert errors == [] and plan is not None
    assert (plan.effective_from, plan.effective_to) == (date(2026, 1, 1), date(2026, 6, 30))
    plan, errors = load_plan_text(version(), "any.yaml")
    assert errors == [] and plan is not None and (plan.effective_from, plan.effective_to) == (None, None)
    plan, errors = load_plan_text(version(start="'2026-07-01'"), "quoted.yaml")  # quoted text is a date too
    assert errors == [] and plan is not None and plan.effective_from == date(2026, 7, 1)


def test_a_version_of_one_day_is_allowed():
    plan, errors = load_plan_text(version(start="2026-03-31", end="2026-03-31"), "day.yaml")
    assert errors == [] and plan is not None


def test_an_inverted_range_is_one_located_error():
    plan, errors = load_plan_text(version(start="2026-07-01", end="2026-06-30"), "bad.yaml")
    assert plan is None
    assert [str(e) for e in errors] == [
        "bad.yaml:3: effective_to: 2026-06-30 is before effective_from 2026-07-01: "
        "a version must end on or after the day it starts"]


@pytest.mark.parametrize("value, message", [
    ("2026-13-01", "not a date '2026-13-01': expected YYYY-MM-DD"),
    ("20260101", "not a date: expected YYYY-MM-DD"),
    ("01/07/2026", "not a date '01/07/2026': expected YYYY-MM-DD"),
    ("1900-01-01", "1900-01-01 is outside the supported dates 1970-01-01 to 2100-12-31"),
])
def test_a_bad_date_is_one_located_error(value, message):
    plan, errors = load_plan_text(version(start=value), "bad.yaml")
    assert plan is None
    assert [str(e) for e in errors] == [f"bad.yaml:2: effective_from: {message}"]


# --------------------------------------------------------------------------- the catalog: validation


def test_versions_of_one_id_with_a_gap_load(tmp_path):
    folder(tmp_path, q1=version(start="2026-01-01", end="2026-03-31"), h2=version(rate="0.12", start="2026-07-01"),
           other=version(pid="se"))
    catalog, errors = load_plan_catalog(tmp_path)
    assert errors == []
    assert [(str(p.effective_from), p.rates["new_logo"]) for p in catalog.versions("ae")] == [
        ("2026-01-01", Decimal("0.10")), ("2026-07-01", Decimal("0.12"))]
    assert catalog.versions("nope") == ()
    assert catalog.describe("ae") == (f"ae: 2 versions: 2026-01-01..2026-03-31 ({tmp_path / 'q1.yaml'}), "
                                      f"2026-07-01.. ({tmp_path / 'h2.yaml'})")


def test_overlapping_versions_are_one_error_naming_both_files(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01", end="2026-06-30"),
           b=version(rate="0.12", start="2026-06-30"))  # one day in common
    catalog, errors = load_plan_catalog(tmp_path)
    a, b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    assert [str(e) for e in errors] == [
        f"{b}:2: effective_from: plan 'ae' in force 2026-06-30.. overlaps its version in force "
        f"2026-01-01..2026-06-30 ({a}:2): versions of one plan must not overlap"]
    assert [p.source.file for p in catalog.versions("ae")] == [str(a)]  # the earlier file is kept


def test_one_error_per_clash(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01", end="2026-03-31"), b=version(start="2026-04-01"),
           c=version(start="2026-02-01", end="2026-05-31"))
    _, errors = load_plan_catalog(tmp_path)
    c = tmp_path / "c.yaml"
    assert [str(e) for e in errors] == [
        f"{c}:2: effective_from: plan 'ae' in force 2026-02-01..2026-05-31 overlaps its version in force "
        f"2026-01-01..2026-03-31 ({tmp_path / 'a.yaml'}:2): versions of one plan must not overlap",
        f"{c}:2: effective_from: plan 'ae' in force 2026-02-01..2026-05-31 overlaps its version in force "
        f"2026-04-01.. ({tmp_path / 'b.yaml'}:2): versions of one plan must not overlap",
    ]


def test_an_undated_file_overlaps_every_version(tmp_path):
    folder(tmp_path, a=version(start="2026-07-01"), b="# the old plan\n" + version())
    _, errors = load_plan_catalog(tmp_path)
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yaml'}:2: id: plan 'ae' in force always overlaps its version in force 2026-07-01.. "
        f"({tmp_path / 'a.yaml'}:2): versions of one plan must not overlap "
        "(a file without effective_from and effective_to is in force always)"]


def test_an_end_only_version_is_located_at_effective_to(tmp_path):
    folder(tmp_path, a=version(end="2026-06-30"), b=version(end="2026-12-31"))
    _, errors = load_plan_catalog(tmp_path)
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yaml'}:2: effective_to: plan 'ae' in force ..2026-12-31 overlaps its version in force "
        f"..2026-06-30 ({tmp_path / 'a.yaml'}:2): versions of one plan must not overlap"]


def test_the_same_id_twice_without_dates_keeps_its_message(tmp_path):
    folder(tmp_path, a=version(), b="# again\n" + version())
    plans, errors = load_plans(tmp_path)
    assert [str(e) for e in errors] == [f"{tmp_path / 'b.yaml'}:2: id: plan id 'ae' is already used by {tmp_path / 'a.yaml'}:1"]
    assert list(plans) == ["ae"]


def test_versions_keep_the_plans_currency(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01", end="2026-06-30"), b=version(start="2026-07-01", currency="EUR"))
    catalog, errors = load_plan_catalog(tmp_path)
    assert [str(e) for e in errors] == [
        f"{tmp_path / 'b.yaml'}:3: currency: EUR but plan 'ae' pays in USD in its version 2026-01-01..2026-06-30 "
        f"({tmp_path / 'a.yaml'}:1): versions of one plan keep its currency (a new currency is a new plan id)"]
    assert len(catalog.versions("ae")) == 1


def test_load_plans_gives_each_ids_latest_version(tmp_path):
    # file names sort the other way round from the dates: latest is by effective_from
    folder(tmp_path, a_h2=version(rate="0.12", start="2026-07-01"), b_h1=version(start="2026-01-01", end="2026-06-30"),
           se=version(pid="se"))
    plans, errors = load_plans(tmp_path)
    assert errors == []
    assert list(plans) == ["ae", "se"]
    assert plans["ae"].rates["new_logo"] == Decimal("0.12")


def test_load_plans_of_the_example_plans_is_unchanged():
    plans, errors = load_plans(ROOT / "plans")
    catalog, _ = load_plan_catalog(ROOT / "plans")
    assert errors == [] and plans == catalog.latest() == catalog.for_month("2026-10")
    assert all(len(catalog.versions(pid)) == 1 for pid in plans)


# --------------------------------------------------------------------------- the catalog: which version


@pytest.fixture
def halves(tmp_path):
    folder(tmp_path, h1=version(start="2026-01-01", end="2026-06-30"), h2=version(rate="0.12", start="2026-07-01"),
           q3=version(pid="spring", start="2026-03-15", end="2026-06-15"))
    catalog, errors = load_plan_catalog(tmp_path)
    assert errors == []
    return catalog


def rate_in_force(catalog, pid, day):
    plan = catalog.in_force(pid, day)
    return None if plan is None else str(plan.rates["new_logo"])


def test_in_force_on_the_boundaries(halves):
    assert rate_in_force(halves, "ae", date(2025, 12, 31)) is None  # before the first version
    assert rate_in_force(halves, "ae", date(2026, 1, 1)) == "0.10"  # first day
    assert rate_in_force(halves, "ae", date(2026, 6, 30)) == "0.10"  # last day
    assert rate_in_force(halves, "ae", date(2026, 7, 1)) == "0.12"  # the day after
    assert rate_in_force(halves, "ae", date(2100, 12, 31)) == "0.12"  # open-ended
    assert rate_in_force(halves, "spring", date(2026, 6, 16)) is None
    assert halves.in_force("nope", date(2026, 1, 1)) is None


def test_for_month_takes_the_version_in_force_on_the_last_day(halves):
    assert {pid: str(p.rates["new_logo"]) for pid, p in halves.for_month(Period(2026, 6)).items()} == {"ae": "0.10"}
    # "spring" ends on 2026-06-15: in force for half of June, but not on its last day
    assert "spring" in halves.for_month("2026-05") and "spring" not in halves.for_month("2026-06")
    # starts on 2026-03-15: March is priced by it (in force on the 31st), February is not
    assert "spring" in halves.for_month("2026-03") and "spring" not in halves.for_month("2026-02")
    assert str(halves.for_month("2026-07")["ae"].rates["new_logo"]) == "0.12"
    assert halves.for_month("2025-12") == {}


def test_latest(halves):
    latest = halves.latest()
    assert list(latest) == ["ae", "spring"]
    assert latest["ae"].effective_from == date(2026, 7, 1) and latest["spring"].effective_from == date(2026, 3, 15)


# --------------------------------------------------------------------------- calc


def run_calc(period: str, *extra: str, plans: Path = EXAMPLE / "plans", data: Path = EXAMPLE / "data"):
    return CliRunner().invoke(main, ["calc", "--plans", str(plans), "--data", str(data), "--period", period, *extra])


def test_calc_prices_june_at_h1_and_july_at_h2_golden():
    """plans/README.md, "Plan versions": 50,000.00 of new logo closed in June pays 5,000.00 (10%),
    closed in July 6,000.00 (12%)."""
    for period, deal, rate, amount, file, start, end in [
        ("2026-06", "J1", "0.10", "5000.00", "ae-h1.yaml", "2026-01-01", "2026-06-30"),
        ("2026-07", "J2", "0.12", "6000.00", "ae-h2.yaml", "2026-07-01", None),
    ]:
        res = run_calc(period, "--json")
        assert res.exit_code == 0, res.output
        (rep,) = json.loads(res.stdout)["reps"]
        assert [(ln["deal_id"], ln["rate"], ln["amount"]) for ln in rep["lines"]] == [(deal, rate, amount)]
        assert rep["payout"] == amount
        digest = hashlib.sha256((EXAMPLE / "plans" / file).read_bytes()).hexdigest()
        assert rep["plan_version"] == {"file": str(EXAMPLE / "plans" / file), "effective_from": start,
                                       "effective_to": end, "digest": digest}


def test_calc_text_names_the_dated_version():
    res = run_calc("2026-06")
    assert res.exit_code == 0, res.output
    assert f"R1  plan ae-2026 (2026-01-01..2026-06-30, {EXAMPLE / 'plans' / 'ae-h1.yaml'})  quota 100,000.00" in res.stdout
    assert "= payout USD 5,000.00" in res.stdout


def test_calc_through_the_year_uses_each_months_version():
    catalog, data = api.read_catalog_and_folder(EXAMPLE / "plans", EXAMPLE / "data")
    from compengine.engine.driver import calculate_through

    results = calculate_through(data, catalog, Period(2026, 7), first_wanted=Period(2026, 6))
    assert [(r.period, str(r.total_payout)) for r in results] == [("2026-06", "5000.00"), ("2026-07", "6000.00")]
    # a plain mapping of plans still prices every month with that one plan
    latest = calculate_through(data, catalog.latest(), Period(2026, 7), first_wanted=Period(2026, 6))
    assert [str(r.total_payout) for r in latest] == ["6000.00", "6000.00"]
    assert str(api.calculate(catalog, data, "2026-06").total_payout) == "5000.00"


def test_a_ytd_version_re_rates_the_years_credit_as_documented(tmp_path):
    """plans/README.md, "Plan versions": the example as a ytd plan pays July a true-up of
    1,000.00 (June's 50,000.00 at 12% instead of 10%)."""
    plans = folder(tmp_path, **{name: (EXAMPLE / "plans" / f"ae-{name}.yaml").read_text(encoding="utf-8")
                                .replace("annual: 1200000", "annual: 1200000\n  measure: ytd") for name in ("h1", "h2")})
    res = run_calc("2026-07", "--json", plans=plans)
    assert res.exit_code == 0, res.output
    (rep,) = json.loads(res.stdout)["reps"]
    assert [(ln["kind"], ln["amount"]) for ln in rep["lines"]] == [("commission", "6000.00"), ("true_up", "1000.00")]


def test_a_month_with_no_version_in_force_names_the_gap(tmp_path):
    plans = folder(tmp_path, h1=(EXAMPLE / "plans" / "ae-h1.yaml").read_text(encoding="utf-8"),
                   h2=(EXAMPLE / "plans" / "ae-h2.yaml").read_text(encoding="utf-8").replace("2026-07-01", "2026-08-01"))
    res = run_calc("2026-07", "--json", plans=plans)
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["reps"] == []
    assert ("warning: R1: plan 'ae-2026' has no version in force on 2026-07-31 "
            "(its versions: 2026-01-01..2026-06-30, 2026-08-01..); rep skipped") in res.stderr.splitlines()
    assert "not loaded" not in res.stderr


def test_calc_refuses_overlapping_versions_and_computes_nothing(tmp_path):
    plans = folder(tmp_path, h1=(EXAMPLE / "plans" / "ae-h1.yaml").read_text(encoding="utf-8"),
                   h2=(EXAMPLE / "plans" / "ae-h2.yaml").read_text(encoding="utf-8").replace("2026-07-01", "2026-06-01"))
    res = run_calc("2026-07", plans=plans)
    assert res.exit_code == 1 and res.stdout == ""
    assert (f"{tmp_path / 'h2.yaml'}:5: effective_from: plan 'ae-2026' in force 2026-06-01.. overlaps its version in "
            f"force 2026-01-01..2026-06-30 ({tmp_path / 'h1.yaml'}:6)") in res.stderr


def test_streamed_json_with_versions_is_the_json():
    catalog, data = api.read_catalog_and_folder(EXAMPLE / "plans", EXAMPLE / "data")
    result = api.calculate(catalog, data, "2026-07")
    plans = catalog.for_month("2026-07")
    for detail in (True, False):
        want = json.dumps(result_dict(result, detail=detail, plans=plans), indent=2, ensure_ascii=False) + "\n"
        assert "".join(iter_result_json(result, detail=detail, plans=plans)) == want
    assert "plan_version" not in result_dict(result)["reps"][0]  # the ledger's output is unchanged


# --------------------------------------------------------------------------- plans validate


def test_plans_validate_lists_versions_with_their_ranges():
    res = CliRunner().invoke(main, ["plans", "validate", str(EXAMPLE / "plans")])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines() == [
        f"ok  ae-2026: 2 versions: 2026-01-01..2026-06-30 ({EXAMPLE / 'plans' / 'ae-h1.yaml'}), "
        f"2026-07-01.. ({EXAMPLE / 'plans' / 'ae-h2.yaml'})",
        "1 plan(s) valid (2 versions)",
    ]


def test_plans_validate_versions_given_as_files_are_checked_together(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01", end="2026-06-30"), b=version(start="2026-07-01"),
           c=version(start="2026-06-01"))
    ok = CliRunner().invoke(main, ["plans", "validate", str(tmp_path / "a.yaml"), str(tmp_path / "b.yaml")])
    assert ok.exit_code == 0 and "1 plan(s) valid (2 versions)" in ok.stdout
    bad = CliRunner().invoke(main, ["plans", "validate", str(tmp_path / "a.yaml"), str(tmp_path / "c.yaml")])
    assert bad.exit_code == 1 and bad.stdout == ""
    assert bad.stderr.splitlines() == [
        f"{tmp_path / 'c.yaml'}:2: effective_from: plan 'ae' in force 2026-06-01.. overlaps its version in force "
        f"2026-01-01..2026-06-30 ({tmp_path / 'a.yaml'}:2): versions of one plan must not overlap",
        "Error: 1 error(s) in plan files",
    ]


def test_plans_validate_reports_overlap_and_inverted_and_exits_1(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01", end="2026-06-30"), b=version(start="2026-03-01"),
           c=version(pid="se", start="2026-07-01", end="2026-01-01"))
    res = CliRunner().invoke(main, ["plans", "validate", str(tmp_path)])
    assert res.exit_code == 1 and res.stdout == ""
    assert res.stderr.splitlines() == [
        f"{tmp_path / 'b.yaml'}:2: effective_from: plan 'ae' in force 2026-03-01.. overlaps its version in force "
        f"2026-01-01..2026-06-30 ({tmp_path / 'a.yaml'}:2): versions of one plan must not overlap",
        f"{tmp_path / 'c.yaml'}:3: effective_to: 2026-01-01 is before effective_from 2026-07-01: "
        "a version must end on or after the day it starts",
        "Error: 2 error(s) in plan files",
    ]
    out = json.loads(CliRunner().invoke(main, ["plans", "validate", "--json", str(tmp_path)]).stdout)
    assert out["ok"] is False and len(out["errors"]) == 2
    assert out["versions"] == {"ae": [{"file": str(tmp_path / "a.yaml"), "effective_from": "2026-01-01",
                                       "effective_to": "2026-06-30", "digest": out["versions"]["ae"][0]["digest"]}]}


def test_plans_validate_json_lists_versions():
    res = CliRunner().invoke(main, ["plans", "validate", "--json", str(EXAMPLE / "plans")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["plans"] == ["ae-2026"]
    assert [(v["effective_from"], v["effective_to"]) for v in out["versions"]["ae-2026"]] == [
        ("2026-01-01", "2026-06-30"), ("2026-07-01", None)]


# --------------------------------------------------------------------------- the front door


def test_api_load_plan_catalog_raises_every_error(tmp_path):
    folder(tmp_path, a=version(start="2026-01-01"), b=version(start="2026-02-01"))
    with pytest.raises(CompErrors) as exc:
        api.load_plan_catalog(tmp_path)
    assert len(exc.value.errors) == 1 and "versions of one plan must not overlap" in str(exc.value)
    catalog = api.load_plan_catalog(EXAMPLE / "plans")
    assert isinstance(catalog, api.PlanCatalog) and catalog.ids() == ["ae-2026"]
    assert api.version_range(catalog.versions("ae-2026")[1]) == "2026-07-01.."


def test_statements_from_files_use_the_month_s_version():
    catalog, data = api.read_catalog_and_folder(EXAMPLE / "plans", EXAMPLE / "data")
    for period, file, payout in [("2026-06", "ae-h1.yaml", "5000.00"), ("2026-07", "ae-h2.yaml", "6000.00")]:
        (item,) = api.calc_statement_data(data, catalog, Period.parse(period), "Acme")
        assert (item.plan.source.file, str(item.payout)) == (str(EXAMPLE / "plans" / file), payout)


def test_plans_show_names_a_versions_dates():
    res = CliRunner().invoke(main, ["plans", "show", str(EXAMPLE / "plans" / "ae-h1.yaml")])
    assert res.exit_code == 0, res.output
    assert res.stdout.splitlines()[1] == '  in force: 2026-01-01..2026-06-30 (a version: plans/README.md, "Plan versions")'
    undated = CliRunner().invoke(main, ["plans", "show", str(ROOT / "plans" / "ae.yaml")])
    assert "in force" not in undated.stdout
