"""The calculation: pure stages over batches.

``credit`` turns deals and splits into credits; ``calculate_period`` then runs,
for every rep with a plan in the month: **classify** (which plan, which credits
count), **measure** (quota, credit, attainment), **rate** (commission lines by
tier, ytd true-ups), **adjust** (SPIFFs, cap, overrides, clawbacks, manual
adjustments) and **pay** (balances, draws, carry-forward).

A rep whose assignments start or end inside the month (or who is terminated in it) is
priced per segment, one per assignment in force (:func:`_price_segments`); every
other rep takes the whole-month path unchanged.

No I/O, no clock, no globals: the period and every prior state are arguments,
and the output is sorted by an explicit key, so reruns are identical.
"""

from __future__ import annotations

import gc
from collections import defaultdict
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Context, Decimal, Inexact, InvalidOperation, localcontext
from functools import partial
from operator import itemgetter
from typing import NamedTuple

from compengine.core.currency import allocate_minor, minor_units, quantum, round_minor
from compengine.core.errors import CompError, Source
from compengine.core.fx import Conversion, FxRates, MissingRate
from compengine.core.money import CENT, CONTEXT, QUANTIZE, ZERO, allocate, shown
from compengine.core.periods import Period, tenure_month
from compengine.engine.records import (
    COMPONENTS,
    ComponentMeasure,
    LATE_DRAW_RULE,
    EMPTY_STATE,
    Adjustment,
    Assignment,
    Credit,
    Deal,
    Line,
    PeriodResult,
    Quota,
    Rep,
    record_maker,
    RepResult,
    RepState,
    Split,
)
from compengine.plans.model import Plan, Tier

HUNDRED = Decimal(100)
ONE = Decimal(1)
# an amount times a rate of at most 34 significant digits, exactly (it traps if it were not)
EXACT_PRODUCT = Context(prec=80, traps=[Inexact, InvalidOperation])
_DAY = timedelta(days=1)
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
    term_months: int | None = None  # the deal's term (clawback.prorate: term)
    components: tuple[tuple[str, Decimal], ...] = ()  # the commission by plan component (empty: all "commission")


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
    """Credit each deal to its receivers: ``amount x split_pct / 100``. (A deal is read by position, in the
    order of ``Deal``'s fields: a plain tuple of them, as the ledger's loading gives, is read alike.)

    Without split rows the owner gets 100%. Primary parts are allocated so they add
    up to the deal amount exactly (leftover cents to the largest remainders, ties
    by rep_id); each overlay is
    rounded on its own and reduces nobody.
    """
    out: list[Credit] = []
    append = out.append
    get = splits_by_deal.get
    make = _make_credit
    for d in deals:
        # one unpack of the deal (its field order is checked against these names at import: _DEAL_UNPACKED);
        # ``where`` is the deal's Source (file:line), formatted only where a line is shown or stored
        (deal_id, account, deal_type, amount, currency, close_date, owner_id, term, product, cancelled, where, qty, cost,
         attrs) = d
        rows = get(deal_id)
        # by receiver, so leftover cents go out in the same order whatever the row order
        prim = sorted((s for s in rows if s.role == "primary"), key=lambda s: s.rep_id) if rows else None
        if prim:
            # in the deal currency's minor units (whole yen, fils); cents through the faster cent path
            parts = (allocate(amount, [s.split_pct for s in prim]) if minor_units(currency) == 2
                     else allocate_minor(amount, [s.split_pct for s in prim], currency))
            for s, part in zip(prim, parts):
                append(make(s.rep_id, deal_id, deal_type, close_date, part, "primary", s.split_pct, amount, account, term,
                            product, cancelled, currency, qty, cost, attrs, where))
        else:  # no split rows, or only overlays: the owner takes 100%
            append(make(owner_id, deal_id, deal_type, close_date, amount, "primary", HUNDRED, amount, account, term,
                        product, cancelled, currency, qty, cost, attrs, where))
        if not rows:
            continue
        for s in rows:
            if s.role == "overlay":
                part = round_minor(CONTEXT.divide(CONTEXT.multiply(amount, s.split_pct), HUNDRED), currency)
                append(make(s.rep_id, deal_id, deal_type, close_date, part, "overlay", s.split_pct, amount, account, term,
                            product, cancelled, currency, qty, cost, attrs, where))
    return out


# the order credit_deals unpacks a Deal in: refused at import if Deal's fields ever differ
_DEAL_UNPACKED = ("deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months", "product",
                  "cancelled_on", "source", "quantity", "cost", "attrs")
if Deal._fields != _DEAL_UNPACKED:  # pragma: no cover - a programming error, caught by any import
    raise RuntimeError(f"Deal fields {Deal._fields} changed: update pipeline._DEAL_UNPACKED and credit_deals")

# a Credit from these fields, by name (positions worked out from Credit's fields: records.record_maker)
_make_credit = record_maker(Credit, "rep_id deal_id deal_type close_date credit role split_pct deal_amount account "
                                    "term_months product cancelled_on currency quantity cost attrs source")


def group_splits(splits: Iterable[Split]) -> dict[str, list[Split]]:
    out: dict[str, list[Split]] = defaultdict(list)
    for s in splits:
        out[s.deal_id].append(s)
    return dict(out)


# --------------------------------------------------------------------------- convert (issue 15)


