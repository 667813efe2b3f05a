"""The portal in-process (Starlette TestClient): every route x every role x own/other rep,
XSS, CSRF, login limits, sessions, separation of duties, statement JSON = PDF, what-if writes nothing.

One prepared SQLite ledger per module (tests/web_helpers.py), copied for the tests that change it.
"""

from __future__ import annotations

import os
import warnings
from decimal import Decimal

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.ledger import open_ledger, run_close, transaction
from compengine.ledger.models import AdjustmentRow, AuditRow, PayoutLineRow
from compengine.statements.view import format_money
from web_helpers import PASSWORD, USERS, XSS_NAME, XSS_REASON, build_ledger, copy_ledger, csrf_of, login

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

pytestmark = pytest.mark.filterwarnings("ignore:Using `httpx`")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):  # noqa: ANN001
    return build_ledger(tmp_path_factory.mktemp("web"))


@pytest.fixture(scope="module")
def shared_app(prepared, tmp_path_factory):  # noqa: ANN001
    """One app over one copy for the read-mostly tests (the access matrix)."""
    from compengine.web.app import create_app

    engine = open_ledger(copy_ledger(prepared, tmp_path_factory.mktemp("shared")))
    yield create_app(engine, secret="test-secret")
    engine.dispose()


@pytest.fixture
def engine(prepared, tmp_path):  # noqa: ANN001
    e = open_ledger(copy_ledger(prepared, tmp_path))
    yield e
    e.dispose()


@pytest.fixture
def app(engine):  # noqa: ANN001
    from compengine.web.app import create_app

    return create_app(engine, secret="test-secret")


def client_as(app, name: str | None) -> TestClient:  # noqa: ANN001
    c = TestClient(app)
    return login(c, name) if name else c


# ------------------------------------------------------------------ the access matrix

# the personas: user, and the rep whose data is "own" (theirs or their team's) and "other"
PERSONAS = {
    "anonymous": (None, "R1", "S1"),
    "rep": ("ravi", "R1", "R2"),
    "manager": ("maria", "R2", "S1"),  # R2 reports to M1; S1 does not
    "ops": ("olga", "R1", "S1"),
    "finance": ("fin", "R1", "S1"),
    "admin": ("adm", "R1", "S1"),
}
REP_VIEW = {"rep", "manager", "ops", "finance"}  # rep-scoped: rep and manager only in scope
REP_OWN_ONLY = {"rep", "manager"}  # dispute.open, what-if: own (or team) only
NOT_ADMIN = {"rep", "manager", "ops", "finance"}
EVERYONE = {"rep", "manager", "ops", "finance", "admin"}
SCOPED = {"rep", "manager"}  # roles whose rep-scoped access depends on own/other

# (method, path with {rep}, body, roles allowed, rep-scoped, JSON body?)
ROUTES = [
    ("GET", "/", None, EVERYONE, False),
    ("GET", "/reps/{rep}", None, REP_VIEW, True),
    ("GET", "/statements/2026-10/{rep}", None, REP_VIEW, True),
    ("GET", "/statements/2026-10/{rep}.pdf", None, REP_VIEW, True),
    ("GET", "/statements/2026-10/{rep}/dispute?seq=1", None, REP_OWN_ONLY, True),
    ("GET", "/whatif/{rep}", None, REP_OWN_ONLY, True),
    ("GET", "/disputes", None, NOT_ADMIN, False),
    ("POST", "/disputes", {"rep_id": "{rep}", "period": "2026-10", "reason": ""}, REP_OWN_ONLY, True),
    ("POST", "/disputes/1/resolve", {"decision": ""}, {"ops", "finance"}, False),
    ("GET", "/team", None, {"manager"}, False),
    ("GET", "/ops", None, {"ops", "finance"}, False),
    ("POST", "/ops/close/2026-09/run", {}, {"ops"}, False),
    ("POST", "/ops/close/2026-09/lock", {}, {"ops"}, False),
    ("GET", "/ops/jobs/999", None, {"ops", "finance"}, False),
    ("GET", "/adjustments", None, {"ops", "finance"}, False),
    ("POST", "/adjustments", {"amount": ""}, {"ops", "finance"}, False),
    ("POST", "/adjustments/999/approve", {}, {"ops", "finance"}, False),
    ("GET", "/finance/reconcile/2026-09", None, {"finance"}, False),
    ("POST", "/finance/payouts/2026-09", {}, {"finance"}, False),
    ("GET", "/finance/verify", None, {"finance"}, False),
    ("GET", "/admin/users", None, {"admin"}, False),
    ("GET", "/api/me", None, EVERYONE, False),
    ("GET", "/api/periods", None, EVERYONE, False),
    ("GET", "/api/statements/2026-10/{rep}", None, REP_VIEW, True),
    ("GET", "/api/disputes", None, NOT_ADMIN, False),
    ("POST", "/api/disputes", {"rep_id": "{rep}", "period": "2026-10", "reason": ""}, REP_OWN_ONLY, True),
    ("GET", "/api/jobs/999", None, {"ops", "finance"}, False),
]


