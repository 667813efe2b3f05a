"""Issue 15, what people read: amounts in the rep's plan currency, written for a locale through Babel
(reps.csv ``locale`` or ``--locale``), deal lines showing the deal as booked beside the converted
credit, and whole-currency rounding of quotas and split credits for currencies without cents.

Every number is worked by hand in the comments.
"""

from __future__ import annotations

import shutil
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from compengine.cli import main
from compengine.core.currency import check_locale, format_money
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder, read_plans_and_folder
from compengine.engine.pipeline import credit_deals, group_splits, segment_cap
from compengine.engine.records import Deal, Split
from compengine.plans.loader import load_plan_text
from compengine.statements import calc_statement_data
from compengine.statements.render import load_templates

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "multi-currency"
OCT = Period.parse("2026-10")
NBSP = "\u00a0"


# --------------------------------------------------------------------------- the one formatter


@pytest.mark.parametrize(("amount", "currency", "locale", "symbol", "expected"), [
    ("1234.56", "EUR", "de_DE", True, f"1.234,56{NBSP}€"),
    ("1234.56", "EUR", "de_DE", False, "1.234,56"),
    ("-1234.50", "EUR", "de_DE", False, "-1.234,50"),
    ("1235", "JPY", "ja_JP", True, "￥1,235"),
    ("1235", "JPY", "ja_JP", False, "1,235"),
    ("1234.56", "USD", "en_US", True, "$1,234.56"),
    ("1234.568", "KWD", None, True, "1,234.568"),
    ("1234.568", "KWD", "de_DE", False, "1.234,568"),
    ("1235", "JPY", None, True, "1,235"),
    ("-0.00", "USD", None, True, "0.00"),
    ("1234.5", None, None, True, "1,234.50"),
])
def test_format_money(amount, currency, locale, symbol, expected):
    assert format_money(Decimal(amount), currency, locale, symbol=symbol) == expected


@pytest.mark.parametrize(("amount", "currency"), [("1.005", "USD"), ("1.5", "JPY"), ("1.0005", "KWD"), ("0.001", None)])
def test_format_money_never_rounds(amount, currency):
    with pytest.raises(ValueError, match="round it before formatting"):
        format_money(Decimal(amount), currency)


def test_format_money_refuses_floats_and_unknown_locales():
    with pytest.raises(TypeError):
        format_money(1.5, "USD")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown locale"):
        format_money(Decimal("1.00"), "USD", "xx_YY")
    with pytest.raises(ValueError, match="needs a currency"):
        format_money(Decimal("1.00"), None, "de_DE")
    assert check_locale(" de_DE ") == "de_DE"
    with pytest.raises(ValueError):
        check_locale("")


# --------------------------------------------------------------------------- whole-unit currencies


def _plan(text: str):
    p, errors = load_plan_text(text, "p.yaml")
    assert p is not None, errors
    return p


def test_a_jpy_quota_and_prorated_cap_are_whole_yen():
    p = _plan("id: jp\ncurrency: JPY\nquota: {annual: 100000001}\nrates: {new_logo: 0.08}\ncap: {per_period: 100000}\n")
    # 100,000,001 / 12 = 8,333,333.4166... -> 8,333,333 yen (not 8,333,333.42)
    assert p.monthly_quota(None, None) == Decimal("8333333")
    # a cap of 100,000 for 15 of 31 days: 48,387.0967... -> 48,387 yen (not 48,387.10)
    assert segment_cap(p, 15, 31) == Decimal("48387")
    usd = _plan("id: us\ncurrency: USD\nquota: {annual: 100000001}\nrates: {new_logo: 0.08}\n")
    assert usd.monthly_quota(None, None) == Decimal("8333333.42")  # cents where the currency has them