class FxCredits:
    """Credits converted into a receiver's plan currency (only for credits in another currency).

    How a deal is converted (docs/currencies.md, "Conversion in the calculation"): the
    **deal amount** is converted once per plan currency (and per plan ``fx`` policy and
    rounding), at the rate the plan's ``fx.rate_date`` picks for the deal's close date,
    rounded once to the plan currency's minor units. The converted amount is then
    allocated to the deal's primary receivers by their split percentages with
    :func:`~compengine.core.currency.allocate_minor` (largest remainder, receivers in
    rep order, as :func:`credit_deals` allocates the deal amount), so the primary parts
    add up exactly to the converted deal amount; an overlay is ``converted x pct / 100``
    rounded once on its own. A receiver's converted credit is therefore its share of the
    converted deal, not its own credit converted (the two can differ by a minor unit).

    The primary receivers of a deal are read from the credits given (the month's and the
    year's earlier credits), once, the first time a credit needs converting: a month in
    one currency never builds the index.
    """

    __slots__ = ("fx", "_sources", "_primaries", "_deals", "notes", "_quotes", "_tokens")

    def __init__(self, fx: FxRates, *sources: Iterable[Credit]) -> None:
        self.fx = fx
        self._sources = sources
        self._primaries: dict[str, list[Credit]] | None = None
        self._deals: dict[tuple, tuple[Decimal, dict[str, Decimal], str] | str] = {}
        self._quotes: dict[tuple, tuple] = {}  # (pair, close date, policy) -> quote, exact rate, places, text
        # id(plan) -> (plan, "USD|close_date|USD|half_up", "USD|close_date|USD"): the cache keys' plan part as one
        # string (a policy's RateDate enum hashes in Python; a str hashes once), with and without the rounding
        # mode; the plan is kept so its id is not reused
        self._tokens: dict[int, tuple[Plan, str, str]] = {}
        # (receiver, deal, role, plan currency) -> "EUR 10,000.00 at 1.0832 (2026-10-01) = USD 10,832.00" (explains).
        # The plan currency in the key: a manager's override converts a report's credit into the manager's
        # currency, and a report paid in the deal's own currency must not show that conversion on its own line
        self.notes: dict[tuple[str, str, str, str], str] = {}

    def _primary_of(self, deal_id: str) -> list[Credit]:
        if self._primaries is None:
            index: dict[str, list[Credit]] = defaultdict(list)
            for cs in self._sources:
                for c in cs:
                    if c.role == "primary":
                        index[c.deal_id].append(c)
            self._primaries = index
        return self._primaries.get(deal_id, [])

    def convert(self, c: Credit, plan: Plan) -> tuple[Credit | None, str]:
        """``c`` in ``plan``'s currency and the conversion's text, or None and why not (a missing rate)."""
        to_ccy = plan.currency
        tok = self._tokens.get(id(plan))
        if tok is None or tok[0] is not plan:
            same = f"{to_ccy}|{plan.fx.rate_date.value}|{plan.fx.base}"
            tok = self._tokens[id(plan)] = (plan, f"{same}|{plan.rounding}", same)
        key = (c.deal_id, tok[1])
        done = self._deals.get(key)
        if done is None:
            # another plan with the same currency and policy but another rounding mode (a manager's half-even
            # override plan) converted the deal already: its conversion stands unless the exact product is a tie
            # the two modes round apart
            other = self._deals.get((c.deal_id, tok[2]))
            if other is not None:
                exact, total0, parts0, text0 = other
                if QUANTIZE[plan.rounding](exact, quantum(to_ccy)) == total0:
                    done = self._deals[key] = (total0, parts0, text0)
        if done is None:
            try:
                total, text, exact = self._convert_amount(c, plan, tok[1])
            except MissingRate as exc:
                done = self._deals[key] = f"{exc} ({c.currency} {c.deal_amount:,f} closed {c.close_date})"
            except ValueError as exc:  # an amount finer than its currency's minor unit
                done = self._deals[key] = str(exc)
            else:
                prim = self._primary_of(c.deal_id)
                if len(prim) == 1 and prim[0].split_pct == HUNDRED:  # one receiver: the whole amount
                    parts_of = {prim[0].rep_id: total}
                else:
                    prim = sorted(prim, key=lambda x: x.rep_id)
                    parts = allocate_minor(total, [x.split_pct for x in prim], to_ccy) if prim else []
                    parts_of = {x.rep_id: part for x, part in zip(prim, parts)}
                done = self._deals[key] = (total, parts_of, text)  # the text once per deal and currency
                if exact is not None:
                    self._deals.setdefault((c.deal_id, tok[2]), (exact, total, parts_of, text))
        if isinstance(done, str):
            return None, done
        total, parts, text = done
        if c.role == "primary":
            part = parts.get(c.rep_id)
            if part is None:  # not among the credits given: its share alone
                part = round_minor(CONTEXT.divide(CONTEXT.multiply(total, c.split_pct), HUNDRED), to_ccy, plan.rounding)
        else:
            part = round_minor(CONTEXT.divide(CONTEXT.multiply(total, c.split_pct), HUNDRED), to_ccy, plan.rounding)
        self.notes[(c.rep_id, c.deal_id, c.role, to_ccy)] = text
        cost = c.cost
        if cost and c.deal_amount:  # the deal's cost at the deal's rate (margin = amount - cost)
            cost = round_minor(CONTEXT.divide(CONTEXT.multiply(cost, total), c.deal_amount), to_ccy, plan.rounding)
        return _converted(c, part, total, to_ccy, cost), text

    def _convert_amount(self, c: Credit, plan: Plan, token: str) -> tuple[Decimal, str, Decimal | None]:
        """The deal amount in the plan's currency, the conversion's text and the exact product (None when the
        rate has no finite decimal expansion): ``FxRates.convert``, with what a month asks again and again
        kept: the quote of each (pair, close date, policy), and for a rate with a finite decimal expansion the
        exact Decimal product rounded once (the fraction's result, to the unit)."""
        to_ccy, policy = plan.currency, plan.fx
        qkey = (c.currency, c.close_date, token)  # token: plan currency, policy and rounding
        quoted = self._quotes.get(qkey)
        if quoted is None:
            q, _asked = self.fx.quote(c.currency, to_ccy, c.close_date, rate_date=policy.rate_date, base=policy.base)
            quoted = self._quotes[qkey] = (q, self.fx._finite_rate(q.exact), minor_units(c.currency),
                                           minor_units(to_ccy), f" at {q.text} ({q.when}) = {to_ccy} ")
        q, finite, from_places, to_places, middle = quoted
        amount = c.deal_amount
        rounding = QUANTIZE.get(plan.rounding)
        if finite is None or rounding is None or from_places < 0 or -amount.as_tuple().exponent > from_places:  # type: ignore[operator]
            conv = self.fx.convert(amount, c.currency, to_ccy, c.close_date, plan.rounding, policy.base,
                                   rate_date=policy.rate_date)
            return conv.converted.amount, conv.explain(), None
        exact = EXACT_PRODUCT.multiply(amount, finite)
        total = rounding(exact, quantum(to_ccy))
        if total == 0:
            total = abs(total)
        return total, f"{c.currency} {amount:,.{from_places}f}{middle}{total:,.{to_places}f}", exact

    def in_currency(self, credits: Iterable[Credit], plan: Plan) -> Iterator[Credit]:
        """``credits`` in ``plan``'s currency: converted where they are not, left out where no rate is found
        (their own month reported it)."""
        cur = plan.currency
        for c in credits:
            if c.currency == cur:
                yield c
            else:
                converted, _ = self.convert(c, plan)
                if converted is not None:
                    yield converted


_AT = {name: i for i, name in enumerate(Credit._fields)}
_C_CREDIT, _C_AMOUNT, _C_CURRENCY, _C_COST = _AT["credit"], _AT["deal_amount"], _AT["currency"], _AT["cost"]


def _converted(c: Credit, part: Decimal, total: Decimal, currency: str, cost: Decimal) -> Credit:
    """``c`` with its credit, deal amount, currency and cost in the plan's currency (``c._replace`` at a
    fifth of its cost: positions looked up by field name at import)."""
    values = list(c)
    values[_C_CREDIT], values[_C_AMOUNT], values[_C_CURRENCY], values[_C_COST] = part, total, currency, cost
    return tuple.__new__(Credit, values)


def _not_converted(rep_id: str, c: Credit, plan: Plan, why: str) -> str:
    return f"{rep_id}: deal {c.deal_id} in {c.currency} for plan {plan.id} in {plan.currency}: {why}; not credited"


def _mismatch(rep_id: str, c: Credit, plan: Plan) -> str:
    return f"{rep_id}: deal {c.deal_id} is in {c.currency}, plan {plan.id} pays {plan.currency}; not credited"


def _in_plan_currency(rep_id: str, c: Credit, plan: Plan, conv, exceptions: list[str]) -> Credit | None:  # noqa: ANN001
    """A credit in another currency than its plan's, converted (``conv``: the month's rates); None,
    with the exception that says why, when there are no rates or no rate for it."""
    if conv is None:
        exceptions.append(_mismatch(rep_id, c, plan))
        return None
    converted, why = conv.convert(c, plan)
    if converted is None:
        exceptions.append(_not_converted(rep_id, c, plan, why))
    return converted


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


class Segment(NamedTuple):
    """One assignment in force for part (or all) of a month: its days ``first``..``last``."""

    assignment: Assignment
    first: date
    last: date


def month_segments(candidates: Sequence[Assignment], period: Period, termination: date | None = None) -> list[Segment]:
    """The rep's assignments in force in the month, each clipped to the month and to the
    termination date (the last day credited), in date order. Empty: none in force."""
    first_day, last_day = period.start, period.end
    if termination is not None and termination < last_day:
        last_day = termination
    out: list[Segment] = []
    for a in candidates:
        first = a.start if a.start > first_day else first_day
        last = last_day if a.end is None or a.end > last_day else a.end
        if first <= last:
            out.append(Segment(a, first, last))
    out.sort(key=lambda s: s.first)
    return out


def covers_month(segments: Sequence[Segment], period: Period) -> bool:
    """One segment, in force from the month's first day to its last: priced as a whole month."""
    return len(segments) == 1 and segments[0].first == period.start and segments[0].last == period.end


def _manager_on(versions: Sequence[tuple[date | None, str | None]], day: date) -> str | None:
    """The manager in force on ``day``: the last version from on or before it (else the first)."""
    manager = versions[0][1]
    for valid_from, m in versions:
        if valid_from is None or valid_from <= day:
            manager = m
        else:
            break
    return manager


def _fmt(x: Decimal) -> str:
    return shown(x)


def _pct(x: Decimal) -> str:
    return f"{(x * 100).normalize():f}%"


# --------------------------------------------------------------------------- rate


