"""Reconciliation for finance: tie a month's payouts out against its bookings, lines, file and statements.

Input: a session and a calculated or locked month (optionally the payout file
given to payroll). Output: a :class:`Reconciliation`, plain data: bookings by
deal type against the credit the lines carry, payout by component, team and
rep, the payout file's total, the sum of statement nets, liabilities, month
over month and cost of sales, plus a list of :class:`Finding` exceptions, each
naming the rep or deal that causes it. Nothing is written.

It reads set-wise: aggregates over ``payout_lines``, ``rep_periods`` and
``deals`` (GROUP BY in the database), never one ORM object per line, so a month
of a million credit lines reconciles in seconds. Per-deal detail is only read
for the few deals that need it (split, cancelled in the month) and to name the
cause of a difference.

The checks (any failure is an exception):

* **credit**: each rep's primary and overlay credit on its commission lines
  equals the credit its deals and splits give (recomputed with the engine's
  :func:`~compengine.engine.pipeline.credit_deals`: primary parts add up to the
  booked amount); a difference is traced to the deal. Credit of receivers with
  no plan in the month (or a plan in another currency) is listed apart, not paid.
* **credited**: ``rep_periods.credited`` equals the credit on the rep's lines. On a plan with
  components it is the first component's credit of its quota period to date: it must equal that
  component's stored measure, and each component measured by the month (on money) must carry on
  its commission lines the credit its measure counts.
* **statement**: a statement's net (the sum of the rep's lines, as the statement
  shows them) equals ``rep_periods.payout``; a difference is traced to the line.
* **payout file**: the rows the export writes (:func:`~compengine.ledger.ops.payout_rows`)
  equal the ledger, and so does a payout file given to compare, rep by rep.
* **period**: the month's stored total and line count equal its lines.
* **seal**: a locked month's lines and rep totals still hash to its seal
  (:func:`~compengine.ledger.seals.check_month`): lines and totals changed together,
  which tie out among themselves, are caught here.

Plan components (plan language v2): per rep and in the month's totals, what each component paid
(the sum of the lines that name it) with its quota period, quota, credit and attainment as the
close stored them (``rep_periods.parts``). Commission at base rates is the sum of the commission
lines' stored ``base`` (credit x rate, rounded once when the line was made); only lines stored
before lines carried it (ledgers from before migration 0007) have it worked out from their credit
and rate, and a flat amount (a rule's ``amount_per_deal``, a component's ``per_deal``: no rate)
is all base, as on the statements.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Date, bindparam, select, text
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import CENT, CONTEXT, ZERO, D, from_thousandths, money_str, round_money
from compengine.core.periods import Period
from compengine.core.currency import check_code
from compengine.core.fx import FxRates, MissingRate
from compengine.engine.pipeline import FxCredits, credit_deals
from compengine.engine.records import COMPONENTS, ComponentMeasure, Deal, Split
from compengine.ledger.close import load_plan_versions, load_plans_latest
from compengine.ledger.codec import parts_of
from compengine.ledger.history import load_fx
from compengine.ledger.models import (UNBASED_LINES, AdjustmentRow, DealEvent, DealRow, DisputeRow, PeriodRow,
                                      RepPeriod, RepRow)
from compengine.ledger.ops import EXPORT_COLUMNS, payout_rows
from compengine.ledger.seals import check_month
from compengine.plans.model import Plan

HUNDRED = Decimal(100)
# the payout components in the order finance reads them; commission shows as base + accelerators
PAYOUT_ROWS = (
    ("commission_base", "Commission at base rates"),
    ("accelerators", "Accelerators"),
    ("true_up", "True-ups"),
    ("spiff", "SPIFFs"),
    ("bonus", "Bonuses"),
    ("cap", "Cap"),
    ("clawback", "Clawbacks"),
    ("override", "Overrides"),
    ("adjustment", "Adjustments"),
    ("draw", "Draws"),
    ("draw_recovery", "Draw recovery"),
    ("balance_recovery", "Balance recovery"),
    ("carry_forward", "Carried forward"),
)
MAX_DETAIL = 200  # findings and notes listed one by one; the rest are counted


# ------------------------------------------------------------------ the result


@dataclass(frozen=True)
class Finding:
    """An exception: something that does not tie out, and who or what causes it."""

    check: str  # credit | credited | statement | payout_file | period | lines | unpaid | seal
    message: str
    rep_id: str | None = None
    deal_id: str | None = None
    difference: Decimal | None = None

    def __str__(self) -> str:
        return f"[{self.check}] {self.message}"


@dataclass
class BookingRow:
    currency: str
    deal_type: str
    deals: int = 0
    booked: Decimal = ZERO
    cancelled_deals: int = 0
    cancelled: Decimal = ZERO  # primary credit not counted: cancelled in the close month, inside the clawback window
    not_credited: Decimal = ZERO  # primary credit of receivers with no plan this month (or another currency)
    credit_due: Decimal = ZERO  # primary credit the lines must carry
    overlay_due: Decimal = ZERO  # overlay credit the lines must carry (on top of the booking)
    changed_after_lock: Decimal = ZERO  # primary credit the data now gives minus what the locked lines carry
    converted_out: Decimal = ZERO  # primary credit of these deals paid in another currency (converted, issue 15)
    converted_in: Decimal = ZERO  # primary credit paid in this currency on deals booked in another (converted)


@dataclass
class PartLine:
    """One plan component of a rep's month: its measures as the close stored them, and what its lines paid."""

    component: str  # the component's id ("commission" on a v1 plan)
    type: str  # commission | bonus ("" for a component only lines name, e.g. a cap line)
    period: str  # its quota period to date: "2026-10", "2026-Q4", "2026" ("" when not measured)
    quota: Decimal | None  # quota of the period to date (None when not measured)
    credited: Decimal | None  # credit (or the component's base) of the period to date
    attainment: Decimal | None  # credited / quota, 4 places
    paid: Decimal  # the month's lines that name the component


@dataclass
class ComponentTotal:
    """A plan component across the month's reps (of one currency and quota period)."""

    currency: str
    component: str
    period: str
    reps: int
    quota: Decimal | None  # the reps' quotas added up (None when not measured)
    credited: Decimal | None
    attainment: Decimal | None  # credited / quota of the sums, 4 places (None without quota)
    paid: Decimal


@dataclass
class RepLine:
    rep_id: str
    name: str
    team: str
    plan_id: str
    currency: str
    payout: Decimal  # rep_periods.payout: what the ledger pays
    statement_net: Decimal  # sum of the rep's lines, as the statement shows them
    export_amount: Decimal | None  # the payout file row the export writes
    components: dict[str, Decimal]  # COMPONENTS plus commission_base and accelerators
    credited: Decimal
    primary_credit: Decimal
    overlay_credit: Decimal
    lines: int
    previous: Decimal | None = None  # payout of the previous month, if the rep had one
    quota: Decimal | None = None  # the quota that priced the month (rep_periods.quota)
    plan_components: list[PartLine] = field(default_factory=list)  # the plan's components, in the plan's order


@dataclass
class TeamLine:
    team: str
    currency: str
    reps: int
    payout: Decimal
    components: dict[str, Decimal]
    bookings: Decimal  # net bookings of the deals the team's reps own
    cost_pct: Decimal | None  # payout as a percent of bookings


@dataclass
class Liability:
    kind: str  # draw | carry | dispute
    rep_id: str
    amount: Decimal | None
    detail: str


@dataclass
class Mover:
    rep_id: str
    name: str
    previous: Decimal
    current: Decimal

    @property
    def change(self) -> Decimal:
        return self.current - self.previous


@dataclass
class TieOut:
    """One total seen from one place; all of them must be equal."""

    source: str
    currency: str
    amount: Decimal | None
    count: int | None
    unit: str


@dataclass
class InCurrencyRow:
    """One currency of the month seen in the reporting currency (``reconcile --in``)."""

    currency: str
    payout: Decimal  # in its own currency
    net_bookings: Decimal
    rate: str  # the rate as a person checks it (Quote.text): 1.0832, 1/151.37, 1.0832 x 151.37
    rate_date: str  # when the rate took effect
    how: str  # same currency | direct | inverse | cross via USD
    payout_in: Decimal  # payout x rate, rounded half up to the reporting currency's minor units
    net_bookings_in: Decimal


@dataclass
class InCurrency:
    """The month in one reporting currency, at documented rates: the ledger's current rates (a corrected
    rate replaces the one it corrects) in force on the month's last day, direct, else the inverse, else
    crossed through the plans' ``fx.base``; each currency's total is converted once and rounded half up
    to the reporting currency's minor units, and the month's total is the sum of the converted totals.
    Reporting only: nothing is paid at these rates (each rep is paid in the plan's currency)."""

    currency: str
    as_of: str  # the month's last day
    rows: list[InCurrencyRow]

    @property
    def total_payout(self) -> Decimal:
        return sum((r.payout_in for r in self.rows), ZERO)

    @property
    def total_net_bookings(self) -> Decimal:
        return sum((r.net_bookings_in for r in self.rows), ZERO)


