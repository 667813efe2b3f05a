"""Issue 15 in the ledger: deals in other currencies through import, close, lock, late rate corrections,
payouts export and reconcile, on SQLite and PostgreSQL. Money is stored as thousandths of a unit
(migration 0008), so JPY (0 decimals) and KWD (3 decimals) amounts are exact.

Every number below is worked by hand in the comments; the plans pay a flat rate (no bands), so a line is
credit x rate rounded once to the plan currency's minor units (half up).
"""

from __future__ import annotations

import contextlib
import csv
import tempfile
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select, text

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_plans_and_folder
from compengine.engine import calculate_month
from compengine.ledger import export_payouts, import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.models import FxRateRow, PayoutLineRow, PeriodRow
from compengine.ledger.reconcile import reconcile
from compengine.ledger.seals import verify

OCT, NOV = Period(2026, 10), Period(2026, 11)
D = Decimal

PLANS = {
    "us": "id: us\ncurrency: USD\nquota: {annual: 1200000}\nrates: {new_logo: 0.10}\n",
    "us-avg": "id: us-avg\ncurrency: USD\nquota: {annual: 1200000}\nrates: {new_logo: 0.10}\nfx: {rate_date: month_average}\n",
    "jp": "id: jp\ncurrency: JPY\nquota: {annual: 120000000}\nrates: {new_logo: 0.08}\nfx: {rate_date: close_date, base: USD}\n",
    "kw": "id: kw\ncurrency: KWD\nquota: {annual: 120000}\nrates: {new_logo: 0.10}\n",
}
REPS = {"R1": "us", "R2": "jp", "R3": "kw", "R4": "us-avg"}


def folder(tmp: Path, deals: list[tuple], rates: list[tuple] | None, *, name: str = "data",
           reps: dict[str, str] = REPS) -> tuple[Path, Path]:
    """A data folder: reps on the plans above from 2026-10-01, ``deals`` as (id, amount, currency, close date,
    owner), ``rates`` as fx_rates.csv rows (date, from, to, rate; None: no fx_rates.csv)."""
    data, plans = tmp / name, tmp / f"{name}-plans"
    data.mkdir()
    plans.mkdir(exist_ok=True)
    for pid, body in PLANS.items():
        (plans / f"{pid}.yaml").write_text(body)
    rows = {
        "reps.csv": [["rep_id", "name", "email", "manager_id", "team", "hire_date"],
                     *([r, f"Rep {r}", "", "", "T", "2024-01-01"] for r in reps)],
        "assignments.csv": [["rep_id", "plan_id", "start", "end", "annual_quota"],
                            *([r, p, "2026-10-01", "", ""] for r, p in reps.items())],
        "deals.csv": [["deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months",
                       "product", "cancelled_on"],
                      *([d, "Acme", "new_logo", a, c, when, o, "12", "P", ""] for d, a, c, when, o in deals)],
    }
    if rates is not None:
        rows["fx_rates.csv"] = [["date", "from_currency", "to_currency", "rate"], *map(list, rates)]
    for file, content in rows.items():
        with (data / file).open("w", newline="") as fh:
            csv.writer(fh).writerows(content)
    return data, plans


def lines(engine, period: str) -> list[tuple]:  # noqa: ANN001
    with transaction(engine) as s:
        return [(r.rep_id, r.kind, r.deal_id, r.credit, r.amount) for r in s.scalars(
            select(PayoutLineRow).where(PayoutLineRow.period == period).order_by(PayoutLineRow.rep_id, PayoutLineRow.seq))]


def raw_amounts(engine, period: str) -> list[tuple]:  # noqa: ANN001
    """The stored integers (thousandths) of the month's lines."""
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT rep_id, deal_id, credit, amount FROM payout_lines WHERE period = :p ORDER BY rep_id, seq"), {"p": period})]


def close(engine, period: Period, *, lock: bool = True, accept: str | None = None):  # noqa: ANN001, ANN201
    with transaction(engine) as s:
        res = run_close(s, period, "ops")
    if lock:
        with transaction(engine) as s:
            lock_period(s, period, "ops", accept_exceptions=accept)
    return res


def count_rows(engine) -> dict[str, int]:  # noqa: ANN001
    from compengine.ledger.models import Base

    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in Base.metadata.tables}


# ------------------------------------------------------------------ golden months


