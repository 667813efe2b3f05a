"""``compengine forecast``: expected commission per rep and month from the open pipeline.

Input: a read-only session, the open opportunities (``datafiles.read_pipeline``), the last
month to forecast (``through``) and the commit threshold. The horizon runs from the first
month after the ledger's last locked month (the ledger's first month when none is locked)
through ``through``; each month is calculated in memory by the engine from the closed-won
deals already in the ledger plus the opportunities of each scenario closing in it, carrying
balances month to month from the ledger's state before the horizon. Nothing is written.

Scenarios (each a full calculation, so accelerators are priced at the band a rep reaches):

* **closed**: only the closed-won credit already in the ledger;
* **commit**: plus every opportunity with ``probability >= commit_threshold`` (default 0.7);
* **best case**: plus every open opportunity;
* **expected** (probability-weighted): the opportunities are stacked in a fixed order (by
  expected close month, then probability from high to low, then deal id). Each one's marginal
  earnings are what its owner and the owner's manager earn over the horizon with it and every
  opportunity before it in the stack, less what they earn without it (with only those before it):
  so each opportunity is priced at the band its owner would reach with the closed credit and
  the more likely deals. Expected = closed + sum over opportunities of probability x marginal,
  per rep and month, rounded once (half up, to the cent) per rep and month. With every
  probability 1 the marginals telescope and expected equals best case exactly.

Output: :class:`Forecast` (``as_dict``, ``text``, ``tables``), including each rep's sentence
"if your commit closes, you earn X this quarter" (the quarter of ``through``: stored payouts of
its months before the horizon plus the commit scenario's payouts of its months in it).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompError, CompErrors
from compengine.core.money import CONTEXT, ZERO, round_money, shown
from compengine.core.periods import Period
from compengine.datafiles import Opportunity
from compengine.engine.pipeline import calculate_period, credit_deals
from compengine.engine.records import Credit, RepState
from compengine.finance.history import History, Month
from compengine.ledger.inputs import load_plans_latest
from compengine.ledger.models import PeriodRow, RepPeriod
from compengine.ledger.start import first_period
from compengine.plans.model import Plan

SCENARIOS = ("closed", "expected", "commit", "best_case")
DEFAULT_COMMIT = Decimal("0.7")


@dataclass
class Forecast:
    first: str
    last: str
    currency: str
    commit_threshold: Decimal
    months: list[str]
    quarter: list[str]
    # scenario -> rep -> month -> payout
    payouts: dict[str, dict[str, dict[str, Decimal]]]
    paid_before: dict[str, Decimal]  # rep -> stored payout of the quarter's months before the horizon
    reps: dict[str, tuple[str, str]]
    opportunities: int
    counted: dict[str, int]  # scenario -> opportunities in it
    pipeline_amount: dict[str, Decimal]
    notes: list[str] = field(default_factory=list)

    def total(self, scenario: str, rep_id: str | None = None, months: Iterable[str] | None = None) -> Decimal:
        months = set(self.months if months is None else months)
        reps = [rep_id] if rep_id else list(self.payouts[scenario])
        return sum((v for r in reps for m, v in self.payouts[scenario].get(r, {}).items() if m in months), ZERO)

    def quarter_commit(self, rep_id: str) -> Decimal:
        return self.paid_before.get(rep_id, ZERO) + self.total("commit", rep_id, self.quarter)

    def sentence(self, rep_id: str) -> str:
        q = Period.parse(self.last)
        return f"If your commit closes, you earn {self.currency} {shown(self.quarter_commit(rep_id))} this quarter ({q.year} Q{(q.month - 1) // 3 + 1})."

    def rep_ids(self) -> list[str]:
        return sorted({r for s in self.payouts.values() for r in s} | set(self.paid_before))

    def as_dict(self) -> dict:
        by_month = {m: {s: _s(sum((self.payouts[s].get(r, {}).get(m, ZERO) for r in self.payouts[s]), ZERO))
                        for s in SCENARIOS} for m in self.months}
        reps = {}
        for r in self.rep_ids():
            name, team = self.reps.get(r, ("", ""))
            reps[r] = {"name": name, "team": team,
                       **{s: _s(self.total(s, r)) for s in SCENARIOS},
                       "by_month": {m: {s: _s(self.payouts[s].get(r, {}).get(m, ZERO)) for s in SCENARIOS} for m in self.months},
                       "quarter_commit": _s(self.quarter_commit(r)), "sentence": self.sentence(r)}
        return {
            "report": "forecast", "from": self.first, "through": self.last, "currency": self.currency,
            "commit_threshold": str(self.commit_threshold), "months": self.months, "quarter": self.quarter,
            "opportunities": self.opportunities, "counted": dict(self.counted),
            "pipeline_amount": {k: _s(v) for k, v in self.pipeline_amount.items()},
            "totals": {s: _s(self.total(s)) for s in SCENARIOS},
            "by_month": by_month, "reps": reps, "notes": list(self.notes),
        }

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        d = self.as_dict()
        return [
            ("Totals", ["scenario", "payout", "opportunities"],
             [[s, d["totals"][s], str(self.counted.get(s, 0))] for s in SCENARIOS]),
            ("By month", ["month", *SCENARIOS], [[m, *(v[s] for s in SCENARIOS)] for m, v in d["by_month"].items()]),
            ("By rep", ["rep_id", "name", "team", *SCENARIOS, "quarter_commit", "sentence"],
             [[r, v["name"], v["team"], *(v[s] for s in SCENARIOS), v["quarter_commit"], v["sentence"]]
              for r, v in d["reps"].items()]),
        ]

    def text(self, max_reps: int = 40) -> str:
        lines = [f"Earnings forecast {self.first} through {self.last} ({self.currency}): {self.opportunities} open "
                 f"opportunities, commit at probability >= {self.commit_threshold}"]
        for s in SCENARIOS:
            lines.append(f"  {s:<10} {shown(self.total(s)):>16}  ({self.counted.get(s, 0)} opportunities)")
        reps = [r for r in self.rep_ids() if self.total("best_case", r) != self.total("closed", r)] or self.rep_ids()
        for r in reps[:max_reps]:
            lines.append(f"  {r}: expected {shown(self.total('expected', r))}, commit {shown(self.total('commit', r))}, "
                         f"best case {shown(self.total('best_case', r))}. {self.sentence(r)}")
        if len(reps) > max_reps:
            lines.append(f"  ... {len(reps) - max_reps} more rep(s) (--json or --out for all)")
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines) + "\n"


def horizon_start(session: Session) -> Period | None:
    """The first month after the last locked one; with none locked, the ledger's first month."""
    last_locked = session.scalar(select(func.max(PeriodRow.period)).where(PeriodRow.status == "locked"))
    if last_locked:
        return Period.parse(last_locked).next()
    start = first_period(session)
    if start is not None:
        return start
    first = session.scalar(select(func.min(PeriodRow.period)))
    return Period.parse(first) if first else None


