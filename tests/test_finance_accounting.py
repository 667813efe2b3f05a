"""``compengine accounting``: the ASC 340-40 journal, golden on the example company, and
Hypothesis invariants of a schedule (never negative, zero at the end, clawbacks included)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.finance.accounting import AccountingConfig, Schedule, journal, load_config, schedule
from compengine.ledger import import_folder, transaction
from tests.test_finance_model import ACME, PLANS, close_all


def test_the_worked_example_of_the_docs():
    assert schedule(Decimal("3600.00"), 36) == [Decimal("100.00")] * 36
    # 1,000.00 over 36: 27.77 a month (rounded once, toward zero), 28.05 in the last month
    s = schedule(Decimal("1000.00"), 36)
    assert s[:35] == [Decimal("27.77")] * 35 and s[-1] == Decimal("28.05") and sum(s) == Decimal("1000.00")


@settings(max_examples=300, deadline=None)
@given(cents=st.integers(min_value=1, max_value=10**11), months=st.integers(min_value=1, max_value=120),
       claw=st.one_of(st.none(), st.integers(min_value=1, max_value=130)))
def test_the_asset_balance_never_goes_negative_and_reaches_zero(cents, months, claw):
    amount = Decimal(cents).scaleb(-2)
    start = Period(2026, 3)
    clawed = str(Period.from_index(start.index + claw)) if claw is not None else None
    s = Schedule("R", "D", str(start), amount, months, True, clawed)
    p = start
    reversed_ = Decimal("0.00")
    amortized = Decimal("0.00")
    for _ in range(months + (claw or 0) + 2):
        before = s.balance_after(p.prev())
        amortized += s.amortization_in(p)
        if clawed == str(p):
            reversed_ += before
        bal = s.balance_after(p)
        assert bal >= 0
        assert bal <= before or p == start
        assert amortized + reversed_ + bal == amount  # the asset is all accounted for, every month
        p = p.next()
    assert s.balance_after(p) == 0
    end = Period.from_index(start.index + months - 1)
    if clawed is None or Period.parse(clawed) > end:
        assert s.balance_after(end) == 0 and amortized == amount


def acme(engine) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_all(engine, "2026-10", lock_until="2026-09")


def test_golden_october_of_the_example_company(ledger, tmp_path):
    acme(ledger)
    url = ledger.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(main, ["--db", url, "accounting", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    # capitalized: commission on the 24- and 36-month deals D2 and D4 (D1, D3, D7: 12 months, expedient)
    #   D2: R1 5,200.00 (40,000 at 10% + 8,000 at 10% x 1.5), R2 4,300.00, S1 800.00; D4: R2 4,000.00, S1 800.00
    assert d["capitalized"] == "15100.00"
    # amortization, one month of each: 5,200/36 = 144.44, 4,300/36 = 119.44, 800/36 = 22.22,
    #   4,000/24 = 166.66, 800/24 = 33.33 (each rounded toward zero) -> 486.09
    assert d["amortization"] == "486.09"
    assert d["asset_balance"] == "14613.91"  # 15,100.00 - 486.09
    assert d["expensed"] == "19100.00" and d["payout"] == "34200.00"  # 34,200 = 15,100 + 19,100
    assert d["tie_out"]["ok"] is True
    assert d["by_rep"]["R1"]["capitalized"] == "5200.00" and d["by_rep"]["R1"]["asset_balance"] == "5055.56"
    deal = next(x for x in d["by_deal"] if x["deal_id"] == "D4" and x["rep_id"] == "R2")
    assert (deal["months"], deal["amount"], deal["amortization"]) == (24, "4000.00", "166.66")
    out = tmp_path / "journal.csv"
    res = CliRunner().invoke(main, ["--db", url, "accounting", "2026-10", "--out", str(out)])
    assert res.exit_code == 0 and "ties out" in res.output
    assert out.read_text().startswith("# Journal\naccount,memo,debit,credit\n")


def test_a_clawback_reverses_the_unamortized_asset_and_the_expense_taken(ledger, tmp_path):
    acme(ledger)
    cfg = tmp_path / "acc.yaml"
    cfg.write_text("basis: term\npractical_expedient: false\n")
    config = load_config(cfg)
    with transaction(ledger, write=False) as s:
        sep = journal(s, Period(2026, 9), config)
        oct_ = journal(s, Period(2026, 10), config)
    # D5 (R1, 25,000 new logo, 12 months) paid 2,500.00 in September: capitalized, 208.33 amortized
    d5 = next(x for x in sep.by_deal if x["deal_id"] == "D5")
    assert (d5["amount"], d5["amortization"], d5["asset_balance"]) == (Decimal("2500.00"), Decimal("208.33"), Decimal("2291.67"))
    assert sep.ties_out and oct_.ties_out
    # cancelled in October: the clawback line (-2,500.00 commission, -250.00 M1's override) reverses the
    # unamortized 2,291.67 of asset, and 458.33 of expense (208.33 amortization taken + 250.00 override)
    assert oct_.asset_reversed == Decimal("2291.67")
    assert oct_.expense_reversed == Decimal("-458.33")
    assert oct_.asset_opening == sep.asset_balance
    assert oct_.asset_balance == oct_.asset_opening + oct_.capitalized - oct_.amortization - oct_.asset_reversed


def test_renewals_lengthen_the_period_and_a_non_positive_period_is_refused(ledger, tmp_path):
    acme(ledger)
    cfg = tmp_path / "acc.yaml"
    cfg.write_text("basis: term_plus_renewals\nexpected_renewal_months: 24\n")
    with transaction(ledger, write=False) as s:
        j = journal(s, Period(2026, 10), load_config(cfg))
    # every deal now has 36+ months: D1 6,000.00 over 36 = 166.66 a month
    d1 = next(x for x in j.by_deal if x["deal_id"] == "D1")
    assert (d1["months"], d1["amortization"], d1["treatment"]) == (36, Decimal("166.66"), "capitalized")
    assert j.ties_out
    cfg.write_text("default_term_months: 0\n")
    res = CliRunner().invoke(main, ["--db", "sqlite:///unused.db", "accounting", "2026-10", "--config", str(cfg)])
    assert res.exit_code == 1
    assert res.output.strip() == (f"Error: {cfg}: default_term_months: must be positive, not 0: a period of benefit is at "
                                  "least one month; nothing was written")
    with transaction(ledger) as s:
        s.execute(text("UPDATE deals SET term_months = 0 WHERE deal_id = 'D2'"))
    with pytest.raises(CompErrors, match="deal D2: period of benefit 0 month"):
        with transaction(ledger, write=False) as s:
            journal(s, Period(2026, 10), AccountingConfig())


def test_a_journal_that_does_not_tie_out_fails_loudly(ledger):
    acme(ledger)
    with transaction(ledger) as s:  # a payout line nobody accounted for in rep_periods
        s.execute(text("UPDATE payout_lines SET amount = amount + 1000 WHERE period = '2026-10' AND kind = 'spiff'"))
    url = ledger.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(main, ["--db", url, "accounting", "2026-10"])
    assert res.exit_code == 1
    assert "does not tie out to the payouts (34,200.00)" in res.output
