"""Rep statements: the view model, the PDFs' text, tie-out, incremental rendering and failure modes.

PDF text is extracted with pypdf. The example company (examples/acme, 2026-10):
R1 has a 60% primary split on D2, a SPIFF and a clawback of D5; R2 is in ramp
month 5 (quota at 50%) and recovers a draw; A1 is on a ytd plan with a
decelerator; M1 earns overrides.
"""

from __future__ import annotations

import ast
import re
import shutil
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from pypdf import PdfReader

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine.driver import calculate_month, calculate_through
from compengine.engine.records import Line
from compengine.plans import load_plans
from compengine.statements import (
    DealInfo,
    Dispute,
    StatementData,
    StatementDataError,
    YtdMonth,
    calc_statement_data,
    default_templates_dir,
    format_money,
    render_statements,
    statement_data_from_calc,
    statement_view,
)

ROOT = Path(__file__).resolve().parent.parent
PERIOD = Period(2026, 10)
D = Decimal


@pytest.fixture(scope="module")
def plans():
    loaded, errors = load_plans(ROOT / "plans")
    assert not errors
    return loaded


@pytest.fixture(scope="module")
def acme(plans):
    data, errors = read_data_folder(ROOT / "examples" / "acme", plans)
    assert not errors
    return data


@pytest.fixture(scope="module")
def items(acme, plans) -> dict[str, StatementData]:
    return {s.rep_id: s for s in calc_statement_data(acme, plans, PERIOD, "Acme Corp")}


@pytest.fixture(scope="module")
def rendered(items, tmp_path_factory) -> dict[str, list[str]]:
    """The example month rendered once (two workers): rep id -> text of each page."""
    out = tmp_path_factory.mktemp("acme")
    report = render_statements(list(items.values()), out, jobs=2)
    assert report.failed == ()
    assert len(report.rendered) == len(items)
    return {rep: pages_text(out / f"statement-2026-10-{rep}.pdf") for rep in items}


def pages_text(pdf: Path) -> list[str]:
    return [page.extract_text() for page in PdfReader(str(pdf)).pages]


def text_of(pdf: Path) -> str:
    return "\n".join(pages_text(pdf))


def net_payouts(text: str) -> tuple[str, str]:
    """The net payout as printed in the summary box and as the total of the breakdown."""
    box = re.search(r"NET PAYOUT\s+[A-Z]{3}\s+(-?[\d,]+\.\d\d)", text)
    total = re.search(r"^Net payout (-?[\d,]+\.\d\d)$", text, re.M)
    assert box and total, text
    return box.group(1), total.group(1)


def with_lines(base: StatementData, extra: list[Line], **changes) -> StatementData:
    """``base`` plus lines, with components and payout recomputed from all lines."""
    lines = tuple(base.lines) + tuple(ln._replace(seq=len(base.lines) + i) for i, ln in enumerate(extra, start=1))
    comps = {k: Decimal("0.00") for k in base.components}
    for ln in lines:
        comps[ln.kind] = comps.get(ln.kind, Decimal("0.00")) + ln.amount
    return replace(base, lines=lines, components=comps, payout=sum((ln.amount for ln in lines), Decimal("0.00")),
                   **changes)


# --------------------------------------------------------------------------- view (no PDF)


def test_money_filter_formats_and_never_rounds():
    assert format_money(D("1234567.5")) == "1,234,567.50"
    assert format_money(D("-2500.00")) == "-2,500.00"
    assert format_money(D("-0.00")) == "0.00"
    assert format_money(None) == ""
    with pytest.raises(ValueError, match="fractions of a cent"):
        format_money(D("1.005"))
    with pytest.raises(TypeError):
        format_money(1.5)


