"""The statement view model: what a statement shows, as plain values, and how it is laid out.

Two steps, both pure (no I/O, no clock):

* :class:`StatementData` is the input: one rep's month as the engine or the
  ledger computed it (figures, payout lines, balances, year to date, disputes).
  It is built by :func:`compengine.statements.build.statement_data_from_calc`
  from files, or by the ledger from the database; both must fill it the same way.
* :func:`statement_view` turns it into a :class:`StatementView`: every label,
  percent, date and rate already written out as text, every amount an
  already-rounded cent :class:`~decimal.Decimal` (the template formats amounts
  with its one ``money`` filter, :func:`format_money`, and does no arithmetic).

The only arithmetic here is the breakdown of commission into its base and its
accelerators (``base = round(credit x rate)`` per commission line, in the plan's
rounding mode, the one named rounding boundary of this module; ``line amount -
base`` goes to accelerators, or to decelerators for a band below x1, so the parts
add up to the commission exactly), sums
of already-rounded lines, and the opening balances (closing minus this month's
movements). :func:`statement_view` refuses data that does not tie out: the
components must equal the lines by kind and add up to the payout.

Plan components (plan language v2, ``plans/README.md`` "Components"): a plan with ``components``
shows one block per component (:class:`PartView`), from the engine's measures
(:class:`~compengine.engine.records.ComponentMeasure`, ``StatementData.parts``): its quota
period, quota, credit, attainment and what it paid this month, and for a commission component
an attainment bar drawn on that component's own bands; a bonus shows its attainment and pay.
A v1 plan keeps the one bar of the month (or of the year to date) it always had. Every line
shows where it comes from (``deal_source``, ``rule_source``) in small print.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Mapping
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext

from compengine.core.currency import format_money, quantum, round_minor
from compengine.core.money import CENT, CONTEXT, ZERO
from compengine.core.periods import Period
from compengine.engine.records import COMPONENTS, ComponentMeasure, Line
from compengine.plans.model import Plan, Tier

STATUSES = ("locked", "preliminary")
HUNDRED = Decimal(100)


# --------------------------------------------------------------------------- input


@dataclass(frozen=True, slots=True)
class DealInfo:
    """What a statement shows about a deal behind a line."""

    account: str  # customer account name
    deal_type: str  # new_logo | expansion | renewal
    close_date: date
    amount: Decimal | None = None  # the deal's amount as booked, in its own currency (None: not known)
    currency: str | None = None  # the currency it was booked in; shown beside the credit when not the plan's


@dataclass(frozen=True, slots=True)
class YtdMonth:
    """One row of the year-to-date table: a month of the plan year the rep was paid in."""

    period: str  # YYYY-MM
    credited: Decimal  # credit counted that month (cents)
    payout: Decimal  # net payout of that month (cents)


@dataclass(frozen=True, slots=True)
class Dispute:
    """A dispute the rep raised that touches this month."""

    id: str  # the dispute's id, e.g. "7"
    status: str  # open | approved | rejected (shown as written)
    deal_id: str | None  # the deal disputed, if any
    amount_claimed: Decimal | None  # what the rep claims (cents), if stated
    reason: str  # the rep's words
    resolution: str = ""  # finance's note once resolved ("" while open)


@dataclass(frozen=True, slots=True)
class StatementData:
    """One rep's month, as the statement needs it. All amounts are cent Decimals, already rounded.

    ``lines`` are the rep's payout lines of the month (every kind, in ``seq``
    order); ``components`` sums them by kind (keys of
    :data:`compengine.engine.records.COMPONENTS`) and ``payout`` is their total.
    The adjustment lines (kind ``adjustment``, with ``explain`` = reason,
    ``ref_period``, ``ref`` and maybe ``deal_id``) are part of ``lines``;
    :attr:`adjustments` lists them.
    """

    company: str  # company name, printed in the header of every page
    period: str  # the month, YYYY-MM
    status: str  # "locked" (final) or "preliminary" (may still change)
    rep_id: str
    rep_name: str
    team: str  # "" when unknown
    email: str  # "" when unknown
    manager_name: str | None  # the rep's manager's name, None without a manager
    plan: Plan  # the compiled plan of the month: id, name, currency, rounding, tiers, ramp, draw
    measure: str  # "period" or "ytd": what attainment is measured on
    quota: Decimal  # the month's quota (after ramp)
    credited: Decimal  # credit counted this month
    attainment: Decimal  # credited / quota (ytd plans: ytd_credited / ytd_quota), 4 places; 0 without quota
    ytd_quota: Decimal | None  # ytd plans only: quota of the plan year through this month
    ytd_credited: Decimal | None  # ytd plans only: credit of the plan year through this month
    tenure_month: int | None  # 1 = the hire month; None without a hire date (shows ramp and draw months)
    lines: tuple[Line, ...]  # the month's payout lines, every kind, in seq order
    deals: Mapping[str, DealInfo]  # deal_id -> DealInfo for (at least) every deal_id in lines
    components: Mapping[str, Decimal]  # kind -> sum of lines of that kind (missing kinds count as 0)
    payout: Decimal  # net payout of the month = sum of lines
    ytd: tuple[YtdMonth, ...]  # months of the plan year through this one, in order (this month last)
    draw_balance: Decimal  # draw still to be recovered, after this month
    carry_balance: Decimal  # negative balance carried forward, after this month
    disputes: tuple[Dispute, ...] = field(default=())  # disputes touching this month
    # the plan's components' measures of the month, in the plan's order (RepResult.parts / rep_periods.parts);
    # a v1 plan has one, "commission"; () from a ledger written before components (one bar, as a v1 plan)
    parts: tuple[ComponentMeasure, ...] = field(default=())
    # the locale amounts are written for (``de_DE``: 1.234,56 €), through Babel; None: the house format
    # (1,234.56, the currency named beside it)
    locale: str | None = None

    @property
    def adjustments(self) -> tuple[Line, ...]:
        """The adjustment lines of the month (late corrections, manual adjustments, approved disputes)."""
        return tuple(ln for ln in self.lines if ln.kind == "adjustment")

    @property
    def currency(self) -> str:
        return self.plan.currency


# --------------------------------------------------------------------------- view


@dataclass(frozen=True, slots=True)
class BarTick:
    x: str  # position in SVG units
    label: str  # "100%"


@dataclass(frozen=True, slots=True)
class BarBand:
    x: str
    width: str
    label: str  # "x1.5"
    label_x: str
    shade: int  # 0, 1, 2...: alternating fills


@dataclass(frozen=True, slots=True)
class AttainmentBar:
    """Geometry of the attainment bar, in SVG user units (the template only places it)."""

    width: str  # total width of the SVG
    track_x: str
    track_width: str
    fill_width: str  # the attained part
    marker_x: str
    marker_label: str  # "138.00%"
    marker_anchor: str  # start | middle | end
    overflow: bool  # attainment runs past the drawn scale
    bands: tuple[BarBand, ...]
    ticks: tuple[BarTick, ...]
    description: str  # text alternative


@dataclass(frozen=True, slots=True)
class ComponentRow:
    key: str  # component kind, or "commission_base" / "accelerators"
    label: str
    note: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class PartView:
    """One plan component of a plan with ``components``: its quota period to date, figures and bar."""

    key: str  # the component's id: "new_business"
    type: str  # commission | bonus
    label: str  # "New business"
    period_label: str  # "Q4 2026 to date", "November 2026"
    title: str  # "New business — Q4 2026 to date"
    figures: tuple["Figure", ...]  # quota, credited, attainment, paid this month (a bonus: attainment, paid)
    attainment_label: str  # "105.00%", "n/a" without quota
    paid: Decimal  # what the component's lines paid this month
    bar: "AttainmentBar | None"  # commission components with a quota
    note: str  # a bonus: what it pays on; a component without quota: says so


@dataclass(frozen=True, slots=True)
class DealLineRow:
    seq: int
    kind: str  # "Commission", "SPIFF", ...
    deal_id: str
    account: str
    deal_type: str  # "New logo"
    close_date: str
    split: str  # "Primary 60%", "Overlay 50%", "" for a whole deal
    credit: Decimal | None
    rate: str  # "10%"
    multiplier: str  # "x1.5"
    band: str  # "2"
    amount: Decimal
    explain: str
    negative: bool
    component: str = ""  # the plan component's label ("New business"); "" on a v1 plan
    sources: str = ""  # "Deal: deals.csv:4 · Rule: plans/ae.yaml:11,17 @2446f73d" ("" when the line has none)
    line_seq: int = 0
    original: str = ""  # the deal as booked when in another currency than the plan's: "EUR 10,000.00" ("" if not)  # the line's own seq (Line.seq, the ledger's); ``seq`` is its number as shown


@dataclass(frozen=True, slots=True)
class OtherLineRow:
    seq: int
    kind: str
    amount: Decimal
    explain: str
    negative: bool
    component: str = ""  # as DealLineRow
    sources: str = ""
    line_seq: int = 0


@dataclass(frozen=True, slots=True)
class AdjustmentRow:
    seq: int
    reason: str
    deal_id: str
    ref_period: str
    ref: str
    amount: Decimal
    negative: bool


@dataclass(frozen=True, slots=True)
class DisputeRow:
    id: str
    status: str
    deal_id: str
    amount_claimed: Decimal | None
    reason: str
    resolution: str


@dataclass(frozen=True, slots=True)
class YtdRow:
    period: str
    label: str  # "Oct 2026"
    credited: Decimal
    payout: Decimal
    cumulative: Decimal
    current: bool


@dataclass(frozen=True, slots=True)
class BalanceView:
    title: str
    description: str
    opening: Decimal
    movements: tuple[tuple[str, Decimal], ...]  # (label, signed amount)
    closing: Decimal


@dataclass(frozen=True, slots=True)
class Figure:
    label: str
    value: Decimal | None  # money, formatted by the template
    text: str  # used when value is None


@dataclass(frozen=True, slots=True)
class StatementView:
    """Everything the template prints, already rounded (amounts) or written out (the rest)."""

    name: str  # file stem: statement-2026-10-R1
    company: str
    period: str
    period_label: str  # "October 2026"
    status: str  # locked | preliminary
    status_label: str  # LOCKED | PRELIMINARY
    status_note: str
    rep_id: str
    rep_name: str
    team: str
    email: str
    manager: str
    plan_id: str
    plan_name: str
    plan_version: str  # the version that priced the month: digest, and its effective range when dated
    currency: str
    locale: str | None  # amounts are formatted for it (None: the house format)
    measure_label: str
    figures: tuple[Figure, ...]  # quota, credited, attainment (and ytd ones)
    attainment_label: str
    notes: tuple[str, ...]  # ramp, draw month, no quota...
    bar: AttainmentBar | None  # a v1 plan's one bar (None on a plan with components: see parts)
    parts: tuple[PartView, ...]  # a plan with components: one block per component (() on a v1 plan)
    by_component: bool  # the plan has components: lines name theirs
    components: tuple[ComponentRow, ...]  # non-zero ones (commission base and accelerators always)
    zero_components: str  # "true-ups, cap, ..." that are zero this month
    payout: Decimal
    deal_lines: tuple[DealLineRow, ...]
    deal_lines_total: Decimal
    other_lines: tuple[OtherLineRow, ...]
    other_lines_total: Decimal
    adjustments: tuple[AdjustmentRow, ...]
    adjustments_total: Decimal
    disputes: tuple[DisputeRow, ...]
    ytd: tuple[YtdRow, ...]
    ytd_credited: Decimal
    ytd_payout: Decimal
    ytd_notes: tuple[str, ...]  # why the summary's year-to-date credit differs from the table's, if it does
    ytd_credit_shown: bool  # the year-to-date table has a credited column (not with components: credit is theirs)
    balances: tuple[BalanceView, ...]
    sources_folder: str = ""  # the folder of every file the lines' sources name (they are written relative to it)

    @property
    def rounding_unit(self) -> str:
        """The amount each line is rounded to: ``0.01 USD``, ``1 JPY``, ``0.001 KWD``."""
        return f"{quantum(self.currency):f} {self.currency}"


class StatementDataError(ValueError):
    """The data does not make a consistent statement (it would not tie out)."""


KIND_LABELS = {
    "commission": "Commission",
    "true_up": "True-up",
    "spiff": "SPIFF",
    "bonus": "Bonus",
    "cap": "Cap",
    "clawback": "Clawback",
    "override": "Override",
    "adjustment": "Adjustment",
    "balance_recovery": "Balance recovered",
    "draw": "Draw",
    "draw_recovery": "Draw recovery",
    "carry_forward": "Carried forward",
}
COMPONENT_ROWS = (  # (key, label, note) in statement order; commission splits into base + accelerators
    ("commission_base", "Commission", "credit × rate, at the base rate"),
    ("accelerators", "Accelerators", "band multipliers above ×1"),
    ("decelerators", "Decelerators", "band multipliers below ×1"),
    ("true_up", "True-ups", "earlier months re-rated year to date"),
    ("spiff", "SPIFFs", "bonuses on qualifying deals"),
    ("bonus", "Bonuses", "on attainment, by the plan's curve"),
    ("cap", "Cap", "commission above the monthly cap"),
    ("clawback", "Clawbacks", "earlier deals cancelled"),
    ("override", "Overrides", "on your team's credit"),
    ("adjustment", "Adjustments", "see Adjustments below"),
    ("draw", "Draw", "top-up to the draw amount"),
    ("draw_recovery", "Draw recovery", "earlier draws paid back"),
    ("balance_recovery", "Balance recovered", "negative balance from earlier months"),
    ("carry_forward", "Carried forward", "negative month, recovered later"),
)
ALWAYS_SHOWN = ("commission_base", "accelerators")
DEAL_TYPES = {"new_logo": "New logo", "expansion": "Expansion", "renewal": "Renewal"}
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")


def _money_text(amount: Decimal | None, currency: str, locale: str | None) -> str:
    """An amount inside a sentence: the locale's format with its sign (``1.234,56 €``), or the house format."""
    return format_money(amount, currency, locale) if locale else format_money(amount, currency)