def _thresholds(plan: Plan, quota: Decimal) -> list[Decimal]:
    """Cent thresholds of the bands: quota x upto, rounded once (the band boundary)."""
    code = plan.currency
    return [round_minor(quota * t.upper, code, plan.rounding) for t in plan.tiers if t.upper is not None]


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
    rater: _Rater, rep_id: str, period: str, credits: Sequence[Credit], start: Decimal, lines: list[Line],
    fx_notes: Mapping[tuple[str, str, str, str], str] | None = None,
) -> Decimal:
    """Append the commission lines of ``credits`` to ``lines`` (numbered on from its length),
    consuming credit from cumulative ``start``. Returns the sum of their amounts.

    Each line is rounded once to the plan currency's minor unit (cents for USD, yen for JPY,
    fils for KWD). ``fx_notes``: the conversion text of converted credits (:class:`FxCredits`),
    put at the head of their lines' explains."""
    plan = rater.plan
    pos = start
    total = ZERO
    rounding = QUANTIZE[rater.rounding]
    unit = quantum(plan.currency)
    places = minor_units(plan.currency)
    append = lines.append
    seq = len(lines)
    portions = rater.portions
    make = _make_commission_line
    # what depends only on (deal type, band): worked out once per call, not per line
    per_band: dict[tuple[str, int], tuple[Decimal, Decimal, str, int | None, str, str, bool]] = {}
    for c in credits:
        split_pct = c.split_pct
        role = c.role
        share = "" if split_pct == HUNDRED and role == "primary" else f" ({role} {_pct(split_pct / HUNDRED)} of {c.deal_amount:,.{places}f})"
        head = f"{c.deal_id} {c.deal_type} {c.account}: credit "
        if fx_notes:
            converted = fx_notes.get((rep_id, c.deal_id, role, plan.currency))
            if converted is not None:
                head = f"{c.deal_id} {c.deal_type} {c.account}: {converted}; credit "
        for portion, tier in portions(pos, c.credit):
            key = (c.deal_type, tier.index if tier is not None else 0)
            known = per_band.get(key)
            if known is None:
                rate = plan.rates[c.deal_type]
                mult = tier.multiplier if tier is not None else Decimal("1.0")
                band = tier.label() if tier is not None else "no quota this month"
                tier_no = tier.index if tier is not None else None
                rule = f"rates.{c.deal_type}" + (f" x accelerators.tiers[{tier_no - 1}]" if tier_no else "")
                where = (plan.rule_source(f"rates.{c.deal_type}", f"accelerators.tiers[{tier_no - 1}]")
                         if tier_no and plan.tiers[0].upper is not None else plan.rule_source(f"rates.{c.deal_type}"))
                known = per_band[key] = (rate, mult, f" in {band} at {_pct(rate)} x {mult} = ", tier_no, rule, where,
                                         mult == ONE)
            rate, mult, middle, tier_no, rule, where, at_one = known
            base = portion * rate
            amount = rounding(base * mult, unit)
            # the line's part at the base rate, rounded once (statements, reconcile): the amount itself at x1
            base = amount if at_one else rounding(base, unit)
            total += amount
            seq += 1
            append(make(rep_id, period, seq, "commission", amount, c.deal_id, portion, rate, mult, tier_no, rule,
                        f"{head}{portion:,.{places}f}{share}{middle}{amount:,.{places}f}", role, split_pct, "commission",
                        base, c.source, where))
        pos += c.credit
    return total


# a commission line from these fields, by name (records.record_maker)
_make_commission_line = record_maker(Line, "rep_id period seq kind amount deal_id credit rate multiplier tier rule explain "
                                           "role split_pct component base deal_source rule_source")


def _earnings_total(rater: _Rater, credits: Sequence[Credit], start: Decimal) -> Decimal:
    """Sum of the rounded commission lines the credits would earn (no explain text)."""
    plan = rater.plan
    total = ZERO
    pos = start
    rounding = rater.rounding
    code = plan.currency
    for c in credits:
        rate = plan.rates[c.deal_type]
        for portion, tier in rater.portions(pos, c.credit):
            mult = tier.multiplier if tier is not None else Decimal("1.0")
            total += round_minor(portion * rate * mult, code, rounding)
        pos += c.credit
    return total


