"""Compiled plans: the plain frozen objects the engine reads (no pydantic).

``compile_plan`` resolves a validated :class:`PlanSpec` into a :class:`Plan`:
tiers become bands with lower/upper attainment bounds, the ramp becomes a
lookup, and every component keeps its :class:`Source`.

Plan language v2 (``plans/README.md``, "Components"): a plan with a ``components`` key is priced
by its :class:`Component` list; a v1 plan's top-level ``rates``/``accelerators`` form one
component, ``commission`` (:meth:`Plan.parts`).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from fnmatch import fnmatchcase
from types import MappingProxyType
from typing import Callable, Mapping

from compengine.core.errors import Source
from compengine.core.fx import FxPolicy
from compengine.core.currency import round_minor
from compengine.core.money import CONTEXT

ONE = Decimal("1.0")
HUNDRED = Decimal(100)
TWELVE = Decimal(12)


@dataclass(frozen=True, slots=True)
class Tier:
    index: int  # 1-based band number, as shown to people
    lower: Decimal  # attainment, exclusive
    upper: Decimal | None  # attainment, inclusive; None = open
    multiplier: Decimal

    def label(self) -> str:
        lo = f"{self.lower * 100:.0f}%"
        hi = "up" if self.upper is None else f"{self.upper * 100:.0f}%"
        return f"band {self.index} ({lo}–{hi})" if self.upper is not None else f"band {self.index} (over {lo})"


@dataclass(frozen=True, slots=True)
class RampStep:
    first: int
    last: int
    quota_pct: Decimal


@dataclass(frozen=True, slots=True)
class Spiff:
    id: str
    amount: Decimal
    deal_type: str | None
    min_term_months: int | None
    min_amount: Decimal | None
    product: str | None

    def matches(self, deal_type: str, term_months: int | None, amount: Decimal, product: str | None) -> bool:
        if self.deal_type is not None and deal_type != self.deal_type:
            return False
        if self.min_term_months is not None and (term_months or 0) < self.min_term_months:
            return False
        if self.min_amount is not None and amount < self.min_amount:
            return False
        if self.product is not None and product != self.product:
            return False
        return True


@dataclass(frozen=True, slots=True)
class Draw:
    amount: Decimal
    months: int
    recoverable: bool


# The deal columns a component's ``measure`` and a rule's ``when`` may name (engine.records.Deal's fields, which
# re-exports this tuple: the plans layer may not import the engine). Besides these: ``category`` (products.csv) and
# the attributes a plan declares in its ``attributes`` key (further deals.csv columns).
# (Not ``owner_id``: a credit does not carry the deal's owner, so a condition on it could never hold.)
DEAL_FIELDS = ("deal_id", "account", "deal_type", "currency", "product", "amount", "quantity", "cost", "term_months",
               "close_date")
CATEGORY = "category"  # products.csv's column, an attribute of every deal whose product has one

PERIOD_MONTHS: Mapping[str, int] = MappingProxyType({"month": 1, "quarter": 3, "half": 6, "year": 12})


@dataclass(frozen=True, slots=True)
class Condition:
    """One key of a component's ``measure`` or a rule's ``when``: the deal's ``field`` (a column or an
    attribute) matches any of ``patterns`` (``*`` and ``?`` globs, case-sensitive, as fnmatchcase)."""

    field: str
    patterns: tuple[str, ...]

    def matches(self, value: str | None) -> bool:
        """``value`` is one of the patterns, or matches one as a glob; a deal without the value never matches."""
        if value is None:
            return False
        return any(value == p or (("*" in p or "?" in p or "[" in p) and fnmatchcase(value, p)) for p in self.patterns)

    def text(self) -> str:
        """``product=Platform*`` or ``deal_type=new_logo|expansion``."""
        return f"{self.field}={'|'.join(self.patterns)}"


def all_match(conditions: tuple[Condition, ...], deal) -> bool:  # deal: records.Deal | records.Credit
    """Every condition holds for the deal (an empty tuple: always)."""
    return all(c.matches(deal.attr(c.field)) for c in conditions)


@dataclass(frozen=True, slots=True)
class RateRule:
    """``rate_rules[index]`` of a component: the first whose ``when`` holds sets the credit's rate or a flat
    ``amount_per_deal`` (scaled by the split, like a SPIFF)."""

    index: int  # 0-based, as written in the file
    when: tuple[Condition, ...]
    rate: Decimal | None
    amount_per_deal: Decimal | None
    line: int | None = None  # file line of the rule


@dataclass(frozen=True, slots=True)
class CurvePoint:
    attainment: Decimal
    pct: Decimal  # share of the target paid at this attainment (1.0 = 100%)


@dataclass(frozen=True, slots=True)
class Component:
    """One quota component of a plan: its measure, base, quota period, rates and bands, or a bonus.

    v1 plans have one, ``commission``, built from their top-level keys (:func:`v1_component`)."""

    id: str
    type: str  # commission | bonus
    measure: tuple[Condition, ...] = ()  # which credits count (empty: all)
    base: str = "amount"  # amount | margin | quantity
    annual_quota: Decimal | None = None  # None: the rep's quota (quotas.csv, else the assignment's, else the plan's)
    period: str = "month"  # month | quarter | half | year
    rates: Mapping[str, Decimal] = field(default_factory=lambda: MappingProxyType({}))  # by deal type
    rate: Decimal | None = None  # one rate for every credit (instead of rates)
    rate_rules: tuple[RateRule, ...] = ()
    mode: str = "marginal"  # marginal | retroactive | hybrid
    tiers: tuple[Tier, ...] = (Tier(1, Decimal(0), None, ONE),)
    gate: Decimal | None = None  # bands above 100% pay only once the year's attainment reaches this
    per_deal: Decimal | None = None  # flat amount per credited deal, not scaled by split
    target: Decimal | None = None  # bonus: per year, spread over the quota periods
    of: tuple[str, ...] = ()  # bonus: the components whose attainment it pays on
    curve: tuple[CurvePoint, ...] = ()  # bonus: attainment -> pct of target, linear between points
    line: int | None = None  # file line of the component (None: built from v1 keys)
    index: int | None = None  # 0-based position in the file's ``components`` (None: built from v1 keys)

    @property
    def months(self) -> int:
        """Months in the component's quota period (1, 3, 6 or 12)."""
        return PERIOD_MONTHS[self.period]

    def key(self, *parts: str | int) -> str:
        """The key path of something in this component, for :meth:`Plan.rule_source`: ``components[0].rates.new_logo``
        (a v1 plan's component is its top-level keys: ``rates.new_logo``, ``accelerators.tiers[1]``)."""
        out = "" if self.index is None else f"components[{self.index}]"
        for p in parts:
            out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
        return out

    def describe(self) -> str:
        """One line for ``compengine plans validate``: id, base, measure, period, rates and rules, mode."""
        if self.type == "bonus":
            return (f"{self.id}: bonus, target {self.target:,} a year on {', '.join(self.of)}; per {self.period}; "
                    f"curve of {len(self.curve)} point{'s' if len(self.curve) != 1 else ''}")
        measure = " ".join(c.text() for c in self.measure) or "every credit"
        quota = "rep's quota" if self.annual_quota is None else f"quota {self.annual_quota:,}"
        pricing = []
        if self.rates:
            pricing.append("rates by deal type")
        if self.rate is not None:
            pricing.append(f"rate {self.rate}")
        if self.rate_rules:
            pricing.append(f"{len(self.rate_rules)} rule{'s' if len(self.rate_rules) != 1 else ''}")
        if self.per_deal is not None:
            pricing.append(f"{self.per_deal} per deal")
        bands = f"{len(self.tiers)} band{'s' if len(self.tiers) != 1 else ''}"
        gate = f", gate at {self.gate * 100:.0f}% of the year" if self.gate is not None else ""
        return (f"{self.id}: {self.base} of {measure}; per {self.period}, {quota}; "
                f"{', '.join(pricing) or 'no rate'}; {self.mode}, {bands}{gate}")

    def rate_for(self, deal) -> tuple[Decimal | None, Decimal | None, RateRule | None]:  # deal: Credit
        """(rate, amount_per_deal, rule) for a credit: the first matching rule, else ``rate``, else ``rates``
        by deal type (a deal type the plan has no rate for: rate 0)."""
        for r in self.rate_rules:
            if all_match(r.when, deal):
                return r.rate, r.amount_per_deal, r
        if self.rate is not None:
            return self.rate, None, None
        return self.rates.get(deal.deal_type, Decimal(0)), None, None

    def curve_pct(self, attainment: Decimal) -> Decimal:
        """The curve at ``attainment``: 0 below the first point, linear between points, flat beyond the last."""
        pts = self.curve
        if not pts or attainment < pts[0].attainment:
            return Decimal(0)
        for a, b in zip(pts, pts[1:]):
            if attainment <= b.attainment:
                if b.attainment == a.attainment:
                    return b.pct
                return a.pct + (b.pct - a.pct) * (attainment - a.attainment) / (b.attainment - a.attainment)
        return pts[-1].pct


