"""Northwind Traders CSV export (Neo4j's copy of Microsoft's sample) -> compengine data folder.

Input: the export's folder, with ``employees.csv``, ``orders.csv`` and
``order-details.csv`` (required) and ``employee-territories.csv``,
``territories.csv``, ``regions.csv`` (optional, for teams). Output: a
:class:`~compengine.adapters.common.ConversionResult`. Rules (also in
docs/crm-adapters.md):

* **Reps.** Every employee becomes a rep: ``rep_id`` ``nw-<employeeID>``, name
  "first last", ``manager_id`` from ``reportsTo`` (``NULL``: none),
  ``hire_date`` = the date part of ``hireDate`` (all 1992-1994, years before the
  first order, so nobody ramps or draws; a missing one falls back to twelve
  months before the first order month, noted). ``team`` = the region most of
  their territories are in (ties: alphabetical), else their title.
* **Deals.** Every order becomes a deal: ``deal_id`` = ``orderID``, account =
  ``customerID``, close_date = the date of ``orderDate`` (the fake
  ``00:00:00.000`` time is dropped), owner = ``nw-<employeeID>``, currency USD,
  amount = sum over its lines of ``unitPrice x quantity x (1 - discount)``,
  computed exactly and rounded to cents half-up once per order. Orders with
  ``shippedDate`` ``NULL`` are still bookings (the order was placed; nothing
  says it was cancelled) and are noted. No product (an order has many), no
  term, no splits.
* **orders.csv** has unquoted commas in ship-to addresses (176 rows of 15
  fields instead of 14). Only the columns before ``shipName`` are read
  (``orderID`` .. ``freight``), so the shift never matters; rows of another
  width are noted, not dropped.
* **Rows not used**, counted by reason with examples: orders with a bad id or
  date, an unknown employee, no lines, an unusable line, or a value that is not
  positive; order lines whose order is missing or not used, or with a bad
  price, quantity or discount (such a line makes its whole order unusable: a
  partial order total would be wrong); duplicates; malformed rows.
* **Deal types.** A customer's first order (by orderDate, then orderID) is
  ``new_logo``, later ones ``expansion``; an order without a customer is
  ``new_logo`` (noted). No renewals.
* **Assignments.** From the first order month, open-ended: employees with
  direct reports (the VP and the Sales Manager) on ``mgr-2026``, everyone else
  (the Sales Representatives and the Inside Sales Coordinator) on ``ae-2026``.
  One ``annual_quota`` for everyone, scaled to the data: the median, over the
  ae-2026 employees with orders, of their order value x 12 / months in the
  data (first to last order month), rounded half-up to 1,000. The VP and the
  manager book orders too: they earn mgr-2026's rates on their own orders and
  its override on their direct reports' credit (the VP's direct reports include
  the Sales Manager). Each order is credited once, to its employee.
"""

from __future__ import annotations

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
    has_time_of_day,
    median,
    month_start_shift,
    months_between,
    parse_iso_date,
    round_thousand,
)
from compengine.core.errors import CompError, Source
from compengine.core.money import CONTEXT, D, money_str, round_money
from compengine.engine.records import Assignment, Deal, Rep

FORMAT = "northwind"
EMPLOYEES = "employees.csv"
ORDERS = "orders.csv"
DETAILS = "order-details.csv"
EMP_TERR = "employee-territories.csv"
TERRITORIES = "territories.csv"
REGIONS = "regions.csv"
EMPLOYEE_COLUMNS = ["employeeID", "lastName", "firstName", "title", "hireDate", "reportsTo"]
ORDER_COLUMNS = ["orderID", "customerID", "employeeID", "orderDate", "shippedDate"]
DETAIL_COLUMNS = ["orderID", "productID", "unitPrice", "quantity", "discount"]
FIRST_ADDRESS_COLUMN = "shipName"  # columns from here on may be shifted by unquoted commas
CURRENCY = "USD"
NULL = "NULL"
ONE = Decimal(1)
FALLBACK_HIRE_MONTHS = 12


def _value(text: str) -> str:
    """The export writes missing values as the literal NULL."""
    return "" if text == NULL else text


def rep_id(employee_id: str) -> str:
    return f"nw-{employee_id}"


