"""Plan language v2: a rep's month priced by plan component (plans/README.md, "Components").

The ``measure and rate`` stage of :mod:`compengine.engine.pipeline` hands a v2 plan's rep here.
For each commission component, in file order:

1. **select**: the month's credits whose deal satisfies the component's ``measure`` (a credit may
   count toward several components; one that counts toward none is an exception);
2. **base**: each credit's measured amount: its credit (``amount``), its share of the margin
   (``margin``: (amount - cost) x split, rounded once to the plan currency) or of the units
   (``quantity``: quantity x split, to 2 places);
3. **quota**: the quota period to date (``month``, calendar ``quarter``, ``half`` or ``year`` of the
   plan year): the sum of each month's annual quota x ramp percent / 1200, rounded once;
4. **rate**: the period-to-date base is consumed in deal order from the earlier months' total;
   each piece gets its band (``marginal``, ``retroactive`` or ``hybrid``; a ``gate`` holds bands
   above 100% at the band holding 100% until the year's attainment reaches it) and its rate (the
   first matching ``rate_rules`` entry, else ``rate``, else ``rates`` by deal type); a rule with
   ``amount_per_deal`` pays that flat amount x split instead;
5. **true-up**: a component measured over more than a month pays, each month, the period-to-date
   earnings minus what it paid earlier in the period (``RepState.component_paid``);
6. **per deal**: ``per_deal`` pays a flat amount per credited deal, not scaled by the split.

Then each ``bonus`` component pays ``target x months of the period to date / 12 x curve(attainment)``
on the combined attainment of the components it names, less what it paid earlier in the period.

Every line names its component, rule and band, and carries its credit, base, deal source and rule
source.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from decimal import Decimal

from compengine.core.currency import minor_units, quantum, round_minor
from compengine.core.money import CONTEXT, QUANTIZE, ZERO
from compengine.core.periods import Period, tenure_month
from compengine.engine.records import ComponentMeasure, Credit
from compengine.plans.model import Component, Plan, Tier, all_match

HUNDRED = Decimal(100)
TWELVE = Decimal(12)
TWELVE_HUNDRED = Decimal(1200)
QTY_PLACES = Decimal("0.01")


def price_components(month, m) -> None:  # noqa: ANN001 - pipeline.MonthContext, pipeline.RepMonth
    from compengine.engine import pipeline as pl  # the stages' helpers (pipeline imports this module lazily)

    plan: Plan = m.plan
    period: Period = month.period
    rep_id = m.rep_id
    counts = month.counts
    comps = plan.components
    commission = [(i, c) for i, c in enumerate(comps) if c.type == "commission"]
    on_plan = pl._months_on_plan(plan, month.assignments.get(rep_id, ()), period)
    if period not in on_plan:  # priced on the month-end assignment (a part-month month)
        on_plan[period] = m.assignment
    keyed: dict[tuple[int, int], Period] = {(x.year, x.month): x for x in on_plan}

    # the year's earlier credits on this plan: read when a component looks beyond the month
    prior: list[Credit] = []
    if any(c.period != "month" or c.gate is not None for _, c in commission):
        conv, theirs = month.conv, month.ytd_by_rep.get(rep_id, ())
        prior = sorted(
            (c for c in (conv.in_currency(theirs, plan) if conv is not None else theirs)
             if c.currency == plan.currency and (c.cancelled_on is None or counts(c, plan))
             and (c.close_date.year, c.close_date.month) in keyed and Period.of(c.close_date) != period),
            key=pl._credit_key)

    for c in m.mine:
        if not any(all_match(comp.measure, c) for _, comp in commission):
            month.exceptions.append(f"{rep_id}: {c.deal_id} ({c.deal_type}) matches no component of plan {plan.id}; "
                                    "not credited")

    same_tally = m.prior.ytd_year == period.year and m.prior.ytd_plan in (None, plan.id)
    paid_before = {(cid, key): amt for cid, key, amt in m.prior.component_paid} if same_tally else {}
    new_paid: list[tuple[str, str, Decimal]] = []
    measured: dict[str, tuple[str, Decimal, Decimal, list[Period]]] = {}  # id -> (key, quota, credited, months)
    first = True
    for i, comp in commission:
        key = pl._period_key(comp.period, period)
        months = sorted(x for x in on_plan if pl._period_key(comp.period, x) == key)
        base_of = _base_function(comp, plan)
        now = [c for c in m.mine if all_match(comp.measure, c)]
        before = [c for c in prior if all_match(comp.measure, c)
                  and pl._period_key(comp.period, keyed[(c.close_date.year, c.close_date.month)]) == key]
        quota = component_quota(month, m, comp, months, on_plan)
        prior_total = sum((base_of(c) for c in before), ZERO)
        credited = prior_total + sum((base_of(c) for c in now), ZERO)
        gate_ok = True
        if comp.gate is not None:
            year_months = sorted(on_plan)
            year_quota = component_quota(month, m, comp, year_months, on_plan, full_year=True)
            year_credit = sum((base_of(c) for c in prior if all_match(comp.measure, c)), ZERO) + \
                sum((base_of(c) for c in now), ZERO)
            gate_ok = year_quota > 0 and year_credit / year_quota >= comp.gate
            if not gate_ok:
                m.notes.append(f"{comp.id}: the year's attainment {pl._attain(year_credit, year_quota)} is below the gate "
                               f"{pl._pct(comp.gate)}: bands above 100% pay the 100% band's multiplier")
        rater = ComponentRater(plan, comp, i, quota, credited, gate_ok)
        earned_before = rater.total(before, ZERO, base_of)
        start_lines = len(m.lines)
        month_sum = rater.lines(m, now, prior_total, base_of, month.fx_notes)
        true_up = ZERO
        if comp.period != "month":
            paid = paid_before.get((comp.id, key), ZERO) - _clawed(month, m, plan, comp, key, keyed, first)
            true_up = earned_before - paid
            if true_up != 0:
                m.add("true_up", true_up, rule=f"components.{comp.id}.quota.period: {comp.period}", component=comp.id,
                      rule_source=plan.rule_source(f"components[{i}].quota"),
                      explain=(f"{comp.id} true-up: earlier credit of {key} {_amount(prior_total, comp, plan)} now earns "
                               f"{pl._fmt(earned_before)} at {key} attainment {pl._attain(credited, quota)}; "
                               f"{pl._fmt(paid)} paid so far"))
            new_paid.append((comp.id, key, earned_before + month_sum))
        if comp.per_deal is not None:
            each = round_minor(comp.per_deal, plan.currency, plan.rounding)
            for deal_id in dict.fromkeys(c.deal_id for c in now):
                c = next(x for x in now if x.deal_id == deal_id)
                m.add("commission", each, deal_id=deal_id, rule=f"components.{comp.id}.per_deal",
                      component=comp.id, role=c.role, split_pct=c.split_pct, deal_source=c.source,
                      rule_source=plan.rule_source(f"components[{i}].per_deal"),
                      explain=f"{deal_id} {c.deal_type} {c.account}: {comp.id} pays {pl._fmt(each)} per deal")
        paid_now = sum((ln.amount for ln in m.lines[start_lines:]), ZERO)
        m.commission += paid_now
        attainment = pl._attain_dec(credited, quota)
        m.parts.append(ComponentMeasure(comp.id, "commission", key, quota, credited, attainment, paid_now))
        measured[comp.id] = (key, quota, credited, months)
        if first:
            m.quota, m.credited, m.attainment = quota, credited, attainment
            first = False

    for i, comp in enumerate(comps):
        if comp.type != "bonus":
            continue
        named = [measured[x] for x in comp.of if x in measured]
        if not named:
            continue
        key, _q, _c, months = named[0]
        quota = sum((q for _k, q, _c2, _m in named), ZERO)
        credited = sum((c for _k, _q2, c, _m in named), ZERO)
        attainment = pl._attain_dec(credited, quota)
        pct = comp.curve_pct(attainment)
        share = Decimal(len(months))
        earned = round_minor(CONTEXT.divide(CONTEXT.multiply(CONTEXT.multiply(comp.target or ZERO, share), pct), TWELVE),
                             plan.currency, plan.rounding)
        paid = paid_before.get((comp.id, key), ZERO) if comp_period(comp, comps) != "month" else ZERO
        amount = earned - paid
        if amount != 0:
            m.add("bonus", amount, rule=f"components.{comp.id}.curve", component=comp.id,
                  rule_source=plan.rule_source(f"components[{i}].curve"),
                  explain=(f"Bonus {comp.id}: attainment {pl._attain(credited, quota)} of {', '.join(comp.of)} over {key} "
                           f"to date pays {pl._pct(pct)} of the target {pl._fmt(comp.target or ZERO)} x {len(months)}/12 = "
                           f"{pl._fmt(earned)}" + (f"; {pl._fmt(paid)} paid so far" if paid else "")))
        if comp_period(comp, comps) != "month":
            new_paid.append((comp.id, key, earned))
        m.parts.append(ComponentMeasure(comp.id, "bonus", key, quota, credited, attainment, amount))
    m.component_paid = tuple(sorted(new_paid))
    m.tally = ZERO  # a v2 plan's paid tallies are per component (component_paid)


def comp_period(comp: Component, comps: Sequence[Component]) -> str:
    """A bonus's quota period: the period of the first component it names."""
    if comp.type != "bonus":
        return comp.period
    for c in comps:
        if comp.of and c.id == comp.of[0]:
            return c.period
    return "month"


