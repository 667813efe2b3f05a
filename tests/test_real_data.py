"""End to end on public CRM data nobody on the project wrote (read from ../shared/data, never copied).

For each data set: convert, import into a fresh ledger, close and lock every month
of its date range, and check that every won deal with a value is credited exactly
once, that each month's reconciliation ties out, and that statements build for
every rep (and render as PDFs for the last month's longest and shortest).
"""

from __future__ import annotations

import os
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from compengine.adapters import convert, write_data_folder
from compengine.core.periods import Period
from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.models import DealRow, PayoutLineRow
from compengine.ledger.reconcile import reconcile
from compengine.ledger.statement_source import ledger_statement_data
from compengine.statements import render_statements
from compengine.statements.view import statement_view

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
CASES = {"maven-crm": "maven-crm-sales-opportunities", "northwind": "northwind"}


def _source(fmt: str) -> Path:
    path = SHARED / CASES[fmt]
    if not path.is_dir():
        reason = f"real data set {path} is absent"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{reason} (CI=true: this test must run)")
        print(f"\nSKIP reason: {reason}")
        pytest.skip(reason)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("fmt", sorted(CASES))
def test_real_crm_data_closes_every_month_and_ties_out(fmt, tmp_path):
    result = convert(fmt, _source(fmt))
    assert not result.errors
    data = tmp_path / "data"
    write_data_folder(result, data)
    engine = open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        with transaction(engine) as s:
            report = import_folder(s, data, REPO / "plans", "real-data")
        summary = result.report.summary
        first, last = Period.parse(summary["first_month"]), Period.parse(summary["last_month"])
        months = first.months_through(last)
        for p in months:
            with transaction(engine) as s:
                res = run_close(s, p, "real-data")
                assert not [e for e in res.exceptions if "no plan assignment" in e], res.exceptions[:3]
                lock_period(s, p, "real-data")
            with transaction(engine) as s:
                rec = reconcile(s, p)
                assert rec.ok, f"{p}: {[str(f) for f in rec.exceptions][:5]}"
                items = ledger_statement_data(s, p, "Real data")
            assert items and all(statement_view(i).payout == i.payout for i in items)

        # every won deal with a value is credited exactly once: its primary commission credit adds up
        # to its amount, all in its close month
        with transaction(engine) as s:
            deals = {d: (amt, per) for d, amt, per in s.execute(select(DealRow.deal_id, DealRow.amount, DealRow.close_period))}
            credit: dict[str, Decimal] = defaultdict(Decimal)
            months_of: dict[str, set[str]] = defaultdict(set)
            for deal_id, c, period in s.execute(
                select(PayoutLineRow.deal_id, PayoutLineRow.credit, PayoutLineRow.period)
                .where(PayoutLineRow.kind == "commission", PayoutLineRow.role == "primary")
            ):
                credit[deal_id] += c
                months_of[deal_id].add(period)
        assert report.deals_added == len(deals) == summary["deals"]
        assert {d for d, (amt, _) in deals.items() if amt > 0} == set(credit)
        assert all(credit[d] == amt for d, (amt, _) in deals.items())
        assert all(months_of[d] == {per} for d, (_, per) in deals.items())

        # every rep's statement of every month was built above; as PDFs, the last month's three longest (several
        # pages: an agent closes up to 50 deals a month) and three shortest (rendering is most of this test's time)
        with transaction(engine) as s:
            items = ledger_statement_data(s, last, "Real data")
        assert len(items) == len(result.reps)
        by_length = sorted(items, key=lambda i: (len(i.lines), i.rep_id))
        chosen = by_length[:3] + by_length[-3:]
        out = render_statements(chosen, tmp_path / "statements", 2)
        assert not out.failed and len(out.rendered) == len(chosen) == 6
    finally:
        engine.dispose()
