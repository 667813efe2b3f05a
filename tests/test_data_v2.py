"""Issue 14, data and storage: deals.csv quantity, cost and attributes, products.csv, quotas.csv,
their ledger storage (migration 0007), deal sources on credits, and the codec of the new fields."""

from __future__ import annotations

import csv
import shutil
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine.pipeline import credit_deals, group_splits
from compengine.engine.records import ComponentMeasure, Line, Quota, RepResult, RepState
from compengine.ledger import import_folder, lock_period, run_close, transaction
from compengine.ledger.history import timeline, timeline_text
from compengine.ledger.codec import (
    LINE_SHAPES,
    attrs_of,
    attrs_text,
    component_paid_of,
    component_paid_text,
    decode_shaped,
    parts_of,
    parts_text,
    rep_result_of,
    shaped_line_rows,
    stored_lines,
)
from compengine.ledger.inputs import load_credits, load_deals, load_inputs, load_state
from compengine.ledger.models import (
    DealEvent,
    DealRow,
    ImportBatch,
    QuotaRow,
    RepPeriod,
    RepRow,
    RetroChangeRow,
)
from compengine.plans import load_plans

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
D = Decimal

QUOTAS = """rep_id,plan_id,component,start,end,annual
R1,ae-2026,commission,2026-01-01,2026-06-30,1000000
R1,ae-2026,commission,2026-07-01,,1200000.50
A1,am-2026,commission,2026-01-01,,2400000
"""


def folder(tmp_path: Path, *, deals_extra: dict[str, dict[str, str]] | None = None, files: dict[str, str] | None = None) -> Path:
    """A copy of examples/acme; ``deals_extra``: column -> {deal_id: value} added to deals.csv; ``files``: more files."""
    dst = tmp_path / "data"
    shutil.copytree(ACME, dst)
    if deals_extra:
        path = dst / "deals.csv"
        rows = list(csv.DictReader(path.open()))
        fields = list(rows[0]) + list(deals_extra)
        for r in rows:
            for col, values in deals_extra.items():
                r[col] = values.get(r["deal_id"], "")
        with path.open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=fields)
            w.writeheader()
            w.writerows(rows)
    for name, text in (files or {}).items():
        (dst / name).write_text(text)
    return dst


def line_no(data: Path, deal_id: str) -> int:
    for i, row in enumerate(csv.reader((data / "deals.csv").open()), 1):
        if row[0] == deal_id:
            return i
    raise KeyError(deal_id)


def read(data: Path):  # noqa: ANN201
    plans, errors = load_plans(PLANS)
    assert not errors
    return read_data_folder(data, plans)


def messages(errors) -> list[str]:  # noqa: ANN001
    return [str(e) for e in errors]


# --------------------------------------------------------------------------- data folder: deals.csv


def test_quantity_cost_and_attributes_are_read(tmp_path):
    data = folder(tmp_path, deals_extra={
        "quantity": {"D1": "3", "D2": "2.5"},
        "cost": {"D1": "12000.00", "D3": "0"},
        "segment": {"D1": "SMB", "D2": "Enterprise"},
        "region": {"D1": "EMEA", "D3": "AMER"},
    })
    ds, errors = read(data)
    assert errors == []
    by = {d.deal_id: d for d in ds.deals}
    assert (by["D1"].quantity, by["D1"].cost, by["D1"].attrs) == (D("3"), D("12000.00"), (("region", "EMEA"), ("segment", "SMB")))
    assert (by["D2"].quantity, by["D2"].cost, by["D2"].attrs) == (D("2.5"), D(0), (("segment", "Enterprise"),))
    assert by["D3"].attrs == (("region", "AMER"),)  # empty cells are left out
    assert (by["D4"].quantity, by["D4"].cost, by["D4"].attrs) == (D(1), D(0), ())  # defaults
    assert by["D1"].attr("segment") == "SMB" and by["D1"].attr("quantity") == "3" and by["D4"].attr("region") is None


def test_a_deals_csv_without_the_new_columns_reads_as_before(tmp_path):
    ds, errors = read(folder(tmp_path))
    assert errors == []
    assert {(d.quantity, d.cost, d.attrs) for d in ds.deals} == {(D(1), D(0), ())}


