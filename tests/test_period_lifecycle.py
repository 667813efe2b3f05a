"""The period life cycle told honestly: open | calculated | stale | locked, the exceptions gate,
lock --through all or none, close show, reopen, a start in mid-stream, and writers that wait.

On SQLite and PostgreSQL (the ``ledger`` / ``db_url`` fixtures), with the example company.
"""

from __future__ import annotations

import csv
import json
import shutil
import threading
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, text

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.close import stored_result
from compengine.ledger.models import AuditRow, PeriodRow, RepPeriod
from compengine.ledger.ops import add_adjustment, export_payouts
from compengine.ledger.start import reopen_period, start_ledger

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
MONTHS = Period.parse("2026-01").months_through(Period.parse("2026-10"))


def run(engine, p: str | Period):  # noqa: ANN001, ANN201
    with transaction(engine) as s:
        return run_close(s, Period.parse(str(p)), "ops")


def lock(engine, p: str | Period, **kw):  # noqa: ANN001, ANN201, ANN003
    with transaction(engine) as s:
        return lock_period(s, Period.parse(str(p)), "ops", **kw).status


def statuses(engine) -> dict[str, str]:  # noqa: ANN001
    with transaction(engine, write=False) as s:
        return dict(s.execute(select(PeriodRow.period, PeriodRow.status)).all())


@pytest.fixture
def acme(ledger):  # noqa: ANN001
    """The example company imported and calculated through October (nothing locked)."""
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    for p in MONTHS:
        run(ledger, p)
    return ledger


def test_rerunning_a_month_with_nothing_changed_leaves_later_months_calculated(acme):
    run(acme, "2026-06")
    assert {statuses(acme)[str(p)] for p in MONTHS} == {"calculated"}
    with transaction(acme, write=False) as s:
        audit = s.scalar(select(AuditRow.summary).where(AuditRow.action == "close.run").order_by(AuditRow.id.desc()).limit(1))
    assert "stale" not in audit


def test_a_change_makes_months_stale_and_a_rerun_that_changes_results_says_which(acme):
    with transaction(acme) as s:
        add_adjustment(s, "R1", Period.parse("2026-09"), Decimal("100.00"), "bonus", "ops")
    st = statuses(acme)
    assert st["2026-08"] == "calculated" and st["2026-09"] == "stale" and st["2026-10"] == "stale"
    # a stale month keeps its previous lines (readable), but cannot be locked or exported
    with transaction(acme, write=False) as s:
        result, prow = stored_result(s, Period.parse("2026-09"))
    assert prow.status == "stale" and result.total_payout == Decimal("7750.00")
    for p in MONTHS[:8]:
        lock(acme, p)
    with pytest.raises(CompErrors, match="2026-09 is stale"):
        lock(acme, "2026-09")
    result = run(acme, "2026-09")
    assert result.total_payout == Decimal("7850.00")
    # 2026-10 was stale already; a rerun of a calculated month with new results says which months went stale
    run(acme, "2026-10")
    with transaction(acme) as s:
        add_adjustment(s, "R1", Period.parse("2026-09"), Decimal("-100.00"), "reverse the bonus", "ops")
    st = statuses(acme)
    assert st["2026-09"] == "stale" and st["2026-10"] == "stale"
    run(acme, "2026-09")
    run(acme, "2026-10")
    with transaction(acme) as s:  # an earlier rerun with different results: later months stale, and told so
        s.execute(text("UPDATE periods SET status = 'calculated' WHERE period = '2026-10'"))
    with transaction(acme) as s:
        add_adjustment(s, "M1", Period.parse("2026-09"), Decimal("50.00"), "late referral", "ops")
    with transaction(acme) as s:
        s.execute(text("UPDATE periods SET status = 'calculated' WHERE period = '2026-10'"))
    result = run(acme, "2026-09")
    assert result.notices == ["2026-10 now stale: 2026-09 was recalculated with different results; run them again"]
    assert statuses(acme)["2026-10"] == "stale"


