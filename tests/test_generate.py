"""The seeded company generator: deterministic, readable without errors, realistic enough to exercise every rule."""

from __future__ import annotations

import csv
from collections import defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine.driver import calculate_month, calculate_through
from compengine.generate import amend, generate
from compengine.plans import load_plans

PLANS = Path(__file__).resolve().parent.parent / "plans"
FILES = ("reps.csv", "assignments.csv", "deals.csv", "splits.csv")


@pytest.fixture(scope="module")
def plans():
    loaded, errors = load_plans(PLANS)
    assert not errors
    return loaded


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:
    """A moderately sized company: 40 reps, 2,000 deals over a year."""
    out = tmp_path_factory.mktemp("company")
    generate(out, seed=11, reps=40, deals=2000, plans_dir=PLANS)
    return out


@pytest.fixture(scope="module")
def year_results(company, plans):
    data, errors = read_data_folder(company, plans)
    assert errors == []
    return calculate_through(data, plans, Period(2026, 12), first_wanted=Period(2026, 1))


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_same_seed_gives_byte_identical_files(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    generate(a, seed=5, reps=20, deals=300, plans_dir=PLANS)
    generate(b, seed=5, reps=20, deals=300, plans_dir=PLANS)
    for name in FILES:
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    assert sorted(p.name for p in (a / "plans").iterdir()) == sorted(p.name for p in PLANS.glob("*.yaml"))


def test_different_seed_gives_different_files(tmp_path):
    generate(tmp_path / "a", seed=5, reps=20, deals=300)
    generate(tmp_path / "b", seed=6, reps=20, deals=300)
    assert (tmp_path / "a" / "deals.csv").read_bytes() != (tmp_path / "b" / "deals.csv").read_bytes()
    assert (tmp_path / "a" / "reps.csv").read_bytes() != (tmp_path / "b" / "reps.csv").read_bytes()


def test_folder_reads_without_errors_and_computes_a_month(company, plans):
    data, errors = read_data_folder(company, plans)
    assert [str(e) for e in errors] == []
    assert len(data.reps) == 40 and len(data.deals) == 2000
    result = calculate_month(data, plans, Period(2026, 6))
    assert result.reps and result.total_payout > 0
    # every credited rep has a plan in the month of the deal (a leaver's late cancellation may still be reported)
    assert [e for e in result.exceptions if "credit line" in e] == []


def test_summary_counts_match_the_files(tmp_path):
    s = generate(tmp_path, seed=2, reps=30, deals=500)
    deals = rows(tmp_path / "deals.csv")
    splits = rows(tmp_path / "splits.csv")
    assert (s.reps, s.deals, s.split_rows) == (len(rows(tmp_path / "reps.csv")), len(deals), len(splits))
    assert s.cancelled == sum(1 for d in deals if d["cancelled_on"])
    with_primary = {sp["deal_id"] for sp in splits if sp["role"] == "primary"}
    assert s.credit_lines == len(deals) - len(with_primary) + len(splits)


def test_teams_managers_and_plans(company):
    reps = rows(company / "reps.csv")
    plan_of = {a["rep_id"]: a["plan_id"] for a in rows(company / "assignments.csv")}
    assert set(plan_of) == {r["rep_id"] for r in reps}
    assert set(plan_of.values()) == {"ae-2026", "am-2026", "se-2026", "mgr-2026"}
    by_team = defaultdict(list)
    for r in reps:
        by_team[r["team"]].append(r)
    for team, members in by_team.items():
        managers = [r for r in members if plan_of[r["rep_id"]] == "mgr-2026"]
        assert len(managers) == 1, team
        assert all(r["manager_id"] == managers[0]["rep_id"] for r in members if r is not managers[0])
    se_teams = {r["team"] for r in reps if plan_of[r["rep_id"]] == "se-2026"}
    assert se_teams and all(all(plan_of[r["rep_id"]] in ("se-2026", "mgr-2026") for r in by_team[t]) for t in se_teams)
    assert any(a["annual_quota"] for a in rows(company / "assignments.csv") if a["plan_id"] != "mgr-2026")


def test_primary_splits_sum_to_exactly_100_and_overlays_exist(company):
    splits = rows(company / "splits.csv")
    primary = defaultdict(Decimal)
    for s in splits:
        if s["role"] == "primary":
            primary[s["deal_id"]] += Decimal(s["split_pct"])
    assert primary, "some deals are split between AEs"
    assert all(total == 100 for total in primary.values())
    assert any(s["role"] == "overlay" and s["rep_id"].startswith("SE") for s in splits)
    assert all(Decimal(s["split_pct"]) <= 100 for s in splits)


def test_deal_types_terms_and_cancellations(company):
    deals = rows(company / "deals.csv")
    assert {d["deal_type"] for d in deals} == {"new_logo", "expansion", "renewal"}
    assert {d["term_months"] for d in deals} == {"12", "24", "36"}
    for d in deals:
        assert Decimal(d["amount"]) > 0 and Decimal(d["amount"]).as_tuple().exponent == -2
    gaps = [
        (date.fromisoformat(d["cancelled_on"]) - date.fromisoformat(d["close_date"])).days
        for d in deals if d["cancelled_on"]
    ]
    assert gaps and all(g > 0 for g in gaps)
    assert any(g <= 60 for g in gaps) and any(g > 90 for g in gaps)
    owner_plan = {a["rep_id"]: a["plan_id"] for a in rows(company / "assignments.csv")}
    by_type = defaultdict(lambda: defaultdict(int))
    for d in deals:
        by_type[d["deal_type"]][owner_plan[d["owner_id"]]] += 1
    assert max(by_type["new_logo"], key=by_type["new_logo"].get) == "ae-2026"
    assert max(by_type["renewal"], key=by_type["renewal"].get) == "am-2026"


def test_some_reps_ramp(company, year_results):
    hires = {r["rep_id"]: date.fromisoformat(r["hire_date"]) for r in rows(company / "reps.csv")}
    assert any(h.year == 2026 for h in hires.values()), "some reps are hired during the year"
    ramped = [
        r for pr in year_results for r in pr.reps
        if r.plan_id == "ae-2026" and r.tenure_month is not None and r.tenure_month <= 9 and r.quota < 100000
    ]
    assert ramped, "some AEs are on a ramped quota"


def test_attainment_spans_the_bands(year_results):
    attainments = [r.attainment for pr in year_results for r in pr.reps if r.quota > 0 or (r.ytd_quota or 0) > 0]
    assert any(a > Decimal("1.5") for a in attainments)
    assert any(a > 1 for a in attainments)
    assert any(a < Decimal("0.5") for a in attainments)
    assert any(Decimal("0.5") <= a <= 1 for a in attainments)
    kinds = {ln.kind for pr in year_results for r in pr.reps for ln in r.lines}
    assert {"commission", "override", "spiff", "clawback"} <= kinds


def test_amend_changes_earlier_months_only_and_reads_cleanly(company, plans, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    s = amend(company, a, seed=3, fraction=0.05)
    amend(company, b, seed=3, fraction=0.05)
    assert (a / "deals.csv").read_bytes() == (b / "deals.csv").read_bytes()
    assert s.amended > 0 and s.cancelled > 0 and s.deals == 2000
    for name in ("reps.csv", "assignments.csv", "splits.csv"):
        assert (a / name).read_bytes() == (company / name).read_bytes()
    assert (a / "plans").is_dir()
    before = {d["deal_id"]: d for d in rows(company / "deals.csv")}
    after = {d["deal_id"]: d for d in rows(a / "deals.csv")}
    assert list(before) == list(after)
    changed_amount = [k for k in before if before[k]["amount"] != after[k]["amount"]]
    new_cancel = [k for k in before if before[k]["cancelled_on"] != after[k]["cancelled_on"]]
    assert len(changed_amount) == s.amended and len(new_cancel) == s.cancelled
    for k in changed_amount + new_cancel:
        assert before[k]["close_date"] < "2026-12-01"
        assert not before[k]["cancelled_on"] or k not in new_cancel
        if after[k]["cancelled_on"]:
            assert after[k]["cancelled_on"] >= after[k]["close_date"]
            assert after[k]["cancelled_on"] <= str(s.as_of)
    data, errors = read_data_folder(a, plans)
    assert [str(e) for e in errors] == []
    with pytest.raises(ValueError):
        amend(company, company)


def test_small_and_partial_years(tmp_path, plans):
    s = generate(tmp_path, seed=9, reps=5, deals=50, year=2027, months=3)
    data, errors = read_data_folder(tmp_path, plans)
    assert errors == [] and s.reps == 5
    assert all(d.close_date.year == 2027 and d.close_date.month <= 3 for d in data.deals)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", reps=4)


def test_cli_generate(tmp_path, plans):
    out = tmp_path / "co"
    runner = CliRunner()
    res = runner.invoke(main, ["generate", str(out), "--reps", "12", "--deals", "150", "--seed", "4", "--plans", str(PLANS)])
    assert res.exit_code == 0, res.output
    assert "12 reps" in res.output
    assert sorted(p.name for p in (out / "plans").iterdir()) == sorted(p.name for p in PLANS.glob("*.yaml"))
    res = runner.invoke(main, ["calc", "--plans", str(out / "plans"), "--data", str(out), "--period", "2026-12"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(main, ["generate", str(out), "--plans", str(PLANS)])
    assert res.exit_code != 0 and "--force" in res.output
    res = runner.invoke(main, ["generate", str(out), "--reps", "12", "--deals", "150", "--seed", "4", "--plans", str(PLANS),
                               "--force", "--json"])
    assert res.exit_code == 0, res.output
    assert '"deals": 150' in res.output
    res = runner.invoke(main, ["generate", "--help"])
    assert "Example" in res.output


def test_cli_generate_outside_a_source_tree_uses_the_plans_the_package_ships(tmp_path, monkeypatch):
    from compengine.demo import sample_plans_dir

    monkeypatch.chdir(tmp_path)  # no ./plans here, as after `pip install compengine`
    res = CliRunner().invoke(main, ["generate", "co", "--reps", "8", "--deals", "40"])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "co" / "plans").iterdir()) == \
        sorted(p.name for p in sample_plans_dir().glob("*.yaml"))


def test_a_multi_currency_company_books_a_share_of_deals_abroad_and_pays_some_aes_in_euros(tmp_path):
    """generate(currencies=...): ~30% of deals in EUR/GBP/JPY at the month's rate (in each currency's minor
    units), fx_rates.csv with a rate per currency and month, ~15% of AEs on the AE plan's EUR copy; the
    company then calculates with every foreign deal converted (no exception)."""
    import csv
    from decimal import Decimal

    from compengine.core.periods import Period
    from compengine.datafiles import read_data_folder
    from compengine.engine import calculate_through
    from compengine.generate import generate
    from compengine.plans import load_plans

    out = tmp_path / "global"
    generate(out, seed=3, reps=60, deals=3000, months=12, plans_dir=PLANS, currencies=("USD", "EUR", "GBP", "JPY"))
    deals = list(csv.DictReader((out / "deals.csv").open(encoding="utf-8")))
    foreign = [d for d in deals if d["currency"] != "USD"]
    assert 0.25 < len(foreign) / len(deals) < 0.35
    assert {d["currency"] for d in foreign} == {"EUR", "GBP", "JPY"}
    assert all("." not in d["amount"] for d in foreign if d["currency"] == "JPY")  # yen have no decimals
    assert all(len(d["amount"].split(".")[1]) == 2 for d in foreign if d["currency"] != "JPY")
    rates = list(csv.DictReader((out / "fx_rates.csv").open(encoding="utf-8")))
    assert len(rates) == 3 * 12 and {r["to_currency"] for r in rates} == {"USD"}
    assert all(Decimal(r["rate"]) > 0 for r in rates)
    plans, errors = load_plans(out / "plans")
    assert errors == [] and plans["ae-2026-eur"].currency == "EUR"
    # the annual quota converted at January's EUR rate, to a thousand: 1,200,000 / 1.08 = 1,111,111 -> 1,111,000
    assert plans["ae-2026-eur"].annual_quota == Decimal(1111000)
    paid_in_eur = [a for a in csv.DictReader((out / "assignments.csv").open(encoding="utf-8")) if a["plan_id"] == "ae-2026-eur"]
    assert paid_in_eur
    data, errors = read_data_folder(out, plans)
    assert errors == []
    year = calculate_through(data, plans, Period(2026, 12), first_wanted=Period(2026, 1))
    assert [e for m in year for e in m.exceptions] == []
    assert {r.currency for m in year for r in m.reps} == {"USD", "EUR"}
    # a euro-paid AE's yen or pound deal converts through USD (the plan copy's fx.base)
    explains = [ln.explain for m in year for r in m.reps if r.currency == "EUR" for ln in r.lines]
    assert any(" x " in e and ("JPY " in e or "GBP " in e) for e in explains), explains[:5]
    # the same seed gives the same bytes; the USD-only company does not change with the option's existence
    again = tmp_path / "again"
    generate(again, seed=3, reps=60, deals=3000, months=12, plans_dir=PLANS, currencies=("USD", "EUR", "GBP", "JPY"))
    assert (again / "deals.csv").read_bytes() == (out / "deals.csv").read_bytes()
    usd, usd2 = tmp_path / "usd", tmp_path / "usd2"
    generate(usd, seed=3, reps=60, deals=3000, months=12, plans_dir=PLANS)
    generate(usd2, seed=3, reps=60, deals=3000, months=12, plans_dir=PLANS, currencies=("USD",))
    assert (usd / "deals.csv").read_bytes() == (usd2 / "deals.csv").read_bytes()
    assert not (usd / "fx_rates.csv").exists()


def test_generate_refuses_currencies_it_has_no_rate_for():
    import pytest

    from compengine.generate import _fx_plan

    with pytest.raises(ValueError, match="no reference rate for XYZ"):
        _fx_plan(("USD", "XYZ"), 1, 2026, 12)
    with pytest.raises(ValueError, match="must start with USD"):
        _fx_plan(("EUR", "USD"), 1, 2026, 12)