def _original(info: DealInfo | None, plan_currency: str, locale: str | None) -> str:
    """The deal as booked, when that is not in the plan's currency: ``EUR 10,000.00`` (``10.000,00 €`` for de_DE)."""
    if info is None or info.amount is None or not info.currency or info.currency == plan_currency:
        return ""
    if locale:
        return format_money(info.amount, info.currency, locale)
    return f"{info.currency} {format_money(info.amount, info.currency)}"


def statement_name(period: str, rep_id: str) -> str:
    """The file stem of a statement: ``statement-2026-10-R1``.

    Unsafe characters in the rep id become ``_``; then, since ``a/b`` and ``a_b`` would share
    a file, a changed id also gets the first 8 hex digits of its SHA-256: ``a/b`` is
    ``statement-2026-10-a_b-c14cddc0``, the same on every run and whoever else is in the month.
    """
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in rep_id).lstrip(".") or "_"
    if safe != rep_id:
        safe += "-" + hashlib.sha256(rep_id.encode("utf-8")).hexdigest()[:8]
    return f"statement-{period}-{safe}"


def _pct(x: Decimal) -> str:
    """A rate or fraction as a percent, exactly: 0.1 -> 10%, 0.015 -> 1.5%."""
    return f"{(x * HUNDRED).normalize():f}%"


