"""The engine's records: small, immutable, cheap (NamedTuples and slotted dataclasses).

Inputs: :class:`Rep`, :class:`Assignment`, :class:`Quota`, :class:`Deal`, :class:`Split`,
:class:`Adjustment`, :class:`Cancellation` and the carried :class:`RepState`.
Intermediate: :class:`Credit` (one receiver's share of one deal).
Outputs: :class:`Line` (one payout line, traceable to deal, rule, rate, tier)
and :class:`RepResult` (a rep's month: measures, lines, components, payout).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import NamedTuple, overload

from compengine.core.errors import Source
from compengine.core.money import ZERO
# the Deal columns a plan's ``measure`` and ``rate_rules`` may name besides the deal's attributes: defined with the
# plan language, which checks the names (the plans layer may not import the engine)
from compengine.plans.model import DEAL_FIELDS


@dataclass(frozen=True, slots=True)
class Rep:
    rep_id: str
    name: str
    email: str = ""
    manager_id: str | None = None
    team: str = ""
    hire_date: date | None = None
    source: Source | None = None
    termination_date: date | None = None  # the last day the rep is credited (None: not terminated)
    valid_from: date | None = None  # the first day this version of the rep is in force (None: always)
    locale: str | None = None  # reps.csv's optional ``locale`` (de_DE): how their statements write amounts


@dataclass(frozen=True, slots=True)
class Assignment:
    rep_id: str
    plan_id: str
    start: date
    end: date | None = None
    annual_quota: Decimal | None = None
    source: Source | None = None

    def active_on(self, d: date) -> bool:
        return self.start <= d and (self.end is None or d <= self.end)

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)


class Deal(NamedTuple):
    """A closed-won deal (a NamedTuple: a month can load a million of them)."""

    deal_id: str
    account: str
    deal_type: str
    amount: Decimal
    currency: str
    close_date: date
    owner_id: str
    term_months: int | None = None
    product: str | None = None
    cancelled_on: date | None = None
    # where the deal was read: a Source (a data folder's deals.csv row) or, for deals read back from
    # the ledger, the text "file:line" of the deal event that set its current state; Credit.source is text
    source: Source | str | None = None
    quantity: Decimal = Decimal(1)  # units sold (deals.csv quantity; plan components may measure on it)
    cost: Decimal = ZERO  # the deal's cost: margin = amount - cost
    attrs: tuple[tuple[str, str], ...] = ()  # further deals.csv columns and products.csv category, sorted by name

    def attr(self, name: str) -> str | None:
        """A column or attribute of the deal by name, as text (None: the deal has no such value)."""
        return deal_value(self, name)


def deal_value(deal: "Deal | Credit", name: str) -> str | None:
    """``name`` of a deal or credit as text: a column (:data:`DEAL_FIELDS`) or an attribute. On a credit,
    ``amount`` is the deal's full amount (``deal_amount``), as on the deal (not the receiver's share)."""
    if name in DEAL_FIELDS:
        v = getattr(deal, "deal_amount" if name == "amount" and isinstance(deal, Credit) else name, None)
        return None if v is None else (f"{v:f}" if isinstance(v, Decimal) else str(v))
    for k, v in deal.attrs:
        if k == name:
            return v
    return None


@dataclass(frozen=True, slots=True)
class Quota:
    """A rep's annual quota for one component of a plan, in force from ``start`` to ``end``
    (inclusive; None: open-ended). From ``quotas.csv`` or the ledger's ``quotas`` table."""

    rep_id: str
    plan_id: str
    component: str
    start: date
    end: date | None
    annual: Decimal
    source: Source | None = None

    def active_on(self, d: date) -> bool:
        return self.start <= d and (self.end is None or d <= self.end)

    def overlaps(self, first: date, last: date) -> bool:
        return self.start <= last and (self.end is None or self.end >= first)


