"""The portal: a Starlette ASGI app of server-rendered pages and a JSON API over the same library objects.

Every view names the action it needs and asks :mod:`compengine.web.permissions`
before it loads anything (403 otherwise, 401 without a sign-in). Readers run in
``transaction(engine, write=False)`` snapshots that never wait for a close; every
change is one ledger write transaction, as in the CLI, recorded under the
signed-in user's name. Statements are the ``StatementData`` the PDFs are made
from (``ledger_statement_data``); the JSON statement is built from the same object.
Templates and CSS are package data read with importlib.resources; Jinja2
autoescapes everything.
"""

from __future__ import annotations

import functools
import json
import os
import tempfile
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Callable
from urllib.parse import quote

import anyio
import anyio.to_thread
import jinja2
from sqlalchemy import Engine, func, select
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from compengine.core.errors import CompErrors
from compengine.core.money import ZERO, D, json_money, parse_amount, shown
from compengine.core.periods import Period
from compengine.engine.records import COMPONENTS
from compengine.engine.report import component_dict
from compengine.ledger.db import transaction
from compengine.ledger.models import AdjustmentRow, DisputeRow, PeriodRow, RepPeriod, RepRow
from compengine.ledger.users import User, get_user, user_for_token
from compengine.core.currency import format_money
from compengine.statements.view import StatementData, statement_view
from compengine.web import permissions
from compengine.web.auth import COOKIE, LoginLimiter, Sessions, SessionData, csrf_ok
from compengine.web.charts import earnings_chart
from compengine.web.jobs import Jobs, close_in_process
from compengine.web.permissions import Forbidden

PKG = "compengine.web"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
                               "frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}
NOTICES = {  # ?ok=... after a form: fixed texts, never text from the URL
    "dispute-opened": "Your dispute was opened. Finance or ops will answer it.",
    "dispute-resolved": "The dispute was resolved.",
    "adjustment-added": "The adjustment was recorded.",
    "adjustment-pending": "The adjustment was recorded and waits for a second user's approval.",
    "adjustment-approved": "The adjustment was approved; rerun its month to include it.",
    "logged-out": "You are signed out.",
}
DEAL_TYPES = (("new_logo", "New logo"), ("expansion", "Expansion"), ("renewal", "Renewal"))



REQUEST_THREADS = int(os.environ.get("COMPENGINE_WEB_THREADS", "") or 4)  # requests handled at once (see Portal)

class NotFound(Exception):
    pass


@dataclass
class Ctx:
    """One request as a view sees it."""

    request: Request
    user: User
    session: SessionData | None  # None when signed in with a bearer token
    form: dict[str, str]
    body: Any = None  # the JSON body of an API POST

    @property
    def csrf(self) -> str:
        return self.session.csrf if self.session else ""

    def param(self, name: str) -> str:
        return self.request.path_params[name]

    def query(self, name: str, default: str = "") -> str:
        return self.request.query_params.get(name, default)


def _load_template(name: str) -> str | None:
    try:
        return (resources.files(PKG) / "templates" / name).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


@jinja2.pass_context
def _money_filter(ctx: Any, value: Any, sign: bool = False, currency: str | None = None) -> str:
    """The portal's money filter: the package's one format (as the PDF statement's filter), in the
    statement's currency on a statement page (whole yen, fils) and for the rep's locale when the ledger
    keeps one (``1.234,56``; ``money(sign=True)``: ``1.234,56 €``), else the house format, two places."""
    if value is None:
        return ""
    view = ctx.get("view")
    locale = getattr(view, "locale", None)
    currency = currency or getattr(view, "currency", None)  # a row's own (a rep's months) or the statement's
    if locale and currency:
        return format_money(value, currency, locale, symbol=sign)
    if currency:
        return format_money(value, currency)
    return shown(D(value))  # a list of months or reps: two places, three for a fils amount (never rounded away)


def _env() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FunctionLoader(_load_template), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["money"] = _money_filter
    env.filters["pct"] = lambda v: f"{Decimal(v) * 100:.1f}%"
    env.filters["urlq"] = lambda v: quote(str(v), safe="")
    return env


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError:
        raise NotFound(text) from None


def _amount(text: str | None, what: str, *, required: bool = False) -> Decimal | None:
    text = (text or "").strip().replace(",", "")
    if not text:
        if required:
            raise CompErrors(f"{what}: an amount is required")
        return None
    try:
        return parse_amount(text, places=3)  # the ledger checks it against the rep's currency
    except ValueError as exc:
        raise CompErrors(f"{what}: {exc}") from None