# --------------------------------------------------------------------------- calculate


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
    rep_versions: Mapping[str, Sequence[Rep]] | None = None,
    fx: FxRates | None = None,
    quotas: Mapping[str, Sequence[Quota]] | None = None,
) -> PeriodResult:
    """Calculate one month for every rep with a plan assignment in it.

    ``credits`` are the credits of deals closed in the month; ``ytd_credits`` those
    closed earlier in the same plan year (read only by ``ytd`` plans);
    ``cancellations`` what each receiver earned on earlier deals cancelled in the
    month; ``state`` each rep's balances after the previous month; ``rep_versions`` each
    rep's versions sorted by ``valid_from`` (None: ``reps`` is the only version), read for
    the manager in force on a deal's close date (overrides). ``fx``: exchange rates; a credit in
    another currency than its receiver's plan is converted (:class:`FxCredits`), and one without a
    rate is an exception. None: such a credit is an exception (not credited).
    """
    exceptions: list[str] = []
    with localcontext(CONTEXT), gc_paused():
        results = list(iter_period_part(period, plans, reps, assignments, credits, ytd_credits=ytd_credits,
                                        cancellations=cancellations, adjustments=adjustments, state=state,
                                        rep_versions=rep_versions, exceptions=exceptions, fx=fx, quotas=quotas))
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
    rep_versions: Mapping[str, Sequence[Rep]] | None = None,
    exceptions: list[str],
    part: tuple[int, int] = (0, 1),
    fx: FxRates | None = None,
    quotas: Mapping[str, Sequence[Quota]] | None = None,
    only: Collection[str] | None = None,
    keyed_exceptions: list[tuple[tuple, str]] | None = None,
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

    ``only`` (a partition of a distributed close, ``ledger.executors``): calculate only these reps
    (``part`` is then ignored); the credits given need only be theirs and those their overrides
    read. The month's own exceptions of these reps then go to ``keyed_exceptions`` as
    ``(order key, text)``: sorted by key, the partitions' together are what part 0 reports.
    """
    state = state or {}
    pstr = str(period)
    conv = FxCredits(fx, credits, ytd_credits) if fx is not None else None
    fx_notes = conv.notes if conv is not None else None
    month_exceptions: list[str] = []  # the month's own (not one rep's calculation): part 0 reports them
    month_keys: list[tuple[str, tuple]] = []  # each one's rep and order key (for ``only``)

    def month_exception(rep_id: str, key: tuple, text: str) -> None:
        month_exceptions.append(text)
        month_keys.append((rep_id, key + (len(month_keys),)))

    # classify: plan per rep in the month. A rep with one assignment in force the whole month
    # (and, on a ytd plan, in each earlier month of the year) is priced as a whole month; any
    # other is priced by segment (one per assignment in force: ``segmented``).
    period_start, period_end = period.start, period.end
    active: dict[str, tuple[Assignment, Plan]] = {}
    segmented: dict[str, list[tuple[Segment, Plan]]] = {}
    for rep_id in sorted(assignments):
        rows = assignments[rep_id]
        a = resolve_assignment(rows, period)
        if a is None:
            continue
        rep = reps.get(rep_id)
        term = rep.termination_date if rep is not None else None
        if _whole_month(a, rows, period_start, period_end, term):
            plan = plans.get(a.plan_id)
            if plan is None:
                month_exception(rep_id, (1, rep_id), f"{rep_id}: plan {a.plan_id!r} is not loaded; rep skipped")
                continue
            if plan.measure != "ytd" or _whole_months(rows, period):
                active[rep_id] = (a, plan)
                continue
        segs = month_segments(rows, period, term)
        if not segs:
            continue  # terminated before the month: a final statement below, if there is anything to state
        missing = [x.assignment.plan_id for x in segs if x.assignment.plan_id not in plans]
        if missing:
            month_exception(rep_id, (1, rep_id), f"{rep_id}: plan {missing[0]!r} is not loaded; rep skipped")
            continue
        last = segs[-1].assignment
        active[rep_id] = (last, plans[last.plan_id])
        segmented[rep_id] = [(x, plans[x.assignment.plan_id]) for x in segs]

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

    # final statements: a rep with no assignment in force this month (terminated, or between
    # assignments) who had one before it still gets this month's clawbacks and adjustments, on
    # the plan of the last assignment; a rep who never had one gets exceptions below
    final: dict[str, str] = {}
    for rep_id in sorted({x.rep_id for x in cancellations} | {adj.rep_id for adj in adjustments}):
        if rep_id in active:
            continue
        earlier = [a for a in assignments.get(rep_id, ()) if a.start < period_start]
        if not earlier:
            continue
        last = max(earlier, key=lambda a: a.start)
        plan = plans.get(last.plan_id)
        if plan is None:
            continue
        rep = reps.get(rep_id)
        term = rep.termination_date if rep is not None else None
        if term is not None and term < period_start:
            final[rep_id] = f"terminated on {term}; final statement (plan {plan.id})"
        else:
            ended = f", ended {last.end}" if last.end is not None else ""
            final[rep_id] = f"no plan assignment in {pstr}; statement on the last plan {plan.id} (from {last.start}{ended})"
        active[rep_id] = (last, plan)
        segmented[rep_id] = []

    for rep_id in sorted(month_by_rep):
        if rep_id not in active:
            cs = month_by_rep[rep_id]
            rep = reps.get(rep_id)
            term = rep.termination_date if rep is not None else None
            if term is not None:
                for c in sorted(cs, key=_credit_key):
                    if c.close_date > term:
                        month_exception(rep_id, (2, rep_id), _after_termination(rep_id, c, term))
                cs = [c for c in cs if c.close_date <= term]
                if not cs:
                    continue
            total = sum((c.credit for c in cs), ZERO)
            month_exception(
                rep_id, (2, rep_id), f"{rep_id}: {len(cs)} credit line(s) totalling {_fmt(total)} but no plan assignment in {pstr}; not paid"
            )
    # overrides: a manager's reports (with versions: whoever reported to them in any version,
    # and ``manager_changes`` says who managed a report on which days)
    reports_of: dict[str, list[str]] = defaultdict(list)
    manager_changes: dict[str, list[tuple[date | None, str | None]]] = {}
    if rep_versions is None:
        for rep_id, rep in reps.items():
            if rep.manager_id:
                reports_of[rep.manager_id].append(rep_id)
    else:
        for rep_id, rep in reps.items():
            versions = rep_versions.get(rep_id) or (rep,)
            managers = list(dict.fromkeys(v.manager_id for v in versions if v.manager_id))
            for m in managers:
                reports_of[m].append(rep_id)
            if len({v.manager_id for v in versions}) > 1:
                manager_changes[rep_id] = [(v.valid_from, v.manager_id) for v in versions]
    cancels_by_rep: dict[str, list[Cancellation]] = defaultdict(list)
    for i, x in enumerate(cancellations):
        cancels_by_rep[x.rep_id].append(x)
        if x.rep_id not in active:
            month_exception(x.rep_id, (3, i), f"{x.rep_id}: {x.deal_id} cancelled on {x.cancelled_on} but no plan assignment in {pstr}; nothing reversed")
    adjust_by_rep: dict[str, list[Adjustment]] = defaultdict(list)
    for i, adj in enumerate(adjustments):
        if adj.rep_id in active:
            adjust_by_rep[adj.rep_id].append(adj)
        else:
            month_exception(adj.rep_id, (4, i), f"{adj.rep_id}: adjustment {_fmt(adj.amount)} ({adj.reason}) but no plan assignment in {pstr}; not paid")

    todo = sorted(active.items()) if final else list(active.items())
    if only is not None:
        wanted_reps = set(only)
        todo = [t for t in todo if t[0] in wanted_reps]
        if keyed_exceptions is not None:
            keyed_exceptions.extend((key, text) for (rep_id, key), text in zip(month_keys, month_exceptions)
                                    if rep_id in wanted_reps)
    elif part[0] == 0:
        exceptions.extend(month_exceptions)
    if only is None and part != (0, 1):
        todo = _part_of(todo, part, month_by_rep, reports_of)
    # each credit list this part reads, in deal order, once (stable): for the rep's own lines and the overrides
    wanted: set[str] = set()
    for rep_id, (_a, plan) in todo:
        wanted.add(rep_id)
        for depth in range(1, len(_override_levels(plan)) + 1):
            wanted.update(_below(reports_of, rep_id, depth))
    for rep_id in wanted:
        cs = month_by_rep.get(rep_id)
        if cs:
            cs.sort(key=_credit_key)
    month = MonthContext(
        period=period, pstr=pstr, plans=plans, reps=reps, assignments=assignments, state=state, conv=conv,
        fx_notes=fx_notes, month_by_rep=month_by_rep, ytd_by_rep=ytd_by_rep, reports_of=reports_of,
        manager_changes=manager_changes, cancels_by_rep=cancels_by_rep, adjust_by_rep=adjust_by_rep,
        segmented=segmented, final=final, counts=counts, exceptions=exceptions, quotas=quotas or {}, active=active,
    )
    for rep_id, (assignment, plan) in todo:
        m = start_rep_month(month, rep_id, assignment, plan)
        for stage in REP_STAGES:
            stage(month, m)
        yield finish_rep_month(month, m)


# --------------------------------------------------------------------------- the stages of a rep's month


@dataclass(slots=True, eq=False)
class MonthContext:
    """What every rep's month reads: the month, its plans and reps, credits grouped by rep, and where
    exceptions go. Made once per month by :func:`iter_period_part`; the stages never change it."""

    period: Period
    pstr: str
    plans: Mapping[str, Plan]
    reps: Mapping[str, Rep]
    assignments: Mapping[str, Sequence[Assignment]]
    state: Mapping[str, RepState]
    conv: FxCredits | None
    fx_notes: Mapping[tuple[str, str, str, str], str] | None
    month_by_rep: Mapping[str, list[Credit]]
    ytd_by_rep: Mapping[str, list[Credit]]
    reports_of: Mapping[str, list[str]]
    manager_changes: Mapping[str, list[tuple[date | None, str | None]]]
    cancels_by_rep: Mapping[str, list[Cancellation]]
    adjust_by_rep: Mapping[str, list[Adjustment]]
    segmented: Mapping[str, list[tuple[Segment, Plan]]]
    final: Mapping[str, str]
    counts: object  # (Credit, Plan) -> bool: the credit still counts at the month's end
    exceptions: list[str]
    quotas: Mapping[str, Sequence[object]]  # rep -> quotas.csv rows (records.Quota)
    active: Mapping[str, tuple[Assignment, Plan]] = field(default_factory=dict)  # the month's reps and plans
    # override.base: commission: each report's commission by deal, priced once when a manager first needs it
    commission_by_deal: dict[str, dict[str, Decimal]] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class RepMonth:
    """One rep's month as the stages build it: each stage reads what earlier ones stored and adds its part."""

    rep_id: str
    assignment: Assignment
    plan: Plan
    rep: Rep | None
    hire: date | None
    tenure: int | None
    prior: RepState
    lines: list[Line] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    mine: list[Credit] = field(default_factory=list)  # the month's credits that count, in the plan's currency
    quota: Decimal = ZERO
    credited: Decimal = ZERO
    attainment: Decimal = ZERO
    ytd_quota: Decimal | None = None
    ytd_credited: Decimal | None = None
    commission: Decimal = ZERO  # commission and true-ups (what the cap limits)
    earnings: Decimal = ZERO  # the sum of the lines so far
    paid_delta: Decimal = ZERO  # change to the year-to-date paid tally
    tally: Decimal = ZERO  # the paid tally carried in
    clawed: Decimal = ZERO  # commission clawed back out of the tally
    late_draw: Decimal = ZERO  # draws a repriced locked month owed (advances, outside this month's earnings)
    extras_priced: bool = False  # SPIFFs and cap already priced (by segment)
    parts: list[ComponentMeasure] = field(default_factory=list)
    component_paid: tuple[tuple[str, str, Decimal], ...] = ()
    carry: Decimal = ZERO
    draw_balance: Decimal = ZERO

    def add(self, kind: str, amount: Decimal, **fields_: object) -> None:
        """Append a line (numbered on) and add it to the earnings."""
        self.lines.append(Line(rep_id=self.rep_id, period=self.pstr, seq=len(self.lines) + 1, kind=kind, amount=amount,
                               **fields_))
        self.earnings += amount

    pstr: str = ""


def start_rep_month(month: MonthContext, rep_id: str, assignment: Assignment, plan: Plan) -> RepMonth:
    rep = month.reps.get(rep_id)
    hire = rep.hire_date if rep else None
    tenure = tenure_month(hire, month.period)
    m = RepMonth(rep_id, assignment, plan, rep, hire, tenure, month.state.get(rep_id, EMPTY_STATE), pstr=month.pstr)
    if tenure is not None and tenure < 1:
        m.notes.append(f"hired {hire}, after this month")
    m.carry, m.draw_balance = m.prior.carry_balance, m.prior.draw_balance
    return m


