"""``compengine model``: candidate plans repriced over the ledger's history, against what was paid.

Input: a read-only session, candidate plan folders, a range of calculated or locked months.
For each month, in order, the engine calculates every rep in memory from the ledger's deals,
splits, master data, cancellations and manual adjustments as they are stored now, with the
plans the month's close used (``periods.plan_versions``) replaced, id by id, by the
candidate's; plans a candidate does not define stay as they were. Balances (draws, carried
negatives, the ytd tally) are carried month to month from the model's own results, starting
from the balances stored before the first month. A clawback reverses what the candidate paid
on the deal when the deal was paid inside the range (what was actually paid otherwise).

What was paid comes from the stored ``rep_periods`` and ``payout_lines``. Late-change lines
(a locked month's deal amended later) are the one thing a model does not rebuild: it prices
each deal as it stands now, in its close month.

Output: :class:`ModelReport`, with totals and cost of sales (payout / bookings) by month,
team, component (line kind) and rep for the actual payouts and each candidate, the biggest
winners and losers, and attainment and payout histograms.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import CONTEXT, ZERO, shown, signed
from compengine.core.periods import Period
from compengine.engine.pipeline import Cancellation, calculate_period, gc_paused
from compengine.engine.records import COMPONENTS, Earned, RepState
from compengine.finance.history import History
from compengine.ledger.inputs import load_plan_versions
from compengine.ledger.models import DealRow, PayoutLineRow, PeriodRow, RepPeriod
from compengine.plans.loader import load_plans
from compengine.plans.model import Plan

MOVERS = 10
PCT = Decimal("0.0001")
ATTAINMENT_BINS = [Decimal(x) for x in ("0", "0.25", "0.5", "0.75", "1", "1.25", "1.5", "2")]  # lower edges; last open


@dataclass
class Candidate:
    """A set of plan files to model: ``name`` (the folder) and the plans by id."""

    name: str
    plans: dict[str, Plan]


def load_candidates(folders: Sequence[Path | str]) -> list[Candidate]:
    """Load each candidate folder; every validation error (``file:line: field: message``) is raised."""
    out, errors = [], []
    for folder in folders:
        plans, errs = load_plans(folder)
        errors.extend(errs)
        out.append(Candidate(str(folder), plans))
    if errors:
        raise CompErrors(errors)
    return out


@dataclass
class Side:
    """One side of the comparison (what was paid, or one candidate) over the range."""

    name: str
    by_month: dict[str, Decimal] = field(default_factory=dict)
    by_team: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    by_component: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    by_rep: dict[str, Decimal] = field(default_factory=lambda: defaultdict(lambda: ZERO))
    attainments: list[Decimal] = field(default_factory=list)  # one per rep and month
    plans: dict[str, str] = field(default_factory=dict)  # plan id -> file

    @property
    def total(self) -> Decimal:
        return sum(self.by_month.values(), ZERO)


@dataclass
class ModelReport:
    first: str
    last: str
    currency: str
    months: list[str]
    bookings: dict[str, Decimal]
    team_bookings: dict[str, Decimal]  # bookings by the team of the primary credit's receiver
    actual: Side
    candidates: list[Side]
    reps: dict[str, tuple[str, str]]  # rep_id -> (name, team)
    notes: list[str] = field(default_factory=list)

    # -- derived figures
    @property
    def total_bookings(self) -> Decimal:
        return sum(self.bookings.values(), ZERO)

    def movers(self, side: Side, n: int = MOVERS) -> tuple[list[dict], list[dict]]:
        rows = []
        for rep_id in sorted(set(side.by_rep) | set(self.actual.by_rep)):
            a, c = self.actual.by_rep.get(rep_id, ZERO), side.by_rep.get(rep_id, ZERO)
            rows.append((c - a, rep_id, a, c))
        def row(t: tuple) -> dict:
            name, team = self.reps.get(t[1], ("", ""))
            return {"rep_id": t[1], "name": name, "team": team, "actual": t[2], "candidate": t[3], "change": t[0]}
        winners = [row(t) for t in sorted(rows, key=lambda t: (-t[0], t[1])) if t[0] > 0][:n]
        losers = [row(t) for t in sorted(rows, key=lambda t: (t[0], t[1])) if t[0] < 0][:n]
        return winners, losers

    def histograms(self) -> dict[str, dict]:
        sides = [self.actual, *self.candidates]
        labels = [f"{_pct0(lo)}-{_pct0(hi)}" for lo, hi in zip(ATTAINMENT_BINS, ATTAINMENT_BINS[1:])]
        labels.append(f">= {_pct0(ATTAINMENT_BINS[-1])}")
        attain = {"bins": labels, "series": [{"name": s.name, "counts": _bin(s.attainments, ATTAINMENT_BINS)} for s in sides]}
        # payout per rep over the range: eight equal bins from 0 to the largest payout of any side
        top = max([ZERO] + [v for s in sides for v in s.by_rep.values()])
        step = _nice_step(top / 8) if top > 0 else Decimal(1)
        edges = [step * i for i in range(8)]
        plabels = [f"{_k(lo)}-{_k(lo + step)}" for lo in edges[:-1]] + [f">= {_k(edges[-1])}"]
        pay = {"bins": plabels, "series": [{"name": s.name, "counts": _bin(list(s.by_rep.values()), edges)} for s in sides]}
        return {"attainment": {"title": "Attainment (rep-months)", **attain},
                "payout": {"title": f"Payout per rep over the range ({self.currency})", **pay}}

    def side_dict(self, side: Side, with_movers: bool) -> dict:
        d = {
            "name": side.name,
            "total": _s(side.total),
            "cost_of_sales": _ratio(side.total, self.total_bookings),
            "by_month": {m: {"payout": _s(v), "bookings": _s(self.bookings[m]), "cost_of_sales": _ratio(v, self.bookings[m])}
                         for m, v in side.by_month.items()},
            "by_team": {t: {"payout": _s(v), "bookings": _s(self.team_bookings.get(t, ZERO)),
                            "cost_of_sales": _ratio(v, self.team_bookings.get(t, ZERO))}
                        for t, v in sorted(side.by_team.items())},
            "by_component": {k: _s(side.by_component.get(k, ZERO)) for k in _kinds([side])},
            "by_rep": {r: _s(v) for r, v in sorted(side.by_rep.items())},
        }
        if side.plans:
            d["plans"] = dict(sorted(side.plans.items()))
        if with_movers:
            d["change"] = _s(side.total - self.actual.total)
            d["change_pct"] = _ratio(side.total - self.actual.total, self.actual.total)
            w, lo = self.movers(side)
            d["winners"] = [{k: (_s(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in w]
            d["losers"] = [{k: (_s(v) if isinstance(v, Decimal) else v) for k, v in r.items()} for r in lo]
        return d

    def as_dict(self) -> dict:
        return {
            "report": "model",
            "from": self.first,
            "through": self.last,
            "currency": self.currency,
            "months": self.months,
            "bookings": {"total": _s(self.total_bookings), "by_month": {m: _s(v) for m, v in self.bookings.items()}},
            "actual": self.side_dict(self.actual, False),
            "candidates": [self.side_dict(c, True) for c in self.candidates],
            "distributions": self.histograms(),
            "notes": list(self.notes),
        }

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        sides = [self.actual, *self.candidates]
        names = [s.name for s in sides]
        out = [("Total cost", ["side", "total", "cost_of_sales", "change"],
                [[s.name, _s(s.total), _ratio(s.total, self.total_bookings) or "",
                  "" if s is self.actual else _s(s.total - self.actual.total)] for s in sides])]
        out.append(("By month", ["month", "bookings", *names],
                    [[m, _s(self.bookings[m]), *(_s(s.by_month.get(m, ZERO)) for s in sides)] for m in self.months]))
        teams = sorted({t for s in sides for t in s.by_team})
        out.append(("By team", ["team", "bookings", *names, *(f"{n} cost of sales" for n in names)],
                    [[t or "(none)", _s(self.team_bookings.get(t, ZERO)), *(_s(s.by_team.get(t, ZERO)) for s in sides),
                      *(_ratio(s.by_team.get(t, ZERO), self.team_bookings.get(t, ZERO)) or "" for s in sides)] for t in teams]))
        out.append(("By component", ["component", *names],
                    [[k, *(_s(s.by_component.get(k, ZERO)) for s in sides)] for k in _kinds(sides)]))
        reps = sorted({r for s in sides for r in s.by_rep})
        out.append(("By rep", ["rep_id", "name", "team", *names],
                    [[r, *self.reps.get(r, ("", "")), *(_s(s.by_rep.get(r, ZERO)) for s in sides)] for r in reps]))
        for c in self.candidates:
            w, lo = self.movers(c)
            for title, rows in ((f"Winners under {c.name}", w), (f"Losers under {c.name}", lo)):
                out.append((title, ["rep_id", "name", "team", "actual", "candidate", "change"],
                            [[r["rep_id"], r["name"], r["team"], _s(r["actual"]), _s(r["candidate"]), _s(r["change"])] for r in rows]))
        for key, h in self.histograms().items():
            out.append((h["title"], ["bin", *(s["name"] for s in h["series"])],
                        [[b, *(str(s["counts"][i]) for s in h["series"])] for i, b in enumerate(h["bins"])]))
        return out

    def text(self) -> str:
        lines = [f"Plan model {self.first} through {self.last} ({self.currency}), bookings {shown(self.total_bookings)}"]
        width = max(len(s.name) for s in [self.actual, *self.candidates])
        for s in [self.actual, *self.candidates]:
            cos = _ratio(s.total, self.total_bookings)
            extra = "" if s is self.actual else f"   change {signed(s.total - self.actual.total)}"
            lines.append(f"  {s.name:<{width}}  {shown(s.total):>16}  cost of sales {_pct_text(cos)}{extra}")
        for c in self.candidates:
            w, lo = self.movers(c, 5)
            for title, rows in (("biggest winners", w), ("biggest losers", lo)):
                if rows:
                    lines.append(f"  {c.name}: {title}: " + ", ".join(f"{r['rep_id']} {signed(r['change'])}" for r in rows))
        lines.extend(f"  note: {n}" for n in self.notes)
        return "\n".join(lines) + "\n"


@gc_paused()  # the year's credits, lines and states are records without cycles: as in the close (pipeline.gc_paused)
def model_plans(session: Session, candidates: Sequence[Candidate], first: Period, last: Period) -> ModelReport:
    """Reprice ``first``..``last`` under each candidate and compare with what was paid (read-only)."""
    if last < first:
        raise CompErrors(f"--through {last} is before --from {first}")
    months = first.months_through(last)
    statuses = dict(session.execute(select(PeriodRow.period, PeriodRow.status)
                                    .where(PeriodRow.period >= str(first), PeriodRow.period <= str(last))).all())
    for m in months:
        if statuses.get(str(m)) not in ("calculated", "locked"):
            raise CompErrors(f"period {m} has not been calculated (status {statuses.get(str(m), 'open')}): "
                             "a model compares with what was paid; close it first or narrow --from/--through")
    history = History(session)
    used: dict[str, dict[str, int]] = {}
    stored_plans: dict[str, dict[str, Plan]] = {}
    for m in months:
        ids = json.loads(session.scalar(select(PeriodRow.plan_versions).where(PeriodRow.period == str(m))) or "{}")
        used[str(m)] = ids
        stored_plans[str(m)] = load_plan_versions(session, ids)[0]
    plan_sets = [stored_plans[str(m)] | c.plans for m in months for c in candidates] + list(stored_plans.values())
    history.watch_ytd(plan_sets)
    reps = {r.rep_id: (r.name, r.team) for r in history.reps.values()}
    team_of = {r: t for r, (_n, t) in reps.items()}

    actual = _actual(session, months, team_of)
    sides = [Side(c.name, plans={pid: str(p.source.file) for pid, p in c.plans.items()}) for c in candidates]
    start_state = history.state_before(first)
    states: list[dict[str, RepState]] = [dict(start_state) for _ in candidates]
    cancelled = set(session.scalars(select(DealRow.deal_id).where(DealRow.cancelled_on.is_not(None),
                                                                   DealRow.close_period >= str(first),
                                                                   DealRow.close_period <= str(last))))
    earned: list[dict[tuple[str, str], Earned]] = [{} for _ in candidates]
    bookings: dict[str, Decimal] = {}
    team_bookings: dict[str, Decimal] = defaultdict(lambda: ZERO)
    currencies: set[str] = set()
    unknown_plans: set[str] = set()
    for m in months:
        month = history.month(m)
        booked = ZERO
        for c in month.credits:
            if c.role == "primary" and (c.cancelled_on is None or not m.contains(c.cancelled_on)):
                booked += c.credit
                team_bookings[team_of.get(c.rep_id, "")] += c.credit
        bookings[str(m)] = booked
        currencies.update(c.currency for c in month.credits)
        for i, cand in enumerate(candidates):
            plans = stored_plans[str(m)] | cand.plans
            ytd = history.ytd_credits(m, plans)
            cancels = _cancellations(month.cancellations, earned[i], first)
            result = calculate_period(m, plans, history.reps, history.assignments, month.credits, ytd_credits=ytd,
                                      cancellations=cancels, adjustments=month.adjustments, state=states[i],
                                      fx=history.fx)
            side = sides[i]
            total = ZERO
            for r in result.reps:
                states[i][r.rep_id] = r.state
                total += r.payout
                side.by_rep[r.rep_id] += r.payout
                side.by_team[team_of.get(r.rep_id, "")] += r.payout
                side.attainments.append(r.attainment)
                currencies.add(r.currency)
                for ln in r.lines:
                    side.by_component[ln.kind] += ln.amount
                    if ln.deal_id in cancelled and ln.kind in ("commission", "spiff", "override"):
                        key = (ln.rep_id, ln.deal_id)
                        e = earned[i].get(key, Earned(ZERO, ZERO, str(m)))
                        earned[i][key] = (Earned(e.commission + ln.amount, e.other, e.period) if ln.kind == "commission"
                                          else Earned(e.commission, e.other + ln.amount, e.period))
            side.by_month[str(m)] = total
            unknown_plans.update(e.split("plan ")[1].split(" ")[0] for e in result.exceptions if "is not loaded" in e)
    if len(currencies) > 1:
        raise CompErrors(f"the ledger pays in several currencies ({', '.join(sorted(currencies))}): "
                         "a model compares one currency at a time")
    notes = []
    if unknown_plans:
        notes.append(f"plans not loaded, their reps skipped: {', '.join(sorted(unknown_plans))}")
    late = session.scalar(select(func.count()).select_from(PayoutLineRow).where(
        PayoutLineRow.period >= str(first), PayoutLineRow.period <= str(last),
        PayoutLineRow.rule.in_(("late_change.commission", "late_change.other")))) or 0
    if late:
        notes.append(f"{late} late-change line(s) were paid in the range; a model prices each deal as it stands now "
                     "in its close month instead")
    return ModelReport(str(first), str(last), (currencies or {"USD"}).pop(), [str(m) for m in months], bookings,
                       dict(team_bookings), actual, sides, reps, notes)


def _cancellations(stored: list[Cancellation], earned: dict[tuple[str, str], Earned], first: Period) -> list[Cancellation]:
    """The month's cancellations with what the candidate paid on deals paid inside the range."""
    out: list[Cancellation] = []
    deals = {}
    for x in stored:
        if x.period >= str(first):
            deals[x.deal_id] = x
        else:
            out.append(x)
    for (rep_id, deal_id), e in sorted(earned.items()):
        x = deals.get(deal_id)
        if x is not None:
            out.append(Cancellation(rep_id, deal_id, x.close_date, x.cancelled_on, e.commission, e.other, e.period))
    return out