def statement_json(d: StatementData) -> dict:
    """A statement's numbers as JSON: the same StatementData the PDF is rendered from.

    As in ``compengine calc --json``: ``components`` lists the plan's components (each with its quota period,
    quota, credit, attainment and what it paid this month; a v1 plan has one, ``commission``), each line names
    its ``component``, ``base``, ``deal_source`` and ``rule_source``, and the month's amounts by line kind
    (``commission``, ``spiff``, ``bonus``, ...) are keys of their own."""
    return {
        "company": d.company, "period": d.period, "status": d.status, "rep_id": d.rep_id, "rep_name": d.rep_name,
        "team": d.team, "plan_id": d.plan.id, "currency": d.currency, "measure": d.measure,
        "quota": json_money(d.quota), "credited": json_money(d.credited), "attainment": str(d.attainment),
        "ytd_quota": json_money(d.ytd_quota) if d.ytd_quota is not None else None,
        "ytd_credited": json_money(d.ytd_credited) if d.ytd_credited is not None else None,
        "payout": json_money(d.payout),
        "components": [component_dict(m) for m in d.parts],
        **{k: json_money(d.components.get(k, ZERO)) for k in COMPONENTS},
        "draw_balance": json_money(d.draw_balance), "carry_balance": json_money(d.carry_balance),
        "lines": [{"seq": ln.seq, "kind": ln.kind, "amount": json_money(ln.amount), "deal_id": ln.deal_id,
                   "component": ln.component,
                   "credit": json_money(ln.credit) if ln.credit is not None else None,
                   "rate": str(ln.rate) if ln.rate is not None else None,
                   "multiplier": str(ln.multiplier) if ln.multiplier is not None else None,
                   "base": json_money(ln.base) if ln.base is not None else None,
                   "rule": ln.rule, "explain": ln.explain, "ref_period": ln.ref_period, "ref": ln.ref,
                   "deal_source": str(ln.deal_source) if ln.deal_source is not None else None,
                   "rule_source": ln.rule_source}
                  for ln in d.lines],
        "ytd": [{"period": y.period, "credited": json_money(y.credited), "payout": json_money(y.payout)} for y in d.ytd],
        "disputes": [{"id": x.id, "status": x.status, "deal_id": x.deal_id, "reason": x.reason,
                      "amount_claimed": json_money(x.amount_claimed) if x.amount_claimed is not None else None,
                      "resolution": x.resolution} for x in d.disputes],
    }