def stage_measure_and_rate(month: MonthContext, m: RepMonth) -> None:
    """Measure (quota, credit, attainment) and rate (commission lines by band, true-ups): by segment for a
    part-month rep, by component for a v2 plan, else the whole month on the plan's v1 keys."""
    rep_id, plan, period = m.rep_id, m.plan, month.period
    segs = month.segmented.get(rep_id)
    if segs and plan.v2:
        m.notes.append(f"plan {plan.id} (components) is priced on the assignment in force at the month's end, "
                       "without proration")
        segs = None
    if segs is not None:  # part-month assignments, several in the month, or a final statement
        if rep_id in month.final:
            m.notes.append(month.final[rep_id])
        (m.quota, m.credited, m.attainment, m.ytd_quota, m.ytd_credited, m.earnings, m.paid_delta, m.tally,
         m.clawed) = _price_segments(
            rep_id, period, plan, segs, month.month_by_rep.get(rep_id, ()), month.ytd_by_rep.get(rep_id, ()),
            month.assignments.get(rep_id, ()), m.rep.termination_date if m.rep else None, m.hire, m.tenure, m.prior,
            month.cancels_by_rep.get(rep_id, ()), month.counts, m.lines, m.notes, month.exceptions, month.conv)
        m.extras_priced = True
        _v1_part(m, period)
        return
    counts = month.counts
    assert callable(counts)
    keep, plan_currency = m.mine.append, plan.currency
    for c in month.month_by_rep.get(rep_id, ()):
        if c.currency != plan_currency:
            c = _in_plan_currency(rep_id, c, plan, month.conv, month.exceptions)
            if c is None:
                continue
        if c.cancelled_on is None or counts(c, plan):
            keep(c)
        else:
            m.notes.append(f"{c.deal_id} cancelled on {c.cancelled_on} in its close month: not credited")
    if plan.v2:
        from compengine.engine.components import price_components  # v2 plans (lazily: it imports this module)

        price_components(month, m)
        return
    mine, lines, pstr, prior = m.mine, m.lines, month.pstr, m.prior
    m.quota = quota = plan.monthly_quota(m.assignment.annual_quota, m.tenure)
    m.credited = credited = sum((c.credit for c in mine), ZERO)
    # the year-to-date tally belongs to one plan: a rep who changes plan starts a new one
    same_tally = prior.ytd_year == period.year and prior.ytd_plan in (None, plan.id)
    m.tally = prior.ytd_paid if same_tally else ZERO
    on_plan = _months_on_plan(plan, month.assignments.get(rep_id, ()), period) if plan.measure == "ytd" else None
    m.clawed = _clawed_commission(month.cancels_by_rep.get(rep_id, ()), plan, period, on_plan)
    if plan.measure == "ytd":
        assert on_plan is not None
        months_on = {(x.year, x.month) for x in on_plan}  # = Period.of(close_date) in on_plan, without a Period per credit
        conv, theirs = month.conv, month.ytd_by_rep.get(rep_id, ())
        prior_credits = sorted(
            (c for c in (conv.in_currency(theirs, plan) if conv is not None else theirs)
             if c.currency == plan.currency and (c.cancelled_on is None or counts(c, plan))
             and (c.close_date.year, c.close_date.month) in months_on),
            key=_credit_key,
        )
        m.ytd_quota = ytd_quota = _ytd_quota(plan, m.hire, on_plan)
        prior_total = sum((c.credit for c in prior_credits), ZERO)
        m.ytd_credited = ytd_credited = prior_total + credited
        rater = _Rater(plan, ytd_quota, ytd_credited)
        earned_before = _earnings_total(rater, prior_credits, ZERO)
        comm_sum = _commission_lines(rater, rep_id, pstr, mine, prior_total, lines, month.fx_notes)
        m.earnings += comm_sum
        # commission clawed back this month leaves the paid tally first, so the
        # true-up re-bands the remaining deals instead of reversing it twice
        paid = m.tally - m.clawed
        true_up = earned_before - paid
        if true_up != 0:
            m.add("true_up", true_up, rule="quota.measure: ytd", component="commission",
                  rule_source=plan.rule_source("quota.measure"),
                  explain=(f"YTD true-up: earlier months' credit {_fmt(prior_total)} now earns {_fmt(earned_before)} "
                           f"at YTD attainment {_attain(ytd_credited, ytd_quota)}; {_fmt(paid)} paid so far"))
        m.attainment = _attain_dec(ytd_credited, ytd_quota)
        m.paid_delta += true_up + comm_sum
        m.commission = comm_sum + true_up
    else:
        rater = _Rater(plan, quota, credited)
        comm_sum = _commission_lines(rater, rep_id, pstr, mine, ZERO, lines, month.fx_notes)
        m.earnings += comm_sum
        m.commission = comm_sum
        m.paid_delta += comm_sum
        m.attainment = _attain_dec(credited, quota)
    _v1_part(m, period)


def _v1_part(m: RepMonth, period: Period) -> None:
    """A v1 plan's single component, "commission": its quota, credit and attainment (the year's to date on a
    ytd plan) and what its commission and true-up lines paid."""
    paid = sum((ln.amount for ln in m.lines if ln.kind == "commission" or ln.kind == "true_up"), ZERO)
    m.parts.append(ComponentMeasure("commission", "commission", _period_key("year" if m.plan.measure == "ytd" else "month", period),
                                    m.ytd_quota if m.ytd_quota is not None else m.quota,
                                    m.ytd_credited if m.ytd_credited is not None else m.credited, m.attainment, paid))


def stage_spiffs(month: MonthContext, m: RepMonth) -> None:
    """SPIFFs on the month's credits (outside the cap), scaled by the split."""
    plan = m.plan
    if m.extras_priced or not plan.spiffs:
        return
    rounder, unit = QUANTIZE[plan.rounding], quantum(plan.currency)
    for c in m.mine:
        for k, sp in enumerate(plan.spiffs):
            if sp.matches(c.deal_type, c.term_months, c.deal_amount, c.product):
                amt = rounder(sp.amount * c.split_pct / HUNDRED, unit)
                share = f" x {_pct(c.split_pct / HUNDRED)} {c.role or 'primary'} split"
                m.add("spiff", amt, deal_id=c.deal_id, rule=f"spiffs.{sp.id}",
                      explain=f"SPIFF {sp.id} on {c.deal_id}: {_fmt(sp.amount)}{share} = {_fmt(amt)}",
                      role=c.role, split_pct=c.split_pct, deal_source=c.source, rule_source=plan.rule_source(f"spiffs[{k}]"))


def stage_cap(month: MonthContext, m: RepMonth) -> None:
    """The monthly cap on commission and true-ups."""
    plan = m.plan
    if m.extras_priced or plan.cap is None or m.commission <= plan.cap:
        return
    over = plan.cap - m.commission
    m.add("cap", over, rule="cap.per_period", rule_source=plan.rule_source("cap.per_period"), component="commission",
          explain=f"Cap: commission {_fmt(m.commission)} is over the monthly cap {_fmt(plan.cap)}; {_fmt(-over)} not paid")


def _override_levels(plan: Plan) -> tuple[Decimal, ...]:
    if plan.override_levels:
        return plan.override_levels
    return (plan.override_rate,) if plan.override_rate is not None else ()


def _below(reports_of: Mapping[str, Sequence[str]], manager: str, depth: int) -> set[str]:
    """Everyone ``depth`` levels below ``manager`` (in any version of the reporting lines)."""
    level = {manager}
    seen = {manager}
    for _ in range(depth):
        level = {r for x in level for r in reports_of.get(x, ()) if r not in seen}
        seen |= level
    return level


def _chains(month: MonthContext, manager: str, depth: int) -> list[tuple[str, tuple[str, ...]]]:
    """The reports ``depth`` levels below ``manager``: (report, the managers between them, nearest first)."""
    level = [(r, (manager,)) for r in sorted(month.reports_of.get(manager, ()))]
    for _ in range(depth - 1):
        level = [(r2, (r,) + path) for r, path in level for r2 in sorted(month.reports_of.get(r, ()))
                 if r2 not in path and r2 != r]
    return level


def stage_overrides(month: MonthContext, m: RepMonth) -> None:
    """Overrides on reports' credit: level 1 on direct reports, level 2 on their reports, ... to the manager in
    force on each deal's close date (and at every level between)."""
    plan, rep_id = m.plan, m.rep_id
    levels = _override_levels(plan)
    if not levels or rep_id in month.final:
        return
    counts, conv = month.counts, month.conv
    assert callable(counts)
    rounder, unit, plan_currency = QUANTIZE[plan.rounding], quantum(plan.currency), plan.currency
    places = minor_units(plan_currency)
    last_day = m.rep.termination_date if m.rep is not None else None  # no override on deals closed after it
    by_levels = len(levels) > 1 or plan.override_rate is None  # written as override.levels
    lines, pstr, make = m.lines, m.pstr, _make_override_line
    for depth, o_rate in enumerate(levels, start=1):
        o_pct = _pct(o_rate)
        rule = f"override.levels[{depth - 1}]" if by_levels else "override.rate"
        source = plan.rule_source(rule)
        for report, path in _chains(month, rep_id, depth):
            head = f"Override on {report}'s " if depth == 1 else f"Level {depth} override on {report}'s (via {', '.join(path[:-1])}) "
            theirs = month.month_by_rep.get(report, ())
            # only the credits of days each link of the chain held
            links = [(report, path[0])] + [(path[i], path[i + 1]) for i in range(len(path) - 1)]
            for who, boss in links:
                changes = month.manager_changes.get(who)
                if changes is not None:
                    theirs = [c for c in theirs if _manager_on(changes, c.close_date) == boss]
            if last_day is not None:
                theirs = [c for c in theirs if c.close_date <= last_day]
            if plan.override_base == "commission":
                _commission_overrides(month, m, report, theirs, o_rate, rule, source, head)
                continue
            append, earned = lines.append, m.earnings  # the same sums as m.earnings += amt per line, kept local
            for c in theirs:
                if c.cancelled_on is not None and not counts(c, plan):
                    continue
                via = ""
                if c.currency != plan_currency:
                    if conv is None:
                        continue  # the report's plan decides its currency; none is converted without rates
                    converted, why = conv.convert(c, plan)
                    if converted is None:
                        month.exceptions.append(f"{rep_id}: override on {report}'s deal {c.deal_id} in {c.currency} for plan "
                                                f"{plan.id} in {plan_currency}: {why}; not paid")
                        continue
                    c, via = converted, f" ({why})"
                credit_ = c.credit
                amt = rounder(credit_ * o_rate, unit)
                append(make(rep_id, pstr, len(lines) + 1, "override", amt, c.deal_id, credit_, o_rate, rule,
                            f"{head}{c.deal_id}{via} credit {credit_:,.{places}f} at {o_pct} = {amt:,.{places}f}",
                            amt, c.source, source))
                earned += amt
            m.earnings = earned


