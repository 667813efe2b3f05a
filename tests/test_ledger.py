"""The ledger and the monthly close, on SQLite and PostgreSQL (the ``db_url`` fixture)."""

from __future__ import annotations

import csv
import json
import shutil
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine.driver import calculate_through
from compengine.engine.report import result_dict
from compengine.ledger import add_adjustment, export_payouts, import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.models import AuditRow, Base, DealEvent, DealRow, PayoutLineRow, PlanVersion, RepRow
from compengine.plans import load_plans

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"


def copy_acme(tmp_path: Path) -> Path:
    dst = tmp_path / "acme"
    shutil.copytree(ACME, dst)
    return dst


def rewrite(path: Path, change) -> None:  # noqa: ANN001
    rows = list(csv.DictReader(path.open()))
    fields = list(rows[0].keys())
    rows = change(rows) or rows
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)


def close_through(engine, last: str, actor: str = "tester", lock_until: str | None = None) -> None:  # noqa: ANN001
    """Run (and lock, up to ``lock_until``) every month of the ledger through ``last``."""
    from compengine.ledger.models import PeriodRow

    with transaction(engine) as s:
        first = s.scalar(select(func.min(PeriodRow.period)))
    for p in Period.parse(first).months_through(Period.parse(last)):
        with transaction(engine) as s:
            row = s.get(PeriodRow, str(p))
            if row is not None and row.status == "locked":
                continue
            run_close(s, p, actor)
        if lock_until and str(p) <= lock_until:
            with transaction(engine) as s:
                lock_period(s, p, actor)


def lines_of(engine, period: str) -> list[tuple]:  # noqa: ANN001
    with transaction(engine) as s:
        return [
            (r.rep_id, r.seq, r.kind, r.deal_id, r.amount, r.explain, r.ref_period)
            for r in s.scalars(select(PayoutLineRow).where(PayoutLineRow.period == period).order_by(PayoutLineRow.rep_id, PayoutLineRow.seq))
        ]


def count_rows(engine) -> dict[str, int]:  # noqa: ANN001
    with transaction(engine) as s:
        return {t.name: s.scalar(select(func.count()).select_from(t)) for t in Base.metadata.sorted_tables}


# --------------------------------------------------------------------------- money storage


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cents=st.integers(min_value=-(10**15), max_value=10**15), pct=st.decimals(min_value=0, max_value=100, places=4))
def test_money_and_decimals_round_trip_exactly(ledger, cents, pct):
    amount = Decimal(cents).scaleb(-2)
    with transaction(ledger) as s:
        s.add(PayoutLineRow(period="2026-01", rep_id="X", seq=1, kind="commission", amount=amount, split_pct=pct,
                            rate=Decimal("0.10"), rule="", explain=""))
    with transaction(ledger) as s:
        got = s.execute(select(PayoutLineRow.amount, PayoutLineRow.split_pct, PayoutLineRow.rate)
                        .order_by(PayoutLineRow.id.desc()).limit(1)).one()
        assert got[0] == amount and str(got[0]) == f"{amount:.2f}"
        assert got[1] == pct
        assert str(got[2]) == "0.10"
        s.execute(PayoutLineRow.__table__.delete())


def test_money_refuses_floats(ledger):
    with pytest.raises(Exception, match="float"):
        with transaction(ledger) as s:
            s.add(RepRow(rep_id="Y", name="Y", email="", manager_id=None, team="", hire_date=None))
            s.flush()
            s.add(PayoutLineRow(period="2026-01", rep_id="Y", seq=1, kind="x", amount=1.5, rule="", explain=""))
            s.flush()


# --------------------------------------------------------------------------- import


def test_import_then_reimport_changes_nothing(ledger, tmp_path):
    with transaction(ledger) as s:
        rep = import_folder(s, ACME, PLANS, "ops")
    assert rep.deals_added == 9 and rep.reps_added == 5 and len(rep.plans_added) == 4
    before = count_rows(ledger)
    with transaction(ledger) as s:
        again = import_folder(s, ACME, PLANS, "ops")
    assert not again.changed
    assert again.text().startswith("No changes")
    assert count_rows(ledger) == before