def _attainment(x: Decimal) -> str:
    return f"{(x * HUNDRED).quantize(CENT, context=CONTEXT):f}%"


def _mult(x: Decimal | None) -> str:
    return "" if x is None else f"×{x:f}"


def _period_label(period: str, short: bool = False) -> str:
    p = Period.parse(period)
    name = MONTHS[p.month - 1]
    return f"{name[:3] if short else name} {p.year}"


def _sum(values) -> Decimal:
    return sum(values, ZERO)


_FISCAL_YEAR = re.compile(r"\bFY ?(\d{4})\b")


def plan_version_label(plan: Plan) -> str:
    """``version 1a2b3c4d5e6f, in force 2026-07-01..2026-12-31``: which text of the plan priced a month."""
    out = f"version {plan.digest[:12]}" if plan.digest else "version (unsaved)"
    start, end = getattr(plan, "effective_from", None), getattr(plan, "effective_to", None)
    if start or end:
        out += f", in force {start or ''}..{end or ''}"
    return out


def _plan_title(name: str, year: int) -> str:
    """The plan's name as this statement's year reads it: "Account Executive FY2026" on a 2017
    statement is "Account Executive FY2017" (the plan id beside it names the plan exactly)."""
    return _FISCAL_YEAR.sub(f"FY{year}", name)


