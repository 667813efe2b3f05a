"""Data folders: every bad row is reported with file, line and column; nothing is computed."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main
from compengine.datafiles import read_data_folder
from compengine.plans import load_plans
from helpers_engine import dedent

PLANS = Path(__file__).resolve().parent.parent / "plans"

GOOD = {
    "reps.csv": """
        rep_id,name,email,manager_id,team,hire_date
        M1,Maria,maria@x.example,,West,2022-01-10
        R1,Ravi,ravi@x.example,M1,West,2023-03-01
        R2,Jo,jo@x.example,M1,West,2023-06-15
    """,
    "assignments.csv": """
        rep_id,plan_id,start,end,annual_quota
        M1,mgr-2026,2026-01-01,,
        R1,ae-2026,2026-01-01,,
        R2,ae-2026,2026-01-01,,600000
    """,
    "deals.csv": """
        deal_id,account,deal_type,amount,currency,close_date,owner_id,term_months,product,cancelled_on
        D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,
        D2,Initech,new_logo,80000.00,USD,2026-10-14,R1,36,Platform,
        D3,Umbrella,expansion,30000.00,USD,2026-10-22,R2,,,
    """,
    "splits.csv": """
        deal_id,rep_id,split_pct,role
        D2,R1,60,primary
        D2,R2,40,primary
    """,
}


def make_folder(root: Path, **replace: str | None) -> Path:
    """A valid data folder, with some files replaced (None = leave the file out)."""
    folder = root / "data"
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in GOOD.items():
        key = name.replace(".csv", "")
        if key in replace:
            if replace[key] is None:
                continue
            text = replace[key]  # type: ignore[assignment]
        (folder / name).write_text(dedent(text), encoding="utf-8")
    return folder


def read(folder: Path) -> tuple[object, list[str]]:
    plans, errors = load_plans(PLANS)
    assert not errors
    data, errs = read_data_folder(folder, plans)
    return data, [str(e) for e in errs]


def errors_for(tmp_path: Path, **replace: str | None) -> list[str]:
    folder = make_folder(tmp_path, **replace)
    return [e.replace(str(folder) + "/", "") for e in read(folder)[1]]


def deals(*rows: str) -> str:
    return "\n".join([dedent(GOOD["deals.csv"]).splitlines()[0], *rows])


def test_good_folder_reads_without_errors(tmp_path):
    data, errors = read(make_folder(tmp_path))
    assert errors == []
    assert sorted(data.reps) == ["M1", "R1", "R2"]  # type: ignore[attr-defined]
    d3 = data.deals[2]  # type: ignore[attr-defined]
    assert (d3.deal_id, d3.amount, d3.term_months, d3.product, d3.cancelled_on) == ("D3", Decimal("30000.00"), None, None, None)
    assert data.reps["R1"].manager_id == "M1"  # type: ignore[attr-defined]
    assert data.assignments[2].annual_quota == Decimal(600000)  # type: ignore[attr-defined]
    assert [(s.rep_id, s.split_pct, s.role) for s in data.splits] == [  # type: ignore[attr-defined]
        ("R1", Decimal(60), "primary"), ("R2", Decimal(40), "primary")
    ]


def test_splits_file_is_optional(tmp_path):
    assert errors_for(tmp_path, splits=None) == []


def test_bad_number(tmp_path):
    errs = errors_for(tmp_path, deals=deals("D1,Globex,new_logo,60 000,USD,2026-10-03,R1,12,Platform,"), splits=None)
    assert errs == ["deals.csv:2: amount: not a number '60 000'"]


def test_bad_number_with_thousands_separator(tmp_path):
    errs = errors_for(tmp_path, deals=deals('D1,Globex,new_logo,"60,000.00",USD,2026-10-03,R1,12,Platform,'), splits=None)
    assert errs == ["deals.csv:2: amount: not a number '60,000.00'"]


def test_bad_date(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,new_logo,80000.00,USD,03/10/2026,R1,36,Platform,",
    ))
    assert errs[0] == "deals.csv:3: close_date: not a date '03/10/2026': expected YYYY-MM-DD"


def test_bad_hire_date_and_assignment_dates(tmp_path):
    errs = errors_for(
        tmp_path,
        reps=GOOD["reps.csv"].replace("2023-03-01", "2023-02-30"),
        assignments=GOOD["assignments.csv"].replace("R2,ae-2026,2026-01-01,,600000", "R2,ae-2026,2026-05-01,2026-04-30,600000"),
    )
    assert "reps.csv:3: hire_date: not a date '2023-02-30': expected YYYY-MM-DD" in errs
    assert "assignments.csv:4: end: 2026-04-30 is before start 2026-05-01" in errs


def test_unknown_rep(tmp_path):
    errs = errors_for(
        tmp_path,
        deals=deals("D1,Globex,new_logo,60000.00,USD,2026-10-03,R9,12,Platform,"),
        splits="deal_id,rep_id,split_pct,role\nD1,R1,50,primary\nD1,R8,50,primary\n",
        assignments=GOOD["assignments.csv"] + "        R7,ae-2026,2026-01-01,,\n",
    )
    assert "deals.csv:2: owner_id: unknown rep 'R9'" in errs
    assert "splits.csv:3: rep_id: unknown rep 'R8'" in errs
    assert "assignments.csv:5: rep_id: unknown rep 'R7'" in errs


def test_unknown_manager_and_plan(tmp_path):
    errs = errors_for(
        tmp_path,
        reps=GOOD["reps.csv"].replace("R2,Jo,jo@x.example,M1", "R2,Jo,jo@x.example,M9"),
        assignments=GOOD["assignments.csv"].replace("R2,ae-2026", "R2,ae-2027"),
    )
    assert "reps.csv:4: manager_id: unknown rep 'M9'" in errs
    assert "assignments.csv:4: plan_id: unknown plan 'ae-2027' (known: ae-2026, am-2026, mgr-2026, se-2026)" in errs


def test_unknown_deal_type(tmp_path):
    errs = errors_for(tmp_path, deals=deals("D1,Globex,upsell,60000.00,USD,2026-10-03,R1,12,Platform,"), splits=None)
    assert errs == ["deals.csv:2: deal_type: unknown deal type 'upsell' (expected new_logo, expansion, renewal)"]


def test_currency_other_than_the_plans(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,new_logo,80000.00,EUR,2026-10-14,R1,36,Platform,",
    ), splits=None)
    assert errs == ["deals.csv:3: currency: EUR but R1's plan ae-2026 pays in USD"]


def test_currency_of_a_split_receiver_is_checked_too(tmp_path):
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    for p in PLANS.glob("*.yaml"):
        (plans_dir / p.name).write_text(p.read_text())
    (plans_dir / "eu.yaml").write_text("id: eu\ncurrency: EUR\nquota: {annual: 1}\nrates: {new_logo: 0.1}\n")
    folder = make_folder(tmp_path, assignments=GOOD["assignments.csv"].replace("R2,ae-2026", "R2,eu"))
    plans, _ = load_plans(plans_dir)
    _, errs = read_data_folder(folder, plans)
    # D2 is split to R2 (line 3), D3 is owned by R2 (line 4)
    assert [str(e) for e in errs] == [
        f"{folder}/deals.csv:3: currency: USD but R2's plan eu pays in EUR",
        f"{folder}/deals.csv:4: currency: USD but R2's plan eu pays in EUR",
    ]


def test_currency_is_checked_against_receivers_not_an_owner_without_credit(tmp_path):
    plans_dir = tmp_path / "plans"
    plans_dir.mkdir()
    for p in PLANS.glob("*.yaml"):
        (plans_dir / p.name).write_text(p.read_text())
    (plans_dir / "eu.yaml").write_text("id: eu\ncurrency: EUR\nquota: {annual: 1}\nrates: {new_logo: 0.1}\n")
    # D2 is in EUR, owned by R1 (USD plan) but credited 100% to R2 (EUR plan): R1 receives nothing
    folder = make_folder(
        tmp_path,
        assignments=GOOD["assignments.csv"].replace("R2,ae-2026", "R2,eu"),
        deals=deals("D2,Initech,new_logo,80000.00,EUR,2026-10-14,R1,36,Platform,"),
        splits="deal_id,rep_id,split_pct,role\nD2,R2,100,primary\n",
    )
    plans, _ = load_plans(plans_dir)
    assert read_data_folder(folder, plans)[1] == []


def test_bad_currency_code(tmp_path):
    errs = errors_for(tmp_path, deals=deals("D1,Globex,new_logo,60000.00,usd,2026-10-03,R1,12,Platform,"), splits=None)
    assert errs == ["deals.csv:2: currency: not a currency code 'usd' (e.g. USD)"]


def test_splits_not_summing_to_100(tmp_path):
    errs = errors_for(tmp_path, splits="""
        deal_id,rep_id,split_pct,role
        D2,R1,60,primary
        D2,R2,30,primary
        D2,M1,50,overlay
    """)
    # overlays do not count toward the 100
    assert errs == ["splits.csv:2: split_pct: primary splits of deal D2 sum to 90, not 100"]


def test_split_rows_checked_one_by_one(tmp_path):
    errs = errors_for(tmp_path, splits="""
        deal_id,rep_id,split_pct,role
        D2,R1,60,primary
        D2,R2,40,lead
        D2,R1,0,overlay
        D9,R1,100,primary
    """)
    assert errs == [
        "splits.csv:3: role: unknown role 'lead' (expected primary or overlay)",
        "splits.csv:4: split_pct: must be more than 0 and at most 100, got 0",
        "splits.csv:5: deal_id: unknown deal 'D9'",
        "splits.csv:2: split_pct: primary splits of deal D2 sum to 60, not 100",
    ]


def test_same_rep_twice_on_a_deal(tmp_path):
    errs = errors_for(tmp_path, splits="""
        deal_id,rep_id,split_pct,role
        D2,R1,60,primary
        D2,R1,40,primary
    """)
    assert errs == ["splits.csv:3: rep_id: rep 'R1' appears twice on deal D2"]


def test_duplicate_deal(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,new_logo,80000.00,USD,2026-10-14,R1,36,Platform,",
        "D1,Globex,new_logo,1.00,USD,2026-10-05,R1,12,Platform,",
    ))
    assert errs == ["deals.csv:4: deal_id: duplicate deal 'D1' (first at line 2)"]


def test_duplicate_rep_and_overlapping_assignments(tmp_path):
    errs = errors_for(
        tmp_path,
        reps=GOOD["reps.csv"] + "        R1,Ravi again,,,West,\n",
        assignments=GOOD["assignments.csv"] + "        R1,ae-2026,2026-06-01,,\n",
    )
    assert "reps.csv:5: rep_id: duplicate rep 'R1' (first at line 3)" in errs
    assert "assignments.csv:5: start: overlaps the assignment of R1 at line 3" in errs


def test_missing_column(tmp_path):
    errs = errors_for(tmp_path, deals="""
        deal_id,account,deal_type,amount,close_date,owner_id,term_months,product,cancelled_on
        D1,Globex,new_logo,60000.00,2026-10-03,R1,12,Platform,
    """, splits=None)
    assert errs == ["deals.csv:1: missing column(s): currency"]


def test_wrong_field_count(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,new_logo,80000.00,USD,2026-10-14,R1,36,Platform",
    ), splits=None)
    assert errs == ["deals.csv:3: has 9 fields, the header has 10"]


def test_required_values_and_amount_rules(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,new_logo,-5.00,USD,2026-10-14,R1,36,Platform,",
        "D3,Umbrella,expansion,10.001,USD,2026-10-22,R2,,,",
        "D4,Hooli,new_logo,10.00,USD,2026-10-22,R2,twelve,,",
        "D5,Hooli,new_logo,10.00,USD,2026-10-22,R2,,,2026-10-01",
    ), splits=None)
    assert errs == [
        "deals.csv:2: amount: is required",
        "deals.csv:3: amount: must be positive, got -5.00",
        "deals.csv:4: amount: 10.001 has fractions of a cent",
        "deals.csv:5: term_months: not a whole number 'twelve'",
        "deals.csv:6: cancelled_on: 2026-10-01 is before close_date 2026-10-22",
    ]


def test_missing_required_file(tmp_path):
    assert errors_for(tmp_path, deals=None) == ["deals.csv: file not found (required)"]


def test_blank_lines_are_skipped_and_line_numbers_stay_true(tmp_path):
    text = deals("", "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,", "", "D2,Initech,bad,1.00,USD,2026-10-14,R1,36,,")
    errs = errors_for(tmp_path, deals=text, splits=None)
    assert errs == ["deals.csv:5: deal_type: unknown deal type 'bad' (expected new_logo, expansion, renewal)"]


def test_every_error_is_reported_not_only_the_first(tmp_path):
    errs = errors_for(tmp_path, deals=deals(
        "D1,Globex,new_logo,abc,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,upsell,80000.00,USD,2026-10-14,R9,36,Platform,",
    ), splits=None)
    assert errs == [
        "deals.csv:2: amount: not a number 'abc'",
        "deals.csv:3: deal_type: unknown deal type 'upsell' (expected new_logo, expansion, renewal)",
        "deals.csv:3: owner_id: unknown rep 'R9'",
    ]


# --------------------------------------------------------------------------- through the CLI


@pytest.mark.parametrize("replace", [
    {"deals": deals("D1,Globex,new_logo,sixty,USD,2026-10-03,R1,12,Platform,")},
    {"deals": deals("D1,Globex,new_logo,60000.00,USD,2026-13-03,R1,12,Platform,")},
    {"deals": deals("D1,Globex,new_logo,60000.00,GBP,2026-10-03,R1,12,Platform,"), "splits": None},
    {"splits": "deal_id,rep_id,split_pct,role\nD2,R1,60,primary\nD2,R2,41,primary\n"},
])
def test_calc_with_bad_data_exits_non_zero_and_computes_nothing(tmp_path, replace):
    folder = make_folder(tmp_path, **replace)
    res = CliRunner().invoke(main, ["calc", "--plans", str(PLANS), "--data", str(folder), "--period", "2026-10", "--json"])
    assert res.exit_code != 0
    assert res.stdout == ""  # no JSON, nothing computed
    assert f"{folder}/" in res.stderr and "nothing was computed" in res.stderr


def test_calc_prints_all_errors(tmp_path):
    folder = make_folder(tmp_path, deals=deals(
        "D1,Globex,new_logo,abc,USD,2026-10-03,R1,12,Platform,",
        "D2,Initech,upsell,80000.00,USD,2026-10-14,R1,36,Platform,",
    ), splits=None)
    res = CliRunner().invoke(main, ["calc", "--plans", str(PLANS), "--data", str(folder), "--period", "2026-10"])
    assert res.exit_code == 1
    assert f"{folder}/deals.csv:2: amount: not a number 'abc'" in res.stderr
    assert f"{folder}/deals.csv:3: deal_type: unknown deal type 'upsell'" in res.stderr
    assert res.stdout == ""