def test_import_with_one_bad_row_in_the_middle_writes_nothing(ledger, tmp_path):
    data = copy_acme(tmp_path)

    def breaks(rows):
        rows[4]["amount"] = "12,5x0"
    rewrite(data / "deals.csv", breaks)
    with pytest.raises(CompErrors) as err:
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    assert str(err.value.errors[0]) == f"{data / 'deals.csv'}:6: amount: not a number '12,5x0'"
    assert all(n == 0 for name, n in count_rows(ledger).items() if name != "alembic_version")


def test_import_without_any_rates_refuses_foreign_currency_deals(ledger, tmp_path):
    # no fx_rates.csv in the folder and no rates in the ledger: nothing can convert the deals (issue 15;
    # with rates the ledger converts them at close: tests/test_fx_ledger.py)
    import shutil

    folder = tmp_path / "multi-currency"
    shutil.copytree(REPO / "examples" / "multi-currency", folder)
    (folder / "fx_rates.csv").unlink()
    with pytest.raises(CompErrors) as err:
        with transaction(ledger) as s:
            import_folder(s, folder, folder / "plans", "ops")
    assert [str(e) for e in err.value.errors] == [
        f"{folder / 'deals.csv'}:{n}: currency: {c} but {r}'s plan {p} pays in {pc} (no fx_rates.csv in the folder to convert it)"
        for n, c, r, p, pc in [(2, "EUR", "R1", "us-ae", "USD"), (3, "GBP", "R1", "us-ae", "USD"), (4, "USD", "R2", "jp-ae", "JPY")]]
    assert all(n == 0 for name, n in count_rows(ledger).items() if name != "alembic_version")