def _actual(session: Session, months: list[Period], team_of: dict[str, str]) -> Side:
    side = Side("actual (as paid)")
    lo, hi = str(months[0]), str(months[-1])
    for m in months:
        side.by_month[str(m)] = ZERO
    for period, rep_id, payout, attainment in session.execute(
        select(RepPeriod.period, RepPeriod.rep_id, RepPeriod.payout, RepPeriod.attainment)
        .where(RepPeriod.period >= lo, RepPeriod.period <= hi).order_by(RepPeriod.period, RepPeriod.rep_id)
    ):
        side.by_month[period] += payout
        side.by_rep[rep_id] += payout
        side.by_team[team_of.get(rep_id, "")] += payout
        side.attainments.append(attainment)
    for kind, amount in session.execute(
        select(PayoutLineRow.kind, func.sum(PayoutLineRow.amount))
        .where(PayoutLineRow.period >= lo, PayoutLineRow.period <= hi).group_by(PayoutLineRow.kind)
    ):
        side.by_component[kind] += amount
    return side


def _kinds(sides: Sequence[Side]) -> list[str]:
    seen = {k for s in sides for k, v in s.by_component.items() if v != 0}
    return [k for k in COMPONENTS if k in seen] + sorted(seen - set(COMPONENTS))


def _bin(values: Sequence[Decimal], edges: Sequence[Decimal]) -> list[int]:
    counts = [0] * len(edges)
    for v in values:
        i = 0
        for j, e in enumerate(edges):
            if v >= e:
                i = j
        counts[i] += 1
    return counts