@pytest.mark.parametrize("column, value, message", [
    ("quantity", "0", "quantity: must be positive, got 0"),
    ("quantity", "-2", "quantity: must be positive, got -2"),
    ("quantity", "two", "quantity: not a number 'two'"),
    ("quantity", "1000000000000", "quantity: 1000000000000 is above the maximum"),
    ("cost", "-1.00", "cost: must not be negative, got -1.00"),
    ("cost", "1.234", "cost: 1.234 has fractions of a cent"),
    ("cost", "1e3", "cost: not a plain number '1e3'"),
])
def test_bad_quantity_and_cost_name_file_line_field(tmp_path, column, value, message):
    data = folder(tmp_path, deals_extra={column: {"D2": value}})
    _, errors = read(data)
    assert messages(errors) and all(m.startswith(f"{data / 'deals.csv'}:{line_no(data, 'D2')}: ") for m in messages(errors))
    assert any(message in m for m in messages(errors)), messages(errors)


def test_a_cost_may_exceed_the_amount(tmp_path):
    """A negative margin is allowed: cost is only checked to be money at least 0."""
    ds, errors = read(folder(tmp_path, deals_extra={"cost": {"D1": "90000.00"}}))
    assert errors == []
    assert next(d for d in ds.deals if d.deal_id == "D1").cost == D("90000.00")


# --------------------------------------------------------------------------- products.csv


def test_products_give_their_deals_a_category(tmp_path):
    data = folder(tmp_path, files={"products.csv": "product,category\nPlatform,Software\nAdd-on,Services\nUnused,X\n"},
                  deals_extra={"category": {"D1": "Software", "D3": ""}, "region": {"D1": "EMEA"}})
    ds, errors = read(data)
    assert errors == []
    by = {d.deal_id: d for d in ds.deals}
    assert by["D1"].attrs == (("category", "Software"), ("region", "EMEA"))  # agreeing with products.csv
    assert by["D2"].attrs == (("category", "Software"),)
    assert by["D3"].attrs == (("category", "Services"),)  # an empty cell takes the product's


def test_a_deal_of_a_product_not_in_products_csv_keeps_its_own_category(tmp_path):
    data = folder(tmp_path, files={"products.csv": "product,category\nPlatform,Software\n"},
                  deals_extra={"category": {"D3": "Consulting"}})
    ds, errors = read(data)
    assert errors == []
    assert next(d for d in ds.deals if d.deal_id == "D3").attrs == (("category", "Consulting"),)


def test_a_category_that_conflicts_with_products_csv_is_refused(tmp_path):
    data = folder(tmp_path, files={"products.csv": "product,category\nPlatform,Software\n"},
                  deals_extra={"category": {"D2": "Hardware"}})
    _, errors = read(data)
    assert messages(errors) == [
        f"{data / 'deals.csv'}:{line_no(data, 'D2')}: category: 'Hardware', but products.csv line 2 gives product "
        "'Platform' the category 'Software'"]


def test_bad_products_csv_rows(tmp_path):
    data = folder(tmp_path, files={"products.csv": "product,category\nPlatform,Software\nPlatform,Other\n,X\nAdd-on,\n"})
    _, errors = read(data)
    p = data / "products.csv"
    assert messages(errors) == [f"{p}:3: product: duplicate product 'Platform' (first at line 2)",
                                f"{p}:4: product: is required", f"{p}:5: category: is required"]
    data2 = folder(tmp_path / "b", files={"products.csv": "product,kind\nPlatform,Software\n"})
    _, errors = read(data2)
    assert messages(errors) == [f"{data2 / 'products.csv'}:1: missing column(s): category"]


# --------------------------------------------------------------------------- quotas.csv


