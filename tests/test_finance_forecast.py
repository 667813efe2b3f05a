"""``compengine forecast``: expected, commit and best-case earnings from open opportunities.

Property (both backends): with every probability 1.0 the forecast equals calculating the
pipeline as closed-won (the same deals imported and closed in a second ledger). Golden: the
example company with two opportunities, checked by hand. Bad input is one line, file:line:field.
Real pipeline: the Maven CRM Engaging and Prospecting opportunities.
"""

from __future__ import annotations

import csv
import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_pipeline
from compengine.finance.forecast import forecast
from compengine.generate import generate
from compengine.ledger import import_folder, open_ledger, transaction
from compengine.ledger.models import RepPeriod
from tests.test_finance_model import ACME, PLANS, close_all, counts

PIPE_HEADER = ["deal_id", "owner_id", "amount", "currency", "deal_type", "expected_close", "probability", "account",
               "term_months", "product"]


def split_company(data: Path, with_pipeline: Path, pipeline_csv: Path, months: set[str]) -> None:
    """Move every other deal of ``months`` (not cancelled, no split rows) out of deals.csv into a pipeline file."""
    shutil.copytree(data, with_pipeline)
    with (data / "deals.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    with (data / "splits.csv").open(newline="") as fh:
        split_deals = {r["deal_id"] for r in csv.DictReader(fh)}
    moved, kept = [], []
    for i, r in enumerate(rows):
        if r["close_date"][:7] in months and not r["cancelled_on"] and r["deal_id"] not in split_deals and i % 2 == 0:
            moved.append(r)
        else:
            kept.append(r)
    assert len(moved) > 10
    for folder, deals in ((data, kept), (with_pipeline, rows)):
        with (folder / "deals.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(deals)
    with pipeline_csv.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PIPE_HEADER)
        for r in moved:
            w.writerow([r["deal_id"], r["owner_id"], r["amount"], r["currency"], r["deal_type"], r["close_date"], "1.0",
                        r["account"], r["term_months"], r["product"]])


def test_every_probability_one_equals_the_pipeline_closed_won(ledger, db_url, tmp_path):
    data = tmp_path / "co"
    generate(data, seed=5, reps=20, deals=420, months=6, plans_dir=PLANS)
    pipeline = tmp_path / "pipeline.csv"
    split_company(data, tmp_path / "co-won", pipeline, {"2026-05", "2026-06"})
    with transaction(ledger) as s:
        import_folder(s, data, data / "plans", "ops")
    close_all(ledger, "2026-04", lock_until="2026-04")
    opps, errors = read_pipeline(pipeline)
    assert errors == []
    before = counts(ledger)
    with transaction(ledger, write=False) as s:
        f = forecast(s, opps, Period(2026, 6))
    assert counts(ledger) == before
    assert f.months == ["2026-05", "2026-06"]
    # the same deals closed-won, in a second ledger of the same kind
    won_url = f"sqlite:///{tmp_path / 'won.db'}"
    won = open_ledger(won_url)
    with transaction(won) as s:
        import_folder(s, tmp_path / "co-won", data / "plans", "ops")
    close_all(won, "2026-06", lock_until="2026-04")
    with transaction(won, write=False) as s:
        paid = {(r, p): v for r, p, v in s.execute(select(RepPeriod.rep_id, RepPeriod.period, RepPeriod.payout)
                                                   .where(RepPeriod.period >= "2026-05"))}
    won.dispose()
    for scenario in ("expected", "commit", "best_case"):
        got = {(r, m): v for r, by_m in f.payouts[scenario].items() for m, v in by_m.items()}
        assert got == paid, scenario
    assert f.total("best_case") > f.total("closed")


def acme_ledger(engine) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_all(engine, "2026-10", lock_until="2026-09")


def write_pipeline(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(PIPE_HEADER[:7])
        w.writerows(rows)
    return path


def test_golden_two_opportunities_on_the_example_company(ledger, tmp_path):
    acme_ledger(ledger)
    # R1 closed 138,000 in October (quota 100,000): new logo now earns 10% x 1.5 up to 150,000, then x 2.0.
    pipe = write_pipeline(tmp_path / "p.csv", [
        ["P1", "R1", "10000.00", "USD", "new_logo", "2026-10-28", "0.8"],
        ["P2", "R1", "20000.00", "USD", "new_logo", "2026-10-30", "0.5"],
    ])
    url = ledger.url.render_as_string(hide_password=False)
    res = CliRunner().invoke(main, ["--db", url, "forecast", "--pipeline", str(pipe), "--through", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["from"] == "2026-10" and d["months"] == ["2026-10"]
    r1 = d["reps"]["R1"]
    m1 = d["reps"]["M1"]
    # closed: what R1 was paid in October (commission 13,450 + SPIFF 300 - clawback 2,500)
    assert r1["closed"] == "11250.00"
    # commit (P1, p 0.8 >= 0.7): 10,000 in band 2 (138k -> 148k) at 10% x 1.5 = 1,500.00
    assert r1["commit"] == "12750.00"
    # best case: + P2 20,000: 2,000 in band 2 (148k -> 150k) = 300.00, 18,000 in band 3 at 10% x 2.0 = 3,600.00
    assert r1["best_case"] == "16650.00"
    # expected: P1 first (more likely): 0.8 x 1,500 = 1,200; P2 on top of P1: 0.5 x 3,900 = 1,950
    assert r1["expected"] == "14400.00"
    # M1's override (1% of each report's credit): 100.00 and 200.00 -> expected 0.8 x 100 + 0.5 x 200 = 180.00
    assert Decimal(m1["expected"]) - Decimal(m1["closed"]) == Decimal("180.00")
    assert Decimal(m1["best_case"]) - Decimal(m1["closed"]) == Decimal("300.00")
    # the quarter (Q4 = October only here): the commit scenario's October
    assert r1["sentence"] == "If your commit closes, you earn USD 12,750.00 this quarter (2026 Q4)."
    assert d["totals"]["expected"] == d["by_month"]["2026-10"]["expected"]
    for name in ("forecast.csv", "forecast.html"):
        res = CliRunner().invoke(main, ["--db", url, "forecast", "--pipeline", str(pipe), "--through", "2026-10",
                                        "--out", str(tmp_path / name)])
        assert res.exit_code == 0, res.output
        assert "If your commit closes, you earn USD 12,750.00 this quarter" in (tmp_path / name).read_text()


@pytest.mark.parametrize("row,message", [
    (["P1", "R1", "100.00", "USD", "new_logo", "2026-10-28", "1.5"], "p.csv:2: probability: must be between 0 and 1, got 1.5"),
    (["P1", "ZZ", "100.00", "USD", "new_logo", "2026-10-28", "0.5"], "p.csv:2: owner_id: unknown owner 'ZZ': not a rep in the ledger"),
    (["P1", "R1", "100.00", "USD", "new_logo", "2026-09-28", "0.5"],
     "p.csv:2: expected_close: 2026-09-28 is in 2026-09, which is locked (the forecast starts in 2026-10)"),
    (["D1", "R1", "100.00", "USD", "new_logo", "2026-10-28", "0.5"],
     "p.csv:2: deal_id: D1 is already a deal in the ledger: a closed-won deal is not an open opportunity"),
    (["P1", "R1", "100.00", "EUR", "new_logo", "2026-10-28", "0.5"], "p.csv:2: currency: EUR, but R1's plan ae-2026 pays USD"),
    (["P1", "R1", "100.00", "USD", "new_logo", "2026-10-28", ""], "p.csv:2: probability: is required (or a stage)"),
])
def test_bad_input_is_one_line_and_nothing_is_written(tmp_path, row, message):
    db = tmp_path / "l.db"
    engine = open_ledger(f"sqlite:///{db}")
    acme_ledger(engine)
    before = counts(engine)
    engine.dispose()
    pipe = write_pipeline(tmp_path / "p.csv", [row])
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{db}", "forecast", "--pipeline", str(pipe), "--through", "2026-12"])
    assert res.exit_code == 1
    assert res.output.strip().splitlines() == [f"Error: {tmp_path / message}; nothing was written"]
    engine = open_ledger(f"sqlite:///{db}")
    assert counts(engine) == before
    engine.dispose()


def test_the_maven_crm_open_pipeline_forecasts_every_rep(tmp_path):
    """Real pipeline: the Maven CRM export's Engaging and Prospecting opportunities (read in place)."""
    from tests.test_real_data import _source

    src = _source("maven-crm")
    db = f"sqlite:///{tmp_path / 'm.db'}"
    pipe = tmp_path / "pipeline.csv"
    runner = CliRunner()
    res = runner.invoke(main, ["--db", db, "import-crm", "--format", "maven-crm", str(src), "--plans", str(PLANS),
                               "--pipeline-out", str(pipe)])
    assert res.exit_code == 0, res.output
    assert "wrote " + str(pipe) + ": 2089 open opportunities" in res.output  # 1,589 Engaging + 500 Prospecting
    with pipe.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert {r["stage"] for r in rows} == {"Engaging", "Prospecting"}
    assert {r["expected_close"] for r in rows} == {"2018-01-31"}  # the month after the last won deal (2017-12)
    gtx_pro = next(r for r in rows if r["product"] == "GTXPro")
    assert gtx_pro["amount"] == "4821.00"  # the list price of GTX Pro (products.csv)
    res = runner.invoke(main, ["--db", db, "forecast", "--pipeline", str(pipe), "--through", "2018-01",
                               "--commit-threshold", "0.6", "--json"])
    assert res.exit_code == 0, res.output
    d = json.loads(res.output)
    assert d["opportunities"] == 2089 and d["counted"]["commit"] == 1589  # Engaging at 0.60
    t = {k: Decimal(v) for k, v in d["totals"].items()}
    assert t["closed"] < t["expected"] < t["best_case"] and t["closed"] < t["commit"] <= t["best_case"]
    # expected pipeline amount: 1,589 x 0.6 and 500 x 0.1 of list prices, each rounded to the cent
    assert Decimal(d["pipeline_amount"]["best_case"]) == sum((Decimal(r["amount"]) for r in rows), Decimal(0))
    jan = {s: Decimal(v) for s, v in d["by_month"]["2018-01"].items()}
    assert jan["closed"] == 0 and jan["best_case"] > jan["expected"] > 0  # no deal is closed in January 2018 yet
    assert all(v["sentence"].startswith("If your commit closes, you earn USD ") for v in d["reps"].values())


@pytest.fixture(scope="module")
def acme_closed(tmp_path_factory):  # noqa: ANN001, ANN201
    engine = open_ledger(f"sqlite:///{tmp_path_factory.mktemp('acme') / 'l.db'}")
    acme_ledger(engine)
    yield engine
    engine.dispose()


def _opps(rows: list[tuple[str, str, int, str, int, Decimal]]) -> list:
    from datetime import date

    from compengine.core.errors import Source
    from compengine.datafiles import Opportunity
    from compengine.engine.records import Deal

    out = []
    for i, (owner, deal_type, amount, _unused, day, p) in enumerate(rows):
        close = date(2026, 10 + day % 3, 1 + day % 28)
        deal = Deal(f"P{i}", "", deal_type, Decimal(amount).scaleb(-2), "USD", close, owner)
        out.append(Opportunity(deal, p, None, Source("p.csv", i + 2)))
    return out


opportunity = st.tuples(st.sampled_from(["R1", "R2", "A1", "M1"]), st.sampled_from(["new_logo", "expansion", "renewal"]),
                        st.integers(min_value=100, max_value=20_000_000), st.just(""), st.integers(0, 200),
                        st.sampled_from([Decimal(x) for x in ("0", "0.1", "0.25", "0.5", "0.7", "0.9", "1")]))


@settings(max_examples=25, deadline=None)
@given(rows=st.lists(opportunity, min_size=1, max_size=5))
def test_expected_meets_its_limits_and_is_linear_for_one_opportunity(acme_closed, rows):
    opps = _opps(rows)
    with transaction(acme_closed, write=False) as s:
        f = forecast(s, opps, Period(2026, 12))
        certain = forecast(s, [o.__class__(o.deal, Decimal(1), None, o.source) for o in opps], Period(2026, 12))
        never = forecast(s, [o.__class__(o.deal, Decimal(0), None, o.source) for o in opps], Period(2026, 12))
    # every probability 1: expected = commit = best case; every probability 0: expected = closed
    assert certain.payouts["expected"] == certain.payouts["best_case"] == certain.payouts["commit"]
    assert never.payouts["expected"] == never.payouts["closed"]
    # the scenarios do not depend on the probabilities, except which deals are commit
    assert f.payouts["best_case"] == certain.payouts["best_case"] and f.payouts["closed"] == never.payouts["closed"]
    if len(opps) == 1:  # one opportunity: expected = closed + p x (best case - closed), rounded once per rep and month
        p = opps[0].probability
        for rep, by_m in f.payouts["closed"].items():
            for m, closed in by_m.items():
                best = f.payouts["best_case"][rep][m]
                assert f.payouts["expected"][rep][m] == (closed + p * (best - closed)).quantize(Decimal("0.01"), "ROUND_HALF_UP")