class Portal:
    def __init__(self, engine: Engine, *, secret: str | None = None, limiter: LoginLimiter | None = None,
                 secure_cookies: bool = False) -> None:
        self.engine = engine
        # Requests run in at most this many threads at once (the rest wait in the event loop): no more
        # than the connection pool holds (SQLAlchemy: 5 + 10 overflow), so a burst never times out
        # waiting for a connection, and a few threads thrash the interpreter lock less than forty.
        self.workers = anyio.CapacityLimiter(REQUEST_THREADS)
        self.sessions = Sessions(secret)
        self.limiter = limiter or LoginLimiter()
        self.jobs = Jobs()
        self.env = _env()
        self.secure_cookies = secure_cookies
        self._pdf_templates = None

    # ------------------------------------------------------------ plumbing

    def read(self):  # noqa: ANN201
        return transaction(self.engine, write=False)

    def write(self, what: str):  # noqa: ANN201
        return transaction(self.engine, what=f"{what} (portal)")

    def page(self, name: str, ctx: Ctx | None, code: int = 200, **values: Any) -> HTMLResponse:
        notice = NOTICES.get(ctx.query("ok")) if ctx is not None else None
        html = self.env.get_template(name).render(user=ctx.user if ctx else None, csrf=ctx.csrf if ctx else "",
                                                  notice=notice, **values)
        return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})

    def identify(self, request: Request) -> tuple[User | None, SessionData | None]:
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            with self.read() as s:
                return user_for_token(s, auth[7:].strip()), None
        data = self.sessions.read(request.cookies.get(COOKIE))
        if data is None:
            return None, None
        with self.read() as s:
            user = get_user(s, data.user)
        if user is None or user.disabled:
            return None, None
        return user, data

    def route(self, path: str, fn: Callable[[Ctx], Response], *, methods: tuple[str, ...] = ("GET",),
              api: bool = False) -> Route:
        async def endpoint(request: Request) -> Response:
            form: dict[str, str] = {}
            body = None
            if request.method == "POST":
                ctype = request.headers.get("content-type", "")
                if ctype.startswith("application/json"):
                    try:
                        body = await request.json()
                    except ValueError:
                        return JSONResponse({"error": "the body is not JSON"}, status_code=400)
                else:
                    raw = await request.form()
                    form = {k: v for k, v in raw.items() if isinstance(v, str)}
            return await anyio.to_thread.run_sync(functools.partial(self.handle, fn, request, form, body, api),
                                                  limiter=self.workers)

        return Route(path, endpoint, methods=list(methods))

    def handle(self, fn: Callable[[Ctx], Response], request: Request, form: dict[str, str], body: Any,
               api: bool) -> Response:
        user, data = self.identify(request)
        if user is None:
            if api:
                return JSONResponse({"error": "sign in first (session cookie or Authorization: Bearer TOKEN)"},
                                    status_code=401, headers={"WWW-Authenticate": "Bearer"})
            return self.page("login.html", None, 401, error="", username="", next=request.url.path)
        if request.method == "POST" and data is not None:
            given = form.get("csrf") or request.headers.get("x-csrf-token")
            if not csrf_ok(data.csrf, given):
                return self._error(api, 403, "The form's CSRF token is missing or wrong: reload the page and try again.")
        ctx = Ctx(request, user, data, form, body)
        try:
            return fn(ctx)
        except Forbidden:
            return self._error(api, 403, "You may not see or do this.", ctx)
        except NotFound:
            return self._error(api, 404, "Not found.", ctx)
        except CompErrors as exc:
            return self._error(api, 400, "; ".join(str(e) for e in exc.errors) or str(exc), ctx)

    def _error(self, api: bool, status: int, message: str, ctx: Ctx | None = None) -> Response:
        if api:
            return JSONResponse({"error": message}, status_code=status)
        return self.page("error.html", ctx, status, status=status, message=message)

    def check(self, s, ctx: Ctx, action: str, rep_id: str | None = None) -> None:  # noqa: ANN001
        permissions.check(s, ctx.user, action, rep_id)

    # ------------------------------------------------------------ sign-in

    async def login_page(self, request: Request) -> Response:
        return self.page("login.html", None, error="", username="", next=request.query_params.get("next", "/"))

    async def login(self, request: Request) -> Response:
        raw = await request.form()
        name = str(raw.get("username", "")).strip()
        password = str(raw.get("password", ""))
        nxt = str(raw.get("next", "/"))
        if not nxt.startswith("/") or nxt.startswith("//"):
            nxt = "/"
        return await anyio.to_thread.run_sync(self._login, name, password, nxt, limiter=self.workers)

    def _login(self, name: str, password: str, nxt: str) -> Response:
        from compengine.ledger.users import authenticate

        wait = self.limiter.blocked(name)
        if wait:
            return self.page("login.html", None, 429, username=name, next=nxt,
                             error=f"Too many failed sign-ins for this user: try again in {int(wait) // 60 + 1} minutes.")
        with self.read() as s:
            user = authenticate(s, name, password)
        if user is None:
            self.limiter.failed(name)
            return self.page("login.html", None, 401, username=name, next=nxt, error="Wrong user name or password.")
        self.limiter.succeeded(name)
        cookie, _ = self.sessions.issue(user.name)
        resp = RedirectResponse(nxt, status_code=303)
        resp.set_cookie(COOKIE, cookie, max_age=self.sessions.max_age, httponly=True, samesite="lax",
                        secure=self.secure_cookies, path="/")
        return resp

    def logout(self, ctx: Ctx) -> Response:
        if ctx.session is not None:
            self.sessions.revoke(ctx.session)
        resp = RedirectResponse("/login?ok=logged-out", status_code=303)
        resp.delete_cookie(COOKIE, path="/")
        return resp

    def home(self, ctx: Ctx) -> Response:
        u = ctx.user
        target = {"rep": f"/reps/{quote(u.rep_id or '', safe='')}", "manager": "/team", "ops": "/ops",
                  "finance": "/ops", "admin": "/admin/users"}[u.role]
        return RedirectResponse(target, status_code=303)

    # ------------------------------------------------------------ reps

    def rep_page(self, ctx: Ctx) -> Response:
        rep_id = ctx.param("rep_id")
        with self.read() as s:
            self.check(s, ctx, "rep.view", rep_id)
            rep = s.get(RepRow, rep_id)
            if rep is None:
                raise NotFound(rep_id)
            status = dict(s.execute(select(PeriodRow.period, PeriodRow.status)).all())
            months = [{"period": rp.period, "status": status.get(rp.period, "open"), "quota": rp.quota, "currency": rp.currency,
                       "credited": rp.credited, "attainment": Decimal(rp.attainment), "payout": rp.payout,
                       "readable": status.get(rp.period) in ("calculated", "locked")}
                      for rp in s.scalars(select(RepPeriod).where(RepPeriod.rep_id == rep_id).order_by(RepPeriod.period))]
            can_whatif = permissions.allowed(s, ctx.user, "whatif", rep_id)
        shown_months = months[-12:]
        currencies = {m["currency"] for m in shown_months}
        chart = earnings_chart([(m["period"], m["payout"]) for m in shown_months],
                               currency=currencies.pop() if len(currencies) == 1 else None)
        return self.page("rep.html", ctx, rep=rep, months=list(reversed(months)), chart=chart, can_whatif=can_whatif)

    def _statement(self, s, ctx: Ctx, period: Period, rep_id: str) -> StatementData:  # noqa: ANN001
        from compengine.ledger.settings import company_name
        from compengine.ledger.statement_source import ledger_statement_data

        self.check(s, ctx, "rep.view", rep_id)
        if s.get(RepPeriod, (str(period), rep_id)) is None:
            raise NotFound(rep_id)
        items = ledger_statement_data(s, period, company_name(s), rep_ids=[rep_id])
        if not items:
            raise NotFound(rep_id)
        return items[0]

    def statement_page(self, ctx: Ctx) -> Response:
        period, rep_id = _period(ctx.param("period")), ctx.param("rep_id")
        with self.read() as s:
            data = self._statement(s, ctx, period, rep_id)
            can_dispute = permissions.allowed(s, ctx.user, "dispute.open", rep_id)
        view = statement_view(data)
        return self.page("statement.html", ctx, data=data, view=view, can_dispute=can_dispute)

    def statement_pdf(self, ctx: Ctx) -> Response:
        from compengine.statements.render import load_templates, render_pdf

        period, rep_id = _period(ctx.param("period")), ctx.param("rep_id")
        with self.read() as s:
            data = self._statement(s, ctx, period, rep_id)
        if self._pdf_templates is None:
            self._pdf_templates = load_templates()
        with tempfile.TemporaryDirectory(prefix="compengine-pdf-") as tmp:
            path = render_pdf(data, Path(tmp) / "statement.pdf", self._pdf_templates)
            content = path.read_bytes()
        name = f"statement-{period}-{rep_id}.pdf"
        return Response(content, media_type="application/pdf",
                        headers={"Content-Disposition": f"inline; filename=\"{quote(name)}\"", "Cache-Control": "no-store"})

    def api_statement(self, ctx: Ctx) -> Response:
        period, rep_id = _period(ctx.param("period")), ctx.param("rep_id")
        with self.read() as s:
            data = self._statement(s, ctx, period, rep_id)
        return JSONResponse(statement_json(data))

    # ------------------------------------------------------------ disputes

    def dispute_form(self, ctx: Ctx) -> Response:
        period, rep_id = _period(ctx.param("period")), ctx.param("rep_id")
        with self.read() as s:
            self.check(s, ctx, "dispute.open", rep_id)
            data = self._statement(s, ctx, period, rep_id)
        seq = ctx.query("seq")
        line = next((ln for ln in data.lines if str(ln.seq) == seq), None)
        return self.page("dispute_new.html", ctx, data=data, line=line)

    def _open_dispute(self, ctx: Ctx, values: dict[str, Any]) -> DisputeRow:
        from compengine.ledger.disputes import open_dispute

        rep_id = str(values.get("rep_id") or "")
        with self.read() as s:
            self.check(s, ctx, "dispute.open", rep_id)
        period = _period(str(values.get("period") or ""))
        deal_id = str(values.get("deal_id") or "").strip() or None
        amount = _amount(None if values.get("amount") is None else str(values.get("amount")), "amount claimed")
        with self.write(f"dispute open {rep_id} {period} by {ctx.user.name}") as s:
            self.check(s, ctx, "dispute.open", rep_id)
            return open_dispute(s, rep_id, period, str(values.get("reason") or ""), ctx.user.name, deal_id=deal_id,
                                amount=amount)

    def dispute_post(self, ctx: Ctx) -> Response:
        self._open_dispute(ctx, ctx.form)
        return RedirectResponse("/disputes?ok=dispute-opened", status_code=303)

    def _disputes(self, s, ctx: Ctx) -> list[DisputeRow]:  # noqa: ANN001
        self.check(s, ctx, "disputes.list")
        scope = permissions.rep_scope(s, ctx.user)
        q = select(DisputeRow).order_by(DisputeRow.id.desc())
        if scope is not None:
            q = q.where(DisputeRow.rep_id.in_(sorted(scope)))
        return list(s.scalars(q.limit(500)))

    def disputes_page(self, ctx: Ctx) -> Response:
        with self.read() as s:
            rows = self._disputes(s, ctx)
            can_resolve = permissions.allowed(s, ctx.user, "dispute.resolve")
        return self.page("disputes.html", ctx, disputes=rows, can_resolve=can_resolve)

    def dispute_resolve(self, ctx: Ctx) -> Response:
        from compengine.ledger.disputes import resolve

        with self.read() as s:
            self.check(s, ctx, "dispute.resolve")  # before anything about the request is looked at
        try:
            dispute_id = int(ctx.param("dispute_id"))
        except ValueError:
            raise NotFound() from None
        decision = ctx.form.get("decision", "")
        if decision not in ("approve", "reject"):
            raise CompErrors("choose approve or reject")
        amount = _amount(ctx.form.get("amount"), "approved amount") if decision == "approve" else None
        with self.write(f"dispute resolve {dispute_id} by {ctx.user.name}") as s:
            self.check(s, ctx, "dispute.resolve")
            resolve(s, dispute_id, ctx.user.name, decision == "approve", ctx.form.get("note", ""), amount=amount,
                    by_correction=decision == "approve" and amount is None)
        return RedirectResponse("/disputes?ok=dispute-resolved", status_code=303)

    def api_disputes(self, ctx: Ctx) -> Response:
        from compengine.ledger.disputes import dispute_dict

        if ctx.request.method == "POST":
            values = ctx.body if isinstance(ctx.body, dict) else ctx.form
            row = self._open_dispute(ctx, values)
            return JSONResponse(dispute_dict(row), status_code=201)
        with self.read() as s:
            rows = self._disputes(s, ctx)
        return JSONResponse([dispute_dict(r) for r in rows])

    # ------------------------------------------------------------ what-if

    def whatif(self, ctx: Ctx) -> Response:
        from compengine.engine.records import Credit
        from compengine.ledger.inputs import load_inputs
        from compengine.ledger.store import first_open_period

        rep_id = ctx.param("rep_id")
        result = None
        with self.read() as s:
            self.check(s, ctx, "whatif", rep_id)
            rep = s.get(RepRow, rep_id)
            if rep is None:
                raise NotFound(rep_id)
            status = dict(s.execute(select(PeriodRow.period, PeriodRow.status)).all())
            if not status:
                raise CompErrors("the ledger has no months yet")
            locked = [p for p, st in status.items() if st == "locked"]
            # the open month: the one after the last locked month, else the ledger's latest
            period = first_open_period(s, Period.parse(max(locked)).next()) if locked else Period.parse(max(status))
            amount_text, deal_type, when = ctx.query("amount"), ctx.query("deal_type", "new_logo"), ctx.query("close_date")
            if amount_text:
                amount = _amount(amount_text, "deal amount", required=True)
                if amount <= 0:
                    raise CompErrors("deal amount: more than 0.00, please")
                if deal_type not in dict(DEAL_TYPES):
                    raise CompErrors(f"deal type {deal_type!r}: one of {', '.join(k for k, _ in DEAL_TYPES)}")
                try:
                    close_date = date.fromisoformat(when) if when else period.start
                except ValueError:
                    raise CompErrors(f"close date {when!r}: write YYYY-MM-DD") from None
                month = Period(close_date.year, close_date.month)
                if month != period:
                    raise CompErrors(f"close date {close_date}: the open month is {period}; pick a date in it")
                inputs = load_inputs(s, period)  # read-only snapshot: nothing is written, nothing committed
                before = inputs.calculate()
                plan_currency = next((r.currency for r in before.reps if r.rep_id == rep_id), None)
                currency = plan_currency or next(iter(inputs.plans.values())).currency
                inputs.credits = [*inputs.credits, Credit(rep_id, "WHAT-IF", deal_type, close_date, amount, "primary",
                                                          Decimal(100), amount, "(what-if deal)", 12, None, None,
                                                          currency)]
                after = inputs.calculate()
                was = next((r for r in before.reps if r.rep_id == rep_id), None)
                now = next((r for r in after.reps if r.rep_id == rep_id), None)
                if now is None:
                    raise CompErrors(f"{rep_id} has no plan in {period}")
                extra = [ln for ln in now.lines if ln.deal_id == "WHAT-IF"]
                result = {"period": str(period), "amount": amount, "deal_type": dict(DEAL_TYPES)[deal_type],
                          "close_date": close_date, "before": was.payout if was else Decimal("0.00"), "after": now.payout,
                          "delta": now.payout - (was.payout if was else Decimal("0.00")), "lines": extra}
        return self.page("whatif.html", ctx, rep=rep, period=period, result=result, deal_types=DEAL_TYPES,
                         amount=ctx.query("amount"), deal_type=ctx.query("deal_type", "new_logo"),
                         close_date=ctx.query("close_date") or str(period.start))

    # ------------------------------------------------------------ manager

    def team_page(self, ctx: Ctx) -> Response:
        with self.read() as s:
            self.check(s, ctx, "team.view")
            scope = permissions.rep_scope(s, ctx.user) or set()
            readable = [p for p, st in s.execute(select(PeriodRow.period, PeriodRow.status).order_by(PeriodRow.period))
                        if st in ("calculated", "locked")]
            period = ctx.query("period") or (readable[-1] if readable else "")
            if period and period not in readable:
                raise NotFound(period)
            rows = s.execute(select(RepPeriod, RepRow).join(RepRow, RepRow.rep_id == RepPeriod.rep_id)
                             .where(RepPeriod.period == period, RepPeriod.rep_id.in_(sorted(scope)))
                             .order_by(RepRow.team, RepRow.name)).all() if period else []
        team = [{"rep_id": rp.rep_id, "name": rep.name, "team": rep.team, "quota": rp.quota, "credited": rp.credited,
                 "attainment": Decimal(rp.attainment), "payout": rp.payout, "own": rp.rep_id == ctx.user.rep_id}
                for rp, rep in rows]
        return self.page("team.html", ctx, period=period, periods=list(reversed(readable)), team=team)

    # ------------------------------------------------------------ ops

    def board(self, ctx: Ctx) -> Response:
        from compengine.ledger.ops import status_rows
        from compengine.ledger.users import pending_adjustments

        with self.read() as s:
            self.check(s, ctx, "board.view")
            rows = status_rows(s)
            exc = {p: len(json.loads(e or "[]")) for p, e in s.execute(select(PeriodRow.period, PeriodRow.exceptions))}
            open_d = dict(s.execute(select(DisputeRow.period, func.count()).where(DisputeRow.status == "open")
                                    .group_by(DisputeRow.period)).all())
            pending = len(pending_adjustments(s))
            can_close = permissions.allowed(s, ctx.user, "close.run")
            is_finance = permissions.allowed(s, ctx.user, "reconcile")
        for r in rows:
            r["exceptions"], r["open_disputes"] = exc.get(r["period"], 0), open_d.get(r["period"], 0)
            r["total"] = Decimal(r["total_payout"]) if r["total_payout"] is not None else None
        return self.page("board.html", ctx, months=list(reversed(rows)), pending=pending, can_close=can_close,
                         is_finance=is_finance, jobs=self.jobs.recent(5))

    def close_action(self, ctx: Ctx) -> Response:
        action = ctx.param("action")
        with self.read() as s:
            self.check(s, ctx, "close.lock" if action == "lock" else "close.run")
        if action not in ("run", "lock"):
            raise NotFound(action)
        period = _period(ctx.param("period"))
        actor = ctx.user.name
        allow_open = ctx.form.get("allow_open_disputes") == "yes"
        accept = ctx.form.get("accept_exceptions", "").strip() or None

        url = self.engine.url.render_as_string(hide_password=False)
        work = close_in_process(url, action, str(period), actor, allow_open=allow_open, accept=accept)
        job = self.jobs.start(f"close {action} {period}", actor, work)
        return RedirectResponse(f"/ops/jobs/{job.id}", status_code=303)

    def job_page(self, ctx: Ctx) -> Response:
        with self.read() as s:
            self.check(s, ctx, "board.view")
        job = self.jobs.get(int(ctx.param("job_id")))
        if job is None:
            raise NotFound()
        return self.page("job.html", ctx, job=job)

    def api_job(self, ctx: Ctx) -> Response:
        with self.read() as s:
            self.check(s, ctx, "board.view")
        job = self.jobs.get(int(ctx.param("job_id")))
        if job is None:
            raise NotFound()
        return JSONResponse(job.as_dict())

    def adjustments_page(self, ctx: Ctx) -> Response:
        from compengine.ledger.users import approval_threshold

        with self.read() as s:
            self.check(s, ctx, "adjust.view")
            rows = list(s.scalars(select(AdjustmentRow).order_by(AdjustmentRow.id.desc()).limit(200)))
            threshold = approval_threshold(s)
        pending = [r for r in rows if r.status == "pending"]
        return self.page("adjustments.html", ctx, pending=pending, recent=rows, threshold=threshold)

    def adjustment_post(self, ctx: Ctx) -> Response:
        from compengine.ledger.ops import add_adjustment

        with self.read() as s:
            self.check(s, ctx, "adjust.create")
        f = ctx.form
        amount = _amount(f.get("amount"), "amount", required=True)
        rep_id, period = f.get("rep_id", "").strip(), _period(f.get("period", "").strip())
        with self.write(f"adjust {rep_id} {period} by {ctx.user.name}") as s:
            self.check(s, ctx, "adjust.create")
            row = add_adjustment(s, rep_id, period, amount, f.get("reason", ""), ctx.user.name,
                                 deal_id=f.get("deal_id", "").strip() or None)
            status = row.status
        return RedirectResponse(f"/adjustments?ok=adjustment-{'pending' if status == 'pending' else 'added'}",
                                status_code=303)

    def adjustment_approve(self, ctx: Ctx) -> Response:
        from compengine.ledger.users import approve_adjustment

        with self.read() as s:
            self.check(s, ctx, "adjust.approve")
        try:
            adj_id = int(ctx.param("adjustment_id"))
        except ValueError:
            raise NotFound() from None
        with self.write(f"adjustment approve {adj_id} by {ctx.user.name}") as s:
            self.check(s, ctx, "adjust.approve")
            approve_adjustment(s, adj_id, ctx.user.name)
        return RedirectResponse("/adjustments?ok=adjustment-approved", status_code=303)

    # ------------------------------------------------------------ finance

    def reconcile_page(self, ctx: Ctx) -> Response:
        from compengine.ledger.reconcile import reconcile

        period = _period(ctx.param("period"))
        with self.read() as s:
            self.check(s, ctx, "reconcile")
            rec = reconcile(s, period)
        return self.page("reconcile.html", ctx, period=str(period), rec=rec, tables=rec.tables())

    def payouts_export(self, ctx: Ctx) -> Response:
        from compengine.ledger.ops import export_payouts

        with self.read() as s:
            self.check(s, ctx, "payouts.export")
        period = _period(ctx.param("period"))
        preliminary = ctx.form.get("preliminary") == "yes"
        with tempfile.TemporaryDirectory(prefix="compengine-payouts-") as tmp:
            out = Path(tmp) / f"payouts-{period}.csv"
            with self.write(f"payouts export {period} by {ctx.user.name}") as s:
                export_payouts(s, period, out, preliminary=preliminary, actor=ctx.user.name)
            content = out.read_bytes()
        return Response(content, media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f"attachment; filename=\"payouts-{period}.csv\"",
                                 "Cache-Control": "no-store"})

    def verify_page(self, ctx: Ctx) -> Response:
        from compengine.ledger.seals import verify

        with self.read() as s:
            self.check(s, ctx, "verify")
            report = verify(s)
        return self.page("verify.html", ctx, report=report, text=report.text())

    # ------------------------------------------------------------ admin and API

    def users_page(self, ctx: Ctx) -> Response:
        from compengine.ledger.users import list_users

        with self.read() as s:
            self.check(s, ctx, "users.view")
            rows = list_users(s)
        return self.page("users.html", ctx, users=rows)

    def api_me(self, ctx: Ctx) -> Response:
        with self.read() as s:
            self.check(s, ctx, "home")
            actions = sorted(a for a in permissions.RULES if a not in permissions.REP_SCOPED
                             and permissions.allowed(s, ctx.user, a))
        return JSONResponse(ctx.user.as_dict() | {"may": actions})

    def api_periods(self, ctx: Ctx) -> Response:
        """Months and their state for everyone signed in; totals only for those who see every rep."""
        with self.read() as s:
            self.check(s, ctx, "home")
            everyone = permissions.rep_scope(s, ctx.user) is None
            rows = s.scalars(select(PeriodRow).order_by(PeriodRow.period)).all()
            out = [{"period": r.period, "status": r.status}
                   | ({"total_payout": json_money(r.total_payout) if r.total_payout is not None else None,
                       "lines": r.line_count} if everyone else {}) for r in rows]
        return JSONResponse(out)

    async def static(self, request: Request) -> Response:
        name = request.path_params["name"]
        types = {"css": "text/css; charset=utf-8", "js": "text/javascript; charset=utf-8", "otf": "font/otf"}
        ext = name.rsplit(".", 1)[-1]
        if "/" in name or name.startswith(".") or ext not in types:
            return Response("not found", status_code=404)
        # fonts: the statements' bundled ones (one copy in the package), for glyphs a browser's fonts may lack
        folder = resources.files("compengine.statements") / "templates" / "fonts" if ext == "otf" else \
            resources.files(PKG) / "static"
        try:
            content = (folder / name).read_bytes()
        except FileNotFoundError:
            return Response("not found", status_code=404)
        return Response(content, media_type=types[ext], headers={"Cache-Control": "max-age=300"})

    # ------------------------------------------------------------ the route table

    def routes(self) -> list[Route]:
        r = self.route
        return [
            Route("/login", self.login_page, methods=["GET"]),
            Route("/login", self.login, methods=["POST"]),
            Route("/static/{name}", self.static, methods=["GET"]),
            r("/logout", self.logout, methods=("POST",)),
            r("/", self.home),
            r("/reps/{rep_id}", self.rep_page),
            r("/statements/{period}/{rep_id}.pdf", self.statement_pdf),
            r("/statements/{period}/{rep_id}/dispute", self.dispute_form),
            r("/statements/{period}/{rep_id}", self.statement_page),
            r("/whatif/{rep_id}", self.whatif),
            r("/disputes", self.disputes_page),
            r("/disputes", self.dispute_post, methods=("POST",)),
            r("/disputes/{dispute_id}/resolve", self.dispute_resolve, methods=("POST",)),
            r("/team", self.team_page),
            r("/ops", self.board),
            r("/ops/close/{period}/{action}", self.close_action, methods=("POST",)),
            r("/ops/jobs/{job_id:int}", self.job_page),
            r("/adjustments", self.adjustments_page),
            r("/adjustments", self.adjustment_post, methods=("POST",)),
            r("/adjustments/{adjustment_id}/approve", self.adjustment_approve, methods=("POST",)),
            r("/finance/reconcile/{period}", self.reconcile_page),
            r("/finance/payouts/{period}", self.payouts_export, methods=("POST",)),
            r("/finance/verify", self.verify_page),
            r("/admin/users", self.users_page),
            r("/api/me", self.api_me, api=True),
            r("/api/periods", self.api_periods, api=True),
            r("/api/statements/{period}/{rep_id}", self.api_statement, api=True),
            r("/api/disputes", self.api_disputes, methods=("GET", "POST"), api=True),
            r("/api/jobs/{job_id:int}", self.api_job, api=True),
        ]


def create_app(engine: Engine, *, secret: str | None = None, limiter: LoginLimiter | None = None,
               secure_cookies: bool = False) -> Starlette:
    """The portal over an opened ledger (``ledger.open_ledger``)."""
    portal = Portal(engine, secret=secret, limiter=limiter, secure_cookies=secure_cookies)
    app = Starlette(routes=portal.routes(), middleware=[Middleware(SecurityHeaders)])
    app.state.portal = portal
    return app


class SecurityHeaders:
    """ASGI middleware: the security headers (CSP without inline scripts or styles, no framing) on every response."""

    def __init__(self, app) -> None:  # noqa: ANN001
        self.app = app
        self.extra = [(k.lower().encode(), v.encode()) for k, v in SECURITY_HEADERS.items()]

    async def __call__(self, scope, receive, send) -> None:  # noqa: ANN001
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def sending(message) -> None:  # noqa: ANN001
            if message["type"] == "http.response.start":
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [(k, v) for k, v in self.extra if k not in have]
            await send(message)

        await self.app(scope, receive, sending)