def test_breakdown_base_plus_accelerators_is_commission_and_adds_up(items):
    for s in items.values():
        v = statement_view(s)
        rows = {r.key: r.amount for r in v.components}
        assert rows["commission_base"] + rows["accelerators"] + rows.get("decelerators", 0) == s.components["commission"]
        assert sum(rows.values()) == s.payout == v.payout
        assert v.deal_lines_total + v.other_lines_total + v.adjustments_total == s.payout
        assert len(v.deal_lines) + len(v.other_lines) + len(v.adjustments) == len(s.lines)
    r1 = {r.key: r.amount for r in statement_view(items["R1"]).components}
    assert (r1["commission_base"], r1["accelerators"]) == (D("12300.00"), D("1150.00"))
    a1 = {r.key: (r.label, r.note, r.amount) for r in statement_view(items["A1"]).components}
    # am-2026 below 50%: band 1 pays x0.5, a decelerator, labelled as one; accelerators stay their own row
    assert a1["decelerators"] == ("Decelerators", "band multipliers below ×1", D("-10200.00"))
    assert a1["accelerators"] == ("Accelerators", "band multipliers above ×1", D("0.00"))
    assert "decelerators" not in {r.key for r in statement_view(items["R1"]).components}


def test_a_month_with_bands_above_and_below_x1_shows_both(items):
    s = items["A1"]
    up = Line("A1", "2026-10", 3, "commission", D("125.00"), "D8", D("1000.00"), D("0.10"), D("1.25"), 3,
              "rates.expansion", "band 3")
    s = replace(s, lines=(*s.lines, up), components={**s.components, "commission": s.components["commission"] + up.amount},
                payout=s.payout + up.amount)
    rows = {r.key: r.amount for r in statement_view(s).components}
    assert (rows["accelerators"], rows["decelerators"]) == (D("25.00"), D("-10200.00"))


def test_view_refuses_data_that_does_not_tie_out(items):
    s = items["R1"]
    with pytest.raises(StatementDataError, match="components sum to"):
        statement_view(replace(s, payout=s.payout + D("0.01")))
    with pytest.raises(StatementDataError, match="component spiff"):
        statement_view(replace(s, components={**s.components, "spiff": D("0.00")}))
    with pytest.raises(StatementDataError, match="status"):
        statement_view(replace(s, status="final"))


def test_ytd_rows_come_from_every_month_of_the_year(items, acme, plans):
    r1 = items["R1"]
    assert [m.period for m in r1.ytd] == [f"2026-{m:02d}" for m in range(1, 11)]
    assert r1.ytd[-1] == YtdMonth("2026-10", D("138000.00"), D("11250.00"))
    results = calculate_through(acme, plans, PERIOD, first_wanted=Period(2026, 1))
    again = {s.rep_id: s for s in statement_data_from_calc(results, acme, plans, "Acme Corp")}
    assert again["R1"].ytd == r1.ytd
    view = statement_view(r1)
    assert [row.label for row in view.ytd] == ["Jan–Jul 2026", "Aug 2026", "Sep 2026", "Oct 2026"]
    assert view.ytd_payout == sum((m.payout for m in r1.ytd), D("0.00"))


# --------------------------------------------------------------------------- PDF text


def test_rep_with_splits_spiff_and_clawback(rendered):
    text = "\n".join(rendered["R1"])
    assert "Ravi Shah R1" in text and "Maria Lopez" in text and "Account Executive FY2026 ae-2026" in text
    assert "PRELIMINARY" in text
    assert "2 D2 Initech New logo 2026-10-14 Commission Primary 60% 40,000.00 10% ×1.0 4,000.00" in text
    assert "3 D2 Initech New logo 2026-10-14 Commission Primary 60% 8,000.00 10% ×1.5 1,200.00" in text
    assert "5 D2 Initech New logo 2026-10-14 SPIFF Primary 60% 300.00" in text
    assert "SPIFF multi-year on D2: 500.00 x 60% primary split = 300.00" in text
    assert "Accelerators band multipliers above ×1 1,150.00" in text
    assert net_payouts(text) == ("11,250.00", "11,250.00")