def test_quotas_are_read_by_rep(tmp_path):
    ds, errors = read(folder(tmp_path, files={"quotas.csv": QUOTAS}))
    assert errors == []
    assert sorted(ds.quotas) == ["A1", "R1"]
    r1 = ds.quotas["R1"]
    assert [(q.plan_id, q.component, str(q.start), q.end and str(q.end), q.annual) for q in r1] == [
        ("ae-2026", "commission", "2026-01-01", "2026-06-30", D("1000000")),
        ("ae-2026", "commission", "2026-07-01", None, D("1200000.50"))]
    assert isinstance(r1[0], Quota) and r1[0].source.line == 2
    assert r1[1].active_on(Period(2026, 9).start) and not r1[0].active_on(Period(2026, 9).start)


def test_no_quotas_csv_no_quotas(tmp_path):
    ds, errors = read(folder(tmp_path))
    assert errors == [] and ds.quotas == {}


BAD_QUOTAS = [
    ("R9,ae-2026,commission,2026-01-01,,1000", "rep_id: unknown rep 'R9'"),
    ("R1,xx-2026,commission,2026-01-01,,1000", "plan_id: unknown plan 'xx-2026' (known: ae-2026, am-2026, mgr-2026, se-2026)"),
    ("R1,ae-2026,bonus,2026-01-01,,1000", "component: plan ae-2026 has no component 'bonus' (its components: commission)"),
    ("R1,ae-2026,commission,2026-06-01,2026-05-31,1000", "end: 2026-05-31 is before start 2026-06-01"),
    ("R1,ae-2026,commission,2026-01-01,,-5", "annual: must not be negative, got -5"),
    ("R1,ae-2026,commission,2026-01-01,,10.001", "annual: 10.001 has fractions of a cent"),
    ("R1,ae-2026,commission,2026-13-01,,1000", "start: "),
    ("R1,ae-2026,commission,2026-01-01,,", "annual: is required"),
    (",ae-2026,commission,2026-01-01,,1000", "rep_id: is required"),
]


@pytest.mark.parametrize("row, message", BAD_QUOTAS)
def test_bad_quotas_name_file_line_field(tmp_path, row, message):
    data = folder(tmp_path, files={"quotas.csv": "rep_id,plan_id,component,start,end,annual\n" + row + "\n"})
    _, errors = read(data)
    assert len(errors) == 1, messages(errors)
    assert messages(errors)[0].startswith(f"{data / 'quotas.csv'}:2: {message}"), messages(errors)


def test_overlapping_quotas_of_one_component_are_refused(tmp_path):
    text = ("rep_id,plan_id,component,start,end,annual\n"
            "R1,ae-2026,commission,2026-01-01,,1000\n"
            "R1,ae-2026,commission,2026-07-01,2026-12-31,2000\n"
            "R2,ae-2026,commission,2026-01-01,2026-06-30,1000\n"
            "R2,ae-2026,commission,2026-06-30,,2000\n"
            "A1,am-2026,commission,2026-01-01,2026-06-30,1000\n"
            "A1,am-2026,commission,2026-07-01,,2000\n")  # A1: adjacent, not overlapping
    data = folder(tmp_path, files={"quotas.csv": text})
    _, errors = read(data)
    q = data / "quotas.csv"
    assert sorted(messages(errors)) == [
        f"{q}:3: start: overlaps the quota of R1 for ae-2026 commission at line 2",
        f"{q}:5: start: overlaps the quota of R2 for ae-2026 commission at line 4"]


def test_a_quotas_csv_without_a_column(tmp_path):
    data = folder(tmp_path, files={"quotas.csv": "rep_id,plan_id,start,end,annual\nR1,ae-2026,2026-01-01,,1\n"})
    _, errors = read(data)
    assert messages(errors) == [f"{data / 'quotas.csv'}:1: missing column(s): component"]


# --------------------------------------------------------------------------- the ledger


def counts(engine) -> tuple[int, ...]:  # noqa: ANN001
    with transaction(engine, write=False) as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) for m in (RepRow, DealRow, DealEvent, QuotaRow, ImportBatch))