def _read_teams(folder: Path) -> dict[str, Counter[str]]:
    """Region names of each employee's territories (empty when the optional files are absent or unreadable)."""
    scratch: list[CompError] = []
    paths = [folder / n for n in (EMP_TERR, TERRITORIES, REGIONS)]
    if not all(p.is_file() for p in paths):
        return {}
    et = CsvFile(paths[0], FileReport(EMP_TERR), scratch)
    te = CsvFile(paths[1], FileReport(TERRITORIES), scratch)
    rg = CsvFile(paths[2], FileReport(REGIONS), scratch)
    if not (et.open(["employeeID", "territoryID"]) and te.open(["territoryID", "regionID"])
            and rg.open(["regionID", "regionDescription"])):
        return {}
    region_name = {}
    a, b = rg.index("regionID"), rg.index("regionDescription")
    for _, row in rg.records():
        if len(row) > max(a, b):
            region_name[row[a]] = row[b]
    region_of = {}
    a, b = te.index("territoryID"), te.index("regionID")
    for _, row in te.records():
        if len(row) > max(a, b):
            region_of[row[a]] = region_name.get(row[b], "")
    out: dict[str, Counter[str]] = defaultdict(Counter)
    a, b = et.index("employeeID"), et.index("territoryID")
    for _, row in et.records():
        if len(row) > max(a, b) and region_of.get(row[b]):
            out[row[a]][region_of[row[b]]] += 1
    return dict(out)


