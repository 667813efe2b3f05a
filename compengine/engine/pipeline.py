"""The calculation: pure stages over batches.

``credit`` turns deals and splits into credits; ``calculate_period`` then runs,
for every rep with a plan in the month: **classify** (which plan, which credits
count), **measure** (quota, credit, attainment), **rate** (commission lines by
tier, ytd true-ups), **adjust** (SPIFFs, cap, overrides, clawbacks, manual
adjustments) and **pay** (balances, draws, carry-forward).

No I/O, no clock, no globals: the period and every prior state are arguments,
and the output is sorted by an explicit key, so reruns are identical.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from compengine.core.errors import CompError, Source
from compengine.core.money import CONTEXT, ZERO, allocate, round_money
from compengine.core.periods import Period, tenure_month
from compengine.engine.records import (
    COMPONENTS,
    EMPTY_STATE,
    Adjustment,
    Assignment,
    Credit,
    Deal,
    Line,
    PeriodResult,
    Rep,
    RepResult,
    RepState,
    Split,
)
from compengine.plans.model import Plan, Tier

HUNDRED = Decimal(100)
ATTAINMENT_PLACES = Decimal("0.0001")
ROLE_ORDER = {"primary": 0, "overlay": 1}


@dataclass(frozen=True, slots=True)
class Cancellation:
    """A deal closed in an earlier month and cancelled in this one: what ``rep_id`` earned on it."""

    rep_id: str
    deal_id: str
    close_date: date
    cancelled_on: date
    commission: Decimal  # commission lines paid on the deal
    other: Decimal  # SPIFF and override lines paid on the deal
    period: str  # the month it was paid in


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while records are made by the million.

    The engine's records (deals, credits, lines) hold no reference cycles, so
    reference counting frees them; left on, the collector would rescan every live
    record again and again (about a third of the time of a month of a million
    credit lines). Changes no result; the previous setting is restored on exit.
    Usable as a decorator.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


# --------------------------------------------------------------------------- credit


def check_splits(deals: Iterable[Deal], splits: Iterable[Split], splits_file: str = "splits.csv") -> list[CompError]:
    """Primary splits of a deal must sum to exactly 100; one receiver appears once per deal."""
    errors: list[CompError] = []
    by_deal: dict[str, list[Split]] = defaultdict(list)
    for s in splits:
        by_deal[s.deal_id].append(s)
    known = {d.deal_id for d in deals}
    for deal_id, rows in by_deal.items():
        first = rows[0].source or Source(splits_file)
        if deal_id not in known:
            errors.append(CompError(first.at("deal_id"), f"unknown deal {deal_id!r}"))
            continue
        seen: set[str] = set()
        for s in rows:
            if s.rep_id in seen:
                errors.append(CompError((s.source or first).at("rep_id"), f"rep {s.rep_id!r} appears twice on deal {deal_id}"))
            seen.add(s.rep_id)
        prim = [s.split_pct for s in rows if s.role == "primary"]
        total = sum(prim, Decimal(0))
        if prim and total != HUNDRED:
            errors.append(
                CompError(first.at("split_pct"), f"primary splits of deal {deal_id} sum to {total}, not 100")
            )
    return errors


_make_credit = Credit._make  # from a tuple: faster than the keyword-parsing constructor


def credit_deals(deals: Iterable[Deal], splits_by_deal: Mapping[str, Sequence[Split]]) -> list[Credit]:
    """Credit each deal to its receivers: ``amount x split_pct / 100``.

    Without split rows the owner gets 100%. Primary parts are allocated so they add
    up to the deal amount exactly (leftover cents to the largest remainders, ties
    by rep_id); each overlay is
    rounded on its own and reduces nobody.
    """
    out: list[Credit] = []
    append = out.append
    hundred = [HUNDRED]
    for d in deals:
        rows = splits_by_deal.get(d.deal_id)
        base = (d.deal_id, d.deal_type, d.close_date)
        tail = (d.amount, d.account, d.term_months, d.product, d.cancelled_on, d.currency)
        if not rows:
            append(_make_credit((d.owner_id, *base, d.amount, "primary", hundred[0], *tail)))
            continue
        # by receiver, so leftover cents go out in the same order whatever the row order
        prim = sorted((s for s in rows if s.role == "primary"), key=lambda s: s.rep_id)
        if prim:
            parts = allocate(d.amount, [s.split_pct for s in prim])
            for s, part in zip(prim, parts):
                append(_make_credit((s.rep_id, *base, part, "primary", s.split_pct, *tail)))
        else:
            append(_make_credit((d.owner_id, *base, d.amount, "primary", HUNDRED, *tail)))
        for s in rows:
            if s.role == "overlay":
                part = round_money(CONTEXT.divide(CONTEXT.multiply(d.amount, s.split_pct), HUNDRED))
                append(_make_credit((s.rep_id, *base, part, "overlay", s.split_pct, *tail)))
    return out


def group_splits(splits: Iterable[Split]) -> dict[str, list[Split]]:
    out: dict[str, list[Split]] = defaultdict(list)
    for s in splits:
        out[s.deal_id].append(s)
    return dict(out)


# --------------------------------------------------------------------------- classify


def resolve_assignment(candidates: Sequence[Assignment], period: Period) -> Assignment | None:
    """The rep's assignment for the month: the one active on its last day, else the latest overlapping."""
    best: Assignment | None = None
    for a in candidates:
        if not a.overlaps(period.start, period.end):
            continue
        if a.active_on(period.end):
            return a
        if best is None or a.start > best.start:
            best = a
    return best


