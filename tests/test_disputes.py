"""Disputes on the record: open, comment, approve (with an amount or by correction), reject; the lock rule.

On SQLite and PostgreSQL (the ``ledger`` / ``db_url`` fixtures). The example company: R1 and R2 split
D2 (80,000.00, new logo, 36 months) 60/40 in October 2026; R1's quota is 100,000.00 a month.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.disputes import comment, list_disputes, open_dispute, resolve, show_dispute
from compengine.ledger.models import AdjustmentRow, AuditRow, DisputeRow, PayoutLineRow, PeriodRow

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
OCT, NOV = Period.parse("2026-10"), Period.parse("2026-11")


def close_months(engine, last: str, lock_until: str | None = None) -> None:  # noqa: ANN001
    """Run every month of the ledger through ``last``, locking those up to ``lock_until``."""
    with transaction(engine) as s:
        first = s.scalar(select(func.min(PeriodRow.period)))
    for p in Period.parse(first).months_through(Period.parse(last)):
        with transaction(engine) as s:
            run_close(s, p, "ops")
        if lock_until and str(p) <= lock_until:
            with transaction(engine) as s:
                lock_period(s, p, "ops", allow_open_disputes=True)


def acme_ledger(engine, *, lock_until: str = "2026-10") -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_months(engine, "2026-10", lock_until)


def resplit_d2(tmp_path: Path, r1: str = "70", r2: str = "30") -> Path:
    """A copy of the example data with D2's primary split corrected to R1 ``r1``% / R2 ``r2``%."""
    data = tmp_path / "corrected"
    shutil.copytree(ACME, data)
    path = data / "splits.csv"
    rows = list(csv.DictReader(path.open()))
    for r in rows:
        if r["deal_id"] == "D2" and r["rep_id"] == "R1":
            r["split_pct"] = r1
        if r["deal_id"] == "D2" and r["rep_id"] == "R2":
            r["split_pct"] = r2
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    return data


def lines(engine, period: str, rep_id: str, kind: str | None = None) -> list[PayoutLineRow]:  # noqa: ANN001
    with transaction(engine) as s:
        q = select(PayoutLineRow).where(PayoutLineRow.period == period, PayoutLineRow.rep_id == rep_id).order_by(PayoutLineRow.seq)
        if kind:
            q = q.where(PayoutLineRow.kind == kind)
        return list(s.scalars(q))


def audit_actions(engine, entity_id: str) -> list[tuple[str, str]]:  # noqa: ANN001
    with transaction(engine) as s:
        return [tuple(r) for r in s.execute(select(AuditRow.actor, AuditRow.action)
                                            .where(AuditRow.entity == "dispute", AuditRow.entity_id == entity_id)
                                            .order_by(AuditRow.id))]


# --------------------------------------------------------------------------- open, list, show, comment


def test_open_list_show_and_comment(ledger):
    acme_ledger(ledger)
    with transaction(ledger) as s:
        d = open_dispute(s, "R1", OCT, "My split on D2 is 70%, not 60%", "ravi", deal_id="D2", amount=Decimal("1200.00"))
        open_dispute(s, "R2", "2026-10", "Wrong rate on D4", "jo", deal_id="D4")
        did = d.id
    assert d.status == "open" and d.period == "2026-10" and d.amount == Decimal("1200.00")
    with transaction(ledger) as s:
        comment(s, did, "Asked the deal desk for the signed split form", "ops")
        assert [x.rep_id for x in list_disputes(s)] == ["R1", "R2"]
        assert [x.rep_id for x in list_disputes(s, status="open", rep_id="R1", period="2026-10")] == ["R1"]
        assert list_disputes(s, status="approved") == []
        row, history = show_dispute(s, did)
    assert [(e.action, e.actor) for e in history] == [("opened", "ravi"), ("comment", "ops")]
    assert history[0].text == "My split on D2 is 70%, not 60%, claims 1,200.00"
    assert audit_actions(ledger, str(did)) == [("ravi", "dispute.open"), ("ops", "dispute.comment")]


