"""Files the tool writes: formula cells neutralised, numbers kept, atomic replacement with the user's umask;
ledger settings (the company name) with their audit entries and CLI."""

from __future__ import annotations

import csv
import os
import shutil
import stat
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main
from compengine.core.outputs import csv_cell, csv_text, write_csv_atomic, write_text_atomic
from compengine.core.periods import Period
from compengine.ledger import export_payouts, import_folder, transaction

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
EVIL = '=HYPERLINK("http://x","y")'


# --------------------------------------------------------------------------- cells


@pytest.mark.parametrize("text", [EVIL, "+1+2", "-1+2", "@SUM(A1)", "\tx", "\rx", "=1", "-", "+", "-x"])
def test_formula_text_gets_a_leading_quote(text):
    assert csv_cell(text) == "'" + text


@pytest.mark.parametrize("value, written", [
    ("-250.00", "-250.00"), ("+5", "+5"), ("0.00", "0.00"), ("-.5", "-.5"), ("12", "12"),
    (Decimal("-250.00"), "-250.00"), (Decimal("1E+3"), "1000"), (-3, "-3"), (None, ""),
    ("Ravi Shah", "Ravi Shah"), ("a=b", "a=b"), ("'=already", "'=already"), ("# Summary", "# Summary"),
])
def test_numbers_and_plain_text_are_written_as_they_are(value, written):
    assert csv_cell(value) == written


def test_csv_text_quotes_as_csv_does():
    assert csv_text(["a", "b"], [[EVIL, "-1.50"]]) == 'a,b\n"\'=HYPERLINK(""http://x"",""y"")",-1.50\n'


# --------------------------------------------------------------------------- files


@pytest.fixture
def umask_027():
    old = os.umask(0o027)
    try:
        yield
    finally:
        os.umask(old)


def test_files_get_the_umask_and_replace_atomically(tmp_path, umask_027):
    path = tmp_path / "sub" / "x.csv"
    write_csv_atomic(path, ["a"], [["1"]])
    assert stat.S_IMODE(path.stat().st_mode) == 0o640  # 0o666 less the umask, not mkstemp's 0o600
    inode = path.stat().st_ino
    write_text_atomic(path, "b\n")
    assert path.read_text() == "b\n" and path.stat().st_ino != inode  # a new file moved over the old one
    assert [p.name for p in path.parent.iterdir()] == ["x.csv"]  # no temporary file left


def test_a_failed_write_leaves_the_old_file(tmp_path):
    from compengine.core.outputs import write_atomic

    path = tmp_path / "x.txt"
    path.write_text("old")

    def boom(p: Path) -> None:
        p.write_text("half")
        raise OSError("disk full")

    with pytest.raises(OSError):
        write_atomic(path, boom)
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["x.txt"]


# --------------------------------------------------------------------------- the payout file