def group_assignments(assignments: Iterable[Assignment]) -> dict[str, list[Assignment]]:
    out: dict[str, list[Assignment]] = defaultdict(list)
    for a in assignments:
        out[a.rep_id].append(a)
    return dict(out)


def _fmt(x: Decimal) -> str:
    return f"{x:,.2f}"


def _pct(x: Decimal) -> str:
    return f"{(x * 100).normalize():f}%"


# --------------------------------------------------------------------------- rate


def _thresholds(plan: Plan, quota: Decimal) -> list[Decimal]:
    """Cent thresholds of the bands: quota x upto, rounded once (the band boundary)."""
    return [round_money(quota * t.upper, plan.rounding) for t in plan.tiers if t.upper is not None]


class _Rater:
    """Rates one rep's credits against the plan's bands (marginal or retroactive)."""

    __slots__ = ("plan", "quota", "thresholds", "rounding", "retro_tier")

    def __init__(self, plan: Plan, quota: Decimal, total_credit: Decimal) -> None:
        self.plan = plan
        self.quota = quota
        self.rounding = plan.rounding
        self.thresholds = _thresholds(plan, quota) if quota > 0 else []
        self.retro_tier: Tier | None = None
        if plan.mode == "retroactive" and quota > 0:
            self.retro_tier = self.band_at(total_credit)

    def band_at(self, credit: Decimal) -> Tier:
        """The band a cumulative credit lands in (a boundary belongs to the lower band)."""
        for i, thr in enumerate(self.thresholds):
            if credit <= thr:
                return self.plan.tiers[i]
        return self.plan.tiers[-1]

    def portions(self, start: Decimal, credit: Decimal) -> list[tuple[Decimal, Tier | None]]:
        """Split a credit consumed from cumulative ``start`` into (portion, band) pieces."""
        if self.quota <= 0:
            return [(credit, None)]
        if self.retro_tier is not None:
            return [(credit, self.retro_tier)]
        out: list[tuple[Decimal, Tier | None]] = []
        pos = start
        remaining = credit
        tiers = self.plan.tiers
        thr = self.thresholds
        while remaining > 0:
            b = len(thr)
            for i, t in enumerate(thr):
                if pos < t:
                    b = i
                    break
            take = remaining if b == len(thr) else min(remaining, thr[b] - pos)
            out.append((take, tiers[b]))
            pos += take
            remaining -= take
        if not out:
            out.append((credit, self.band_at(start)))
        return out