def test_open_checks_everything_and_reports_every_error(ledger):
    acme_ledger(ledger)
    with pytest.raises(CompErrors) as err:
        with transaction(ledger) as s:
            open_dispute(s, "NOPE", "2030-01", " ", "ravi", deal_id="D99", amount=Decimal("1.005"))
    assert [str(e) for e in err.value.errors] == [
        "unknown rep 'NOPE'",
        "unknown deal 'D99': import it first, or open the dispute without --deal",
        "period 2030-01 is not in the ledger",
        "a dispute needs a reason",
        "the amount claimed 1.005 has fractions of a cent",
    ]
    with pytest.raises(CompErrors, match="expected YYYY-MM"):
        with transaction(ledger) as s:
            open_dispute(s, "R1", "Oct 2026", "x", "ravi")
    with transaction(ledger) as s:
        assert s.scalar(select(func.count()).select_from(DisputeRow)) == 0


# --------------------------------------------------------------------------- approve with an amount


def test_approve_with_amount_pays_in_the_next_open_month(ledger):
    acme_ledger(ledger)  # October locked
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "Soylent renewal promised in October", "ravi", deal_id="D9").id
    with transaction(ledger) as s:
        res = resolve(s, did, "finance", True, "Confirmed by the VP", amount=Decimal("1200.00"))
        assert (res.how, res.lands_in, res.amount) == ("amount", "2026-11", Decimal("1200.00"))
        adj = s.get(AdjustmentRow, res.adjustment_id)
        assert (adj.period, adj.rep_id, adj.amount, adj.dispute_id, adj.kind, adj.deal_id, adj.ref_period) == (
            "2026-11", "R1", Decimal("1200.00"), did, "dispute", "D9", "2026-10")
        row = s.get(DisputeRow, did)
        assert (row.status, row.resolved_amount, row.adjustment_id, row.resolved_by) == ("approved", Decimal("1200.00"), adj.id, "finance")
        assert row.resolution == "Approved 1,200.00, paid in 2026-11: Confirmed by the VP"
    with transaction(ledger) as s:
        result = run_close(s, NOV, "ops")
    adj_lines = [ln for ln in result.rep("R1").lines if ln.kind == "adjustment"]
    assert len(adj_lines) == 1
    ln = adj_lines[0]
    assert (ln.amount, ln.ref, ln.rule, ln.deal_id, ln.ref_period) == (Decimal("1200.00"), f"dispute:{did}", f"dispute:{did}", "D9", "2026-10")
    assert ln.explain == f"Dispute {did} approved: Confirmed by the VP (by finance)"
    stored = lines(ledger, "2026-11", "R1", "adjustment")
    assert [(x.ref, x.amount) for x in stored] == [(f"dispute:{did}", Decimal("1200.00"))]
    assert audit_actions(ledger, str(did)) == [("ravi", "dispute.open"), ("finance", "dispute.approve")]
    with transaction(ledger) as s:
        _, history = show_dispute(s, did)
    assert [e.action for e in history] == ["opened", "approved"]


def test_approve_with_amount_in_an_unlocked_month_pays_in_that_month(ledger):
    acme_ledger(ledger, lock_until="2026-09")  # October calculated, not locked
    with transaction(ledger) as s:
        did = open_dispute(s, "R2", OCT, "Missing SPIFF", "jo", amount=Decimal("250.00")).id
    with transaction(ledger) as s:
        res = resolve(s, did, "finance", True, "SPIFF owed", amount=Decimal("250.00"))
        assert res.lands_in == "2026-10"
        assert s.get(PeriodRow, "2026-10").status == "stale"  # its lines are stale until the next run
    with transaction(ledger) as s:
        result = run_close(s, OCT, "ops")
    assert [(ln.ref, ln.amount) for ln in result.rep("R2").lines if ln.kind == "adjustment"] == [(f"dispute:{did}", Decimal("250.00"))]


# --------------------------------------------------------------------------- approve by correction


