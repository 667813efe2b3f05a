"""``compengine model``: candidate plans repriced over stored history, read-only.

Property (deterministic, several seeds, both backends): modeling the plan versions each month
actually used reproduces what was paid, to the cent, month by month and rep by rep. Golden:
the example company with a richer AE new-logo rate, checked by hand.
"""

from __future__ import annotations

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
from compengine.finance.model import load_candidates, model_plans
from compengine.generate import generate
from compengine.ledger import add_adjustment, import_folder, lock_period, run_close, transaction
from compengine.ledger.models import AuditRow, PayoutLineRow, PeriodRow, PlanVersion

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"


def close_all(engine, last: str, lock_until: str = "") -> str:  # noqa: ANN001
    with transaction(engine) as s:
        first = s.scalar(select(func.min(PeriodRow.period)))
    for p in Period.parse(first).months_through(Period.parse(last)):
        with transaction(engine) as s:
            run_close(s, p, "ops")
        if str(p) <= lock_until:
            with transaction(engine) as s:
                lock_period(s, p, "ops", allow_open_disputes=True, accept_exceptions="test")
    return first


def stored_plan_dir(engine, tmp: Path) -> Path:  # noqa: ANN001
    """The plan versions the ledger used, written back out as a candidate folder."""
    out = tmp / "stored-plans"
    out.mkdir()
    with transaction(engine, write=False) as s:
        for pv in s.scalars(select(PlanVersion).order_by(PlanVersion.id)):
            (out / Path(pv.file).name).write_text(pv.text, encoding="utf-8")
    return out


def counts(engine) -> tuple[int, int]:  # noqa: ANN001
    with transaction(engine, write=False) as s:
        return (s.scalar(select(func.count()).select_from(PayoutLineRow)), s.scalar(select(func.count()).select_from(AuditRow)))


@pytest.mark.parametrize("seed", [3, 11])
def test_modeling_the_plans_used_reproduces_what_was_paid(ledger, tmp_path, seed):
    data = tmp_path / "co"
    generate(data, seed=seed, reps=24, deals=500, months=6, plans_dir=PLANS)
    with transaction(ledger) as s:
        import_folder(s, data, data / "plans", "ops")
    with transaction(ledger) as s:
        add_adjustment(s, sorted_rep(s), Period(2026, 4), Decimal("-125.50"), "desk fee", "ops")
    first = close_all(ledger, "2026-06", lock_until="2026-03")
    before = counts(ledger)
    cands = load_candidates([stored_plan_dir(ledger, tmp_path)])
    with transaction(ledger, write=False) as s:
        r = model_plans(s, cands, Period.parse(first), Period(2026, 6))
    assert counts(ledger) == before  # nothing written
    cand = r.candidates[0]
    assert r.actual.total > 0
    assert cand.by_month == r.actual.by_month
    assert dict(cand.by_rep) == dict(r.actual.by_rep)
    assert {k: v for k, v in cand.by_component.items() if v} == {k: v for k, v in r.actual.by_component.items() if v}
    assert sorted(cand.attainments) == sorted(r.actual.attainments)
    # a model may also start in the middle: balances come from the month before
    with transaction(ledger, write=False) as s:
        mid = model_plans(s, cands, Period(2026, 4), Period(2026, 6))
    assert mid.candidates[0].by_month == mid.actual.by_month and mid.actual.total > 0


def sorted_rep(session) -> str:  # noqa: ANN001
    from compengine.ledger.models import RepRow

    return session.scalar(select(RepRow.rep_id).order_by(RepRow.rep_id))


def acme(engine) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_all(engine, "2026-10", lock_until="2026-09")


def richer_ae(tmp: Path) -> Path:
    out = tmp / "richer"
    shutil.copytree(PLANS, out, ignore=shutil.ignore_patterns("*.md"))
    text = (out / "ae.yaml").read_text()
    (out / "ae.yaml").write_text(text.replace("new_logo: 0.10", "new_logo: 0.12"))
    return out