def _commission_lines(
    rater: _Rater, rep_id: str, period: str, credits: Sequence[Credit], start: Decimal
) -> tuple[list[Line], Decimal]:
    plan = rater.plan
    lines: list[Line] = []
    pos = start
    rounding = rater.rounding
    # what depends only on (deal type, band): worked out once per call, not per line
    per_band: dict[tuple[str, int], tuple[Decimal, Decimal, str, int | None, str, str]] = {}
    for c in credits:
        share = "" if c.split_pct == HUNDRED and c.role == "primary" else f" ({c.role} {_pct(c.split_pct / HUNDRED)} of {_fmt(c.deal_amount)})"
        for portion, tier in rater.portions(pos, c.credit):
            key = (c.deal_type, tier.index if tier is not None else 0)
            known = per_band.get(key)
            if known is None:
                rate = plan.rates[c.deal_type]
                mult = tier.multiplier if tier is not None else Decimal("1.0")
                band = tier.label() if tier is not None else "no quota this month"
                tier_no = tier.index if tier is not None else None
                rule = f"rates.{c.deal_type}" + (f" x accelerators.tiers[{tier_no - 1}]" if tier_no else "")
                known = per_band[key] = (rate, mult, band, tier_no, rule, _pct(rate))
            rate, mult, band, tier_no, rule, rate_pct = known
            amount = round_money(portion * rate * mult, rounding)
            explain = (
                f"{c.deal_id} {c.deal_type} {c.account}: credit {_fmt(portion)}{share} in {band} "
                f"at {rate_pct} x {mult} = {_fmt(amount)}"
            )
            lines.append(Line(rep_id, period, 0, "commission", amount, c.deal_id, portion, rate, mult, tier_no, rule, explain,
                              role=c.role, split_pct=c.split_pct))
        pos += c.credit
    return lines, pos


def _earnings_total(rater: _Rater, credits: Sequence[Credit], start: Decimal) -> Decimal:
    """Sum of the rounded commission lines the credits would earn (no explain text)."""
    plan = rater.plan
    total = ZERO
    pos = start
    rounding = rater.rounding
    for c in credits:
        rate = plan.rates[c.deal_type]
        for portion, tier in rater.portions(pos, c.credit):
            mult = tier.multiplier if tier is not None else Decimal("1.0")
            total += round_money(portion * rate * mult, rounding)
        pos += c.credit
    return total


# --------------------------------------------------------------------------- calculate


_make_line = Line._make


def _credit_key(c: Credit) -> tuple:
    return (c.close_date, c.deal_id, ROLE_ORDER.get(c.role, 9))


def calculate_period(
    period: Period,
    plans: Mapping[str, Plan],
    reps: Mapping[str, Rep],
    assignments: Mapping[str, Sequence[Assignment]],
    credits: Sequence[Credit],
    *,
    ytd_credits: Sequence[Credit] = (),
    cancellations: Sequence[Cancellation] = (),
    adjustments: Sequence[Adjustment] = (),
    state: Mapping[str, RepState] | None = None,
) -> PeriodResult:
    """Calculate one month for every rep with a plan assignment in it.

    ``credits`` are the credits of deals closed in the month; ``ytd_credits`` those
    closed earlier in the same plan year (read only by ``ytd`` plans);
    ``cancellations`` what each receiver earned on earlier deals cancelled in the
    month; ``state`` each rep's balances after the previous month.
    """
    with localcontext(CONTEXT), gc_paused():
        return _calculate(period, plans, reps, assignments, credits, ytd_credits, cancellations, adjustments, state or {})