def convert(path: Path | str, *, rep_plan: str = "ae-2026", manager_plan: str = "mgr-2026") -> ConversionResult:
    """Convert a Northwind CSV export folder (or the path of one of its files)."""
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    report = ConversionReport(FORMAT, str(folder))
    errors: list[CompError] = []
    if not folder.is_dir():
        return failed(FORMAT, report, [CompError(Source(str(folder)), "not a folder")])

    emp_rep, ord_rep, det_rep = report.file(EMPLOYEES), report.file(ORDERS), report.file(DETAILS)
    emp = CsvFile(folder / EMPLOYEES, emp_rep, errors)
    orders = CsvFile(folder / ORDERS, ord_rep, errors)
    details = CsvFile(folder / DETAILS, det_rep, errors)
    opened = [emp.open(EMPLOYEE_COLUMNS), orders.open(ORDER_COLUMNS), details.open(DETAIL_COLUMNS)]
    if all(opened) and FIRST_ADDRESS_COLUMN in orders.header:
        limit = orders.index(FIRST_ADDRESS_COLUMN)
        late = [c for c in ORDER_COLUMNS if orders.index(c) > limit]
        if late:
            errors.append(CompError(Source(str(folder / ORDERS), 1),
                                    f"column(s) {', '.join(late)} come after {FIRST_ADDRESS_COLUMN}, where unquoted "
                                    "commas shift fields; cannot be read reliably"))
    if errors or not all(opened):
        return failed(FORMAT, report, errors)

    # ---- employees
    ecol = {c: emp.index(c) for c in EMPLOYEE_COLUMNS}
    ewidth = len(emp.header)
    people: dict[str, dict[str, Any]] = {}
    for line, row in emp.records():
        if not any(row):
            emp_rep.skip("blank line", example("", line))
            continue
        if len(row) != ewidth:
            emp_rep.skip(f"malformed row (not {ewidth} fields)", example(row[0], line))
            continue
        v = {c: _value(row[i]) for c, i in ecol.items()}
        eid = v["employeeID"]
        ex = example(eid, line)
        if not eid.isdigit():
            emp_rep.skip("employeeID not a whole number", ex)
            continue
        eid = str(int(eid))
        if eid in people:
            emp_rep.skip("duplicate employeeID (first row kept)", ex)
            continue
        hire: date | None = None
        if v["hireDate"]:
            try:
                hire = parse_iso_date(v["hireDate"])
            except ValueError:
                emp_rep.note("hireDate not a date: fallback hire_date used", ex)
        else:
            emp_rep.note("no hireDate: fallback hire_date used", ex)
        name = " ".join(p for p in (v["firstName"], v["lastName"]) if p) or rep_id(eid)
        boss = v["reportsTo"]
        if boss and not boss.isdigit():
            emp_rep.note("reportsTo not a whole number: no manager", ex)
        people[eid] = {"name": name, "title": v["title"], "hire": hire, "boss": str(int(boss)) if boss.isdigit() else "",
                       "line": line}
        emp_rep.used += 1
    for eid, p in people.items():
        if p["boss"] and p["boss"] not in people:
            emp_rep.note("reportsTo not in employees.csv: no manager", example(eid, p["line"]))
            p["boss"] = ""

    # ---- order lines, grouped by order (kept exact; rounded once per order below)
    dcol = {c: details.index(c) for c in DETAIL_COLUMNS}
    dwidth = len(details.header)
    lines_of: dict[str, list[tuple[int, str]]] = defaultdict(list)  # orderID -> [(line, example)] of good lines
    bad_lines_of: dict[str, list[tuple[int, str, str]]] = defaultdict(list)  # orderID -> [(line, example, reason)]
    exact: dict[str, Decimal] = defaultdict(Decimal)
    for line, row in details.records():
        if not any(row):
            det_rep.skip("blank line", example("", line))
            continue
        if len(row) != dwidth:
            det_rep.skip(f"malformed row (not {dwidth} fields)", example(row[0], line))
            continue
        v = {c: _value(row[i]) for c, i in dcol.items()}
        oid = str(int(v["orderID"])) if v["orderID"].isdigit() else v["orderID"]
        ex = example(f"{oid}/{v['productID']}", line)
        if not v["orderID"].isdigit():
            det_rep.skip("orderID not a whole number", ex)
            continue
        reason = None
        try:
            price, qty, disc = D(v["unitPrice"]), D(v["quantity"]), D(v["discount"])
        except ValueError:
            reason = "unitPrice, quantity or discount not a number"
        else:
            if price < 0:
                reason = "unitPrice negative"
            elif qty <= 0 or qty != qty.to_integral_value():
                reason = "quantity not a positive whole number"
            elif not (0 <= disc < 1):
                reason = "discount not in [0, 1)"
        if reason is not None:
            bad_lines_of[oid].append((line, ex, reason))
            continue
        exact[oid] = CONTEXT.add(exact[oid], CONTEXT.multiply(CONTEXT.multiply(price, qty), CONTEXT.subtract(ONE, disc)))
        lines_of[oid].append((line, ex))

    # ---- orders (only the columns before the ship-to address are read)
    ocol = {c: orders.index(c) for c in ORDER_COLUMNS}
    need = max(ocol.values()) + 1
    owidth = len(orders.header)
    seen: set[str] = set()
    used_orders: set[str] = set()
    candidates: list[dict[str, Any]] = []
    for line, row in orders.records():
        if not any(row):
            ord_rep.skip("blank line", example("", line))
            continue
        if len(row) < need:
            ord_rep.skip(f"malformed row (fewer than {need} fields)", example(row[0], line))
            continue
        v = {c: _value(row[i]) for c, i in ocol.items()}
        raw_id = v["orderID"]
        ex = example(raw_id, line)
        if not raw_id.isdigit():
            ord_rep.skip("orderID not a whole number", ex)
            continue
        oid = str(int(raw_id))
        if oid in seen:
            ord_rep.skip("duplicate orderID (first row kept)", ex)
            continue
        seen.add(oid)
        eid = str(int(v["employeeID"])) if v["employeeID"].isdigit() else v["employeeID"]
        if eid not in people:
            ord_rep.skip("employeeID not in employees.csv", ex)
            continue
        if not v["orderDate"]:
            ord_rep.skip("no orderDate", ex)
            continue
        try:
            when = parse_iso_date(v["orderDate"])
        except ValueError:
            ord_rep.skip("orderDate not a date", ex)
            continue
        if bad_lines_of.get(oid):
            ord_rep.skip("has an unusable order line (see order-details.csv)", ex)
            continue
        if not lines_of.get(oid):
            ord_rep.skip("no order lines in order-details.csv", ex)
            continue
        amount = round_money(exact[oid])
        if amount <= 0:
            ord_rep.skip("order value not positive", ex)
            continue
        if has_time_of_day(v["orderDate"]):
            ord_rep.note("orderDate has a time of day: dropped", ex)
        if not v["shippedDate"]:
            ord_rep.note("not shipped (shippedDate NULL): still a booking on orderDate", ex)
        if len(row) != owidth:
            ord_rep.note(f"{len(row)} fields, not {owidth}: ship-to address columns not read", ex)
        if exact[oid] != amount:
            ord_rep.note("order value has fractions of a cent: rounded half-up once", ex)
        candidates.append({"deal_id": oid, "line": line, "account": v["customerID"], "owner": rep_id(eid),
                           "amount": amount, "exact": exact[oid], "close_date": when,
                           "shipped": bool(v["shippedDate"])})
        used_orders.add(oid)
        ord_rep.used += 1

    for oid in sorted(set(lines_of) | set(bad_lines_of), key=lambda s: (len(s), s)):
        for line, ex, reason in bad_lines_of.get(oid, ()):
            det_rep.skip(reason, ex)
        for line, ex in lines_of.get(oid, ()):
            if oid in used_orders:
                det_rep.used += 1
            elif oid in seen:
                det_rep.skip("its order was not used (see orders.csv)", ex)
            else:
                det_rep.skip("orderID not in orders.csv", ex)

    classify_deal_types(candidates, ord_rep)
    src_file = str(folder / ORDERS)
    deals = [
        Deal(c["deal_id"], c["account"], c["deal_type"], c["amount"], CURRENCY, c["close_date"], c["owner"],
             None, None, None, Source(src_file, c["line"]))
        for c in sorted(candidates, key=lambda c: (c["close_date"], int(c["deal_id"])))
    ]

    # ---- reps and assignments
    first = min((d.close_date for d in deals), default=None)
    last = max((d.close_date for d in deals), default=None)
    fallback_hire = month_start_shift(first, -FALLBACK_HIRE_MONTHS) if first else None
    regions = _read_teams(folder)
    has_reports = {p["boss"] for p in people.values() if p["boss"]}
    emp_file = str(folder / EMPLOYEES)
    reps: dict[str, Rep] = {}
    for eid in sorted(people, key=lambda s: (len(s), s)):
        p = people[eid]
        counts = regions.get(eid)
        team = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] if counts else p["title"]
        rid = rep_id(eid)
        reps[rid] = Rep(rid, p["name"], "", rep_id(p["boss"]) if p["boss"] else None, team,
                        p["hire"] or fallback_hire, Source(emp_file, p["line"]))

    booked: dict[str, Decimal] = defaultdict(Decimal)
    for d in deals:
        booked[d.owner_id] += d.amount
    quota: Decimal | None = None
    assignments: list[Assignment] = []
    span: dict[str, Any] = {}
    if first is not None and last is not None:
        months = months_between(first, last)
        on_rep_plan = [booked[rep_id(e)] for e in people if e not in has_reports and rep_id(e) in booked]
        basis = on_rep_plan or list(booked.values())
        quota = round_thousand(median([annualised(v, months) for v in basis]))
        start = first.replace(day=1)
        for eid in sorted(people, key=lambda s: (len(s), s)):
            rid = rep_id(eid)
            plan = manager_plan if eid in has_reports else rep_plan
            assignments.append(Assignment(rid, plan, start, None, quota, reps[rid].source))
        span = {"first_month": f"{first:%Y-%m}", "last_month": f"{last:%Y-%m}", "months": months}

    total = sum((d.amount for d in deals), Decimal("0.00"))
    exact_total = sum((c["exact"] for c in candidates), Decimal(0))
    unshipped = [c for c in candidates if not c["shipped"]]
    types = Counter(d.deal_type for d in deals)
    report.summary = {
        "deals": len(deals),
        "deals_total": money_str(total),
        "deals_total_unrounded": f"{exact_total:f}",
        "currency": CURRENCY,
        "not_shipped_deals": len(unshipped),
        "not_shipped_total": money_str(sum((c["amount"] for c in unshipped), Decimal("0.00"))),
        "new_logo": types.get("new_logo", 0),
        "expansion": types.get("expansion", 0),
        "renewal": types.get("renewal", 0),
        "reps": len(reps),
        "on_manager_plan": sorted(rep_id(e) for e in has_reports if e in people),
        **span,
        "annual_quota": money_str(quota.quantize(Decimal("0.01"))) if quota is not None else None,
        "rep_plan": rep_plan,
        "manager_plan": manager_plan,
    }
    report.rules = [
        "Reps: every employee, rep_id nw-<employeeID>, manager from reportsTo, hire_date from hireDate; "
        "team = region of most of their territories, else title.",
        f"Deals: every order; amount = sum of unitPrice x quantity x (1 - discount) over its lines, rounded to cents "
        f"half-up once per order; close_date = orderDate; account = customerID; currency {CURRENCY}.",
        "orders.csv: only the columns before shipName are read (unquoted commas shift the address columns).",
        "Orders not shipped yet (shippedDate NULL) are bookings like the others, noted in the report.",
        "Deal type: a customer's first order (orderDate, then orderID) is new_logo, later ones expansion; "
        "no renewals in this data.",
        f"Assignments: employees with direct reports on {manager_plan}, the others on {rep_plan}, from the first "
        f"order month, open-ended; annual_quota {quota} for everyone = median {rep_plan} employee's order value "
        "annualised over the data's months, rounded to 1,000.",
        f"Managers who book orders earn {manager_plan}'s rates on them and its override on direct reports' credit; "
        "each order is credited once.",
    ]
    return ConversionResult(FORMAT, reps, assignments, deals, [], report, [])