def group_quotas(quotas: Iterable[Quota]) -> dict[str, list[Quota]]:
    """Quotas by rep, each rep's sorted by (plan, component, start): what the engine takes."""
    out: dict[str, list[Quota]] = {}
    for q in quotas:
        out.setdefault(q.rep_id, []).append(q)
    for rows in out.values():
        rows.sort(key=lambda q: (q.plan_id, q.component, q.start))
    return out


@dataclass(frozen=True, slots=True)
class Split:
    deal_id: str
    rep_id: str
    split_pct: Decimal
    role: str = "primary"  # primary | overlay
    source: Source | None = None


class Credit(NamedTuple):
    """One receiver's credit on one deal (the output of the credit stage)."""

    rep_id: str
    deal_id: str
    deal_type: str
    close_date: date
    credit: Decimal
    role: str
    split_pct: Decimal
    deal_amount: Decimal
    account: str
    term_months: int | None
    product: str | None
    cancelled_on: date | None
    currency: str
    quantity: Decimal = Decimal(1)  # the deal's units (not split)
    cost: Decimal = ZERO  # the deal's cost (not split)
    attrs: tuple[tuple[str, str], ...] = ()  # the deal's attributes
    source: Source | str | None = None  # where the deal came from: its file:line (a Source, or the ledger's text)

    def attr(self, name: str) -> str | None:
        return deal_value(self, name)


@dataclass(frozen=True, slots=True)
class Adjustment:
    """A line added by hand or by the ledger (late change, approved dispute)."""

    rep_id: str
    amount: Decimal
    reason: str
    kind: str = "adjustment"
    deal_id: str | None = None
    ref_period: str | None = None
    ref: str | None = None  # e.g. "dispute:7" or "adjustment:12"
    counts_as_commission: bool = False  # true for recalculated deal corrections (ytd tally)


class Earned(NamedTuple):
    """What a receiver was paid on a deal: the base of a clawback."""

    commission: Decimal
    other: Decimal  # spiffs and overrides on the deal
    period: str


@dataclass(frozen=True, slots=True)
class RepState:
    """Balances a rep carries from one month into the next."""

    draw_balance: Decimal = ZERO  # draws paid that are still to be recovered
    carry_balance: Decimal = ZERO  # negative months carried forward, still to be recovered
    ytd_paid: Decimal = ZERO  # commission + true-ups - commission clawed back, plan year to date
    ytd_year: int = 0
    ytd_plan: str | None = None  # the plan ytd_paid was tallied under (None: unknown, taken as the same plan)
    # v2 plans: what each component paid in its quota period so far: (component, period key e.g. "2026-Q4", paid)
    component_paid: tuple[tuple[str, str, Decimal], ...] = ()


EMPTY_STATE = RepState()


class ComponentMeasure(NamedTuple):
    """A plan component's measures for a rep's month (v1 plans: one, "commission")."""

    component: str
    type: str  # commission | bonus
    period: str  # quota period key: "2026-10", "2026-Q4", "2026-H2", "2026"
    quota: Decimal  # quota of the period to date
    credited: Decimal  # credit (the component's base) of the period to date
    attainment: Decimal  # credited / quota, 4 places (0 without quota)
    paid: Decimal  # what the component paid this month


class Line(NamedTuple):
    """One payout line. ``amount`` is rounded to cents; the rest explains it."""

    rep_id: str
    period: str
    seq: int
    kind: str
    amount: Decimal
    deal_id: str | None = None
    credit: Decimal | None = None
    rate: Decimal | None = None
    multiplier: Decimal | None = None
    tier: int | None = None
    rule: str = ""
    explain: str = ""
    ref_period: str | None = None
    ref: str | None = None
    role: str | None = None  # split role of the credit behind the line (primary | overlay)
    split_pct: Decimal | None = None
    component: str | None = None  # the plan component that made the line (v1 plans: "commission")
    base: Decimal | None = None  # credit (or the component's base) x rate, before the band's multiplier, rounded once
    deal_source: Source | str | None = None  # the deal's file:line (str() of it: "deals.csv:12")
    rule_source: str | None = None  # the plan file:line of the rule, and the plan version (digest)