def test_import_stores_deal_fields_and_quotas_and_reads_them_back(ledger, tmp_path):
    data = folder(tmp_path, deals_extra={"quantity": {"D1": "3"}, "cost": {"D1": "12000.00"}, "region": {"D1": "EMEA"}},
                  files={"quotas.csv": QUOTAS, "products.csv": "product,category\nPlatform,Software\n"})
    with transaction(ledger) as s:
        report = import_folder(s, data, PLANS, "ops")
    assert report.quotas_changed == 2 and "2 rep(s) with changed quotas" in report.text()
    with transaction(ledger) as s:
        row = s.get(DealRow, "D1")
        assert (row.quantity, row.cost, row.attrs, row.source) == (
            D("3"), D("12000.00"), '{"category":"Software","region":"EMEA"}', f"{data / 'deals.csv'}:2")
        won = s.scalars(select(DealEvent).where(DealEvent.deal_id == "D1")).one()
        assert (won.kind, won.quantity, won.cost, won.attrs) == ("won", D("3"), D("12000.00"), row.attrs)
        deals, splits = load_deals(s, ["2026-10"])
        d1 = next(d for d in deals if d.deal_id == "D1")
        assert (d1.quantity, d1.cost, d1.attrs, d1.source) == (
            D("3"), D("12000.00"), (("category", "Software"), ("region", "EMEA")), f"{data / 'deals.csv'}:2")
        d3 = next(d for d in deals if d.deal_id == "D3")
        assert (d3.quantity, d3.cost, d3.attrs) == (D(1), D(0), ())
        # credits carry the deal's source as text, in the ledger path ...
        credits = [c for c in load_credits(s, ["2026-10"]) if c.deal_id == "D1"]
        assert {(c.source, c.quantity, c.cost, c.attrs) for c in credits} == {
            (f"{data / 'deals.csv'}:2", D("3"), D("12000.00"), (("category", "Software"), ("region", "EMEA")))}
        inputs = load_inputs(s, Period(2026, 10))
        assert [(q.component, q.annual, q.end) for q in inputs.quotas["R1"]] == [
            ("commission", D("1000000.00"), Period(2026, 6).end), ("commission", D("1200000.50"), None)]
        assert str(inputs.quotas["R1"][0].source) == f"{data / 'quotas.csv'}:2"
        assert set(inputs.quotas) == {"R1", "A1"}
    # ... and in the data folder path: a Source that reads the same
    ds, _ = read(data)
    folder_credits = [c for c in credit_deals(ds.deals, group_splits(ds.splits)) if c.deal_id == "D1"]
    assert {str(c.source) for c in folder_credits} == {f"{data / 'deals.csv'}:2"}  # a Source, shown as file:line
    # the same files again: nothing changes
    with transaction(ledger) as s:
        again = import_folder(s, data, PLANS, "ops")
    assert not again.changed, again.text()


def test_a_changed_cost_is_an_amendment_and_the_same_quantity_written_otherwise_is_not(ledger, tmp_path):
    data = folder(tmp_path, deals_extra={"cost": {"D1": "100.50"}, "quantity": {"D2": "3"}})
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
    # D2's quantity written 3.0 is the stored 3; D1's cost 100.50 -> 100.5 is the same amount; D3 gets a cost
    data2 = folder(tmp_path / "v2", deals_extra={"cost": {"D1": "100.5", "D3": "0.01"}, "quantity": {"D2": "3.0"}})
    with transaction(ledger) as s:
        report = import_folder(s, data2, PLANS, "ops")
    assert report.amendments == 1 and report.deals_unchanged == 8, report.text()
    with transaction(ledger) as s:
        assert [(k, a, c) for k, a, c in s.execute(select(DealEvent.kind, DealEvent.amount, DealEvent.cost)
                                                    .where(DealEvent.deal_id == "D3").order_by(DealEvent.id))][-1] == (
            "amended", s.get(DealRow, "D3").amount, D("0.01"))
        assert (s.get(DealRow, "D1").cost, s.get(DealRow, "D2").quantity) == (D("100.50"), D("3"))