def forecast(session: Session, opportunities: Sequence[Opportunity], through: Period, *,
             commit_threshold: Decimal = DEFAULT_COMMIT) -> Forecast:
    if not Decimal(0) <= commit_threshold <= Decimal(1):
        raise CompErrors(f"the commit threshold must be between 0 and 1, not {commit_threshold}")
    history = History(session)
    start = horizon_start(session) or Period.of(min((o.deal.close_date for o in opportunities), default=through.start))
    if through < start:
        raise CompErrors(f"--through {through} is before the forecast's first month {start} (the month after the last locked one)")
    locked = set(session.scalars(select(PeriodRow.period).where(PeriodRow.status == "locked")))
    errors: list[CompError] = []
    for o in opportunities:
        src = o.source
        if o.deal.owner_id not in history.reps:
            errors.append(CompError(src.at("owner_id"), f"unknown owner {o.deal.owner_id!r}: not a rep in the ledger"))
        m = Period.of(o.deal.close_date)
        if str(m) in locked or m < start:
            errors.append(CompError(src.at("expected_close"), f"{o.deal.close_date} is in {m}, which is locked "
                                    f"(the forecast starts in {start})"))
    if not errors:
        errors.extend(_check_against_ledger(session, history, opportunities, through))
    if errors:
        raise CompErrors(errors)
    months = start.months_through(through)
    mstr = [str(m) for m in months]
    inside = [o for o in opportunities if Period.of(o.deal.close_date) <= through]
    plans, _ids = load_plans_latest(session)
    history.watch_ytd([plans])
    data = {str(m): history.month(m) for m in months}
    state0 = history.state_before(start)
    ytd_closed = {str(m): history.ytd_credits(m, plans) for m in months}
    calc = _Calculator(history, plans, months, data, ytd_closed, state0)

    scen_opps = {"closed": [], "commit": [o for o in inside if o.probability >= commit_threshold], "best_case": list(inside)}
    payouts: dict[str, dict[str, dict[str, Decimal]]] = {}
    base_states = None
    for name, opps in scen_opps.items():
        pays, states = calc.run(opps, None, 0, state0)
        payouts[name] = pays
        if name == "closed":
            base_states = states
    assert base_states is not None
    payouts["expected"] = _expected(calc, inside, payouts["closed"], base_states, state0, mstr)

    currencies = {p.currency for p in plans.values()} if plans else {"USD"}
    q = Period(through.year, (through.month - 1) // 3 * 3 + 1)
    quarter = [str(m) for m in q.months_through(through)]
    paid_before: dict[str, Decimal] = defaultdict(lambda: ZERO)
    before = [m for m in quarter if m < str(start)]
    if before:
        for rep_id, payout in session.execute(select(RepPeriod.rep_id, RepPeriod.payout).where(RepPeriod.period.in_(before))):
            paid_before[rep_id] += payout
    later = [o for o in opportunities if Period.of(o.deal.close_date) > through]
    notes = []
    if later:
        notes.append(f"{len(later)} opportunit{'y' if len(later) == 1 else 'ies'} expected to close after {through}: "
                     "not in this forecast")
    return Forecast(
        str(start), str(through), sorted(currencies)[0] if len(currencies) == 1 else "/".join(sorted(currencies)),
        commit_threshold, mstr, quarter, payouts, dict(paid_before),
        {r.rep_id: (r.name, r.team) for r in history.reps.values()}, len(inside),
        {"closed": 0, "expected": len(inside), "commit": len(scen_opps["commit"]), "best_case": len(inside)},
        {"commit": sum((o.deal.amount for o in scen_opps["commit"]), ZERO),
         "best_case": sum((o.deal.amount for o in inside), ZERO),
         "expected": sum((round_money(o.deal.amount * o.probability) for o in inside), ZERO)},
        notes)


def _check_against_ledger(session: Session, history: History, opportunities: Sequence[Opportunity],
                          through: Period) -> list[CompError]:
    """An opportunity already closed-won in the ledger, or whose owner has no plan (or another
    currency) in its close month, would be counted wrong: each is an error naming its row."""
    from compengine.engine.pipeline import resolve_assignment
    from compengine.ledger.models import DealRow

    errors: list[CompError] = []
    ids = [o.deal.deal_id for o in opportunities]
    known: set[str] = set()
    for i in range(0, len(ids), 500):
        known.update(session.scalars(select(DealRow.deal_id).where(DealRow.deal_id.in_(ids[i:i + 500]))))
    plans, _ = load_plans_latest(session)
    for o in opportunities:
        d = o.deal
        if d.deal_id in known:
            errors.append(CompError(o.source.at("deal_id"), f"{d.deal_id} is already a deal in the ledger: "
                                    "a closed-won deal is not an open opportunity"))
            continue
        m = Period.of(d.close_date)
        if m > through:
            continue
        a = resolve_assignment(history.assignments.get(d.owner_id, ()), m)
        plan = plans.get(a.plan_id) if a is not None else None
        if plan is None:
            errors.append(CompError(o.source.at("owner_id"), f"{d.owner_id} has no plan assignment in {m}: "
                                    "the opportunity would earn nothing"))
        elif plan.currency != d.currency:
            errors.append(CompError(o.source.at("currency"), f"{d.currency}, but {d.owner_id}'s plan {plan.id} pays "
                                    f"{plan.currency}"))
    return errors


class _Calculator:
    """Months of the horizon in memory, for all reps or a few (their own lines only)."""

    def __init__(self, history: History, plans: dict[str, Plan], months: list[Period], data: dict[str, Month],
                 ytd_closed: dict[str, list[Credit]], state0: dict[str, RepState]) -> None:
        self.h = history
        self.plans = plans
        self.months = months
        self.data = data
        self.ytd_closed = ytd_closed
        self.state0 = state0
        self.reports_of: dict[str, list[str]] = defaultdict(list)
        for r in history.reps.values():
            if r.manager_id:
                self.reports_of[r.manager_id].append(r.rep_id)
        self.opp_credits: dict[str, list[Credit]] = {}  # an opportunity's credits, made once
        self.by_rep: dict[str, dict[str, list[Credit]]] = {}
        for m, month in data.items():
            idx: dict[str, list[Credit]] = defaultdict(list)
            for c in month.credits:
                idx[c.rep_id].append(c)
            self.by_rep[m] = idx

    def run(self, opps: Sequence[Opportunity], reps: set[str] | None, first: int, state: dict[str, RepState]
            ) -> tuple[dict[str, dict[str, Decimal]], dict[str, dict[str, RepState]]]:
        """Payouts (rep -> month -> amount) and states after each month, from month index ``first``."""
        extra: dict[str, list[Credit]] = defaultdict(list)
        cache = self.opp_credits
        for o in opps:
            got = cache.get(o.deal.deal_id)
            if got is None:
                got = cache[o.deal.deal_id] = credit_deals([o.deal], {})
            extra[str(Period.of(o.deal.close_date))].extend(got)
        pays: dict[str, dict[str, Decimal]] = defaultdict(dict)
        states: dict[str, dict[str, RepState]] = defaultdict(dict)
        state = dict(state)
        wanted = None
        if reps is not None:
            wanted = set(reps)
            for r in reps:
                wanted.update(self.reports_of.get(r, ()))
        for i, m in enumerate(self.months):
            mstr = str(m)
            year_extra = [c for p in self.months[:i] if p.year == m.year for c in extra.get(str(p), ())]
            if i < first:
                continue
            month = self.data[mstr]
            if wanted is None:
                credits = month.credits + extra.get(mstr, [])
                assignments = self.h.assignments
                cancels, adjusts = month.cancellations, month.adjustments
                ytd = self.ytd_closed[mstr] + year_extra
            else:
                idx = self.by_rep[mstr]
                credits = [c for r in wanted for c in idx.get(r, ())] + [c for c in extra.get(mstr, []) if c.rep_id in wanted]
                assignments = {r: self.h.assignments[r] for r in reps if r in self.h.assignments}  # type: ignore[union-attr]
                cancels = [x for x in month.cancellations if x.rep_id in reps]  # type: ignore[operator]
                adjusts = [a for a in month.adjustments if a.rep_id in reps]  # type: ignore[operator]
                ytd = [c for c in self.ytd_closed[mstr] + year_extra if c.rep_id in reps]  # type: ignore[operator]
            result = calculate_period(m, self.plans, self.h.reps, assignments, credits, ytd_credits=ytd,
                                      cancellations=cancels, adjustments=adjusts, state=state, fx=self.h.fx)
            for r in result.reps:
                pays[r.rep_id][mstr] = r.payout
                state[r.rep_id] = r.state
                states[r.rep_id][mstr] = r.state
        return pays, states


def _expected(calc: _Calculator, opps: Sequence[Opportunity], closed: dict[str, dict[str, Decimal]],
              closed_states: dict[str, dict[str, RepState]], state0: dict[str, RepState], months: list[str]
              ) -> dict[str, dict[str, Decimal]]:
    """Closed + sum of probability x marginal earnings, the opportunities stacked (see the module doc)."""
    order = sorted(opps, key=lambda o: (o.deal.close_date.year, o.deal.close_date.month, -o.probability, o.deal.deal_id))
    cur = {r: dict(v) for r, v in closed.items()}
    cur_states = {r: dict(v) for r, v in closed_states.items()}
    exact: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(lambda: ZERO))
    stacked_by_owner: dict[str, list[Opportunity]] = defaultdict(list)
    index = {m: i for i, m in enumerate(months)}
    for o in order:
        owner = o.deal.owner_id
        rep = calc.h.reps.get(owner)
        group = {owner} | ({rep.manager_id} if rep and rep.manager_id else set())
        # the opportunities already stacked that these reps' lines read: their own and their reports'
        readers = set(group)
        for g in group:
            readers.update(calc.reports_of.get(g, ()))
        stacked = [x for r in sorted(readers) for x in stacked_by_owner.get(r, ())]
        stacked_by_owner[owner].append(o)
        first = index[str(Period.of(o.deal.close_date))]
        before = months[first - 1] if first > 0 else None
        state = {r: (cur_states.get(r, {}).get(before) if before else None) or _last_state(cur_states.get(r, {}), months[:first], state0.get(r))
                 for r in group}
        state = {r: s for r, s in state.items() if s is not None}
        pays, states = calc.run([*stacked, o], group, first, state)
        for r in group:
            for m in months[first:]:
                new = pays.get(r, {}).get(m)
                old = cur.get(r, {}).get(m)
                if new is None and old is None:
                    continue
                delta = (new or ZERO) - (old or ZERO)
                if delta:
                    exact[r][m] += CONTEXT.multiply(o.probability, delta)
                if new is not None:
                    cur.setdefault(r, {})[m] = new
                if m in states.get(r, {}):
                    cur_states.setdefault(r, {})[m] = states[r][m]
    out: dict[str, dict[str, Decimal]] = {}
    for r, by_m in closed.items():
        out[r] = {m: round_money(v + exact.get(r, {}).get(m, ZERO)) for m, v in by_m.items()}
    for r, by_m in exact.items():
        for m, v in by_m.items():
            out.setdefault(r, {}).setdefault(m, round_money(v))
    return out