def test_eur_deal_on_a_usd_plan_and_usd_deal_for_a_jpy_rep_through_import_close_lock(ledger, tmp_path):
    # D1: EUR 10,000.00 on 2026-10-03 at EUR->USD 1.0832 (from 2026-10-01) = USD 10,832.00 of credit; 10% = 1,083.20
    # D3: USD 12,345.67 on 2026-10-20 at USD->JPY 151.37 = 1,868,764.0679 -> JPY 1,868,764 (0 decimals); 8% =
    #     149,501.12 -> JPY 149,501
    data, plans = folder(tmp_path, [("D1", "10000.00", "EUR", "2026-10-03", "R1"),
                                    ("D3", "12345.67", "USD", "2026-10-20", "R2")],
                         [("2026-10-01", "EUR", "USD", "1.0832"), ("2026-10-01", "USD", "JPY", "151.37")])
    with transaction(ledger) as s:
        report = import_folder(s, data, plans, "ops")
    assert report.fx_rates_changed == ["EUR->USD from 2026-10-01 1.0832 (new)", "USD->JPY from 2026-10-01 151.37 (new)"]
    res = close(ledger, OCT)
    assert res.exceptions == []
    assert lines(ledger, "2026-10") == [
        ("R1", "commission", "D1", D("10832.00"), D("1083.20")),
        ("R2", "commission", "D3", D("1868764"), D("149501")),
    ]
    # stored as thousandths of the unit: the same integers on both backends
    assert raw_amounts(ledger, "2026-10") == [("R1", "D1", 10832000, 1083200), ("R2", "D3", 1868764000, 149501000)]
    explain = {ln.deal_id: ln.explain for r in res.reps for ln in r.lines}
    assert "EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00" in explain["D1"]
    assert "USD 12,345.67 at 151.37 (2026-10-01) = JPY 1,868,764" in explain["D3"]
    # calc over the same folder gives the same lines to the unit
    plan_map, dataset = read_plans_and_folder(plans, data)
    calc = calculate_month(dataset, plan_map, OCT)
    assert sorted((ln.rep_id, ln.kind, ln.deal_id, ln.credit, ln.amount) for r in calc.reps for ln in r.lines) == \
        lines(ledger, "2026-10")
    with transaction(ledger) as s:
        assert s.get(PeriodRow, "2026-10").last_fx_id == 2
        assert verify(s).ok


def test_a_kwd_amount_is_stored_and_read_back_exactly(ledger, tmp_path):
    # USD 1,234.56 at USD->KWD 0.3075 = 379.6272 -> KWD 379.627 (3 decimals); 10% = 37.9627 -> KWD 37.963
    data, plans = folder(tmp_path, [("K1", "1234.56", "USD", "2026-10-05", "R3")],
                         [("2026-10-01", "USD", "KWD", "0.3075")], reps={"R3": "kw"})
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    close(ledger, OCT)
    assert raw_amounts(ledger, "2026-10") == [("R3", "K1", 379627, 37963)]
    assert lines(ledger, "2026-10") == [("R3", "commission", "K1", D("379.627"), D("37.963"))]
    with transaction(ledger) as s:
        prow = s.get(PeriodRow, "2026-10")
        assert (prow.total_payout, prow.total_payout.as_tuple().exponent) == (D("37.963"), -3)
        assert verify(s).ok  # sealed in format 3: the third decimal is under the seal
        n, total = export_payouts(s, OCT, tmp_path / "p.csv")
    assert (n, total) == (1, D("37.963"))
    row = next(csv.DictReader((tmp_path / "p.csv").open()))
    assert (row["currency"], row["amount"], row["commission"], row["spiff"]) == ("KWD", "37.963", "37.963", "0.000")
    with transaction(ledger) as s:
        rec = reconcile(s, OCT)
    assert rec.ok, rec.exceptions
    assert rec.total_payout("KWD") == D("37.963")