@dataclass
class Reconciliation:
    period: str
    status: str  # calculated | locked
    bookings: list[BookingRow]
    components: dict[str, dict[str, Decimal]]  # currency -> component -> total (PAYOUT_ROWS keys and COMPONENTS)
    adjustments: dict[str, dict[str, Decimal]]  # currency -> dispute | manual | late_change -> total
    tie_out: list[TieOut]
    teams: list[TeamLine]
    reps: list[RepLine]
    liabilities: list[Liability]
    previous_period: str
    previous_total: dict[str, Decimal]  # currency -> total payout of the previous month (empty: none)
    movers: list[Mover]
    exceptions: list[Finding]
    notes: list[str] = field(default_factory=list)
    payout_file: str | None = None
    plan_components: list[ComponentTotal] = field(default_factory=list)  # by currency, component and quota period
    in_currency: InCurrency | None = None  # the month in one reporting currency (``reconcile --in``)

    @property
    def ok(self) -> bool:
        return not self.exceptions

    @property
    def currencies(self) -> list[str]:
        return sorted({r.currency for r in self.reps} | {b.currency for b in self.bookings})

    def total_payout(self, currency: str) -> Decimal:
        return sum((r.payout for r in self.reps if r.currency == currency), ZERO)

    def net_bookings(self, currency: str) -> Decimal:
        return sum((b.booked - b.cancelled for b in self.bookings if b.currency == currency), ZERO)

    def cost_of_sales(self, currency: str) -> Decimal | None:
        return _pct(self.total_payout(currency), self.net_bookings(currency))

    def liabilities_total(self, kind: str) -> Decimal:
        return sum((x.amount or ZERO for x in self.liabilities if x.kind == kind), ZERO)

    # -------------------------------------------------------------- output

    def as_dict(self) -> dict:
        """JSON-ready: amounts as two-place strings, percents with two places."""
        return _jsonable({
            "period": self.period,
            "status": self.status,
            "ties_out": self.ok,
            "exceptions": [asdict(f) for f in self.exceptions],
            "bookings": [asdict(b) for b in self.bookings],
            "payout": {
                cur: {
                    "components": {k: self.components.get(cur, {}).get(k, ZERO) for k, _ in PAYOUT_ROWS},
                    "plan_components": [dict(asdict(t), attainment=_ratio(t.attainment)) for t in self.plan_components
                                        if t.currency == cur],
                    "adjustments": self.adjustments.get(cur, {}),
                    "total": self.total_payout(cur),
                    "cost_of_sales_pct": self.cost_of_sales(cur),
                    "net_bookings": self.net_bookings(cur),
                }
                for cur in self.currencies
            },
            "tie_out": [asdict(t) for t in self.tie_out],
            "teams": [asdict(t) for t in self.teams],
            "reps": [dict(asdict(r), plan_components=[dict(asdict(x), attainment=_ratio(x.attainment))
                                                      for x in r.plan_components]) for r in self.reps],
            "liabilities": [asdict(x) for x in self.liabilities],
            "month_over_month": {
                "previous_period": self.previous_period,
                "previous_total": self.previous_total,
                "movers": [dict(asdict(m), change=m.change) for m in self.movers],
            },
            "payout_file": self.payout_file,
            "notes": self.notes,
            "in_currency": None if self.in_currency is None else {
                "currency": self.in_currency.currency, "as_of": self.in_currency.as_of,
                "rows": [asdict(r) for r in self.in_currency.rows],
                "total_payout": self.in_currency.total_payout,
                "total_net_bookings": self.in_currency.total_net_bookings},
        })

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """The report as titled tables of already-formatted cells (for CSV and HTML)."""
        out: list[tuple[str, list[str], list[list[str]]]] = []
        out.append(("Summary", ["item", "value"], [
            ["period", self.period], ["status", self.status],
            ["result", "ties out" if self.ok else f"{len(self.exceptions)} exception(s)"],
            *[[f"total payout {c}", _ms(self.total_payout(c))] for c in self.currencies],
            *[[f"cost of sales {c}", _pct_str(self.cost_of_sales(c))] for c in self.currencies],
        ]))
        out.append(("Exceptions", ["check", "rep_id", "deal_id", "difference", "message"], [
            [f.check, f.rep_id or "", f.deal_id or "", _ms(f.difference) if f.difference is not None else "", f.message]
            for f in self.exceptions
        ]))
        out.append(("Bookings", ["currency", "deal_type", "deals", "booked", "cancelled_deals", "cancelled_in_month",
                                 "not_credited", "changed_after_lock", "primary_credit", "overlay_credit"], [
            [b.currency, b.deal_type, str(b.deals), _ms(b.booked), str(b.cancelled_deals), _ms(b.cancelled),
             _ms(b.not_credited), _ms(b.changed_after_lock), _ms(b.credit_due), _ms(b.overlay_due)]
            for b in self.bookings
        ]))
        out.append(("Payout by component", ["currency", "component", "amount"], [
            *[[c, label, _ms(self.components.get(c, {}).get(k, ZERO))] for c in self.currencies for k, label in PAYOUT_ROWS],
            *[[c, f"  of which adjustments: {k}", _ms(v)] for c in self.currencies for k, v in sorted(self.adjustments.get(c, {}).items())],
            *[[c, "Net payout", _ms(self.total_payout(c))] for c in self.currencies],
        ]))
        if self.plan_components:
            out.append(("Plan components", ["currency", "component", "period", "reps", "quota", "credited", "attainment",
                                            "paid"], [
                [t.currency, t.component, t.period, str(t.reps), _opt_m(t.quota), _opt_m(t.credited),
                 _att_str(t.attainment), _ms(t.paid)] for t in self.plan_components
            ]))
        out.append(("Tie-out", ["source", "currency", "amount", "count", "unit"], [
            [t.source, t.currency, _ms(t.amount) if t.amount is not None else "", "" if t.count is None else str(t.count), t.unit]
            for t in self.tie_out
        ]))
        out.append(("By team", ["team", "currency", "reps", "payout", *(k for k, _ in PAYOUT_ROWS), "bookings", "cost_of_sales_pct"], [
            [t.team, t.currency, str(t.reps), _ms(t.payout), *(_ms(t.components.get(k, ZERO)) for k, _ in PAYOUT_ROWS),
             _ms(t.bookings), _pct_str(t.cost_pct)] for t in self.teams
        ]))
        out.append(("By rep", ["rep_id", "name", "team", "plan_id", "currency", "payout", "statement_net", "payout_file_row",
                               *(k for k, _ in PAYOUT_ROWS), "credited", "previous_payout", "quota"], [
            [r.rep_id, r.name, r.team, r.plan_id, r.currency, _ms(r.payout), _ms(r.statement_net),
             _ms(r.export_amount) if r.export_amount is not None else "",
             *(_ms(r.components.get(k, ZERO)) for k, _ in PAYOUT_ROWS), _ms(r.credited),
             _ms(r.previous) if r.previous is not None else "",
             _ms(r.quota) if r.quota is not None else ""] for r in self.reps
        ]))
        if self.plan_components:
            out.append(("By rep and plan component", ["rep_id", "plan_id", "component", "type", "period", "quota",
                                                      "credited", "attainment", "paid"], [
                [r.rep_id, r.plan_id, x.component, x.type, x.period, _opt_m(x.quota), _opt_m(x.credited),
                 _att_str(x.attainment), _ms(x.paid)] for r in self.reps for x in r.plan_components
            ]))
        out.append(("Liabilities", ["kind", "rep_id", "amount", "detail"], [
            [x.kind, x.rep_id, _ms(x.amount) if x.amount is not None else "", x.detail] for x in self.liabilities
        ]))
        out.append(("Month over month", ["rep_id", "name", self.previous_period, self.period, "change"], [
            [m.rep_id, m.name, _ms(m.previous), _ms(m.current), _ms(m.change)] for m in self.movers
        ]))
        if self.in_currency is not None:
            ic = self.in_currency
            out.append((f"In {ic.currency} (rates in force on {ic.as_of})",
                        ["currency", "payout", "net_bookings", "rate", "rate_date", "how", f"payout_{ic.currency}",
                         f"net_bookings_{ic.currency}"], [
                [r.currency, _ms(r.payout), _ms(r.net_bookings), r.rate, r.rate_date, r.how, _ms(r.payout_in),
                 _ms(r.net_bookings_in)] for r in ic.rows
            ] + [["total", "", "", "", "", "", _ms(ic.total_payout), _ms(ic.total_net_bookings)]]))
        out.append(("Notes", ["note"], [[n] for n in self.notes]))
        return out

    def text(self, *, max_reps: int = 40) -> str:
        """The report for people: exceptions first, then each side of the tie-out."""
        w: list[str] = []
        add = w.append
        verdict = "TIES OUT" if self.ok else f"{len(self.exceptions)} EXCEPTION(S)"
        add(f"Reconciliation {self.period} ({self.status}): {verdict}")
        if self.exceptions:
            add("")
            add("Exceptions")
            for f in self.exceptions[:MAX_DETAIL]:
                add(f"  {f}")
            if len(self.exceptions) > MAX_DETAIL:
                add(f"  ... and {len(self.exceptions) - MAX_DETAIL} more (see --json or --out report.csv)")
        for cur in self.currencies:
            add("")
            add(f"Bookings: won deals closing in {self.period} ({cur})")
            rows = [b for b in self.bookings if b.currency == cur]
            late = any(b.changed_after_lock for b in rows)
            add(f"  {'deal type':<12} {'deals':>8} {'booked':>16} {'cancelled':>14} {'no plan':>14}"
                + (f" {'changed later':>14}" if late else "") + f" {'primary credit':>16} {'overlay credit':>16}")
            for b in rows + [_total_row(cur, rows)]:
                add(f"  {b.deal_type:<12} {b.deals:>8,} {_m(b.booked):>16} {_m(b.cancelled):>14} {_m(b.not_credited):>14}"
                    + (f" {_m(b.changed_after_lock):>14}" if late else "") + f" {_m(b.credit_due):>16} {_m(b.overlay_due):>16}")
            conv_out, conv_in = sum((b.converted_out for b in rows), ZERO), sum((b.converted_in for b in rows), ZERO)
            add("  primary credit = booked - cancelled in the month - credit of receivers with no plan"
                + (" - changed after the lock (paid by late-change lines later)" if late else "")
                + (f" - credit paid in other currencies ({_m(conv_out)})" if conv_out else "")
                + (f" + credit converted from other currencies ({_m(conv_in)})" if conv_in else "")
                + "; overlay credit is paid on top")
            add("")
            add(f"Payout by component ({cur})")
            comps = self.components.get(cur, {})
            for k, label in PAYOUT_ROWS:
                add(f"  {label:<28} {_m(comps.get(k, ZERO)):>16}")
                if k == "adjustment":
                    for sub, v in sorted(self.adjustments.get(cur, {}).items()):
                        add(f"    {sub.replace('_', ' '):<26} {_m(v):>16}")
            add(f"  {'Net payout':<28} {_m(self.total_payout(cur)):>16}")
            totals = [t for t in self.plan_components if t.currency == cur]
            if totals:
                add("")
                add(f"Plan components ({cur}): what each paid, and its quota period to date")
                add(f"  {'component':<24} {'period':<9} {'reps':>6} {'quota':>16} {'credited':>16} {'attainment':>11} "
                    f"{'paid':>14}")
                for t in totals:
                    add(f"  {t.component[:24]:<24} {t.period or '-':<9} {t.reps:>6,} {_m(t.quota):>16} {_m(t.credited):>16} "
                        f"{_att_str(t.attainment):>11} {_m(t.paid):>14}")
            add("")
            add(f"Tie-out ({cur})")
            for t in (t for t in self.tie_out if t.currency == cur):
                cnt = "" if t.count is None else f"{t.count:>10,} {t.unit}"
                add(f"  {t.source:<44} {_m(t.amount) if t.amount is not None else '-':>16}  {cnt}")
        add("")
        add("By team")
        add(f"  {'team':<20} {'cur':<4} {'reps':>6} {'payout':>16} {'bookings':>18} {'cost of sales':>14}")
        for t in self.teams:
            add(f"  {t.team:<20} {t.currency:<4} {t.reps:>6,} {_m(t.payout):>16} {_m(t.bookings):>18} {_pct_str(t.cost_pct):>14}")
        add("")
        if len(self.reps) <= max_reps:
            add("By rep")
            add(f"  {'rep':<10} {'name':<22} {'team':<14} {'payout':>14} {'statement':>14} {'file row':>14}  components")
            for r in self.reps:
                parts = ", ".join(f"{label.lower()} {_m(r.components.get(k, ZERO))}" for k, label in PAYOUT_ROWS
                                  if r.components.get(k, ZERO))
                add(f"  {r.rep_id:<10} {r.name[:22]:<22} {r.team[:14]:<14} {_m(r.payout):>14} {_m(r.statement_net):>14} "
                    f"{_m(r.export_amount) if r.export_amount is not None else '-':>14}  {parts}")
                if _by_component(r):
                    for x in r.plan_components:
                        measured = (f"quota {_m(x.quota)}, credited {_m(x.credited)}, attainment {_att_str(x.attainment)}; "
                                    if x.quota is not None else "")
                        add(f"    {x.component} ({x.period or 'not measured'}): {measured}paid {_m(x.paid)}")
        else:
            add(f"By rep: {len(self.reps):,} reps (see --json or --out report.csv)")
        add("")
        add("Liabilities")
        for kind, label in (("draw", "draw balances outstanding"), ("carry", "negative balances carried (clawbacks not yet recovered)"),
                            ("dispute", "open disputes, amounts claimed")):
            items = [x for x in self.liabilities if x.kind == kind]
            add(f"  {label:<56} {len(items):>6,}  {_m(self.liabilities_total(kind)):>14}")
            for x in items[:10]:
                add(f"    {x.rep_id:<10} {_m(x.amount) if x.amount is not None else '-':>14}  {x.detail}")
            if len(items) > 10:
                add(f"    ... and {len(items) - 10:,} more")
        add("")
        add("Month over month")
        for cur in self.currencies:
            prev = self.previous_total.get(cur)
            now = self.total_payout(cur)
            if prev is None:
                add(f"  {cur}: no payout in {self.previous_period}; {self.period} pays {_m(now)}")
            else:
                chg = now - prev
                add(f"  {cur}: {self.previous_period} {_m(prev)} -> {self.period} {_m(now)}: {'+' if chg >= 0 else ''}{_m(chg)}"
                    + (f" ({'+' if chg >= 0 else ''}{_pct_str(_pct(chg, prev))})" if prev else ""))
        if self.movers:
            add("  reps who moved most:")
            for m in self.movers:
                add(f"    {m.rep_id:<10} {m.name[:22]:<22} {_m(m.previous):>14} -> {_m(m.current):>14}  "
                    f"{'+' if m.change >= 0 else ''}{_m(m.change)}")
        if self.in_currency is not None:
            ic = self.in_currency
            add("")
            add(f"In {ic.currency}: each currency at the rate in force on {ic.as_of} (reporting only; reps are paid "
                "in their plan's currency)")
            add(f"  {'cur':<4} {'payout':>16} {'net bookings':>18}  {'rate':<24} {'from':<11} "
                f"{'payout ' + ic.currency:>18} {'bookings ' + ic.currency:>20}")
            for x in ic.rows:
                add(f"  {x.currency:<4} {_m(x.payout):>16} {_m(x.net_bookings):>18}  {x.rate[:24]:<24} {x.rate_date:<11} "
                    f"{_m(x.payout_in):>18} {_m(x.net_bookings_in):>20}")
            add(f"  {'total':<4} {'':>16} {'':>18}  {'':<24} {'':<11} {_m(ic.total_payout):>18} "
                f"{_m(ic.total_net_bookings):>20}")
        add("")
        add("Cost of sales (payout as a percent of net bookings)")
        for cur in self.currencies:
            add(f"  {cur}: {_m(self.total_payout(cur))} / {_m(self.net_bookings(cur))} = {_pct_str(self.cost_of_sales(cur))}")
        if self.notes:
            add("")
            add("Notes")
            for n in self.notes[:MAX_DETAIL]:
                add(f"  {n}")
            if len(self.notes) > MAX_DETAIL:
                add(f"  ... and {len(self.notes) - MAX_DETAIL} more")
        return "\n".join(w) + "\n"


