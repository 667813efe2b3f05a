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
from functools import partial
from operator import itemgetter

from compengine.core.errors import CompError, Source
from compengine.core.money import CENT, CONTEXT, QUANTIZE, ZERO, allocate, round_money
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


def credit_deals(deals: Iterable[Deal], splits_by_deal: Mapping[str, Sequence[Split]]) -> list[Credit]:
    """Credit each deal to its receivers: ``amount x split_pct / 100``.

    Without split rows the owner gets 100%. Primary parts are allocated so they add
    up to the deal amount exactly (leftover cents to the largest remainders, ties
    by rep_id); each overlay is
    rounded on its own and reduces nobody.
    """
    out: list[Credit] = []
    append = out.append
    new = tuple.__new__
    get = splits_by_deal.get
    for d in deals:
        deal_id, account, deal_type, amount, currency, close_date, owner_id, term, product, cancelled, _src = d
        rows = get(deal_id)
        # by receiver, so leftover cents go out in the same order whatever the row order
        prim = sorted((s for s in rows if s.role == "primary"), key=lambda s: s.rep_id) if rows else None
        if prim:
            parts = allocate(amount, [s.split_pct for s in prim])
            for s, part in zip(prim, parts):
                append(new(Credit, (s.rep_id, deal_id, deal_type, close_date, part, "primary", s.split_pct, amount, account,
                                    term, product, cancelled, currency)))
        else:  # no split rows, or only overlays: the owner takes 100%
            append(new(Credit, (owner_id, deal_id, deal_type, close_date, amount, "primary", HUNDRED, amount, account,
                                term, product, cancelled, currency)))
        if not rows:
            continue
        for s in rows:
            if s.role == "overlay":
                part = round_money(CONTEXT.divide(CONTEXT.multiply(amount, s.split_pct), HUNDRED))
                append(new(Credit, (s.rep_id, deal_id, deal_type, close_date, part, "overlay", s.split_pct, amount, account,
                                    term, product, cancelled, currency)))
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
    rater: _Rater, rep_id: str, period: str, credits: Sequence[Credit], start: Decimal, lines: list[Line]
) -> Decimal:
    """Append the commission lines of ``credits`` to ``lines`` (numbered on from its length),
    consuming credit from cumulative ``start``. Returns the sum of their amounts."""
    plan = rater.plan
    pos = start
    total = ZERO
    rounding = QUANTIZE[rater.rounding]
    append = lines.append
    seq = len(lines)
    portions = rater.portions
    # what depends only on (deal type, band): worked out once per call, not per line
    per_band: dict[tuple[str, int], tuple[Decimal, Decimal, str, int | None, str]] = {}
    for c in credits:
        split_pct = c.split_pct
        role = c.role
        share = "" if split_pct == HUNDRED and role == "primary" else f" ({role} {_pct(split_pct / HUNDRED)} of {c.deal_amount:,.2f})"
        head = f"{c.deal_id} {c.deal_type} {c.account}: credit "
        for portion, tier in portions(pos, c.credit):
            key = (c.deal_type, tier.index if tier is not None else 0)
            known = per_band.get(key)
            if known is None:
                rate = plan.rates[c.deal_type]
                mult = tier.multiplier if tier is not None else Decimal("1.0")
                band = tier.label() if tier is not None else "no quota this month"
                tier_no = tier.index if tier is not None else None
                rule = f"rates.{c.deal_type}" + (f" x accelerators.tiers[{tier_no - 1}]" if tier_no else "")
                known = per_band[key] = (rate, mult, f" in {band} at {_pct(rate)} x {mult} = ", tier_no, rule)
            rate, mult, middle, tier_no, rule = known
            amount = rounding(portion * rate * mult, CENT)
            total += amount
            seq += 1
            append(_make_line((rep_id, period, seq, "commission", amount, c.deal_id, portion, rate, mult, tier_no, rule,
                               f"{head}{portion:,.2f}{share}{middle}{amount:,.2f}", None, None, role, split_pct)))
        pos += c.credit
    return total


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


_make_line = partial(tuple.__new__, Line)  # a Line from a full tuple, without Line._make's checks

# A rep's credits in deal order: (close date, deal). Sorts are stable and credit_deals
# emits a deal's primary credit before its overlays, so the rare receiver with both on
# one deal keeps primary first.
_credit_key = itemgetter(3, 1)


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
    exceptions: list[str] = []
    with localcontext(CONTEXT), gc_paused():
        results = list(iter_period_part(period, plans, reps, assignments, credits, ytd_credits=ytd_credits,
                                        cancellations=cancellations, adjustments=adjustments, state=state,
                                        exceptions=exceptions))
    return PeriodResult(str(period), results, exceptions)