_DOUBLED = re.compile(r"\b(approved|rejected)\b([^:]*:)\s*(approved|rejected)\b\s*[:.,\-–—]?\s*", re.I)


def _undoubled(text: str) -> str:
    """"Dispute 1 approved: Approved: term verified" -> "Dispute 1 approved: term verified" (a note
    that repeats the verdict the prefix already states)."""
    m = _DOUBLED.search(text)
    if m is None or m.group(1).lower() != m.group(3).lower() or m.end() == len(text):
        return text
    return text[:m.start(3)] + text[m.end():]


def _reference(ref: str) -> str:
    """A line's reference as a rep reads it: "dispute:7" -> "Dispute 7", "late_change.other" -> "Late change"."""
    kind, _, number = ref.partition(":")
    if number and kind in ("dispute", "adjustment"):
        return f"{kind.capitalize()} {number}"
    if ref.startswith("late_change"):
        return "Late change"
    return ref


# --------------------------------------------------------------------------- the bar

BAR_WIDTH = Decimal(300)
BAR_LEFT = Decimal(4)
BAR_RIGHT = Decimal(4)


def _u(x: Decimal) -> str:
    return f"{x.quantize(Decimal('0.1'), context=CONTEXT):f}"


def _attainment_bar(tiers: tuple[Tier, ...], attainment: Decimal, label: str) -> AttainmentBar:
    """The bar of ``attainment`` on the bands ``tiers`` (a v1 plan's, or one component's)."""
    uppers = [t.upper for t in tiers if t.upper is not None]
    top = max(uppers + [Decimal(1)])
    # the scale runs a quarter past the last threshold, or past the attainment (up to twice that threshold)
    scale = max(top * Decimal("1.25"), min(attainment * Decimal("1.08"), top * 2))
    scale = (scale * 4).to_integral_value(rounding="ROUND_CEILING", context=CONTEXT) / 4  # a quarter step
    track = BAR_WIDTH - BAR_LEFT - BAR_RIGHT

    def x_of(a: Decimal) -> Decimal:
        return BAR_LEFT + track * min(a, scale) / scale

    bands: list[BarBand] = []
    ticks: list[BarTick] = []
    for i, t in enumerate(tiers):
        lo = x_of(t.lower)
        hi = x_of(t.upper if t.upper is not None else scale)
        mid = (lo + hi) / 2
        bands.append(BarBand(_u(lo), _u(hi - lo), f"×{t.multiplier:f}" if hi - lo >= 48 else "", _u(mid), i % 2))
        if t.upper is not None:
            ticks.append(BarTick(_u(hi), _pct(t.upper)))
    if Decimal(1) not in uppers:  # quota itself is always marked
        ticks.append(BarTick(_u(x_of(Decimal(1))), "100%"))
        ticks.sort(key=lambda t: Decimal(t.x))
    mx = x_of(attainment)
    anchor = "middle"
    if mx < BAR_LEFT + 22:
        anchor = "start"
    elif mx > BAR_WIDTH - BAR_RIGHT - 22:
        anchor = "end"
    bands_text = ", ".join(
        f"{_pct(t.lower)}{'-' + _pct(t.upper) if t.upper is not None else '+'} ×{t.multiplier:f}" for t in tiers
    )
    return AttainmentBar(
        width=_u(BAR_WIDTH),
        track_x=_u(BAR_LEFT),
        track_width=_u(track),
        fill_width=_u(mx - BAR_LEFT),
        marker_x=_u(mx),
        marker_label=label,
        marker_anchor=anchor,
        overflow=attainment > scale,
        bands=tuple(bands),
        ticks=tuple(ticks),
        description=f"Attainment {label}; bands {bands_text}",
    )