@dataclass(frozen=True, slots=True)
class ClawbackStep:
    """``clawback.schedule[i]``: a cancellation up to ``upto_days`` after close (and after the previous step's)
    reverses ``pct`` percent of what was paid on the deal."""

    upto_days: int
    pct: Decimal  # percent of what was paid that is reversed (100 = all)


@dataclass(frozen=True, slots=True)
class ExampleCredit:
    """One credit of an example: a deal of ``amount`` closed on ``close_date`` (None: the month's 15th),
    credited ``split_pct`` percent to the example's rep as a ``primary`` or ``overlay`` split."""

    deal_type: str
    amount: Decimal
    close_date: date | None = None
    term_months: int | None = None
    product: str | None = None
    split_pct: Decimal = HUNDRED
    role: str = "primary"
    quantity: Decimal = Decimal(1)
    cost: Decimal = Decimal(0)
    attrs: tuple[tuple[str, str], ...] = ()  # sorted by name


@dataclass(frozen=True, slots=True)
class PlanExample:
    """A scenario a plan file carries with the payout it must give (plans/README.md, "Examples")."""

    name: str
    month: str  # YYYY-MM
    quota: Decimal | None  # the month's quota before any ramp (None: the plan's annual / 12)
    tenure_month: int | None  # the rep's tenure month in ``month`` (None: no hire date, so no ramp and no draw)
    credits: tuple[ExampleCredit, ...]
    reports: tuple[ExampleCredit, ...]  # a direct report's credits (overrides)
    expect: tuple[tuple[str, Decimal], ...]  # (component or "payout", amount), in file order
    line: int | None = None  # where the example starts in its file