def test_a_changed_attribute_is_an_amendment_with_its_source(ledger, tmp_path):
    data = folder(tmp_path, deals_extra={"region": {"D1": "EMEA"}})
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
    data2 = folder(tmp_path / "v2", deals_extra={"region": {"D1": "APAC"}, "quantity": {"D1": "2"}})
    with transaction(ledger) as s:
        report = import_folder(s, data2, PLANS, "ops")
    assert report.amendments == 1 and report.deals_unchanged == 8
    with transaction(ledger) as s:
        row = s.get(DealRow, "D1")
        assert (row.amount, row.quantity, row.attrs, row.source) == (
            D("60000.00"), D("2"), '{"region":"APAC"}', f"{data2 / 'deals.csv'}:2")
        events = s.execute(select(DealEvent.kind, DealEvent.amount, DealEvent.quantity, DealEvent.attrs, DealEvent.source)
                           .where(DealEvent.deal_id == "D1").order_by(DealEvent.id)).all()
        assert events == [("won", D("60000.00"), D("1"), '{"region":"EMEA"}', f"{data / 'deals.csv'}:2"),
                          ("amended", D("60000.00"), D("2"), '{"region":"APAC"}', f"{data2 / 'deals.csv'}:2")]
        d1 = next(d for d in load_deals(s, ["2026-10"])[0] if d.deal_id == "D1")
        assert (d1.quantity, d1.attrs, d1.source) == (D("2"), (("region", "APAC"),), f"{data2 / 'deals.csv'}:2")
        # a deal untouched by the second import keeps the source of its own event
        assert s.get(DealRow, "D2").source == f"{data / 'deals.csv'}:3"


def test_bad_quotas_csv_imports_nothing(ledger, tmp_path):
    bad = ("rep_id,plan_id,component,start,end,annual\n"
           "R9,ae-2026,commission,2026-01-01,,1000\n"
           "R1,ae-2026,commission,2026-06-01,2026-05-31,1000\n"
           "R1,ae-2026,kicker,2026-01-01,,1000\n")
    data = folder(tmp_path, files={"quotas.csv": bad})
    with pytest.raises(CompErrors) as exc:
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    q = data / "quotas.csv"
    assert [str(e) for e in exc.value.errors] == [
        f"{q}:2: rep_id: unknown rep 'R9'",
        f"{q}:3: end: 2026-05-31 is before start 2026-06-01",
        f"{q}:4: component: plan ae-2026 has no component 'kicker' (its components: commission)"]
    assert counts(ledger) == (0, 0, 0, 0, 0)
    res = CliRunner().invoke(main, ["--db", ledger.url.render_as_string(hide_password=False), "import", str(data),
                                    "--plans", str(PLANS)])
    assert res.exit_code != 0
    assert f"{q}:2: rep_id: unknown rep 'R9'" in res.output and "nothing was imported" in res.output
    assert counts(ledger) == (0, 0, 0, 0, 0)


def test_bad_deal_fields_import_nothing(ledger, tmp_path):
    data = folder(tmp_path, deals_extra={"quantity": {"D2": "0"}, "category": {"D1": "Hardware"}},
                  files={"products.csv": "product,category\nPlatform,Software\n"})
    with pytest.raises(CompErrors) as exc:
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    assert sorted(str(e) for e in exc.value.errors) == sorted([
        f"{data / 'deals.csv'}:2: category: 'Hardware', but products.csv line 2 gives product 'Platform' the category "
        "'Software'",
        f"{data / 'deals.csv'}:3: quantity: must be positive, got 0"])
    assert counts(ledger) == (0, 0, 0, 0, 0)