def test_month_average_against_close_date(ledger, tmp_path):
    # EUR->USD 1.08 from 2026-10-01 and 1.10 from 2026-10-16; both deals EUR 10,000.00 closed 2026-10-20
    # close_date (R1): 1.10 -> USD 11,000.00 of credit, 10% = 1,100.00
    # month_average (R4): (15 x 1.08 + 16 x 1.10) / 31 = 33.8 / 31 = 1.090322...; 10,000.00 x = 10,903.2258...
    #   -> USD 10,903.23 of credit, 10% = 1,090.323 -> 1,090.32
    data, plans = folder(tmp_path, [("A1", "10000.00", "EUR", "2026-10-20", "R1"),
                                    ("A4", "10000.00", "EUR", "2026-10-20", "R4")],
                         [("2026-10-01", "EUR", "USD", "1.08"), ("2026-10-16", "EUR", "USD", "1.10")])
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    res = close(ledger, OCT)
    assert lines(ledger, "2026-10") == [("R1", "commission", "A1", D("11000.00"), D("1100.00")),
                                        ("R4", "commission", "A4", D("10903.23"), D("1090.32"))]
    explain = {ln.deal_id: ln.explain for r in res.reps for ln in r.lines}
    assert "at (15 x 1.08 + 16 x 1.10) / 31 (2026-10 average) = USD 10,903.23" in explain["A4"]
    with transaction(ledger) as s:
        assert reconcile(s, OCT).ok


def test_a_rate_corrected_after_the_lock_is_a_late_change_next_month(ledger, tmp_path):
    # October: EUR 1,000.00 on 2026-10-03 at 1.0832 = USD 1,083.20 of credit, 10% = 108.32; locked.
    # The rate from 2026-10-01 is corrected to 1.1012: USD 1,101.20 of credit, 10% = 110.12: +1.80, paid in
    # November beside November's own USD 1,000.00 deal (100.00): November pays 101.80.
    deals = [("E1", "1000.00", "EUR", "2026-10-03", "R1"), ("N1", "1000.00", "USD", "2026-11-05", "R1")]
    data, plans = folder(tmp_path, deals, [("2026-10-01", "EUR", "USD", "1.0832")])
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    close(ledger, OCT)
    assert lines(ledger, "2026-10") == [("R1", "commission", "E1", D("1083.20"), D("108.32"))]
    fixed, _ = folder(tmp_path, deals, [("2026-10-01", "EUR", "USD", "1.1012")], name="fixed")
    with transaction(ledger) as s:
        report = import_folder(s, fixed, plans, "ops")
    assert report.fx_rates_changed == ["EUR->USD from 2026-10-01 1.1012 (was 1.0832)"]
    assert any("reprices them" in n for n in report.notes)
    with transaction(ledger) as s:  # history: the corrected row is kept, superseded
        rows = s.execute(select(FxRateRow.rate, FxRateRow.superseded_at.is_not(None)).order_by(FxRateRow.id)).all()
    assert rows == [(D("1.0832"), True), (D("1.1012"), False)]
    assert lines(ledger, "2026-10") == [("R1", "commission", "E1", D("1083.20"), D("108.32"))]  # locked: unchanged
    close(ledger, NOV, lock=False)
    with transaction(ledger) as s:
        got = s.execute(select(PayoutLineRow.rep_id, PayoutLineRow.kind, PayoutLineRow.deal_id, PayoutLineRow.amount,
                               PayoutLineRow.rule, PayoutLineRow.ref_period, PayoutLineRow.explain)
                        .where(PayoutLineRow.period == "2026-11").order_by(PayoutLineRow.seq)).all()
    assert [g[:6] for g in got] == [("R1", "commission", "N1", D("100.00"), "rates.new_logo x accelerators.tiers[0]", None),
                                    ("R1", "adjustment", "E1", D("1.80"), "late_change.commission", "2026-10")]
    assert "exchange rate EUR->USD from 2026-10-01 1.1012 (was 1.0832) recorded after the lock" in got[1][6]
    assert "+1.80" in got[1][6]
    with transaction(ledger) as s:
        assert s.get(PeriodRow, "2026-11").total_payout == D("101.80")
        assert reconcile(s, OCT).ok and reconcile(s, NOV).ok
    # a rerun of November pays the difference once, not again
    close(ledger, NOV, lock=False)
    assert [ln[4] for ln in lines(ledger, "2026-11")] == [D("100.00"), D("1.80")]