def _amount(x: Decimal, comp: Component, plan: Plan) -> str:
    return f"{x:,f}" if comp.base == "quantity" else f"{x:,.{minor_units(plan.currency)}f}"


def _base_function(comp: Component, plan: Plan) -> Callable[[Credit], Decimal]:
    """A credit's measured amount for the component: credit, margin share or unit share."""
    if comp.base == "margin":
        code, mode = plan.currency, plan.rounding

        def margin(c: Credit) -> Decimal:
            return round_minor(CONTEXT.divide(CONTEXT.multiply(c.deal_amount - c.cost, c.split_pct), HUNDRED), code, mode)

        return margin
    if comp.base == "quantity":
        def units(c: Credit) -> Decimal:
            return QUANTIZE["half_up"](CONTEXT.divide(CONTEXT.multiply(c.quantity, c.split_pct), HUNDRED), QTY_PLACES)

        return units
    return _credit_of


def _credit_of(c: Credit) -> Decimal:
    return c.credit


def component_quota(month, m, comp: Component, months: Sequence[Period], on_plan, *,  # noqa: ANN001
                    full_year: bool = False) -> Decimal:
    """The component's quota over ``months``: each month's annual quota x ramp percent / 1200, summed and
    rounded once. A month's annual quota: the rep's quotas.csv row for the plan and component in force at
    its end, else the component's ``quota.annual``, else the assignment's, else the plan's.
    ``full_year``: the whole year's quota at this month's annual (a gate's denominator)."""
    plan: Plan = m.plan
    rows = [q for q in month.quotas.get(m.rep_id, ()) if q.plan_id == plan.id and q.component == comp.id]
    if full_year:
        return _annual_of(rows, comp, m.assignment, plan, month.period)
    total = ZERO
    for x in months:
        if m.hire is not None and Period.of(m.hire) > x:
            continue
        annual = _annual_of(rows, comp, on_plan.get(x, m.assignment), plan, x)
        total += CONTEXT.multiply(annual, plan.ramp_pct(tenure_month(m.hire, x)))
    return round_minor(CONTEXT.divide(total, TWELVE_HUNDRED), plan.currency, plan.rounding)