# ------------------------------------------------------------------ building it


@dataclass
class _RP:
    plan_id: str
    currency: str
    payout: Decimal
    credited: Decimal
    draw_balance: Decimal
    carry_balance: Decimal
    quota: Decimal
    parts: list[ComponentMeasure]  # rep_periods.parts: the plan's components' measures ([] before migration 0007)


def reconcile(session: Session, period: Period, *, payout_file: Path | str | None = None, movers: int = 10,
              progress: Callable[[str], None] | None = None, in_currency: str | None = None) -> Reconciliation:
    """Tie the month out, per currency. Raises :class:`CompErrors` only when it cannot be reconciled at all.

    ``in_currency``: also show the month in that reporting currency (:class:`InCurrency`); a currency
    of the month without a rate to it on the month's last day is an error naming the pair."""
    say = progress or (lambda _m: None)
    p = str(period)
    prow = session.get(PeriodRow, p)
    if prow is None or prow.status == "open":
        raise CompErrors(f"period {period} has not been calculated: run `compengine close run {period}` first")
    versions = json.loads(prow.plan_versions or "{}")
    plans, _ = load_plan_versions(session, versions) if versions else load_plans_latest(session)
    conn = session.connection()
    findings: list[Finding] = []
    notes: list[str] = []

    rps = {r[0]: _RP(*r[1:-1], parts_of(r[-1])) for r in session.execute(
        select(RepPeriod.rep_id, RepPeriod.plan_id, RepPeriod.currency, RepPeriod.payout, RepPeriod.credited,
               RepPeriod.draw_balance, RepPeriod.carry_balance, RepPeriod.quota, RepPeriod.parts)
        .where(RepPeriod.period == p))}
    from compengine.statements.view import plan_version_label

    notes.append("Priced with: " + "; ".join(
        f"{pid} {plan_version_label(plan)} ({plan.source.file})" for pid, plan in sorted(plans.items())))
    people = {r[0]: (r[1], r[2] or "") for r in session.execute(select(RepRow.rep_id, RepRow.name, RepRow.team))}

    say("lines by rep")
    # -- lines: per rep sum and count (the statement nets), and the commission lines' credit and base
    per_rep_lines, comm, by_component = _lines_by_rep(conn, p, plans, rps)
    say("payout rows")
    # -- the rows the export writes (components by rep)
    export: dict[str, object] = {}
    comps_by_rep: dict[str, dict[str, Decimal]]
    try:
        rows = payout_rows(session, period)
        export = {r.rep_id: r for r in rows}
        comps_by_rep = {r.rep_id: dict(r.components) for r in rows}
    except CompErrors as exc:
        findings.append(Finding("payout_file", f"the payout export refuses this month: {exc.errors[0]}"))
        comps_by_rep = _components_by_rep(conn, p)
    for rep_id in per_rep_lines.keys() - comps_by_rep.keys():
        comps_by_rep[rep_id] = _components_by_rep(conn, p, [rep_id]).get(rep_id, {})

    # -- statement nets against the ledger payout and the export rows
    _check_statements(conn, p, rps, per_rep_lines, export, findings)

    say("bookings and credit")
    # -- credit: what the deals and splits give against what the lines carry
    changed = _changed_after_lock(session, period, prow.last_event_id) if prow.status == "locked" else {}
    fx = load_fx(session, prow.last_fx_id) if prow.last_fx_id else None  # the rates the month was priced with
    bookings, expected, special, individual = _expected_credit(session, conn, period, plans, rps, changed, notes, fx)
    say("credit check")
    _check_credit(session, conn, period, rps, comm, expected, special, individual, findings, plans, by_component)

    # -- period row
    ledger_total = sum((r.payout for r in rps.values()), ZERO)
    line_count = sum(n for _, n in per_rep_lines.values())
    if prow.total_payout is not None and prow.total_payout != ledger_total:
        findings.append(Finding("period", f"{p}: the period's stored total is {_m(prow.total_payout)} but its reps are paid "
                                          f"{_m(ledger_total)}", difference=prow.total_payout - ledger_total))
    if prow.line_count != line_count:
        findings.append(Finding("period", f"{p}: the period records {prow.line_count:,} lines but {line_count:,} are stored"))
    if prow.status == "stale":
        findings.append(Finding("period", f"{p} is stale: something it depends on changed after its last close run; "
                                          f"run `compengine close run {p}` again"))
    # -- credit the close could not pay (the same exceptions gate the lock)
    unpaid = json.loads(prow.exceptions or "[]")
    if unpaid and prow.exceptions_accepted:
        notes.append(f"{len(unpaid)} exception(s) accepted at lock by {prow.locked_by or '?'}: {prow.exceptions_accepted}")
        notes.extend(f"  accepted: {e}" for e in unpaid)
    else:
        findings.extend(Finding("unpaid", e, rep_id=e.split(":", 1)[0]) for e in unpaid)
    if prow.status == "locked":
        say("seal")
        findings.extend(Finding("seal", m) for m in check_month(session, period))

    say("reps, teams, liabilities, month over month")
    # -- assemble reps
    prev_period = str(period.prev())
    prev = dict(session.execute(select(RepPeriod.rep_id, RepPeriod.payout).where(RepPeriod.period == prev_period)).all())
    prev_cur = dict(session.execute(select(RepPeriod.rep_id, RepPeriod.currency).where(RepPeriod.period == prev_period)).all())
    reps: list[RepLine] = []
    for rep_id in sorted(rps.keys() | per_rep_lines.keys()):
        rp = rps.get(rep_id)
        name, team = people.get(rep_id, ("(unknown rep)", ""))
        comps = {k: ZERO for k in COMPONENTS}
        comps.update(comps_by_rep.get(rep_id, {}))
        c = comm.get(rep_id)
        base = c.base if c else ZERO
        comps["commission_base"] = base
        comps["accelerators"] = comps["commission"] - base
        net, n = per_rep_lines.get(rep_id, (ZERO, 0))
        ex = export.get(rep_id)
        reps.append(RepLine(rep_id, name, team, rp.plan_id if rp else "", rp.currency if rp else "", rp.payout if rp else ZERO,
                            net, ex.amount if ex is not None else None, comps,  # type: ignore[attr-defined]
                            rp.credited if rp else ZERO, c.primary if c else ZERO, c.overlay if c else ZERO, n,
                            prev.get(rep_id), rp.quota if rp else None,
                            _part_lines(rp.parts if rp else [], by_component.get(rep_id, {}))))

    components: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    for r in reps:
        for k, v in r.components.items():
            components[r.currency][k] += v
    adjustments = _adjustment_split(session, p, rps, components)

    # -- tie-out: one total from each place
    tie: list[TieOut] = []
    for cur in sorted({r.currency for r in reps}):
        mine = [r for r in reps if r.currency == cur]
        tie.append(TieOut("ledger payout (rep_periods)", cur, sum((r.payout for r in mine), ZERO), len([r for r in mine if r.rep_id in rps]), "reps"))
        tie.append(TieOut("statement nets (sum of each rep's lines)", cur, sum((r.statement_net for r in mine), ZERO),
                          sum(r.lines for r in mine), "lines"))
        tie.append(TieOut("payout file rows (as the export writes them)", cur,
                          sum((r.export_amount for r in mine if r.export_amount is not None), ZERO) if export else None,
                          len([r for r in mine if r.export_amount is not None]) if export else None, "rows"))
    if len({r.currency for r in reps}) == 1 and prow.total_payout is not None:
        tie.append(TieOut("period total (periods)", reps[0].currency, prow.total_payout, prow.line_count, "lines"))
    if payout_file is not None:
        tie.extend(_check_payout_file(Path(payout_file), p, reps, findings))

    # -- teams and cost of sales
    team_book: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    for (owner, cur), amount in bookings.pop("_by_owner").items():  # type: ignore[union-attr]
        team_book[(people.get(owner, ("", ""))[1] or "(no team)", cur)] += amount
    teams_acc: dict[tuple[str, str], list[RepLine]] = defaultdict(list)
    for r in reps:
        if r.currency:
            teams_acc[(r.team or "(no team)", r.currency)].append(r)
    teams = []
    for key in sorted(teams_acc.keys() | team_book.keys()):
        members = teams_acc.get(key, [])
        tc: dict[str, Decimal] = defaultdict(lambda: ZERO)
        for r in members:
            for k, v in r.components.items():
                tc[k] += v
        payout = sum((r.payout for r in members), ZERO)
        teams.append(TeamLine(key[0], key[1], len(members), payout, dict(tc), team_book.get(key, ZERO), _pct(payout, team_book.get(key, ZERO))))

    # -- liabilities
    liabilities: list[Liability] = []
    for rep_id, rp in sorted(rps.items()):
        if rp.draw_balance > 0:
            liabilities.append(Liability("draw", rep_id, rp.draw_balance, "draw paid, to be recovered from later earnings"))
    for rep_id, rp in sorted(rps.items()):
        if rp.carry_balance > 0:
            liabilities.append(Liability("carry", rep_id, rp.carry_balance, "negative balance carried forward, not yet recovered"))
    for d in session.scalars(select(DisputeRow).where(DisputeRow.status == "open", DisputeRow.period <= p).order_by(DisputeRow.id)):
        liabilities.append(Liability("dispute", d.rep_id, d.amount,
                                     f"dispute {d.id} ({d.period}{', ' + d.deal_id if d.deal_id else ''}): {d.reason}"))

    # -- month over month
    previous_total: dict[str, Decimal] = {}
    for rep_id, amount in prev.items():
        cur = prev_cur[rep_id]
        previous_total[cur] = previous_total.get(cur, ZERO) + amount
    moves = [Mover(r.rep_id, r.name, prev.get(r.rep_id, ZERO), r.payout) for r in reps if r.rep_id in rps]
    moves += [Mover(rep_id, people.get(rep_id, ("", ""))[0], amount, ZERO) for rep_id, amount in prev.items() if rep_id not in rps]
    moves = sorted((m for m in moves if m.change != 0), key=lambda m: (-abs(m.change), m.rep_id))[:movers]

    rec = Reconciliation(
        period=p, status=prow.status, bookings=bookings["rows"],  # type: ignore[arg-type]
        components={c: dict(v) for c, v in components.items()}, adjustments=adjustments, tie_out=tie, teams=teams,
        reps=reps, liabilities=liabilities, previous_period=prev_period, previous_total=previous_total, movers=moves,
        exceptions=findings, notes=notes, payout_file=str(payout_file) if payout_file is not None else None,
        plan_components=_component_totals(reps),
    )
    if in_currency is not None:
        rec.in_currency = _in_currency(session, rec, period, in_currency, plans)
    return rec