def report_commission(month: MonthContext, report: str) -> tuple[dict[str, Decimal], str | None]:
    """What ``report``'s plan pays as commission on each deal this month (commission lines, after bands, before
    any cap; not SPIFFs or bonuses), and its plan currency: the report's measure-and-rate stage, run once for
    the month and kept (its exceptions and notes are the report's own, reported by its own month)."""
    got = month.commission_by_deal.get(report)
    entry = month.active.get(report)
    if entry is None:
        return {}, None
    if got is None:
        assignment, plan = entry
        shadow = RepMonth(report, assignment, plan, month.reps.get(report), None, None, month.state.get(report, EMPTY_STATE),
                          pstr=month.pstr)
        rep = shadow.rep
        shadow.hire = rep.hire_date if rep else None
        shadow.tenure = tenure_month(shadow.hire, month.period)
        stage_measure_and_rate(replace(month, exceptions=[]), shadow)
        got = {}
        for ln in shadow.lines:
            if ln.kind == "commission" and ln.deal_id is not None:
                got[ln.deal_id] = got.get(ln.deal_id, ZERO) + ln.amount
        month.commission_by_deal[report] = got
    return got, entry[1].currency


def _commission_overrides(month: MonthContext, m: RepMonth, report: str, theirs: Sequence[Credit], o_rate: Decimal,
                          rule: str, source: str, head: str) -> None:
    """``override.base: commission``: the rate on what the report's plan paid on each deal."""
    plan = m.plan
    paid, currency = report_commission(month, report)
    if not paid:
        return
    if currency != plan.currency:
        month.exceptions.append(f"{m.rep_id}: override on {report}'s commission in {currency} for plan {plan.id} in "
                                f"{plan.currency}: commission is not converted; not paid")
        return
    rounder, unit, places = QUANTIZE[plan.rounding], quantum(plan.currency), minor_units(plan.currency)
    seen: set[str] = set()
    for c in theirs:
        if c.deal_id in seen or c.deal_id not in paid:
            continue
        seen.add(c.deal_id)
        comm = paid[c.deal_id]
        amt = rounder(comm * o_rate, unit)
        m.add("override", amt, deal_id=c.deal_id, rate=o_rate, rule=f"{rule} (base: commission)", base=amt,
              deal_source=c.source, rule_source=source,
              explain=f"{head}{c.deal_id} commission {comm:,.{places}f} at {_pct(o_rate)} = {amt:,.{places}f}")


_make_override_line = record_maker(Line, "rep_id period seq kind amount deal_id credit rate rule explain base deal_source "
                                         "rule_source")


def stage_clawbacks(month: MonthContext, m: RepMonth) -> None:
    """Clawbacks of earlier deals cancelled this month: the share the plan's schedule reverses."""
    plan = m.plan
    rounder, unit = QUANTIZE[plan.rounding], quantum(plan.currency)
    for x in sorted(month.cancels_by_rep.get(m.rep_id, ()), key=lambda x: (x.cancelled_on, x.deal_id)):
        if not plan.clawback_applies(x.close_date, x.cancelled_on):
            m.notes.append(f"{x.deal_id} cancelled on {x.cancelled_on}, outside the clawback window: nothing reversed")
            continue
        paid = x.commission + x.other
        share = plan.clawback_share(x.close_date, x.cancelled_on, x.term_months)
        amt = -paid if share == 1 else -rounder(paid * share, unit)
        if amt == 0:
            if paid != 0:
                m.notes.append(f"{x.deal_id} cancelled on {x.cancelled_on}: the clawback schedule reverses nothing")
            continue
        days = (x.cancelled_on - x.close_date).days
        how = "" if share == 1 else f" x {_pct(share)} ({_share_rule(plan)})"
        rule = "clawback.window_days" if share == 1 and not plan.clawback_schedule and not plan.clawback_prorate else (
            "clawback.prorate: term" if plan.clawback_prorate else "clawback.schedule")
        m.add("clawback", amt, deal_id=x.deal_id, rule=rule, ref_period=x.period,
              rule_source=plan.rule_source(rule.split(":")[0]),
              explain=(f"Clawback: {x.deal_id} (closed {x.close_date}) cancelled on {x.cancelled_on}, {days} days later, "
                       f"within {plan.clawback_days}; reverses {_fmt(paid)}{how} paid in {x.period}"
                       + (f" = {_fmt(-amt)}" if share != 1 else "")))
    m.paid_delta -= m.clawed


def _share_rule(plan: Plan) -> str:
    return "unearned share of the term" if plan.clawback_prorate == "term" else "clawback schedule"


def stage_adjustments(month: MonthContext, m: RepMonth) -> None:
    """Manual and ledger adjustments (late changes, disputes)."""
    recoverable = m.plan.draw is not None and m.plan.draw.recoverable
    for adj in month.adjust_by_rep.get(m.rep_id, ()):
        m.lines.append(Line(rep_id=m.rep_id, period=m.pstr, seq=len(m.lines) + 1, kind=adj.kind, amount=adj.amount,
                            deal_id=adj.deal_id, rule=adj.ref or "manual", explain=adj.reason, ref_period=adj.ref_period,
                            ref=adj.ref))
        if adj.ref == LATE_DRAW_RULE and recoverable and adj.amount > 0:
            m.late_draw += adj.amount
            continue
        m.earnings += adj.amount
        if adj.counts_as_commission:
            m.paid_delta += adj.amount


def stage_pay(month: MonthContext, m: RepMonth) -> None:
    """Balances: a carried negative balance is recovered, the draw tops up or is recovered, a negative month is
    carried forward (``payout.negative: carry``) or paid (``pay``)."""
    plan = m.plan
    if m.carry > 0 and m.earnings > 0:
        rec = min(m.carry, m.earnings)
        m.add("balance_recovery", -rec, rule="carried balance",
              explain=f"Recovers {_fmt(rec)} of the {_fmt(m.carry)} negative balance carried from earlier months")
        m.carry -= rec
    if plan.in_draw(m.tenure) and m.rep_id not in month.final:
        assert plan.draw is not None
        draw_amt = plan.draw.amount
        if m.earnings < draw_amt:
            top = draw_amt - m.earnings
            how = "recoverable: added to the draw balance" if plan.draw.recoverable else "guaranteed: not recovered"
            m.add("draw", top, rule="draw.amount", rule_source=plan.rule_source("draw.amount"),
                  explain=f"Draw month {m.tenure} of {plan.draw.months}: earnings {_fmt(draw_amt - top)} topped up to the {_fmt(draw_amt)} draw ({how})")
            if plan.draw.recoverable:
                m.draw_balance += top
        elif m.draw_balance > 0:
            rec = min(m.draw_balance, m.earnings - draw_amt)
            if rec > 0:
                m.add("draw_recovery", -rec, rule="draw.recoverable", rule_source=plan.rule_source("draw.recoverable"),
                      explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(m.draw_balance)} draw balance, from earnings above the {_fmt(draw_amt)} draw")
                m.draw_balance -= rec
    elif m.draw_balance > 0 and m.earnings > 0:
        rec = min(m.draw_balance, m.earnings)
        m.add("draw_recovery", -rec, rule="draw.recoverable", rule_source=plan.rule_source("draw.recoverable"),
              explain=f"Draw recovery: {_fmt(rec)} of the {_fmt(m.draw_balance)} draw balance, after the draw months")
        m.draw_balance -= rec
    if m.earnings < 0:
        if plan.negative == "pay":
            m.notes.append(f"This month's lines sum to {_fmt(m.earnings)}: paid as a negative payout (payout.negative: pay)")
        else:
            owed = -m.earnings
            m.add("carry_forward", owed, rule="negative month",
                  explain=f"This month's lines sum to {_fmt(-owed)}: nothing is paid and {_fmt(owed)} is carried forward, recovered from later payouts")
            m.carry += owed
    if m.late_draw:  # a recoverable draw paid late joins the draw balance, recovered like any other
        m.draw_balance += m.late_draw
        m.earnings += m.late_draw


