"""The portal in a real browser (Debian's Chromium driven by Playwright), as one flow:

a rep signs in, reads a statement and opens a dispute from a line; ops approves it, runs
and locks the month (watching the job's progress); finance downloads the payout file.
Screenshots of the rep's statement and the ops board are taken every run; `make screenshots`
(COMPENGINE_SCREENSHOTS=docs) writes them over the README's copies in docs/, else they go to a
temporary folder so a test run leaves the tree clean. A rep on a plan with components reads a
statement with one attainment bar per component (docs/statement-components.png).

Playwright never downloads a browser here: it launches /usr/bin/chromium. Without it (or
without Playwright) the test skips with the reason printed, and fails under CI=true.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import threading
import time
from pathlib import Path

import pytest

from web_helpers import PASSWORD, REPO, build_components_ledger, build_ledger, copy_ledger

pytestmark = pytest.mark.slow  # first in the run (conftest): a browser test started last is the run's tail
CHROMIUM = os.environ.get("COMPENGINE_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run"]
IN_CI = os.environ.get("CI", "").lower() == "true"
# where the screenshots go: docs/ only when asked (make screenshots), so `make test` changes no tracked file
DOCS = Path(os.environ["COMPENGINE_SCREENSHOTS"]).resolve() if os.environ.get("COMPENGINE_SCREENSHOTS") else \
    Path(tempfile.mkdtemp(prefix="compengine-screenshots-"))


def _browser_problem() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as exc:
        return f"Playwright for Python is not installed ({exc})"
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"no Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return None


def _require_browser() -> None:
    problem = _browser_problem()
    if problem:
        if IN_CI:
            pytest.fail(f"{problem} (CI=true: the browser test must run)")
        print(f"\nSKIP reason: {problem}")
        pytest.skip(problem)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):  # noqa: ANN001
    _require_browser()
    yield from _serve(copy_ledger(build_ledger(tmp_path / "built"), tmp_path))


@pytest.fixture
def components_server(tmp_path):  # noqa: ANN001
    _require_browser()
    (tmp_path / "built").mkdir()
    yield from _serve(copy_ledger(build_components_ledger(tmp_path / "built"), tmp_path))


def _serve(url: str):  # noqa: ANN202 - a fixture's generator
    import uvicorn

    from compengine.ledger import open_ledger
    from compengine.web.app import create_app

    engine = open_ledger(url)
    port = _free_port()
    srv = uvicorn.Server(uvicorn.Config(create_app(engine, secret="browser-test"), host="127.0.0.1", port=port,
                                        log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    for _ in range(200):
        if srv.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", engine
    srv.should_exit = True
    thread.join(10)
    engine.dispose()


def _sign_in(page, base: str, name: str) -> None:  # noqa: ANN001
    page.goto(f"{base}/login")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("main button[type=submit]")
    page.wait_for_load_state()


def _sign_out(page) -> None:  # noqa: ANN001
    page.click("text=Sign out")
    page.wait_for_url("**/login**")


def _wait_job(page) -> str:  # noqa: ANN001
    page.locator("#job:not([data-state=running])").wait_for(timeout=60_000)  # polled by portal.js
    return page.inner_text("#job-state")


def test_portal_in_chromium(server, tmp_path):  # noqa: ANN001
    from playwright.sync_api import sync_playwright

    base, engine = server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True).new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)

            # the rep: months, statement, a dispute from a line
            _sign_in(page, base, "ravi")
            assert page.url.endswith("/reps/R1")
            assert page.locator("svg.chart rect").count() > 0
            page.click("a[href='/statements/2026-10/R1']")
            page.wait_for_url("**/statements/2026-10/R1")
            assert "Ravi Shah" in page.inner_text("h1")
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "portal-rep.png"), full_page=True)
            page.locator("table.lines a", has_text="Dispute").first.click()
            page.wait_for_url("**/dispute?seq=*")
            page.fill("input[name=amount]", "250.00")
            page.fill("textarea[name=reason]", "The multi-year SPIFF is missing on this deal")
            page.click("main button[type=submit]")
            page.wait_for_url("**/disputes?ok=dispute-opened")
            assert "The multi-year SPIFF is missing" in page.content()
            _sign_out(page)

            # ops: approve the dispute, run and lock the month
            _sign_in(page, base, "olga")
            page.goto(f"{base}/disputes")
            row = page.locator("tr", has_text="The multi-year SPIFF is missing")
            row.locator("input[name=note]").fill("Contract checked")
            row.locator("button[value=approve]").click()
            page.wait_for_url("**/disputes?ok=dispute-resolved")
            assert "Approved 250.00" in page.content()
            page.goto(f"{base}/ops")
            month = page.locator("tr", has_text="2026-10")
            assert "stale" in month.inner_text()  # the approved dispute's adjustment changed the month
            month.locator("button", has_text="Run").click()
            page.wait_for_url("**/ops/jobs/*")
            assert _wait_job(page) == "done", page.inner_text("#job")
            assert "2026-10 calculated" in page.inner_text("#job-result")
            page.goto(f"{base}/ops")
            page.screenshot(path=str(DOCS / "portal-ops.png"), full_page=True)  # 2026-10 calculated: run or lock
            month = page.locator("tr", has_text="2026-10")
            accept = month.locator("input[name=accept_exceptions]")
            if accept.count():
                accept.fill("reviewed in the browser test")
            month.locator("button", has_text="Lock").click()
            page.wait_for_url("**/ops/jobs/*")
            assert _wait_job(page) == "done", page.inner_text("#job")
            page.goto(f"{base}/ops")
            assert "locked" in page.locator("tr", has_text="2026-10").inner_text()
            _sign_out(page)

            # finance: the payout file
            _sign_in(page, base, "fin")
            page.goto(f"{base}/ops")
            with page.expect_download() as info:
                page.locator("tr", has_text="2026-10").locator("button", has_text="Payout file").click()
            path = tmp_path / "payouts.csv"
            info.value.save_as(path)
            text = path.read_text()
            assert text.startswith("rep_id,name,team,period,currency,amount") and ",locked" in text
            assert "R1,Ravi Shah" in text
            assert errors == []
        finally:
            browser.close()


def test_a_rep_on_a_component_plan_sees_each_components_bar(components_server):  # noqa: ANN001
    """tests/fixtures/components, November 2026 (worked in tests/test_statement_components.py): C1's new business
    is at 140,000.00 / 133,333.33 = 105.00% of its Q4 to date, expansion at 70,000.00 / 66,666.67 = 105.00%, and
    the bonus on new business pays 1,333.34 this month."""
    from playwright.sync_api import sync_playwright

    base, _engine = components_server
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.set_default_timeout(15_000)
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            _sign_in(page, base, "cora")
            assert page.url.endswith("/reps/C1")
            page.click("a[href='/statements/2026-11/C1']")
            page.wait_for_url("**/statements/2026-11/C1")
            parts = page.locator("#parts .part")
            assert parts.count() == 3
            nb, ex, bonus = (page.locator(f"#part-{k}") for k in ("new_business", "expansion", "attainment_bonus"))
            assert "New business — Q4 2026 to date" in nb.inner_text()
            assert "Expansion — Q4 2026 to date" in ex.inner_text()
            for block in (nb, ex):  # each commission component: its own bar, drawn and visible
                bar = block.locator("svg.bar")
                assert bar.count() == 1 and bar.is_visible()
                assert bar.bounding_box()["width"] > 200
                assert "Attainment 105.00%" in bar.get_attribute("aria-label")
            assert "×0.5" in nb.locator("svg.bar").inner_html() and "×1.5" in ex.locator("svg.bar").inner_html()
            assert bonus.locator("svg.bar").count() == 0 and "1,333.34" in bonus.inner_text()
            assert "tests/fixtures/components/deals.csv:4" in page.inner_text("table.lines")
            DOCS.mkdir(exist_ok=True)
            page.screenshot(path=str(DOCS / "statement-components.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
