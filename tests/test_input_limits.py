"""Bad input is refused in one line, never with a traceback, and nothing is written (issue 12).

The ledger side, on SQLite and PostgreSQL (the ``db_url`` fixture): text longer than its
column, amounts beyond the maximum, Windows-1252 files, follow-on errors through ``import``,
``adjust`` out of range, ``--db`` mistakes, statements of reps whose ids share a file name.
The file side (numbers, dates, encodings in ``read_data_folder``; plan files) is in
``test_datafiles.py`` and ``test_plans.py``.
"""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from compengine.cli import main
from compengine.core.periods import Period
from compengine.ledger import open_ledger, run_close, transaction
from compengine.ledger.models import AdjustmentRow, Base, DealRow, RepRow
from compengine.statements.view import statement_name

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"


def copy_acme(tmp_path: Path) -> Path:
    dst = tmp_path / "acme"
    shutil.copytree(ACME, dst)
    return dst


def edit_csv(path: Path, change) -> None:  # noqa: ANN001
    rows = list(csv.DictReader(path.open(encoding="utf-8")))
    fields = list(rows[0].keys())
    rows = change(rows) or rows
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def cli(db_url: str, *args: str):  # noqa: ANN201
    return CliRunner().invoke(main, ["--db", db_url, *args])


def row_counts(db_url: str) -> dict[str, int]:
    engine = open_ledger(db_url)
    try:
        with transaction(engine) as s:
            return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}
    finally:
        engine.dispose()


def assert_refused(res, *messages: str) -> None:  # noqa: ANN001
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in res.output
    for m in messages:
        assert m in res.stderr, res.stderr


# --------------------------------------------------------------------------- import: text longer than its column


def test_text_longer_than_its_column_is_refused_on_both_backends(db_url, tmp_path):
    data = copy_acme(tmp_path)
    name_limit = RepRow.__table__.c.name.type.length
    id_limit = DealRow.__table__.c.deal_id.type.length

    def long_name(rows):
        rows[1]["name"] = "N" * (name_limit + 1)
    edit_csv(data / "reps.csv", long_name)

    def long_deal_id(rows):
        rows[2]["deal_id"] = "D" * (id_limit + 1)
    edit_csv(data / "deals.csv", long_deal_id)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert_refused(res,
                   f"{data / 'reps.csv'}:3: name: is {name_limit + 1} characters long, at most {name_limit} fit",
                   f"{data / 'deals.csv'}:4: deal_id: is {id_limit + 1} characters long, at most {id_limit} fit",
                   "2 errors in input; nothing was imported")
    assert all(n == 0 for name, n in row_counts(db_url).items() if name != "alembic_version")


def test_text_exactly_as_long_as_its_column_imports(db_url, tmp_path):
    data = copy_acme(tmp_path)
    limit = RepRow.__table__.c.name.type.length

    def long_name(rows):
        rows[1]["name"] = "Ñ" * limit  # characters, not bytes
    edit_csv(data / "reps.csv", long_name)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert res.exit_code == 0, res.output


def test_a_plan_id_longer_than_its_column_is_refused(db_url, tmp_path):
    plans = tmp_path / "plans"
    shutil.copytree(PLANS, plans)
    long_id = "p" * 65
    (plans / "long.yaml").write_text(f"id: {long_id}\ncurrency: USD\nquota: {{annual: 1}}\nrates: {{new_logo: 0.1}}\n")
    res = cli(db_url, "import", str(ACME), "--plans", str(plans))
    assert_refused(res, f"{plans / 'long.yaml'}:1: id: is 65 characters long, at most 64 fit; nothing was imported")
    assert all(n == 0 for name, n in row_counts(db_url).items() if name != "alembic_version")


# --------------------------------------------------------------------------- import: amounts, dates, encodings


def test_amount_beyond_the_maximum_is_refused_at_import(db_url, tmp_path):
    data = copy_acme(tmp_path)

    def huge(rows):
        rows[0]["amount"] = "999999999999999.99"
    edit_csv(data / "deals.csv", huge)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert_refused(res, f"{data / 'deals.csv'}:2: amount: 999999999999999.99 is above the maximum amount "
                        "999,999,999,999.99; nothing was imported")
    assert all(n == 0 for name, n in row_counts(db_url).items() if name != "alembic_version")


def test_110_deals_of_the_maximum_amount_import_and_close(db_url, tmp_path):
    """Today's 110 deals of 999,999,999,999,999.99 failed at close ("bigint out of range");
    at the documented maximum a month of them fits."""
    data = copy_acme(tmp_path)

    def many(rows):
        template = dict(rows[0])
        for i in range(110):
            rows.append({**template, "deal_id": f"X{i}", "amount": "999999999999.99", "term_months": "1"})
    edit_csv(data / "deals.csv", many)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert res.exit_code == 0, res.output
    engine = open_ledger(db_url)
    try:
        for p in Period.parse("2026-01").months_through(Period.parse("2026-10")):
            with transaction(engine) as s:
                result = run_close(s, p, "ops")
        assert result.rep("R1").credited > Decimal("109999999999998")
    finally:
        engine.dispose()