def test_a_missing_rate_is_an_exception_that_blocks_the_lock_and_a_late_rate_pays_next_month(ledger, tmp_path):
    # GBP 2,000.00 on 2026-10-15 with no GBP rate: an exception naming the deal, the pair and the date
    deals = [("G1", "2000.00", "GBP", "2026-10-15", "R1"), ("N1", "1000.00", "USD", "2026-11-05", "R1")]
    data, plans = folder(tmp_path, deals, [("2026-10-01", "EUR", "USD", "1.0832")])
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    res = close(ledger, OCT, lock=False)
    assert len(res.exceptions) == 1
    assert "G1" in res.exceptions[0] and "GBP->USD" in res.exceptions[0] and "2026-10-15" in res.exceptions[0]
    with pytest.raises(CompErrors, match=r"deal G1 in GBP for plan us in USD: no GBP->USD rate in force on 2026-10-15"):
        with transaction(ledger) as s:
            lock_period(s, OCT, "ops")
    with transaction(ledger) as s:
        lock_period(s, OCT, "ops", accept_exceptions="GBP rate comes from treasury next week")
    # the rate arrives after the lock: GBP 2,000.00 at 1.2650 = USD 2,530.00, 10% = 253.00, paid in November
    late, _ = folder(tmp_path, deals, [("2026-10-01", "EUR", "USD", "1.0832"), ("2026-10-01", "GBP", "USD", "1.2650")],
                     name="late")
    with transaction(ledger) as s:
        import_folder(s, late, plans, "ops")
    close(ledger, NOV, lock=False)
    assert [(ln[1], ln[2], ln[4]) for ln in lines(ledger, "2026-11")] == [
        ("commission", "N1", D("100.00")), ("adjustment", "G1", D("253.00"))]


def test_payouts_export_and_reconcile_per_currency_and_in_one_currency(ledger, tmp_path, db_url):
    # R1 (USD): D1 EUR 10,000.00 at 1.0832 -> 1,083.20; R2 (JPY): D3 USD 12,345.67 at 151.37 -> 149,501
    data, plans = folder(tmp_path, [("D1", "10000.00", "EUR", "2026-10-03", "R1"),
                                    ("D3", "12345.67", "USD", "2026-10-20", "R2")],
                         [("2026-10-01", "EUR", "USD", "1.0832"), ("2026-10-01", "USD", "JPY", "151.37")],
                         reps={"R1": "us", "R2": "jp"})
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    close(ledger, OCT)
    out = tmp_path / "payouts.csv"
    with transaction(ledger) as s:
        done = export_payouts(s, OCT, out)
    assert (done.count, done.totals) == (2, {"JPY": D("149501"), "USD": D("1083.20")})
    with pytest.raises(CompErrors, match="2 currencies"):
        done.total  # noqa: B018 - no single total across currencies
    assert [(r["rep_id"], r["currency"], r["amount"], r["commission"]) for r in csv.DictReader(out.open())] == [
        ("R1", "USD", "1083.20", "1083.20"), ("R2", "JPY", "149501", "149501")]
    res = CliRunner().invoke(main, ["--db", db_url, "payouts", "export", "2026-10", "--out", str(tmp_path / "again.csv")])
    assert res.exit_code == 0, res.output
    assert res.output.strip() == f"{tmp_path / 'again.csv'}: 2 rep(s), total JPY 149,501, USD 1,083.20"

    # reconcile: per currency. The EUR booking is paid in USD: converted out of EUR, into USD
    with transaction(ledger) as s:
        rec = reconcile(s, OCT, payout_file=out, in_currency="USD")
    assert rec.ok, rec.exceptions
    assert {c: rec.total_payout(c) for c in rec.currencies} == {"EUR": D("0"), "JPY": D("149501"), "USD": D("1083.20")}
    book = {(b.currency, b.deal_type): b for b in rec.bookings}
    assert (book[("EUR", "new_logo")].booked, book[("EUR", "new_logo")].converted_out) == (D("10000.00"), D("10000.00"))
    assert (book[("USD", "new_logo")].converted_in, book[("USD", "new_logo")].credit_due) == (D("10832.00"), D("10832.00"))
    assert (book[("JPY", "new_logo")].credit_due, book[("USD", "new_logo")].converted_out) == (D("1868764"), D("12345.67"))
    # --in USD: the rates in force on 2026-10-31. JPY 149,501 at 1/151.37 = 987.6527... -> USD 987.65;
    # bookings: EUR 10,000.00 x 1.0832 = 10,832.00, USD 12,345.67; payout 0 + 987.65 + 1,083.20 = 2,070.85
    ic = rec.in_currency
    assert ic.as_of == "2026-10-31"
    assert [(r.currency, r.rate, r.how, r.payout_in, r.net_bookings_in) for r in ic.rows] == [
        ("EUR", "1.0832", "direct", D("0.00"), D("10832.00")),
        ("JPY", "1/151.37", "inverse", D("987.65"), D("0.00")),
        ("USD", "1", "same currency", D("1083.20"), D("12345.67"))]
    assert (ic.total_payout, ic.total_net_bookings) == (D("2070.85"), D("23177.67"))
    as_json = rec.as_dict()["in_currency"]
    assert (as_json["total_payout"], as_json["rows"][1]["payout_in"]) == ("2070.85", "987.65")
    assert any(title.startswith("In USD (rates in force on 2026-10-31)") for title, _h, _r in rec.tables())
    # the CLI: text, CSV and HTML carry it; an unknown code or a missing rate is one line, exit 1
    res = CliRunner().invoke(main, ["--db", db_url, "reconcile", "2026-10", "--in", "USD", "--out", str(tmp_path / "r.csv")])
    assert res.exit_code == 0, res.output
    assert "In USD: each currency at the rate in force on 2026-10-31" in res.output
    assert "# In USD (rates in force on 2026-10-31)" in (tmp_path / "r.csv").read_text()
    res = CliRunner().invoke(main, ["--db", db_url, "reconcile", "2026-10", "--in", "USD", "--out", str(tmp_path / "r.html")])
    assert res.exit_code == 0 and "In USD: each currency at the rate in force on 2026-10-31" in (tmp_path / "r.html").read_text()
    for code, msg in (("XXX", "--in: unknown currency code"), ("CHF", "--in CHF: no EUR->CHF rate in force on 2026-10-31")):
        res = CliRunner().invoke(main, ["--db", db_url, "reconcile", "2026-10", "--in", code])
        assert res.exit_code == 1 and "Traceback" not in res.output
        assert res.output.splitlines()[-1].startswith(f"Error: {msg}")


