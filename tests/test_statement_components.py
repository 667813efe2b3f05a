"""What users read about a plan with components: statements (view, PDF), reconcile, and the portal.

The data: ``tests/fixtures/components`` (plan ``ae-v2-2027``, a copy of examples/plans-v2/ae-components.yaml,
and a v1 plan ``ae-v1``). C1 is on the component plan, V1 on the v1 plan; both were hired in 2024 (no ramp).

Worked by hand, 2026 Q4 (the gate on new business stays closed: the year's attainment is far below 100%, so credit
above 100% earns the x1.0 of the band that ends at 100%):

October (C1)
  new_business, Q4 to date: quota 800,000 x 1/12 = 66,666.67; N1 new logo 80,000.00 (region NA: no rule, 10%)
    -> attainment 80,000 / 66,666.67 = 120.00%; hybrid: 66,666.67 x 10% x 1.0 = 6,666.67, above quota
    13,333.33 x 10% x 1.0 (gate closed) = 1,333.33; paid 8,000.00
  expansion, Q4 to date: quota 400,000 x 1/12 = 33,333.33; E1 expansion 50,000.00 -> 150.00%;
    marginal: 33,333.33 x 6% = 2,000.00 + 16,666.67 x 6% x 1.5 = 1,500.00; paid 3,500.00
  attainment_bonus on new business: 120% on the curve = 100% + (300% - 100%) x 20% = 140%;
    20,000 x 1/12 x 140% = 2,333.33
  payout 8,000.00 + 3,500.00 + 2,333.33 = 13,833.33

November (C1)
  new_business: quota 800,000 x 2/12 = 133,333.33; credit 80,000 + N2 60,000 = 140,000.00 -> 105.00%;
    October's 80,000 first: all up to quota at x1.0 = 8,000.00, as paid (no true-up); N2 (Platform Core in EMEA:
    rule 12%) from 80,000 to 140,000: 53,333.33 x 12% = 6,400.00 up to quota, 6,666.67 x 12% x 1.0 = 800.00
    above; paid 7,200.00
  expansion: quota 400,000 x 2/12 = 66,666.67; credit 50,000 + E2 renewal 20,000 = 70,000.00 -> 105.00%;
    October's 50,000 now all below quota: 50,000 x 6% = 3,000.00, 3,500.00 was paid: true-up -500.00;
    E2 from 50,000: 16,666.67 x 2% = 333.33, 3,333.33 x 2% x 1.5 = 100.00; paid 333.33 + 100.00 - 500.00 = -66.67
  attainment_bonus: 105% -> 100% + 200% x 5% = 110%; 20,000 x 2/12 x 110% = 3,666.67, less 2,333.33 paid = 1,333.34
  SPIFF multi-year: N2 is a 24-month new logo: 500.00
  payout 7,200.00 - 66.67 + 1,333.34 + 500.00 = 8,966.67
  commission at base rates (each line's credit x rate, rounded once): 6,400.00 + 800.00 + 333.33
    + 66.67 (3,333.33 x 2% = 66.6666) = 7,600.00; accelerators: 100.00 - 66.67 = 33.33;
    commission 7,600.00 + 33.33 = 7,633.33

November (V1, v1 plan, quota 100,000.00 a month): W1 new logo 120,000.00 -> 120.00%;
  100,000 x 10% = 10,000.00 + 20,000 x 10% x 1.5 = 3,000.00 = 13,000.00 (base 12,000.00, accelerators 1,000.00)
"""

from __future__ import annotations

import json
import os
import warnings
from dataclasses import replace
from decimal import Decimal

import pytest
from click.testing import CliRunner
from pypdf import PdfReader
from sqlalchemy import text

from compengine.cli import main
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.ledger import import_folder, run_close, transaction
from compengine.ledger.reconcile import reconcile
from compengine.ledger.statement_source import ledger_statement_data
from compengine.plans import load_plans
from compengine.statements import calc_statement_data, render_statements, statement_view
from compengine.engine.records import Line
from compengine.statements.view import component_label, line_sources, quota_period_label, sources_folder
from web_helpers import COMPONENTS, build_components_ledger, copy_ledger, login