# Plan.rule_source's texts: (file, digest, keys) -> (the plan's line_of mapping, text)
_RULE_SOURCES: dict[tuple, tuple[Mapping[str, int], str]] = {}


@dataclass(frozen=True, slots=True)
class Plan:
    id: str
    name: str
    currency: str
    rounding: str
    annual_quota: Decimal
    measure: str  # period | ytd
    rates: Mapping[str, Decimal]
    mode: str  # marginal | retroactive
    tiers: tuple[Tier, ...]
    ramp: tuple[RampStep, ...]
    cap: Decimal | None
    spiffs: tuple[Spiff, ...]
    clawback_days: int | None
    draw: Draw | None
    override_rate: Decimal | None
    source: Source
    text: str
    digest: str
    proration: str = "calendar_days"  # calendar_days | none: a part-month assignment's quota (and cap)
    effective_from: date | None = None  # plan versions: in force from this day (None: from the beginning)
    effective_to: date | None = None  # ... through this day, inclusive (None: open-ended)
    fx: FxPolicy = FxPolicy()  # plan key fx: which day's rate converts a deal in another currency, and the base
    # plan language v2 (plans/README.md). ``components`` empty: a v1 plan, priced by the v1 keys above;
    # :meth:`parts` gives its single component.
    components: tuple[Component, ...] = ()
    override_levels: tuple[Decimal, ...] = ()  # level 1 = direct reports, 2 = their reports, ... (v1: (rate,))
    override_base: str = "credit"  # credit | commission
    clawback_schedule: tuple[ClawbackStep, ...] = ()  # share reversed by days since close (empty: all of it)
    clawback_prorate: str | None = None  # "term": reverse the unearned share of the deal's term
    negative: str = "carry"  # carry | pay: what a month whose lines sum below zero does
    # every key path of the file ("rates.new_logo", "components[0].rate_rules[1]", "spiffs[0]") -> its line
    line_of: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    attributes: tuple[str, ...] = ()  # deal attributes the plan declares (``attributes`` key)
    examples: tuple[PlanExample, ...] = ()  # scenarios the plan must pay as written (engine.examples runs them); last

    @property
    def v2(self) -> bool:
        """Priced by components (the plan has a ``components`` key)."""
        return bool(self.components)

    def parts(self) -> tuple[Component, ...]:
        """The plan's components; a v1 plan's single ``commission`` component from its top-level keys."""
        return self.components or (v1_component(self),)

    def component(self, component_id: str) -> Component | None:
        """The component of that id (a v1 plan: ``commission``), or None."""
        return next((c for c in self.parts() if c.id == component_id), None)

    def rule_source(self, *keys: str) -> str:
        """``plans/x.yaml:12 @ab12cd34``: where a rule is written (``:11,17`` for a rate and its band), and the
        plan version (the first 8 characters of its digest)."""
        # a close asks the same few rules of each plan for every rep: the text is kept, keyed by what makes it
        # (the file, the digest, the keys) and valid only for the same line_of mapping (held in the entry)
        cache_key = (self.source.file, self.digest, keys)
        hit = _RULE_SOURCES.get(cache_key)
        if hit is not None and hit[0] is self.line_of:
            return hit[1]
        lines = [str(n) for n in dict.fromkeys(self.line_of.get(k) for k in keys) if n]
        at = f"{self.source.file}:{','.join(lines)}" if lines else self.source.file
        out = f"{at} @{self.digest[:8]}" if self.digest else at
        if len(_RULE_SOURCES) >= 10_000:
            _RULE_SOURCES.clear()
        _RULE_SOURCES[cache_key] = (self.line_of, out)
        return out

    def clawback_share(self, close_date: date, cancelled_on: date, term_months: int | None) -> Decimal:
        """The share (0..1) of what was paid on a deal that a cancellation reverses (within the window:
        :meth:`clawback_applies`). ``schedule``: the pct of the first step whose ``upto_days`` the days since
        close do not exceed, 0 after the last step; ``prorate: term``: the unexpired share of the deal's term
        (term end = close date + term months), a deal without a term in full; neither: all of it."""
        days = (cancelled_on - close_date).days
        if self.clawback_prorate == "term" and term_months:
            end = _add_months(close_date, term_months)
            term_days = (end - close_date).days
            return min(ONE, max(Decimal(0), Decimal(term_days - days) / Decimal(term_days)))
        if not self.clawback_schedule:
            return ONE
        for step in self.clawback_schedule:
            if days <= step.upto_days:
                return step.pct / HUNDRED
        return Decimal(0)

    def ramp_pct(self, tenure: int | None) -> Decimal:
        """Quota percent for a tenure month (100 when no ramp step covers it)."""
        if tenure is not None:
            for step in self.ramp:
                if step.first <= tenure <= step.last:
                    return step.quota_pct
        return HUNDRED

    def monthly_quota(self, annual: Decimal | None, tenure: int | None) -> Decimal:
        """annual / 12 x ramp percent, rounded once to the plan currency's minor unit (the quota boundary)."""
        annual = self.annual_quota if annual is None else annual
        pct = self.ramp_pct(tenure)
        return round_minor(CONTEXT.divide(CONTEXT.multiply(annual, pct), TWELVE * HUNDRED), self.currency, self.rounding)

    def rate(self, deal_type: str) -> Decimal:
        return self.rates[deal_type]

    def in_draw(self, tenure: int | None) -> bool:
        return self.draw is not None and tenure is not None and 1 <= tenure <= self.draw.months

    def clawback_applies(self, close_date: date, cancelled_on: date | None) -> bool:
        if cancelled_on is None or self.clawback_days is None:
            return False
        return 0 <= (cancelled_on - close_date).days <= self.clawback_days