def test_a_jpy_deal_split_in_whole_yen():
    d = Deal("D1", "Globex", "new_logo", Decimal("1001"), "JPY", date(2026, 10, 3), "R1", 12)
    splits = [Split("D1", "R1", Decimal("50"), "primary"), Split("D1", "R2", Decimal("50"), "primary"),
              Split("D1", "R3", Decimal("33.3"), "overlay")]
    credits = {(c.rep_id, c.role): c.credit for c in credit_deals([d], group_splits(splits))}
    # 1,001 yen in halves: 500.5 each, the one leftover yen to the first by rep id (R1); the overlay
    # 1,001 x 33.3% = 333.333 -> 333 yen
    assert credits == {("R1", "primary"): Decimal("501"), ("R2", "primary"): Decimal("500"),
                       ("R3", "overlay"): Decimal("333")}
    eur = Deal("D2", "Globex", "new_logo", Decimal("1000.01"), "EUR", date(2026, 10, 3), "R1", 12)
    credits = {c.rep_id: c.credit for c in credit_deals([eur], group_splits(
        [Split("D2", "R1", Decimal("50"), "primary"), Split("D2", "R2", Decimal("50"), "primary")]))}
    assert credits == {"R1": Decimal("500.01"), "R2": Decimal("500.00")}  # cents, as before


# --------------------------------------------------------------------------- statements


def _statements(locale: str | None = None, folder: Path = EXAMPLE):
    plans, data = read_plans_and_folder(folder / "plans", folder)
    items = calc_statement_data(data, plans, OCT, "Example Co", locale=locale)
    templates = load_templates()
    return {s.rep_id: (s, templates.render(s)) for s in items}


def test_rep_locale_from_reps_csv_writes_yen_the_japanese_way():
    out = _statements()
    r2, html = out["R2"]
    assert r2.locale == "ja_JP" and r2.currency == "JPY"
    # D3: USD 12,345.67 x 151.37 = 1,868,764.0679 -> JPY 1,868,764; x 8% = 149,501.12 -> 149,501 yen
    assert '<p class="amount">￥149,501</p>' in html
    assert ">1,868,764<" in html  # the credit, without a sign (the table's header names the currency)
    assert '<span class="original">$12,345.67</span>' in html  # the deal as booked, in ja_JP's format for USD
    assert "1,868,764.00" not in html and "149,501.00" not in html


def test_no_locale_keeps_the_house_format_and_names_the_booked_currency():
    r1, html = _statements()["R1"]
    assert r1.locale is None
    # D1 EUR 10,000.00 x 1.0832 = USD 10,832.00, x 10% = 1,083.20; D2 GBP 20,000.00 x 1.2650 = 25,300.00 -> 2,530.00
    assert '<span class="currency">USD</span> 3,613.20' in html
    assert '10,832.00<span class="original">EUR 10,000.00</span>' in html
    assert '25,300.00<span class="original">GBP 20,000.00</span>' in html


def test_locale_option_overrides_every_rep():
    r1, html = _statements("de_DE")["R1"]
    assert r1.locale == "de_DE"
    assert f'<p class="amount">3.613,20{NBSP}$</p>' in html
    assert f'10.832,00<span class="original">10.000,00{NBSP}€</span>' in html
    assert f'25.300,00<span class="original">20.000,00{NBSP}£</span>' in html
    _, html2 = _statements("de_DE")["R2"]
    assert f'<p class="amount">149.501{NBSP}¥</p>' in html2


def test_a_bad_locale_in_reps_csv_names_file_row_and_field(tmp_path):
    folder = tmp_path / "co"
    shutil.copytree(EXAMPLE, folder)
    text = (folder / "reps.csv").read_text().replace("ja_JP", "xx_YY")
    (folder / "reps.csv").write_text(text)
    plans, _ = read_plans_and_folder(EXAMPLE / "plans", EXAMPLE)
    _, errors = read_data_folder(folder, plans)
    assert len(errors) == 1
    e = errors[0]
    assert (Path(e.source.file).name, e.source.line, e.source.field) == ("reps.csv", 3, "locale")
    assert e.message.startswith("unknown locale 'xx_YY' (a CLDR locale such as en_US, de_DE, ja_JP)")


