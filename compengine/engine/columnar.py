"""The columnar engine (issue 18): a month's payouts as NumPy arrays over integer minor units.

Inputs: a :class:`~compengine.engine.driver.Dataset`, the month's plans and the month. Output: a
:class:`ColumnarMonth`, whose arrays hold every payout line's facts (rep, deal, kind, credit, rate,
band, multiplier, amount, in integer minor units) and each rep's totals; :meth:`ColumnarMonth.result`
makes the same :class:`~compengine.engine.records.PeriodResult` as the pure engine (line for line,
explain sentences formatted then, only when a result is shown or stored).

The set-based formulation: credits ordered by (rep, close date, deal id), running sums per rep, each
credit's portion in band ``b`` is ``clip(end, lo_b, hi_b) - clip(start, lo_b, hi_b)`` against the rep's
band edges (quota x upto, rounded once to minor units, as the pure engine), and each portion's amount
``portion x rate x multiplier`` is an exact integer fraction rounded once with the plan's mode.

It supports what a v1 plan month computed in one run uses (:func:`unsupported` lists the rest): rates by
deal type, marginal and retroactive bands, period and ytd quotas, ramps, the monthly cap, SPIFFs, draws
(first month), one level of overrides on credit, splits and overlays, in-month cancellations, and with
exchange rates deals in other currencies (0-2 places) converted into the plans' (2 places) as the pure
engine's ``FxCredits`` converts them (:class:`_FxColumns`; a missing rate: the pure engine). For
anything else :func:`calculate_month` returns the pure engine's result (the whole run), so the columnar
engine never gives a different answer: it gives none.

No I/O, no clock, no globals; money never goes through a float.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from math import gcd
from typing import Any

import numpy as np

from compengine.core.currency import allocate_minor, minor_units
from compengine.core.errors import Source
from compengine.core.fx import MissingRate
from compengine.core.money import ZERO, to_cents
from compengine.core.periods import Period, tenure_month
from compengine.engine import pipeline as P
from compengine.engine.records import COMPONENTS, ComponentMeasure, Deal, LazyLines, Line, PeriodResult, RepResult, RepState

HUNDRED = Decimal(100)
ONE = Decimal(1)
ONE_0 = Decimal("1.0")
_QUANTUM = {p: Decimal(1).scaleb(-p) for p in range(3)}
_INT64_LIMIT = 2**62  # products of minor units, rate and multiplier numerators stay below this

KIND_COMMISSION, KIND_SPIFF, KIND_CAP, KIND_OVERRIDE, KIND_DRAW, KIND_CARRY = range(6)
_KIND_NAMES = ((0, "commission"), (1, "spiff"), (2, "cap"), (3, "override"), (4, "draw"), (5, "carry_forward"))


def _ratio(x: Decimal) -> tuple[int, int]:
    n, d = x.as_integer_ratio()
    return n, d


def round_div(num: np.ndarray, den: np.ndarray | int, mode: str) -> np.ndarray:
    """``num / den`` (den > 0) rounded to an integer: ``half_up`` (ties away from zero, as ROUND_HALF_UP)
    or ``half_even``; exact integer arithmetic."""
    q, r = np.divmod(num, den)  # floor: 0 <= r < den
    twice = 2 * r
    if mode == "half_up":
        up = (twice > den) | ((twice == den) & (num >= 0))
    else:
        up = (twice > den) | ((twice == den) & (q % 2 == 1))
    return q + up


def _allocate_cents(units: int, weights: list[Decimal]) -> list[int]:
    """``allocate_minor`` in integers: ``units x w / sum(w)`` rounded down, the units left over one each to the
    largest remainders, ties by position. (allocate_minor computes each share in 34 digits; a share of an amount
    of at most 15 digits by weights of a few places is exact in them, so the remainders compare the same.)"""
    ratios = [w.as_integer_ratio() for w in weights]
    den = 1
    for _n, d in ratios:
        den = den * d // gcd(den, d)
    nums = [n * (den // d) for n, d in ratios]
    total = sum(nums)
    if total == 0 or any(n < 0 for n in nums) or abs(units) >= 10**15:
        return [to_cents(x) for x in allocate_minor(Decimal(units).scaleb(-2), weights, "USD")]
    shares = [divmod(units * n, total) for n in nums]
    floors = [q for q, _r in shares]
    order = sorted(range(len(shares)), key=lambda i: (-shares[i][1], i))
    for i in order[:units - sum(floors)]:
        floors[i] += 1
    return floors


def _fmt_cents(cents: int, places: int) -> str:
    """A positive count of cents as ``f"{amount:,.{places}f}"`` formats the amount (places 0 or 2: whole yen are
    cents too), in integers."""
    whole, frac = divmod(cents, 100)
    if places == 2:
        return f"{whole:,}.{frac:02d}"
    if places == 0 and frac == 0:
        return f"{whole:,}"
    return f"{Decimal(cents).scaleb(-2):,.{places}f}"


def _round_int(num: int, den: int, mode: str) -> int:
    q, r = divmod(num, den)
    if 2 * r > den or (2 * r == den and ((num >= 0) if mode == "half_up" else (q % 2 == 1))):
        q += 1
    return q


# --------------------------------------------------------------------------- deals as columns


class DealColumns(Sequence):
    """A data folder's deals as columns (what ``datafiles.read_data_folder_fast`` reads): a sequence of
    :class:`~compengine.engine.records.Deal`, each made when asked for (equal to what the full reader makes),
    while the columnar engine reads the columns. Quantity 1, cost 0, no attributes. ``currency`` is each deal's (a data folder with ``fx_rates.csv`` may mix them)."""

    def __init__(self, *, file: str, deal_id: list[str], account: list[str], deal_type: list[str],
                 amount_text: list[str], cents: list[int], currency: list[str], close_date: list, owner_id: list[str],
                 term_months: list, product: list, cancelled_on: list) -> None:
        self.file, self.deal_id, self.account, self.deal_type = file, deal_id, account, deal_type
        self.amount_text, self.cents, self.currency, self.close_date = amount_text, cents, currency, close_date
        self.owner_id, self.term_months, self.product, self.cancelled_on = owner_id, term_months, product, cancelled_on
        self._sources: dict[int, Source] = {}

    def __len__(self) -> int:
        return len(self.deal_id)

    def __getitem__(self, i):  # noqa: ANN001, ANN204
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return Deal(self.deal_id[i], self.account[i], self.deal_type[i], Decimal(self.amount_text[i]), self.currency[i],
                    self.close_date[i], self.owner_id[i], self.term_months[i], self.product[i], self.cancelled_on[i],
                    self.source(i), ONE, ZERO, ())

    def source(self, i: int) -> Source:
        """The deal's row (one Source a deal, as the full reader makes)."""
        s = self._sources.get(i)
        if s is None:
            s = self._sources[i] = Source(self.file, i + 2)
        return s