def test_lock_through_locks_all_or_none(acme):
    with transaction(acme) as s:
        add_adjustment(s, "R1", Period.parse("2026-09"), Decimal("100.00"), "bonus", "ops")
    res = CliRunner().invoke(main, ["--db", str(acme.url.render_as_string(hide_password=False)), "close", "lock",
                                    "2026-01", "--through", "2026-10"])
    assert res.exit_code == 1 and "2026-09 is stale" in res.output and "nothing was locked" in res.output
    assert set(statuses(acme).values()) <= {"calculated", "stale"}  # 2026-01..08 were not left locked


def _with_rep_without_plan(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(ACME, data)
    with (data / "reps.csv").open("a") as fh:
        fh.write("R7,Rita Gomez,rita@acme.example,M1,West,2026-10-02\n")
    with (data / "deals.csv").open("a") as fh:
        fh.write("D30,Soylent,new_logo,20000.00,USD,2026-10-05,R7,12,Platform,\n")
    return data


def test_exceptions_gate_the_lock_and_reconcile(ledger, tmp_path):
    url = ledger.url.render_as_string(hide_password=False)
    cli = lambda *a: CliRunner().invoke(main, ["--db", url, "--as", "ana", *a])  # noqa: E731
    assert cli("import", str(_with_rep_without_plan(tmp_path)), "--plans", str(PLANS)).exit_code == 0
    res = cli("close", "run", "2026-01", "--through", "2026-10", "--summary")
    assert res.exit_code == 0
    # every month's exceptions on stderr, not only the last one's
    assert "close 2026-10: exception: R7: 1 credit line(s) totalling 20,000.00 but no plan assignment in 2026-10; not paid" in res.output
    assert cli("close", "lock", "2026-01", "--through", "2026-09").exit_code == 0
    res = cli("close", "lock", "2026-10")
    assert res.exit_code == 1
    assert "2026-10: exception: R7: 1 credit line(s) totalling 20,000.00" in res.output
    assert "period 2026-10 has 1 exception(s), credit that cannot be paid" in res.output
    rec = cli("reconcile", "2026-10")
    assert rec.exit_code == 1 and "[unpaid] R7: 1 credit line(s)" in rec.output
    assert cli("close", "lock", "2026-10", "--accept-exceptions", "  ").exit_code == 1
    res = cli("close", "lock", "2026-10", "--accept-exceptions", "R7 is paid by payroll directly")
    assert res.exit_code == 0 and "(exceptions accepted)" in res.output
    rec = cli("reconcile", "2026-10")
    assert rec.exit_code == 0, rec.output
    assert "1 exception(s) accepted at lock by ana: R7 is paid by payroll directly" in rec.output
    audit = json.loads(cli("audit", "--period", "2026-10", "--json").output)
    lock_entry = [a for a in audit if a["action"] == "close.lock"][0]
    assert json.loads(lock_entry["after"])["exceptions_accepted"]["reason"] == "R7 is paid by payroll directly"


def test_close_show_prints_a_locked_month_as_close_run_did(acme):
    url = acme.url.render_as_string(hide_password=False)
    ran = CliRunner().invoke(main, ["--db", url, "close", "run", "2026-10", "--rep", "R1", "--json"])
    for p in MONTHS:
        lock(acme, p)
    shown = CliRunner().invoke(main, ["--db", url, "close", "show", "2026-10", "--rep", "R1", "--json"])
    assert shown.exit_code == 0
    # same JSON (the status line goes to stderr, mixed into output by the runner: compare from the JSON on)
    assert json.loads(shown.output[shown.output.index("{"):]) == json.loads(ran.output[ran.output.index("{"):])
    text_ = CliRunner().invoke(main, ["--db", url, "close", "show", "2026-10", "--rep", "R1"])
    assert "D2 new_logo Initech: credit 40,000.00" in text_.output and "2026-10 is locked" in text_.output
    assert statuses(acme)["2026-10"] == "locked"


def test_reopen_the_latest_locked_month_until_it_is_exported(acme, tmp_path):
    for p in MONTHS:
        lock(acme, p)
    with transaction(acme) as s:
        with pytest.raises(CompErrors, match="2026-10 is locked after 2026-09: only the latest"):
            reopen_period(s, Period.parse("2026-09"), "ops", "wrong month")
    with transaction(acme) as s:
        with pytest.raises(CompErrors, match="needs a reason"):
            reopen_period(s, Period.parse("2026-10"), "ops", " ")
    with transaction(acme) as s:
        report = reopen_period(s, Period.parse("2026-10"), "ops", "SPIFF rates loaded for the wrong plan")
    assert report.status == "calculated" and statuses(acme)["2026-10"] == "calculated"
    assert lock(acme, "2026-10") == "locked"  # relocked: a new seal
    with transaction(acme) as s:
        export_payouts(s, Period.parse("2026-10"), tmp_path / "p.csv", actor="finance")
    with transaction(acme) as s:
        with pytest.raises(CompErrors, match="were exported for payroll .* by finance: it stays locked"):
            reopen_period(s, Period.parse("2026-10"), "ops", "too late")
    assert statuses(acme)["2026-10"] == "locked"


def test_a_ledger_started_mid_year_pays_what_the_full_history_pays(db_url, tmp_path):
    """Start at 2026-08 with each rep's balances at the end of July (from a ledger that holds the
    whole year): August to October pay the same, rep by rep, to the cent."""
    full = open_ledger(db_url)
    try:
        with transaction(full) as s:
            import_folder(s, ACME, PLANS, "ops")
        for p in MONTHS:
            run(full, p)
        with transaction(full, write=False) as s:
            july = {r.rep_id: r for r in s.scalars(select(RepPeriod).where(RepPeriod.period == "2026-07"))}
            paid = {(r.period, r.rep_id): r.payout for r in s.scalars(select(RepPeriod).where(RepPeriod.period >= "2026-08"))}
    finally:
        full.dispose()
    # the data from August on (D6 closed in July: its credit is in the opening balances)
    data = tmp_path / "from-aug"
    shutil.copytree(ACME, data)
    deals = [r for r in csv.DictReader((ACME / "deals.csv").open()) if r["close_date"] >= "2026-08"]
    with (data / "deals.csv").open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(deals[0]))
        w.writeheader()
        w.writerows(deals)
    opening = tmp_path / "opening.csv"
    with opening.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["rep_id", "ytd_credited", "ytd_paid", "draw_balance", "carry_balance", "ytd_deal_type"])
        for rep_id, r in sorted(july.items()):
            ytd = r.ytd_credited or Decimal("0.00")
            w.writerow([rep_id, ytd, r.ytd_paid, r.draw_balance, r.carry_balance, "expansion" if ytd else ""])
    schema_url = db_url if db_url.startswith("sqlite") else db_url  # a second ledger beside the first
    started_url = f"sqlite:///{tmp_path / 'started.db'}" if db_url.startswith("sqlite") else schema_url
    if not db_url.startswith("sqlite"):
        from tests.conftest import PG_URL, new_pg_schema

        started_url = f"{PG_URL}?options=-csearch_path%3D{new_pg_schema()}"
    started = open_ledger(started_url)
    try:
        with transaction(started) as s:
            import_folder(s, data, PLANS, "ops")
        with transaction(started) as s:
            report = start_ledger(s, Period.parse("2026-08"), "ops", opening)
        assert report.opening_balances == len(july) and report.removed_placeholders == 7  # 2026-01..07
        for p in MONTHS[7:]:
            run(started, p)
        with transaction(started, write=False) as s:
            got = {(r.period, r.rep_id): r.payout for r in s.scalars(select(RepPeriod))}
            assert min(s.scalars(select(PeriodRow.period))) == "2026-08"
        assert got == paid
        lock(started, "2026-08")  # months before the first are never required
        # a deal before the first month is refused, naming the file and line
        with transaction(started) as s:
            with pytest.raises(CompErrors, match=r"deals.csv:\d+: close_date: 2026-07-15 is before the ledger's first month 2026-08"):
                import_folder(s, ACME, PLANS, "ops")
    finally:
        started.dispose()
        if not db_url.startswith("sqlite"):
            from tests.conftest import drop_pg_schema

            drop_pg_schema(started_url.rsplit("%3D", 1)[1])