def expected(role: str, roles: set[str], scoped: bool, whose: str) -> str:
    if role == "anonymous":
        return "401"
    if role not in roles:
        return "403"
    if scoped and whose == "other" and role in SCOPED:
        return "403"
    return "ok"


def test_access_matrix(shared_app):  # noqa: ANN001
    """Every route for every role, on their own (or team) rep and another: 401, 403 or allowed as designed."""
    clients = {role: client_as(shared_app, user) for role, (user, _, _) in PERSONAS.items()}
    failures = []
    for method, path, body, roles, scoped in ROUTES:
        for role, (user, own, other) in PERSONAS.items():
            for whose, rep in (("own", own), ("other", other)) if scoped else (("-", own),):
                c = clients[role]
                url = path.replace("{rep}", rep)
                if method == "GET":
                    r = c.get(url, follow_redirects=False)
                else:
                    data = {k: v.replace("{rep}", rep) for k, v in (body or {}).items()}
                    headers = {"X-CSRF-Token": csrf_of(c)} if user else {}
                    if url.startswith("/api/"):
                        r = c.post(url, json=data, headers=headers, follow_redirects=False)
                    else:
                        r = c.post(url, data=data | ({"csrf": csrf_of(c)} if user else {}), follow_redirects=False)
                want = expected(role, roles, scoped, whose)
                got = str(r.status_code) if r.status_code in (401, 403) else "ok"
                if got != want:
                    failures.append(f"{method} {url} as {role} ({whose}): {r.status_code}, want {want}")
                if r.status_code == 403:
                    # never the data: no rep name, no amounts of the statement
                    assert "Ravi Shah" not in r.text and "Sam Okafor" not in r.text, url
                if want == "ok":
                    assert r.status_code < 500, f"{method} {url} as {role}: {r.status_code} {r.text[:300]}"
    assert failures == []


def test_every_route_is_in_the_matrix(shared_app):  # noqa: ANN001
    paths = {(m, r.path) for r in shared_app.routes for m in (r.methods or ()) if m != "HEAD"}
    covered = set()
    for method, path, *_ in ROUTES:
        for route in shared_app.routes:
            if method in (route.methods or ()) and route.path_regex.match(path.replace("{rep}", "R1").split("?")[0]):
                covered.add((method, route.path))
                break
    public = {("GET", "/login"), ("POST", "/login"), ("GET", "/static/{name}"), ("POST", "/logout")}
    assert paths - covered - public == set()


# ------------------------------------------------------------------ pages and API


def test_statement_json_matches_the_pdf(shared_app):  # noqa: ANN001
    import io

    from pypdf import PdfReader

    c = client_as(shared_app, "ravi")
    data = c.get("/api/statements/2026-10/R1").json()
    pdf = c.get("/statements/2026-10/R1.pdf")
    assert pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    payout = Decimal(data["payout"])
    assert format_money(payout) in text
    assert sum(Decimal(ln["amount"]) for ln in data["lines"]) == payout
    html = c.get("/statements/2026-10/R1").text
    assert format_money(payout) in html
    for ln in data["lines"]:  # every line's explain is on the page
        assert ln["explain"].split(" (")[0].replace("&", "&amp;")[:40] in html
    # the JSON and the page give each line's sources; here whole on the page too: the deals' file is absolute and
    # the plans' relative (build_ledger), so they share no folder to name once (test_statement_components has one)
    sourced = [ln for ln in data["lines"] if ln["deal_source"]]
    assert sourced and all(os.path.isabs(ln["deal_source"]) and not os.path.isabs(ln["rule_source"]) for ln in sourced)
    assert "are files in" not in html
    for ln in sourced:
        assert f"Deal: {ln['deal_source']} · Rule: {ln['rule_source']}" in html