def test_golden_example_company_with_a_richer_new_logo_rate(tmp_path, ledger):
    acme(ledger)
    runner = CliRunner()
    url = ledger.url.render_as_string(hide_password=False)
    res = runner.invoke(main, ["--db", url, "model", "--plans", str(richer_ae(tmp_path)), "--from", "2026-01",
                               "--through", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["actual"]["total"] == "58270.00"
    assert d["bookings"]["total"] == "987000.00"
    c = d["candidates"][0]
    # Only R1 changes (R2 is topped up to the draw in its draw months; A1, M1, S1 are on other plans).
    # R1's new-logo credit at 0.12 instead of 0.10: Aug D9 12,000 x 0.02 = 240.00; Sep D5 25,000 x 0.02
    # = 500.00; Oct: D1 60,000 + D2 48,000 (60%): 40,000 more in band 1 and 8,000 in band 2 (x1.5)
    # -> 100,000 x 0.02 + 8,000 x 0.02 x 1.5 = 2,240.00, less the clawback of D5 (cancelled in Oct),
    # which now reverses 3,000.00 instead of 2,500.00: 2,240 - 500 = 1,740.00.
    assert c["by_rep"]["R1"] == "17430.00"  # 14,950.00 + 240 + 500 + 1,740
    assert c["total"] == "60750.00" and c["change"] == "2480.00"
    assert c["by_month"]["2026-08"]["payout"] == "4560.00"
    assert c["by_month"]["2026-10"]["payout"] == "35940.00"
    assert [w["rep_id"] for w in c["winners"]] == ["R1"] and c["losers"] == []
    assert c["cost_of_sales"] == "0.0616" and d["actual"]["cost_of_sales"] == "0.0590"
    assert set(d["distributions"]) == {"attainment", "payout"}
    # by team: the overlay team books nothing of its own (S1's credit is overlay), so no cost of sales
    assert d["actual"]["by_team"] == {
        "SE Overlay": {"payout": "4000.00", "bookings": "0.00", "cost_of_sales": None},
        "West": {"payout": "54270.00", "bookings": "987000.00", "cost_of_sales": "0.0550"},  # 54,270 / 987,000
    }
    # components: commission 41,750.00 + R1's 240 + 500 + 2,240 + R2's 1,660 (October: D4 40,000 and 10,000
    # of D2 in band 1 at +2%, 22,000 of D2 in band 2 at +2% x 1.5) = 46,390.00; R2's payout does not move:
    # in a draw month everything above the 3,000.00 draw recovers the draw balance (-6,000.00 - 1,660.00);
    # clawback -2,750.00 - 500 = -3,250.00
    comp = c["by_component"]
    assert (comp["commission"], comp["draw_recovery"], comp["clawback"]) == ("46390.00", "-7660.00", "-3250.00")
    for fmt in ("html", "csv"):
        out = tmp_path / f"model.{fmt}"
        res = runner.invoke(main, ["--db", url, "model", "--plans", str(richer_ae(tmp_path / fmt)), "--from", "2026-01",
                                   "--through", "2026-10", "--out", str(out)])
        assert res.exit_code == 0, res.output
    assert "<svg" in (tmp_path / "model.html").read_text()
    assert "# Winners under" in (tmp_path / "model.csv").read_text()


def test_a_candidate_that_fails_validation_is_one_line_naming_file_and_line(tmp_path):
    bad = richer_ae(tmp_path)
    (bad / "ae.yaml").write_text((bad / "ae.yaml").read_text().replace("new_logo: 0.12", "new_logo: -0.12"))
    db = tmp_path / "l.db"
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "model", "--plans", str(bad), "--from", "2026-01",
                                    "--through", "2026-10"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [
        f"Error: {bad / 'ae.yaml'}:11: rates.new_logo: input should be greater than or equal to 0; nothing was written"]
    assert not db.exists()  # refused before the ledger is opened


def test_a_month_not_calculated_is_refused(ledger):
    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    with pytest.raises(CompErrors, match="period 2026-01 has not been calculated"):
        with transaction(ledger, write=False) as s:
            model_plans(s, load_candidates([PLANS]), Period(2026, 1), Period(2026, 2))


def test_the_pdf_and_html_reports_show_the_histograms(tmp_path):
    from compengine.ledger import open_ledger

    engine = open_ledger(f"sqlite:///{tmp_path / 'l.db'}")
    acme(engine)
    with transaction(engine, write=False) as s:
        report = model_plans(s, load_candidates([richer_ae(tmp_path)]), Period(2026, 1), Period(2026, 10))
    engine.dispose()
    from compengine.finance.model import view
    from compengine.statements.finance_report import render_html, write_finance_report

    html = render_html(report, view)
    assert html.count("<svg") == 2 and "Attainment (rep-months)" in html and "Payout per rep over the range (USD)" in html
    # one count per rep-month with a plan (the 37 stored rep_periods rows), in each series
    h = report.histograms()["attainment"]
    assert [sum(s["counts"]) for s in h["series"]] == [37, 37]
    pdf = write_finance_report(report, tmp_path / "model.pdf", view)
    assert pdf.read_bytes().startswith(b"%PDF")