D = Decimal
NOV = Period(2026, 11)
OCT = Period(2026, 10)


@pytest.fixture(scope="module")
def plans():
    loaded, errors = load_plans(COMPONENTS / "plans")
    assert not errors
    return loaded


@pytest.fixture(scope="module")
def data(plans):
    loaded, errors = read_data_folder(COMPONENTS, plans)
    assert not errors
    return loaded


@pytest.fixture(scope="module")
def items(data, plans):
    return {s.rep_id: s for s in calc_statement_data(data, plans, NOV, "Example Co")}


def values(figures) -> list[tuple[str, str]]:  # noqa: ANN001
    return [(f.label, f.text if f.value is None else f"{f.value:,.2f}") for f in figures]


# --------------------------------------------------------------------------- labels


def test_component_and_quota_period_labels():
    assert component_label("new_business") == "New business"
    assert component_label("commission") == "Commission"
    assert quota_period_label("2026-Q4") == "Q4 2026 to date"
    assert quota_period_label("2026-H2") == "H2 2026 to date"
    assert quota_period_label("2026") == "2026 year to date"
    assert quota_period_label("2026-11") == "November 2026"


# --------------------------------------------------------------------------- the view (calc path)


def test_one_block_per_component_with_its_own_quota_period_figures_and_bands(items):
    c1 = items["C1"]
    assert [(m.component, m.period, m.quota, m.credited, m.attainment, m.paid) for m in c1.parts] == [
        ("new_business", "2026-Q4", D("133333.33"), D("140000.00"), D("1.0500"), D("7200.00")),
        ("expansion", "2026-Q4", D("66666.67"), D("70000.00"), D("1.0500"), D("-66.67")),
        ("attainment_bonus", "2026-Q4", D("133333.33"), D("140000.00"), D("1.0500"), D("1333.34")),
    ]
    v = statement_view(c1)
    assert v.by_component and v.bar is None and not v.ytd_credit_shown
    nb, ex, bonus = v.parts
    assert [p.title for p in v.parts] == ["New business — Q4 2026 to date", "Expansion — Q4 2026 to date",
                                          "Attainment bonus — Q4 2026 to date"]
    assert values(nb.figures) == [("Quota", "133,333.33"), ("Credited", "140,000.00"), ("Attainment", "105.00%"),
                                  ("Paid this month", "7,200.00")]
    assert values(ex.figures) == [("Quota", "66,666.67"), ("Credited", "70,000.00"), ("Attainment", "105.00%"),
                                  ("Paid this month", "-66.67")]
    # each bar is drawn on its own component's bands (plan.components[i].tiers)
    assert nb.bar.description == "Attainment 105.00%; bands 0%-50% ×0.5, 50%-100% ×1.0, 100%+ ×2.0"
    assert ex.bar.description == "Attainment 105.00%; bands 0%-100% ×1.0, 100%+ ×1.5"
    assert [t.label for t in nb.bar.ticks] == ["50%", "100%"] and [t.label for t in ex.bar.ticks] == ["100%"]
    # scale: a quarter past the last threshold (100% x 1.25 = 125%): 105% sits at 4 + 292 x 105/125 = 249.3
    assert nb.bar.marker_x == ex.bar.marker_x == "249.3" and not nb.bar.overflow
    # a bonus shows its attainment and pay, no bar
    assert bonus.type == "bonus" and bonus.bar is None
    assert values(bonus.figures) == [("Attainment of new business", "105.00%"), ("Paid this month", "1,333.34")]
    assert "attainment of new business" in bonus.note
    assert values(v.figures) == [("New business attainment", "105.00%"), ("Expansion attainment", "105.00%"),
                                 ("Attainment bonus this month", "1,333.34")]
    assert not any("No quota" in n for n in v.notes)