def test_clawback_line_and_component(rendered):
    text = "\n".join(rendered["R1"])
    assert "6 D5 Stark New logo 2026-09-12 Clawback -2,500.00" in text
    assert "Clawback: D5 (closed 2026-09-12) cancelled on 2026-10-20, 38 days later, within 90" in text
    assert "Clawbacks earlier deals cancelled -2,500.00" in text
    m1 = "\n".join(rendered["M1"])  # the manager's override on D5 is clawed back too
    assert "Clawbacks earlier deals cancelled -250.00" in m1
    assert "Overrides on your team's credit 8,000.00" in m1


def test_ramp_month_and_draw_recovery(rendered):
    text = "\n".join(rendered["R2"])
    assert "Ramp: month 5 since hire, quota at 50% of a full month." in text
    assert "Quota this month 50,000.00" in text and "Attainment 144.00%" in text
    assert "Draw month 5 of 6: pay is at least 3,000.00 (recoverable)." in text
    assert "Draw recovery earlier draws paid back -6,000.00" in text
    assert re.search(r"Opening balance 12,000.00\s+Advanced this month 0.00\s+Recovered this month -6,000.00\s+"
                     r"Closing balance 6,000.00", text), text
    assert net_payouts(text) == ("3,000.00", "3,000.00")


def test_adjustment_and_dispute(items, tmp_path):
    adj = Line("R1", "2026-10", 0, "adjustment", D("-250.00"), "D2", rule="adjustment:12",
               explain="SPIFF on D2 paid twice in September", ref_period="2026-09", ref="adjustment:12")
    data = with_lines(items["R1"], [adj], disputes=(
        Dispute("7", "open", "D3", D("400.00"), "D3 should be a new logo", ""),
        Dispute("5", "rejected", "D1", None, "Split on D1", "Split agreed in writing on 2026-09-30"),
    ))
    report = render_statements([data], tmp_path, jobs=1)
    text = text_of(report.files[0])
    assert "7 SPIFF on D2 paid twice in September D2 2026-09 Adjustment 12 -250.00" in text
    assert "Adjustments total -250.00" in text
    assert "Adjustments see Adjustments below -250.00" in text
    assert "7 D3 Open 400.00 D3 should be a new logo" in text
    assert "5 D1 Rejected Split on D1 Split agreed in writing on 2026-09-30" in text
    assert net_payouts(text) == ("11,000.00", "11,000.00")


LONG = ", and a longer explanation that wraps onto a second line, so that rows of two heights meet the page ends"


def test_multi_page_deal_table_repeats_header_and_never_splits_a_line(items, plans, tmp_path):
    base = items["R1"]
    lines, deals = [], {}
    for i in range(1, 81):
        deal = f"X{i:03d}"
        deals[deal] = DealInfo(f"Account {i:03d}", "new_logo", date(2026, 10, 1 + i % 28))
        lines.append(Line("R1", "2026-10", i, "commission", D("100.00"), deal, D("1000.00"), D("0.10"), D("1.0"), 1,
                          "rates.new_logo", f"Why {deal}: credit 1,000.00 at 10% x 1.0 = 100.00" + LONG * (i % 7 == 0),
                          role="primary", split_pct=D(100)))
    data = replace(base, lines=tuple(lines), deals=deals, components={"commission": D("8000.00")},
                   payout=D("8000.00"), credited=D("80000.00"), attainment=D("0.8000"))
    report = render_statements([data], tmp_path, jobs=1)
    pages = pages_text(report.files[0])
    assert len(pages) > 1
    for n, page in enumerate(pages, start=1):
        assert "Acme Corp · Commission statement" in page
        assert "Ravi Shah (R1) · 2026-10 · PRELIMINARY" in page
        assert f"Page {n} of {len(pages)}" in page
        rows = set(re.findall(r"Account (\d{3})", page))
        explains = set(re.findall(r"Why X(\d{3}):", page))
        assert rows == explains, f"page {n}: a line is split from its explanation"
    assert "# DEAL ACCOUNT TYPE CLOSED LINE SPLIT CREDIT RATE MULT. AMOUNT" in pages[1]  # the header repeats
    assert "Page 2 of" in pages[1]
    assert sum(len(re.findall(r"Why X\d{3}:", p)) for p in pages) == 80
    assert net_payouts("\n".join(pages)) == ("8,000.00", "8,000.00")


