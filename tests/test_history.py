"""Issue 13: history that is never overwritten; retroactive changes only on purpose; late deals.

The example company (examples/acme) with 2026-01..2026-10 locked, as in the issue. Hand-worked numbers
are in the comments: R1 is on ae-2026 (10% new logo, 5% expansion; x1.0 to 100%, x1.5 to 150%, x2.0
above; a monthly quota of annual / 12), M1 on mgr-2026 (1% override on direct reports' credit).
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.ledger import import_folder, run_close, transaction
from compengine.ledger.models import (
    AssignmentRow,
    DealEvent,
    ImportBatch,
    PayoutLineRow,
    RepRow,
    RepVersionRow,
    RetroChangeRow,
)
from tests.test_ledger import ACME, PLANS, close_through, copy_acme, rewrite

D = Decimal


def locked_company(ledger, tmp_path, through: str = "2026-10"):  # noqa: ANN001
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, through, lock_until=through)
    return copy_acme(tmp_path)


def table_counts(ledger) -> dict:  # noqa: ANN001
    with transaction(ledger) as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (AssignmentRow, RepVersionRow, DealEvent, ImportBatch, RetroChangeRow)}


def november_lines(ledger) -> list:  # noqa: ANN001
    return lines_of_close(ledger, "2026-11")


def set_quota(data, rep_id: str, quota: str) -> None:  # noqa: ANN001
    def change(rows):  # noqa: ANN001, ANN202
        for r in rows:
            if r["rep_id"] == rep_id:
                r["annual_quota"] = quota
    rewrite(data / "assignments.csv", change)


def test_a_quota_change_over_locked_months_is_refused_and_nothing_is_written(ledger, tmp_path):
    data = locked_company(ledger, tmp_path)
    set_quota(data, "R1", "600000")
    before = table_counts(ledger)
    with pytest.raises(CompErrors) as err:
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    lines = [str(e) for e in err.value.errors]
    assert len(lines) == 1
    assert ("/acme/assignments.csv:3: R1 quota 1,200,000.00 -> 600,000.00 from 2026-01 would reprice "
            "locked month(s) 2026-01..2026-10") in lines[0]
    assert "--retroactive" in lines[0]
    assert table_counts(ledger) == before


def test_a_retroactive_quota_change_reprices_the_locked_months_and_pays_the_difference(ledger, tmp_path):
    data = locked_company(ledger, tmp_path)
    set_quota(data, "R1", "600000")
    with transaction(ledger) as s:
        report = import_folder(s, data, PLANS, "ops", retroactive=True)
    assert report.retroactive == ["R1 quota 1,200,000.00 -> 600,000.00 from 2026-01: reprices 2026-01..2026-10"]
    lines = november_lines(ledger)
    r1 = {(deal, ref): (amount, explain) for rep, deal, amount, ref, explain in lines if rep == "R1"}
    # October, R1 credits in date order: D1 60,000 new logo, D2 48,000 (60% of 80,000), D3 30,000 expansion.
    # Quota 100,000 -> 50,000 a month: bands end at 50,000 and 75,000 instead of 100,000 and 150,000.
    # D1: was 60,000 x 10% = 6,000.00; now 50,000 x 10% + 10,000 x 15% = 6,500.00: +500.00
    # D2: was 40,000 x 10% + 8,000 x 15% = 5,200.00; now 15,000 x 15% + 33,000 x 20% = 8,850.00: +3,650.00
    # D3: was 30,000 x 5% x 1.5 = 2,250.00; now 30,000 x 5% x 2.0 = 3,000.00: +750.00
    # Earlier months: R1's credit (August D9 12,000; September D5 25,000) stays under 50,000: no change.
    assert {k: v[0] for k, v in r1.items()} == {("D1", "2026-10"): D("500.00"), ("D2", "2026-10"): D("3650.00"),
                                                ("D3", "2026-10"): D("750.00")}
    assert r1[("D2", "2026-10")][1].startswith(
        "R1 quota 1,200,000.00 -> 600,000.00 from 2026-01 (retroactive import): D2 re-banded in 2026-10 +3,650.00")
    # nobody else changed: the override is on credit, not on R1's quota
    assert {rep for rep, *_ in lines} == {"R1"}
    # the next close does not pay it again
    with transaction(ledger) as s:
        from compengine.ledger import lock_period

        lock_period(s, Period(2026, 11), "ops", accept_exceptions="test")
        run_close(s, Period(2026, 12), "ops")
        again = s.scalar(select(func.count()).select_from(PayoutLineRow).where(
            PayoutLineRow.period == "2026-12", PayoutLineRow.ref_period == "2026-10"))
    assert again == 0


def test_retroactive_when_nothing_reaches_a_locked_month_is_a_note(ledger, tmp_path):
    data = locked_company(ledger, tmp_path)
    with (data / "deals.csv").open("a") as fh:
        fh.write("D50,Next Co,new_logo,1000.00,USD,2026-11-03,R1,12,Platform,\n")
    with transaction(ledger) as s:
        report = import_folder(s, data, PLANS, "ops", retroactive=True)
    assert report.deals_added == 1 and not report.retroactive
    assert report.notes == ["--retroactive: nothing in this import reaches a locked month; imported as usual"]


def test_a_manager_change_applies_from_the_first_open_month_and_overrides_follow_the_manager_then(ledger, tmp_path):
    data = locked_company(ledger, tmp_path)
    # M2 arrives in November; R2 reports to M2 from then on. D4 (R2, October) is amended by +1.00.
    with (data / "reps.csv").open("a") as fh:
        fh.write("M2,Mo Ng,mo@acme.example,,West,2026-11-01\n")
    with (data / "assignments.csv").open("a") as fh:
        fh.write("M2,mgr-2026,2026-11-01,,\n")

    def change(rows):  # noqa: ANN001, ANN202
        for r in rows:
            if r["rep_id"] == "R2":
                r["manager_id"] = "M2"
    rewrite(data / "reps.csv", change)

    def amend(rows):  # noqa: ANN001, ANN202
        for r in rows:
            if r["deal_id"] == "D4":
                r["amount"] = "40001.00"
    rewrite(data / "deals.csv", amend)
    with transaction(ledger) as s:
        report = import_folder(s, data, PLANS, "ops")
    assert "R2: manager_id M1 -> M2 from 2026-11 (the first open month)" in report.forward
    with transaction(ledger) as s:
        assert s.get(RepRow, "R2").manager_id == "M2"
    lines = november_lines(ledger)
    # October is repriced with the manager R2 had in October (M1): M1's override on D4 goes from
    # 40,000 x 1% = 400.00 to 40,001 x 1% = 400.01: +0.01. M2 gets nothing for October, and M1 keeps
    # the 720.00 of October override (D4 400.00 + R2's D2 share 32,000 x 1% = 320.00).
    overrides = [(rep, deal, amount) for rep, deal, amount, ref, _ in lines if rep in ("M1", "M2")]
    assert overrides == [("M1", "D4", D("0.01"))]
    # R2 (tenure month 5: half quota, 50,000): D4 was 40,000 x 10% = 4,000.00, now 4,000.10 (+0.10);
    # D2's 32,000 then starts at 40,001: 9,999 x 10% + 22,001 x 15% = 4,300.05, was 4,300.00 (+0.05).
    r2 = {deal: amount for rep, deal, amount, ref, _ in lines if rep == "R2"}
    assert r2 == {"D4": D("0.10"), "D2": D("0.05")}


def test_a_new_assignment_in_a_locked_month_pays_the_missing_month_when_retroactive(ledger, tmp_path):
    data = locked_company(ledger, tmp_path)
    # A rep hired in August, whose assignment reaches the ledger only after August..October were locked.
    with (data / "reps.csv").open("a") as fh:
        fh.write("R3,Lee Park,lee@acme.example,M1,West,2026-08-01\n")
    with (data / "deals.csv").open("a") as fh:
        fh.write("D30,Acme Two,new_logo,10000.00,USD,2026-08-20,R3,12,Platform,\n")
    with transaction(ledger) as s:  # the deal alone: credit without a plan, an exception of August's repricing
        import_folder(s, data, PLANS, "ops")
    with (data / "assignments.csv").open("a") as fh:
        fh.write("R3,se-2026,2026-08-01,,\n")
    with pytest.raises(CompErrors, match=r"assignments.csv:7: R3 new assignment se-2026 from 2026-08-01 would reprice "
                                         r"locked month\(s\) 2026-08..2026-10"):
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops", retroactive=True)
    lines = november_lines(ledger)
    r3 = [(deal, amount, ref) for rep, deal, amount, ref, _ in lines if rep == "R3"]
    from compengine.plans.loader import load_plans

    se = load_plans(PLANS)[0]["se-2026"]
    expected = (D("10000.00") * se.rates["new_logo"]).quantize(D("0.01"))
    assert ("D30", expected, "2026-08") in r3


def test_history_prints_the_timeline_with_superseded_rows(ledger, tmp_path, db_url):
    data = locked_company(ledger, tmp_path)
    set_quota(data, "R1", "600000")
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops", retroactive=True)
    out = CliRunner().invoke(main, ["--db", db_url, "history", "R1", "--json"])
    assert out.exit_code == 0, out.output
    t = json.loads(out.output)
    rows = [(a["annual_quota"], a["superseded_at"] is not None) for a in t["assignments"]]
    assert rows == [(None, True), ("600000.00", False)]
    assert t["retroactive"][0]["description"] == "R1 quota 1,200,000.00 -> 600,000.00 from 2026-01"
    text = CliRunner().invoke(main, ["--db", db_url, "history", "R1"])
    assert text.exit_code == 0 and "[superseded" in text.output and "Retroactive changes" in text.output
    bad = CliRunner().invoke(main, ["--db", db_url, "history", "NOPE"])
    assert bad.exit_code == 1 and "unknown rep 'NOPE'" in bad.output and "Traceback" not in bad.output


VERSIONS = ACME.parent / "plan-versions"


def test_dated_plan_versions_price_each_month_and_a_changed_version_over_a_locked_month_is_refused(ledger, tmp_path):
    import shutil

    plans = tmp_path / "plans"
    shutil.copytree(VERSIONS / "plans", plans)
    with transaction(ledger) as s:
        import_folder(s, VERSIONS / "data", plans, "ops")
    close_through(ledger, "2026-07", lock_until="2026-07")
    with transaction(ledger) as s:
        paid = dict(s.execute(select(PayoutLineRow.deal_id, PayoutLineRow.amount).where(
            PayoutLineRow.kind == "commission")).all())
    # J1 closes 2026-06-30 under H1 (10%): 5,000.00; J2 on 2026-07-01 under H2 (12%): 6,000.00
    assert paid == {"J1": D("5000.00"), "J2": D("6000.00")}
    # H2's rate changed to 13% while July (priced by H2) is locked: refused, nothing written
    h2 = plans / "ae-h2.yaml"
    h2.write_text(h2.read_text().replace("new_logo: 0.12", "new_logo: 0.13"))
    before = table_counts(ledger)
    with pytest.raises(CompErrors, match=r"ae-h2.yaml:\d+: plan ae-2026 version \w{12} in force 2026-07-01.. would "
                                         r"reprice locked month\(s\) 2026-07"):
        with transaction(ledger) as s:
            import_folder(s, VERSIONS / "data", plans, "ops")
    assert table_counts(ledger) == before
    with transaction(ledger) as s:
        import_folder(s, VERSIONS / "data", plans, "ops", retroactive=True)
    lines = lines_of_close(ledger, "2026-08")
    # July repriced with 13%: J2 50,000.00 x 13% = 6,500.00, was 6,000.00: +500.00 in August
    assert [(rep, deal, amount, ref) for rep, deal, amount, ref, _ in lines] == [("R1", "J2", D("500.00"), "2026-07")]


def lines_of_close(ledger, month: str) -> list:  # noqa: ANN001
    """Close ``month`` and return its adjustment lines (rep, deal, amount, ref_period, explain)."""
    with transaction(ledger) as s:
        run_close(s, Period.parse(month), "ops")
    with transaction(ledger) as s:
        return [(r.rep_id, r.deal_id, r.amount, r.ref_period, r.explain) for r in s.scalars(
            select(PayoutLineRow).where(PayoutLineRow.period == month, PayoutLineRow.kind == "adjustment")
            .order_by(PayoutLineRow.rep_id, PayoutLineRow.seq))]


def test_an_undated_plan_change_applies_from_the_first_open_month(ledger, tmp_path):
    import shutil

    data = locked_company(ledger, tmp_path, through="2026-09")
    plans = tmp_path / "plans"
    shutil.copytree(PLANS, plans)
    ae = plans / "ae.yaml"
    ae.write_text(ae.read_text().replace("new_logo: 0.10", "new_logo: 0.20"))
    with transaction(ledger) as s:
        report = import_folder(s, data, plans, "ops")
    assert any(line.startswith("plan ae-2026 version ") and line.endswith("in force 2026-10-01..") for line in report.forward)
    lines = lines_of_close(ledger, "2026-10")
    assert lines == []  # September keeps its version: nothing to reprice
    with transaction(ledger) as s:
        d1 = s.scalar(select(PayoutLineRow.amount).where(PayoutLineRow.period == "2026-10", PayoutLineRow.deal_id == "D1",
                                                         PayoutLineRow.rep_id == "R1", PayoutLineRow.kind == "commission"))
    assert d1 == D("12000.00")  # October: D1 60,000.00 x 20%


def test_a_late_assignment_pays_the_owed_draws_as_advances_that_join_the_draw_balance(ledger, tmp_path):
    from compengine.ledger.models import RepPeriod

    data = locked_company(ledger, tmp_path)
    # R3, hired 2026-08-01 on ae-2026 (ramp: quota 0% in tenure months 1-3; recoverable draw of 3,000.00 for
    # 6 months), closed D30 (10,000.00 new logo) on 2026-08-20; all of it reaches the ledger after October's lock.
    with (data / "reps.csv").open("a") as fh:
        fh.write("R3,Lee Park,lee@acme.example,M1,West,2026-08-01\n")
    with (data / "deals.csv").open("a") as fh:
        fh.write("D30,Acme Two,new_logo,10000.00,USD,2026-08-20,R3,12,Platform,\n")
    with (data / "assignments.csv").open("a") as fh:
        fh.write("R3,ae-2026,2026-08-01,,\n")
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops", retroactive=True)
    lines = november_lines(ledger)
    got = sorted((rep, deal or "", amount, ref) for rep, deal, amount, ref, _ in lines)
    # August repriced: D30 at the base rate (no quota in tenure month 1): 10,000.00 x 10% = 1,000.00, topped up
    # to the 3,000.00 draw: 2,000.00; September and October: no deals, the full draw 3,000.00 each.
    # M1's override on D30: 10,000.00 x 1% = 100.00.
    assert got == [("M1", "D30", D("100.00"), "2026-08"), ("R3", "", D("2000.00"), "2026-08"),
                   ("R3", "", D("3000.00"), "2026-09"), ("R3", "", D("3000.00"), "2026-10"),
                   ("R3", "D30", D("1000.00"), "2026-08")]
    with transaction(ledger) as s:
        rp = s.get(RepPeriod, ("2026-11", "R3"))
    # November (tenure 4, draw month): its earnings are the late 1,000.00 of commission, topped up to the draw
    # (+2,000.00); the 8,000.00 of late draws are paid as advances and join the balance: payout 11,000.00,
    # draw balance 2,000.00 + 8,000.00 = 10,000.00 (paid minus balance 1,000.00: the commission, as if on time).
    assert (rp.payout, rp.draw_balance) == (D("11000.00"), D("10000.00"))


def test_a_deal_already_clawed_back_pays_nothing_when_its_month_is_repriced(ledger, tmp_path):
    """Found by the history state machine: a retroactive repricing paid a clawed-back deal's difference,
    which nothing reversed."""
    data = locked_company(ledger, tmp_path)
    set_quota(data, "R1", "240000")  # 20,000.00 a month
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops", retroactive=True)
    lines = november_lines(ledger)
    r1 = {(deal, ref): amount for rep, deal, amount, ref, _ in lines if rep == "R1"}
    # September: D5 25,000.00 would now earn 20,000 x 10% + 5,000 x 15% = 2,750.00 instead of 2,500.00,
    # but D5 was cancelled on 2026-10-20 and October clawed back the 2,500.00: it is settled, so no
    # +250.00 for it (from scratch it would earn 2,750.00 and lose 2,750.00: nothing either).
    assert ("D5", "2026-09") not in r1
    # October's deals are re-banded against 20,000.00: D1 60,000 was 6,000.00, now 20,000 x 10% +
    # 10,000 x 15% + 30,000 x 20% = 9,500.00 (+3,500.00)
    assert r1[("D1", "2026-10")] == D("3500.00")