def _nice_step(x: Decimal) -> Decimal:
    """The smallest of 1, 2, 2.5, 5 x 10^n that is at least ``x``."""
    mag = Decimal(1)
    while mag * 10 <= x:
        mag *= 10
    while mag > x and mag > Decimal("0.01"):
        mag /= 10
    for f in (1, 2, Decimal("2.5"), 5, 10):
        if mag * f >= x:
            return mag * f
    return mag * 10


def _k(x: Decimal) -> str:
    return f"{x:,.0f}"


def _pct0(x: Decimal) -> str:
    return f"{(x * 100):.0f}%"


def _s(x: Decimal) -> str:
    return f"{x:.2f}"


def _ratio(part: Decimal, whole: Decimal) -> str | None:
    """A ratio as a decimal string to four places (0.0812 = 8.12%); None when ``whole`` is zero."""
    if whole == 0:
        return None
    return str(CONTEXT.divide(part, whole).quantize(PCT, context=CONTEXT))


def _pct_text(r: str | None) -> str:
    return "n/a" if r is None else f"{Decimal(r) * 100:.2f}%"


def view(data: dict) -> dict:
    """Title, subtitle and summary cards of the HTML/PDF report, from :meth:`ModelReport.as_dict`."""
    cards = [("Bookings", shown(Decimal(data['bookings']['total']))),
             ("Actual (as paid)", shown(Decimal(data['actual']['total'])))]
    for c in data["candidates"]:
        cards.append((c["name"], f"{shown(Decimal(c['total']))} ({signed(Decimal(c['change']))})"))
    return {"title": "Plan model on history", "subtitle": f"{data['from']} through {data['through']} · {data['currency']}",
            "cards": cards}