def test_start_refuses_a_ledger_already_closed_and_implausible_months(acme, tmp_path):
    with transaction(acme) as s:
        with pytest.raises(CompErrors, match="2026-01 has already been calculated"):
            start_ledger(s, Period.parse("2026-08"), "ops")
    bad = tmp_path / "opening.csv"
    bad.write_text("rep_id,ytd_credited,ytd_paid,draw_balance,carry_balance\nR9,1.00,0,0,0\nR1,abc,0,0,0\nR2,1.005,0,0,0\n")
    fresh = open_ledger(f"sqlite:///{tmp_path / 'fresh.db'}")
    try:
        with transaction(fresh) as s:
            with pytest.raises(CompErrors) as exc:
                start_ledger(s, Period.parse("0206-11"), "ops")
        assert "the first month 0206-11 is outside 1970-01..2100-12" in str(exc.value)
        with transaction(fresh) as s:
            import_folder(s, ACME, PLANS, "ops")
            s.execute(text("DELETE FROM deal_events"))  # a company whose deals all come later
            s.execute(text("DELETE FROM splits"))
            s.execute(text("DELETE FROM deals"))
        with transaction(fresh) as s:
            with pytest.raises(CompErrors) as exc:
                start_ledger(s, Period.parse("2026-08"), "ops", bad)
        assert [str(e) for e in exc.value.errors] == [
            f"{bad}:3: ytd_credited: not an amount 'abc'", f"{bad}:4: ytd_credited: 1.005 has fractions of a cent"]
    finally:
        fresh.dispose()