def test_the_breakdown_reads_each_lines_stored_base(items):
    c1 = items["C1"]
    v = statement_view(c1)
    rows = {r.key: r.amount for r in v.components}
    assert rows == {"commission_base": D("7600.00"), "accelerators": D("33.33"), "true_up": D("-500.00"),
                    "spiff": D("500.00"), "bonus": D("1333.34")}
    assert v.payout == D("8966.67")
    # the base is the line's stored fact: a different stored base moves the breakdown, not the payout
    lines = tuple(ln._replace(base=ln.base + D("0.01")) if ln.seq == 4 else ln for ln in c1.lines)
    moved = {r.key: r.amount for r in statement_view(replace(c1, lines=lines)).components}
    assert (moved["commission_base"], moved["accelerators"]) == (D("7600.01"), D("33.32"))


def test_lines_name_their_component_and_sources(items, plans):
    v = statement_view(items["C1"])
    digest = plans["ae-v2-2027"].digest[:8]
    assert [(r.deal_id, r.kind, r.component) for r in v.deal_lines] == [
        ("N2", "Commission", "New business"), ("N2", "Commission", "New business"), ("E2", "Commission", "Expansion"),
        ("E2", "Commission", "Expansion"), ("N2", "SPIFF", "")]
    first = v.deal_lines[0].sources
    assert first.startswith("Deal: ") and "deals.csv:4 · Rule: " in first  # N2 is the 4th line of deals.csv
    assert first.endswith(f"ae-components.yaml:17,23 @{digest}")  # the rate rule and the band ending at 100%
    assert v.deal_lines[3].sources.endswith(f"ae-components.yaml:29,34 @{digest}")  # renewal rate, band 2 (x1.5)
    assert [(r.kind, r.component) for r in v.other_lines] == [("True-up", "Expansion"), ("Bonus", "Attainment bonus")]
    # the files are named relative to the one folder they share, which the statement names once
    assert v.sources_folder == f"{COMPONENTS}{os.sep}"
    assert v.other_lines[0].sources == f"Rule: plans{os.sep}ae-components.yaml:28 @{digest}"
    assert first.startswith("Deal: deals.csv:4 · Rule: plans")
    # the numbers shown follow the page; each row keeps its line's own seq (the dispute link)
    assert [r.seq for r in (*v.deal_lines, *v.other_lines)] == [1, 2, 3, 4, 5, 6, 7]
    assert [r.line_seq for r in (*v.deal_lines, *v.other_lines)] == [1, 2, 3, 4, 7, 5, 6]


def test_a_v1_plan_keeps_its_one_bar_and_its_figures(items):
    v1 = items["V1"]
    assert [m.component for m in v1.parts] == ["commission"]
    v = statement_view(v1)
    assert v.parts == () and not v.by_component and v.ytd_credit_shown
    assert v.bar is not None and v.bar.description == "Attainment 120.00%; bands 0%-100% ×1.0, 100%+ ×1.5"
    assert values(v.figures) == [("Quota this month", "100,000.00"), ("Credited this month", "120,000.00"),
                                 ("Attainment", "120.00%")]
    assert [r.component for r in v.deal_lines] == ["", ""]  # no component column on a v1 plan
    assert all(r.sources.startswith("Deal: ") and "ae-v1.yaml:" in r.sources for r in v.deal_lines)
    rows = {r.key: r.amount for r in v.components}
    assert rows == {"commission_base": D("12000.00"), "accelerators": D("1000.00")}


def test_a_component_plan_without_stored_measures_shows_the_month_as_before(items):
    """Data without parts (a ledger written before components) is laid out as a v1 plan's month."""
    v = statement_view(replace(items["C1"], parts=()))
    assert v.parts == () and not v.by_component and [r.component for r in v.deal_lines] == [""] * 5


# --------------------------------------------------------------------------- the PDF