def test_a_date_in_the_year_0206_is_refused_at_import(db_url, tmp_path):
    data = copy_acme(tmp_path)

    def typo(rows):
        rows[0]["close_date"] = "0206-11-03"
    edit_csv(data / "deals.csv", typo)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert_refused(res, f"{data / 'deals.csv'}:2: close_date: 0206-11-03 is outside the supported dates "
                        "1970-01-01 to 2100-12-31; nothing was imported")
    assert all(n == 0 for name, n in row_counts(db_url).items() if name != "alembic_version")


def test_import_reads_windows_1252_or_the_given_encoding(db_url, tmp_path):
    data = copy_acme(tmp_path)
    text = (data / "reps.csv").read_text(encoding="utf-8").replace("Ravi Shah", "Ravi Şah Müller")
    (data / "reps.csv").write_bytes(text.replace("Ş", "S").encode("cp1252"))
    res = cli(db_url, "import", str(data), "--plans", str(PLANS), "--encoding", "utf-8")
    assert_refused(res, f"{data / 'reps.csv'}:3: not utf-8 text (invalid start byte); give the file's encoding "
                        "with --encoding; nothing was imported")
    assert all(n == 0 for name, n in row_counts(db_url).items() if name != "alembic_version")
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert res.exit_code == 0, res.output
    engine = open_ledger(db_url)
    try:
        with transaction(engine) as s:
            assert s.get(RepRow, "R1").name == "Ravi Sah Müller"
    finally:
        engine.dispose()


def test_one_bad_row_is_one_error_through_import(db_url, tmp_path):
    data = copy_acme(tmp_path)

    def bad_d2(rows):
        rows[1]["amount"] = "8e4"  # D2, which splits.csv splits between R1 and R2
    edit_csv(data / "deals.csv", bad_d2)
    res = cli(db_url, "import", str(data), "--plans", str(PLANS))
    assert_refused(res)
    assert res.stderr.strip().splitlines() == [
        f"Error: {data / 'deals.csv'}:3: amount: not a plain number '8e4': write it in digits, without an exponent "
        "(e.g. 60000.00); nothing was imported"
    ]


# --------------------------------------------------------------------------- adjust


@pytest.fixture
def acme_ledger(db_url):  # noqa: ANN001
    res = cli(db_url, "import", str(ACME), "--plans", str(PLANS))
    assert res.exit_code == 0, res.output
    return db_url


@pytest.mark.parametrize("args, message", [
    (["--deal", "D99"], "unknown deal 'D99': import it first, or leave out the deal"),
    (["--period", "2025-12"], "period 2025-12 is before the ledger's first month 2026-01"),
    (["--period", "2027-11"], "period 2027-11 is more than 12 months after the ledger's latest month 2026-10: "
                              "adjust a month up to 2027-10"),
    (["--period", "2062-10"], "period 2062-10 is more than 12 months after the ledger's latest month 2026-10"),
])
def test_adjust_refuses_unknown_deals_and_months_out_of_range(acme_ledger, args, message):
    opts = {"--rep": "R1", "--period": "2026-10", "--amount": "250.00", "--reason": "why"}
    for k, v in zip(args[::2], args[1::2]):
        opts[k] = v
    res = cli(acme_ledger, "adjust", *[x for kv in opts.items() for x in kv])
    assert_refused(res, f"Error: {message}")
    assert row_counts(acme_ledger)["adjustments"] == 0


@pytest.mark.parametrize("amount, message", [
    ("1000000000000.00", "1000000000000.00 is above the maximum amount 999,999,999,999.99"),
    ("-1000000000000", "-1000000000000 is above the maximum amount 999,999,999,999.99"),
    ("1e5", "not a plain number '1e5': write it in digits, without an exponent"),
    ("2_500", "not a plain number '2_500': write it without separators"),
    ("\u0662\u0665\u0660", "write it with the ASCII digits 0-9"),
    ("0.0001", "0.0001 has more than 3 decimal places (no currency has more)"),
])
def test_adjust_refuses_amounts_out_of_range(acme_ledger, amount, message):
    res = cli(acme_ledger, "adjust", "--rep", "R1", "--period", "2026-10", "--amount", amount, "--reason", "why")
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "Invalid value for '--amount'" in res.stderr and message in res.stderr
    assert row_counts(acme_ledger)["adjustments"] == 0


def test_adjust_refuses_an_amount_finer_than_the_reps_currency(acme_ledger):
    # the option takes up to three places (a KWD rep's fils); R1 is paid in USD: whole cents, said by the ledger
    res = cli(acme_ledger, "adjust", "--rep", "R1", "--period", "2026-10", "--amount", "0.001", "--reason", "why")
    assert_refused(res, "Error: amount 0.001 has fractions of a cent")
    assert row_counts(acme_ledger)["adjustments"] == 0


