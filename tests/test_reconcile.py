"""Reconciliation for finance: it ties out on good ledgers and names the rep or deal when a row is broken.

On SQLite and PostgreSQL (the ``ledger`` / ``db_url`` fixtures): the example company and a generated one.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.generate import amend, generate
from compengine.ledger import export_payouts, import_folder, lock_period, run_close, transaction
from compengine.ledger.disputes import open_dispute, resolve
from compengine.ledger.models import PeriodRow
from compengine.ledger.reconcile import reconcile

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
OCT = Period.parse("2026-10")


def close_months(engine, last: str, lock_until: str | None = None) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        first = s.scalar(select(func.min(PeriodRow.period)))
    for p in Period.parse(first).months_through(Period.parse(last)):
        with transaction(engine) as s:
            run_close(s, p, "ops")
        if lock_until and str(p) <= lock_until:
            with transaction(engine) as s:
                lock_period(s, p, "ops", allow_open_disputes=True)


def acme(engine, lock_until: str | None = "2026-09") -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_months(engine, "2026-10", lock_until)


def rec(engine, period: Period = OCT, **kw):  # noqa: ANN001, ANN201
    with transaction(engine) as s:
        return reconcile(s, period, **kw)


def sql(engine, statement: str) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        s.execute(text(statement))


# --------------------------------------------------------------------------- ties out


def test_the_example_company_ties_out_with_every_figure(ledger):
    acme(ledger)
    r = rec(ledger)
    assert r.ok, r.exceptions
    assert r.status == "calculated" and r.currencies == ["USD"]
    usd = r.components["USD"]
    # commission 33,550 = base 41,500 (credit x rate) + accelerators -7,950 (A1's 0.5 band, R1/R2's 1.5 band)
    assert (usd["commission_base"], usd["accelerators"], usd["commission"]) == (Decimal("41500.00"), Decimal("-7950.00"), Decimal("33550.00"))
    assert {k: usd[k] for k in ("spiff", "clawback", "override", "draw", "draw_recovery", "true_up", "cap")} == {
        "spiff": Decimal("1000.00"), "clawback": Decimal("-2750.00"), "override": Decimal("8000.00"), "draw": Decimal("400.00"),
        "draw_recovery": Decimal("-6000.00"), "true_up": Decimal("0.00"), "cap": Decimal("0.00")}
    assert r.total_payout("USD") == Decimal("34200.00")
    assert {t.source: t.amount for t in r.tie_out} == {
        "ledger payout (rep_periods)": Decimal("34200.00"),
        "statement nets (sum of each rep's lines)": Decimal("34200.00"),
        "payout file rows (as the export writes them)": Decimal("34200.00"),
        "period total (periods)": Decimal("34200.00"),
    }
    by_type = {b.deal_type: (b.deals, b.booked, b.credit_due, b.overlay_due) for b in r.bookings}
    assert by_type == {"expansion": (2, Decimal("120000.00"), Decimal("120000.00"), Decimal("0.00")),
                       "new_logo": (3, Decimal("180000.00"), Decimal("180000.00"), Decimal("80000.00")),
                       "renewal": (1, Decimal("500000.00"), Decimal("500000.00"), Decimal("0.00"))}
    assert r.cost_of_sales("USD") == Decimal("4.28")  # 34,200 / 800,000
    assert {(t.team, t.reps, t.payout, t.bookings, t.cost_pct) for t in r.teams} == {
        ("West", 4, Decimal("32200.00"), Decimal("800000.00"), Decimal("4.03")),
        ("SE Overlay", 1, Decimal("2000.00"), Decimal("0.00"), None)}
    assert [(x.kind, x.rep_id, x.amount) for x in r.liabilities] == [("draw", "R2", Decimal("6000.00"))]
    assert r.previous_total == {"USD": Decimal("7750.00")}
    assert [(m.rep_id, m.change) for m in r.movers][:2] == [("A1", Decimal("10200.00")), ("R1", Decimal("8750.00"))]
    text_out = r.text()
    assert text_out.startswith("Reconciliation 2026-10 (calculated): TIES OUT\n")
    assert "Cost of sales (payout as a percent of net bookings)\n  USD: 34,200.00 / 800,000.00 = 4.28%" in text_out


def test_every_month_of_the_example_ties_out(ledger):
    acme(ledger, lock_until="2026-10")
    for p in Period.parse("2026-01").months_through(OCT):
        r = rec(ledger, p)
        assert r.ok, (p, r.exceptions)
        assert r.status == "locked"


def test_a_generated_company_ties_out_every_month_and_after_late_changes(ledger, tmp_path):
    data = tmp_path / "company"
    generate(data, seed=13, reps=30, deals=900, year=2026, months=3, plans_dir=PLANS)
    with transaction(ledger) as s:
        import_folder(s, data, data / "plans", "ops")
    close_months(ledger, "2026-03", lock_until="2026-02")
    for m in ("2026-01", "2026-02", "2026-03"):
        r = rec(ledger, Period.parse(m))
        assert r.ok, (m, r.exceptions[:5])
        assert sum(b.credit_due for b in r.bookings) == sum(x.primary_credit for x in r.reps)
        assert sum(b.overlay_due for b in r.bookings) == sum(x.overlay_credit for x in r.reps)
        assert all(x.components["commission_base"] + x.components["accelerators"] == x.components["commission"] for x in r.reps)
    splits = list(csv.DictReader((data / "splits.csv").open()))
    assert any(s["role"] == "overlay" for s in splits) and any(s["role"] == "primary" for s in splits)
    # later versions of locked months: amendments and cancellations, paid by late-change lines in March
    later = tmp_path / "later"
    amend(data, later, seed=4, fraction=0.05)
    with transaction(ledger) as s:
        report = import_folder(s, later, later / "plans", "ops")
    assert report.late
    with transaction(ledger) as s:
        res = run_close(s, Period.parse("2026-03"), "ops")
    assert any(ln.rule.startswith("late_change") for x in res.reps for ln in x.lines)
    for m in ("2026-01", "2026-02", "2026-03"):
        r = rec(ledger, Period.parse(m))
        assert r.ok, (m, r.exceptions[:5])
    jan = rec(ledger, Period.parse("2026-01"))
    assert any("changed after 2026-01 was locked" in n for n in jan.notes)


def test_payout_file_ties_out_and_a_changed_file_is_caught(ledger, tmp_path):
    acme(ledger, lock_until="2026-10")
    out = tmp_path / "payouts.csv"
    with transaction(ledger) as s:
        export_payouts(s, OCT, out)
    r = rec(ledger, payout_file=out)
    assert r.ok, r.exceptions
    assert [(t.source, t.amount, t.count) for t in r.tie_out if t.source.startswith("payout file payouts")] == [
        ("payout file payouts.csv", Decimal("34200.00"), 5)]
    rows = list(csv.DictReader(out.open()))
    for row in rows:
        if row["rep_id"] == "R1":
            row["amount"] = "11350.00"
    rows = [row for row in rows if row["rep_id"] != "S1"]
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    r = rec(ledger, payout_file=out)
    got = [(f.check, f.rep_id, f.difference) for f in r.exceptions]
    assert got == [("payout_file", "R1", Decimal("100.00")), ("payout_file", "S1", Decimal("-2000.00"))]
    assert str(r.exceptions[0]) == f"[payout_file] {out}:4: R1: the file pays 11,350.00, the ledger 11,250.00"
    with pytest.raises(CompErrors, match="not a payout file"):
        bad = tmp_path / "bad.csv"
        bad.write_text("a,b\n1,2\n")
        rec(ledger, payout_file=bad)


def test_open_disputes_are_liabilities_and_dispute_money_is_shown(ledger):
    acme(ledger, lock_until="2026-10")
    with transaction(ledger) as s:
        a = open_dispute(s, "R1", OCT, "D9 renewal missing", "ravi", deal_id="D9", amount=Decimal("800.00")).id
        open_dispute(s, "R2", OCT, "rate", "jo")
    with transaction(ledger) as s:
        resolve(s, a, "finance", True, "ok", amount=Decimal("800.00"))
    with transaction(ledger) as s:
        run_close(s, Period.parse("2026-11"), "ops")
    r = rec(ledger, Period.parse("2026-11"))
    assert r.ok, r.exceptions
    assert r.adjustments["USD"] == {"dispute": Decimal("800.00"), "manual": Decimal("0.00"), "late_change": Decimal("0.00")}
    assert [(x.kind, x.rep_id, x.amount) for x in r.liabilities if x.kind == "dispute"] == [("dispute", "R2", None)]


def test_an_unlocked_uncalculated_month_is_refused(ledger):
    acme(ledger)
    with pytest.raises(CompErrors, match="2026-11 has not been calculated"):
        rec(ledger, Period.parse("2026-11"))


# --------------------------------------------------------------------------- broken ledgers name the cause


def test_a_changed_line_amount_names_the_rep_and_the_deal(ledger):
    acme(ledger)
    sql(ledger, "UPDATE payout_lines SET amount = amount + 100000 WHERE period = '2026-10' AND rep_id = 'R1' "
                "AND deal_id = 'D3' AND kind = 'commission'")
    r = rec(ledger)
    assert not r.ok
    statement = [f for f in r.exceptions if f.check == "statement"]
    assert [(f.rep_id, f.deal_id, f.difference) for f in statement] == [("R1", "D3", Decimal("100.00"))]
    assert "line 4 on D3 pays 2,350.00 but its credit x rate x multiplier is 2,250.00" in statement[0].message
    assert {f.check for f in r.exceptions} == {"statement", "payout_file"}  # the export refuses too


def test_a_deleted_line_names_the_rep(ledger):
    acme(ledger)
    sql(ledger, "DELETE FROM payout_lines WHERE period = '2026-10' AND rep_id = 'M1' AND deal_id = 'D8'")
    r = rec(ledger)
    got = {(f.check, f.rep_id) for f in r.exceptions}
    assert {("statement", "M1"), ("period", None)} <= got
    assert any(f.check == "statement" and f.difference == Decimal("-900.00") for f in r.exceptions)


def test_a_changed_credit_names_the_deal(ledger):
    acme(ledger)
    sql(ledger, "UPDATE payout_lines SET credit = credit - 1000000 WHERE period = '2026-10' AND rep_id = 'R2' "
                "AND deal_id = 'D2' AND kind = 'commission' AND tier = 2")
    r = rec(ledger)
    assert [(f.check, f.rep_id, f.deal_id, f.difference) for f in r.exceptions] == [
        ("credited", "R2", None, Decimal("-1000.00")), ("credit", "R2", "D2", Decimal("-1000.00"))]
    assert r.exceptions[1].message == "D2: R2's primary credit on the commission lines is 31,000.00, the deal and its splits give 32,000.00"


def test_a_line_for_a_deal_of_another_month_is_caught(ledger):
    acme(ledger)
    sql(ledger, "UPDATE payout_lines SET deal_id = 'D6' WHERE period = '2026-10' AND rep_id = 'A1' AND deal_id = 'D8'")
    r = rec(ledger)
    assert {(f.rep_id, f.deal_id) for f in r.exceptions if f.check == "credit"} == {("A1", "D6"), ("A1", "D8")}


def test_a_payout_row_that_disagrees_with_its_lines(ledger):
    acme(ledger)
    sql(ledger, "UPDATE rep_periods SET payout = payout + 10 WHERE period = '2026-10' AND rep_id = 'S1'")
    r = rec(ledger)
    checks = {(f.check, f.rep_id) for f in r.exceptions}
    assert ("statement", "S1") in checks and ("period", None) in checks


# --------------------------------------------------------------------------- CLI


def test_cli_reconcile_ties_out_and_writes_reports(db_url, tmp_path):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    for m in range(1, 11):
        assert run(main, [*db, "close", "run", f"2026-{m:02d}"]).exit_code == 0
        assert run(main, [*db, "close", "lock", f"2026-{m:02d}"]).exit_code == 0
    assert run(main, [*db, "payouts", "export", "2026-10", "--out", str(tmp_path / "p.csv")]).exit_code == 0
    r = run(main, [*db, "reconcile", "2026-10", "--payout-file", str(tmp_path / "p.csv")])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("Reconciliation 2026-10 (locked): TIES OUT")
    assert "payout file p.csv" in r.stdout
    data = json.loads(run(main, [*db, "reconcile", "2026-10", "--json"]).stdout)
    assert data["ties_out"] is True and data["exceptions"] == []
    assert data["payout"]["USD"]["total"] == "34200.00" and data["payout"]["USD"]["cost_of_sales_pct"] == "4.28"
    assert {"bookings", "tie_out", "teams", "reps", "liabilities", "month_over_month", "notes"} <= set(data)
    for name in ("r.csv", "r.html", "r.pdf"):
        r = run(main, [*db, "reconcile", "2026-10", "--out", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    sections = [row[0] for row in csv.reader((tmp_path / "r.csv").open()) if row and row[0].startswith("# ")]
    assert sections == ["# Summary", "# Exceptions", "# Bookings", "# Payout by component", "# Plan components", "# Tie-out",
                        "# By team", "# By rep", "# By rep and plan component", "# Liabilities", "# Month over month",
                        "# Notes"]
    html = (tmp_path / "r.html").read_text()
    assert "Commission reconciliation" in html and "34,200.00" in html
    assert "<style>" in html and "@page" in html and "<link" not in html  # the stylesheet inlined: one file
    assert not (tmp_path / "reconcile.css").exists()
    pdf = tmp_path / "r.pdf"
    assert pdf.read_bytes()[:5] == b"%PDF-"
    from pypdf import PdfReader

    page = PdfReader(str(pdf)).pages[0].extract_text()
    assert "Commission reconciliation" in page and "Ties out" in page
    r = run(main, [*db, "reconcile", "2026-10", "--out", str(tmp_path / "r.txt")])
    assert r.exit_code == 2 and ".html, .pdf or .csv" in r.output


def test_cli_reconcile_exits_non_zero_and_names_the_cause(db_url):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    for m in range(1, 11):
        assert run(main, [*db, "close", "run", f"2026-{m:02d}"]).exit_code == 0
    from compengine.ledger import open_ledger

    engine = open_ledger(db_url)
    try:
        sql(engine, "UPDATE payout_lines SET amount = amount - 50000 WHERE period = '2026-10' AND rep_id = 'A1' "
                    "AND deal_id = 'D7' AND kind = 'commission'")
    finally:
        engine.dispose()
    r = run(main, [*db, "reconcile", "2026-10"])
    assert r.exit_code == 1
    assert "2 EXCEPTION(S)" in r.stdout
    assert "[statement] A1: the statement net (sum of its lines) is 10,150.00 but the ledger pays 10,200.00; line 1 on D7" in r.stdout
    assert "2026-10 does not tie out: 2 exception(s)" in r.stderr
    data = json.loads(run(main, [*db, "reconcile", "2026-10", "--json"]).stdout)
    assert data["ties_out"] is False
    assert {(f["check"], f["rep_id"], f["deal_id"]) for f in data["exceptions"]} >= {("statement", "A1", "D7")}
    r = run(main, [*db, "reconcile", "2026-12"])
    assert r.exit_code == 1 and "has not been calculated" in r.output


def test_deal_fingerprints_are_the_same_in_python_and_in_sql(ledger):
    from compengine.ledger.reconcile import _fingerprint, _fingerprint_sql

    ids = ["D1", "D", "AB", "D000123", "D000124", "006Dn000004abcdE", "Ünïcødé-42", "a b", "x" * 64]
    with transaction(ledger) as s:
        conn = s.connection()
        got = {i: conn.execute(text(f"SELECT {_fingerprint_sql('CAST(:d AS VARCHAR(64))', conn.dialect.name)}"), {"d": i}).scalar()
               for i in ids}
    assert got == {i: _fingerprint(i) for i in ids}
    assert len(set(got.values())) == len(ids)  # these differ in their last three characters
    assert _fingerprint("D000123") == _fingerprint("D100123")  # only the last three count: the per-deal trace decides


def test_commission_base_is_credit_times_rate_rounded_in_each_plans_mode(ledger, tmp_path):
    """The SQL base (half up, with half-even plans' exact half cents corrected) equals the statements' rule."""
    from compengine.core.money import CONTEXT, round_money
    from compengine.ledger.close import load_plan_versions
    from compengine.ledger.models import PayoutLineRow, RepPeriod

    data = tmp_path / "acme"
    shutil.copytree(ACME, data)
    with (data / "deals.csv").open("a") as fh:  # M1's plan rounds half-even: 10,000.10 x 5% = 500.005 -> 500.00
        fh.write("D10,Tyrell,new_logo,10000.10,USD,2026-10-05,M1,12,Platform,\n")
        fh.write("D11,Cyberdyne,new_logo,10000.30,USD,2026-10-06,M1,12,Platform,\n")  # 500.015 -> 500.02
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
    close_months(ledger, "2026-10", "2026-09")
    r = rec(ledger)
    assert r.ok, r.exceptions[:5]
    with transaction(ledger) as s:
        plans, _ = load_plan_versions(s, json.loads(s.get(PeriodRow, "2026-10").plan_versions))
        plan_of = dict(s.execute(select(RepPeriod.rep_id, RepPeriod.plan_id).where(RepPeriod.period == "2026-10")).all())
        want: dict[str, Decimal] = {}
        for ln in s.scalars(select(PayoutLineRow).where(PayoutLineRow.period == "2026-10", PayoutLineRow.kind == "commission")):
            exact = CONTEXT.multiply(ln.credit, ln.rate)
            want[ln.rep_id] = want.get(ln.rep_id, Decimal("0.00")) + round_money(exact, plans[plan_of[ln.rep_id]].rounding)
    assert want["M1"] == Decimal("1000.02")  # half up would give 1,000.03
    assert {x.rep_id: x.components["commission_base"] for x in r.reps if x.rep_id in want} == want
    # lines stored before they carried a base (migration 0007), for one rep only: its base is worked out in SQL
    # (half-even's exact half cents corrected), the other reps' read as stored: the same figures either way
    with transaction(ledger) as s:
        s.execute(text("UPDATE payout_lines SET base = NULL WHERE period = '2026-10' AND rep_id = 'M1'"))
    again = rec(ledger)
    assert again.ok, again.exceptions[:5]
    assert {x.rep_id: x.components["commission_base"] for x in again.reps if x.rep_id in want} == want
    assert again.as_dict()["reps"] == r.as_dict()["reps"]