def _in_currency(session: Session, rec: Reconciliation, period: Period, target: str,
                 plans: dict[str, Plan]) -> InCurrency:
    """The month's totals per currency in ``target`` (see :class:`InCurrency`)."""
    try:
        check_code(target)
    except ValueError as exc:
        raise CompErrors(f"--in: {exc}") from None
    fx = load_fx(session) or FxRates()
    base = next((pl.fx.base for _, pl in sorted(plans.items()) if pl.fx.base), None)
    day = period.end
    rows = []
    for cur in rec.currencies:
        if not cur:
            continue
        payout, bookings = rec.total_payout(cur), rec.net_bookings(cur)
        try:
            pay = fx.convert(payout, cur, target, day, "half_up", base)
            book = fx.convert(bookings, cur, target, day, "half_up", base)
        except MissingRate as exc:
            raise CompErrors(f"--in {target}: {exc}: import the rate (fx_rates.csv) to show {period} in {target}") from None
        q = pay.quote
        rows.append(InCurrencyRow(cur, payout, bookings, q.text, q.when, q.how, pay.converted.amount,
                                  book.converted.amount))
    return InCurrency(target, str(day), rows)


# ------------------------------------------------------------------ the pieces


@dataclass
class _Comm:
    lines: int
    amount: Decimal
    primary: Decimal
    overlay: Decimal
    base: Decimal
    prints: int = 0  # sum of credit (thousandths) x deal fingerprint, see _fingerprint


# A deal fingerprint: a number below 32**3 from the last three characters of its id, the same in Python,
# SQLite and PostgreSQL. Summing credit (stored thousandths) x fingerprint per rep, on the lines and on the deals,
# checks that each rep's credit sits on the right deals without grouping a million lines by deal; a
# difference is then traced deal by deal. (The sums stay inside 64-bit integers up to about 2.8 trillion
# of credit per rep and month: 280 billion since money is stored in thousandths.)
PRINT_CHARS, PRINT_MOD, PRINT_BASE = 3, 31, 32


def _fingerprint(deal_id: str | None) -> int:
    if not deal_id:
        return 0
    # the k-th character from the end; the first character when the id is shorter (as SQL's substr/right)
    return sum((ord(deal_id[-k:][0]) % PRINT_MOD) * PRINT_BASE ** (k - 1) for k in range(1, PRINT_CHARS + 1))


def _fingerprint_sql(col: str, dialect: str) -> str:
    def char(k: int) -> str:
        return f"unicode(substr({col}, -{k}))" if dialect == "sqlite" else f"ascii(right({col}, {k}))"
    return "(" + " + ".join(f"({char(k)} % {PRINT_MOD}) * {PRINT_BASE ** (k - 1)}" for k in range(1, PRINT_CHARS + 1)) + ")"


def _print_sql(credit_sql: str, deal_col: str, dialect: str) -> str:
    """SQL for credit (stored thousandths) x fingerprint, as :func:`_prints`."""
    return f"({credit_sql}) * {_fingerprint_sql(deal_col, dialect)}"


def _prints(credit: Decimal, deal_id: str | None) -> int:
    return int(credit * 1000) * _fingerprint(deal_id)  # credit as stored: thousandths


def _components_by_rep(conn, p: str, rep_ids: list[str] | None = None) -> dict[str, dict[str, Decimal]]:  # noqa: ANN001
    out: dict[str, dict[str, Decimal]] = defaultdict(lambda: {k: ZERO for k in COMPONENTS})
    sql = "SELECT rep_id, kind, SUM(amount) FROM payout_lines WHERE period = :p"
    params: dict = {"p": p}
    if rep_ids is not None:
        sql += " AND rep_id IN :reps"
    stmt = text(sql + " GROUP BY rep_id, kind")
    if rep_ids is not None:
        stmt = stmt.bindparams(bindparam("reps", expanding=True))
        params["reps"] = rep_ids
    for rep_id, kind, total in conn.execute(stmt, params):
        out[rep_id][kind] = out[rep_id].get(kind, ZERO) + from_thousandths(total or 0)
    return dict(out)


def _scaled(x: Decimal) -> tuple[int, int]:
    """``x`` as an integer over a power of ten: (n, d) with x == n / d exactly."""
    exp = max(-x.as_tuple().exponent, 0)  # type: ignore[operator]
    d = 10 ** exp
    return int(x * d), d


def _half_up_sql(col: str, n: int, d: int) -> str:
    """SQL for round_half_up(col x n / d) in integers, the same on SQLite and PostgreSQL."""
    return (f"(CASE WHEN {col} >= 0 THEN (2 * {col} * {n} + {d}) / {2 * d} "
            f"ELSE -((2 * (-{col}) * {n} + {d}) / {2 * d}) END)")