def test_import_dry_run_writes_nothing(tmp_path, db_url):
    res = CliRunner().invoke(main, ["--db", db_url, "import", str(ACME), "--plans", str(PLANS), "--dry-run", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["deals_added"] == 9
    engine = open_ledger(db_url)
    try:
        assert count_rows(engine)["deals"] == 0
    finally:
        engine.dispose()


def test_amendment_and_cancellation_become_events(ledger, tmp_path):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    data = copy_acme(tmp_path)

    def change(rows):
        for r in rows:
            if r["deal_id"] == "D1":
                r["amount"] = "65000.00"
            if r["deal_id"] == "D3":
                r["cancelled_on"] = "2026-11-05"
    rewrite(data / "deals.csv", change)
    with transaction(ledger) as s:
        rep = import_folder(s, data, PLANS, "ops")
    assert (rep.amendments, rep.cancellations, rep.deals_unchanged) == (1, 1, 7)
    with transaction(ledger) as s:
        kinds = s.execute(select(DealEvent.deal_id, DealEvent.kind, DealEvent.amount).where(DealEvent.deal_id.in_(["D1", "D3"]))
                          .order_by(DealEvent.id)).all()
        assert [(d, k) for d, k, _ in kinds] == [("D1", "won"), ("D3", "won"), ("D1", "amended"), ("D3", "cancelled")]
        assert s.get(DealRow, "D1").amount == Decimal("65000.00")


def test_a_late_deal_in_a_locked_month_is_priced_as_of_it_and_paid_in_the_first_open_month(ledger, tmp_path):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-09", lock_until="2026-09")
    data = copy_acme(tmp_path)
    with (data / "deals.csv").open("a") as fh:
        fh.write("D99,Late Co,new_logo,1000.00,USD,2026-09-30,R1,12,Platform,\n")
    with transaction(ledger) as s:
        report = import_folder(s, data, PLANS, "ops")
    assert report.late == ["D99"] and report.deals_added == 1
    with transaction(ledger) as s:
        result = run_close(s, Period(2026, 10), "ops")
    # September: R1 had D5 25,000.00 of a 100,000.00 quota, so D99 sits in band 1: 1,000.00 x 10% = 100.00;
    # M1's override on it: 1,000.00 x 1% = 10.00. Both paid in October, naming the deal and September.
    late = {(ln.rep_id, ln.amount, ln.ref_period): ln.explain for r in result.reps for ln in r.lines
            if ln.deal_id == "D99"}
    assert set(late) == {("R1", Decimal("100.00"), "2026-09"), ("M1", Decimal("10.00"), "2026-09")}
    assert "late deal closed 2026-09-30" in late[("R1", Decimal("100.00"), "2026-09")]


# --------------------------------------------------------------------------- close


def test_close_run_is_idempotent(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10")
    first = lines_of(ledger, "2026-10")
    for _ in range(3):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-10"), "ops")
    assert lines_of(ledger, "2026-10") == first
    assert len(first) == 25


def test_ledger_equals_calc_for_every_month(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(ACME, plans)
    assert not errors
    expected = {r.period: result_dict(r) for r in calculate_through(data, plans, Period.parse("2026-12"), first_wanted=Period.parse("2026-01"))}
    from compengine.ledger.models import PeriodRow

    with transaction(ledger) as s:
        for p in Period.parse("2026-11").months_through(Period.parse("2026-12")):
            from compengine.ledger.store import ensure_period

            ensure_period(s, p)
    for p in Period.parse("2026-01").months_through(Period.parse("2026-12")):
        with transaction(ledger) as s:
            got = result_dict(run_close(s, p, "ops"))
            lock_period(s, p, "ops")
        assert got == expected[str(p)], p


def test_locked_month_refuses_run_adjust_and_lock_again(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-09", lock_until="2026-09")
    before = lines_of(ledger, "2026-09")
    with pytest.raises(CompErrors, match="2026-09 is locked"):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-09"), "ops")
    with pytest.raises(CompErrors, match="2026-09 is locked"):
        with transaction(ledger) as s:
            add_adjustment(s, "R1", Period.parse("2026-09"), Decimal("10.00"), "late", "ops")
    with pytest.raises(CompErrors, match="already locked"):
        with transaction(ledger) as s:
            lock_period(s, Period.parse("2026-09"), "ops")
    assert lines_of(ledger, "2026-09") == before


def test_months_close_in_order(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    with pytest.raises(CompErrors, match="2026-01 has not been calculated"):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-03"), "ops")


def test_late_amendment_becomes_adjustment_in_next_open_month(ledger, tmp_path):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10", lock_until="2026-10")
    locked_before = lines_of(ledger, "2026-10")
    data = copy_acme(tmp_path)

    def change(rows):
        for r in rows:
            if r["deal_id"] == "D1":  # R1's first October deal: 60,000 -> 50,000
                r["amount"] = "50000.00"
    rewrite(data / "deals.csv", change)
    with transaction(ledger) as s:
        rep = import_folder(s, data, PLANS, "ops")
        from compengine.ledger.store import ensure_period

        ensure_period(s, Period.parse("2026-11"))
    assert rep.late == ["D1"]
    with transaction(ledger) as s:
        res = run_close(s, Period.parse("2026-11"), "ops")
    assert lines_of(ledger, "2026-10") == locked_before  # the locked month never changes
    r1 = res.rep("R1")
    adj = [ln for ln in r1.lines if ln.kind == "adjustment"]
    # October recomputed: D1 50,000 @10% = 5,000 (was 6,000); D2's 48,000 now starts at 50,000:
    # 48,000 all in band 1 -> 4,800 (was 4,000 + 1,200 = 5,200); D3 30,000: 2,000 in band 1 @5% = 100,
    # 28,000 in band 2 @5% x 1.5 = 2,100 -> 2,200 (was 2,250).
    got = {(ln.deal_id, ln.ref_period): ln.amount for ln in adj}
    assert got == {("D1", "2026-10"): Decimal("-1000.00"), ("D2", "2026-10"): Decimal("-400.00"),
                   ("D3", "2026-10"): Decimal("-50.00")}
    assert "Late change: D1 (amended to 50,000.00) recalculated for 2026-10" in adj[0].explain
    m1 = {(ln.deal_id, ln.kind): ln.amount for ln in res.rep("M1").lines if ln.kind == "adjustment"}
    assert m1 == {("D1", "adjustment"): Decimal("-100.00")}  # override 1% of the 10,000 reduction
    # running November again does not repeat them, and December sees nothing new once November is locked
    with transaction(ledger) as s:
        again = run_close(s, Period.parse("2026-11"), "ops")
    assert [ln for ln in again.rep("R1").lines if ln.kind == "adjustment"] == adj
    with transaction(ledger) as s:
        lock_period(s, Period.parse("2026-11"), "ops")
        from compengine.ledger.store import ensure_period

        ensure_period(s, Period.parse("2026-12"))
    with transaction(ledger) as s:
        dec = run_close(s, Period.parse("2026-12"), "ops")
    assert not [ln for r in dec.reps for ln in r.lines if ln.kind == "adjustment"]


def _cancel_d1_after_lock(ledger, tmp_path, when: str):  # noqa: ANN001
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10", lock_until="2026-10")
    data = copy_acme(tmp_path)

    def change(rows):
        for r in rows:
            if r["deal_id"] == "D1":
                r["cancelled_on"] = when
    rewrite(data / "deals.csv", change)
    from compengine.ledger.store import ensure_period

    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
        ensure_period(s, Period.parse("2026-11"))
    with transaction(ledger) as s:
        return run_close(s, Period.parse("2026-11"), "ops")


def test_late_cancellation_claws_back_in_the_open_month(ledger, tmp_path):
    res = _cancel_d1_after_lock(ledger, tmp_path, "2026-11-05")  # D1 closed 2026-10-03, October is locked
    claws = {(ln.rep_id, ln.deal_id): (ln.amount, ln.ref_period) for r in res.reps for ln in r.lines if ln.kind == "clawback"}
    assert claws == {("R1", "D1"): (Decimal("-6000.00"), "2026-10"), ("M1", "D1"): (Decimal("-600.00"), "2026-10")}


def test_late_cancellation_inside_the_close_month_recalculates_it(ledger, tmp_path):
    # Cancelled on 2026-10-30, recorded after October was locked: October is recalculated without D1,
    # so R1's later October deals move down a band. D2: 48,000 all in band 1 = 4,800 (was 5,200);
    # D3: 30,000 all in band 1 at 5% = 1,500 (was 2,250); D1: 0 (was 6,000). M1's override on D1: -600.
    res = _cancel_d1_after_lock(ledger, tmp_path, "2026-10-30")
    adj = {(ln.rep_id, ln.deal_id): ln.amount for r in res.reps for ln in r.lines if ln.kind == "adjustment"}
    assert adj == {("R1", "D1"): Decimal("-6000.00"), ("R1", "D2"): Decimal("-400.00"), ("R1", "D3"): Decimal("-750.00"),
                   ("M1", "D1"): Decimal("-600.00")}
    assert not [ln for r in res.reps for ln in r.lines if ln.kind == "clawback" and ln.deal_id == "D1"]


def test_draw_balance_carries_across_months(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10", lock_until="2026-09")
    from compengine.ledger.models import RepPeriod

    with transaction(ledger) as s:
        bal = dict(s.execute(select(RepPeriod.period, RepPeriod.draw_balance).where(RepPeriod.rep_id == "R2")).all())
    # R2 hired 2026-06-15: ramp months 1-3 (June-Aug) have no quota but earn nothing: the 3,000 draw is paid each month;
    # September (tenure 4) likewise; October earns 9,000 (8,300 + 700 SPIFFs): 6,000 above the draw recovers the balance.
    assert bal == {"2026-06": Decimal("3000.00"), "2026-07": Decimal("6000.00"), "2026-08": Decimal("9000.00"),
                   "2026-09": Decimal("12000.00"), "2026-10": Decimal("6000.00")}


def test_audit_records_actor_for_every_change(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "alice")
    with transaction(ledger) as s:
        run_close(s, Period.parse("2026-01"), "bob")
        lock_period(s, Period.parse("2026-01"), "bob")
    with transaction(ledger) as s:
        add_adjustment(s, "R1", Period.parse("2026-02"), Decimal("-250.00"), "Duplicate SPIFF", "carol")
    with transaction(ledger) as s:
        rows = s.execute(select(AuditRow.actor, AuditRow.action).order_by(AuditRow.id)).all()
    actions = {(a, b) for a, b in rows}
    assert ("alice", "deals.import") in actions and ("alice", "plan.version") in actions
    assert ("bob", "close.run") in actions and ("bob", "close.lock") in actions
    assert ("carol", "adjust") in actions


def test_adjustment_becomes_a_line(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-09", lock_until="2026-09")
    with transaction(ledger) as s:
        add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("-250.00"), "Duplicate SPIFF in September", "ops")
    with transaction(ledger) as s:
        res = run_close(s, Period.parse("2026-10"), "ops")
    adj = [ln for ln in res.rep("R1").lines if ln.kind == "adjustment"]
    assert len(adj) == 1 and adj[0].amount == Decimal("-250.00")
    assert adj[0].explain == "Duplicate SPIFF in September (by ops)"
    assert res.rep("R1").payout == Decimal("11000.00")  # 11,250 - 250


def test_payout_export_refuses_unlocked_and_matches_lines(ledger, tmp_path):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10", lock_until="2026-09")
    out = tmp_path / "p.csv"
    with pytest.raises(CompErrors, match="not locked"):
        with transaction(ledger) as s:
            export_payouts(s, Period.parse("2026-10"), out)
    assert not out.exists()
    with transaction(ledger) as s:
        n, total = export_payouts(s, Period.parse("2026-10"), out, preliminary=True)
    rows = list(csv.DictReader(out.open()))
    assert n == 5 and {r["status"] for r in rows} == {"PRELIMINARY"}
    assert sum(Decimal(r["amount"]) for r in rows) == total == Decimal("34200.00")
    r1 = next(r for r in rows if r["rep_id"] == "R1")
    assert (r1["amount"], r1["commission"], r1["spiff"], r1["clawback"]) == ("11250.00", "13450.00", "300.00", "-2500.00")


def test_concurrent_closes_never_duplicate_lines(db_url):
    engine = open_ledger(db_url)
    try:
        with transaction(engine) as s:
            import_folder(s, ACME, PLANS, "ops")
        close_through(engine, "2026-09")
        errors: list[BaseException] = []

        def run() -> None:
            eng = open_ledger(db_url)
            try:
                with transaction(eng) as s:
                    run_close(s, Period.parse("2026-10"), "worker")
            except BaseException as exc:  # noqa: BLE001
                errors.append(exc)
            finally:
                eng.dispose()

        threads = [threading.Thread(target=run) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        lines = lines_of(engine, "2026-10")
        assert len(lines) == 25
        assert len({(r[0], r[1]) for r in lines}) == 25  # (rep, seq) unique: no duplicates
    finally:
        engine.dispose()


# --------------------------------------------------------------------------- CLI


def test_cli_monthly_close(db_url, tmp_path):
    run = CliRunner().invoke
    db = ["--db", db_url, "--as", "ops-lead"]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    again = run(main, [*db, "import", str(ACME), "--plans", str(PLANS)])
    assert again.exit_code == 0 and "No changes" in again.output
    for m in range(1, 10):
        r = run(main, [*db, "close", "run", f"2026-{m:02d}"])
        assert r.exit_code == 0, r.output
        assert run(main, [*db, "close", "lock", f"2026-{m:02d}"]).exit_code == 0
    r = run(main, [*db, "close", "run", "2026-10", "--json"])
    assert r.exit_code == 0
    assert json.loads(r.stdout)["total_payout"] == "34200.00"
    locked = run(main, [*db, "close", "run", "2026-09"])
    assert locked.exit_code == 1 and "2026-09 is locked" in locked.output
    r = run(main, [*db, "adjust", "--rep", "R1", "--period", "2026-09", "--amount", "-1", "--reason", "x"])
    assert r.exit_code == 1 and "locked" in r.output
    r = run(main, [*db, "payouts", "export", "2026-10", "--out", str(tmp_path / "p.csv")])
    assert r.exit_code == 1 and "not locked" in r.output
    st = run(main, [*db, "status", "--json"])
    rows = json.loads(st.output)
    assert [(x["period"], x["status"]) for x in rows][-2:] == [("2026-09", "locked"), ("2026-10", "calculated")]
    au = run(main, [*db, "audit", "--period", "2026-09", "--json"])
    assert {(a["actor"], a["action"]) for a in json.loads(au.output)} >= {("ops-lead", "close.run"), ("ops-lead", "close.lock")}


def test_cli_bad_database_url_is_one_line():
    r = CliRunner().invoke(main, ["--db", "postgresql+psycopg://nobody@127.0.0.1:1/none", "status"])
    assert r.exit_code == 1
    assert r.output.startswith("Error: cannot open the ledger") and r.output.count("\n") == 1


def test_ledger_equals_calc_over_a_generated_year(ledger, tmp_path):
    from compengine.generate import generate

    data_dir = tmp_path / "co"
    generate(data_dir, seed=11, reps=30, deals=1200, year=2026, months=12, plans_dir=PLANS)
    with transaction(ledger) as s:
        import_folder(s, data_dir, PLANS, "ops")
    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(data_dir, plans)
    assert not errors
    expected = calculate_through(data, plans, Period.parse("2026-12"), first_wanted=Period.parse("2026-01"))
    assert sum(len(r.reps) for r in expected) > 300
    assert any(ln.kind == "clawback" for r in expected for rr in r.reps for ln in rr.lines)
    assert any(ln.kind == "true_up" for r in expected for rr in r.reps for ln in rr.lines)
    for want in expected:
        with transaction(ledger) as s:
            got = run_close(s, Period.parse(want.period), "ops")
            lock_period(s, Period.parse(want.period), "ops")
        assert result_dict(got) == result_dict(want), want.period


def test_late_change_is_corrected_once_across_several_open_months(ledger, tmp_path):
    # October locked; D1 (October) amended afterwards; November and December both run before either is locked:
    # the correction lands in November only.
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-10", lock_until="2026-10")
    data = copy_acme(tmp_path)

    def change(rows):
        for r in rows:
            if r["deal_id"] == "D1":
                r["amount"] = "50000.00"
    rewrite(data / "deals.csv", change)
    from compengine.ledger.store import ensure_period

    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
        ensure_period(s, Period.parse("2026-12"))
    close_through(ledger, "2026-12")
    nov = [ln for ln in lines_of(ledger, "2026-11") if ln[2] == "adjustment"]
    dec = [ln for ln in lines_of(ledger, "2026-12") if ln[2] == "adjustment"]
    assert sum(ln[4] for ln in nov) == Decimal("-1550.00")  # R1 -1,450 (D1, D2, D3) and M1 -100
    assert dec == []


def test_cli_close_run_and_lock_through_a_range(db_url):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    r = run(main, [*db, "close", "run", "2026-01", "--through", "2026-10", "--rep", "R1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["period"] == "2026-10" and [x["rep_id"] for x in out["reps"]] == ["R1"]
    r = run(main, [*db, "close", "lock", "2026-01", "--through", "2026-09"])
    assert r.exit_code == 0 and r.output.count("locked: total payout") == 9
    st = json.loads(run(main, [*db, "status", "--json"]).output)
    assert [x["status"] for x in st] == ["locked"] * 9 + ["calculated"]


def test_sqlite_page_cache_is_the_writers_size_for_writers_and_workers_and_small_for_readers(tmp_path):
    """A reader's snapshot (reports, the model, the portal) gets a 32 MB page cache, a writer and a close's
    worker 256 MB; the setting follows the pooled connection from one transaction to the next."""
    from compengine.ledger import open_ledger
    from compengine.ledger.db import READER_CACHE, WRITER_CACHE
    from compengine.ledger.executors import _worker_engine

    engine = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    engine.pool.dispose()

    def cache(eng, write: bool) -> int:  # noqa: ANN001
        with transaction(eng, write=write) as s:
            return s.connection().exec_driver_sql("PRAGMA cache_size").scalar()

    assert READER_CACHE != WRITER_CACHE
    assert [cache(engine, w) for w in (True, False, False, True, False)] == [
        WRITER_CACHE, READER_CACHE, READER_CACHE, WRITER_CACHE, READER_CACHE]
    assert cache(_worker_engine(str(engine.url)), False) == WRITER_CACHE
    engine.dispose()