# --------------------------------------------------------------------------- plan components


def component_label(component_id: str) -> str:
    """A component's id as people read it: ``new_business`` -> ``New business``."""
    text = component_id.replace("_", " ").strip()
    return text[:1].upper() + text[1:]


def quota_period_label(key: str) -> str:
    """A quota period key (:class:`ComponentMeasure`.period) as a label: ``2026-10`` -> ``October 2026``,
    ``2026-Q4`` -> ``Q4 2026 to date``, ``2026-H2`` -> ``H2 2026 to date``, ``2026`` -> ``2026 year to date``."""
    year, _, rest = key.partition("-")
    if not rest:
        return f"{year} year to date"
    if rest[:1] in ("Q", "H"):
        return f"{rest} {year} to date"
    try:
        return _period_label(key)
    except ValueError:
        return key


def _source_file(text: str, rule: bool) -> str:
    """The file a source names: ``/x/deals.csv:4`` -> ``/x/deals.csv``; a rule's ``plans/ae.yaml:11,17 @2446f73d``
    -> ``plans/ae.yaml``."""
    if rule:
        text = text.rsplit(" @", 1)[0]
    head, sep, tail = text.rpartition(":")
    return head if sep and tail.replace(",", "").isdigit() else text


def sources_folder(lines: Iterable[Line]) -> str:
    """The folder every file named by the lines' sources is in (``/srv/imports/2026-10/``), to be said once
    rather than on every line; "" when they share none (relative names, or files in unrelated folders)."""
    files: set[str] = set()
    rules: set[str] = set()
    for ln in lines:
        if ln.deal_source is not None:
            files.add(_source_file(str(ln.deal_source), False))
        if ln.rule_source and ln.rule_source not in rules:
            rules.add(ln.rule_source)
            files.add(_source_file(ln.rule_source, True))
    files.discard("")
    if not files or not all(os.path.isabs(f) for f in files):
        return ""
    try:
        folder = os.path.commonpath([os.path.dirname(f) for f in files])
    except ValueError:  # different drives
        return ""
    return "" if folder == os.path.dirname(folder) else folder.rstrip(os.sep) + os.sep  # never the root itself


def line_sources(ln: Line, folder: str = "") -> str:
    """Where a line comes from, in small print: ``Deal: deals.csv:4 · Rule: plans/ae.yaml:11,17 @2446f73d``;
    file names inside ``folder`` (:func:`sources_folder`) are written relative to it."""
    deal = "" if ln.deal_source is None else str(ln.deal_source)
    rule = ln.rule_source or ""
    if folder:
        deal, rule = deal.removeprefix(folder), rule.removeprefix(folder)
    if deal and rule:
        return f"Deal: {deal} · Rule: {rule}"
    return f"Deal: {deal}" if deal else f"Rule: {rule}" if rule else ""


def _units(x: Decimal) -> str:
    return f"{x.normalize():,f} units" if x == x.to_integral_value() else f"{x:,f} units"