def test_locked_statement_says_so(items, tmp_path):
    report = render_statements([replace(items["S1"], status="locked")], tmp_path, jobs=1)
    text = text_of(report.files[0])
    assert "LOCKED" in text and "PRELIMINARY" not in text
    assert "Sam Okafor (S1) · 2026-10 · LOCKED" in text


# --------------------------------------------------------------------------- tie-out


def test_every_net_payout_printed_equals_the_engine(rendered, acme, plans):
    result = calculate_month(acme, plans, PERIOD)
    assert {r.rep_id for r in result.reps} == set(rendered)
    for r in result.reps:
        box, total = net_payouts("\n".join(rendered[r.rep_id]))
        assert box == total == format_money(r.payout), r.rep_id


def test_tie_out_on_a_generated_month(plans, tmp_path):
    generate = pytest.importorskip("compengine.generate").generate
    folder = tmp_path / "company"
    generate(folder, seed=21, reps=12, deals=400, plans_dir=ROOT / "plans")
    data, errors = read_data_folder(folder, plans)
    assert errors == []
    period = Period(2026, 6)
    statements = calc_statement_data(data, plans, period, "Generated Inc")
    result = calculate_month(data, plans, period)
    assert len(statements) == len(result.reps) > 5
    report = render_statements(statements, tmp_path / "out", jobs=2)
    assert report.failed == () and len(report.files) == len(statements)
    for r in result.reps:
        box, total = net_payouts(text_of(tmp_path / "out" / f"statement-2026-06-{r.rep_id}.pdf"))
        assert box == total == format_money(r.payout), r.rep_id


# --------------------------------------------------------------------------- incremental


def test_rerun_renders_nothing_and_one_change_renders_one(items, tmp_path):
    batch = [items["A1"], items["R2"], items["S1"]]
    first = render_statements(batch, tmp_path, jobs=2)
    assert len(first.rendered) == len(batch) and first.skipped == ()
    stamps = {p: p.stat().st_mtime_ns for p in first.files}

    second = render_statements(batch, tmp_path, jobs=2)
    assert second.rendered == () and len(second.skipped) == len(batch)
    assert {p: p.stat().st_mtime_ns for p in second.files} == stamps

    adj = Line("R2", "2026-10", 0, "adjustment", D("125.00"), rule="manual", explain="Missed SPIFF")
    changed = [with_lines(s, [adj]) if s.rep_id == "R2" else s for s in batch]
    third = render_statements(changed, tmp_path, jobs=2)
    assert [p.name for p in third.rendered] == ["statement-2026-10-R2.pdf"]
    assert len(third.skipped) == len(batch) - 1
    assert "Missed SPIFF" in text_of(tmp_path / "statement-2026-10-R2.pdf")

    (tmp_path / "statement-2026-10-A1.pdf").unlink()  # a lost file is rendered again
    fourth = render_statements(changed, tmp_path, jobs=1)
    assert [p.name for p in fourth.rendered] == ["statement-2026-10-A1.pdf"]
    assert len(render_statements(changed, tmp_path, jobs=2, force=True).rendered) == len(batch)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_workers_are_replaced_in_big_runs(items, tmp_path, monkeypatch):
    import compengine.statements.render as render

    monkeypatch.setattr(render, "RECYCLE_AFTER", 1)  # a fresh pool of 2 workers for every 2 statements
    batch = [items["A1"], items["R2"], items["S1"]]
    seen: list[str] = []
    report = render_statements(batch, tmp_path, jobs=2, progress=lambda _pdf, status: seen.append(status))
    assert len(report.rendered) == 3 and report.failed == () and seen == ["rendered"] * 3
    single = render_statements(batch, tmp_path / "one", jobs=1)  # more than RECYCLE_AFTER: a worker, not in process
    assert len(single.rendered) == 3
    assert net_payouts(text_of(tmp_path / "one" / "statement-2026-10-R2.pdf")) == ("3,000.00", "3,000.00")