def test_cli_statements_in_a_locale_and_a_bad_locale(tmp_path):
    runner = CliRunner()
    out = tmp_path / "st"
    res = runner.invoke(main, ["statements-calc", "--plans", str(EXAMPLE / "plans"), "--data", str(EXAMPLE),
                               "--period", "2026-10", "--locale", "de_DE", "--html", "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "statement-2026-10-R1.html").read_text(encoding="utf-8")
    assert f"3.613,20{NBSP}$" in html
    assert (out / "statement-2026-10-R2.pdf").stat().st_size > 1000
    res = runner.invoke(main, ["statements-calc", "--plans", str(EXAMPLE / "plans"), "--data", str(EXAMPLE),
                               "--period", "2026-10", "--locale", "klingon", "--out", str(tmp_path / "x")])
    assert res.exit_code == 2
    assert "unknown locale 'klingon'" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- three places: KWD


def _kwd_company(tmp_path: Path) -> Path:
    folder = tmp_path / "kw"
    (folder / "plans").mkdir(parents=True)
    (folder / "plans" / "kw.yaml").write_text("id: kw-ae\ncurrency: KWD\nquota: {annual: 120000}\n"
                                              "rates: {new_logo: 0.10}\nfx: {base: USD}\n")
    (folder / "reps.csv").write_text("rep_id,name,email,manager_id,team,hire_date\nK1,Kay,k@example.com,,Gulf,2024-01-01\n")
    (folder / "assignments.csv").write_text("rep_id,plan_id,start,end,annual_quota\nK1,kw-ae,2026-10-01,,\n")
    (folder / "deals.csv").write_text("deal_id,account,deal_type,amount,currency,close_date,owner_id,term_months,product,"
                                      "cancelled_on\nD1,Gulfco,new_logo,1234.56,USD,2026-10-05,K1,12,Platform,\n")
    (folder / "fx_rates.csv").write_text("date,from_currency,to_currency,rate\n2026-10-01,USD,KWD,0.3075\n")
    return folder


def test_a_kwd_month_in_json_and_on_its_statement(tmp_path):
    import json

    folder = _kwd_company(tmp_path)
    runner = CliRunner()
    res = runner.invoke(main, ["calc", "--plans", str(folder / "plans"), "--data", str(folder), "--period", "2026-10",
                               "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    # USD 1,234.56 x 0.3075 = 379.62720 -> KWD 379.627; x 10% = 37.9627 -> 37.963 (three places, not refused)
    line = doc["reps"][0]["lines"][0]
    assert (line["credit"], line["amount"], doc["total_payout"]) == ("379.627", "37.963", "37.963")
    out = tmp_path / "st"
    res = runner.invoke(main, ["statements-calc", "--plans", str(folder / "plans"), "--data", str(folder),
                               "--period", "2026-10", "--html", "--out", str(out)])
    assert res.exit_code == 0, res.output
    html = (out / "statement-2026-10-K1.html").read_text(encoding="utf-8")
    assert '<span class="currency">KWD</span> 37.963' in html
    assert '379.627<span class="original">USD 1,234.56</span>' in html


def test_a_month_in_several_currencies_gives_json_totals_per_currency():
    import json

    res = CliRunner().invoke(main, ["calc", "--plans", str(EXAMPLE / "plans"), "--data", str(EXAMPLE),
                                    "--period", "2026-10", "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    # R1 USD 1,083.20 + 2,530.00 = 3,613.20; R2 JPY 149,501
    assert doc["total_payout_by_currency"] == {"JPY": "149501.00", "USD": "3613.20"}


# --------------------------------------------------------------------------- the ledger keeps each rep's locale


@pytest.mark.filterwarnings("ignore:Using `httpx`")
def test_ledger_statements_take_each_reps_locale_and_an_override(ledger, tmp_path):
    from compengine.ledger import import_folder, run_close, transaction
    from compengine.ledger.statement_source import ledger_statement_data

    with transaction(ledger) as s:
        report = import_folder(s, EXAMPLE, EXAMPLE / "plans", "ops")
    for p in Period(2026, 1).months_through(OCT):
        with transaction(ledger) as s:
            run_close(s, p, "ops")
    with transaction(ledger) as s:
        own = {d.rep_id: d for d in ledger_statement_data(s, OCT, "Example Co")}
        forced = {d.rep_id: d for d in ledger_statement_data(s, OCT, "Example Co", locale="de_DE")}
    assert (own["R1"].locale, own["R2"].locale) == (None, "ja_JP")  # reps.csv: R2 ja_JP, R1 none
    assert (forced["R1"].locale, forced["R2"].locale) == ("de_DE", "de_DE")
    html = load_templates().render(own["R2"])
    assert '<p class="amount">￥149,501</p>' in html and '<span class="original">$12,345.67</span>' in html
    # the portal's HTML page writes the rep's amounts the same way as the PDF: the payout with the locale's sign
    from starlette.testclient import TestClient

    from compengine.ledger.users import add_user
    from compengine.web.app import create_app

    with transaction(ledger) as s:
        add_user(s, "kenji", "rep", "correct-horse-9", "setup", rep_id="R2")
        add_user(s, "alice", "rep", "correct-horse-9", "setup", rep_id="R1")
    client = TestClient(create_app(ledger, secret="test-secret"))
    for user, rep, payout in (("kenji", "R2", "￥149,501"), ("alice", "R1", "3,613.20")):
        assert client.post("/login", data={"username": user, "password": "correct-horse-9"},
                           follow_redirects=False).status_code == 303
        page = client.get(f"/statements/2026-10/{rep}").text
        assert f"<strong>{payout}</strong>" in page, page[:2000]
        client.cookies.clear()
    # a changed locale is recorded on the latest rep row and said in the import summary, not priced
    folder = tmp_path / "co"
    shutil.copytree(EXAMPLE, folder)
    (folder / "reps.csv").write_text((folder / "reps.csv").read_text().replace("ja_JP", "en_US"))
    with transaction(ledger) as s:
        report = import_folder(s, folder, folder / "plans", "ops")
    assert "R2: statement locale ja_JP -> en_US (not priced)" in report.text(), report.text()
    with transaction(ledger) as s:
        status = s.execute(text("SELECT status FROM periods WHERE period = '2026-10'")).scalar()
    assert status != "stale", report.text() + "a locale is how statements are written: changing it reprices nothing"
    with transaction(ledger) as s:
        assert ledger_statement_data(s, OCT, "Example Co", rep_ids=["R2"])[0].locale == "en_US"


# --------------------------------------------------------------------------- glyphs: the full-width yen sign


def test_the_yen_sign_has_a_glyph_in_the_pdf_and_the_portal_serves_it(tmp_path):
    """CLDR's ja_JP amounts use U+FFE5, which DejaVu Sans lacks (it drew an empty box): the statement's
    stylesheet falls back to the bundled full-width subset, and the PDF embeds it; the portal serves the same
    file for browsers without a CJK font."""
    import warnings

    from fontTools.ttLib import TTFont
    from pypdf import PdfReader

    from compengine.statements.render import render_pdf

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    templates = load_templates()
    fw = [f for f in templates.fonts if f.name.startswith("StatementFullwidth")]
    assert len(fw) == 2 and all(0xFFE5 in TTFont(f).getBestCmap() for f in fw)
    assert not any(0xFFE5 in TTFont(f).getBestCmap() for f in templates.fonts if f not in fw)
    r2, _ = _statements()["R2"]
    pdf = render_pdf(r2, tmp_path / "r2.pdf", templates)
    page = PdfReader(pdf).pages[0]
    fonts = {str(f["/BaseFont"]) for f in page["/Resources"]["/Font"].values()}
    assert any("Statement-Fullwidth" in f for f in fonts), fonts
    assert "￥149,501" in page.extract_text()

    from compengine.ledger import open_ledger
    from compengine.web.app import create_app

    client = TestClient(create_app(open_ledger(f"sqlite:///{tmp_path / 'l.db'}"), secret="test-secret"))
    r = client.get("/static/StatementFullwidth-Bold.otf")
    assert r.status_code == 200 and r.headers["content-type"] == "font/otf"
    assert r.content == next(f for f in fw if f.name == "StatementFullwidth-Bold.otf").read_bytes()
    assert client.get("/static/DejaVuSans.ttf").status_code == 404  # only what the portal's stylesheet names
    assert 'src: url(/static/StatementFullwidth.otf)' in client.get("/static/portal.css").text