# ------------------------------------------------------------------ bad input: file:line:field, nothing written


@pytest.mark.parametrize("rates, plan_fx, expected", [
    ([("2026-10-01", "EUR", "ZZZ", "1.08")], None, "fx_rates.csv:2: to_currency: unknown currency code 'ZZZ'"),
    ([("2026-10-01", "EUR", "USD", "0")], None, "fx_rates.csv:2: rate: 0 is not above zero"),
    ([("2026-10-01", "EUR", "USD", "-1.08")], None, "fx_rates.csv:2: rate: -1.08 is not above zero"),
    ([("2026-10-01", "EUR", "USD", "1.08"), ("2026-10-01", "EUR", "USD", "1.09")], None,
     "fx_rates.csv:3: date: EUR->USD already has a rate on 2026-10-01 (line 2)"),
    ([("2026-10-01", "EUR", "USD", "1.08")], "fx: {rate_date: month_start}", "us.yaml:5: fx.rate_date: unknown rate_date"),
])
def test_bad_fx_input_at_import_names_file_line_field_and_writes_nothing(ledger, tmp_path, rates, plan_fx, expected):
    data, plans = folder(tmp_path, [("D1", "10000.00", "EUR", "2026-10-03", "R1")], rates)
    if plan_fx:
        (plans / "us.yaml").write_text(PLANS["us"] + plan_fx + "\n")
    with pytest.raises(CompErrors) as err:
        with transaction(ledger) as s:
            import_folder(s, data, plans, "ops")
    shown = [str(e) for e in err.value.errors]
    assert any(expected in e for e in shown), shown
    assert all(n == 0 for t, n in count_rows(ledger).items() if t != "alembic_version")
    res = CliRunner().invoke(main, ["--db", ledger.url.render_as_string(hide_password=False), "import", str(data),
                                    "--plans", str(plans)])
    assert res.exit_code != 0 and "Traceback" not in res.output and expected in res.output


# ------------------------------------------------------------------ invariant: reconcile ties out per currency


@contextlib.contextmanager
def fresh_ledger(backend: str, tmp: Path):  # noqa: ANN201
    """An empty ledger of its own (one per Hypothesis example)."""
    from tests.conftest import PG_URL, drop_pg_schema, new_pg_schema, require_pg

    if backend == "sqlite":
        path = tmp / "h.db"
        if path.exists():
            path.unlink()
        engine = open_ledger(f"sqlite:///{path}")
        try:
            yield engine
        finally:
            engine.dispose()
        return
    require_pg()
    schema = new_pg_schema()
    engine = open_ledger(f"{PG_URL}?options=-csearch_path%3D{schema}")
    try:
        yield engine
    finally:
        engine.dispose()
        drop_pg_schema(schema)