def _last_state(states: dict[str, RepState], months: list[str], default: RepState | None) -> RepState | None:
    for m in reversed(months):
        if m in states:
            return states[m]
    return default


def view(data: dict) -> dict:
    t = data["totals"]
    return {"title": "Earnings forecast from the pipeline",
            "subtitle": f"{data['from']} through {data['through']} · {data['currency']} · commit at p >= {data['commit_threshold']}",
            "cards": [(k.replace("_", " ").capitalize(), shown(Decimal(t[k]))) for k in SCENARIOS]}


def _s(x: Decimal) -> str:
    return f"{x:.2f}"



def load_stages(path) -> dict[str, Decimal]:  # noqa: ANN001
    """A stage file: a YAML mapping of stage name to probability (0..1)."""
    import yaml

    from compengine.core.errors import Source
    from compengine.core.money import parse_plain_number

    try:
        data = yaml.safe_load(open(path, encoding="utf-8").read()) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise CompErrors(CompError(Source(str(path)), f"cannot read the stage file: {str(exc).splitlines()[0]}")) from None
    if not isinstance(data, dict):
        raise CompErrors(CompError(Source(str(path)), "the stage file must map stage names to probabilities"))
    out, errors = {}, []
    for k, v in data.items():
        try:
            p = parse_plain_number(str(v))
        except ValueError as exc:
            errors.append(CompError(Source(str(path), None, str(k)), str(exc)))
            continue
        if not Decimal(0) <= p <= Decimal(1):
            errors.append(CompError(Source(str(path), None, str(k)), f"must be between 0 and 1, got {p}"))
        out[str(k)] = p
    if errors:
        raise CompErrors(errors)
    return out