def _add_months(d: date, months: int) -> date:
    """The same day ``months`` later (the month's last day when it is shorter: Jan 31 + 1 = Feb 28)."""
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def v1_component(plan: Plan) -> Component:
    """A v1 plan as its single component ``commission`` (rates by deal type, its bands, its quota)."""
    return Component(id="commission", type="commission", annual_quota=None,
                     period="year" if plan.measure == "ytd" else "month", rates=plan.rates, mode=plan.mode,
                     tiers=plan.tiers)


def _credit(c) -> ExampleCredit:  # c: ExampleCreditSpec
    return ExampleCredit(c.deal_type, c.amount, c.close_date, c.term_months, c.product, c.split_pct, c.role,
                         c.quantity, c.cost, tuple(sorted(c.attributes.items())))


def compile_examples(spec, line_of: Callable[[tuple], int | None] | None = None) -> tuple[PlanExample, ...]:
    """A PlanSpec's examples; ``line_of`` gives the line of a key path (the loader's ``_Located.line_of``)."""
    return tuple(
        PlanExample(e.name, e.month, e.quota, e.tenure_month, tuple(map(_credit, e.credits)),
                    tuple(map(_credit, e.reports)), tuple(e.expect.items()),
                    line_of(("examples", i)) if line_of is not None else None)
        for i, e in enumerate(spec.examples)
    )


