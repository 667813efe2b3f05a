"""Maven Analytics "CRM Sales Opportunities" export -> compengine data folder.

Input: the export's folder, with ``sales_pipeline.csv`` and ``sales_teams.csv``
(required) and ``products.csv`` (optional, for product names). Output: a
:class:`~compengine.adapters.common.ConversionResult`. Rules (also in
docs/crm-adapters.md):

* **Reps.** Every ``sales_teams.csv`` agent becomes a rep; ``rep_id`` is a slug of
  the name ("Anna Snelling" -> ``anna-snelling``; a clash gets ``-2``, ``-3``).
  Every manager named there becomes a rep too and is the agents' ``manager_id``;
  a manager has no manager. ``team`` = ``regional_office``; a manager's team is
  the office of most of their agents. The export has no e-mail addresses.
* **Deals.** Only ``Won`` rows with a ``close_value`` and a ``close_date`` and a
  known agent become deals: ``deal_id`` = ``opportunity_id``, amount =
  ``close_value`` (whole USD), currency USD, ``close_date``, owner = the agent,
  ``account``, ``product`` (``GTXPro`` -> ``GTX Pro``: a name that differs from a
  ``products.csv`` name only by spaces or case is written as the catalogue's).
  No term, no cancellations, no splits: the export has none.
* **Rows not used** are counted by reason with examples: Lost, Engaging and
  Prospecting rows (by stage); Won rows without a close value or date, with a
  value that is not a positive cent amount, or with an agent missing from
  ``sales_teams.csv``; duplicate ids; malformed rows.
* **Deal types.** An account's first won deal (by close_date, then
  opportunity_id) is ``new_logo``, its later won deals ``expansion``. A won deal
  without an account is ``new_logo`` (and noted). The data has no renewals, so
  no deal is typed ``renewal``.
* **hire_date.** The export has no hire dates. Every rep gets the first day of
  the month twelve months before the first close month (2016-03-01 for this
  data), so nobody is in the example plans' ramp (tenure months 1-9) or draw
  (months 1-6): every agent with deals was already engaging deals in
  Oct-Dec 2016, months before the first close.
* **Assignments.** From the first close month, open-ended: agents on
  ``ae-2026``, managers on ``mgr-2026`` (the plans are reused unchanged). One
  ``annual_quota`` for everyone, scaled to the data: the median, over agents
  with won deals, of won value x 12 / months in the data (first to last close
  month), rounded half-up to 1,000. mgr-2026 has no accelerators, so a
  manager's quota only shows attainment; it changes no payout.
"""

from __future__ import annotations

import calendar
import csv
from collections import Counter, defaultdict
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from compengine.adapters.common import (
    ConversionReport,
    ConversionResult,
    CsvFile,
    FileReport,
    annualised,
    classify_deal_types,
    example,
    failed,
    median,
    month_start_shift,
    months_between,
    parse_iso_date,
    round_thousand,
    slug,
)
from compengine.core.errors import CompError, Source
from compengine.core.money import D, money_str
from compengine.engine.records import Assignment, Deal, Rep

FORMAT = "maven-crm"
PIPELINE = "sales_pipeline.csv"
TEAMS = "sales_teams.csv"
PRODUCTS = "products.csv"
PIPELINE_COLUMNS = ["opportunity_id", "sales_agent", "product", "account", "deal_stage", "engage_date", "close_date",
                    "close_value"]
TEAMS_COLUMNS = ["sales_agent", "manager", "regional_office"]
OTHER_STAGES = ("Lost", "Engaging", "Prospecting")
KNOWN_PRODUCT_FIXES = {"GTXPro": "GTX Pro"}  # used when products.csv is absent
CURRENCY = "USD"
HIRE_MONTHS_BEFORE_FIRST_CLOSE = 12


def _product_key(name: str) -> str:
    return "".join(name.split()).lower()