def _annual_of(rows, comp: Component, assignment, plan: Plan, x: Period) -> Decimal:  # noqa: ANN001
    for q in rows:
        if q.active_on(x.end):
            return q.annual
    if comp.annual_quota is not None:
        return comp.annual_quota
    if assignment is not None and assignment.annual_quota is not None:
        return assignment.annual_quota
    return plan.annual_quota


def _clawed(month, m, plan: Plan, comp: Component, key: str, keyed, first: bool) -> Decimal:  # noqa: ANN001
    """Commission the component paid earlier in this quota period on deals clawed back this month: it leaves
    the period's paid tally (the clawback line reverses it), so the true-up re-bands the remaining deals."""
    from compengine.engine import pipeline as pl

    total = ZERO
    for x in month.cancels_by_rep.get(m.rep_id, ()):
        if not plan.clawback_applies(x.close_date, x.cancelled_on):
            continue
        paid_in = Period.parse(x.period)
        if (paid_in.year, paid_in.month) not in keyed or pl._period_key(comp.period, paid_in) != key:
            continue
        if x.components:
            total += dict(x.components).get(comp.id, ZERO)
        elif first:
            total += x.commission
    return total


class ComponentRater:
    """Bands and rates of one component over its period-to-date base."""

    __slots__ = ("plan", "comp", "index", "quota", "thresholds", "q100", "retro", "hybrid", "at100", "gate_ok",
                 "rounding", "unit", "cuts", "ends_at")

    def __init__(self, plan: Plan, comp: Component, index: int, quota: Decimal, total: Decimal, gate_ok: bool) -> None:
        self.plan, self.comp, self.index, self.quota, self.gate_ok, self.ends_at = plan, comp, index, quota, gate_ok, total
        code = plan.currency
        self.rounding = QUANTIZE[plan.rounding]
        self.unit = quantum(code)
        self.thresholds = [round_minor(quota * t.upper, code, plan.rounding) for t in comp.tiers if t.upper is not None] \
            if quota > 0 else []
        self.q100 = round_minor(quota, code, plan.rounding)
        self.at100 = self.band_at(self.q100) if quota > 0 else None
        self.retro = self.gated(self.band_at(total)) if comp.mode == "retroactive" and quota > 0 else None
        self.hybrid = self.band_at(min(total, self.q100)) if comp.mode == "hybrid" and quota > 0 else None
        # hybrid: everything up to quota is one piece (one multiplier); the bands cut only above it
        cuts = {t for t in self.thresholds if t >= self.q100} if comp.mode == "hybrid" else set(self.thresholds)
        if comp.mode == "hybrid" or not gate_ok:
            cuts.add(self.q100)
        self.cuts = sorted(cuts)

    def band_at(self, x: Decimal) -> Tier:
        for i, thr in enumerate(self.thresholds):
            if x <= thr:
                return self.comp.tiers[i]
        return self.comp.tiers[-1]

    def gated(self, t: Tier) -> Tier:
        """Bands above 100% pay the 100% band's multiplier until the year's attainment reaches the gate."""
        if self.gate_ok or t.lower < 1 or self.at100 is None:
            return t
        return self.at100

    def portions(self, pos: Decimal, amount: Decimal) -> list[tuple[Decimal, Tier | None]]:
        """(piece, the band that pays it) for ``amount`` consumed from cumulative ``pos``."""
        return [(take, paid) for take, paid, _band in self.pieces(pos, amount)]

    def pieces(self, pos: Decimal, amount: Decimal) -> list[tuple[Decimal, Tier | None, Tier | None]]:
        """(piece, the band that pays it, the band it lies in): they differ when a gate holds a band above 100%
        at the 100% band's multiplier."""
        if self.quota <= 0:
            return [(amount, None, None)]
        if self.retro is not None:
            return [(amount, self.retro, self.band_at(self.ends_at))]
        out: list[tuple[Decimal, Tier | None, Tier | None]] = []
        remaining = amount
        while remaining > 0:
            nxt = next((t for t in self.cuts if pos < t), None)
            take = remaining if nxt is None else min(remaining, nxt - pos)
            tier = self.band_at(pos + take)
            if self.hybrid is not None and pos < self.q100:
                tier = self.hybrid
            out.append((take, self.gated(tier), tier))
            pos += take
            remaining -= take
        if not out:
            band = self.band_at(pos)
            out.append((amount, self.gated(band), band))
        return out

    def _rate(self, c: Credit) -> tuple[Decimal | None, Decimal | None, str, str]:
        comp, i = self.comp, self.index
        rate, per_deal, rule = comp.rate_for(c)
        if rule is not None:
            return rate, per_deal, f"components.{comp.id}.rate_rules[{rule.index}]", f"components[{i}].rate_rules[{rule.index}]"
        if comp.rate is not None:
            return rate, None, f"components.{comp.id}.rate", f"components[{i}].rate"
        return rate, None, f"components.{comp.id}.rates.{c.deal_type}", f"components[{i}].rates.{c.deal_type}"

    def total(self, credits: Sequence[Credit], start: Decimal, base_of: Callable[[Credit], Decimal]) -> Decimal:
        """The sum of the rounded lines ``credits`` earn from cumulative ``start`` (no text)."""
        total = ZERO
        pos = start
        for c in credits:
            b = base_of(c)
            rate, per_deal, _r, _s = self._rate(c)
            if per_deal is not None:
                total += self.rounding(per_deal * c.split_pct / HUNDRED, self.unit)
            else:
                for portion, tier in self.portions(pos, b):
                    mult = tier.multiplier if tier is not None else Decimal("1.0")
                    total += self.rounding(portion * rate * mult, self.unit)  # type: ignore[operator]
            pos += b
        return total

    def lines(self, m, credits: Sequence[Credit], start: Decimal, base_of: Callable[[Credit], Decimal],  # noqa: ANN001
              fx_notes) -> Decimal:  # noqa: ANN001
        """Add the commission lines of ``credits`` to the rep's month; returns their sum."""
        from compengine.engine import pipeline as pl

        plan, comp = self.plan, self.comp
        places = minor_units(plan.currency)
        pos = start
        total = ZERO
        what = {"amount": "credit", "margin": "margin", "quantity": "units"}[comp.base]
        for c in credits:
            b = base_of(c)
            rate, per_deal, rule, key = self._rate(c)
            head = f"{c.deal_id} {c.deal_type} {c.account}: "
            if fx_notes:
                converted = fx_notes.get((m.rep_id, c.deal_id, c.role, plan.currency))
                if converted is not None:
                    head += f"{converted}; "
            share = "" if c.split_pct == HUNDRED and c.role == "primary" else f" ({c.role} {pl._pct(c.split_pct / HUNDRED)})"
            if per_deal is not None:
                amount = self.rounding(per_deal * c.split_pct / HUNDRED, self.unit)
                m.add("commission", amount, deal_id=c.deal_id, credit=b if comp.base == "amount" else None, rule=rule,
                      component=comp.id, role=c.role, split_pct=c.split_pct, deal_source=c.source,
                      rule_source=plan.rule_source(key),
                      explain=f"{head}{comp.id} {rule.split('.', 2)[2]} pays {pl._fmt(per_deal)} per deal{share} = {pl._fmt(amount)}")
                total += amount
                pos += b
                continue
            at = pos
            for portion, tier, lies_in in self.pieces(pos, b):
                below_quota, at = at < self.q100, at + portion
                mult = tier.multiplier if tier is not None else Decimal("1.0")
                base = portion * rate  # type: ignore[operator]
                amount = self.rounding(base * mult, self.unit)
                base = self.rounding(base, self.unit)  # the part at the base rate, rounded once
                tier_no = tier.index if tier is not None else None
                band = tier.label() if tier is not None else "no quota"
                if self.hybrid is not None and below_quota:
                    band += (" up to quota, the band holding 100%" if self.ends_at > self.q100
                             else " up to quota, the band where attainment ends")
                elif lies_in is not None and lies_in is not tier:
                    band = f"{lies_in.label()}, held at x{tier.multiplier} by the gate"  # type: ignore[union-attr]
                full_rule = rule + (f" x accelerators.tiers[{tier_no - 1}]" if tier_no and len(comp.tiers) > 1 else "")
                shown = f"{portion:,f}" if comp.base == "quantity" else f"{portion:,.{places}f}"
                m.add("commission", amount, deal_id=c.deal_id, credit=portion if comp.base == "amount" else None,
                      rate=rate, multiplier=mult, tier=tier_no, rule=full_rule, component=comp.id, role=c.role,
                      split_pct=c.split_pct, base=base, deal_source=c.source,
                      rule_source=plan.rule_source(key, f"components[{self.index}].accelerators.tiers[{tier_no - 1}]")
                      if tier_no and len(comp.tiers) > 1 else plan.rule_source(key),
                      explain=(f"{head}{comp.id} {what} {shown}{share} in {band} at {pl._pct(rate)} x {mult} "  # type: ignore[arg-type]
                               f"({comp.mode}) = {amount:,.{places}f}"))
                total += amount
            pos += b
        return total