def _tiers(acc) -> tuple[str, tuple[Tier, ...]]:  # acc: AcceleratorsSpec | ComponentAcceleratorsSpec | None
    """(mode, bands) of an ``accelerators`` section; none: marginal, one open band at x1.0."""
    if acc is None:
        return "marginal", (Tier(1, Decimal(0), None, ONE),)
    tiers: list[Tier] = []
    lower = Decimal(0)
    for i, t in enumerate(acc.tiers, start=1):
        tiers.append(Tier(i, lower, t.upto, t.multiplier))
        if t.upto is not None:
            lower = t.upto
    return acc.mode, tuple(tiers)


def _conditions(mapping: Mapping[str, tuple[str, ...]]) -> tuple[Condition, ...]:
    return tuple(Condition(k, tuple(v)) for k, v in mapping.items())


def _rates(r) -> Mapping[str, Decimal]:  # r: RatesSpec
    return MappingProxyType({"new_logo": r.new_logo, "expansion": r.expansion, "renewal": r.renewal})


def compile_components(spec, line_of: Callable[[tuple], int | None] | None = None) -> tuple[Component, ...]:
    """A v2 PlanSpec's ``components`` (empty for a v1 plan). A bonus without ``period`` takes the quota period
    of the first component in its ``of``."""
    if not spec.components:
        return ()
    at = line_of or (lambda loc: None)
    periods = {c.id: c.quota.period if c.quota is not None else "month" for c in spec.components if c.type != "bonus"}
    out: list[Component] = []
    for i, c in enumerate(spec.components):
        if c.type == "bonus":
            out.append(Component(
                id=c.id, type="bonus", period=c.period or periods[c.of[0]], target=c.target, of=tuple(c.of),
                curve=tuple(CurvePoint(p.attainment, p.pct) for p in c.curve), line=at(("components", i)), index=i,
            ))
            continue
        mode, tiers = _tiers(c.accelerators)
        gate = c.accelerators.gate if c.accelerators is not None else None
        out.append(Component(
            id=c.id, type="commission", measure=_conditions(c.measure), base=c.base,
            annual_quota=c.quota.annual if c.quota is not None else None,
            period=c.quota.period if c.quota is not None else "month",
            rates=_rates(c.rates) if c.rates is not None else MappingProxyType({}), rate=c.rate,
            rate_rules=tuple(
                RateRule(j, _conditions(r.when), r.rate, r.amount_per_deal, at(("components", i, "rate_rules", j)))
                for j, r in enumerate(c.rate_rules)
            ),
            mode=mode, tiers=tiers, gate=gate.annual_attainment if gate is not None else None, per_deal=c.per_deal,
            line=at(("components", i)), index=i,
        ))
    return tuple(out)