def test_the_pdf_shows_each_component_and_each_lines_sources(items, tmp_path):
    report = render_statements([items["C1"], items["V1"]], tmp_path, jobs=1)
    assert report.failed == ()
    c1 = "\n".join(p.extract_text() for p in PdfReader(str(tmp_path / "statement-2026-11-C1.pdf")).pages)
    assert "ATTAINMENT BY COMPONENT" in c1
    assert "New business — Q4 2026 to date\nQUOTA CREDITED ATTAINMENT PAID THIS MONTH\n133,333.33 140,000.00 105.00% 7,200.00" in c1
    assert "Expansion — Q4 2026 to date\nQUOTA CREDITED ATTAINMENT PAID THIS MONTH\n66,666.67 70,000.00 105.00% -66.67" in c1
    assert "Attainment bonus — Q4 2026 to date BONUS\nATTAINMENT OF NEW BUSINESS PAID THIS MONTH\n105.00% 1,333.34" in c1
    assert "1 N2 Fabrikam New logo 2026-11-10 Commission New business 100% 53,333.33 12% ×1.0 6,400.00" in c1
    # each line's sources name the files relative to their folder, which the page names once (the checkout's
    # path: where the PDF wraps it depends on where the repository lives)
    flat = " ".join(c1.split())
    assert f"Deal: deals.csv:4 · Rule: plans{os.sep}ae-components.yaml:17,23 @" in flat
    assert "Sources (Deal: the import file and row; Rule: the plan file, line and version) are files in" in flat
    assert "Bonuses on attainment, by the plan's curve 1,333.34" in c1
    v1 = "\n".join(p.extract_text() for p in PdfReader(str(tmp_path / "statement-2026-11-V1.pdf")).pages)
    assert "ATTAINMENT BY COMPONENT" not in v1 and "COMPONENT SPLIT" not in v1
    assert "Quota this month 100,000.00" in v1 and "Attainment 120.00%" in v1


# --------------------------------------------------------------------------- the ledger path


def _ledger(engine) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        import_folder(s, COMPONENTS, COMPONENTS / "plans", "ops")
    for p in Period(2026, 1).months_through(NOV):
        with transaction(engine) as s:
            run_close(s, p, "ops")


def test_ledger_statements_read_the_stored_measures_and_show_what_calc_shows(ledger, items):
    _ledger(ledger)
    with transaction(ledger) as s:
        stored = {d.rep_id: d for d in ledger_statement_data(s, NOV, "Example Co")}
        october = {d.rep_id: d for d in ledger_statement_data(s, OCT, "Example Co")}
    for rep in ("C1", "V1"):
        assert stored[rep].parts == items[rep].parts
        a, b = statement_view(stored[rep]), statement_view(items[rep])
        assert (a.parts, a.bar, a.figures, a.components, a.deal_lines, a.other_lines) == \
               (b.parts, b.bar, b.figures, b.components, b.deal_lines, b.other_lines)
    oct_parts = [(m.component, m.quota, m.credited, m.attainment, m.paid) for m in october["C1"].parts]
    assert oct_parts == [("new_business", D("66666.67"), D("80000.00"), D("1.2000"), D("8000.00")),
                         ("expansion", D("33333.33"), D("50000.00"), D("1.5000"), D("3500.00")),
                         ("attainment_bonus", D("66666.67"), D("80000.00"), D("1.2000"), D("2333.33"))]


# --------------------------------------------------------------------------- reconcile


def _rec(engine, period: Period = NOV):  # noqa: ANN001, ANN201
    with transaction(engine) as s:
        return reconcile(s, period)