class _DealView:
    """What the columnar engine reads of the deals, from columns or from Deal objects."""

    def __init__(self, deals: Any) -> None:
        self.deals = deals
        if isinstance(deals, DealColumns):
            self.cols = deals
            self.deal_id, self.account, self.deal_type = deals.deal_id, deals.account, deals.deal_type
            self.close_date, self.owner_id, self.cancelled_on = deals.close_date, deals.owner_id, deals.cancelled_on
            self.term_months, self.product, self.cents = deals.term_months, deals.product, deals.cents
            self.currency = deals.currency
        else:
            self.cols = None
            self.deal_id = [d.deal_id for d in deals]
            self.account = [d.account for d in deals]
            self.deal_type = [d.deal_type for d in deals]
            self.close_date = [d.close_date for d in deals]
            self.owner_id = [d.owner_id for d in deals]
            self.cancelled_on = [d.cancelled_on for d in deals]
            self.term_months = [d.term_months for d in deals]
            self.product = [d.product for d in deals]
            self.cents = [to_cents(d.amount) for d in deals]
            self.currency = [d.currency for d in deals]

    def amount(self, i: int) -> Decimal:
        return Decimal(self.cols.amount_text[i]) if self.cols is not None else self.deals[i].amount

    def source(self, i: int) -> Any:
        return self.cols.source(i) if self.cols is not None else self.deals[i].source


def _first_period(data: Any) -> Period | None:
    if isinstance(data.deals, DealColumns):
        dates = [a.start for a in data.assignments] + ([min(data.deals.close_date)] if len(data.deals) else [])
        return Period.of(min(dates)) if dates else None
    return data.first_period()


# --------------------------------------------------------------------------- what it supports


def unsupported(data: Any, plans: Mapping[str, Any], period: Period) -> str | None:
    """Why the columnar engine can not compute ``period`` of ``data`` (None: it can)."""
    first = _first_period(data)
    if first is not None and first < period:
        return f"the run starts in {first}, before {period} (carried balances and clawbacks: several months)"
    if any(data.quotas.values()):
        return "quotas per component (quotas.csv)"
    if data.adjustments.get(str(period)):
        return "adjustments"
    by_rep: dict[str, list] = defaultdict(list)
    for a in data.assignments:
        by_rep[a.rep_id].append(a)
    columns = isinstance(data.deals, DealColumns)
    currencies = set(data.deals.currency) if columns else {d.currency for d in data.deals}
    if data.fx is not None:  # deals converted into each plan's currency (in cents: deal currencies of 0-2 places)
        finer = sorted(c for c in currencies if minor_units(c) > 2)
        if finer:
            return f"deals in {', '.join(finer)} (more than 2 decimal places: not in cents)"
    used: set[str] = set()
    for rep_id, rows in by_rep.items():
        rep = data.reps.get(rep_id)
        if rep is None or len(rows) != 1:
            return f"{rep_id}: several assignments, or no rep row"
        if rep.termination_date is not None or rep.valid_from is not None:
            return f"{rep_id}: terminated or versioned"
        a = rows[0]
        if a.start > period.end:
            continue
        if not (a.start <= period.start and (a.end is None or a.end >= period.end)):
            return f"{rep_id}: a part-month assignment"
        if a.plan_id not in plans:
            return f"{rep_id}: plan {a.plan_id!r} not loaded"
        used.add(a.plan_id)
    for rep_id, rep in data.reps.items():
        if rep.manager_id == rep_id:
            return f"{rep_id} manages themself"
    deal_types = set(data.deals.deal_type) if columns else {d.deal_type for d in data.deals}
    for pid in used:
        plan = plans[pid]
        if deal_types - plan.rates.keys():
            return f"plan {pid} has no rate for {', '.join(sorted(deal_types - plan.rates.keys()))}"
        if plan.v2:
            return f"plan {pid}: components (v2)"
        if plan.override_base != "credit" or len(P._override_levels(plan)) > 1:
            return f"plan {pid}: override levels or base"
        if not plan.tiers or plan.tiers[-1].upper is not None or any(t.upper is None for t in plan.tiers[:-1]):
            return f"plan {pid}: bands without an open last band"
        if data.fx is None and currencies - {plan.currency}:
            return f"plan {pid} pays in {plan.currency}, deals in {', '.join(sorted(currencies))}"
        if plan.rounding not in ("half_up", "half_even"):
            return f"plan {pid}: rounding {plan.rounding}"
        if minor_units(plan.currency) != 2:
            return f"plan {pid}: currency {plan.currency} is not in cents"
    if columns:  # the fast reader took positive cent amounts only
        return None
    for d in data.deals:  # positive amounts in cents (the reader checks them; this keeps the promise local)
        if d.amount <= 0 or d.amount.as_tuple().exponent < -2:  # type: ignore[operator]
            return f"deal {d.deal_id}: amount {d.amount} (a negative zero would print as -0.00)"
        if data.fx is not None and d.amount != d.amount.quantize(_QUANTUM[minor_units(d.currency)]):
            return f"deal {d.deal_id}: amount {d.amount} finer than {d.currency}'s minor unit"
    return None


# --------------------------------------------------------------------------- exchange rates (issue 15)


class NotColumnar(Exception):
    """The month can not be computed in columns after all (a missing exchange rate): the pure engine computes it."""