def test_a_quota_change_over_a_locked_month_is_refused_unless_retroactive(ledger, tmp_path):
    data = folder(tmp_path, files={"quotas.csv": QUOTAS})
    with transaction(ledger) as s:
        import_folder(s, data, PLANS, "ops")
    for p in Period(2026, 1).months_through(Period(2026, 7)):
        with transaction(ledger) as s:
            run_close(s, p, "ops")
        with transaction(ledger) as s:
            lock_period(s, p, "ops")
    changed = QUOTAS.replace("R1,ae-2026,commission,2026-07-01,,1200000.50", "R1,ae-2026,commission,2026-07-01,,1500000")
    data2 = folder(tmp_path / "v2", files={"quotas.csv": changed})
    before = counts(ledger)
    with pytest.raises(CompErrors) as exc:
        with transaction(ledger) as s:
            import_folder(s, data2, PLANS, "ops")
    assert [str(e) for e in exc.value.errors] == [
        f"{data2 / 'quotas.csv'}:3: R1 quota commission of ae-2026 1,200,000.50 -> 1,500,000.00 from 2026-07 would "
        "reprice locked month(s) 2026-07: import with --retroactive to recalculate them and pay the differences in the "
        "first open month, or start the change in an open month"]
    assert counts(ledger) == before
    # from an open month on: accepted without --retroactive
    forward = QUOTAS.replace("R1,ae-2026,commission,2026-07-01,,1200000.50",
                             "R1,ae-2026,commission,2026-07-01,2026-07-31,1200000.50\n"
                             "R1,ae-2026,commission,2026-08-01,,1500000")
    with transaction(ledger) as s:
        report = import_folder(s, folder(tmp_path / "v3", files={"quotas.csv": forward}), PLANS, "ops")
    assert report.quotas_changed == 1 and not report.retroactive
    # over the locked month with --retroactive: recorded, the old rows superseded, never deleted
    with transaction(ledger) as s:
        report = import_folder(s, data2, PLANS, "ops", retroactive=True)
    assert report.retroactive == ["R1 quota commission of ae-2026 1,200,000.50 -> 1,500,000.00, end 2026-07-31 -> (none) "
                                  "from 2026-07; R1 quota commission of ae-2026 from 2026-08-01 removed: reprices 2026-07"]
    with transaction(ledger) as s:
        rows = s.execute(select(QuotaRow.start, QuotaRow.end, QuotaRow.annual, QuotaRow.superseded_at.is_(None))
                         .where(QuotaRow.rep_id == "R1").order_by(QuotaRow.id)).all()
        assert [(str(a), b and str(b), c, current) for a, b, c, current in rows] == [
            ("2026-01-01", "2026-06-30", D("1000000.00"), True),
            ("2026-07-01", None, D("1200000.50"), False),
            ("2026-07-01", "2026-07-31", D("1200000.50"), False),
            ("2026-08-01", None, D("1500000.00"), False),
            ("2026-07-01", None, D("1500000.00"), True)]
        retro = s.scalars(select(RetroChangeRow)).one()
        assert (retro.rep_id, retro.first_period, retro.last_period) == ("R1", "2026-07", "2026-07")
        # compengine history shows them, superseded rows marked
        t = timeline(s, "R1")
        assert [(q["start"], q["annual"], q["superseded_at"] is None) for q in t["quotas"]][:2] == [
            ("2026-01-01", "1000000.00", True), ("2026-07-01", "1200000.50", False)]
        assert "Quotas (quotas.csv)" in timeline_text(t) and "[superseded" in timeline_text(t)
    # the next close reprices the locked month (nothing differs until the engine prices components)
    with transaction(ledger) as s:
        run_close(s, Period(2026, 8), "ops")


# --------------------------------------------------------------------------- the codec


FULL = Line("R1", "2026-10", 1, "commission", D("1200.05"), "D1", D("12000.50"), D("0.10"), D("1.0"), 1,
            "components.new_logo.rates.new_logo", "explained", None, None, "primary", D("100"), "new_logo",
            D("1200.0500"), "deals.csv:2", "plans/ae.yaml:12 @ab12cd34")
LINES = [
    FULL,
    FULL._replace(seq=2, component=None, base=None, deal_source=None, rule_source=None),
    Line("R1", "2026-10", 3, "override", D("10.00"), "D9", D("1000.00"), D("0.01"), None, None, "override.rate", "o",
         component="override", base=D("10.0000"), deal_source="deals.csv:9", rule_source="plans/mgr.yaml:4 @00ff00ff"),
    Line("R1", "2026-10", 4, "spiff", D("500.00"), "D1", rule="spiffs.x", explain="s", role="primary", split_pct=D("100"),
         component="spiff", base=D("500"), deal_source="deals.csv:2", rule_source="plans/ae.yaml:30 @ab12cd34"),
    Line("R1", "2026-10", 5, "adjustment", D("-3.00"), rule="manual", explain="a", ref="adjustment:1"),
]
PARTS = [ComponentMeasure("new_logo", "commission", "2026-Q4", D("75000.00"), D("12000.50"), D("0.1600"), D("1200.05")),
         ComponentMeasure("kicker", "bonus", "2026", D("0.00"), D("0.00"), D("0"), D("0.00"))]