def _read_products(folder: Path, errors: list[CompError]) -> dict[str, str] | None:
    """Catalogue names by normalised key, or None without products.csv (not counted: nothing is made of its rows)."""
    path = folder / PRODUCTS
    if not path.is_file():
        return None
    scratch = FileReport(PRODUCTS)
    f = CsvFile(path, scratch, errors)
    if not f.open(["product"]):
        return None
    i = f.index("product")
    out: dict[str, str] = {}
    for _, row in f.records():
        if len(row) > i and row[i]:
            out.setdefault(_product_key(row[i]), row[i])
    return out


def convert(path: Path | str, *, rep_plan: str = "ae-2026", manager_plan: str = "mgr-2026") -> ConversionResult:
    """Convert a Maven CRM export folder (or the path of its sales_pipeline.csv)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    report = ConversionReport(FORMAT, str(folder))
    errors: list[CompError] = []
    if not folder.is_dir():
        return failed(FORMAT, report, [CompError(Source(str(folder)), "not a folder")])

    # ---- people
    teams_rep = report.file(TEAMS)
    teams = CsvFile(folder / TEAMS, teams_rep, errors)
    pipe_rep = report.file(PIPELINE)
    pipe = CsvFile(folder / PIPELINE, pipe_rep, errors)
    ok_teams = teams.open(TEAMS_COLUMNS)
    ok_pipe = pipe.open(PIPELINE_COLUMNS)
    if not (ok_teams and ok_pipe):
        return failed(FORMAT, report, errors)
    products = _read_products(folder, errors)
    if errors:
        return failed(FORMAT, report, errors)

    ia, im, io = (teams.index(c) for c in TEAMS_COLUMNS)
    width = len(teams.header)
    agents: dict[str, tuple[str, str, int]] = {}  # name -> (manager, office, line)
    for line, row in teams.records():
        if not any(row):
            teams_rep.skip("blank line", example("", line))
            continue
        if len(row) != width:
            teams_rep.skip(f"malformed row (not {width} fields)", example(row[0] if row else "", line))
            continue
        name, manager, office = row[ia], row[im], row[io]
        if not name:
            teams_rep.skip("no sales_agent", example("", line))
            continue
        if name in agents:
            teams_rep.skip("duplicate sales_agent (first row kept)", example(name, line))
            continue
        if not manager:
            teams_rep.note("no manager: rep has no manager_id", example(name, line))
        if not office:
            teams_rep.note("no regional_office: team left empty", example(name, line))
        agents[name] = (manager, office, line)
        teams_rep.used += 1

    managers = sorted({m for m, _, _ in agents.values() if m})
    names = list(agents) + [m for m in managers if m not in agents]
    ids: dict[str, str] = {}
    taken: set[str] = set()
    for name in names:
        base = slug(name) or "rep"
        rid, n = base, 1
        while rid in taken:
            n += 1
            rid = f"{base}-{n}"
        if rid != base:
            line = agents[name][2] if name in agents else 0
            teams_rep.note("rep_id clash: numbered", example(f"{name} -> {rid}", line))
        taken.add(rid)
        ids[name] = rid

    # ---- opportunities
    col = {c: pipe.index(c) for c in PIPELINE_COLUMNS}
    pwidth = len(pipe.header)
    seen: set[str] = set()
    candidates: list[dict[str, Any]] = []
    fixes: Counter[tuple[str, str]] = Counter()
    for line, row in pipe.records():
        if not any(row):
            pipe_rep.skip("blank line", example("", line))
            continue
        if len(row) != pwidth:
            pipe_rep.skip(f"malformed row (not {pwidth} fields)", example(row[0], line))
            continue
        v = {c: row[i] for c, i in col.items()}
        oid = v["opportunity_id"]
        ex = example(oid, line)
        if not oid:
            pipe_rep.skip("no opportunity_id", ex)
            continue
        if oid in seen:
            pipe_rep.skip("duplicate opportunity_id (first row kept)", ex)
            continue
        seen.add(oid)
        stage = v["deal_stage"]
        if stage != "Won":
            if stage in OTHER_STAGES:
                pipe_rep.skip(f"stage {stage}: not a won deal", ex)
            else:
                pipe_rep.skip(f"unknown deal_stage {stage!r}", ex)
            continue
        if v["sales_agent"] not in agents:
            pipe_rep.skip("won, sales_agent not in sales_teams.csv", ex)
            continue
        if not v["close_value"]:
            pipe_rep.skip("won, no close_value", ex)
            continue
        if not v["close_date"]:
            pipe_rep.skip("won, no close_date", ex)
            continue
        try:
            amount = D(v["close_value"])
        except ValueError:
            pipe_rep.skip("won, close_value not a number", ex)
            continue
        if amount <= 0:
            pipe_rep.skip("won, close_value not positive", ex)
            continue
        if amount != amount.quantize(Decimal("0.01")):
            pipe_rep.skip("won, close_value has fractions of a cent", ex)
            continue
        try:
            close = parse_iso_date(v["close_date"])
        except ValueError:
            pipe_rep.skip("won, close_date not a date", ex)
            continue
        product = v["product"]
        fixed = products.get(_product_key(product), product) if products is not None else KNOWN_PRODUCT_FIXES.get(product, product)
        if fixed != product:
            fixes[(product, fixed)] += 1
            pipe_rep.note(f"product {product!r} written as {fixed!r}", ex)
        elif products is not None and product and _product_key(product) not in products:
            pipe_rep.note("product not in products.csv (kept as is)", ex)
        candidates.append({"deal_id": oid, "line": line, "account": v["account"], "agent": v["sales_agent"],
                           "amount": amount.quantize(Decimal("0.01")), "close_date": close, "product": fixed or None})
        pipe_rep.used += 1

    classify_deal_types(candidates, pipe_rep)
    src_file = str(folder / PIPELINE)
    deals = [
        Deal(c["deal_id"], c["account"], c["deal_type"], c["amount"], CURRENCY, c["close_date"], ids[c["agent"]],
             None, c["product"], None, Source(src_file, c["line"]))
        for c in sorted(candidates, key=lambda c: (c["close_date"], c["deal_id"]))
    ]

    # ---- reps, hire dates, assignments
    reps: dict[str, Rep] = {}
    assignments: list[Assignment] = []
    span: dict[str, Any] = {}
    first = min((d.close_date for d in deals), default=None)
    last = max((d.close_date for d in deals), default=None)
    hire = month_start_shift(first, -HIRE_MONTHS_BEFORE_FIRST_CLOSE) if first else None
    office_of_manager: dict[str, str] = {}
    by_manager: dict[str, Counter[str]] = defaultdict(Counter)
    for name, (manager, office, _) in agents.items():
        if manager and office:
            by_manager[manager][office] += 1
    for m in managers:
        counts = by_manager.get(m)
        office_of_manager[m] = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if counts else ""
    teams_file = str(folder / TEAMS)
    for name in names:
        rid = ids[name]
        if name in agents:
            manager, office, line = agents[name]
            reps[rid] = Rep(rid, name, "", ids[manager] if manager else None, office, hire, Source(teams_file, line))
        else:
            reps[rid] = Rep(rid, name, "", None, office_of_manager.get(name, ""), hire, Source(teams_file))

    won_by_agent: dict[str, Decimal] = defaultdict(Decimal)
    for d in deals:
        won_by_agent[d.owner_id] += d.amount
    quota: Decimal | None = None
    if first is not None and last is not None:
        months = months_between(first, last)
        quota = round_thousand(median([annualised(v, months) for v in won_by_agent.values()]))
        start = first.replace(day=1)
        for name in names:
            rid = ids[name]
            plan = rep_plan if name in agents and name not in managers else manager_plan
            assignments.append(Assignment(rid, plan, start, None, quota, reps[rid].source))
        span.update({"first_month": f"{first:%Y-%m}", "last_month": f"{last:%Y-%m}", "months": months})

    total = sum((d.amount for d in deals), Decimal("0.00"))
    types = Counter(d.deal_type for d in deals)
    summary = {
        "deals": len(deals),
        "deals_total": money_str(total),
        "currency": CURRENCY,
        "new_logo": types.get("new_logo", 0),
        "expansion": types.get("expansion", 0),
        "renewal": types.get("renewal", 0),
        "reps": len(reps),
        "agents": len(agents),
        "managers": len(managers),
        "agents_with_deals": len(won_by_agent),
        **span,
        "hire_date": str(hire) if hire else None,
        "annual_quota": money_str(quota.quantize(Decimal("0.01"))) if quota is not None else None,
        "rep_plan": rep_plan,
        "manager_plan": manager_plan,
    }
    report.summary = summary
    report.rules = [
        "Reps: each sales_teams.csv agent, rep_id = slug of the name; each manager is a rep too and the agents' manager_id.",
        "Team: regional_office; a manager's team is the office of most of their agents.",
        f"Deals: Won rows with close_value and close_date; amount = close_value in {CURRENCY}; "
        "product names are written as products.csv spells them (GTXPro -> GTX Pro).",
        "Not used: Lost, Engaging and Prospecting rows; Won rows without value or date or with an unknown agent.",
        "Deal type: an account's first won deal (close_date, then opportunity_id) is new_logo, later ones expansion; "
        "no account -> new_logo. The data has no renewals.",
        f"hire_date: {hire} for everyone ({HIRE_MONTHS_BEFORE_FIRST_CLOSE} months before the first close month; "
        "the export has no hire dates), so nobody ramps or draws.",
        f"Assignments: agents on {rep_plan}, managers on {manager_plan}, from the first close month, open-ended; "
        f"annual_quota {quota} for everyone = median agent won value annualised over the data's months, "
        "rounded to 1,000.",
    ]
    return ConversionResult(FORMAT, reps, assignments, deals, [], report, [])


# --------------------------------------------------------------------------- open pipeline

OPEN_STAGES = ("Engaging", "Prospecting")
PIPELINE_OUT_COLUMNS = ["deal_id", "owner_id", "amount", "currency", "deal_type", "expected_close", "probability", "stage",
                        "account", "product"]


def open_pipeline(path: Path | str, result: ConversionResult, expected_close: date | None = None
                  ) -> tuple[list[list[str]], dict[str, int]]:
    """The export's open opportunities (Engaging, Prospecting) as rows of a pipeline file
    (``compengine forecast --pipeline``), and counts of rows not used by reason.

    Rules: ``owner_id`` is the converted rep of ``sales_agent``; ``amount`` is the product's list
    price (``products.csv`` ``sales_price``: open rows have no close value); ``deal_type`` is
    expansion when the account already has a won deal, else new_logo; ``expected_close`` is the
    last day of the month after the last won close date (the export is a snapshot taken then),
    unless given; ``probability`` is left empty and ``stage`` is the deal stage, mapped by the
    forecast's stage map (docs/finance.md).
    """
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    ids = {r.name: r.rep_id for r in result.reps.values()}
    won_accounts = {d.account for d in result.deals if d.account}
    if expected_close is None:
        last = max(d.close_date for d in result.deals)
        nxt = date(last.year + (last.month == 12), last.month % 12 + 1, 1)
        expected_close = date(nxt.year, nxt.month, calendar.monthrange(nxt.year, nxt.month)[1])
    prices: dict[str, str] = {}
    with (folder / PRODUCTS).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            prices[_product_key(row["product"])] = row["sales_price"]
    rows: list[list[str]] = []
    skipped: dict[str, int] = {}
    with (folder / PIPELINE).open(newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            stage = row["deal_stage"]
            if stage not in OPEN_STAGES:
                continue
            owner = ids.get(row["sales_agent"])
            price = prices.get(_product_key(row["product"]))
            if owner is None or price is None:
                reason = "unknown sales_agent" if owner is None else "product without a list price"
                skipped[reason] = skipped.get(reason, 0) + 1
                continue
            account = row["account"]
            rows.append([row["opportunity_id"], owner, money_str(D(price).quantize(Decimal("0.01"))), CURRENCY,
                         "expansion" if account in won_accounts else "new_logo", expected_close.isoformat(), "",
                         stage, account, row["product"]])
    rows.sort(key=lambda r: r[0])
    return rows, skipped