def test_adjust_in_range_still_works(acme_ledger):
    res = cli(acme_ledger, "adjust", "--rep", "R1", "--period", "2027-10", "--amount", "-999999999999.99",
              "--reason", "why", "--deal", "D1")
    assert res.exit_code == 0, res.output
    engine = open_ledger(acme_ledger)
    try:
        with transaction(engine) as s:
            row = s.scalars(select(AdjustmentRow)).one()
            assert (row.period, row.amount, row.deal_id) == ("2027-10", Decimal("-999999999999.99"), "D1")
    finally:
        engine.dispose()


def test_library_adjustment_refuses_amounts_beyond_the_maximum(acme_ledger):
    from compengine.core.errors import CompErrors
    from compengine.ledger import add_adjustment

    engine = open_ledger(acme_ledger)
    try:
        with pytest.raises(CompErrors, match="is beyond the maximum amount 999,999,999,999.99"):
            with transaction(engine) as s:
                add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("1000000000000.00"), "why", "ops")
    finally:
        engine.dispose()
    assert row_counts(acme_ledger)["adjustments"] == 0


# --------------------------------------------------------------------------- --db


@pytest.mark.parametrize("url, message", [
    ("ledger.db", "Error: --db takes a database URL, not a file name: write sqlite:///ledger.db for the SQLite "
                  "file ledger.db, or postgresql://HOST/DB"),
    ("postgres://127.0.0.1/test", "Error: --db: write postgresql://127.0.0.1/test (postgres:// is not a URL scheme "
                                  "SQLAlchemy knows)"),
    ("sqlite:///no/such/folder/x.db", "Error: --db: the folder no/such/folder does not exist: create it first"),
])
@pytest.mark.parametrize("command", [["status"], ["import", str(ACME), "--plans", str(PLANS)], ["db", "upgrade"],
                                     ["adjust", "--rep", "R1", "--period", "2026-10", "--amount", "1.00",
                                      "--reason", "x"]])
def test_db_mistakes_say_what_to_write(tmp_path, monkeypatch, url, message, command):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["--db", url, *command])
    assert_refused(res, message)
    assert len(res.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []  # no ledger.db, no compengine.db, nothing


def test_a_failed_command_leaves_no_sqlite_file_behind(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(main, ["import", str(tmp_path / "missing"), "--plans", str(PLANS)])
    assert_refused(res, "not a data folder; nothing was imported")
    res = CliRunner().invoke(main, ["--db", "sqlite:///other.db", "adjust", "--rep", "R1", "--period", "2026-10",
                                    "--amount", "1.00", "--reason", "x"])
    assert_refused(res, "no ledger at other.db: start with `compengine import DATA_DIR --plans PLANS_DIR`")
    res = CliRunner().invoke(main, ["status"])  # a reader creates nothing either
    assert_refused(res, "no ledger at compengine.db")
    assert list(tmp_path.iterdir()) == []
    # a ledger that was there before a failed command stays
    assert CliRunner().invoke(main, ["import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    res = CliRunner().invoke(main, ["import", str(tmp_path / "missing"), "--plans", str(PLANS)])
    assert res.exit_code == 1
    assert (tmp_path / "compengine.db").is_file()
    assert row_counts("sqlite:///compengine.db")["deals"] == 9


# --------------------------------------------------------------------------- statements: names that collide


def test_rep_ids_that_share_a_file_name_get_distinct_stable_names():
    a, b = statement_name("2026-10", "a/b"), statement_name("2026-10", "a_b")
    assert b == "statement-2026-10-a_b"  # a safe id keeps its plain name
    assert a != b and a.startswith("statement-2026-10-a_b-") and len(a) == len(b) + 9
    assert statement_name("2026-10", "a/b") == a  # stable: the same on every run
    assert statement_name("2026-10", "a:b") not in (a, b)
    assert statement_name("2026-10", "R1") == "statement-2026-10-R1"


def test_statements_of_colliding_rep_ids_are_both_written(tmp_path):
    from dataclasses import replace

    from compengine.datafiles import read_data_folder
    from compengine.plans import load_plans
    from compengine.statements import calc_statement_data, render_statements

    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(ACME, plans)
    assert not errors
    items = {s.rep_id: s for s in calc_statement_data(data, plans, Period(2026, 10), "Acme")}
    batch = [replace(items["S1"], rep_id="a/b"), replace(items["S1"], rep_id="a_b")]
    report = render_statements(batch, tmp_path, jobs=1)
    assert report.failed == ()
    names = sorted(p.name for p in report.rendered)
    assert names == sorted([statement_name("2026-10", "a/b") + ".pdf", "statement-2026-10-a_b.pdf"])
    assert all((tmp_path / n).is_file() for n in names)