def test_approve_by_correction_pays_the_recalculated_difference_once(ledger, tmp_path):
    acme_ledger(ledger)  # October locked: R1 has D2 at 60% = 48,000 credit
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "D2 was agreed 70/30 with Jo", "ravi", deal_id="D2", amount=Decimal("1000.00")).id
    with pytest.raises(CompErrors, match="the correction changes nothing for R1 on D2 in 2026-10: import the corrected data first"):
        with transaction(ledger) as s:
            resolve(s, did, "finance", True, "split fixed", by_correction=True)
    with transaction(ledger) as s:
        import_folder(s, resplit_d2(tmp_path), PLANS, "ops")
    with transaction(ledger) as s:
        res = resolve(s, did, "finance", True, "Split form signed 70/30", by_correction=True)
        # R1 on D2 now: credit 56,000 after D1's 60,000: 40,000 in band 1 at 10% = 4,000 and 16,000 in band 2
        # at 10% x 1.5 = 2,400 -> 6,400 (was 4,000 + 1,200 = 5,200); the multi-year SPIFF 500 x 70% = 350 (was 300).
        assert (res.how, res.amount, res.lands_in, res.adjustment_id) == ("correction", Decimal("1250.00"), "2026-11", None)
        assert res.changes == ["D2 commission 5,200.00 -> 6,400.00", "D2 SPIFFs/overrides 300.00 -> 350.00"]
        row = s.get(DisputeRow, did)
        assert (row.status, row.resolved_amount, row.adjustment_id) == ("approved", Decimal("1250.00"), None)
        assert s.scalar(select(func.count()).select_from(AdjustmentRow)) == 0  # no hand-typed adjustment: no double pay
    with transaction(ledger) as s:
        result = run_close(s, NOV, "ops")
    r1 = [ln for ln in result.rep("R1").lines if ln.kind == "adjustment"]
    assert sum(ln.amount for ln in r1) == Decimal("1250.00")  # exactly the resolved amount, paid once
    assert {(ln.rule, ln.deal_id, ln.ref_period) for ln in r1} == {("late_change.commission", "D2", "2026-10"),
                                                                 ("late_change.other", "D2", "2026-10")}
    assert all(ln.explain.endswith(f"; pays dispute {did} (approved by correction)") for ln in r1)
    r2 = [ln for ln in result.rep("R2").lines if ln.kind == "adjustment"]
    assert sum(ln.amount for ln in r2) == Decimal("-1250.00") and not any("dispute" in ln.explain for ln in r2)
    # once November is locked, December's close does not tag or pay it again
    with transaction(ledger) as s:
        lock_period(s, NOV, "ops")
    with transaction(ledger) as s:
        dec = run_close(s, Period.parse("2026-12"), "ops")
    assert not [ln for r in dec.reps for ln in r.lines if ln.kind == "adjustment"]
    assert audit_actions(ledger, str(did)) == [("ravi", "dispute.open"), ("finance", "dispute.approve")]


def test_approve_by_correction_of_an_unlocked_month(ledger, tmp_path):
    acme_ledger(ledger, lock_until="2026-09")  # October calculated: its lines are the baseline
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "D2 should be 70/30", "ravi", deal_id="D2").id
    with transaction(ledger) as s:
        rep = import_folder(s, resplit_d2(tmp_path), PLANS, "ops")
    assert rep.invalidated == ["2026-10"]  # October's lines are gone until it runs again
    with transaction(ledger) as s:
        res = resolve(s, did, "finance", True, "Split fixed", by_correction=True)
    assert (res.amount, res.lands_in) == (Decimal("1250.00"), "2026-10")
    with transaction(ledger) as s:
        result = run_close(s, OCT, "ops")
    d2 = sum(ln.amount for ln in result.rep("R1").lines if ln.deal_id == "D2" and ln.kind in ("commission", "spiff"))
    assert d2 == Decimal("6750.00")  # 5,500 (4,000 + 1,200 + 300) before, + 1,250


def test_correction_of_a_locked_month_without_a_deal_change_is_refused(ledger, tmp_path):
    acme_ledger(ledger)
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "rate", "ravi").id
    with pytest.raises(CompErrors, match="changes nothing for R1 in 2026-10"):
        with transaction(ledger) as s:
            resolve(s, did, "finance", True, "x", by_correction=True)


# --------------------------------------------------------------------------- reject, closed disputes


def test_reject_closes_it_and_a_closed_dispute_cannot_be_resolved_again(ledger):
    acme_ledger(ledger)
    with transaction(ledger) as s:
        did = open_dispute(s, "R2", OCT, "D4 should pay the new-logo SPIFF twice", "jo", deal_id="D4", amount=Decimal("500.00")).id
    with transaction(ledger) as s:
        res = resolve(s, did, "finance", False, "The SPIFF pays once per deal")
        assert res.how == "rejected"
        row = s.get(DisputeRow, did)
        assert (row.status, row.resolution, row.resolved_amount) == ("rejected", "Rejected: The SPIFF pays once per deal", None)
    for kwargs in ({"approve": True, "amount": Decimal("1.00")}, {"approve": False}):
        with pytest.raises(CompErrors, match=f"dispute {did} is already rejected"):
            with transaction(ledger) as s:
                resolve(s, did, "finance", note="again", **kwargs)
    with transaction(ledger) as s:
        comment(s, did, "Explained to Jo", "ops")  # comments stay possible
        _, history = show_dispute(s, did)
    assert [e.action for e in history] == ["opened", "rejected", "comment"]
    assert audit_actions(ledger, str(did)) == [("jo", "dispute.open"), ("finance", "dispute.reject"), ("ops", "dispute.comment")]


