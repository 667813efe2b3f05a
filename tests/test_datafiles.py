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
    assert errs == ["deals.csv:2: amount: not a plain number '60 000': write it without separators (e.g. 60000.00)"]


def test_bad_number_with_thousands_separator(tmp_path):
    errs = errors_for(tmp_path, deals=deals('D1,Globex,new_logo,"60,000.00",USD,2026-10-03,R1,12,Platform,'), splits=None)
    assert errs == ["deals.csv:2: amount: not a plain number '60,000.00': write it without separators (e.g. 60000.00)"]


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
    assert errs == ["deals.csv:3: currency: EUR but R1's plan ae-2026 pays in USD (no fx_rates.csv in the folder to convert it)"]


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
        f"{folder}/deals.csv:3: currency: USD but R2's plan eu pays in EUR (no fx_rates.csv in the folder to convert it)",
        f"{folder}/deals.csv:4: currency: USD but R2's plan eu pays in EUR (no fx_rates.csv in the folder to convert it)",
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
    assert errs == ["deals.csv:2: currency: unknown currency code 'usd': write USD"]


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
        # no follow-on "primary splits of deal D2 sum to 60": D2's bad split rows are reported
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


# --------------------------------------------------------------------------- issue 12: numbers, dates, encodings


@pytest.mark.parametrize("amount, message", [
    ("1e309", "not a plain number '1e309': write it in digits, without an exponent (e.g. 60000.00)"),
    ("1E+20", "not a plain number '1E+20': write it in digits, without an exponent (e.g. 60000.00)"),
    ("6e4", "not a plain number '6e4': write it in digits, without an exponent (e.g. 60000.00)"),
    ("60_000.00", "not a plain number '60_000.00': write it without separators (e.g. 60000.00)"),
    ("\u0666\u0660\u0660\u0660\u0660", "not a number '\u0666\u0660\u0660\u0660\u0660': write it with the ASCII digits 0-9"),
    ("999999999999999.99", "999999999999999.99 is above the maximum amount 999,999,999,999.99"),
    ("1000000000000.00", "1000000000000.00 is above the maximum amount 999,999,999,999.99"),
    ("9" * 5000, "number '999999999999...' is too long (5,000 characters, at most 30)"),
    ("Infinity", "not a number 'Infinity'"),
])
def test_deal_amounts_must_be_plain_and_in_range(tmp_path, amount, message):
    errs = errors_for(tmp_path, deals=deals(f"D1,Globex,new_logo,{amount},USD,2026-10-03,R1,12,Platform,"), splits=None)
    assert errs == [f"deals.csv:2: amount: {message}"]


def test_the_maximum_amount_itself_is_accepted(tmp_path):
    assert errors_for(tmp_path, deals=deals("D1,Globex,new_logo,999999999999.99,USD,2026-10-03,R1,12,Platform,"),
                      splits=None) == []


@pytest.mark.parametrize("quota, message", [
    ("0.001", "0.001 has fractions of a cent"),
    ("6e4", "not a plain number '6e4': write it in digits, without an exponent (e.g. 60000.00)"),
    ("2000000000000", "2000000000000 is above the maximum amount 999,999,999,999.99"),
    ("\u0666\u0660\u0660", "not a number '\u0666\u0660\u0660': write it with the ASCII digits 0-9"),
])
def test_assignment_quotas_must_be_plain_cents_in_range(tmp_path, quota, message):
    errs = errors_for(tmp_path, assignments=GOOD["assignments.csv"].replace(",600000", f",{quota}"))
    assert errs == [f"assignments.csv:4: annual_quota: {message}"]


@pytest.mark.parametrize("pct, message", [
    ("6e1", "not a plain number '6e1': write it in digits, without an exponent (e.g. 60000.00)"),
    ("6_0", "not a plain number '6_0': write it without separators (e.g. 60000.00)"),
    ("\u0666\u0660", "not a number '\u0666\u0660': write it with the ASCII digits 0-9"),
])
def test_split_percents_must_be_plain(tmp_path, pct, message):
    errs = errors_for(tmp_path, splits=f"deal_id,rep_id,split_pct,role\nD2,R1,{pct},primary\nD2,R2,40,primary\n")
    assert errs == [f"splits.csv:2: split_pct: {message}"]  # and no follow-on "sum to 40" for D2