def test_reconcile_breaks_the_month_out_by_plan_component(ledger):
    _ledger(ledger)
    r = _rec(ledger)
    assert r.ok, r.exceptions
    c1, v1 = (next(x for x in r.reps if x.rep_id == rep) for rep in ("C1", "V1"))
    assert [(x.component, x.type, x.period, x.quota, x.credited, x.attainment, x.paid) for x in c1.plan_components] == [
        ("new_business", "commission", "2026-Q4", D("133333.33"), D("140000.00"), D("1.0500"), D("7200.00")),
        ("expansion", "commission", "2026-Q4", D("66666.67"), D("70000.00"), D("1.0500"), D("-66.67")),  # 433.33 - 500.00
        ("attainment_bonus", "bonus", "2026-Q4", D("133333.33"), D("140000.00"), D("1.0500"), D("1333.34")),
    ]
    assert [(x.component, x.period, x.paid) for x in v1.plan_components] == [("commission", "2026-11", D("13000.00"))]
    # the month's totals by component and quota period (one rep each here)
    assert [(t.component, t.period, t.reps, t.quota, t.credited, t.attainment, t.paid) for t in r.plan_components] == [
        ("new_business", "2026-Q4", 1, D("133333.33"), D("140000.00"), D("1.0500"), D("7200.00")),
        ("expansion", "2026-Q4", 1, D("66666.67"), D("70000.00"), D("1.0500"), D("-66.67")),
        ("attainment_bonus", "2026-Q4", 1, D("133333.33"), D("140000.00"), D("1.0500"), D("1333.34")),
        ("commission", "2026-11", 1, D("100000.00"), D("120000.00"), D("1.2000"), D("13000.00")),
    ]
    # base: C1 7,600.00 + V1 12,000.00; accelerators C1 33.33 + V1 1,000.00
    usd = r.components["USD"]
    assert (usd["commission_base"], usd["accelerators"], usd["commission"]) == (D("19600.00"), D("1033.33"), D("20633.33"))
    assert (c1.components["commission_base"], c1.components["accelerators"]) == (D("7600.00"), D("33.33"))
    out = r.text()
    assert "Plan components (USD): what each paid, and its quota period to date" in out
    assert "  new_business             2026-Q4        1       133,333.33       140,000.00     105.00%       7,200.00" in out
    assert "    expansion (2026-Q4): quota 66,666.67, credited 70,000.00, attainment 105.00%; paid -66.67" in out
    assert "    commission (2026-11)" not in out  # a v1 rep's one component is its commission, already listed
    titles = [t for t, _h, _rows in r.tables()]
    assert "Plan components" in titles and "By rep and plan component" in titles
    d = r.as_dict()
    assert d["payout"]["USD"]["plan_components"][1] == {
        "currency": "USD", "component": "expansion", "period": "2026-Q4", "reps": 1, "quota": "66666.67",
        "credited": "70000.00", "attainment": "1.0500", "paid": "-66.67"}
    assert next(x for x in d["reps"] if x["rep_id"] == "C1")["plan_components"][2]["type"] == "bonus"


def _by_component_both_ways(engine, p: str = "2026-11"):  # noqa: ANN001, ANN202
    """The month's lines by rep and component as reconcile's one pass sums them, and as a GROUP BY does."""
    from compengine.ledger.inputs import load_plan_versions
    from compengine.ledger.models import PeriodRow, RepPeriod
    from compengine.ledger.reconcile import _RP, _lines_by_component, _lines_by_rep

    with transaction(engine) as s:
        plans, _ = load_plan_versions(s, json.loads(s.get(PeriodRow, p).plan_versions))
        rps = {r.rep_id: _RP(r.plan_id, r.currency, r.payout, r.credited, r.draw_balance, r.carry_balance, r.quota, [])
               for r in s.query(RepPeriod).filter(RepPeriod.period == p)}
        conn = s.connection()
        return _lines_by_rep(conn, p, plans, rps)[2], _lines_by_component(conn, p)