def test_resolve_argument_rules(ledger):
    acme_ledger(ledger)
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "x", "ravi").id
    cases = [
        (dict(approve=True, note="n"), "exactly one of them"),
        (dict(approve=True, note="n", amount=Decimal("5.00"), by_correction=True), "exactly one of them"),
        (dict(approve=False, note="n", amount=Decimal("5.00")), "takes no amount"),
        (dict(approve=True, note=" ", amount=Decimal("5.00")), "needs a note"),
        (dict(approve=True, note="n", amount=Decimal("0.00")), "is 0.00"),
    ]
    for kwargs, message in cases:
        with pytest.raises(CompErrors, match=message):
            with transaction(ledger) as s:
                resolve(s, did, "finance", **kwargs)
    with pytest.raises(CompErrors, match="no dispute 999"):
        with transaction(ledger) as s:
            resolve(s, 999, "finance", False, "n")


# --------------------------------------------------------------------------- the lock rule


def test_a_month_with_open_disputes_locks_only_when_allowed_and_that_is_recorded(ledger):
    acme_ledger(ledger, lock_until="2026-09")
    with transaction(ledger) as s:
        open_dispute(s, "R1", OCT, "missing deal", "ravi")
    with pytest.raises(CompErrors, match="period 2026-10 has 1 open dispute"):
        with transaction(ledger) as s:
            lock_period(s, OCT, "ops")
    with transaction(ledger) as s:
        assert s.get(PeriodRow, "2026-10").status == "calculated"
        lock_period(s, OCT, "lead", allow_open_disputes=True)
    with transaction(ledger) as s:
        entry = s.execute(select(AuditRow).where(AuditRow.action == "close.lock", AuditRow.period == "2026-10")).scalar_one()
        assert entry.actor == "lead" and "with 1 open dispute(s) allowed" in entry.summary
        assert json.loads(entry.after)["open_disputes_allowed"] == 1


def test_resolved_disputes_do_not_block_the_lock(ledger):
    acme_ledger(ledger, lock_until="2026-09")
    with transaction(ledger) as s:
        did = open_dispute(s, "R1", OCT, "missing deal", "ravi").id
    with transaction(ledger) as s:
        resolve(s, did, "finance", False, "Closed in November")
    with transaction(ledger) as s:
        lock_period(s, OCT, "ops")
        assert s.get(PeriodRow, "2026-10").status == "locked"


# --------------------------------------------------------------------------- CLI