def _calculate(
    period: Period,
    plans: Mapping[str, Plan],
    reps: Mapping[str, Rep],
    assignments: Mapping[str, Sequence[Assignment]],
    credits: Sequence[Credit],
    ytd_credits: Sequence[Credit],
    cancellations: Sequence[Cancellation],
    adjustments: Sequence[Adjustment],
    state: Mapping[str, RepState],
) -> PeriodResult:
    pstr = str(period)
    exceptions: list[str] = []

    # classify: plan per rep in the month
    active: dict[str, tuple[Assignment, Plan]] = {}
    for rep_id in sorted(assignments):
        a = resolve_assignment(assignments[rep_id], period)
        if a is None:
            continue
        plan = plans.get(a.plan_id)
        if plan is None:
            exceptions.append(f"{rep_id}: plan {a.plan_id!r} is not loaded; rep skipped")
            continue
        active[rep_id] = (a, plan)

    period_end = period.end

    def counts(c: Credit, plan: Plan) -> bool:
        """False when the deal was cancelled by the end of the month, inside the plan's clawback window."""
        return not (
            c.cancelled_on is not None and c.cancelled_on <= period_end and plan.clawback_applies(c.close_date, c.cancelled_on)
        )

    month_by_rep: dict[str, list[Credit]] = defaultdict(list)
    for c in credits:
        month_by_rep[c.rep_id].append(c)
    for cs in month_by_rep.values():  # in deal order once (stable), for the rep's own lines and the overrides
        cs.sort(key=_credit_key)
    ytd_by_rep: dict[str, list[Credit]] = defaultdict(list)
    for c in ytd_credits:
        ytd_by_rep[c.rep_id].append(c)
    for rep_id in sorted(month_by_rep):
        if rep_id not in active:
            cs = month_by_rep[rep_id]
            total = sum((c.credit for c in cs), ZERO)
            exceptions.append(
                f"{rep_id}: {len(cs)} credit line(s) totalling {_fmt(total)} but no plan assignment in {pstr}; not paid"
            )
    reports_of: dict[str, list[str]] = defaultdict(list)
    for rep_id, rep in reps.items():
        if rep.manager_id:
            reports_of[rep.manager_id].append(rep_id)
    cancels_by_rep: dict[str, list[Cancellation]] = defaultdict(list)
    for x in cancellations:
        cancels_by_rep[x.rep_id].append(x)
        if x.rep_id not in active:
            exceptions.append(f"{x.rep_id}: {x.deal_id} cancelled on {x.cancelled_on} but no plan assignment in {pstr}; nothing reversed")
    adjust_by_rep: dict[str, list[Adjustment]] = defaultdict(list)
    for adj in adjustments:
        if adj.rep_id in active:
            adjust_by_rep[adj.rep_id].append(adj)
        else:
            exceptions.append(f"{adj.rep_id}: adjustment {_fmt(adj.amount)} ({adj.reason}) but no plan assignment in {pstr}; not paid")

    results: list[RepResult] = []
    for rep_id, (assignment, plan) in active.items():
        rep = reps.get(rep_id)
        hire = rep.hire_date if rep else None
        tenure = tenure_month(hire, period)
        prior = state.get(rep_id, EMPTY_STATE)
        notes: list[str] = []
        if tenure is not None and tenure < 1:
            notes.append(f"hired {hire}, after this month")

        # measure
        quota = plan.monthly_quota(assignment.annual_quota, tenure)
        mine: list[Credit] = []
        for c in month_by_rep.get(rep_id, ()):
            if c.currency != plan.currency:
                exceptions.append(f"{rep_id}: deal {c.deal_id} is in {c.currency}, plan {plan.id} pays {plan.currency}; not credited")
            elif c.cancelled_on is None or counts(c, plan):
                mine.append(c)
            else:
                notes.append(f"{c.deal_id} cancelled on {c.cancelled_on} in its close month: not credited")
        credited = sum((c.credit for c in mine), ZERO)

        lines: list[Line] = []
        ytd_quota = ytd_credited = None
        comm_paid_delta = ZERO
        # the year-to-date tally belongs to one plan: a rep who changes plan starts a new one
        same_tally = prior.ytd_year == period.year and prior.ytd_plan in (None, plan.id)
        tally = prior.ytd_paid if same_tally else ZERO
        on_plan = _months_on_plan(plan, assignments.get(rep_id, ()), period) if plan.measure == "ytd" else None
        clawed = _clawed_commission(cancels_by_rep.get(rep_id, ()), plan, period, on_plan)
        if plan.measure == "ytd":
            assert on_plan is not None
            months_on = {(m.year, m.month) for m in on_plan}  # = Period.of(close_date) in on_plan, without a Period per credit
            prior_credits = sorted(
                (c for c in ytd_by_rep.get(rep_id, ())
                 if c.currency == plan.currency and (c.cancelled_on is None or counts(c, plan))
                 and (c.close_date.year, c.close_date.month) in months_on),
                key=_credit_key,
            )
            ytd_quota = _ytd_quota(plan, assignments.get(rep_id, ()), hire, period)
            prior_total = sum((c.credit for c in prior_credits), ZERO)
            ytd_credited = prior_total + credited
            rater = _Rater(plan, ytd_quota, ytd_credited)
            earned_before = _earnings_total(rater, prior_credits, ZERO)
            comm, _ = _commission_lines(rater, rep_id, pstr, mine, prior_total)
            lines.extend(comm)
            # commission clawed back this month leaves the paid tally first, so the
            # true-up re-bands the remaining deals instead of reversing it twice
            paid = tally - clawed
            true_up = earned_before - paid
            if true_up != 0:
                lines.append(
                    Line(rep_id, pstr, 0, "true_up", true_up, rule="quota.measure: ytd",
                         explain=(f"YTD true-up: earlier months' credit {_fmt(prior_total)} now earns {_fmt(earned_before)} "
                                  f"at YTD attainment {_attain(ytd_credited, ytd_quota)}; {_fmt(paid)} paid so far"))
                )
            attainment = _attain_dec(ytd_credited, ytd_quota)
            comm_paid_delta += true_up
        else:
            rater = _Rater(plan, quota, credited)
            comm, _ = _commission_lines(rater, rep_id, pstr, mine, ZERO)
            lines.extend(comm)
            attainment = _attain_dec(credited, quota)
        commission_total = sum((ln.amount for ln in lines), ZERO)
        comm_paid_delta += sum((ln.amount for ln in comm), ZERO)

        # adjust: SPIFFs (outside the cap)
        spiff_lines: list[Line] = []
        if plan.spiffs:
            for c in mine:
                for s in plan.spiffs:
                    if s.matches(c.deal_type, c.term_months, c.deal_amount, c.product):
                        amt = round_money(s.amount * c.split_pct / HUNDRED, plan.rounding)
                        share = "" if c.split_pct == HUNDRED else f" x {_pct(c.split_pct / HUNDRED)} {c.role} split"
                        spiff_lines.append(Line(rep_id, pstr, 0, "spiff", amt, c.deal_id, rule=f"spiffs.{s.id}",
                                                explain=f"SPIFF {s.id} on {c.deal_id}: {_fmt(s.amount)}{share} = {_fmt(amt)}",
                                                role=c.role, split_pct=c.split_pct))
        # cap on commission and true-ups
        cap_lines: list[Line] = []
        if plan.cap is not None and commission_total > plan.cap:
            over = plan.cap - commission_total
            cap_lines.append(Line(rep_id, pstr, 0, "cap", over, rule="cap.per_period",
                                  explain=f"Cap: commission {_fmt(commission_total)} is over the monthly cap {_fmt(plan.cap)}; {_fmt(-over)} not paid"))
        # overrides on direct reports' credit
        override_lines: list[Line] = []
        if plan.override_rate is not None:
            o_rate, o_pct, o_rounding = plan.override_rate, _pct(plan.override_rate), plan.rounding
            for report in sorted(reports_of.get(rep_id, ())):
                for c in month_by_rep.get(report, ()):
                    if c.currency != plan.currency or (c.cancelled_on is not None and not counts(c, plan)):
                        continue
                    amt = round_money(c.credit * o_rate, o_rounding)
                    override_lines.append(Line(rep_id, pstr, 0, "override", amt, c.deal_id, c.credit, o_rate, rule="override.rate",
                                               explain=f"Override on {report}'s {c.deal_id} credit {_fmt(c.credit)} at {o_pct} = {_fmt(amt)}"))
        # clawbacks of earlier deals cancelled this month
        claw_lines: list[Line] = []
        for x in sorted(cancels_by_rep.get(rep_id, ()), key=lambda x: (x.cancelled_on, x.deal_id)):
            if not plan.clawback_applies(x.close_date, x.cancelled_on):
                notes.append(f"{x.deal_id} cancelled on {x.cancelled_on}, outside the clawback window: nothing reversed")
                continue
            amt = -(x.commission + x.other)
            if amt == 0:
                continue
            days = (x.cancelled_on - x.close_date).days
            claw_lines.append(Line(rep_id, pstr, 0, "clawback", amt, x.deal_id, rule="clawback.window_days", ref_period=x.period,
                                   explain=(f"Clawback: {x.deal_id} (closed {x.close_date}) cancelled on {x.cancelled_on}, {days} days later, "
                                            f"within {plan.clawback_days}; reverses {_fmt(-amt)} paid in {x.period}")))
        comm_paid_delta -= clawed
        adj_lines: list[Line] = []
        for adj in adjust_by_rep.get(rep_id, ()):
            adj_lines.append(Line(rep_id, pstr, 0, adj.kind, adj.amount, adj.deal_id, rule=adj.ref or "manual", explain=adj.reason,
                                  ref_period=adj.ref_period, ref=adj.ref))
            if adj.counts_as_commission:
                comm_paid_delta += adj.amount
        lines.extend(spiff_lines)
        lines.extend(cap_lines)
        lines.extend(override_lines)
        lines.extend(claw_lines)
        lines.extend(adj_lines)

        # pay
        earnings = sum((ln.amount for ln in lines), ZERO)
        carry = prior.carry_balance
        draw_bal = prior.draw_balance
        if carry > 0 and earnings > 0:
            rec = min(carry, earnings)
            lines.append(Line(rep_id, pstr, 0, "balance_recovery", -rec, rule="carried balance",
                              explain=f"Recovers {_fmt(rec)} of the {_fmt(carry)} negative balance carried from earlier months"))
            earnings -= rec
            carry -= rec
        if plan.in_draw(tenure):
            assert plan.draw is not None
            draw_amt = plan.draw.amount
            if earnings < draw_amt:
                top = draw_amt - earnings
                how = "recoverable: added to the draw balance" if plan.draw.recoverable else "guaranteed: not recovered"
                lines.append(Line(rep_id, pstr, 0, "draw", top, rule="draw.amount",
                                  explain=f"Draw month {tenure} of {plan.draw.months}: earnings {_fmt(earnings)} topped up to the {_fmt(draw_amt)} draw ({how})"))
                if plan.draw.recoverable:
                    draw_bal += top
                earnings = draw_amt
            elif draw_bal > 0:
                rec = min(draw_bal, earnings - draw_amt)
                if rec > 0:
                    lines.append(Line(rep_id, pstr, 0, "draw_recovery", -rec, rule="draw.recoverable",
                                      explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(draw_bal)} draw balance, from earnings above the {_fmt(draw_amt)} draw"))
                    draw_bal -= rec
                    earnings -= rec
        elif draw_bal > 0 and earnings > 0:
            rec = min(draw_bal, earnings)
            lines.append(Line(rep_id, pstr, 0, "draw_recovery", -rec, rule="draw.recoverable",
                              explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(draw_bal)} draw balance, after the draw months"))
            draw_bal -= rec
            earnings -= rec
        if earnings < 0:
            lines.append(Line(rep_id, pstr, 0, "carry_forward", -earnings, rule="negative month",
                              explain=f"This month's lines sum to {_fmt(earnings)}: nothing is paid and {_fmt(-earnings)} is carried forward, recovered from later payouts"))
            carry += -earnings
            earnings = ZERO

        lines = [_make_line((ln[0], ln[1], i, *ln[3:])) for i, ln in enumerate(lines, start=1)]  # = ln._replace(seq=i)
        components = {k: ZERO for k in COMPONENTS}
        for ln in lines:
            components[ln.kind] = components.get(ln.kind, ZERO) + ln.amount
        payout = sum((ln.amount for ln in lines), ZERO)
        assert payout == earnings, (rep_id, payout, earnings)
        new_state = RepState(draw_bal, carry, tally + comm_paid_delta, period.year, plan.id)
        results.append(
            RepResult(rep_id, plan.id, plan.currency, plan.measure, quota, credited, attainment, ytd_quota, ytd_credited,
                      tenure, lines, components, payout, new_state, notes)
        )
    return PeriodResult(pstr, results, exceptions)


def _clawed_commission(
    cancels: Iterable[Cancellation], plan: Plan, period: Period, on_plan: set[Period] | None = None
) -> Decimal:
    """Commission paid earlier in this plan year on deals clawed back this month.

    It leaves the year-to-date paid tally. Commission paid in an earlier year, or
    (``on_plan`` given) in a month the rep was on another plan, was never in this
    tally, so it is not taken out of it.
    """
    total = ZERO
    for x in cancels:
        if not plan.clawback_applies(x.close_date, x.cancelled_on):
            continue
        paid_in = Period.parse(x.period)
        if paid_in.year == period.year and (on_plan is None or paid_in in on_plan):
            total += x.commission
    return total


def _months_on_plan(plan: Plan, rep_assignments: Sequence[Assignment], period: Period) -> set[Period]:
    """The months of the plan year through ``period`` in which the rep's assignment is this plan."""
    return {
        m for m in period.year_start().months_through(period)
        if (a := resolve_assignment(rep_assignments, m)) is not None and a.plan_id == plan.id
    }


def _attain_dec(credit: Decimal, quota: Decimal) -> Decimal:
    if quota <= 0:
        return Decimal("0.0000")
    return (credit / quota).quantize(ATTAINMENT_PLACES, context=CONTEXT)


def _attain(credit: Decimal, quota: Decimal) -> str:
    if quota <= 0:
        return "n/a (no quota)"
    return f"{(credit / quota * 100).quantize(Decimal('0.01'), context=CONTEXT)}%"


def _ytd_quota(plan: Plan, rep_assignments: Sequence[Assignment], hire: date | None, period: Period) -> Decimal:
    """Cumulative quota over the plan year's months (Jan..period) in which the rep is on this plan."""
    total = ZERO
    for m in period.year_start().months_through(period):
        a = resolve_assignment(rep_assignments, m)
        if a is None or a.plan_id != plan.id:
            continue
        if hire is not None and Period.of(hire) > m:
            continue
        total += plan.monthly_quota(a.annual_quota, tenure_month(hire, m))
    return total