# The stages of a rep's month, in order: each reads the month and what earlier stages stored on the rep's
# month, and adds its lines (one signature, like beancount's plugins).
REP_STAGES = (stage_measure_and_rate, stage_spiffs, stage_cap, stage_overrides, stage_clawbacks, stage_adjustments,
              stage_pay)


def finish_rep_month(month: MonthContext, m: RepMonth) -> RepResult:
    """The rep's result: lines summed by kind, the payout, and the balances carried to the next month."""
    components = dict.fromkeys(COMPONENTS, ZERO)
    payout = ZERO
    for ln in m.lines:
        components[ln.kind] = components.get(ln.kind, ZERO) + ln.amount
        payout += ln.amount
    assert payout == m.earnings, (m.rep_id, payout, m.earnings)
    plan = m.plan
    new_state = RepState(m.draw_balance, m.carry, m.tally + m.paid_delta, month.period.year, plan.id,
                         m.component_paid)
    return RepResult(m.rep_id, plan.id, plan.currency, plan.measure, m.quota, m.credited, m.attainment, m.ytd_quota,
                     m.ytd_credited, m.tenure, m.lines, components, payout, new_state, m.notes, m.parts)


def _period_key(period_kind: str, p: Period) -> str:
    """The quota period holding month ``p``: "2026-10", "2026-Q4", "2026-H2" or "2026"."""
    if period_kind == "month":
        return str(p)
    if period_kind == "quarter":
        return f"{p.year}-Q{(p.month - 1) // 3 + 1}"
    if period_kind == "half":
        return f"{p.year}-H{(p.month - 1) // 6 + 1}"
    return str(p.year)


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
        for depth in range(1, len(_override_levels(plan)) + 1):
            w += sum(len(month_by_rep.get(r, ())) for r in _below(reports_of, rep_id, depth))
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
    """Cumulative quota over the months of the year to date (:func:`_months_on_plan`): the sum of each
    month's annual quota x ramp percent / 1200, rounded once (twelve months of an annual 1,000,000 are
    exactly 1,000,000.00, not twelve rounded monthly quotas)."""
    total = ZERO
    for m, a in sorted(on_plan.items()):
        if hire is not None and Period.of(hire) > m:
            continue
        annual = plan.annual_quota if a.annual_quota is None else a.annual_quota
        total += CONTEXT.multiply(annual, plan.ramp_pct(tenure_month(hire, m)))
    return round_minor(CONTEXT.divide(total, TWELVE_HUNDRED), plan.currency, plan.rounding)


TWELVE_HUNDRED = Decimal(1200)


# --------------------------------------------------------------------------- segments (mid-month changes)


def _whole_month(a: Assignment, rows: Sequence[Assignment], first: date, last: date, termination: date | None) -> bool:
    """``a`` is the rep's only assignment in the month ``first``..``last``, in force all of it
    (no termination in it)."""
    return (a.start <= first and (a.end is None or a.end >= last) and (termination is None or termination >= last)
            and (len(rows) == 1 or sum(1 for x in rows if x.overlaps(first, last)) == 1))


def _after_termination(rep_id: str, c: Credit, termination: date) -> str:
    return f"{rep_id}: {c.deal_id} closed {c.close_date}, after {rep_id}'s termination on {termination}; not paid"


def _no_assignment(rep_id: str, c: Credit) -> str:
    return f"{rep_id}: {c.deal_id} closed {c.close_date} while {rep_id} had no plan assignment; not paid"


def _whole_months(rows: Sequence[Assignment], period: Period) -> bool:
    """Every earlier month of the plan year with an assignment in force had one, all month.

    Read from the rows' edges (called for every rep on a ytd plan, so no month is walked):
    the rows in force in the year before ``period`` start on a month's first day (or before
    the year) and end on a month's last day (or after ``period`` starts), and do not overlap.
    """
    year_start = date(period.year, 1, 1)
    first = period.start
    if len(rows) == 1:
        a = rows[0]
        return (a.start <= year_start or a.start >= first or a.start.day == 1) and (
            a.end is None or a.end >= first or a.end < year_start or (a.end + _DAY).day == 1)
    rel = [a for a in rows if a.start < first and (a.end is None or a.end >= year_start)]
    for a in rel:
        if a.start > year_start and a.start.day != 1:
            return False
        if a.end is not None and a.end < first and (a.end + _DAY).day != 1:
            return False
    rel.sort(key=lambda a: a.start)
    return all(a.end is not None and a.end < b.start for a, b in zip(rel, rel[1:]))


def _days(x: Segment) -> int:
    return (x.last - x.first).days + 1


def segment_quota(plan: Plan, annual: Decimal | None, tenure: int | None, days: int, month_days: int) -> Decimal:
    """annual / 12 x ramp percent x days / month_days, rounded once to cents (the quota boundary).

    The full monthly quota (:meth:`Plan.monthly_quota`) for a whole month, or with ``proration: none``.
    """
    if plan.proration == "none" or days == month_days:
        return plan.monthly_quota(annual, tenure)
    annual = plan.annual_quota if annual is None else annual
    pct = plan.ramp_pct(tenure)
    return round_minor(CONTEXT.divide(CONTEXT.multiply(CONTEXT.multiply(annual, pct), Decimal(days)),
                                      Decimal(1200 * month_days)), plan.currency, plan.rounding)


def segment_cap(plan: Plan, days: int, month_days: int) -> Decimal | None:
    """The plan's cap for ``days`` of a month: prorated like the quota (``proration: calendar_days``)."""
    if plan.cap is None or plan.proration == "none" or days == month_days:
        return plan.cap
    return round_minor(CONTEXT.divide(CONTEXT.multiply(plan.cap, Decimal(days)), Decimal(month_days)), plan.currency,
                       plan.rounding)


def _ytd_segments(plan: Plan, rows: Sequence[Assignment], period: Period, termination: date | None,
                  current: Sequence[Segment]) -> dict[Period, list[Segment]]:
    """:func:`_months_on_plan` by segment: this month's segments on the plan, then each earlier
    month's, back to the month that ended on another plan (a month without one does not end it)."""
    out: dict[Period, list[Segment]] = {}
    mine = [x for x in current if x.assignment.plan_id == plan.id]
    if mine:
        out[period] = mine
    for m in reversed(period.year_start().months_through(period.prev())):
        segs = month_segments(rows, m, termination)
        if not segs:
            continue
        if segs[-1].assignment.plan_id != plan.id:
            break
        out[m] = [x for x in segs if x.assignment.plan_id == plan.id]
    return out


def _ytd_quota_segments(plan: Plan, hire: date | None, on_plan: Mapping[Period, Sequence[Segment]]) -> Decimal:
    """Cumulative quota of the year to date: each month's segments on the plan, prorated, summed exactly
    and rounded once."""
    total = ZERO
    for m, segs in sorted(on_plan.items()):
        if hire is not None and Period.of(hire) > m:
            continue
        tenure = tenure_month(hire, m)
        month_days = m.end.day
        pct = plan.ramp_pct(tenure)
        for x in segs:
            annual = plan.annual_quota if x.assignment.annual_quota is None else x.assignment.annual_quota
            part = CONTEXT.multiply(annual, pct)
            if plan.proration != "none" and _days(x) != month_days:
                part = CONTEXT.divide(CONTEXT.multiply(part, Decimal(_days(x))), Decimal(month_days))
            total += part
    return round_minor(CONTEXT.divide(total, TWELVE_HUNDRED), plan.currency, plan.rounding)