AMOUNTS = st.decimals(min_value=D("0.01"), max_value=D("99999.99"), places=2)
DEALS = st.lists(st.tuples(st.sampled_from(["USD", "EUR", "JPY"]), AMOUNTS, st.integers(1, 31),
                           st.sampled_from(["R1", "R2", "R4"])), min_size=1, max_size=5)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deals=DEALS)
def test_reconcile_ties_out_per_currency_on_random_multi_currency_months(backend, tmp_path, deals):
    rows = [(f"H{i}", str(max(1, int(a))) if c == "JPY" else f"{a:.2f}", c, f"2026-10-{day:02d}", owner)
            for i, (c, a, day, owner) in enumerate(deals)]  # a JPY deal in whole yen
    tmp = Path(tempfile.mkdtemp(dir=tmp_path))
    data, plans = folder(tmp, rows, [("2026-10-01", "EUR", "USD", "1.0832"), ("2026-10-01", "USD", "JPY", "151.37"),
                                     ("2026-10-17", "EUR", "USD", "1.0901")],
                         reps={"R1": "us", "R2": "jp", "R4": "us-avg"})
    with fresh_ledger(backend, tmp) as engine:
        with transaction(engine) as s:
            import_folder(s, data, plans, "ops")
        res = close(engine, OCT)
        assert res.exceptions == []
        with transaction(engine) as s:
            rec = reconcile(s, OCT)
            assert rec.ok, rec.exceptions
            # per currency, the ledger, the statements and the payout rows agree
            for cur in {r.currency for r in rec.reps}:
                amounts = {t.source: t.amount for t in rec.tie_out if t.currency == cur}
                assert len(set(amounts.values()) - {None}) == 1, amounts
            paid = s.execute(select(func.count()).select_from(PayoutLineRow)).scalar()
        assert paid == len(rows)  # every deal converted and paid once


# ------------------------------------------------------------------ storage: thousandths, exact on both backends


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(units=st.integers(min_value=-(10**15), max_value=10**15), places=st.sampled_from([0, 2, 3]))
def test_amounts_of_0_2_and_3_decimal_currencies_round_trip_as_thousandths(ledger, units, places):
    """JPY (0 places), USD (2) and KWD (3) amounts are stored as the integer count of thousandths and read back
    equal, with two places when they are whole cents and three otherwise."""
    amount = Decimal(units).scaleb(-places)
    with transaction(ledger) as s:
        s.add(PayoutLineRow(period="2026-01", rep_id="X", seq=1, kind="commission", amount=amount, rule="", explain=""))
    with transaction(ledger) as s:
        got = s.execute(select(PayoutLineRow.amount).order_by(PayoutLineRow.id.desc()).limit(1)).scalar_one()
        raw = s.execute(text("SELECT amount FROM payout_lines ORDER BY id DESC LIMIT 1")).scalar_one()
        s.execute(PayoutLineRow.__table__.delete())
    assert raw == units * 10 ** (3 - places)
    assert got == amount
    assert str(got) == (f"{amount:.2f}" if raw % 10 == 0 else f"{amount:.3f}")


def test_an_amount_finer_than_a_thousandth_is_refused(ledger):
    with pytest.raises(Exception, match="fractions of a thousandth"):
        with transaction(ledger) as s:
            s.add(PayoutLineRow(period="2026-01", rep_id="X", seq=1, kind="commission", amount=D("1.0005"), rule="",
                                explain=""))
            s.flush()


# ------------------------------------------------------------------ adjustments and disputes in the rep's currency