def iter_period_part(
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
    exceptions: list[str],
    part: tuple[int, int] = (0, 1),
) -> Iterator[RepResult]:
    """:func:`calculate_period` rep by rep, for one part of the month's reps.

    ``part=(i, n)`` takes the i-th of n consecutive slices of the reps (in rep order,
    cut so each slice has about the same number of credits to rate, overrides
    included). Each rep's result is yielded as soon as it is made, so a caller can
    store it while the next is calculated; ``exceptions`` receives the part's
    exceptions. Parts 0..n-1 concatenated (results, and exceptions) equal
    :func:`calculate_period`: exceptions not tied to one rep's calculation come with
    part 0. Iterate it inside ``with localcontext(CONTEXT)`` (the engine's decimal
    context); the cyclic garbage collector should be paused meanwhile (:func:`gc_paused`).
    """
    state = state or {}
    pstr = str(period)
    month_exceptions: list[str] = []  # the month's own (not one rep's calculation): part 0 reports them

    # classify: plan per rep in the month
    active: dict[str, tuple[Assignment, Plan]] = {}
    for rep_id in sorted(assignments):
        a = resolve_assignment(assignments[rep_id], period)
        if a is None:
            continue
        plan = plans.get(a.plan_id)
        if plan is None:
            month_exceptions.append(f"{rep_id}: plan {a.plan_id!r} is not loaded; rep skipped")
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
    ytd_by_rep: dict[str, list[Credit]] = defaultdict(list)
    for c in ytd_credits:
        ytd_by_rep[c.rep_id].append(c)
    for rep_id in sorted(month_by_rep):
        if rep_id not in active:
            cs = month_by_rep[rep_id]
            total = sum((c.credit for c in cs), ZERO)
            month_exceptions.append(
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
            month_exceptions.append(f"{x.rep_id}: {x.deal_id} cancelled on {x.cancelled_on} but no plan assignment in {pstr}; nothing reversed")
    adjust_by_rep: dict[str, list[Adjustment]] = defaultdict(list)
    for adj in adjustments:
        if adj.rep_id in active:
            adjust_by_rep[adj.rep_id].append(adj)
        else:
            month_exceptions.append(f"{adj.rep_id}: adjustment {_fmt(adj.amount)} ({adj.reason}) but no plan assignment in {pstr}; not paid")

    if part[0] == 0:
        exceptions.extend(month_exceptions)
    todo = list(active.items())
    if part != (0, 1):
        todo = _part_of(todo, part, month_by_rep, reports_of)
    # each credit list this part reads, in deal order, once (stable): for the rep's own lines and the overrides
    wanted: set[str] = set()
    for rep_id, (_a, plan) in todo:
        wanted.add(rep_id)
        if plan.override_rate is not None:
            wanted.update(reports_of.get(rep_id, ()))
    for rep_id in wanted:
        cs = month_by_rep.get(rep_id)
        if cs:
            cs.sort(key=_credit_key)
    for rep_id, (assignment, plan) in todo:
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

        # Lines are numbered as they are made (seq = position in the rep's list, from 1);
        # the hot ones (commission, SPIFF, override) are built positionally.
        lines: list[Line] = []
        append = lines.append
        rounder = QUANTIZE[plan.rounding]
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
            ytd_quota = _ytd_quota(plan, hire, on_plan)
            prior_total = sum((c.credit for c in prior_credits), ZERO)
            ytd_credited = prior_total + credited
            rater = _Rater(plan, ytd_quota, ytd_credited)
            earned_before = _earnings_total(rater, prior_credits, ZERO)
            comm_sum = _commission_lines(rater, rep_id, pstr, mine, prior_total, lines)
            # commission clawed back this month leaves the paid tally first, so the
            # true-up re-bands the remaining deals instead of reversing it twice
            paid = tally - clawed
            true_up = earned_before - paid
            commission_total = comm_sum + true_up
            if true_up != 0:
                append(
                    Line(rep_id, pstr, len(lines) + 1, "true_up", true_up, rule="quota.measure: ytd",
                         explain=(f"YTD true-up: earlier months' credit {_fmt(prior_total)} now earns {_fmt(earned_before)} "
                                  f"at YTD attainment {_attain(ytd_credited, ytd_quota)}; {_fmt(paid)} paid so far"))
                )
            attainment = _attain_dec(ytd_credited, ytd_quota)
            comm_paid_delta += true_up
        else:
            rater = _Rater(plan, quota, credited)
            comm_sum = _commission_lines(rater, rep_id, pstr, mine, ZERO, lines)
            commission_total = comm_sum
            attainment = _attain_dec(credited, quota)
        comm_paid_delta += comm_sum
        earnings = commission_total

        # adjust: SPIFFs (outside the cap)
        if plan.spiffs:
            for c in mine:
                for sp in plan.spiffs:
                    if sp.matches(c.deal_type, c.term_months, c.deal_amount, c.product):
                        amt = rounder(sp.amount * c.split_pct / HUNDRED, CENT)
                        share = f" x {_pct(c.split_pct / HUNDRED)} {c.role or 'primary'} split"
                        append(_make_line((rep_id, pstr, len(lines) + 1, "spiff", amt, c.deal_id, None, None, None, None,
                                           f"spiffs.{sp.id}", f"SPIFF {sp.id} on {c.deal_id}: {_fmt(sp.amount)}{share} = {_fmt(amt)}",
                                           None, None, c.role, c.split_pct)))
                        earnings += amt
        # cap on commission and true-ups
        if plan.cap is not None and commission_total > plan.cap:
            over = plan.cap - commission_total
            append(Line(rep_id, pstr, len(lines) + 1, "cap", over, rule="cap.per_period",
                        explain=f"Cap: commission {_fmt(commission_total)} is over the monthly cap {_fmt(plan.cap)}; {_fmt(-over)} not paid"))
            earnings += over
        # overrides on direct reports' credit
        if plan.override_rate is not None:
            o_rate, o_pct, plan_currency = plan.override_rate, _pct(plan.override_rate), plan.currency
            for report in sorted(reports_of.get(rep_id, ())):
                head = f"Override on {report}'s "
                for c in month_by_rep.get(report, ()):
                    if c.currency != plan_currency or (c.cancelled_on is not None and not counts(c, plan)):
                        continue
                    credit_ = c.credit
                    amt = rounder(credit_ * o_rate, CENT)
                    earnings += amt
                    append(_make_line((rep_id, pstr, len(lines) + 1, "override", amt, c.deal_id, credit_, o_rate, None, None,
                                       "override.rate", f"{head}{c.deal_id} credit {credit_:,.2f} at {o_pct} = {amt:,.2f}",
                                       None, None, None, None)))
        # clawbacks of earlier deals cancelled this month
        for x in sorted(cancels_by_rep.get(rep_id, ()), key=lambda x: (x.cancelled_on, x.deal_id)):
            if not plan.clawback_applies(x.close_date, x.cancelled_on):
                notes.append(f"{x.deal_id} cancelled on {x.cancelled_on}, outside the clawback window: nothing reversed")
                continue
            amt = -(x.commission + x.other)
            if amt == 0:
                continue
            days = (x.cancelled_on - x.close_date).days
            append(Line(rep_id, pstr, len(lines) + 1, "clawback", amt, x.deal_id, rule="clawback.window_days", ref_period=x.period,
                        explain=(f"Clawback: {x.deal_id} (closed {x.close_date}) cancelled on {x.cancelled_on}, {days} days later, "
                                 f"within {plan.clawback_days}; reverses {_fmt(-amt)} paid in {x.period}")))
            earnings += amt
        comm_paid_delta -= clawed
        for adj in adjust_by_rep.get(rep_id, ()):
            append(Line(rep_id, pstr, len(lines) + 1, adj.kind, adj.amount, adj.deal_id, rule=adj.ref or "manual",
                        explain=adj.reason, ref_period=adj.ref_period, ref=adj.ref))
            earnings += adj.amount
            if adj.counts_as_commission:
                comm_paid_delta += adj.amount

        # pay
        carry = prior.carry_balance
        draw_bal = prior.draw_balance
        if carry > 0 and earnings > 0:
            rec = min(carry, earnings)
            append(Line(rep_id, pstr, len(lines) + 1, "balance_recovery", -rec, rule="carried balance",
                        explain=f"Recovers {_fmt(rec)} of the {_fmt(carry)} negative balance carried from earlier months"))
            earnings -= rec
            carry -= rec
        if plan.in_draw(tenure):
            assert plan.draw is not None
            draw_amt = plan.draw.amount
            if earnings < draw_amt:
                top = draw_amt - earnings
                how = "recoverable: added to the draw balance" if plan.draw.recoverable else "guaranteed: not recovered"
                append(Line(rep_id, pstr, len(lines) + 1, "draw", top, rule="draw.amount",
                            explain=f"Draw month {tenure} of {plan.draw.months}: earnings {_fmt(earnings)} topped up to the {_fmt(draw_amt)} draw ({how})"))
                if plan.draw.recoverable:
                    draw_bal += top
                earnings = draw_amt
            elif draw_bal > 0:
                rec = min(draw_bal, earnings - draw_amt)
                if rec > 0:
                    append(Line(rep_id, pstr, len(lines) + 1, "draw_recovery", -rec, rule="draw.recoverable",
                                explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(draw_bal)} draw balance, from earnings above the {_fmt(draw_amt)} draw"))
                    draw_bal -= rec
                    earnings -= rec
        elif draw_bal > 0 and earnings > 0:
            rec = min(draw_bal, earnings)
            append(Line(rep_id, pstr, len(lines) + 1, "draw_recovery", -rec, rule="draw.recoverable",
                        explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(draw_bal)} draw balance, after the draw months"))
            draw_bal -= rec
            earnings -= rec
        if earnings < 0:
            append(Line(rep_id, pstr, len(lines) + 1, "carry_forward", -earnings, rule="negative month",
                        explain=f"This month's lines sum to {_fmt(earnings)}: nothing is paid and {_fmt(-earnings)} is carried forward, recovered from later payouts"))
            carry += -earnings
            earnings = ZERO

        components = dict.fromkeys(COMPONENTS, ZERO)
        payout = ZERO
        for ln in lines:
            kind, amount = ln[3], ln[4]
            components[kind] = components.get(kind, ZERO) + amount
            payout += amount
        assert payout == earnings, (rep_id, payout, earnings)
        new_state = RepState(draw_bal, carry, tally + comm_paid_delta, period.year, plan.id)
        yield RepResult(rep_id, plan.id, plan.currency, plan.measure, quota, credited, attainment, ytd_quota, ytd_credited,
                        tenure, lines, components, payout, new_state, notes)


def _part_of(
    todo: list[tuple[str, tuple[Assignment, Plan]]],
    part: tuple[int, int],
    month_by_rep: Mapping[str, Sequence[Credit]],
    reports_of: Mapping[str, Sequence[str]],
) -> list[tuple[str, tuple[Assignment, Plan]]]:
    """The i-th of n consecutive slices of ``todo``, cut by the number of credits each rep rates."""
    i, n = part
    if not 0 <= i < n:
        raise ValueError(f"part {i} of {n}")
    weights = []
    for rep_id, (_a, plan) in todo:
        w = 1 + len(month_by_rep.get(rep_id, ()))
        if plan.override_rate is not None:
            w += sum(len(month_by_rep.get(r, ())) for r in reports_of.get(rep_id, ()))
        weights.append(w)
    total = sum(weights)
    out = []
    before = 0
    for item, w in zip(todo, weights):
        if i * total <= before * n < (i + 1) * total:
            out.append(item)
        before += w
    return out


def _clawed_commission(
    cancels: Iterable[Cancellation], plan: Plan, period: Period, on_plan: Mapping[Period, Assignment] | None = None
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


def _months_on_plan(plan: Plan, rep_assignments: Sequence[Assignment], period: Period) -> dict[Period, Assignment]:
    """The months of the plan year through ``period`` that make this plan's year to date, with the
    rep's assignment in each: those on this plan since the rep was last on another plan. A month
    without a plan (a leave) does not end it; a month on another plan does, as it ends the paid
    tally (``RepState.ytd_plan``): a rep who comes back starts a new year to date, and what the
    earlier stint paid is not paid again."""
    out: dict[Period, Assignment] = {}
    for m in reversed(period.year_start().months_through(period)):
        a = resolve_assignment(rep_assignments, m)
        if a is None:
            continue
        if a.plan_id != plan.id:
            break
        out[m] = a
    return out


def _attain_dec(credit: Decimal, quota: Decimal) -> Decimal:
    if quota <= 0:
        return Decimal("0.0000")
    return (credit / quota).quantize(ATTAINMENT_PLACES, context=CONTEXT)


def _attain(credit: Decimal, quota: Decimal) -> str:
    if quota <= 0:
        return "n/a (no quota)"
    return f"{(credit / quota * 100).quantize(Decimal('0.01'), context=CONTEXT)}%"


def _ytd_quota(plan: Plan, hire: date | None, on_plan: Mapping[Period, Assignment]) -> Decimal:
    """Cumulative quota over the months of the year to date (:func:`_months_on_plan`)."""
    total = ZERO
    for m, a in sorted(on_plan.items()):
        if hire is not None and Period.of(hire) > m:
            continue
        total += plan.monthly_quota(a.annual_quota, tenure_month(hire, m))
    return total
