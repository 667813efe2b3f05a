"""The demo runs end to end (small size) and leaves what it says it leaves."""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from compengine.cli import main

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_demo_end_to_end(tmp_path):
    out = tmp_path / "demo"
    r = CliRunner().invoke(main, ["demo", "--out", str(out), "--reps", "14", "--deals", "300", "--months", "3",
                                  "--plans", str(REPO / "plans"), "--jobs", "2"])
    assert r.exit_code == 0, r.output
    assert "[9/9] Reconciling the month for finance" in r.output and "ties out" in r.output
    for name in ("reps.csv", "assignments.csv", "deals.csv", "splits.csv"):
        assert (out / "company" / name).is_file()
    payouts = list(csv.DictReader((out / "payouts-2026-03.csv").open()))
    pdfs = sorted((out / "statements" / "2026-03").glob("statement-2026-03-*.pdf"))
    assert len(pdfs) == len(payouts) > 10
    assert {r["status"] for r in payouts} == {"locked"}
    totals: dict[str, Decimal] = {}
    for p in payouts:  # the demo company pays a few reps in EUR: one total per currency, never one sum
        totals[p["currency"]] = totals.get(p["currency"], Decimal(0)) + Decimal(p["amount"])
    pays = next(line for line in r.output.splitlines() if "2026-03 pays " in line)
    assert sorted(pays.split("2026-03 pays ", 1)[1].rstrip(".").split(", ")) == sorted(
        f"{cur} {t:,.2f}" for cur, t in totals.items())
    assert (out / "reconcile-2026-03.html").read_text().count("<table") >= 3
    assert f"sqlite:///{out / 'compengine.db'}" in r.output
    assert "serve --port 8000" in r.output and "ops-demo-2026" in r.output and "rep-demo-2026" in r.output
    status = CliRunner().invoke(main, ["--db", f"sqlite:///{out / 'compengine.db'}", "--as", "ops", "status"])
    assert status.exit_code == 0, status.output