class LazyLines(Sequence[Line]):
    """A rep's payout lines kept in another form and made into :class:`Line` records when read
    (:meth:`_lines`): a close's stored rows (``ledger.workers.StoredLines``), the columnar engine's columns
    (``engine.columnar.RepLines``). Equal to a list or tuple of the same lines, and to another of its kind."""

    __slots__ = ()

    def _lines(self) -> list[Line]:
        raise NotImplementedError

    @overload
    def __getitem__(self, i: int) -> Line: ...
    @overload
    def __getitem__(self, i: slice) -> list[Line]: ...
    def __getitem__(self, i):  # noqa: ANN001, ANN204
        return self._lines()[i]

    def __iter__(self) -> Iterator[Line]:
        return iter(self._lines())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (type(self), list, tuple)):
            return self._lines() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]


def record_maker(cls: type, names: str):  # noqa: ANN201 - returns a generated function
    """A fast constructor of the NamedTuple ``cls`` taking exactly the fields ``names`` (space-separated),
    in that order; every other field gets its default.

    The engine's hot loops make millions of lines: a keyword call of ``Line(...)`` costs about twice a
    positional one. This keeps the safety of building by field name (the call site names its fields; the
    positions are worked out here from ``cls._fields`` at import, so reordering a field of ``cls`` can not
    put a value in the wrong place) at the speed of one ``tuple.__new__``. An unknown name, a field left
    out that has no default, or a name given twice is refused at import.
    """
    given = names.split()
    fields_ = cls._fields
    defaults = cls._field_defaults
    unknown = [n for n in given if n not in fields_]
    if unknown or len(set(given)) != len(given):
        raise TypeError(f"record_maker({cls.__name__}): unknown or repeated field(s) {unknown or given}")
    missing = [f for f in fields_ if f not in given and f not in defaults]
    if missing:
        raise TypeError(f"record_maker({cls.__name__}): no value for {missing}")
    env = {"_new": tuple.__new__, "_cls": cls, **{f"_d_{f}": defaults.get(f) for f in fields_}}
    body = ", ".join(f if f in given else f"_d_{f}" for f in fields_)
    src = f"def make({', '.join(given)}):\n    return _new(_cls, ({body},))\n"
    exec(compile(src, f"<record_maker {cls.__name__}>", "exec"), env)  # noqa: S102 - generated from field names only
    return env["make"]


# The rule of an adjustment line that pays a draw a repriced locked month owed (ledger.close): when the
# rep's draw is recoverable, the engine adds it to the draw balance instead of this month's earnings.
LATE_DRAW_RULE = "late_change.draw"

COMPONENTS = (
    "commission",
    "true_up",
    "spiff",
    "bonus",
    "cap",
    "clawback",
    "override",
    "adjustment",
    "balance_recovery",
    "draw",
    "draw_recovery",
    "carry_forward",
)


@dataclass(slots=True)
class RepResult:
    rep_id: str
    plan_id: str
    currency: str
    measure: str
    quota: Decimal
    credited: Decimal
    attainment: Decimal
    ytd_quota: Decimal | None
    ytd_credited: Decimal | None
    tenure_month: int | None
    lines: list[Line]
    components: dict[str, Decimal]
    payout: Decimal
    state: RepState
    notes: list[str] = field(default_factory=list)
    parts: list[ComponentMeasure] = field(default_factory=list)  # per plan component: quota, credit, attainment


@dataclass(slots=True)
class PeriodResult:
    period: str
    reps: list[RepResult]
    exceptions: list[str]
    notices: list[str] = field(default_factory=list)  # what the caller is told besides exceptions (e.g. stale months)

    @property
    def total_payout(self) -> Decimal:
        return sum((r.payout for r in self.reps), ZERO)

    def rep(self, rep_id: str) -> RepResult | None:
        for r in self.reps:
            if r.rep_id == rep_id:
                return r
        return None

