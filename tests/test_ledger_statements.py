"""Statements from the ledger tie out to the payout file, for every rep of a generated month."""

from __future__ import annotations

import csv
import re
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from compengine.cli import main
from compengine.generate import generate

REPO = Path(__file__).resolve().parents[1]


def _net(pdf: Path) -> Decimal:
    text = "\n".join(page.extract_text() for page in PdfReader(pdf).pages)
    found = re.findall(r"Net payout ([\-0-9,]+\.\d\d)", text)
    assert found, f"no net payout on {pdf.name}"
    return Decimal(found[0].replace(",", ""))


@pytest.mark.slow
def test_every_statement_net_equals_the_payout_file(tmp_path):
    data = tmp_path / "company"
    generate(data, seed=7, reps=24, deals=360, year=2026, months=3, plans_dir=REPO / "plans")
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}", "--as", "ops"]
    run = CliRunner().invoke
    assert run(main, [*db, "import", str(data), "--plans", str(data / "plans")]).exit_code == 0
    for m in ("2026-01", "2026-02", "2026-03"):
        r = run(main, [*db, "close", "run", m])
        assert r.exit_code == 0, r.output
        if m != "2026-03":
            assert run(main, [*db, "close", "lock", m]).exit_code == 0
    payouts = tmp_path / "payouts.csv"
    assert run(main, [*db, "payouts", "export", "2026-03", "--out", str(payouts), "--preliminary"]).exit_code == 0
    rows = {r["rep_id"]: Decimal(r["amount"]) for r in csv.DictReader(payouts.open())}
    out = tmp_path / "st"
    r = run(main, [*db, "statements", "2026-03", "--out", str(out), "--jobs", "2"])
    assert r.exit_code == 0, r.output
    pdfs = sorted(out.glob("statement-2026-03-*.pdf"))
    assert len(pdfs) == len(rows) > 20
    nets = {p.stem.removeprefix("statement-2026-03-"): _net(p) for p in pdfs}
    assert nets == rows
    assert "PRELIMINARY" in PdfReader(pdfs[0]).pages[0].extract_text()
    # a rerun renders nothing; one adjustment re-renders that rep's statement only
    r = run(main, [*db, "statements", "2026-03", "--out", str(out)])
    assert "0 rendered" in r.output
    rep = sorted(rows)[3]
    r = run(main, [*db, "adjust", "--rep", rep, "--period", "2026-03", "--amount", "125.00", "--reason", "Missed SPIFF"])
    assert r.exit_code == 0, r.output
    assert run(main, [*db, "close", "run", "2026-03"]).exit_code == 0
    r = run(main, [*db, "statements", "2026-03", "--out", str(out)])
    assert f"1 rendered, {len(rows) - 1} unchanged" in r.output
    assert run(main, [*db, "payouts", "export", "2026-03", "--out", str(payouts), "--preliminary"]).exit_code == 0
    after = {r["rep_id"]: Decimal(r["amount"]) for r in csv.DictReader(payouts.open())}
    assert _net(out / f"statement-2026-03-{rep}.pdf") == after[rep]
    # (on whichever page the adjustments fall: each line's sources in small print make statements longer)
    assert "Missed SPIFF" in "\n".join(p.extract_text() for p in PdfReader(out / f"statement-2026-03-{rep}.pdf").pages)


def test_statements_of_an_uncalculated_month_fail_cleanly(tmp_path):
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    run = CliRunner().invoke
    assert run(main, [*db, "import", str(REPO / "examples" / "acme"), "--plans", str(REPO / "plans")]).exit_code == 0
    r = run(main, [*db, "statements", "2026-10", "--out", str(tmp_path / "st")])
    assert r.exit_code == 1
    assert "2026-10 has not been calculated" in r.output
    assert not (tmp_path / "st").exists() or not list((tmp_path / "st").glob("*.pdf"))