@pytest.mark.parametrize("term, message", [
    ("\u0661\u0662", "not a whole number '\u0661\u0662'"),
    ("1_2", "not a whole number '1_2'"),
    ("99999999999", "not a whole number '99999999999'"),
    ("1201", "must be at most 1200, got 1201"),
])
def test_term_months_must_be_plain_and_plausible(tmp_path, term, message):
    errs = errors_for(tmp_path, deals=deals(f"D1,Globex,new_logo,10.00,USD,2026-10-03,R1,{term},Platform,"), splits=None)
    assert errs == [f"deals.csv:2: term_months: {message}"]


@pytest.mark.parametrize("close, message", [
    ("0206-11-03", "0206-11-03 is outside the supported dates 1970-01-01 to 2100-12-31"),
    ("2101-01-01", "2101-01-01 is outside the supported dates 1970-01-01 to 2100-12-31"),
    ("1969-12-31", "1969-12-31 is outside the supported dates 1970-01-01 to 2100-12-31"),
    ("20261003", "not a date '20261003': expected YYYY-MM-DD"),
    ("2026-W40-1", "not a date '2026-W40-1': expected YYYY-MM-DD"),
])
def test_dates_outside_the_plausible_range_are_refused(tmp_path, close, message):
    errs = errors_for(tmp_path, deals=deals(f"D1,Globex,new_logo,10.00,USD,{close},R1,12,Platform,"), splits=None)
    assert errs == [f"deals.csv:2: close_date: {message}"]


def test_range_limits_apply_to_every_date_column(tmp_path):
    errs = errors_for(
        tmp_path,
        reps=GOOD["reps.csv"].replace("2023-03-01", "1900-03-01"),
        assignments=GOOD["assignments.csv"].replace("M1,mgr-2026,2026-01-01,,", "M1,mgr-2026,2026-01-01,2999-12-31,"),
        deals=deals("D1,Globex,new_logo,10.00,USD,2026-10-03,R2,12,Platform,2206-11-03"),
        splits=None,
    )
    assert errs == [
        "reps.csv:3: hire_date: 1900-03-01 is outside the supported dates 1970-01-01 to 2100-12-31",
        "assignments.csv:2: end: 2999-12-31 is outside the supported dates 1970-01-01 to 2100-12-31",
        "deals.csv:2: cancelled_on: 2206-11-03 is outside the supported dates 1970-01-01 to 2100-12-31",
    ]


def test_one_bad_row_is_one_error_no_follow_ons(tmp_path):
    """A bad deal row is not reported again by its splits; a bad rep row not by its deals,
    assignments, splits or reports."""
    errs = errors_for(
        tmp_path,
        reps=GOOD["reps.csv"].replace("R2,Jo,jo@x.example,M1,West,2023-06-15", "R2,Jo,jo@x.example,M1,West,2023-13-15")
        .replace("M1,Maria,maria@x.example,,West,2022-01-10", "M1,Maria,maria@x.example,,West,10/01/2022"),
        deals=deals(
            "D1,Globex,new_logo,60000.00,USD,2026-10-03,R1,12,Platform,",
            "D2,Initech,new_logo,8e4,USD,2026-10-14,R1,36,Platform,",
            "D3,Umbrella,expansion,30000.00,USD,2026-10-22,R2,,,",
            "D4,Hooli,upsell,30000.00,USD,2026-10-22,R1,,,",
        ),
        splits="deal_id,rep_id,split_pct,role\nD2,R1,60,primary\nD2,R2,40,primary\nD4,R1,100,primary\n"
               "D1,R1,50,primary\nD1,R2,50,primary\n",
    )
    assert errs == [
        "reps.csv:2: hire_date: not a date '10/01/2022': expected YYYY-MM-DD",
        "reps.csv:4: hire_date: not a date '2023-13-15': expected YYYY-MM-DD",
        "deals.csv:3: amount: not a plain number '8e4': write it in digits, without an exponent (e.g. 60000.00)",
        "deals.csv:5: deal_type: unknown deal type 'upsell' (expected new_logo, expansion, renewal)",
    ]


def test_an_unknown_deal_is_still_reported(tmp_path):
    errs = errors_for(tmp_path, splits="deal_id,rep_id,split_pct,role\nD2,R1,60,primary\nD2,R2,40,primary\nD7,R1,100,primary\n")
    assert errs == ["splits.csv:4: deal_id: unknown deal 'D7'"]