def compile_plan(spec, source: Source, text: str = "", digest: str = "",  # spec: PlanSpec
                 line_of: Callable[[tuple], int | None] | None = None, lines: Mapping[str, int] | None = None) -> Plan:
    """``line_of`` gives the line of a key path tuple (``("components", 0)``); ``lines`` is every key path of the
    file as text with its line (``"components[0].rate_rules[1]"``), kept as :attr:`Plan.line_of`."""
    components = compile_components(spec, line_of)
    if components:  # v2: priced by the components; the top-level rates and bands are not used
        mode, tiers = "marginal", (Tier(1, Decimal(0), None, ONE),)
        rates: Mapping[str, Decimal] = MappingProxyType({})
        measure = "ytd" if any(c.period != "month" for c in components) else "period"
    else:
        mode, tiers = _tiers(spec.accelerators)
        rates = _rates(spec.rates)
        measure = spec.quota.measure
    ramp = tuple(sorted((RampStep(s.months[0], s.months[1], s.quota_pct) for s in spec.ramp), key=lambda s: s.first))
    spiffs = tuple(
        Spiff(s.id, s.amount, s.when.deal_type, s.when.min_term_months, s.when.min_amount, s.when.product)
        for s in spec.spiffs
    )
    override, clawback = spec.override, spec.clawback
    if override is None:
        levels: tuple[Decimal, ...] = ()
    else:
        levels = (override.rate,) if override.rate is not None else tuple(override.levels or ())
    return Plan(
        id=spec.id,
        name=spec.name or spec.id,
        currency=spec.currency,
        rounding=spec.rounding,
        annual_quota=spec.quota.annual,
        measure=measure,
        rates=rates,
        mode=mode,
        tiers=tiers,
        ramp=ramp,
        cap=spec.cap.per_period if spec.cap else None,
        spiffs=spiffs,
        clawback_days=clawback.window_days if clawback else None,
        draw=Draw(spec.draw.amount, spec.draw.months, spec.draw.recoverable) if spec.draw else None,
        override_rate=levels[0] if levels else None,
        source=source,
        text=text,
        digest=digest,
        proration=spec.proration,
        effective_from=spec.effective_from,
        effective_to=spec.effective_to,
        fx=spec.fx if spec.fx is not None else FxPolicy(),
        components=components,
        override_levels=levels,
        override_base=override.base if override is not None else "credit",
        clawback_schedule=tuple(ClawbackStep(st.upto_days, st.pct) for st in clawback.schedule) if clawback else (),
        clawback_prorate=clawback.prorate if clawback else None,
        negative=spec.payout.negative if spec.payout is not None else "carry",
        line_of=MappingProxyType(dict(lines or {})),
        attributes=tuple(spec.attributes),
        examples=compile_examples(spec, line_of),
    )