def test_reconcile_sums_components_in_its_one_pass_and_falls_back_for_a_component_no_plan_has(ledger):
    _ledger(ledger)
    one_pass, grouped = _by_component_both_ways(ledger)
    assert one_pass == grouped
    assert one_pass["C1"]["new_business"] == (D("7200.00"), D("60000.00"))
    assert one_pass["V1"] == {"commission": (D("13000.00"), D("120000.00"))}
    with transaction(ledger) as s:  # a line naming a component none of the month's plans has
        s.execute(text("UPDATE payout_lines SET component = 'legacy' WHERE period = '2026-11' AND rep_id = 'V1' AND seq = "
                       "(SELECT MIN(seq) FROM payout_lines WHERE period = '2026-11' AND rep_id = 'V1' AND kind = 'commission')"))
    one_pass, grouped = _by_component_both_ways(ledger)
    assert one_pass == grouped and set(one_pass["V1"]) == {"commission", "legacy"}
    v1 = next(x for x in _rec(ledger).reps if x.rep_id == "V1")
    legacy = one_pass["V1"]["legacy"][0]
    assert legacy > 0
    assert [(x.component, x.paid) for x in v1.plan_components] == [
        ("commission", D("13000.00") - legacy), ("legacy", legacy)]


def test_commission_base_is_the_stored_base_and_worked_out_only_where_none_is_stored(ledger):
    _ledger(ledger)
    with transaction(ledger) as s:  # a stored base is read as it is (a cent more on C1's line 4)
        s.execute(text("UPDATE payout_lines SET base = base + 10 WHERE period = '2026-11' AND rep_id = 'C1' AND seq = 4"))
    r = _rec(ledger)
    c1 = next(x for x in r.reps if x.rep_id == "C1")
    assert (c1.components["commission_base"], c1.components["accelerators"]) == (D("7600.01"), D("33.32"))
    with transaction(ledger) as s:  # lines stored before they carried a base (before migration 0007)
        s.execute(text("UPDATE payout_lines SET base = NULL WHERE period = '2026-11'"))
    r = _rec(ledger)
    assert r.ok, r.exceptions
    # worked out from credit x rate, half up: 53,333.33 x 12% = 6,399.9996 -> 6,400.00; 6,666.67 x 12% = 800.0004
    # -> 800.00; 16,666.67 x 2% = 333.3334 -> 333.33; 3,333.33 x 2% = 66.6666 -> 66.67: 7,600.00 as stored
    assert {x.rep_id: x.components["commission_base"] for x in r.reps} == {"C1": D("7600.00"), "V1": D("12000.00")}


def test_credited_of_a_rep_on_a_component_plan_is_its_first_components(ledger):
    _ledger(ledger)
    with transaction(ledger) as s:
        s.execute(text("UPDATE rep_periods SET credited = 60000000 WHERE period = '2026-11' AND rep_id = 'C1'"))
    r = _rec(ledger)
    assert [str(f) for f in r.exceptions] == [
        "[credited] C1: rep_periods.credited is 60,000.00 but its first component new_business counts 140,000.00"]