class _FxColumns:
    """Credits converted into a plan's currency exactly as the pure engine's ``FxCredits`` converts them: each
    deal's amount once per (plan currency, ``fx`` policy, rounding) at the quote the policy picks for its close
    date, ``amount x rate`` as an exact integer fraction of minor units rounded once with the plan's mode (one
    NumPy step per currency pair and close date); a deal with split rows then split among its primary
    receivers by largest remainder (``allocate_minor``), an overlay rounded on its own (in Python: few).

    Amounts are in cents of the deal's currency (a currency of 0-2 places: whole yen are cents too) and the
    plans' currencies have 2 places (:func:`unsupported`), so a rate converts cents into cents."""

    def __init__(self, fx: Any, v: _DealView, amounts: np.ndarray, split_credits: Sequence[Any],
                 split_deal: Sequence[int], c_is_split: np.ndarray) -> None:
        self.fx, self.v, self.amounts, self.c_is_split = fx, v, amounts, c_is_split
        n = len(amounts)
        self.ccys = sorted(set(v.currency))
        ccy_no = {c: i for i, c in enumerate(self.ccys)}
        self.deal_ccy = np.fromiter(map(ccy_no.__getitem__, v.currency), dtype=np.int64, count=n)
        self.days = sorted(set(v.close_date))
        day_no = {d: i for i, d in enumerate(self.days)}
        self.deal_day = np.fromiter(map(day_no.__getitem__, v.close_date), dtype=np.int64, count=n)
        self.tokens: list[tuple] = []  # (currency, rate_date, base, rounding) of the plans converting
        self._token_no: dict[tuple, int] = {}
        self.totals: list[np.ndarray] = []  # per token: each deal's amount converted (cents), -1 where not asked
        self.quotes: dict[tuple[int, int, int], Any] = {}  # (token, deal currency, close day) -> Quote
        self._primaries: dict[int, list[Any]] = defaultdict(list)  # deal index -> its primary credits (split deals)
        for c, di in zip(split_credits, split_deal):
            if c.role == "primary":
                self._primaries[di].append(c)
        self._parts: dict[tuple[int, int], dict[str, Decimal]] = {}
        self._policy: list[int] = []  # per token: the first token of its currency and policy (any rounding)
        self._notes: dict[int, tuple[int, str]] = {}  # policy token x deals + deal -> (total, text)

    def token(self, plan: Any) -> int:
        key = (plan.currency, plan.fx.rate_date, plan.fx.base, plan.rounding)
        t = self._token_no.get(key)
        if t is None:
            t = self._token_no[key] = len(self.tokens)
            self._policy.append(next((i for i, k in enumerate(self.tokens) if k[:3] == key[:3]), t))
            self.tokens.append(key)
            self.totals.append(np.full(len(self.amounts), -1, dtype=np.int64))
        return t

    def _convert_deals(self, t: int, deals: np.ndarray) -> None:
        """Each of ``deals`` (indexes, none in the token's currency) converted, once."""
        totals = self.totals[t]
        need = deals[totals[deals] < 0]
        if not len(need):
            return
        to_ccy, rate_date, base, mode = self.tokens[t]
        n_days = len(self.days)
        keys = self.deal_ccy[need] * n_days + self.deal_day[need]
        groups, inverse = np.unique(keys, return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        bounds = np.searchsorted(inverse[order], np.arange(len(groups) + 1))
        for g, key in enumerate(groups.tolist()):
            ccy_i, day_i = divmod(key, n_days)
            try:
                q, _asked = self.fx.quote(self.ccys[ccy_i], to_ccy, self.days[day_i], rate_date=rate_date, base=base)
            except MissingRate as exc:
                raise NotColumnar(f"a missing exchange rate ({exc})") from None
            self.quotes[(t, ccy_i, day_i)] = q
            num, den = q.exact.numerator, q.exact.denominator
            idx = need[order[bounds[g]:bounds[g + 1]]]
            a = self.amounts[idx]
            if int(a.max()) * num < _INT64_LIMIT and den < _INT64_LIMIT:
                totals[idx] = round_div(a * num, den, mode)
            else:  # exact in Python integers
                out = [_round_int(x * num, den, mode) for x in a.tolist()]
                if max(out) >= _INT64_LIMIT:
                    raise OverflowError("converted amounts too large for 64-bit minor units")
                totals[idx] = out

    def convert(self, t: int, credits: np.ndarray, c_deal: np.ndarray, c_split: Sequence[Any]) -> np.ndarray:
        """The credits (indexes, their deals not in the token's currency) in the token's currency (cents): a
        deal without split rows whole; a split deal's primary its largest-remainder share, an overlay
        ``converted x pct / 100`` rounded on its own (as ``FxCredits.convert``)."""
        deals = c_deal[credits]
        self._convert_deals(t, np.unique(deals))
        out = self.totals[t][deals]
        to_ccy, _rd, _base, mode = self.tokens[t]
        split = np.flatnonzero(self.c_is_split[credits])
        for j, ci, di in zip(split.tolist(), credits[split].tolist(), deals[split].tolist()):
            sc = c_split[ci]
            if sc.role != "primary":  # converted x pct / 100, rounded once (exact: a few digits, in integers)
                pn, pd = sc.split_pct.as_integer_ratio()
                out[j] = _round_int(int(out[j]) * pn, pd * 100, mode)
                continue
            parts = self._parts.get((t, di))
            if parts is None:
                prim = self._primaries[di]
                if len(prim) == 1 and prim[0].split_pct == HUNDRED:
                    parts = {prim[0].rep_id: int(out[j])}
                else:
                    prim = sorted(prim, key=lambda x: x.rep_id)
                    parts = dict(zip((x.rep_id for x in prim), _allocate_cents(int(out[j]), [x.split_pct for x in prim])))
                self._parts[(t, di)] = parts
            out[j] = parts[sc.rep_id]
        return out

    def note(self, t: int, di: int) -> str:
        """``EUR 10,000.00 at 1.0832 (2026-10-03) = USD 10,832.00``: the deal's conversion, as the pure engine
        writes it (``FxCredits``)."""
        key = self._policy[t] * len(self.amounts) + di  # the same text for another rounding with the same total
        total_c = int(self.totals[t][di])
        got = self._notes.get(key)
        if got is None or got[0] != total_c:
            ccy_i = int(self.deal_ccy[di])
            q = self.quotes[(t, ccy_i, int(self.deal_day[di]))]
            ccy, to_ccy = self.ccys[ccy_i], self.tokens[t][0]
            got = (total_c, f"{ccy} {_fmt_cents(int(self.amounts[di]), minor_units(ccy))} at {q.text} ({q.when}) = "
                            f"{to_ccy} {_fmt_cents(total_c, minor_units(to_ccy))}")
            if key not in self._notes:
                self._notes[key] = got
        return got[1]


# --------------------------------------------------------------------------- the month as columns


class RepLines(LazyLines):
    """One rep's payout lines of a :class:`ColumnarMonth` result, made from the month's columns each time they
    are read and kept by nothing: printing a month holds one rep's ``Line`` records at a time, not the month's
    two million (``compengine calc`` prints a rep at a time). Equal to the list of the same lines."""

    __slots__ = ("_make", "_ri", "_n")

    def __init__(self, make: Any, ri: int, n: int) -> None:
        self._make, self._ri, self._n = make, ri, n

    def _lines(self) -> list[Line]:
        with P.gc_paused():
            return self._make(self._ri)

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return f"RepLines({self._n} lines)"


@dataclass(eq=False)
class ColumnarMonth:
    """A month as columns: the credits, the payout lines and each rep's figures (minor units)."""

    period: Period
    plans: Mapping[str, Any]
    data: Any
    view: _DealView
    rep_ids: list[str]  # every rep id (sorted): the index of the arrays
    active: list[int]  # rep indexes with a plan this month, in order
    plan_of: list[Any]  # per rep index: its Plan or None
    assignment_of: list[Any]
    tenure: list[int | None]
    quota: list[Decimal]
    ytd_quota: list[Decimal | None]
    # credits, in (rep, close date, deal id) order
    c_rep: np.ndarray
    c_deal: np.ndarray  # index into data.deals
    c_cents: np.ndarray  # in the receiver's plan currency
    c_counts: np.ndarray  # bool: credited (not cancelled in its close month within the rep's plan's window)
    c_split: list  # per credit: the pure engine's Credit for a deal with split rows, else None
    # lines: rep, kind, credit index (-1: none), band (0: none), credit portion, amount, base
    l_rep: np.ndarray
    l_kind: np.ndarray
    l_credit: np.ndarray
    l_band: np.ndarray
    l_portion: np.ndarray
    l_amount: np.ndarray
    l_base: np.ndarray
    l_aux: np.ndarray  # spiff index for spiffs; for overrides 1 + the conversion (_FxColumns token), 0: none
    exceptions: list[str]
    c_tok: np.ndarray  # per credit: its conversion into the receiver's plan currency (_FxColumns token), -1: none
    c_damt: np.ndarray  # per credit: the deal amount in the receiver's plan currency (cents)
    fx: _FxColumns | None = None

    def payouts(self) -> dict[str, int]:
        """Each active rep's payout in minor units."""
        sums = np.zeros(len(self.rep_ids), dtype=np.int64)
        np.add.at(sums, self.l_rep, self.l_amount)
        return {self.rep_ids[i]: int(sums[i]) for i in self.active}

    def total_payout(self) -> int:
        return int(self.l_amount.sum())

    # ---------------------------------------------------------------- the pure engine's records, when shown

    @P.gc_paused()  # millions of records, no cycles: the collector would rescan them all (as in the pure engine)
    def result(self, *, explain: bool = True) -> PeriodResult:
        """The month as the pure engine's :class:`PeriodResult` (equal line for line); ``explain=False``
        leaves the explain sentences empty (nothing shows them). Each rep's totals are worked out here, its
        lines when they are read (:class:`RepLines`): printing the month holds one rep's lines at a time."""
        pstr = str(self.period)
        v = self.view
        ids, types, accounts, cancelled_on = v.deal_id, v.deal_type, v.account, v.cancelled_on
        reps = self.data.reps
        # the lines come per kind; within a rep: commission, spiff, cap, override, draw, carry (the stages' order)
        order = np.lexsort((np.arange(len(self.l_rep)), self.l_kind, self.l_rep))
        starts = np.searchsorted(self.l_rep[order], np.arange(len(self.rep_ids) + 1)).tolist()
        a_kind, a_credit, a_band = self.l_kind[order], self.l_credit[order], self.l_band[order]
        a_portion, a_amount, a_base, a_aux = self.l_portion[order], self.l_amount[order], self.l_base[order], self.l_aux[order]
        # each rep's amounts by line kind (cents), for its totals: its lines are made only when read (RepLines)
        by_kind_of = np.zeros((len(self.rep_ids), 6), dtype=np.int64)
        np.add.at(by_kind_of, (self.l_rep[order], a_kind), a_amount)
        by_kind_of = by_kind_of.tolist()
        c_deal = self.c_deal.tolist()
        c_split = self.c_split
        c_counts = self.c_counts.tolist()
        c_starts = np.searchsorted(self.c_rep, np.arange(len(self.rep_ids) + 1)).tolist()
        c_rep = self.c_rep.tolist()
        rep_of_credit = self.rep_ids
        c_cents = self.c_cents.tolist()
        c_tok = self.c_tok.tolist()
        c_damt = self.c_damt.tolist()
        note = self.fx.note if self.fx is not None else None
        n_deals = len(ids)
        fx_texts: dict[int, str] = {}  # token x deals + deal -> the conversion's text
        dec_cache: dict[int, Decimal] = {}

        def dec(c: int) -> Decimal:
            d = dec_cache.get(c)
            if d is None:
                d = Decimal(c).scaleb(-2)
                if len(dec_cache) < 200_000:
                    dec_cache[c] = d
            return d

        make_comm = P._make_commission_line
        make_over = P._make_override_line
        _pct = P._pct
        fmt = P._fmt

        def rep_lines(ri: int) -> list[Line]:
            """Rep ``ri``'s lines, made from the columns (each time they are read: nothing keeps them)."""
            rep_id = self.rep_ids[ri]
            plan = self.plan_of[ri]
            tenure = self.tenure[ri]
            lo, hi = starts[ri], starts[ri + 1]
            l_kind, l_credit, l_band = a_kind[lo:hi].tolist(), a_credit[lo:hi].tolist(), a_band[lo:hi].tolist()
            l_portion, l_amount = a_portion[lo:hi].tolist(), a_amount[lo:hi].tolist()
            l_base, l_aux = a_base[lo:hi].tolist(), a_aux[lo:hi].tolist()
            lines: list[Line] = []
            per_band: dict[tuple[str, int], tuple] = {}
            o_rate = plan.override_rate
            o_pct = _pct(o_rate) if o_rate is not None else ""
            o_source = plan.rule_source("override.rate") if o_rate is not None else ""
            for k in range(hi - lo):
                kind = l_kind[k]
                amount = dec(l_amount[k])
                seq = len(lines) + 1
                if kind == KIND_COMMISSION:
                    ci = l_credit[k]
                    di = c_deal[ci]
                    deal_type = types[di]
                    sc = c_split[ci]
                    role, split_pct = (sc.role, sc.split_pct) if sc is not None else ("primary", HUNDRED)
                    band_no = l_band[k]
                    key = (deal_type, band_no)
                    known = per_band.get(key)
                    if known is None:
                        tier = plan.tiers[band_no - 1] if band_no else None
                        rate = plan.rates[deal_type]
                        mult = tier.multiplier if tier is not None else ONE_0
                        band = tier.label() if tier is not None else "no quota this month"
                        tier_no = tier.index if tier is not None else None
                        rule = f"rates.{deal_type}" + (f" x accelerators.tiers[{tier_no - 1}]" if tier_no else "")
                        where = (plan.rule_source(f"rates.{deal_type}", f"accelerators.tiers[{tier_no - 1}]")
                                 if tier_no and plan.tiers[0].upper is not None else plan.rule_source(f"rates.{deal_type}"))
                        known = per_band[key] = (rate, mult, f" in {band} at {_pct(rate)} x {mult} = ", tier_no, rule, where)
                    rate, mult, middle, tier_no, rule, where = known
                    portion = dec(l_portion[k])
                    if explain:
                        t = c_tok[ci]
                        if t < 0:
                            share = ("" if split_pct == HUNDRED and role == "primary"
                                     else f" ({role} {_pct(split_pct / HUNDRED)} of {v.amount(di):,.2f})")
                            text = f"{ids[di]} {deal_type} {accounts[di]}: credit {portion:,.2f}{share}{middle}{amount:,.2f}"
                        else:  # converted: the conversion at the head, the share of the converted deal amount
                            share = ("" if split_pct == HUNDRED and role == "primary"
                                     else f" ({role} {_pct(split_pct / HUNDRED)} of {dec(c_damt[ci]):,.2f})")
                            nt = fx_texts.get(t * n_deals + di)
                            if nt is None:
                                nt = fx_texts[t * n_deals + di] = note(t, di)
                            text = f"{ids[di]} {deal_type} {accounts[di]}: {nt}; credit {portion:,.2f}{share}{middle}{amount:,.2f}"
                    else:
                        text = ""
                    lines.append(make_comm(rep_id, pstr, seq, "commission", amount, ids[di], portion, rate, mult, tier_no,
                                           rule, text, role, split_pct, "commission", dec(l_base[k]), v.source(di), where))
                elif kind == KIND_SPIFF:
                    ci = l_credit[k]
                    di = c_deal[ci]
                    sc = c_split[ci]
                    role, split_pct = (sc.role, sc.split_pct) if sc is not None else ("primary", HUNDRED)
                    sp = plan.spiffs[l_aux[k]]
                    share = f" x {_pct(split_pct / HUNDRED)} {role or 'primary'} split"
                    lines.append(Line(rep_id=rep_id, period=pstr, seq=seq, kind="spiff", amount=amount, deal_id=ids[di],
                                      rule=f"spiffs.{sp.id}",
                                      explain=f"SPIFF {sp.id} on {ids[di]}: {fmt(sp.amount)}{share} = {fmt(amount)}" if explain else "",
                                      role=role, split_pct=split_pct, deal_source=v.source(di),
                                      rule_source=plan.rule_source(f"spiffs[{l_aux[k]}]")))
                elif kind == KIND_CAP:
                    comm = dec(l_portion[k])
                    lines.append(Line(rep_id=rep_id, period=pstr, seq=seq, kind="cap", amount=amount, rule="cap.per_period",
                                      rule_source=plan.rule_source("cap.per_period"), component="commission",
                                      explain=(f"Cap: commission {fmt(comm)} is over the monthly cap {fmt(plan.cap)}; "
                                               f"{fmt(-amount)} not paid") if explain else ""))
                elif kind == KIND_OVERRIDE:
                    ci = l_credit[k]
                    di = c_deal[ci]
                    report = rep_of_credit[c_rep[ci]]
                    credit_ = dec(l_portion[k])
                    via = f" ({note(l_aux[k] - 1, di)})" if l_aux[k] else ""
                    text = (f"Override on {report}'s {ids[di]}{via} credit {credit_:,.2f} at {o_pct} = {amount:,.2f}"
                            if explain else "")
                    lines.append(make_over(rep_id, pstr, seq, "override", amount, ids[di], credit_, o_rate,
                                           "override.rate", text, amount, v.source(di), o_source))
                elif kind == KIND_DRAW:
                    draw = plan.draw
                    top = amount
                    how = "recoverable: added to the draw balance" if draw.recoverable else "guaranteed: not recovered"
                    lines.append(Line(rep_id=rep_id, period=pstr, seq=seq, kind="draw", amount=amount, rule="draw.amount",
                                      rule_source=plan.rule_source("draw.amount"),
                                      explain=(f"Draw month {tenure} of {draw.months}: earnings {fmt(draw.amount - top)} "
                                               f"topped up to the {fmt(draw.amount)} draw ({how})") if explain else ""))
                else:  # KIND_CARRY
                    owed = amount
                    lines.append(Line(rep_id=rep_id, period=pstr, seq=seq, kind="carry_forward", amount=amount,
                                      rule="negative month",
                                      explain=(f"This month's lines sum to {fmt(-owed)}: nothing is paid and {fmt(owed)} is "
                                               "carried forward, recovered from later payouts") if explain else ""))
            return lines

        out: list[RepResult] = []
        for ri in self.active:
            rep_id = self.rep_ids[ri]
            plan = self.plan_of[ri]
            rep = reps.get(rep_id)
            notes: list[str] = []
            hire = rep.hire_date if rep else None
            tenure = self.tenure[ri]
            if tenure is not None and tenure < 1:
                notes.append(f"hired {hire}, after this month")
            credited_c = 0
            for ci in range(c_starts[ri], c_starts[ri + 1]):
                if c_counts[ci]:
                    credited_c += c_cents[ci]
                else:
                    di = c_deal[ci]
                    notes.append(f"{ids[di]} cancelled on {cancelled_on[di]} in its close month: not credited")
            by_kind = by_kind_of[ri]
            earnings = sum(by_kind)
            before_carry = earnings - by_kind[KIND_CARRY]
            if before_carry < 0 and plan.negative == "pay":
                notes.append(f"This month's lines sum to {fmt(dec(before_carry))}: paid as a negative payout "
                             "(payout.negative: pay)")
            components = dict.fromkeys(COMPONENTS, ZERO)  # sums of cent amounts: exponent -2, as the pure engine's
            for kind_no, name in _KIND_NAMES:  # (a kind without lines: 0.00, as ZERO)
                components[name] = ZERO + dec(by_kind[kind_no])
            payout = ZERO + dec(earnings)
            credited = ZERO + dec(credited_c)
            quota = self.quota[ri]
            ytd_quota = self.ytd_quota[ri]
            if plan.measure == "ytd":
                ytd_credited = ZERO + credited
                attainment = P._attain_dec(ytd_credited, ytd_quota)
            else:
                ytd_credited = None
                attainment = P._attain_dec(credited, quota)
            paid = components["commission"] + components["true_up"]
            parts = [ComponentMeasure("commission", "commission",
                                      P._period_key("year" if plan.measure == "ytd" else "month", self.period),
                                      ytd_quota if ytd_quota is not None else quota,
                                      ytd_credited if ytd_credited is not None else credited, attainment, paid)]
            draw_balance = components["draw"] if plan.draw is not None and plan.draw.recoverable else ZERO
            carry = components["carry_forward"]
            comm_paid = components["commission"]
            state = RepState(ZERO + draw_balance, ZERO + carry, ZERO + comm_paid, self.period.year, plan.id, ())
            lines = RepLines(rep_lines, ri, starts[ri + 1] - starts[ri])
            out.append(RepResult(rep_id, plan.id, plan.currency, plan.measure, quota, credited, attainment, ytd_quota,
                                 ytd_credited, tenure, lines, components, payout, state, notes, parts))  # type: ignore[arg-type]
        return PeriodResult(pstr, out, list(self.exceptions))


# --------------------------------------------------------------------------- calculate


@P.gc_paused()
def calculate_columns(data: Any, plans: Mapping[str, Any], period: Period) -> ColumnarMonth:
    """The month as columns. Call only when :func:`unsupported` returns None."""
    pstr = str(period)
    deals = data.deals
    v = _DealView(deals)
    reps = data.reps
    rep_ids = sorted(set(reps) | {a.rep_id for a in data.assignments} | set(v.owner_id)
                     | {s.rep_id for s in data.splits})
    rep_index = {r: i for i, r in enumerate(rep_ids)}
    n_reps = len(rep_ids)

    # -- credits: deals without split rows go to their owner whole; the others through the pure credit stage
    splits_by_deal = P.group_splits(data.splits)
    n_deals = len(deals)
    amounts = np.array(v.cents, dtype=np.int64)
    owner = np.fromiter(map(rep_index.__getitem__, v.owner_id), dtype=np.int64, count=n_deals)
    has_split = np.fromiter(map(splits_by_deal.__contains__, v.deal_id), dtype=bool, count=n_deals) if splits_by_deal \
        else np.zeros(n_deals, dtype=bool)
    plain = np.flatnonzero(~has_split)
    split_idx = np.flatnonzero(has_split).tolist()
    split_credits = P.credit_deals([deals[i] for i in split_idx], splits_by_deal)
    deal_pos = {v.deal_id[i]: i for i in split_idx}
    sc_deal = np.fromiter((deal_pos[c.deal_id] for c in split_credits), dtype=np.int64, count=len(split_credits))
    sc_rep = np.fromiter((rep_index[c.rep_id] for c in split_credits), dtype=np.int64, count=len(split_credits))
    sc_cents = np.fromiter((to_cents(c.credit) for c in split_credits), dtype=np.int64, count=len(split_credits))
    # emission order of the pure credit stage: deal order, then the deal's credits in order
    sc_sub = np.arange(len(split_credits), dtype=np.int64)
    c_deal = np.concatenate([plain, sc_deal])
    c_rep = np.concatenate([owner[plain], sc_rep])
    c_cents = np.concatenate([amounts[plain], sc_cents])
    c_sub = np.concatenate([np.zeros(len(plain), dtype=np.int64), sc_sub])
    c_split_src = np.concatenate([np.full(len(plain), -1, dtype=np.int64), sc_sub])
    # order: rep, close date, deal id, then the credit stage's order within a deal
    ordinal = {d: d.toordinal() for d in set(v.close_date)}
    close_ord = np.fromiter(map(ordinal.__getitem__, v.close_date), dtype=np.int64, count=n_deals)
    if all(map(str.__lt__, v.deal_id, v.deal_id[1:])):  # the file in deal-id order (as generated): no sort
        id_rank = np.arange(n_deals, dtype=np.int64)
    else:
        id_rank = np.empty(n_deals, dtype=np.int64)
        id_rank[np.argsort(np.array(v.deal_id, dtype=str), kind="stable")] = np.arange(n_deals)
    order = np.lexsort((c_sub, id_rank[c_deal], close_ord[c_deal], c_rep))
    c_deal, c_rep, c_cents, c_split_src = c_deal[order], c_rep[order], c_cents[order], c_split_src[order]
    c_split = [split_credits[j] if j >= 0 else None for j in c_split_src.tolist()] if split_credits \
        else [None] * len(c_deal)
    n_credits = len(c_deal)

    # -- classify: each rep's plan, tenure and quota (per rep, in Python: ten thousand, not a million)
    period_start, period_end = period.start, period.end
    plan_of: list[Any] = [None] * n_reps
    assignment_of: list[Any] = [None] * n_reps
    tenure: list[int | None] = [None] * n_reps
    quota: list[Decimal] = [ZERO] * n_reps
    ytd_quota: list[Decimal | None] = [None] * n_reps
    by_rep: dict[str, list] = defaultdict(list)
    for a in data.assignments:
        by_rep[a.rep_id].append(a)
    active: list[int] = []
    plan_list: list[Any] = []
    plan_no: dict[str, int] = {}
    rep_plan = np.full(n_reps, -1, dtype=np.int64)
    for rep_id in sorted(by_rep):
        a = by_rep[rep_id][0]
        if a.start > period_end:
            continue
        ri = rep_index[rep_id]
        plan = plans[a.plan_id]
        if plan.id not in plan_no:
            plan_no[plan.id] = len(plan_list)
            plan_list.append(plan)
        rep_plan[ri] = plan_no[plan.id]
        plan_of[ri], assignment_of[ri] = plan, a
        rep = reps.get(rep_id)
        hire = rep.hire_date if rep else None
        tenure[ri] = tenure_month(hire, period)
        quota[ri] = plan.monthly_quota(a.annual_quota, tenure[ri])
        if plan.measure == "ytd":
            on_plan = P._months_on_plan(plan, by_rep[rep_id], period)
            ytd_quota[ri] = P._ytd_quota(plan, hire, on_plan)
        active.append(ri)

    # -- which credits count: not cancelled by the month's end within the receiver's plan's clawback window
    cancelled = [i for i, c in enumerate(v.cancelled_on) if c is not None]
    counts = np.ones(n_credits, dtype=bool)
    if cancelled:
        for ci in np.flatnonzero(np.isin(c_deal, np.array(cancelled, dtype=np.int64))).tolist():
            di = int(c_deal[ci])
            plan = plan_of[int(c_rep[ci])]
            cancel_d = v.cancelled_on[di]
            if plan is not None and cancel_d <= period_end and plan.clawback_applies(v.close_date[di], cancel_d):
                counts[ci] = False
    c_plan = rep_plan[c_rep]
    mine = counts & (c_plan >= 0)

    # -- exchange rates: a credit in another currency than its receiver's plan converted into the plan's (every
    # credit of a rep with a plan, cancelled or not, as the pure engine converts before it checks cancellations)
    c_orig = c_cents  # in the deal's currency
    c_tok = np.full(n_credits, -1, dtype=np.int64)  # each converted credit's conversion (_FxColumns token)
    c_damt = amounts[c_deal]  # the deal amount as its receiver sees it (converted with the credit)
    fxc: _FxColumns | None = None
    c_ccy = np.zeros(n_credits, dtype=np.int64)
    if data.fx is not None:
        fxc = _FxColumns(data.fx, v, amounts, split_credits, sc_deal.tolist(), c_split_src >= 0)
        c_ccy = fxc.deal_ccy[c_deal]
        c_cents = c_cents.copy()
        for pi, plan in enumerate(plan_list):
            own = fxc.ccys.index(plan.currency) if plan.currency in fxc.ccys else -1
            sel = np.flatnonzero((c_plan == pi) & (c_ccy != own))
            if not len(sel):
                continue
            t = fxc.token(plan)
            c_cents[sel] = fxc.convert(t, sel, c_deal, c_split)
            c_tok[sel] = t
            c_damt[sel] = fxc.totals[t][c_deal[sel]]

    # -- exceptions: credits of reps without a plan this month
    exceptions: list[str] = []
    c_starts = np.searchsorted(c_rep, np.arange(n_reps + 1))
    no_plan = np.flatnonzero((rep_plan < 0) & (c_starts[1:] > c_starts[:-1]))
    for ri in no_plan.tolist():
        n = int(c_starts[ri + 1] - c_starts[ri])
        total = int(c_orig[c_starts[ri]:c_starts[ri + 1]].sum())
        exceptions.append(f"{rep_ids[ri]}: {n} credit line(s) totalling {P._fmt(Decimal(total).scaleb(-2))} but no plan "
                          f"assignment in {pstr}; not paid")

    # -- rate: running sums per rep over the credits that count, clipped at each band's edges
    cents_mine = np.where(mine, c_cents, 0)
    cum_end = np.cumsum(cents_mine)
    rep_base = np.concatenate([[0], cum_end])[c_starts[:-1]]  # running total before each rep's first credit
    cum_end = cum_end - rep_base[c_rep]
    cum_start = cum_end - cents_mine
    credited = np.zeros(n_reps, dtype=np.int64)
    np.add.at(credited, c_rep, cents_mine)
    n_bands_max = max((len(p.tiers) for p in plan_list), default=1)
    # per rep: band edges (minor units); retroactive: the one band of the total; no quota: band 0
    lo = np.full((n_reps, n_bands_max), -(2**62), dtype=np.int64)
    hi = np.full((n_reps, n_bands_max), 2**62, dtype=np.int64)
    valid = np.zeros((n_reps, n_bands_max), dtype=bool)
    no_quota = np.zeros(n_reps, dtype=bool)
    for ri in active:
        plan = plan_of[ri]
        q = ytd_quota[ri] if plan.measure == "ytd" else quota[ri]
        if q <= 0:
            no_quota[ri] = True
            valid[ri, 0] = True
            continue
        thr = [to_cents(x) for x in P._thresholds(plan, q)]
        if plan.mode == "retroactive":
            total = int(credited[ri])
            b = next((i for i, t in enumerate(thr) if total <= t), len(plan.tiers) - 1)
            valid[ri, b] = True
            continue
        for b in range(len(plan.tiers)):
            valid[ri, b] = True
            if b > 0:
                lo[ri, b] = thr[b - 1]
            if b < len(thr):
                hi[ri, b] = thr[b]
    retro = np.zeros(n_reps, dtype=bool)
    for ri in active:
        retro[ri] = plan_of[ri].mode == "retroactive" or no_quota[ri]
    mi = np.flatnonzero(mine)
    r_of = c_rep[mi]
    s, e, amt = cum_start[mi], cum_end[mi], c_cents[mi]
    parts_credit, parts_band, parts_portion = [], [], []
    single = retro[r_of] | (amt <= 0)
    for b in range(n_bands_max):
        ok_band = valid[r_of, b]
        # marginal, positive credits: the part of [s, e) inside [lo, hi)
        por = np.minimum(e, hi[r_of, b]) - np.maximum(s, lo[r_of, b])
        take = ok_band & ~single & (por > 0)
        parts_credit.append(mi[take])
        parts_band.append(np.full(int(take.sum()), b, dtype=np.int64))
        parts_portion.append(por[take])
    # one portion: retroactive or no quota (the rep's one valid band), or a credit of zero or less (the band its
    # start lands in, a boundary belonging to the lower band)
    sm = np.flatnonzero(single)
    if len(sm):
        r_s = r_of[sm]
        band_single = np.argmax(valid[r_s], axis=1).astype(np.int64)
        nonpos = ~retro[r_s]
        if nonpos.any():  # marginal, credit <= 0: band_at(start): the first band whose upper edge >= start
            idx = np.flatnonzero(nonpos)
            st = s[sm[idx]]
            rr = r_s[idx]
            bb = np.full(len(idx), -1, dtype=np.int64)
            for b in range(n_bands_max):
                hit = (bb < 0) & valid[rr, b] & (st <= hi[rr, b])
                bb[hit] = b
            band_single[idx] = bb
        parts_credit.append(mi[sm])
        parts_band.append(band_single)
        parts_portion.append(amt[sm])
    pc = np.concatenate(parts_credit) if parts_credit else np.zeros(0, dtype=np.int64)
    pb = np.concatenate(parts_band) if parts_band else np.zeros(0, dtype=np.int64)
    pp = np.concatenate(parts_portion) if parts_portion else np.zeros(0, dtype=np.int64)
    o = np.lexsort((pb, pc))
    pc, pb, pp = pc[o], pb[o], pp[o]
    # rate and multiplier as exact fractions per (plan, deal type) and (plan, band)
    deal_types = sorted(set(v.deal_type))
    dt_no = {t: i for i, t in enumerate(deal_types)}
    deal_dt = np.fromiter(map(dt_no.__getitem__, v.deal_type), dtype=np.int64, count=n_deals)
    n_pl = max(len(plan_list), 1)
    rate_n = np.zeros((n_pl, max(len(deal_types), 1)), dtype=np.int64)
    rate_d = np.zeros_like(rate_n)  # 0: no rate (unsupported() sends such a month to the pure engine)
    mult_n = np.ones((n_pl, n_bands_max), dtype=np.int64)
    mult_d = np.ones_like(mult_n)
    max_num = 1
    for pi, plan in enumerate(plan_list):
        for t, ti in dt_no.items():
            r = plan.rates.get(t)
            if r is None:
                continue
            rate_n[pi, ti], rate_d[pi, ti] = _ratio(r)
        for b, tier in enumerate(plan.tiers):
            mult_n[pi, b], mult_d[pi, b] = _ratio(tier.multiplier)
        max_num = max(max_num, int(np.abs(rate_n[pi]).max(initial=1)) * int(np.abs(mult_n[pi]).max(initial=1)))
    biggest = int(np.abs(c_cents).max(initial=0))
    if biggest * max_num >= _INT64_LIMIT or int(rate_d.max(initial=1)) * int(mult_d.max(initial=1)) >= 2**31:
        raise OverflowError("amounts too large for 64-bit minor units")
    p_rep = c_rep[pc]
    p_plan = rep_plan[p_rep]
    p_dt = deal_dt[c_deal[pc]]
    rn, rd = rate_n[p_plan, p_dt], rate_d[p_plan, p_dt]
    if len(rd) and not rd.all():
        raise KeyError("a credit's deal type has no rate in its receiver's plan")
    no_q = no_quota[p_rep]
    mn = np.where(no_q, 1, mult_n[p_plan, pb])
    md = np.where(no_q, 1, mult_d[p_plan, pb])
    modes = np.array([p.rounding == "half_even" for p in plan_list] or [False])
    even = modes[p_plan]
    num, den = pp * rn * mn, rd * md
    amount = np.where(even, round_div(num, den, "half_even"), round_div(num, den, "half_up"))
    base_raw = np.where(even, round_div(pp * rn, rd, "half_even"), round_div(pp * rn, rd, "half_up"))
    base = np.where(mn == md, amount, base_raw)
    band_no = np.where(no_q, 0, pb + 1)

    rows: list[tuple] = []  # (rep, kind, credit, band, portion, amount, base, aux) of the few lines made per rep
    comm = np.zeros(n_reps, dtype=np.int64)
    np.add.at(comm, p_rep, amount)

    # -- SPIFFs on the credits that count, scaled by the split
    earnings = comm.copy()
    spiff_lines: list[tuple] = []
    deal_term = np.fromiter(((t or 0) for t in v.term_months), dtype=np.int64, count=n_deals)
    products = sorted({x for x in v.product if x is not None})
    product_no = {x: i for i, x in enumerate(products)}
    deal_product = np.fromiter((product_no.get(x, -1) if x is not None else -1 for x in v.product), dtype=np.int64,
                               count=n_deals) if products else np.full(n_deals, -1, dtype=np.int64)
    found: list[tuple[np.ndarray, np.ndarray]] = []
    for pi, plan in enumerate(plan_list):
        for k, sp in enumerate(plan.spiffs):  # Spiff.matches, on the columns
            m = mine & (c_plan == pi)
            cd = c_deal
            if sp.deal_type is not None:
                m &= deal_dt[cd] == dt_no.get(sp.deal_type, -1)
            if sp.min_term_months is not None:
                m &= deal_term[cd] >= sp.min_term_months
            if sp.min_amount is not None:
                n_, d_ = (sp.min_amount * 100).as_integer_ratio()
                m &= c_damt * d_ >= n_
            if sp.product is not None:
                m &= deal_product[cd] == product_no.get(sp.product, -2)
            hit = np.flatnonzero(m)
            found.append((hit, np.full(len(hit), pi * 1000 + k, dtype=np.int64)))
    if found:
        hits = np.concatenate([f[0] for f in found])
        keys = np.concatenate([f[1] for f in found])
        o = np.lexsort((keys, hits))
        amount_of: dict[tuple[int, Decimal], int] = {}
        for ci, key in zip(hits[o].tolist(), keys[o].tolist()):
            pi, k = divmod(key, 1000)
            plan = plan_list[pi]
            sc = c_split[ci]
            split_pct = sc.split_pct if sc is not None else HUNDRED
            a = amount_of.get((key, split_pct))
            if a is None:
                n_, d_ = (plan.spiffs[k].amount * split_pct).as_integer_ratio()
                a = amount_of[(key, split_pct)] = _round_int(n_, d_, plan.rounding)
            ri = int(c_rep[ci])
            spiff_lines.append((ri, KIND_SPIFF, ci, 0, 0, a, a, k))
            earnings[ri] += a
    rows.extend(spiff_lines)
    # -- cap on commission
    for ri in active:
        plan = plan_of[ri]
        if plan.cap is not None:
            cap_c = to_cents(plan.cap)
            if comm[ri] > cap_c:
                over = cap_c - int(comm[ri])
                rows.append((ri, KIND_CAP, -1, 0, int(comm[ri]), over, over, 0))
                earnings[ri] += over
    # -- overrides on direct reports' credits (the manager's plan's window decides what counts)
    manager = np.full(n_reps, -1, dtype=np.int64)
    for rep_id, rep in reps.items():
        if rep.manager_id:
            manager[rep_index[rep_id]] = rep_index.get(rep.manager_id, -1)
    ov_pc = np.zeros(0, dtype=np.int64)
    ov_amount = np.zeros(0, dtype=np.int64)
    ov_mgr = np.zeros(0, dtype=np.int64)
    c_mgr = manager[c_rep]
    mgr_plan = np.where(c_mgr >= 0, rep_plan[np.maximum(c_mgr, 0)], -1)
    o_parts = []
    for pi, plan in enumerate(plan_list):
        if plan.override_rate is None:
            continue
        sel = np.flatnonzero(mgr_plan == pi)
        if not len(sel):
            continue
        ok = np.ones(len(sel), dtype=bool)
        if cancelled:
            for j, ci in enumerate(sel.tolist()):
                di = int(c_deal[ci])
                cancel_d = v.cancelled_on[di]
                if cancel_d is not None and cancel_d <= period_end and plan.clawback_applies(v.close_date[di], cancel_d):
                    ok[j] = False
        sel = sel[ok]
        oc = c_orig[sel]  # the report's credit, converted into the manager's plan currency where it is not in it
        ot = np.full(len(sel), -1, dtype=np.int64)
        if fxc is not None:
            own = fxc.ccys.index(plan.currency) if plan.currency in fxc.ccys else -1
            foreign = c_ccy[sel] != own
            if foreign.any():
                t = fxc.token(plan)
                oc = oc.copy()
                oc[foreign] = fxc.convert(t, sel[foreign], c_deal, c_split)
                ot[foreign] = t
        n_, d_ = _ratio(plan.override_rate)
        if int(np.abs(oc).max(initial=0)) * abs(n_) >= _INT64_LIMIT or d_ >= 2**31:
            raise OverflowError("amounts too large for 64-bit minor units")
        a = round_div(oc * n_, d_, plan.rounding)
        o_parts.append((sel, a, oc, ot))
    ov_credit = np.zeros(0, dtype=np.int64)
    ov_tok = np.zeros(0, dtype=np.int64)
    if o_parts:
        ov_pc = np.concatenate([x[0] for x in o_parts])
        ov_amount = np.concatenate([x[1] for x in o_parts])
        ov_credit = np.concatenate([x[2] for x in o_parts])
        ov_tok = np.concatenate([x[3] for x in o_parts])
        ov_mgr = c_mgr[ov_pc]
        o = np.lexsort((ov_pc, ov_mgr))  # by manager, then the reports' credits in (report, date, deal) order
        ov_pc, ov_amount, ov_mgr, ov_credit, ov_tok = ov_pc[o], ov_amount[o], ov_mgr[o], ov_credit[o], ov_tok[o]
        np.add.at(earnings, ov_mgr, ov_amount)
    # -- pay: the draw tops up a draw month; a negative month is carried forward (first month: no balances)
    for ri in active:
        plan = plan_of[ri]
        e_ = int(earnings[ri])
        if plan.in_draw(tenure[ri]):
            draw_c = to_cents(plan.draw.amount)
            if e_ < draw_c:
                rows.append((ri, KIND_DRAW, -1, 0, 0, draw_c - e_, draw_c - e_, 0))
                e_ = draw_c
        if e_ < 0 and plan.negative != "pay":
            rows.append((ri, KIND_CARRY, -1, 0, 0, -e_, -e_, 0))

    extra = np.array(rows, dtype=np.int64).reshape(-1, 8)
    n_ov = len(ov_pc)
    l_rep = np.concatenate([p_rep, extra[:, 0], ov_mgr])
    l_kind = np.concatenate([np.full(len(pc), KIND_COMMISSION, dtype=np.int64), extra[:, 1],
                             np.full(n_ov, KIND_OVERRIDE, dtype=np.int64)])
    l_credit = np.concatenate([pc, extra[:, 2], ov_pc])
    l_band = np.concatenate([band_no, extra[:, 3], np.zeros(n_ov, dtype=np.int64)])
    l_portion = np.concatenate([pp, extra[:, 4], ov_credit])
    l_amount = np.concatenate([amount, extra[:, 5], ov_amount])
    l_base = np.concatenate([base, extra[:, 6], ov_amount])
    l_aux = np.concatenate([np.zeros(len(pc), dtype=np.int64), extra[:, 7], ov_tok + 1])
    return ColumnarMonth(period, plans, data, v, rep_ids, active, plan_of, assignment_of, tenure, quota, ytd_quota,
                         c_rep, c_deal, c_cents, counts, c_split, l_rep, l_kind, l_credit, l_band, l_portion, l_amount,
                         l_base, l_aux, exceptions, c_tok, c_damt, fxc)


def calculate_month(data: Any, plans: Any, period: Period, *, explain: bool = True) -> tuple[PeriodResult, str | None]:
    """``period`` by the columnar engine when it supports the run, else by the pure engine (the whole run).
    Returns the result and why the pure engine computed it (None: the columnar engine did)."""
    from compengine.engine import driver

    month_plans = driver.plans_for(plans, period)
    why = unsupported(data, month_plans, period)
    if why is None:
        try:
            return calculate_columns(data, month_plans, period).result(explain=explain), None
        except (OverflowError, NotColumnar) as exc:
            why = str(exc)
    return driver.calculate_month(data, plans, period), why
