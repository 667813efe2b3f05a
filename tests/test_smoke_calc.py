"""End-to-end check of the example company through the CLI (numbers hand-checked in plans/README.md)."""

import json

from click.testing import CliRunner

from compengine.cli import main


def test_calc_example_company_json():
    res = CliRunner().invoke(main, ["calc", "--plans", "plans", "--data", "examples/acme", "--period", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    r1 = next(r for r in out["reps"] if r["rep_id"] == "R1")
    # D1 60,000 + 40,000 of D2 at 10% (band 1), 8,000 of D2 at 10% x 1.5, D3 30,000 at 5% x 1.5
    assert [ln["amount"] for ln in r1["lines"] if ln["kind"] == "commission"] == ["6000.00", "4000.00", "1200.00", "2250.00"]
    assert r1["spiff"] == "300.00"
    assert r1["clawback"] == "-2500.00"
    assert r1["payout"] == "11250.00"
    assert out["total_payout"] == f"{sum(__import__('decimal').Decimal(r['payout']) for r in out['reps']):.2f}"