def test_cli_reconcile_report_lists_plan_components(tmp_path):
    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    run = CliRunner().invoke
    assert run(main, [*db, "import", str(COMPONENTS), "--plans", str(COMPONENTS / "plans")]).exit_code == 0
    for m in range(1, 12):
        assert run(main, [*db, "close", "run", f"2026-{m:02d}"]).exit_code == 0
    r = run(main, [*db, "reconcile", "2026-11", "--json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert [t["component"] for t in data["payout"]["USD"]["plan_components"]] == [
        "new_business", "expansion", "attainment_bonus", "commission"]
    assert run(main, [*db, "reconcile", "2026-11", "--out", str(tmp_path / "r.html")]).exit_code == 0
    html = (tmp_path / "r.html").read_text()
    assert "Plan components (USD)" in html and "By rep and plan component" in html
    assert "<td>attainment_bonus (bonus)</td>" in html and "105.00%" in html


# --------------------------------------------------------------------------- the portal


@pytest.fixture(scope="module")
def portal(tmp_path_factory):  # noqa: ANN001
    from compengine.ledger import open_ledger
    from compengine.web.app import create_app

    built = tmp_path_factory.mktemp("components-built")
    engine = open_ledger(copy_ledger(build_components_ledger(built), tmp_path_factory.mktemp("components")))
    yield create_app(engine, secret="test-secret")
    engine.dispose()


def _client(app, name: str):  # noqa: ANN001, ANN202
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient
    return login(TestClient(app), name)


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_the_portal_statement_shows_each_components_bar_and_the_json_lists_components(portal):  # noqa: ANN001
    c = _client(portal, "cora")
    html = c.get("/statements/2026-11/C1").text
    assert html.count('<div class="part commission"') == 2 and html.count('<div class="part bonus"') == 1
    assert html.count('<svg class="bar"') == 2  # new business and expansion; the bonus is a figure
    assert "New business <span class=\"muted\">— Q4 2026 to date</span>" in html
    assert "tests/fixtures/components/deals.csv:4 · Rule: tests/fixtures/components/plans/ae-components.yaml:17,23 @" in html
    assert 'dispute?seq=7' in html  # the SPIFF, shown fifth, disputes its own line (seq 7)
    data = c.get("/api/statements/2026-11/C1").json()
    assert [(x["component"], x["type"], x["period"], x["quota"], x["credited"], x["attainment"], x["paid"])
            for x in data["components"]] == [
        ("new_business", "commission", "2026-Q4", "133333.33", "140000.00", "1.0500", "7200.00"),
        ("expansion", "commission", "2026-Q4", "66666.67", "70000.00", "1.0500", "-66.67"),
        ("attainment_bonus", "bonus", "2026-Q4", "133333.33", "140000.00", "1.0500", "1333.34")]
    assert (data["commission"], data["true_up"], data["bonus"], data["spiff"], data["payout"]) == (
        "7633.33", "-500.00", "1333.34", "500.00", "8966.67")
    first = data["lines"][0]
    assert (first["component"], first["base"]) == ("new_business", "6400.00")
    assert first["deal_source"].endswith("tests/fixtures/components/deals.csv:4")
    assert "tests/fixtures/components/plans/ae-components.yaml:17,23 @" in first["rule_source"]
    v1 = _client(portal, "vic").get("/api/statements/2026-11/V1").json()
    assert [x["component"] for x in v1["components"]] == ["commission"]
    assert _client(portal, "vic").get("/statements/2026-11/V1").text.count('<svg class="bar"') == 1


# --------------------------------------------------------------------------- reconcile: credit counted twice or not in money

OVERLAP_PLAN = """\
id: overlap
name: Overlapping components
currency: USD
quota:
  annual: 1200000
components:
  - id: everything            # every deal, on its amount
    measure: {deal_type: "*"}
    quota: {annual: 1200000, period: month}
    rate: 0.05
  - id: new_logos             # new logos again, on their amount: a new logo counts twice
    measure: {deal_type: new_logo}
    quota: {annual: 600000, period: month}
    rate: 0.02
  - id: margin                # every deal again, on its margin: its lines carry no credit
    measure: {deal_type: "*"}
    base: margin
    quota: {annual: 600000, period: month}
    rate: 0.10
"""


def test_reconcile_has_no_false_credit_differences_for_overlapping_and_margin_components(tmp_path, ledger):
    folder = tmp_path / "co"
    (folder / "plans").mkdir(parents=True)
    (folder / "plans" / "overlap.yaml").write_text(OVERLAP_PLAN)
    (folder / "reps.csv").write_text("rep_id,name,email,manager_id,team,hire_date\n"
                                     "O1,Ola Berg,ola@example.com,,East,2024-01-01\n"
                                     "O2,Ode Lund,ode@example.com,,East,2024-01-01\n")
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nO1,overlap,2026-01-01,,\n"
                                            "O2,overlap,2026-01-01,,\n")
    (folder / "deals.csv").write_text(
        "deal_id,account,deal_type,amount,currency,close_date,owner_id,term_months,product,cancelled_on,cost\n"
        "X1,Northwind,new_logo,80000.00,USD,2026-11-05,O1,12,Platform,,30000.00\n"
        "X2,Contoso,expansion,50000.00,USD,2026-11-12,O1,12,Add-on,,10000.00\n"
        "X3,Fabrikam,new_logo,40000.00,USD,2026-11-20,O1,12,Platform,,0\n")
    (folder / "splits.csv").write_text("deal_id,rep_id,split_pct,role\nX3,O1,60,primary\nX3,O2,40,primary\n")
    with transaction(ledger) as s:
        import_folder(s, folder, folder / "plans", "ops")
    for p in Period(2026, 1).months_through(NOV):  # the ledger starts with the assignments' year
        with transaction(ledger) as s:
            res = run_close(s, p, "ops")
    o1 = next(r for r in res.reps if r.rep_id == "O1")
    # everything: 80,000 + 50,000 + 24,000 = 154,000 x 5% = 7,700; new logos: 80,000 + 24,000 = 104,000 x 2% = 2,080;
    # margin: 50,000 + 40,000 + 24,000 (X3 has no cost: its margin is its credit, 60%) = 114,000 x 10% = 11,400
    assert o1.payout == D("21180.00")
    r = _rec(ledger)
    bad = [str(f) for f in r.exceptions if f.check in ("credit", "credited")]
    assert bad == [], "\n".join(bad)
    assert r.ok, r.exceptions
    # a real difference is still found, and named by its component: X2's line in "everything" carries 1.00 more
    with transaction(ledger) as s:
        s.execute(text("UPDATE payout_lines SET credit = credit + credit / 50000 WHERE rep_id = 'O1' AND deal_id = 'X2' "
                       "AND component = 'everything' AND period = '2026-11'"))
    found = [str(f) for f in _rec(ledger).exceptions if f.check == "credit"]
    assert found == ["[credit] X2: O1's primary credit on the everything lines is 50,001.00, the deal and its splits "
                     "give 50,000.00"]