def test_adjustments_and_disputes_are_checked_in_the_reps_payout_currency(ledger, tmp_path):
    """A yen rep's adjustment is whole yen, a dinar rep's may have fils, a dollar rep's keeps cents; a
    dispute's claimed and approved amounts likewise. Nothing is written for a refused amount."""
    from compengine.ledger.disputes import open_dispute, resolve
    from compengine.ledger.models import AdjustmentRow
    from compengine.ledger.ops import add_adjustment, payout_currency

    data, plans = folder(tmp_path, [("K1", "1234.567", "KWD", "2026-10-05", "R3"),
                                    ("J1", "100000", "JPY", "2026-10-05", "R2"),
                                    ("U1", "1000.00", "USD", "2026-10-05", "R1")], None, reps={"R1": "us", "R2": "jp", "R3": "kw"})
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    close(ledger, OCT, lock=False)
    with transaction(ledger) as s:
        assert [payout_currency(s, r, OCT) for r in ("R1", "R2", "R3")] == ["USD", "JPY", "KWD"]
    for rep, amount, problem in (("R2", "0.50", "amount 0.50 has more than 0 decimal place(s) for JPY"),
                                 ("R1", "5.005", "amount 5.005 has fractions of a cent"),
                                 ("R3", "5.0005", "amount 5.0005 has more than 3 decimal place(s) for KWD")):
        with pytest.raises(CompErrors) as err, transaction(ledger) as s:
            add_adjustment(s, rep, OCT, D(amount), "test", "ops")
        assert str(err.value) == problem
    with transaction(ledger) as s:
        assert s.scalar(select(func.count()).select_from(AdjustmentRow)) == 0
        add_adjustment(s, "R3", OCT, D("5.005"), "fils", "ops")
        add_adjustment(s, "R2", OCT, D("500"), "yen", "ops")
        with pytest.raises(CompErrors, match="the amount claimed 1.5 has more than 0 decimal place"):
            open_dispute(s, "R2", OCT, "short", "R2", amount=D("1.5"))
        dispute = open_dispute(s, "R3", OCT, "short by fils", "R3", amount=D("1.234"))
    with transaction(ledger) as s:
        resolve(s, dispute.id, "ops", True, "ok", amount=D("0.005"))
    res = close(ledger, OCT, lock=False)
    # R3: 1,234.567 x 10% = 123.4567 -> 123.457; + 5.005 + 0.005 = 128.467. R2: 100,000 x 8% = 8,000 + 500 = 8,500
    assert {r.rep_id: r.payout for r in res.reps} == {"R1": D("100.00"), "R2": D("8500"), "R3": D("128.467")}


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_the_portal_shows_a_dinar_and_a_yen_ledger_on_every_page(ledger, tmp_path):
    """Every page a user reads, on a ledger paying fils and yen: amounts in each rep's currency (a rep's
    months and chart included), never a server error for an amount with a third decimal."""
    from starlette.testclient import TestClient

    from compengine.ledger.users import add_user
    from compengine.web.app import create_app

    data, plans = folder(tmp_path, [("K1", "1234.567", "KWD", "2026-10-05", "R3"),
                                    ("J1", "100000", "JPY", "2026-10-05", "R2")], None, reps={"R2": "jp", "R3": "kw"})
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    close(ledger, OCT)
    with transaction(ledger) as s:
        for name, role, rep in (("kay", "rep", "R3"), ("ken", "rep", "R2"), ("olga", "ops", None),
                                ("fin", "finance", None), ("adm", "admin", None)):
            add_user(s, name, role, "correct-horse-9", "setup", rep_id=rep)
    app = create_app(ledger, secret="test-secret")
    pages = ["/", "/reps/R3", "/reps/R2", "/statements/2026-10/R3", "/statements/2026-10/R2", "/disputes", "/team",
             "/ops", "/adjustments", "/finance/reconcile/2026-10", "/finance/verify", "/admin/users",
             "/api/periods", "/api/statements/2026-10/R3"]
    seen = {}
    for user in ("kay", "ken", "olga", "fin", "adm"):
        client = TestClient(app, raise_server_exceptions=True)
        assert client.post("/login", data={"username": user, "password": "correct-horse-9"},
                           follow_redirects=False).status_code == 303
        for page in pages:
            r = client.get(page)
            assert r.status_code < 500, (user, page)
            seen[(user, page)] = r
    # R3: 1,234.567 x 10% = 123.4567 -> 123.457 KWD; R2: 100,000 x 8% = 8,000 JPY
    assert "123.457" in seen[("kay", "/reps/R3")].text and "123.457" in seen[("kay", "/statements/2026-10/R3")].text
    assert "8,000" in seen[("ken", "/reps/R2")].text and "8,000.00" not in seen[("ken", "/reps/R2")].text
    assert seen[("kay", "/api/statements/2026-10/R3")].json()["payout"] == "123.457"