def test_html_copy_on_request(items, tmp_path):
    report = render_statements([items["R1"]], tmp_path, jobs=1, html=True)
    page = (tmp_path / "statement-2026-10-R1.html").read_text(encoding="utf-8")
    assert 'rel="stylesheet"' in page and "statement.css" in page and "Ravi Shah" in page
    assert len(report.rendered) == 1
    assert render_statements([items["R1"]], tmp_path, jobs=1, html=True).rendered == ()


def test_the_hash_covers_the_stylesheet_not_other_files_in_the_folder(items, templates, tmp_path):
    out = tmp_path / "out"
    assert len(render_statements([items["S1"]], out, jobs=1, templates_dir=templates).rendered) == 1
    (templates / "other-report.html.j2").write_text("{{ unrelated }}", encoding="utf-8")
    (templates / "notes.txt").write_text("not a template", encoding="utf-8")
    assert render_statements([items["S1"]], out, jobs=1, templates_dir=templates).rendered == ()
    css = templates / "statement.css"
    css.write_text(css.read_text(encoding="utf-8") + "\n.extra { color: red; }\n", encoding="utf-8")
    assert len(render_statements([items["S1"]], out, jobs=1, templates_dir=templates).rendered) == 1


# --------------------------------------------------------------------------- failures write nothing


@pytest.fixture
def templates(tmp_path) -> Path:
    folder = tmp_path / "templates"
    shutil.copytree(default_templates_dir(), folder)
    return folder


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def prepared_out(tmp_path: Path, items) -> Path:
    out = tmp_path / "out"
    render_statements([items["S1"]], out, jobs=1)
    return out


def test_broken_template_fails_before_any_pdf(items, templates, tmp_path):
    out = prepared_out(tmp_path, items)
    before = snapshot(out)
    tpl = templates / "statement.html.j2"
    tpl.write_text(tpl.read_text(encoding="utf-8").replace("{%- for f in s.figures %}", "{%- for f in %}"),
                   encoding="utf-8")
    with pytest.raises(CompErrors) as exc:
        render_statements(list(items.values()), out, jobs=2, templates_dir=templates)
    message = exc.value.summary()
    assert "\n" not in message
    assert re.search(r"statement\.html\.j2:\d+: template error while loading it: ", message), message
    assert snapshot(out) == before


def test_template_error_on_one_statement_fails_before_any_pdf(items, templates, tmp_path):
    out = prepared_out(tmp_path, items)
    before = snapshot(out)
    tpl = templates / "statement.html.j2"
    # only statements with balances reach this: the error shows up on R2, after A1, M1 and R1
    tpl.write_text(tpl.read_text(encoding="utf-8").replace("{{ b.title }}", "{{ b.titel }}"), encoding="utf-8")
    with pytest.raises(CompErrors, match=r"statement\.html\.j2:\d+: template error while rendering "
                                         r"statement-2026-10-R2: .*titel"):
        render_statements(list(items.values()), out, jobs=2, templates_dir=templates)
    assert snapshot(out) == before


def test_missing_font_fails_with_a_clear_message(items, templates, tmp_path):
    out = prepared_out(tmp_path, items)
    before = snapshot(out)
    (templates / "fonts" / "DejaVuSans-Bold.ttf").unlink()
    with pytest.raises(CompErrors, match=r"statement\.css:\d+: font file not found: .*DejaVuSans-Bold\.ttf$"):
        render_statements(list(items.values()), out, jobs=2, templates_dir=templates)
    (templates / "fonts" / "DejaVuSans.ttf").write_text("not a font")
    with pytest.raises(CompErrors) as exc:
        render_statements(list(items.values()), out, jobs=2, templates_dir=templates)
    assert re.search(r"statement\.css:\d+: not a font file: \S*DejaVuSans\.ttf \(and 1 more error\)$", exc.value.summary())
    assert snapshot(out) == before