def _part_view(plan: Plan, m: ComponentMeasure) -> PartView:
    """One component's block: its figures (from the engine's measures, nothing recomputed) and its bar, drawn on
    the component's own bands."""
    comp = plan.component(m.component)
    label = component_label(m.component)
    period = quota_period_label(m.period)
    att = _attainment(m.attainment) if m.quota > 0 else "n/a"
    if m.type == "bonus":
        named = ", ".join(component_label(x).lower() for x in (comp.of if comp is not None else ()))
        figures = (Figure(f"Attainment of {named or 'its components'}", None, att), Figure("Paid this month", m.paid, ""))
        note = (f"A bonus on the attainment of {named}, {period}, by the plan's curve: each month pays what the "
                f"period to date has earned less what it already paid." if named else "")
        return PartView(m.component, m.type, label, period, f"{label} — {period}", figures, att, m.paid, None, note)
    if comp is not None and comp.base == "quantity":  # a quota in units, not money
        quota = Figure("Quota", None, _units(m.quota))
        credited = Figure("Credited", None, _units(m.credited))
    else:
        quota, credited = Figure("Quota", m.quota, ""), Figure("Credited", m.credited, "")
    figures = (quota, credited, Figure("Attainment", None, att), Figure("Paid this month", m.paid, ""))
    bar = _attainment_bar(comp.tiers if comp is not None else plan.tiers, m.attainment, att) if m.quota > 0 else None
    note = "" if m.quota > 0 else "No quota: credit is paid at the component's base rates."
    return PartView(m.component, m.type, label, period, f"{label} — {period}", figures, att, m.paid, bar, note)


# --------------------------------------------------------------------------- the view


def _check(data: StatementData) -> None:
    if data.status not in STATUSES:
        raise StatementDataError(f"{data.rep_id} {data.period}: status must be locked or preliminary, got {data.status!r}")
    try:
        Period.parse(data.period)
    except ValueError as exc:
        raise StatementDataError(f"{data.rep_id}: {exc}") from None
    by_kind: dict[str, Decimal] = {}
    for ln in data.lines:
        by_kind[ln.kind] = by_kind.get(ln.kind, ZERO) + ln.amount
    for kind in set(by_kind) | set(data.components):
        if kind not in KIND_LABELS:
            raise StatementDataError(f"{data.rep_id} {data.period}: unknown line kind {kind!r}")
        if by_kind.get(kind, ZERO) != data.components.get(kind, ZERO):
            raise StatementDataError(
                f"{data.rep_id} {data.period}: component {kind} is {data.components.get(kind, ZERO)} "
                f"but its lines sum to {by_kind.get(kind, ZERO)}"
            )
    total = _sum(data.components.values())
    if total != data.payout:
        raise StatementDataError(f"{data.rep_id} {data.period}: components sum to {total}, payout is {data.payout}")


def _base(ln: Line, rounding: str, currency: str) -> Decimal:
    """The base-rate part of a commission line: the line's stored base (credit x rate), rounded once (plan's
    mode). Lines stored before lines carried their base (ledgers from before migration 0007) have it worked
    out from their credit and rate, the same way the engine does."""
    if ln.base is not None:
        return round_minor(ln.base, currency, rounding)
    if ln.credit is None or ln.rate is None:
        return ln.amount
    return round_minor(CONTEXT.multiply(ln.credit, ln.rate), currency, rounding)


def statement_view(data: StatementData) -> StatementView:
    """Lay out one statement (pure). Raises :class:`StatementDataError` when the data does not tie out."""
    with localcontext(CONTEXT):  # never the ambient decimal context
        return _view(data)