def test_a_writer_waits_for_the_one_before_it_then_fails_in_one_line_and_readers_never_wait(ledger, monkeypatch):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    monkeypatch.setenv("COMPENGINE_LOCK_WAIT", "1")
    holder = open_ledger(ledger.url.render_as_string(hide_password=False))
    other = open_ledger(ledger.url.render_as_string(hide_password=False))
    held, release = threading.Event(), threading.Event()

    def hold() -> None:
        with transaction(holder, what="close run 2026-10 by ana") as s:
            s.execute(select(PeriodRow.period)).all()
            held.set()
            release.wait(10)

    t = threading.Thread(target=hold)
    t.start()
    try:
        assert held.wait(10)
        # a reader does not wait: it reads while the writer still holds the lock (a reader that
        # queued behind it would fail after COMPENGINE_LOCK_WAIT, 1 s, since the writer never lets go first)
        with transaction(other, write=False) as s:
            assert s.execute(select(PeriodRow.period)).first() is not None
        assert not release.is_set() and t.is_alive()
        with pytest.raises(CompErrors) as exc:
            with transaction(other, what="adjust R1 2026-10 by bo") as s:
                add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("1.00"), "x", "bo")
        message = str(exc.value)
        assert "\n" not in message and "did not finish within 1 s" in message and "adjust R1 2026-10 by bo was not done, try again" in message
        if ledger.dialect.name == "postgresql":
            assert "(close run 2026-10 by ana)" in message
    finally:
        release.set()
        t.join()
        holder.dispose()
        other.dispose()


def test_an_adjustment_awaiting_approval_holds_the_lock_and_is_never_lost(acme):
    """A manual adjustment above the approval threshold waits for a second user: the month cannot
    be locked over it unless ops says so, and approved after the lock it is paid in the first open month."""
    from compengine.ledger.models import AdjustmentRow
    from compengine.ledger.users import add_user, approve_adjustment

    with transaction(acme) as s:
        add_user(s, "olga", "ops", "a long enough password", "setup")
        add_user(s, "fin", "finance", "a long enough password", "setup")
        adj = add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("5000.00"), "Q3 territory true-up", "olga")
        assert adj.status == "pending"
    run(acme, "2026-10")
    for p in MONTHS[:9]:
        lock(acme, p)
    with pytest.raises(CompErrors, match=r"2026-10 has 1 adjustment\(s\) awaiting approval \(1\)"):
        lock(acme, "2026-10")
    assert lock(acme, "2026-10", allow_pending_adjustments=True) == "locked"
    with transaction(acme) as s:
        row = approve_adjustment(s, adj.id, "fin")
        assert (row.status, row.period) == ("approved", "2026-11")
    result = run(acme, "2026-11")
    lines = [ln for ln in result.rep("R1").lines if ln.kind == "adjustment"]
    assert [(ln.amount, ln.ref) for ln in lines] == [(Decimal("5000.00"), "adjustment:1")]
    with transaction(acme, write=False) as s:
        assert s.get(AdjustmentRow, adj.id).approved_by == "fin"