def test_untied_statement_fails_before_any_pdf(items, tmp_path):
    bad = replace(items["M1"], payout=items["M1"].payout + D("1.00"))
    with pytest.raises(CompErrors, match="statement not tied out: M1 2026-10: components sum to"):
        render_statements([items["R1"], bad], tmp_path / "out", jobs=2)
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- command line


def test_cli_renders_then_skips(tmp_path):
    args = ["statements-calc", "--plans", str(ROOT / "plans"), "--data", str(ROOT / "examples" / "acme"),
            "--period", "2026-10", "--rep", "R1", "--out", str(tmp_path), "--jobs", "1"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert f"1 rendered, 0 unchanged (skipped) in {tmp_path}" in res.stdout
    text = text_of(tmp_path / "statement-2026-10-R1.pdf")
    assert "Commission statement" in text and "· Commission statement" not in text  # no --company: no name made up
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "0 rendered, 1 unchanged (skipped)" in res.stdout
    res = CliRunner().invoke(main, [*args, "--company", "Globex  Corporation"])
    assert res.exit_code == 0, res.output
    assert "1 rendered" in res.stdout
    assert "Globex Corporation · Commission statement" in text_of(tmp_path / "statement-2026-10-R1.pdf")


def test_cli_missing_font_is_one_clear_error(templates, tmp_path):
    (templates / "fonts" / "DejaVuSans.ttf").unlink()
    res = CliRunner().invoke(main, ["statements-calc", "--plans", str(ROOT / "plans"), "--data",
                                    str(ROOT / "examples" / "acme"), "--period", "2026-10", "--out",
                                    str(tmp_path / "out"), "--templates", str(templates)])
    assert res.exit_code == 1
    assert "font file not found" in res.output and "no statement was written" in res.output
    assert not (tmp_path / "out").exists()


# --------------------------------------------------------------------------- layering


def test_statements_never_import_sqlalchemy_or_click():
    for path in (ROOT / "compengine" / "statements").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in ("sqlalchemy", "click"), f"{path.name} imports {name}"
                assert not name.startswith(("compengine.ledger", "compengine.cli")), f"{path.name} imports {name}"


# --------------------------------------------------------------------------- wording


def test_lines_are_numbered_in_the_order_shown(items):
    """Engine seq interleaves kinds (a true-up between deal lines); the # column counts down the page."""
    r1 = items["R1"]
    true_up = Line("R1", "2026-10", 0, "true_up", D("10.00"), explain="YTD true-up")
    adj = Line("R1", "2026-10", 0, "adjustment", D("5.00"), explain="Referral bonus (by ops)", ref="adjustment:3")
    data = with_lines(r1, [adj, true_up])
    data = replace(data, lines=tuple(sorted(data.lines, key=lambda ln: (ln.kind != "adjustment", ln.seq))))
    v = statement_view(data)
    shown = [r.seq for r in (*v.deal_lines, *v.other_lines, *v.adjustments)]
    assert shown == list(range(1, len(data.lines) + 1))
    assert v.adjustments[0].ref == "Adjustment 3"


def test_an_override_only_manager_shows_no_attainment_bar(items):
    m1 = items["M1"]  # the example manager: overrides, no own credit
    assert m1.credited == 0 and any(ln.kind == "override" for ln in m1.lines)
    v = statement_view(m1)
    assert v.bar is None and v.attainment_label == "n/a: no own credit"
    assert "0.00%" not in [f.text for f in v.figures]
    assert any("overrides on your team's credit" in n for n in v.notes)
    r1 = statement_view(items["R1"])
    assert r1.bar is not None and r1.attainment_label == "138.00%"


def test_a_rep_without_credit_has_no_bar(items):
    r1 = items["R1"]
    data = replace(r1, lines=(), components={}, payout=D("0.00"), credited=D("0.00"), attainment=D("0"), deals={})
    v = statement_view(data)
    assert v.bar is None and v.attainment_label == "0.00%"


def test_ytd_figure_and_table_explain_their_difference(items):
    a1 = items["A1"]
    assert a1.measure == "ytd"
    v = statement_view(a1)
    assert v.ytd_credited == a1.ytd_credited and v.ytd_notes == ()
    later = replace(a1, ytd_credited=a1.ytd_credited - D("1000.00"))
    notes = statement_view(later).ytd_notes
    assert len(notes) == 1 and "is 1,000.00 less than this table's total" in notes[0] and "amended or cancelled" in notes[0]


def test_plan_name_takes_the_statement_year(items):
    r1 = items["R1"]
    assert statement_view(r1).plan_name == r1.plan.name
    plan = replace(r1.plan, name="Account Executive FY2026")
    old = replace(r1, plan=plan, period="2017-12", ytd=())
    assert statement_view(old).plan_name == "Account Executive FY2017"


def test_a_note_that_repeats_the_verdict_is_not_doubled(items):
    adj = Line("R1", "2026-10", 0, "adjustment", D("500.00"), "D1", explain="Dispute 1 approved: Approved: term verified (by fin)",
               ref="dispute:1", ref_period="2026-10")
    data = with_lines(items["R1"], [adj], disputes=(
        Dispute("1", "approved", "D1", D("500.00"), "SPIFF not paid", "Approved 500.00, paid in 2026-10: Approved: term verified"),
    ))
    v = statement_view(data)
    assert v.adjustments[0].reason == "Dispute 1 approved: term verified (by fin)"
    assert v.adjustments[0].ref == "Dispute 1"
    assert v.disputes[0].resolution == "Approved 500.00, paid in 2026-10: term verified"
    from compengine.statements.view import _undoubled

    assert _undoubled("Dispute 2 rejected: approved by nobody") == "Dispute 2 rejected: approved by nobody"
    assert _undoubled("Approved") == "Approved"


def test_spiff_on_a_whole_deal_says_its_share(acme, plans):
    spiffs = [ln.explain for res in calculate_through(acme, plans, Period(2026, 10)) for r in res.reps for ln in r.lines
              if ln.kind == "spiff"]
    assert "SPIFF multi-year on D2: 500.00 x 60% primary split = 300.00" in spiffs
    whole = [e for e in spiffs if "x 100% primary split" in e]
    assert whole and all(e.endswith(": 500.00 x 100% primary split = 500.00") for e in whole), spiffs


def test_short_labels_never_wrap():
    css = (default_templates_dir() / "statement.css").read_text(encoding="utf-8")
    assert re.search(r"table\.lines td\.kind \{[^}]*white-space: nowrap", css)
    tpl = (default_templates_dir() / "statement.html.j2").read_text(encoding="utf-8")
    assert '<td class="kind">{{ l.deal_type }}</td>' in tpl


# --------------------------------------------------------------------------- the PDF path's parser


def _tags(root) -> list[tuple[str, tuple]]:  # noqa: ANN001
    return [(el.tag, tuple(sorted(el.attrib.items()))) for el in root.iter() if isinstance(el.tag, str)]


def test_the_shipped_template_is_parsed_as_xml_into_the_tree_html5_gives(items):
    import tinyhtml5

    from compengine.statements.render import _document, load_templates

    templates = load_templates()
    assert templates.xml
    base = str(templates.folder) + "/"
    for data in items.values():
        html = templates.render(data)
        fast = _document(html, base, True).etree_element
        assert fast.tag == "html" and not hasattr(fast, "getroot")
        assert _tags(fast) == _tags(tinyhtml5.parse(html, namespace_html_elements=False))


def test_markup_that_is_not_well_formed_goes_to_the_html5_parser():
    from compengine.statements.render import _document

    doc = _document("<html><body><p>one<p>two<br></body></html>", "/", True)
    assert [el.tag for el in doc.etree_element.iter()] == ["html", "head", "body", "p", "p", "br"]


def test_rendering_in_process_leaves_the_collector_as_it_was(items, tmp_path):
    import gc

    before = gc.get_threshold()
    render_statements([items["R1"]], tmp_path, jobs=1)
    assert gc.get_threshold() == before