def test_payroll_file_neutralises_a_formula_name_and_keeps_negative_amounts(ledger, tmp_path, umask_027):
    data = tmp_path / "acme"
    shutil.copytree(ACME, data)
    reps = (data / "reps.csv").read_text(encoding="utf-8")
    (data / "reps.csv").write_text(reps.replace("Maria Lopez", f'"{EVIL.replace(chr(34), chr(34) * 2)}"')
                                   .replace(",West,", ",@West,", 1), encoding="utf-8")
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
    from compengine.ledger import run_close

    for p in Period(2026, 1).months_through(Period(2026, 10)):
        with transaction(ledger) as s:
            run_close(s, p, "ops")
    out = tmp_path / "payouts.csv"
    out.write_text("an older file\n")
    os.chmod(out, 0o600)
    with transaction(ledger) as s:
        export_payouts(s, Period(2026, 10), out, preliminary=True)
    rows = {r["rep_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert rows["M1"]["name"] == "'" + EVIL and rows["M1"]["team"] == "'@West"
    assert rows["M1"]["clawback"] == "-250.00"
    assert rows["R1"]["clawback"] == "-2500.00" and rows["R1"]["name"] == "Ravi Shah"
    assert stat.S_IMODE(out.stat().st_mode) == 0o640
    raw = out.read_text(encoding="utf-8")
    assert ",-250.00," in raw and "\n=" not in raw and ",=" not in raw


def test_reconcile_csv_neutralises_text_cells(tmp_path):
    from compengine.statements.reconcile_report import write_reconcile_report

    class Rec:
        def tables(self):
            return [("Summary", ["rep", "amount"], [[EVIL, "-250.00"]]), ("Notes", ["note"], [["+ok"]])]

    out = write_reconcile_report(Rec(), tmp_path / "r.csv", {})
    assert out.read_text() == '# Summary\nrep,amount\n"\'=HYPERLINK(""http://x"",""y"")",-250.00\n\n# Notes\nnote\n\'+ok\n'


def test_crm_conversion_csvs_neutralise_text_cells(tmp_path):
    from compengine.adapters.common import write_csv

    write_csv(tmp_path / "deals.csv", ["deal_id", "account", "amount"], [["D1", "@evil", Decimal("-12.50")]])
    assert (tmp_path / "deals.csv").read_text() == "deal_id,account,amount\nD1,'@evil,-12.50\n"


def test_export_help_says_the_file_is_replaced():
    res = CliRunner().invoke(main, ["payouts", "export", "--help"])
    assert "existing file" in res.stdout and "replaced" in res.stdout
    res = CliRunner().invoke(main, ["reconcile", "--help"])
    assert "existing file is replaced" in " ".join(res.stdout.split())


# --------------------------------------------------------------------------- settings


def test_company_setting_get_set_list_with_audit(ledger):
    from compengine.core.errors import CompErrors
    from compengine.ledger.models import AuditRow
    from compengine.ledger.settings import company_name, get_setting, list_settings, set_setting, unset_setting

    with transaction(ledger) as s:
        assert company_name(s) == "" and get_setting(s, "company") is None
        set_setting(s, "company", "  Globex\nCorporation ", "finance")
        set_setting(s, "company", "Globex Corporation", "finance")  # unchanged: no second audit entry
    with transaction(ledger) as s:
        assert company_name(s) == "Globex Corporation"
        [row] = list_settings(s)
        assert (row.key, row.value, row.updated_by) == ("company", "Globex Corporation", "finance")
        entries = [(a.actor, a.action, a.entity_id) for a in s.query(AuditRow).filter(AuditRow.entity == "setting")]
        assert entries == [("finance", "config set", "company")]
        with pytest.raises(CompErrors, match="unknown setting 'colour'"):
            set_setting(s, "colour", "red", "finance")
        with pytest.raises(CompErrors, match="a value is required"):
            set_setting(s, "company", "   ", "finance")
    with transaction(ledger) as s:
        assert unset_setting(s, "company", "finance") == "Globex Corporation"
        assert unset_setting(s, "company", "finance") is None
    with transaction(ledger) as s:
        assert company_name(s) == ""


def test_config_cli_and_status(db_url):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "db", "upgrade"]).exit_code == 0  # an empty ledger (readers never create one)
    res = run(main, [*db, "config", "get", "company"])
    assert res.exit_code == 1 and "company is not set" in res.output
    assert "Company: (not set" in run(main, [*db, "status"]).stdout
    res = run(main, [*db, "--as", "finance", "config", "set", "company", "Globex Corporation"])
    assert res.exit_code == 0 and res.stdout == "company = Globex Corporation\n"
    assert run(main, [*db, "config", "get", "company"]).stdout == "Globex Corporation\n"
    assert "company = Globex Corporation" in run(main, [*db, "config", "list"]).stdout
    assert run(main, [*db, "status"]).stdout.startswith("Company: Globex Corporation\n")
    assert "config set" in run(main, [*db, "audit"]).stdout
    res = run(main, [*db, "config", "set", "colour", "red"])
    assert res.exit_code == 1 and "unknown setting 'colour'" in res.output and "Traceback" not in res.output


def test_ledger_statements_carry_the_stored_company(tmp_path):
    from pypdf import PdfReader

    run = CliRunner().invoke
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    assert run(main, [*db, "close", "run", "2026-01", "--through", "2026-10"]).exit_code == 0
    args = [*db, "statements", "2026-10", "--rep", "R1", "--jobs", "1", "--out", str(tmp_path / "st")]
    assert run(main, args).exit_code == 0
    pdf = tmp_path / "st" / "statement-2026-10-R1.pdf"
    text = PdfReader(str(pdf)).pages[0].extract_text()
    assert "Acme" not in text and "· Commission statement" not in text  # nothing made up
    assert run(main, [*db, "config", "set", "company", "Initech LLC"]).exit_code == 0
    assert run(main, args).exit_code == 0
    assert "Initech LLC · Commission statement" in PdfReader(str(pdf)).pages[0].extract_text()
    assert run(main, [*args, "--company", "Umbrella Corp"]).exit_code == 0
    assert "Umbrella Corp · Commission statement" in PdfReader(str(pdf)).pages[0].extract_text()


# --------------------------------------------------------------------------- progress


def test_progress_is_quiet_unless_asked(tmp_path):
    run = CliRunner().invoke
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    res = run(main, [*db, "close", "run", "2026-01", "--through", "2026-03"])
    assert res.exit_code == 0 and res.stderr == ""  # CliRunner's stderr is not a terminal
    res = run(main, [*db, "close", "run", "2026-04", "--through", "2026-05", "--progress"])
    assert "close 2026-04: loading inputs" in res.stderr and "close 2026-05: " in res.stderr
    args = [*db, "statements", "2026-05", "--jobs", "1", "--out", str(tmp_path / "st")]
    res = run(main, args)
    assert res.exit_code == 0 and res.stderr == "" and "rendered" in res.stdout
    res = run(main, [*args, "--force", "--progress"])
    assert "Rendering statements: " in res.stderr