def test_xss_shows_as_text(shared_app):  # noqa: ANN001
    c = client_as(shared_app, "jo")
    for url in ("/statements/2026-10/R2", "/reps/R2", "/disputes"):
        html = c.get(url).text
        assert "<script>alert" not in html, url
    assert "&lt;script&gt;alert(&#34;name&#34;)&lt;/script&gt; Jo Kim" in c.get("/statements/2026-10/R2").text
    ops = client_as(shared_app, "olga").get("/disputes").text
    assert "&lt;script&gt;alert(&#34;reason&#34;)" in ops and "<script>alert" not in ops
    assert client_as(shared_app, "jo").get("/api/statements/2026-10/R2").json()["rep_name"] == XSS_NAME
    r = c.get("/reps/R2")
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_csrf_missing_or_wrong_is_403(app):  # noqa: ANN001
    c = client_as(app, "ravi")
    form = {"rep_id": "R1", "period": "2026-10", "reason": "Missing SPIFF"}
    assert c.post("/disputes", data=form, follow_redirects=False).status_code == 403
    assert c.post("/disputes", data=form | {"csrf": "forged"}, follow_redirects=False).status_code == 403
    assert c.post("/api/disputes", json=form, follow_redirects=False).status_code == 403
    assert c.post("/logout", follow_redirects=False).status_code == 403
    assert c.get("/api/disputes").json() == []  # nothing was opened
    r = c.post("/disputes", data=form | {"csrf": csrf_of(c)}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/disputes?ok=dispute-opened"
    assert [d["reason"] for d in c.get("/api/disputes").json()] == ["Missing SPIFF"]


def test_bearer_token_and_401(app, engine):  # noqa: ANN001
    from compengine.ledger.users import disable_user, new_token

    anon = TestClient(app)
    assert anon.get("/api/me").status_code == 401
    assert anon.get("/api/statements/2026-10/R1").status_code == 401
    assert anon.get("/statements/2026-10/R1").status_code == 401  # the sign-in form, with 401
    with transaction(engine) as s:
        token = new_token(s, "ravi", "adm")
    h = {"Authorization": f"Bearer {token}"}
    assert anon.get("/api/me", headers=h).json()["rep_id"] == "R1"
    assert anon.get("/api/statements/2026-10/R2", headers=h).status_code == 403
    r = anon.post("/api/disputes", headers=h, json={"rep_id": "R1", "period": "2026-10", "reason": "via API", "amount": "12.50"})
    assert r.status_code == 201 and r.json()["amount"] == "12.50" and r.json()["opened_by"] == "ravi"
    assert anon.get("/api/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    with transaction(engine) as s:
        disable_user(s, "ravi", "adm")
    assert anon.get("/api/me", headers=h).status_code == 401


def test_session_cookie_and_logout(app):  # noqa: ANN001
    c = TestClient(app)
    r = c.post("/login", data={"username": "ravi", "password": PASSWORD}, follow_redirects=False)
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "max-age=28800" in cookie
    old = c.cookies.get("compengine_session")
    assert c.get("/api/me").status_code == 200
    assert c.post("/logout", data={"csrf": csrf_of(c)}, follow_redirects=False).status_code == 303
    assert c.get("/api/me").status_code == 401
    replay = TestClient(app)
    replay.cookies.set("compengine_session", old)
    assert replay.get("/api/me").status_code == 401  # a logged-out session stays out
    tampered = TestClient(app)
    tampered.cookies.set("compengine_session", old[:-2] + "xx")
    assert tampered.get("/api/me").status_code == 401


def test_login_rate_limit(engine):  # noqa: ANN001
    from compengine.web.app import create_app
    from compengine.web.auth import LoginLimiter

    now = [1000.0]
    app = create_app(engine, secret="s", limiter=LoginLimiter(clock=lambda: now[0]))
    c = TestClient(app)
    for _ in range(5):
        assert c.post("/login", data={"username": "olga", "password": "wrong"}).status_code == 401
    r = c.post("/login", data={"username": "olga", "password": PASSWORD}, follow_redirects=False)
    assert r.status_code == 429 and "Too many failed sign-ins" in r.text
    assert login(TestClient(app), "oscar")  # other names are not affected
    now[0] += 301
    assert c.post("/login", data={"username": "olga", "password": PASSWORD}, follow_redirects=False).status_code == 303


def test_whatif_writes_nothing(app, engine):  # noqa: ANN001
    with transaction(engine, write=False) as s:
        before = s.scalar(select(func.count()).select_from(AuditRow))
    c = client_as(app, "ravi")
    r = c.get("/whatif/R1", params={"amount": "50000.00", "deal_type": "new_logo", "close_date": "2026-10-20"})
    assert r.status_code == 200 and "you earn" in r.text
    assert c.get("/whatif/R1", params={"amount": "50000.00", "close_date": "2026-08-01"}).status_code == 400
    with transaction(engine, write=False) as s:
        assert s.scalar(select(func.count()).select_from(AuditRow)) == before


def test_manager_team_and_drill_down(shared_app):  # noqa: ANN001
    c = client_as(shared_app, "maria")
    html = c.get("/team").text
    assert "Ravi Shah" in html and "Ana Silva" in html and "Sam Okafor" not in html
    assert c.get("/statements/2026-10/A1").status_code == 200
    assert c.get("/statements/2026-10/S1").status_code == 403


# ------------------------------------------------------------------ separation of duties


def test_adjustment_above_threshold_needs_a_second_user(app, engine):  # noqa: ANN001
    olga, oscar = client_as(app, "olga"), client_as(app, "oscar")
    form = {"rep_id": "R1", "period": "2026-10", "amount": "5000.00", "reason": "Big correction"}
    r = olga.post("/adjustments", data=form | {"csrf": csrf_of(olga)}, follow_redirects=False)
    assert r.headers["location"] == "/adjustments?ok=adjustment-pending"
    small = form | {"amount": "100.00", "reason": "Small one"}
    assert olga.post("/adjustments", data=small | {"csrf": csrf_of(olga)}, follow_redirects=False).status_code == 303
    with transaction(engine, write=False) as s:
        pending = s.scalars(select(AdjustmentRow).where(AdjustmentRow.status == "pending")).one()
        assert s.scalars(select(AdjustmentRow).where(AdjustmentRow.reason == "Small one")).one().status == "approved"
    # only approved adjustments reach the close
    with transaction(engine) as s:
        run_close(s, Period.parse("2026-10"), "olga")
    with transaction(engine, write=False) as s:
        refs = set(s.scalars(select(PayoutLineRow.ref).where(PayoutLineRow.period == "2026-10", PayoutLineRow.kind == "adjustment")))
    assert f"adjustment:{pending.id}" not in refs
    r = olga.post(f"/adjustments/{pending.id}/approve", data={"csrf": csrf_of(olga)})
    assert r.status_code == 400 and "another ops or finance user" in r.text
    assert client_as(app, "ravi").post(f"/adjustments/{pending.id}/approve", data={"csrf": "x"}).status_code == 403
    r = oscar.post(f"/adjustments/{pending.id}/approve", data={"csrf": csrf_of(oscar)}, follow_redirects=False)
    assert r.status_code == 303
    with transaction(engine) as s:
        run_close(s, Period.parse("2026-10"), "olga")
    with transaction(engine, write=False) as s:
        refs = set(s.scalars(select(PayoutLineRow.ref).where(PayoutLineRow.period == "2026-10", PayoutLineRow.kind == "adjustment")))
        assert s.get(AdjustmentRow, pending.id).approved_by == "oscar"
    assert f"adjustment:{pending.id}" in refs


def test_dispute_opener_cannot_resolve(engine):  # noqa: ANN001
    from compengine.ledger.disputes import open_dispute, resolve

    with transaction(engine) as s:
        d = open_dispute(s, "R1", Period.parse("2026-10"), "opened by ops for the rep", "olga")
    with pytest.raises(CompErrors, match="another ops or finance user"):
        with transaction(engine) as s:
            resolve(s, d.id, "olga", True, "self-approval", amount=Decimal("10.00"))
    with transaction(engine) as s:
        assert resolve(s, d.id, "fin", True, "checked", amount=Decimal("10.00")).how == "amount"


def test_cli_identities_once_users_exist(engine, tmp_path):  # noqa: ANN001
    from compengine.cli import main

    url = str(engine.url)
    run = CliRunner().invoke
    r = run(main, ["--db", url, "--as", "nobody", "status"])
    assert r.exit_code != 0 and "'nobody' is not a user of this ledger" in r.output
    r = run(main, ["--db", url, "--as", "ravi", "close", "run", "2026-10"])
    assert r.exit_code != 0 and "needs the role ops" in r.output
    r = run(main, ["--db", url, "--as", "ravi", "disputes", "open", "--rep", "R2", "--period", "2026-10", "--reason", "x"])
    assert r.exit_code != 0 and "may open disputes for R1 only" in r.output
    assert run(main, ["--db", url, "--as", "olga", "close", "run", "2026-10", "--summary"]).exit_code == 0
    r = run(main, ["--db", url, "--as", "olga", "users", "add", "eve", "--role", "admin", "--password-stdin"], input="long-password\n")
    assert r.exit_code != 0 and "needs the role admin" in r.output
    r = run(main, ["--db", url, "--as", "adm", "users", "add", "eve", "--role", "finance", "--password-stdin"], input="long-password\n")
    assert r.exit_code == 0, r.output
    r = run(main, ["--db", url, "--as", "adm", "users", "token", "eve"])
    token = r.output.strip()
    assert r.exit_code == 0 and token.startswith("ce_")
    with transaction(engine, write=False) as s:
        from compengine.ledger.models import ApiTokenRow

        assert token not in {t.token_hash for t in s.scalars(select(ApiTokenRow))}
    r = run(main, ["--db", url, "--as", "adm", "users", "list", "--json"])
    assert {"name": "eve", "role": "finance", "rep_id": None, "disabled": False} in __import__("json").loads(r.output)
    assert "argon2" not in r.output
    assert run(main, ["--db", url, "--as", "adm", "users", "disable", "eve"]).exit_code == 0
    assert "is disabled" in run(main, ["--db", url, "--as", "eve", "status"]).output


def test_first_user_on_a_ledger_without_users(tmp_path):  # noqa: ANN001
    from compengine.cli import main

    url = f"sqlite:///{tmp_path / 'new.db'}"
    run = CliRunner().invoke
    assert run(main, ["--db", url, "db", "upgrade"]).exit_code == 0
    r = run(main, ["--db", url, "--as", "anyone", "users", "add", "root", "--role", "admin", "--password-stdin"], input="long-password\n")
    assert r.exit_code == 0, r.output
    r = run(main, ["--db", url, "--as", "anyone", "users", "add", "x", "--role", "ops"])
    assert r.exit_code != 0 and "not a user" in r.output


def test_users_tokens_and_approvals_on_both_backends(ledger):  # noqa: ANN001
    """The library under the portal on SQLite and PostgreSQL: users, tokens, pending adjustments, the app's reads."""
    from compengine.ledger import add_adjustment, import_folder
    from compengine.ledger.users import add_user, approve_adjustment, authenticate, new_token, user_for_token
    from compengine.web.app import create_app
    from web_helpers import ACME, PLANS

    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "setup")
        add_user(s, "olga", "ops", PASSWORD, "setup")
        add_user(s, "fin", "finance", PASSWORD, "setup")
        token = new_token(s, "fin", "setup")
        adj = add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("-1000.01"), "Clawback by hand", "olga")
        small = add_adjustment(s, "R1", Period.parse("2026-10"), Decimal("1000.00"), "At the threshold", "olga")
    assert (adj.status, small.status) == ("pending", "approved")
    with transaction(ledger, write=False) as s:
        assert authenticate(s, "olga", PASSWORD).role == "ops" and authenticate(s, "olga", "nope") is None
        assert user_for_token(s, token).name == "fin"
    with pytest.raises(CompErrors, match="another ops or finance user"):
        with transaction(ledger) as s:
            approve_adjustment(s, adj.id, "olga")
    with transaction(ledger) as s:
        assert approve_adjustment(s, adj.id, "fin").status == "approved"
    c = TestClient(create_app(ledger, secret="x"))
    assert c.get("/api/periods", headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_compengine_serve_starts_from_the_cli_and_signs_people_in(prepared, tmp_path):
    """`compengine serve` as a user runs it (a subprocess on a free loopback port): the OS user
    need not be a ledger user (the portal signs each person in), and a rep can sign in."""
    import socket
    import subprocess
    import sys
    import time

    import httpx

    url = copy_ledger(prepared, tmp_path)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    from pathlib import Path

    cli = Path(sys.executable).with_name("compengine")  # the installed command, as a user runs it
    proc = subprocess.Popen([str(cli), "--db", url, "serve", "--port", str(port)],
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            if proc.poll() is not None:
                pytest.fail(f"compengine serve exited {proc.returncode}: {proc.stderr.read()}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            pytest.fail("compengine serve did not answer on /login")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as c:
            r = c.post("/login", data={"username": "ravi", "password": PASSWORD})
            assert r.status_code in (200, 303)
            assert c.get("/api/me").json()["rep_id"] == "R1"
    finally:
        proc.terminate()
        proc.wait(10)


def test_serve_keeps_idle_connections_longer_than_a_proxy_would(prepared, tmp_path, monkeypatch):
    """`compengine serve` hands uvicorn a keep-alive longer than a reverse proxy's usual 60 s idle timeout
    (uvicorn's own 5 s made paced clients meet a closing connection: httpx ReadError in bench_web)."""
    import uvicorn
    from click.testing import CliRunner

    from compengine.cli import main

    seen = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(kw, app=app))
    r = CliRunner().invoke(main, ["--db", copy_ledger(prepared, tmp_path), "serve", "--port", "8123"])
    assert r.exit_code == 0, r.output
    assert seen["port"] == 8123 and seen["host"] == "127.0.0.1" and seen["app"] is not None
    assert seen["timeout_keep_alive"] > 60