def _lines_by_component(conn, p: str) -> dict[str, dict[str, tuple[Decimal, Decimal]]]:  # noqa: ANN001
    """rep -> component -> (the amount of the month's lines that name it, the credit on its commission lines),
    for a month whose lines name a component none of its plans has (else :func:`_lines_by_rep` sums them)."""
    out: dict[str, dict[str, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for rep_id, component, amount, credit in conn.execute(text(
        "SELECT rep_id, component, SUM(amount), SUM(credit) FILTER (WHERE kind = 'commission') FROM payout_lines "
        "WHERE period = :p AND component IS NOT NULL GROUP BY rep_id, component"), {"p": p}):
        out[rep_id][component] = (from_thousandths(amount or 0), from_thousandths(credit or 0))
    return dict(out)


def _part_lines(parts: list[ComponentMeasure], lines: dict[str, tuple[Decimal, Decimal]]) -> list[PartLine]:
    """The rep's components in the plan's order (as stored), each with what its lines paid; then any component
    only lines name (a v1 cap line names "commission" too, but a plan with components has no such component)."""
    out = [PartLine(m.component, m.type, m.period, m.quota, m.credited, m.attainment, lines.get(m.component, (ZERO,))[0])
           for m in parts]
    named = {m.component for m in parts}
    out += [PartLine(c, "", "", None, None, None, paid) for c, (paid, _credit) in sorted(lines.items()) if c not in named]
    return out


def _component_totals(reps: list[RepLine]) -> list[ComponentTotal]:
    """The month's components by currency, component and quota period, in the order the reps' plans list them
    (reps by id); components only lines name last."""
    acc: dict[tuple[str, str, str], ComponentTotal] = {}
    for r in reps:
        for x in r.plan_components:
            key = (r.currency, x.component, x.period)
            t = acc.get(key)
            if t is None:
                t = acc[key] = ComponentTotal(r.currency, x.component, x.period, 0, None, None, None, ZERO)
            t.reps += 1
            t.paid += x.paid
            if x.quota is not None:
                t.quota = (t.quota or ZERO) + x.quota
                t.credited = (t.credited or ZERO) + (x.credited or ZERO)
    for t in acc.values():
        if t.quota:
            t.attainment = CONTEXT.divide(t.credited or ZERO, t.quota).quantize(Decimal("0.0001"), context=CONTEXT)
    return sorted(acc.values(), key=lambda t: (t.currency, t.period == ""))  # stable: first seen first


def _lines_by_rep(conn, p: str, plans: dict[str, Plan], rps: dict[str, _RP]  # noqa: ANN001
                  ) -> tuple[dict[str, tuple[Decimal, int]], dict[str, _Comm], dict[str, dict[str, tuple[Decimal, Decimal]]]]:
    """One pass over the month's lines, by rep: the sum and count of all lines (the statement net); of the
    commission lines, their amount, primary and overlay credit, deal fingerprints and base; and by component
    (rep -> component -> the amount of the lines that name it, the credit on its commission lines).

    The components are those of the month's plans (and ``commission``, a v1 plan's), summed in the same pass
    (a second GROUP BY by rep and component sorted the month's lines again: 1.2 s of the million month); a
    line naming any other component sends the month to :func:`_lines_by_component`.

    The base is each commission line's stored ``base`` (credit x rate, rounded once by the engine). A line
    stored without one (before migration 0007) has it worked out here: a line without a rate (a flat amount)
    is all base, as on the statements; else credit x rate rounded half up, and for plans that round
    half-even the exact half cents are corrected."""
    rates = sorted({f"{r:f}" for plan in plans.values() for r in plan.rates.values()})
    known = sorted({"commission"} | {c.id for plan in plans.values() for c in plan.parts()})
    comp_params = {f"c{i}": c for i, c in enumerate(known)}
    comp_sums = "".join(f", SUM(amount) FILTER (WHERE component = :c{i}), "
                        f"SUM(credit) FILTER (WHERE component = :c{i} AND kind = 'commission')" for i in range(len(known)))
    strays = f"COUNT(*) FILTER (WHERE component NOT IN ({', '.join(':' + k for k in comp_params)}))"
    even_plans = sorted(plan_id for plan_id, plan in plans.items() if plan.rounding != "half_up")
    old = UNBASED_LINES  # lines stored before lines carried their base
    # one seek of the partial index ix_payout_lines_unbased (migration 0010), which holds only such lines
    has_old = conn.execute(text(f"SELECT 1 FROM payout_lines WHERE period = :p AND {old} LIMIT 1"),
                           {"p": p}).first() is not None

    def run(rates: list[str]) -> tuple[dict[str, tuple[Decimal, int]], dict[str, _Comm], dict, int, int]:
        base_whens, tie_whens = [], []
        params: dict = {"p": p, **comp_params}
        for i, r in enumerate(rates):
            n, d = _scaled(Decimal(r))
            # these old lines were priced in cents (credit / 10 of the stored thousandths is exact): the cents
            # of credit x rate rounded half up, stored as thousandths
            base_whens.append(f"WHEN rate = :r{i} THEN 10 * {_half_up_sql('(credit / 10)', n, d)}")
            # half-even differs from half up on an exact half cent with an even quotient: one cent toward zero
            tie_whens.append(f"WHEN rate = :r{i} AND 2 * ((ABS(credit / 10) * {n}) % {d}) = {d} "
                             f"AND ((ABS(credit / 10) * {n}) / {d}) % 2 = 0 "
                             "THEN (CASE WHEN credit < 0 THEN 10 ELSE -10 END)")
            params[f"r{i}"] = r
        worked = f"(CASE WHEN rate IS NULL THEN amount {' '.join(base_whens)} ELSE NULL END)"
        known_rates = ", ".join(f":r{i}" for i in range(len(rates))) or "NULL"
        prints = _print_sql("credit", "deal_id", conn.dialect.name)
        comm_only = "FILTER (WHERE kind = 'commission')"
        if has_old and even_plans and tie_whens:  # only the old lines of reps on half-even plans
            ties = (f"SUM(CASE {' '.join(tie_whens)} ELSE 0 END) FILTER (WHERE {old} AND rep_id IN "
                    "(SELECT rep_id FROM rep_periods WHERE period = :p AND plan_id IN :even))")
            params["even"] = even_plans
        else:
            ties = "0"
        if has_old:
            olds = (f"SUM({worked}) FILTER (WHERE {old}), COUNT(*) FILTER (WHERE {old} AND rate IS NOT NULL), "
                    f"COUNT(*) FILTER (WHERE {old} AND rate IN ({known_rates})), ")
        else:  # no line of the month lacks its base: the old-line aggregates are 0 without reading a row for them
            olds = "0, 0, 0, "
        sql = (f"SELECT rep_id, COUNT(*), SUM(amount), COUNT(*) {comm_only}, SUM(amount) {comm_only}, "
               f"SUM(credit) FILTER (WHERE kind = 'commission' AND role = 'overlay'), SUM(credit) {comm_only}, "
               f"SUM(base) {comm_only}, {olds}"
               f"SUM({prints}) {comm_only}, {ties}, {strays}{comp_sums} "
               f"FROM payout_lines WHERE period = :p GROUP BY rep_id")
        stmt = text(sql).bindparams(bindparam("even", expanding=True)) if "even" in params else text(sql)
        nets, comm, unknown, stray = {}, {}, 0, 0
        by_component: dict[str, dict[str, tuple[Decimal, Decimal]]] = {}
        for rep_id, n, total, nc, amount, over, credit, stored, base_c, rated, based, fp, tie, odd, *sums in conn.execute(stmt, params):
            nets[rep_id] = (from_thousandths(total or 0), n)
            stray += odd
            parts = {c: (from_thousandths(sums[2 * i]), from_thousandths(sums[2 * i + 1] or 0))
                     for i, c in enumerate(known) if sums[2 * i] is not None}  # amount NULL: no line names it
            if parts:
                by_component[rep_id] = parts
            if nc:
                over, credit = from_thousandths(over or 0), from_thousandths(credit or 0)
                rp = rps.get(rep_id)
                plan = plans.get(rp.plan_id) if rp else None
                if plan is not None and plan.rounding != "half_up":
                    base_c = (base_c or 0) + (tie or 0)
                comm[rep_id] = _Comm(nc, from_thousandths(amount or 0), credit - over, over,
                                     from_thousandths((stored or 0) + (base_c or 0)), int(fp or 0))
                unknown += (rated or 0) - (based or 0)
        return nets, comm, by_component, unknown, stray

    nets, comm, by_component, unknown, stray = run(rates)
    if unknown:  # an old line with a rate no plan of the month has: read the rates the old lines carry and go again
        found = [r for (r,) in conn.execute(text(f"SELECT DISTINCT rate FROM payout_lines WHERE period = :p AND {old} "
                                                 "AND rate IS NOT NULL"), {"p": p})]
        nets, comm, by_component, _, stray = run(sorted(set(found)))
    if stray:
        by_component = _lines_by_component(conn, p)
    return nets, comm, by_component


def _check_statements(conn, p: str, rps: dict[str, _RP], per_rep_lines: dict[str, tuple[Decimal, int]],  # noqa: ANN001
                      export: dict, findings: list[Finding]) -> None:
    bad: list[str] = []
    for rep_id in sorted(rps.keys() | per_rep_lines.keys()):
        rp = rps.get(rep_id)
        net, n = per_rep_lines.get(rep_id, (ZERO, 0))
        if rp is None:
            findings.append(Finding("lines", f"{rep_id}: {n:,} line(s) totalling {_m(net)} but no rep_periods row in {p}: "
                                             "no statement and no payout row shows them", rep_id=rep_id, difference=net))
            continue
        if net != rp.payout:
            bad.append(rep_id)
        ex = export.get(rep_id)
        if export and ex is None:
            findings.append(Finding("payout_file", f"{rep_id}: paid {_m(rp.payout)} in the ledger but has no payout file row",
                                    rep_id=rep_id, difference=rp.payout))
        elif ex is not None and ex.amount != rp.payout:
            findings.append(Finding("payout_file", f"{rep_id}: the payout file row says {_m(ex.amount)}, the ledger pays {_m(rp.payout)}",
                                    rep_id=rep_id, difference=ex.amount - rp.payout))
    # trace each difference to its line
    for chunk in _chunks(bad, 500):
        lines: dict[str, list] = defaultdict(list)
        stmt = text("SELECT rep_id, seq, kind, amount, deal_id, credit, rate, multiplier FROM payout_lines "
                    "WHERE period = :p AND rep_id IN :reps ORDER BY rep_id, seq").bindparams(bindparam("reps", expanding=True))
        for row in conn.execute(stmt, {"p": p, "reps": chunk}):
            lines[row[0]].append(row)
        for rep_id in chunk:
            net, _ = per_rep_lines[rep_id]
            diff = net - rps[rep_id].payout
            culprits = []
            for _, seq, kind, amount, deal_id, credit, rate, mult in lines.get(rep_id, ()):
                if kind != "commission" or credit is None or rate is None or mult is None:
                    continue
                exact = CONTEXT.multiply(CONTEXT.multiply(from_thousandths(credit), Decimal(rate)), Decimal(mult))
                if abs(from_thousandths(amount) - exact) > Decimal("0.005"):
                    culprits.append((seq, deal_id, from_thousandths(amount), exact))
            where = ""
            if culprits:
                seq, deal_id, amount, exact = culprits[0]
                where = (f"; line {seq} on {deal_id} pays {_m(amount)} but its credit x rate x multiplier is "
                         f"{_m(round_money(exact))}")
            findings.append(Finding("statement", f"{rep_id}: the statement net (sum of its lines) is {_m(net)} but the ledger "
                                                 f"pays {_m(rps[rep_id].payout)}{where}",
                                    rep_id=rep_id, deal_id=culprits[0][1] if culprits else None, difference=diff))


def _expected_credit(session: Session, conn, period: Period, plans: dict[str, Plan], rps: dict[str, _RP],  # noqa: ANN001
                     changed: dict[str, str], notes: list[str], fx: FxRates | None = None
                     ) -> tuple[dict, dict[str, list[Decimal]], dict[str, list[tuple[str, str, Decimal]]], set[str]]:
    """Bookings by type and the credit each rep's lines must carry ([primary, overlay]), as the engine's
    :func:`credit_deals` gives it. Set-wise for the common cases (a deal's owner takes 100%; an overlay
    takes amount x percent, rounded half up); one by one, with ``credit_deals`` itself, for deals with
    primary splits and deals cancelled in their close month. A locked month's deals that ``changed``
    after the lock are taken at the credit their locked lines carry (the late-change lines of a later
    month pay the difference). With exchange rates (``fx``: those the month was priced with), a deal paid
    in another currency than its own (a receiver's plan currency differs) is credited one by one too,
    converted with the engine's :class:`~compengine.engine.pipeline.FxCredits`, as the close converted it.
    Also returns the one-by-one credits by receiver and those deals' ids (to trace differences)."""
    p = str(period)
    rows: dict[tuple[str, str], BookingRow] = {}
    expected: dict[str, list] = defaultdict(lambda: [ZERO, ZERO, 0])  # primary, overlay, fingerprint sum
    special: dict[str, list[tuple[str, str, Decimal]]] = defaultdict(list)  # rep -> (deal, role, credit)
    by_owner: dict[tuple[str, str], Decimal] = defaultdict(lambda: ZERO)
    uncredited: dict[tuple[str, str], Decimal] = {}  # (rep, why) -> credit not paid
    currency_of = {rep_id: rp.currency for rep_id, rp in rps.items()}

    def row(cur: str, deal_type: str) -> BookingRow:
        key = (cur, deal_type)
        b = rows.get(key)
        if b is None:
            b = rows[key] = BookingRow(cur, deal_type)
        return b

    def receive(rep_id: str, cur: str, deal_type: str, credit: Decimal, idx: int, prints: int) -> bool:
        """Credit a receiver (``prints``: see :func:`_prints`); False (and listed apart) when it has no plan
        this month in that currency."""
        if currency_of.get(rep_id) != cur:
            why = "no plan in the month" if rep_id not in currency_of else f"plan pays {currency_of[rep_id]}"
            if idx == 0:
                row(cur, deal_type).not_credited += credit
            uncredited[(rep_id, why)] = uncredited.get((rep_id, why), ZERO) + credit
            return False
        e = expected[rep_id]
        e[idx] += credit
        e[2] += prints
        b = row(cur, deal_type)
        if idx == 0:
            b.credit_due += credit
        else:
            b.overlay_due += credit
        return True

    # deals some receiver is paid for in another currency (converted): one by one (below)
    foreign: set[str] = set()
    if fx is not None:
        foreign = {d for (d,) in conn.execute(text(
            "SELECT d.deal_id FROM deals d JOIN rep_periods rp ON rp.period = :p AND rp.rep_id = d.owner_id "
            "WHERE d.close_period = :p AND rp.currency <> d.currency "
            "UNION SELECT d.deal_id FROM splits s JOIN deals d ON d.deal_id = s.deal_id "
            "JOIN rep_periods rp ON rp.period = :p AND rp.rep_id = s.rep_id "
            "WHERE d.close_period = :p AND s.superseded_at IS NULL AND rp.currency <> d.currency"), {"p": p})}

    # every deal of the month, credited to its owner (the default without primary splits)
    for owner, deal_type, cur, n, amount, fp in conn.execute(
        text(f"SELECT owner_id, deal_type, currency, COUNT(*), SUM(amount), SUM({_print_sql('amount', 'deal_id', conn.dialect.name)}) "
             "FROM deals WHERE close_period = :p GROUP BY owner_id, deal_type, currency"), {"p": p}
    ):
        amount = from_thousandths(amount or 0)
        b = row(cur, deal_type)
        b.deals += n
        b.booked += amount
        by_owner[(owner, cur)] += amount
        receive(owner, cur, deal_type, amount, 0, int(fp or 0))

    # overlays of deals not cancelled in the month: amount x percent, rounded half up, per split
    cancelled_in_month = "(d.cancelled_on IS NOT NULL AND d.cancelled_on <= :end)"
    pcts = [v for (v,) in conn.execute(text("SELECT DISTINCT split_pct FROM splits WHERE superseded_at IS NULL AND role = 'overlay'"))]
    if pcts:
        whens = []
        params: dict = {"p": p, "end": period.end}
        for i, pct in enumerate(sorted(pcts)):
            n, d = _scaled(Decimal(pct))
            # amount (thousandths) x pct / 100, rounded half up to cents as credit_deals rounds, as thousandths
            whens.append(f"WHEN s.split_pct = :o{i} THEN 10 * {_half_up_sql('d.amount', n, 1000 * d)}")
            params[f"o{i}"] = pct
        one_by_one = set(changed) | foreign  # their overlays are credited one by one
        not_changed = " AND d.deal_id NOT IN :changed" if one_by_one else ""
        credit_sql = f"(CASE {' '.join(whens)} END)"
        stmt = text(f"SELECT s.rep_id, d.currency, d.deal_type, SUM({credit_sql}), "
                    f"SUM({_print_sql(credit_sql, 'd.deal_id', conn.dialect.name)}) "
                    "FROM splits s JOIN deals d ON d.deal_id = s.deal_id "
                    f"WHERE d.close_period = :p AND s.superseded_at IS NULL AND s.role = 'overlay' AND NOT {cancelled_in_month}"
                    f"{not_changed} GROUP BY s.rep_id, d.currency, d.deal_type").bindparams(bindparam("end", type_=Date))
        if one_by_one:
            stmt = stmt.bindparams(bindparam("changed", expanding=True))
            params["changed"] = sorted(one_by_one)
        for rep_id, cur, deal_type, credit, fp in conn.execute(stmt, params):
            receive(rep_id, cur, deal_type, from_thousandths(credit or 0), 1, int(fp or 0))

    # deals with primary splits, and deals cancelled in their close month: one by one
    deals: dict[str, Deal] = {}
    splits: dict[str, list[Split]] = defaultdict(list)
    as_date = _date_reader(conn.dialect.name)
    columns = ("SELECT d.deal_id, d.amount, d.currency, d.deal_type, d.close_date, d.cancelled_on, d.owner_id, s.rep_id, "
               "s.split_pct, s.role ")
    with_splits = " LEFT JOIN splits s ON s.deal_id = d.deal_id AND s.superseded_at IS NULL "
    split_deals = text(
        columns + "FROM (SELECT DISTINCT deal_id FROM splits WHERE superseded_at IS NULL AND role = 'primary') sd "
        "JOIN deals d ON d.deal_id = sd.deal_id" + with_splits + "WHERE d.close_period = :p ORDER BY d.deal_id, s.id")
    cancelled_deals_q = text(
        columns + "FROM deals d" + with_splits + f"WHERE d.close_period = :p AND {cancelled_in_month} ORDER BY d.deal_id, s.id"
    ).bindparams(bindparam("end", type_=Date))

    def read(rows: Iterable, skip: set[str]) -> None:
        for deal_id, amount, cur, deal_type, close, cancelled, owner, rep_id, pct, role in rows:
            if deal_id in skip:
                continue  # a split deal cancelled in the month: read once
            if deal_id not in deals:
                deals[deal_id] = Deal(deal_id, "", deal_type, from_thousandths(amount), cur, as_date(close), owner,
                                      cancelled_on=as_date(cancelled) if cancelled is not None else None)
            if rep_id is not None:
                splits[deal_id].append(Split(deal_id, rep_id, Decimal(pct), role))

    read(conn.execute(split_deals, {"p": p}), set())
    read(conn.execute(cancelled_deals_q, {"p": p, "end": period.end}), set(deals))
    changed_q = text(columns + "FROM deals d" + with_splits + "WHERE d.deal_id IN :ids ORDER BY d.deal_id, s.id"
                     ).bindparams(bindparam("ids", expanding=True))
    for chunk in _chunks(sorted((set(changed) | foreign) - set(deals)), 500):
        read(conn.execute(changed_q, {"ids": chunk}), set(deals))
    for d in deals.values():
        receive(d.owner_id, d.currency, d.deal_type, -d.amount, 0, _prints(-d.amount, d.deal_id))  # undo the owner default
    end = period.end
    cancelled_deals: set[str] = set()
    one_credits = credit_deals([deals[k] for k in sorted(deals)], splits)
    conv = FxCredits(fx, one_credits) if fx is not None else None
    for c in one_credits:
        in_month = c.cancelled_on is not None and c.cancelled_on <= end
        if c.role == "overlay" and (c.deal_id in changed or (not in_month and c.deal_id not in foreign)):
            continue  # counted with the other overlays, or taken from the locked lines below
        rp = rps.get(c.rep_id)
        plan = plans.get(rp.plan_id) if rp else None
        if (in_month and plan is not None and (plan.currency == c.currency or conv is not None)
                and plan.clawback_applies(c.close_date, c.cancelled_on)):
            if c.role == "primary":
                row(c.currency, c.deal_type).cancelled += c.credit
                cancelled_deals.add(c.deal_id)
            continue
        # the credit in the receiver's plan currency: converted as the close converts it (no rate: not paid)
        cur, credit = c.currency, c.credit
        if conv is not None and plan is not None and plan.currency != c.currency:
            converted, _why = conv.convert(c, plan)
            if converted is not None:
                cur, credit = plan.currency, converted.credit
                if c.role == "primary" and c.deal_id not in changed:
                    row(c.currency, c.deal_type).converted_out += c.credit
                    row(cur, c.deal_type).converted_in += credit
        if c.deal_id in changed:
            if currency_of.get(c.rep_id) == cur:
                row(cur, c.deal_type).changed_after_lock += credit  # due now; the locked lines' credit comes off below
            else:
                receive(c.rep_id, cur, c.deal_type, credit, 0, 0)  # listed apart, not credited
            continue
        if receive(c.rep_id, cur, c.deal_type, credit, 0 if c.role == "primary" else 1, _prints(credit, c.deal_id)):
            special[c.rep_id].append((c.deal_id, c.role, credit))
    # deals changed after the lock: the credit their locked lines carry
    for chunk in _chunks(sorted(changed), 500):
        stmt = text("SELECT rep_id, deal_id, role, SUM(credit) FROM payout_lines WHERE period = :p AND kind = 'commission' "
                    "AND deal_id IN :ids GROUP BY rep_id, deal_id, role").bindparams(bindparam("ids", expanding=True))
        for rep_id, deal_id, role, credit in conn.execute(stmt, {"p": p, "ids": chunk}):
            d = deals[deal_id]
            credit = from_thousandths(credit or 0)
            idx = 1 if role == "overlay" else 0
            b = row(currency_of.get(rep_id, d.currency), d.deal_type)  # the lines' credit is in the plan's currency
            e = expected[rep_id]
            e[idx] += credit
            e[2] += _prints(credit, deal_id)
            if idx == 0:
                b.credit_due += credit
                b.changed_after_lock -= credit
            else:
                b.overlay_due += credit
            special[rep_id].append((deal_id, "overlay" if idx else "primary", credit))
    for deal_id in sorted(changed)[:MAX_DETAIL]:
        paid = conn.execute(
            text("SELECT period, rep_id, SUM(amount) FROM payout_lines WHERE deal_id = :d AND ref_period = :p AND kind = 'adjustment' "
                 "AND rule LIKE 'late_change.%' GROUP BY period, rep_id ORDER BY period, rep_id"), {"d": deal_id, "p": p}).all()
        where = "; ".join(f"{r} {_m(from_thousandths(a or 0))} in {q}" for q, r, a in paid) or "no late-change line yet (run the next open month)"
        notes.append(f"{deal_id} changed after {p} was locked ({changed[deal_id]}): the locked lines keep the credit of the lock; "
                     f"late-change lines pay the difference: {where}")
    for deal_id in cancelled_deals:
        row(deals[deal_id].currency, deals[deal_id].deal_type).cancelled_deals += 1

    for (rep_id, why), amount in sorted(uncredited.items()):
        if amount:
            notes.append(f"{rep_id}: credit {_m(amount)} on deals of {p} not paid: {why}")
    result = {"rows": [rows[k] for k in sorted(rows)], "_by_owner": dict(by_owner)}
    return result, dict(expected), dict(special), set(deals)


def _check_credit(session: Session, conn, period: Period, rps: dict[str, _RP], comm: dict[str, _Comm],  # noqa: ANN001
                  expected: dict[str, list[Decimal]], special: dict[str, list[tuple[str, str, Decimal]]],
                  individual: set[str], findings: list[Finding], plans: dict[str, Plan],
                  by_component: dict[str, dict[str, tuple[Decimal, Decimal]]]) -> None:
    p = str(period)
    off: list[str] = []
    by_parts: set[str] = set()  # reps on a plan with components: checked deal by deal and component by component
    for rep_id in sorted(rps.keys() | comm.keys() | expected.keys()):
        rp = rps.get(rep_id)
        plan = plans.get(rp.plan_id) if rp is not None else None
        if rp is not None and plan is not None and plan.v2 and rp.parts:
            # a deal counted by two components has two sets of lines, and a margin or quantity component's lines
            # carry no credit: the rep's line total is not its deals' credit, so each component is traced alone
            _check_component_credit(rep_id, rp, plan, by_component.get(rep_id, {}), findings)
            by_parts.add(rep_id)
            off.append(rep_id)
            continue
        c = comm.get(rep_id)
        have = (c.primary, c.overlay, c.prints) if c else (ZERO, ZERO, 0)
        want = tuple(expected.get(rep_id, (ZERO, ZERO, 0)))
        if have != want:
            off.append(rep_id)
        lines_credit = (c.primary + c.overlay) if c else ZERO
        if rp is not None and rp.credited != lines_credit:
            findings.append(Finding("credited", f"{rep_id}: rep_periods.credited is {_m(rp.credited)} but its commission lines "
                                                f"carry {_m(lines_credit)} of credit", rep_id=rep_id,
                                    difference=lines_credit - rp.credited))
    if not off:
        return
    # trace each difference to its deals: the rep's lines by deal against its deals and splits
    special_ids = individual
    end = period.end
    as_date = _date_reader(conn.dialect.name)
    for chunk in _chunks(off, 500):
        have: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
        # (rep, deal, role) -> component -> credit its lines carry, for reps on plans with components
        have_parts: dict[tuple[str, str, str], dict[str, Decimal]] = defaultdict(dict)
        stmt = text("SELECT rep_id, deal_id, role, component, SUM(credit), COUNT(credit) FROM payout_lines WHERE period = :p "
                    "AND kind = 'commission' AND rep_id IN :reps GROUP BY rep_id, deal_id, role, component"
                    ).bindparams(bindparam("reps", expanding=True))
        for rep_id, deal_id, role, component, credit, n in conn.execute(stmt, {"p": p, "reps": chunk}):
            key = (rep_id, deal_id or "", "overlay" if role == "overlay" else "primary")
            if rep_id in by_parts:
                if n:  # lines on a margin or quantity base carry no credit
                    parts = have_parts[key]
                    parts[component or ""] = parts.get(component or "", ZERO) + from_thousandths(credit or 0)
            else:
                have[key] += from_thousandths(credit or 0)
        want: dict[tuple[str, str, str], Decimal] = defaultdict(lambda: ZERO)
        stmt = text("SELECT deal_id, owner_id, amount, currency, cancelled_on FROM deals WHERE close_period = :p "
                    "AND owner_id IN :reps").bindparams(bindparam("reps", expanding=True))
        for deal_id, owner, amount, cur, cancelled in conn.execute(stmt, {"p": p, "reps": chunk}):
            rp = rps.get(owner)
            if deal_id in special_ids or rp is None or rp.currency != cur:
                continue
            if cancelled is not None and as_date(cancelled) <= end:
                continue  # credited one by one (in special) if at all
            want[(owner, deal_id, "primary")] += from_thousandths(amount)
        # overlays on deals not cancelled in the month
        stmt = text("SELECT d.deal_id, d.amount, d.currency, d.deal_type, d.close_date, d.owner_id, s.rep_id, s.split_pct "
                    "FROM splits s JOIN deals d ON d.deal_id = s.deal_id WHERE d.close_period = :p AND s.superseded_at IS NULL "
                    "AND s.role = 'overlay' AND s.rep_id IN :reps AND NOT (d.cancelled_on IS NOT NULL AND d.cancelled_on <= :end)"
                    ).bindparams(bindparam("reps", expanding=True), bindparam("end", type_=Date))
        for deal_id, amount, cur, deal_type, close, owner, rep_id, pct in conn.execute(stmt, {"p": p, "reps": chunk, "end": end}):
            rp = rps.get(rep_id)
            if rp is None or rp.currency != cur:
                continue
            deal = Deal(deal_id, "", deal_type, from_thousandths(amount), cur, as_date(close), owner)
            for c in credit_deals([deal], {deal_id: [Split(deal_id, rep_id, Decimal(pct), "overlay")]}):
                if c.role == "overlay":
                    want[(rep_id, deal_id, "overlay")] += c.credit
        for rep_id in chunk:
            for deal_id, role, credit in special.get(rep_id, ()):
                if role == "primary" or (rep_id, deal_id, "overlay") not in want:
                    want[(rep_id, deal_id, role)] += credit
        for rep_id in chunk:
            if rep_id in by_parts:
                _compare_components(rep_id, p, have_parts, want, findings)
                continue
            keys = sorted(k for k in have.keys() | want.keys() if k[0] == rep_id)
            named = False
            for key in keys:
                h, w_ = have.get(key, ZERO), want.get(key, ZERO)
                if h == w_:
                    continue
                _, deal_id, role = key
                findings.append(_credit_finding(rep_id, p, deal_id, role, "commission", h, w_))
                named = True
            if not named:
                c = comm.get(rep_id)
                h = (c.primary + c.overlay) if c else ZERO
                w_ = sum(expected.get(rep_id, (ZERO, ZERO))[:2], ZERO)
                findings.append(Finding("credit", f"{rep_id}: its commission lines carry {_m(h)} of credit, its deals give {_m(w_)}",
                                        rep_id=rep_id, difference=h - w_))


def _compare_components(rep_id: str, p: str, have_parts: dict[tuple[str, str, str], dict[str, Decimal]],
                        want: dict[tuple[str, str, str], Decimal], findings: list[Finding]) -> None:
    """A rep on a plan with components: every component whose lines carry credit on a deal carries exactly the
    credit the deal and its splits give the rep (a deal counted by two components, twice; a component on margin
    or units carries none and is not compared). A deal no component counted is the close's own exception."""
    for key in sorted(k for k in have_parts if k[0] == rep_id):
        _, deal_id, role = key
        w_ = want.get(key, ZERO)
        for component, h in sorted(have_parts[key].items()):
            if h != w_:
                findings.append(_credit_finding(rep_id, p, deal_id, role, component, h, w_))


def _credit_finding(rep_id: str, p: str, deal_id: str, role: str, lines: str, h: Decimal, w_: Decimal) -> Finding:
    """A deal's credit on a rep's ``lines`` ("commission", or a plan component's id) that is not what the deal and
    its splits give (``h`` carried, ``w_`` given)."""
    if deal_id:
        what = f"{deal_id}: {rep_id}'s {role} credit on the {lines} lines is {_m(h)}, the deal and its splits give {_m(w_)}"
        if w_ == 0:
            what += f" ({deal_id} is not a deal of {p} credited to {rep_id})"
    else:
        what = f"{rep_id}: {lines} lines without a deal carry {_m(h)} of credit"
    return Finding("credit", what, rep_id=rep_id, deal_id=deal_id or None, difference=h - w_)


def _check_component_credit(rep_id: str, rp: _RP, plan: Plan, lines: dict[str, tuple[Decimal, Decimal]],
                            findings: list[Finding]) -> None:
    """A rep on a plan with components: ``rep_periods.credited`` is its first component's credit of the quota period
    to date (as the close stored it in ``parts``), and a component measured by the month, on amounts, carries on its
    commission lines the credit it counts. (A longer period's credit includes earlier months' lines, and a margin or
    quantity base counts what lines do not carry as credit: the deal-by-deal credit check covers the others.)"""
    first = next((m for m in rp.parts if m.type == "commission"), None)
    if first is not None and rp.credited != first.credited:
        findings.append(Finding("credited", f"{rep_id}: rep_periods.credited is {_m(rp.credited)} but its first component "
                                            f"{first.component} counts {_m(first.credited)}", rep_id=rep_id,
                                difference=first.credited - rp.credited))
    for m in rp.parts:
        comp = plan.component(m.component)
        if m.type != "commission" or comp is None or comp.period != "month" or comp.base != "amount":
            continue
        carried = lines.get(m.component, (ZERO, ZERO))[1]
        if carried != m.credited:
            findings.append(Finding("credited", f"{rep_id}: component {m.component} counts {_m(m.credited)} of credit in "
                                                f"{m.period} but its commission lines carry {_m(carried)}", rep_id=rep_id,
                                    difference=carried - m.credited))


def _changed_after_lock(session: Session, period: Period, last_event_id: int | None) -> dict[str, str]:
    """Deals of a locked month amended, re-split or cancelled inside it after the lock: deal -> what changed."""
    out: dict[str, str] = {}
    for deal_id, kind, cancelled_on in session.execute(
        select(DealEvent.deal_id, DealEvent.kind, DealRow.cancelled_on).join(DealRow, DealRow.deal_id == DealEvent.deal_id)
        .where(DealRow.close_period == str(period), DealEvent.id > (last_event_id or 0),
               DealEvent.kind.in_(("amended", "splits_changed", "cancelled")))
        .order_by(DealEvent.id)
    ):
        if kind == "cancelled" and (cancelled_on is None or cancelled_on > period.end):
            continue  # cancelled in a later month: a clawback there, the month's credit stands
        what = {"amended": "amount amended", "splits_changed": "splits changed", "cancelled": "cancelled in the month"}[kind]
        out[deal_id] = what if deal_id not in out or out[deal_id] == what else f"{out[deal_id]}, {what}"
    return out


def _adjustment_split(session: Session, p: str, rps: dict[str, _RP], components: dict) -> dict[str, dict[str, Decimal]]:
    """Adjustments by origin: approved disputes, manual, and late changes (the rest of the adjustment lines)."""
    out: dict[str, dict[str, Decimal]] = {}
    typed: dict[str, dict[str, Decimal]] = defaultdict(lambda: {"dispute": ZERO, "manual": ZERO})
    for rep_id, amount, dispute_id in session.execute(
        select(AdjustmentRow.rep_id, AdjustmentRow.amount, AdjustmentRow.dispute_id).where(AdjustmentRow.period == p, AdjustmentRow.status == "approved")
    ):
        rp = rps.get(rep_id)
        if rp is None:
            continue  # not paid: the rep has no plan this month (the close reports it)
        typed[rp.currency]["dispute" if dispute_id else "manual"] += amount
    for cur, comps in components.items():
        t = typed.get(cur, {"dispute": ZERO, "manual": ZERO})
        total = comps.get("adjustment", ZERO)
        if total or t["dispute"] or t["manual"]:
            out[cur] = {"dispute": t["dispute"], "manual": t["manual"], "late_change": total - t["dispute"] - t["manual"]}
    return out


def _check_payout_file(path: Path, p: str, reps: list[RepLine], findings: list[Finding]) -> list[TieOut]:
    """Compare a payout file (as payroll received it) with the ledger, rep by rep."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            header = reader.fieldnames or []
            rows = list(reader)
    except OSError as exc:
        raise CompErrors(f"{path}: cannot read the payout file: {exc.strerror or exc}") from None
    missing_cols = [c for c in ("rep_id", "period", "currency", "amount") if c not in header]
    if missing_cols:
        raise CompErrors(f"{path}:1: not a payout file: no column {missing_cols[0]!r} (expected {', '.join(EXPORT_COLUMNS)})")
    by_rep = {r.rep_id: r for r in reps if r.currency}
    seen: set[str] = set()
    totals: dict[str, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[str, int] = defaultdict(int)
    for i, row in enumerate(rows, start=2):
        rep_id = row["rep_id"]
        try:
            amount = D(row["amount"])
        except ValueError:
            findings.append(Finding("payout_file", f"{path}:{i}: {rep_id}: amount {row['amount']!r} is not a number", rep_id=rep_id))
            continue
        totals[row["currency"]] += amount
        counts[row["currency"]] += 1
        if row["period"] != p:
            findings.append(Finding("payout_file", f"{path}:{i}: {rep_id}: the row is for {row['period']}, not {p}", rep_id=rep_id))
        r = by_rep.get(rep_id)
        if r is None:
            findings.append(Finding("payout_file", f"{path}:{i}: {rep_id} is paid {_m(amount)} by the file but not by the ledger in {p}",
                                    rep_id=rep_id, difference=amount))
            continue
        if rep_id in seen:
            findings.append(Finding("payout_file", f"{path}:{i}: {rep_id} appears twice in the file", rep_id=rep_id, difference=amount))
        seen.add(rep_id)
        if amount != r.payout:
            findings.append(Finding("payout_file", f"{path}:{i}: {rep_id}: the file pays {_m(amount)}, the ledger {_m(r.payout)}",
                                    rep_id=rep_id, difference=amount - r.payout))
        for k in COMPONENTS:
            if k in row and row[k] != "":
                try:
                    v = D(row[k])
                except ValueError:
                    v = None
                if v != r.components.get(k, ZERO):
                    findings.append(Finding("payout_file", f"{path}:{i}: {rep_id}: {k} is {row[k]} in the file, "
                                                           f"{_m(r.components.get(k, ZERO))} in the ledger", rep_id=rep_id))
    for rep_id, r in sorted(by_rep.items()):
        if rep_id not in seen:
            findings.append(Finding("payout_file", f"{path}: {rep_id} is paid {_m(r.payout)} by the ledger but has no row in the file",
                                    rep_id=rep_id, difference=-r.payout))
    return [TieOut(f"payout file {path.name}", cur, totals[cur], counts[cur], "rows") for cur in sorted(totals)]


# ------------------------------------------------------------------ small helpers


def _total_row(cur: str, rows: list[BookingRow]) -> BookingRow:
    t = BookingRow(cur, "total")
    for b in rows:
        t.deals += b.deals
        t.cancelled_deals += b.cancelled_deals
        for k in ("booked", "cancelled", "not_credited", "credit_due", "overlay_due", "changed_after_lock",
                  "converted_out", "converted_in"):
            setattr(t, k, getattr(t, k) + getattr(b, k))
    return t


def _date_reader(dialect: str):  # noqa: ANN202
    if dialect == "sqlite":
        return lambda v: date.fromisoformat(v)
    return lambda v: v


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def _pct(part: Decimal, whole: Decimal) -> Decimal | None:
    if not whole:
        return None
    return (CONTEXT.divide(part * HUNDRED, whole)).quantize(Decimal("0.01"), context=CONTEXT)


def _pct_str(x: Decimal | None) -> str:
    return "n/a" if x is None else f"{x}%"


def _m(x: Decimal | None) -> str:
    """An amount for people: two places, three when it has a third (KWD, BHD: the ledger stores thousandths)."""
    if x is None:
        return "-"
    return f"{x:,.2f}" if _cents(x) else f"{x:,.3f}"


def _cents(x: Decimal) -> bool:
    return x == x.quantize(CENT, context=CONTEXT)


def _ms(x: Decimal) -> str:
    """:func:`money_str` for amounts of any currency the ledger stores: three places when there is a third."""
    return money_str(x) if _cents(x) else f"{x.quantize(Decimal('0.001'), context=CONTEXT):f}"


def _opt_m(x: Decimal | None) -> str:
    return "" if x is None else _ms(x)


def _att_str(x: Decimal | None) -> str:
    """An attainment (a ratio, 1.0500) as a percent with two places: 105.00%."""
    return "n/a" if x is None else f"{(x * HUNDRED).quantize(Decimal('0.01'), context=CONTEXT)}%"


def _ratio(x: Decimal | None) -> str | None:
    """An attainment in JSON: the ratio as stored, "1.0500" (not a money string)."""
    return None if x is None else f"{x:f}"


def _by_component(r: RepLine) -> bool:
    """The rep's plan has components (more than a v1 plan's single "commission")."""
    return any(x.component != "commission" for x in r.plan_components)


def _jsonable(value: object) -> object:
    if isinstance(value, Decimal):
        return _ms(value) if value.as_tuple().exponent == -2 else f"{value:f}"  # type: ignore[comparison-overlap]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return value