PAID = (("kicker", "2026", D("0.00")), ("new_logo", "2026-Q4", D("1200.05")))


def test_lines_round_trip_through_every_shape_with_the_new_fields():
    for null in ("", None):
        rows = shaped_line_rows(LINES, "2026-10", null)
        assert [len(r) for r in rows] == [2, 1, 2]  # the compact shapes keep working
        assert decode_shaped("2026-10", rows) == LINES
        # the commission shape stores the new columns per row
        assert {"component", "base", "deal_source", "rule_source"} <= set(LINE_SHAPES[0].columns)


def test_json_columns_round_trip_and_are_deterministic():
    assert parts_of(parts_text(PARTS)) == PARTS
    assert parts_text([]) == "" and parts_of("") == [] and parts_of(None) == []
    text = component_paid_text(reversed(PAID))
    assert text == '[["kicker","2026","0.00"],["new_logo","2026-Q4","1200.05"]]'  # sorted, decimals as text
    assert component_paid_of(text) == PAID and component_paid_of("") == ()
    assert attrs_text([("segment", "SMB"), ("region", "Zürich")]) == '{"region":"Zürich","segment":"SMB"}'
    assert attrs_of('{"segment":"SMB","region":"Zürich"}') == (("region", "Zürich"), ("segment", "SMB"))
    assert attrs_text(()) == "" and attrs_of("") == ()
    with pytest.raises(TypeError, match="float"):
        component_paid_text([("a", "2026", 1.5)])
    with pytest.raises(TypeError, match="float"):
        parts_text([PARTS[0]._replace(paid=1.5)])


def test_lines_and_rep_months_round_trip_through_the_ledger(ledger):
    from compengine.ledger.close import store_shaped
    from compengine.ledger.codec import NULLABLE_REP_PERIOD_COLUMNS, REP_PERIOD_COLUMNS, rep_period_rows, shaped_batches
    from compengine.ledger.store import bulk_insert, ensure_period, null_token

    state = RepState(D("0.00"), D("0.00"), D("1200.05"), 2026, "ae-2026", PAID)
    rep = RepResult("R1", "ae-2026", "USD", "monthly", D("75000.00"), D("12000.50"), D("0.1600"), None, None, 3, LINES,
                    {}, D("2907.10"), state, ["a note"], PARTS)
    bare = RepResult("R2", "ae-2026", "USD", "monthly", D("0.00"), D("0.00"), D("0"), None, None, None, [], {}, D("0.00"),
                     RepState(ytd_year=2026))
    with transaction(ledger) as s:
        ensure_period(s, "2026-10")
        null = null_token(s)
        for shape, rows in shaped_batches([rep, bare], "2026-10", null):
            store_shaped(s, shape, rows, "2026-10")
        bulk_insert(s, "rep_periods", REP_PERIOD_COLUMNS, rep_period_rows([rep, bare], "2026-10", null), has_dates=False,
                    nullable=NULLABLE_REP_PERIOD_COLUMNS)
    with transaction(ledger) as s:
        # read back by the one reader of stored lines (statements, `close show`): raw columns, decoded by name
        stored = stored_lines(s, "2026-10")
        assert stored == {"R1": LINES}
        lines = stored["R1"]
        rps = {rp.rep_id: rp for rp in s.scalars(select(RepPeriod))}
        back = rep_result_of(rps["R1"], lines)
        assert back.parts == PARTS and back.state == state and back.notes == ["a note"]
        empty = rep_result_of(rps["R2"], [])
        assert empty.parts == [] and empty.state.component_paid == ()
        # the next month starts from the carried component_paid
        carried = load_state(s, Period(2026, 11))
        assert carried["R1"].component_paid == PAID and carried["R2"].component_paid == ()