def _line(deal_source, rule_source):
    return Line(rep_id="R", period="2026-01", seq=1, kind="commission", amount=D("1.00"), deal_id="D1",
                credit=D("10.00"), rate=D("0.1"), multiplier=D("1"), tier=1, rule="rate", explain="", ref_period=None,
                ref=None, role="primary", split_pct=D("100"), component="commission", base=D("1.00"),
                deal_source=deal_source, rule_source=rule_source)


def test_sources_are_written_relative_to_the_folder_they_share_and_only_then():
    shared = [_line("/srv/in/2026-01/deals.csv:7", "/srv/in/2026-01/plans/ae.yaml:12 @ab12cd34"),
              _line("/srv/in/2026-01/deals.csv:9", "/srv/in/2026-01/plans/ae.yaml:12,17 @ab12cd34")]
    assert sources_folder(shared) == "/srv/in/2026-01/"
    assert line_sources(shared[1], "/srv/in/2026-01/") == "Deal: deals.csv:9 · Rule: plans/ae.yaml:12,17 @ab12cd34"
    assert line_sources(shared[1]) == "Deal: /srv/in/2026-01/deals.csv:9 · Rule: /srv/in/2026-01/plans/ae.yaml:12,17 @ab12cd34"
    # files in unrelated folders share only the root, relative names no folder at all, a mix neither: kept whole
    assert sources_folder([_line("/a/deals.csv:7", "/b/ae.yaml:3 @ab12cd34")]) == ""
    assert sources_folder([_line("deals.csv:7", "plans/ae.yaml:3 @ab12cd34")]) == ""
    assert sources_folder([_line("/a/deals.csv:7", "plans/ae.yaml:3 @ab12cd34")]) == ""
    assert sources_folder([_line(None, None)]) == ""
    # one file: its own folder; a line without a deal names its rule only
    assert sources_folder([_line(None, "/srv/plans/ae.yaml:3 @ab12cd34")]) == "/srv/plans/"
    assert line_sources(_line(None, "/srv/plans/ae.yaml:3 @ab12cd34"), "/srv/plans/") == "Rule: ae.yaml:3 @ab12cd34"