def _price_segments(
    rep_id: str,
    period: Period,
    end_plan: Plan,
    segs: Sequence[tuple[Segment, Plan]],
    credits: Sequence[Credit],
    ytd_credits: Sequence[Credit],
    rows: Sequence[Assignment],
    termination: date | None,
    hire: date | None,
    tenure: int | None,
    prior: RepState,
    cancels: Sequence[Cancellation],
    counts: object,
    lines: list[Line],
    notes: list[str],
    exceptions: list[str],
    conv: FxCredits | None = None,
) -> tuple[Decimal, Decimal, Decimal, Decimal | None, Decimal | None, Decimal, Decimal, Decimal, Decimal]:
    """Measure, rate, SPIFFs and cap of a rep's month, segment by segment.

    A credit is priced under the segment in force on its close date (none: an exception).
    ``period`` plans price each segment against its own prorated quota; a ``ytd`` plan prices
    its segments of the month together against its year-to-date quota (the sum of its
    prorated segments). Segments of a plan in another currency than ``end_plan`` (the plan in
    force at the month's end) are not paid. Returns the month-end segment's quota, credit,
    attainment, ytd quota and credit, then the earnings, the change to the paid tally, the
    tally (of ``end_plan``) and the commission clawed back from it.
    """
    assert callable(counts)
    pstr = str(period)
    month_days = period.end.day
    end_cur = end_plan.currency
    fx_notes = conv.notes if conv is not None else None
    whole = covers_month([x for x, _ in segs], period)  # one segment all month: lines as a whole month's
    skipped = [p.currency != end_cur for _, p in segs]
    per_seg: list[list[Credit]] = [[] for _ in segs]
    not_mixed: dict[int, list[Credit]] = defaultdict(list)
    for c in credits:  # in deal order
        d = c.close_date
        for i, (x, p) in enumerate(segs):
            if x.first <= d <= x.last:
                break
        else:
            exceptions.append(_after_termination(rep_id, c, termination) if termination is not None and d > termination
                              else _no_assignment(rep_id, c))
            continue
        if skipped[i]:
            not_mixed[i].append(c)
            continue
        if c.currency != p.currency:
            c = _in_plan_currency(rep_id, c, p, conv, exceptions)
            if c is None:
                continue
        if c.cancelled_on is None or counts(c, p):
            per_seg[i].append(c)
        else:
            notes.append(f"{c.deal_id} cancelled on {c.cancelled_on} in its close month: not credited")
    for i, (x, p) in enumerate(segs):
        if skipped[i]:
            cs = not_mixed.get(i, ())
            exceptions.append(
                f"{rep_id}: {x.first}..{x.last} on {p.id} pays {p.currency} but the month ends on {end_plan.id} in {end_cur}; "
                f"currencies are not mixed in a month: its {len(cs)} credit line(s) totalling "
                f"{_fmt(sum((c.credit for c in cs), ZERO))} not paid")

    # pricing units: a period plan's segment, or a ytd plan's segments of the month together
    units: list[tuple[Plan, list[int]]] = []
    ytd_unit: dict[str, int] = {}
    for i, (x, p) in enumerate(segs):
        if skipped[i]:
            continue
        if p.measure == "ytd":
            k = ytd_unit.get(p.id)
            if k is not None:
                units[k][1].append(i)
                continue
            ytd_unit[p.id] = len(units)
        units.append((p, [i]))

    same_year = prior.ytd_year == period.year
    first_plan = units[0][0].id if units else end_plan.id

    def tally_of(plan_id: str) -> Decimal:
        """The paid tally belongs to one plan (the first of the month when the state does not say)."""
        owner = prior.ytd_plan if prior.ytd_plan is not None else first_plan
        return prior.ytd_paid if same_year and owner == plan_id else ZERO

    current = [x for x, _ in segs]
    end_on = _ytd_segments(end_plan, rows, period, termination, current) if end_plan.measure == "ytd" else None
    clawed = _clawed_commission(cancels, end_plan, period, end_on)
    earnings = ZERO
    delta = ZERO  # to the tally of the month-end plan
    last_i = len(segs) - 1
    result: tuple[Decimal, Decimal, Decimal, Decimal | None, Decimal | None] = (
        ZERO, ZERO, _attain_dec(ZERO, ZERO), None, None)
    for p, idx in units:
        useg = [segs[i][0] for i in idx]
        mine = [c for i in idx for c in per_seg[i]]  # segments are in date order: so are their credits
        credited = sum((c.credit for c in mine), ZERO)
        quotas = [segment_quota(p, x.assignment.annual_quota, tenure, _days(x), month_days) for x in useg]
        quota = sum(quotas, ZERO)
        days = sum(_days(x) for x in useg)
        label = ", ".join(f"{x.first}..{x.last}" for x in useg) + f" on {p.id}"
        first_line = len(lines)
        ytd_q = ytd_c = None
        if p.measure == "ytd":
            on = _ytd_segments(p, rows, period, termination, current)
            ranges = [(x.first, x.last) for m, xs in on.items() if m != period for x in xs]
            prior_credits = sorted(
                (c for c in (conv.in_currency(ytd_credits, p) if conv is not None else ytd_credits)
                 if c.currency == p.currency and (c.cancelled_on is None or counts(c, p))
                 and any(f <= c.close_date <= t for f, t in ranges)),
                key=_credit_key,
            )
            ytd_q = _ytd_quota_segments(p, hire, on)
            prior_total = sum((c.credit for c in prior_credits), ZERO)
            ytd_c = prior_total + credited
            rater = _Rater(p, ytd_q, ytd_c)
            earned_before = _earnings_total(rater, prior_credits, ZERO)
            comm_sum = _commission_lines(rater, rep_id, pstr, mine, prior_total, lines, fx_notes)
            paid = tally_of(p.id) - (clawed if p.id == end_plan.id else ZERO)
            true_up = earned_before - paid
            if true_up != 0:
                lines.append(
                    Line(rep_id=rep_id, period=pstr, seq=len(lines) + 1, kind="true_up", amount=true_up, rule="quota.measure: ytd",
                         component="commission", rule_source=p.rule_source("quota.measure"),
                         explain=(f"YTD true-up: earlier months' credit {_fmt(prior_total)} now earns {_fmt(earned_before)} "
                                  f"at YTD attainment {_attain(ytd_c, ytd_q)}; {_fmt(paid)} paid so far"))
                )
            commission = comm_sum + true_up
            attainment = _attain_dec(ytd_c, ytd_q)
        else:
            rater = _Rater(p, quota, credited)
            commission = _commission_lines(rater, rep_id, pstr, mine, ZERO, lines, fx_notes)
            attainment = _attain_dec(credited, quota)
        earned = commission
        rounder = QUANTIZE[p.rounding]
        unit = quantum(p.currency)
        for c in mine if p.spiffs else ():
            for k, sp in enumerate(p.spiffs):
                if sp.matches(c.deal_type, c.term_months, c.deal_amount, c.product):
                    amt = rounder(sp.amount * c.split_pct / HUNDRED, unit)
                    share = f" x {_pct(c.split_pct / HUNDRED)} {c.role or 'primary'} split"
                    lines.append(Line(rep_id=rep_id, period=pstr, seq=len(lines) + 1, kind="spiff", amount=amt,
                                      deal_id=c.deal_id, rule=f"spiffs.{sp.id}", deal_source=c.source,
                                      rule_source=p.rule_source(f"spiffs[{k}]"),
                                      explain=f"SPIFF {sp.id} on {c.deal_id}: {_fmt(sp.amount)}{share} = {_fmt(amt)}",
                                      role=c.role, split_pct=c.split_pct))
                    earned += amt
        cap = segment_cap(p, days, month_days)
        if cap is not None and commission > cap:
            over = cap - commission
            which = f"monthly cap {_fmt(cap)}" if cap == p.cap else f"cap {_fmt(cap)} for {days} of {month_days} days ({_fmt(p.cap)} x {days}/{month_days})"  # type: ignore[arg-type]
            lines.append(Line(rep_id=rep_id, period=pstr, seq=len(lines) + 1, kind="cap", amount=over, rule="cap.per_period",
                              component="commission", rule_source=p.rule_source("cap.per_period"),
                              explain=f"Cap: commission {_fmt(commission)} is over the {which}; {_fmt(-over)} not paid"))
            earned += over
        if not whole:
            short = ", ".join(f"{x.first}..{x.last}" for x in useg) + f" {p.id}"
            for k in range(first_line, len(lines)):
                ln = lines[k]
                lines[k] = ln._replace(rule=f"segment {short}: {ln.rule}", explain=f"[{label}] {ln.explain}")
            how = " + ".join(
                (f"{_fmt(q)} = {_fmt(p.monthly_quota(x.assignment.annual_quota, tenure))} x {_days(x)}/{month_days}"
                 if p.proration != "none" and _days(x) != month_days else f"{_fmt(q)}, not prorated")
                for x, q in zip(useg, quotas))
            note = f"{label} (quota {how}): credit {_fmt(credited)}, attainment {_attain(credited, quota)}"
            if ytd_q is not None:
                note += f"; YTD quota {_fmt(ytd_q)}, YTD credit {_fmt(ytd_c)}, YTD attainment {_attain(ytd_c, ytd_q)}"
            notes.append(note)
        earnings += earned
        if p.id == end_plan.id:
            delta += commission
        if last_i in idx:
            result = (quota, credited, attainment, ytd_q, ytd_c)
    return (*result, earnings, delta, tally_of(end_plan.id), clawed)