def _view(data: StatementData) -> StatementView:
    _check(data)
    plan = data.plan
    by_component = plan.v2 and bool(data.parts)  # one block per component, lines name theirs

    def comp_of(ln: Line) -> str:
        return component_label(ln.component) if by_component and ln.component else ""

    comps = {k: data.components.get(k, ZERO) for k in COMPONENTS}

    # components: commission = base + accelerators + decelerators, exactly (each line's amount - its base
    # goes to accelerators when its multiplier is above 1, to decelerators when it is below)
    base = ZERO
    accelerators = ZERO
    decelerators = ZERO
    for ln in data.lines:
        if ln.kind != "commission":
            continue
        b = _base(ln, plan.rounding, plan.currency)
        base += b
        if ln.multiplier is not None and ln.multiplier < 1:
            decelerators += ln.amount - b
        else:
            accelerators += ln.amount - b
    values = dict(comps)
    values["commission_base"] = base
    values["accelerators"] = accelerators
    values["decelerators"] = decelerators
    rows: list[ComponentRow] = []
    zero: list[str] = []
    for key, label, note in COMPONENT_ROWS:
        amount = values[key]
        if key == "decelerators" and amount == 0:
            continue  # only plans with bands below x1 have them: not listed as "zero this month"
        if amount != 0 or key in ALWAYS_SHOWN:
            rows.append(ComponentRow(key, label, note, amount))
        else:
            zero.append(label.lower() if label != "SPIFFs" else label)
    if _sum(r.amount for r in rows) != data.payout:  # pragma: no cover - guaranteed by _check
        raise StatementDataError(f"{data.rep_id} {data.period}: breakdown does not add up to the payout")

    # lines: deal lines, other lines, adjustments; each line appears exactly once. The # column counts them in
    # the order the statement shows them (deal lines, other lines, adjustments)
    ordered = sorted(data.lines, key=lambda ln: ln.seq)
    adj_lines = [ln for ln in ordered if ln.kind == "adjustment"]
    deal_lines = [ln for ln in ordered if ln.kind != "adjustment" and ln.deal_id]
    rest = [ln for ln in ordered if ln.kind != "adjustment" and not ln.deal_id]
    folder = sources_folder(ordered)
    deal_rows: list[DealLineRow] = []
    for n, ln in enumerate(deal_lines, 1):
        info = data.deals.get(ln.deal_id)
        if ln.role is None or ln.split_pct is None:
            split = ""
        elif ln.role == "primary" and ln.split_pct == HUNDRED:
            split = "100%"
        else:
            split = f"{ln.role.capitalize()} {(ln.split_pct).normalize():f}%"
        deal_rows.append(DealLineRow(
            seq=n,
            kind=KIND_LABELS[ln.kind],
            deal_id=ln.deal_id,
            account=info.account if info else "",
            deal_type=DEAL_TYPES.get(info.deal_type, info.deal_type) if info else "",
            close_date=info.close_date.isoformat() if info else "",
            split=split,
            credit=ln.credit,
            rate=_pct(ln.rate) if ln.rate is not None else "",
            multiplier=_mult(ln.multiplier),
            band=str(ln.tier) if ln.tier is not None else "",
            amount=ln.amount,
            explain=ln.explain,
            negative=ln.amount < 0,
            component=comp_of(ln),
            sources=line_sources(ln, folder),
            line_seq=ln.seq,
            original=_original(info, plan.currency, data.locale),
        ))
    other_rows = [OtherLineRow(n, KIND_LABELS[ln.kind], ln.amount, ln.explain, ln.amount < 0, comp_of(ln),
                               line_sources(ln, folder), ln.seq)
                  for n, ln in enumerate(rest, len(deal_rows) + 1)]
    adj_rows = [AdjustmentRow(n, _undoubled(ln.explain), ln.deal_id or "", ln.ref_period or "", _reference(ln.ref or ""),
                              ln.amount, ln.amount < 0)
                for n, ln in enumerate(adj_lines, len(deal_rows) + len(other_rows) + 1)]

    # summary figures
    ytd_measure = data.measure == "ytd"
    quota_basis = (data.ytd_quota if ytd_measure else data.quota) or ZERO
    own_credit = (data.ytd_credited if ytd_measure else data.credited) or ZERO
    override_only = own_credit == 0 and any(ln.kind == "override" for ln in data.lines)
    if quota_basis <= 0:
        att_label = "n/a"
    elif override_only:
        att_label = "n/a: no own credit"
    else:
        att_label = _attainment(data.attainment)
    parts = tuple(_part_view(plan, m) for m in data.parts) if by_component else ()
    if by_component:  # each component has its own quota period: its attainment here, its figures in its block
        figures = [Figure(f"{p.label} this month", p.paid, "") if p.type == "bonus" else
                   Figure(f"{p.label} attainment", None, p.attainment_label) for p in parts]
    else:
        figures = [Figure("Quota this month", data.quota, ""), Figure("Credited this month", data.credited, "")]
        if data.measure == "ytd":
            figures.append(Figure("Quota year to date", data.ytd_quota or ZERO, ""))
            figures.append(Figure("Credited year to date", data.ytd_credited or ZERO, ""))
        figures.append(Figure("Attainment" + (" year to date" if data.measure == "ytd" else ""), None, att_label))
    notes: list[str] = []
    pct = plan.ramp_pct(data.tenure_month)
    if data.tenure_month is not None and pct != HUNDRED:
        notes.append(f"Ramp: month {data.tenure_month} since hire, quota at {pct.normalize():f}% of a full month.")
    if by_component:
        pass  # quota and credit are each component's (its block says when it has no quota)
    elif quota_basis <= 0:
        notes.append("No quota this month: credit is paid at base rates.")
    elif override_only:
        notes.append("No own credit " + ("this year" if ytd_measure else "this month")
                     + ": the pay below is overrides on your team's credit.")
    if plan.draw is not None and plan.in_draw(data.tenure_month):
        kind = "recoverable" if plan.draw.recoverable else "guaranteed, not recovered"
        notes.append(f"Draw month {data.tenure_month} of {plan.draw.months}: pay is at least "
                     f"{_money_text(plan.draw.amount, plan.currency, data.locale)} ({kind}).")
    bar = (_attainment_bar(plan.tiers, data.attainment, att_label)
           if quota_basis > 0 and own_credit != 0 and not by_component else None)

    # year to date
    ytd_rows: list[YtdRow] = []
    running = ZERO
    quiet: list[YtdMonth] = []  # a run of months with nothing credited or paid: one row

    def flush() -> None:
        if quiet:
            first, last = quiet[0].period, quiet[-1].period
            label = _period_label(first, short=True)
            if last != first:
                label = f"{label[:3]}–{_period_label(last, short=True)}"
            ytd_rows.append(YtdRow(first, label, ZERO, ZERO, running, False))
            quiet.clear()

    for m in data.ytd:
        if m.credited == 0 and m.payout == 0 and m.period != data.period:
            quiet.append(m)
            continue
        flush()
        running += m.payout
        ytd_rows.append(YtdRow(m.period, _period_label(m.period, short=True), m.credited, m.payout, running,
                               m.period == data.period))
    flush()
    ytd_notes: list[str] = []
    table_credited = _sum(r.credited for r in ytd_rows)
    if ytd_measure and not by_component and data.ytd_credited is not None and data.ytd_credited != table_credited:
        diff = data.ytd_credited - table_credited
        ytd_notes.append(
            f"Credited year to date in the summary ({_money_text(data.ytd_credited, plan.currency, data.locale)}) is "
            f"{_money_text(abs(diff), plan.currency, data.locale)} {'less' if diff < 0 else 'more'} than this table's total: it counts the "
            f"year's deals as they stand now, on this plan, while the table shows each month's credit as it was "
            f"calculated then (deals amended or cancelled after their month, or months on another plan).")

    # balances: opening = closing - this month's movements
    balances: list[BalanceView] = []
    draw_line = comps["draw"]
    draw_rec = comps["draw_recovery"]
    if plan.in_draw(data.tenure_month) or data.draw_balance != 0 or draw_line != 0 or draw_rec != 0:
        advanced = draw_line if (plan.draw is None or plan.draw.recoverable) else ZERO
        if plan.draw is None:
            desc = "No draw on this plan; a balance from an earlier plan is recovered from earnings."
        elif plan.draw.recoverable:
            desc = (f"Recoverable draw: {_money_text(plan.draw.amount, plan.currency, data.locale)} a month for the first {plan.draw.months} "
                    f"months; top-ups are recovered from later earnings above the draw.")
        else:
            desc = (f"Guaranteed draw: {_money_text(plan.draw.amount, plan.currency, data.locale)} a month for the first {plan.draw.months} "
                    f"months; top-ups are not recovered.")
        balances.append(BalanceView(
            "Draw balance", desc, data.draw_balance - advanced - draw_rec,
            (("Advanced this month", advanced), ("Recovered this month", draw_rec)), data.draw_balance,
        ))
    bal_rec = comps["balance_recovery"]
    carried = comps["carry_forward"]
    if data.carry_balance != 0 or bal_rec != 0 or carried != 0:
        balances.append(BalanceView(
            "Negative balance carried", "When a month's lines sum to less than zero nothing is paid; the "
            "difference is carried and recovered from later payouts.",
            data.carry_balance - bal_rec - carried,
            (("Recovered this month", bal_rec), ("Carried this month", carried)), data.carry_balance,
        ))

    locked = data.status == "locked"
    return StatementView(
        name=statement_name(data.period, data.rep_id),
        company=data.company,
        period=data.period,
        period_label=_period_label(data.period),
        status=data.status,
        status_label=data.status.upper(),
        status_note=("Final: the month is locked. Later corrections appear as adjustments in an open month."
                     if locked else "Preliminary: figures may change until the month is locked."),
        rep_id=data.rep_id,
        rep_name=data.rep_name,
        team=data.team,
        email=data.email,
        manager=data.manager_name or "",
        plan_id=plan.id,
        plan_name=_plan_title(plan.name, Period.parse(data.period).year),
        plan_version=plan_version_label(plan),
        currency=plan.currency,
        locale=data.locale,
        measure_label="year to date" if data.measure == "ytd" else "monthly",
        figures=tuple(figures),
        attainment_label=att_label,
        notes=tuple(notes),
        bar=bar,
        parts=parts,
        by_component=by_component,
        components=tuple(rows),
        zero_components=", ".join(zero),
        payout=data.payout,
        deal_lines=tuple(deal_rows),
        deal_lines_total=_sum(r.amount for r in deal_rows),
        other_lines=tuple(other_rows),
        other_lines_total=_sum(r.amount for r in other_rows),
        adjustments=tuple(adj_rows),
        adjustments_total=_sum(r.amount for r in adj_rows),
        disputes=tuple(
            DisputeRow(d.id, d.status, d.deal_id or "", d.amount_claimed, d.reason, _undoubled(d.resolution))
            for d in data.disputes
        ),
        ytd=tuple(ytd_rows),
        ytd_credited=table_credited,
        ytd_payout=running,
        ytd_notes=tuple(ytd_notes),
        ytd_credit_shown=not by_component,
        balances=tuple(balances),
        sources_folder=folder,
    )