def write_cp1252(folder: Path) -> None:
    (folder / "reps.csv").write_bytes(
        "rep_id,name,email,manager_id,team,hire_date\r\nM1,Maria Müller,,,Zürich,2022-01-10\r\n"
        "R1,José Nuñez,,M1,Zürich,2023-03-01\r\nR2,Zoë “Z” Smith,,M1,West,2023-06-15\r\n".encode("cp1252"))


def test_windows_1252_files_are_detected(tmp_path):
    folder = make_folder(tmp_path)
    write_cp1252(folder)
    data, errs = read(folder)
    assert errs == []
    assert data.reps["R1"].name == "José Nuñez"  # type: ignore[attr-defined]
    assert data.reps["R2"].name == "Zoë “Z” Smith"  # type: ignore[attr-defined]


def test_utf8_with_a_byte_order_mark_is_read(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "reps.csv").write_bytes(b"\xef\xbb\xbf" + dedent(GOOD["reps.csv"]).replace("Ravi", "Rávi").encode("utf-8"))
    data, errs = read(folder)
    assert errs == []
    assert data.reps["R1"].name == "Rávi"  # type: ignore[attr-defined]


def test_a_given_encoding_is_used_and_a_wrong_one_is_an_error(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "reps.csv").write_bytes(dedent(GOOD["reps.csv"]).replace("Ravi", "Rávi").encode("utf-8"))
    plans, _ = load_plans(PLANS)
    data, errs = read_data_folder(folder, plans, encoding="latin-1")
    assert errs == [] and data.reps["R1"].name == "RÃ¡vi"  # type: ignore[attr-defined]
    write_cp1252(folder)
    _, errs = read_data_folder(folder, plans, encoding="utf-8")
    # one error: the reps the file could not give are not reported as unknown elsewhere
    assert [str(e).replace(str(folder) + "/", "") for e in errs] == [
        "reps.csv:2: not utf-8 text (invalid start byte); give the file's encoding with --encoding"]


def test_calc_reads_windows_1252_and_takes_encoding(tmp_path):
    folder = make_folder(tmp_path)
    write_cp1252(folder)
    res = CliRunner().invoke(main, ["calc", "--plans", str(PLANS), "--data", str(folder), "--period", "2026-10"])
    assert res.exit_code == 0, res.output
    res = CliRunner().invoke(main, ["calc", "--plans", str(PLANS), "--data", str(folder), "--period", "2026-10",
                                    "--encoding", "utf-8"])
    assert res.exit_code == 1
    assert "Traceback" not in res.output and "not utf-8 text" in res.stderr and res.stdout == ""
    res = CliRunner().invoke(main, ["calc", "--plans", str(PLANS), "--data", str(folder), "--period", "2026-10",
                                    "--encoding", "klingon"])
    assert res.exit_code == 2 and "unknown encoding 'klingon'" in res.stderr


@pytest.mark.parametrize("header, hint", [
    ("deal_id;account;deal_type;amount;currency;close_date;owner_id;term_months;product;cancelled_on",
     "the file is separated by semicolons: compengine reads commas"),
    ("Deal_ID,Account,Deal_Type,Amount,Currency,Close_Date,Owner_ID,Term_Months,Product,Cancelled_On",
     "column names are lower case: write 'deal_id', not 'Deal_ID'"),
])
def test_header_problems_get_a_hint(tmp_path, header, hint):
    errs = errors_for(tmp_path, deals=header + "\n", splits=None)
    assert len(errs) == 1 and errs[0].startswith("deals.csv:1: missing column(s): deal_id, ") and hint in errs[0]


def test_an_unreadable_row_is_an_error_not_a_traceback(tmp_path):
    errs = errors_for(tmp_path, deals=deals('D1,"' + "x" * 200_000 + '",new_logo,10.00,USD,2026-10-03,R1,12,,'), splits=None)
    assert errs == ["deals.csv:2: cannot read this row: field larger than field limit (131072)"]


def test_excel_unicode_text_is_read_and_its_tabs_get_a_hint(tmp_path):
    folder = make_folder(tmp_path)
    (folder / "reps.csv").write_bytes(dedent(GOOD["reps.csv"]).replace(",", "\t").encode("utf-16"))
    _, errs = read(folder)
    assert [e.replace(str(folder) + "/", "") for e in errs] == [
        "reps.csv:1: missing column(s): rep_id, name, email, manager_id, team, hire_date; "
        "the file is separated by tabs: compengine reads commas"]