def test_cli_dispute_lifecycle(db_url, tmp_path):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    for m in range(1, 11):
        assert run(main, [*db, "close", "run", f"2026-{m:02d}"]).exit_code == 0
        if m < 10:
            assert run(main, [*db, "close", "lock", f"2026-{m:02d}"]).exit_code == 0
    r = run(main, [*db, "--as", "ravi", "disputes", "open", "--rep", "R1", "--period", "2026-10", "--deal", "D2",
                   "--reason", "D2 was agreed 70/30", "--amount", "1200.00", "--json"])
    assert r.exit_code == 0, r.output
    first = json.loads(r.stdout)
    assert {k: first[k] for k in ("id", "rep_id", "period", "deal_id", "status", "amount")} == {
        "id": 1, "rep_id": "R1", "period": "2026-10", "deal_id": "D2", "status": "open", "amount": "1200.00"}
    r = run(main, [*db, "--as", "jo", "disputes", "open", "--rep", "R2", "--period", "2026-10", "--reason", "Rate on D4"])
    assert r.exit_code == 0 and r.stdout == "dispute 2 opened for R2 in 2026-10\n"
    bad = run(main, [*db, "disputes", "open", "--rep", "R9", "--period", "2026-10", "--reason", "x"])
    assert bad.exit_code == 1 and "unknown rep 'R9'" in bad.output

    locked = run(main, [*db, "close", "lock", "2026-10"])
    assert locked.exit_code == 1 and "2 open dispute(s)" in locked.output
    assert run(main, [*db, "disputes", "comment", "1", "--text", "Checking the split form"]).exit_code == 0

    listed = json.loads(run(main, [*db, "disputes", "list", "--status", "open", "--json"]).stdout)
    assert [(d["id"], d["rep_id"], d["status"], d["amount"], d["deal_id"]) for d in listed] == [
        (1, "R1", "open", "1200.00", "D2"), (2, "R2", "open", None, None)]
    text = run(main, [*db, "disputes", "list", "--rep", "R1"]).stdout
    assert "D2" in text and "1,200.00" in text and "R2" not in text

    # usage errors
    r = run(main, [*db, "disputes", "resolve", "1", "--note", "x"])
    assert r.exit_code == 2 and "--approve or --reject" in r.output
    r = run(main, [*db, "disputes", "resolve", "1", "--approve", "--note", "x"])
    assert r.exit_code == 2 and "--amount X or --correction" in r.output

    r = run(main, [*db, "--as", "finance", "disputes", "resolve", "1", "--approve", "--amount", "1200.00", "--note", "VP approved"])
    assert r.exit_code == 0, r.output
    assert r.stdout.startswith("dispute 1 approved: 1,200.00 for R1 as adjustment 1 in 2026-10")
    r = run(main, [*db, "--as", "finance", "disputes", "resolve", "2", "--reject", "--note", "Rate is right"])
    assert r.exit_code == 0 and r.stdout == "dispute 2 rejected\n"
    again = run(main, [*db, "disputes", "resolve", "2", "--reject", "--note", "x"])
    assert again.exit_code == 1 and "already rejected" in again.output

    shown = json.loads(run(main, [*db, "disputes", "show", "1", "--json"]).stdout)
    assert [(h["action"], h["actor"]) for h in shown["history"]] == [("opened", "ravi"), ("comment", shown["history"][1]["actor"]),
                                                                      ("approved", "finance")]
    assert shown["status"] == "approved" and shown["resolved_amount"] == "1200.00" and shown["adjustment_id"] == 1
    text = run(main, [*db, "disputes", "show", "1"]).stdout
    assert "History:" in text and "approved" in text and "Checking the split form" in text

    # October was not locked: the adjustment lands in October itself at its next run
    r = run(main, [*db, "close", "run", "2026-10", "--json"])
    assert r.exit_code == 0
    r1 = next(x for x in json.loads(r.stdout)["reps"] if x["rep_id"] == "R1")
    assert Decimal(r1["payout"]) == Decimal("12450.00")  # 11,250 + 1,200
    assert run(main, [*db, "close", "lock", "2026-10"]).exit_code == 0  # nothing open any more
    au = json.loads(run(main, [*db, "audit", "--period", "2026-10", "--json"]).stdout)
    assert {("ravi", "dispute.open"), ("finance", "dispute.approve"), ("finance", "dispute.reject")} <= {(a["actor"], a["action"]) for a in au}


def test_cli_approve_by_correction(db_url, tmp_path):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    for m in range(1, 11):
        assert run(main, [*db, "close", "run", f"2026-{m:02d}"]).exit_code == 0
        assert run(main, [*db, "close", "lock", f"2026-{m:02d}"]).exit_code == 0
    assert run(main, [*db, "disputes", "open", "--rep", "R1", "--period", "2026-10", "--deal", "D2", "--reason", "70/30"]).exit_code == 0
    r = run(main, [*db, "disputes", "resolve", "1", "--approve", "--correction", "--note", "fixed"])
    assert r.exit_code == 1 and "import the corrected data first" in r.output
    assert run(main, [*db, "import", str(resplit_d2(tmp_path)), "--plans", str(PLANS)]).exit_code == 0
    r = run(main, [*db, "disputes", "resolve", "1", "--approve", "--correction", "--note", "fixed", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert (out["resolved_amount"], out["lands_in"], out["resolved_by_how"]) == ("1250.00", "2026-11", "correction")
    r = run(main, [*db, "close", "run", "2026-11", "--json"])
    r1 = next(x for x in json.loads(r.stdout)["reps"] if x["rep_id"] == "R1")
    assert Decimal(r1["payout"]) == Decimal("1250.00")
