"""The inputs of a month's calculation, loaded set-wise from the ledger (:func:`load_inputs`).

Deals and splits of the month, earlier deals of the plan year for ``ytd`` plans,
cancellations not yet clawed back, adjustments, balances carried from the previous
month, and the plan versions. Used by the close and by disputes (to recalculate a month).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, text
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.fx import FxRates
from compengine.core.money import ZERO, from_thousandths
from compengine.core.periods import Period
from compengine.engine.pipeline import (
    Cancellation,
    calculate_period,
    credit_deals,
    group_assignments,
    iter_period_part,
    resolve_assignment,
)
from compengine.engine.records import (
    Adjustment,
    Assignment,
    Credit,
    Deal,
    PeriodResult,
    Quota,
    Rep,
    RepResult,
    RepState,
    Split,
)
from compengine.ledger import history
from compengine.ledger.codec import attrs_of, component_paid_of
from compengine.ledger.history import load_fx, load_quotas, rep_of, reps_on, versions_in_force
from compengine.ledger.models import AdjustmentRow, DealEvent, DealRow, PeriodRow, PlanVersion, RepPeriod, RepRow
from compengine.ledger.start import opening_credits, opening_state
from compengine.plans.loader import compile_cached
from compengine.plans.model import Plan

EARNED_KINDS = ("commission", "spiff", "override")
LATE_COMMISSION = "late_change.commission"
LATE_OTHER = "late_change.other"


@dataclass
class LedgerInputs:
    period: Period
    plans: dict[str, Plan]
    plan_version_ids: dict[str, int]
    reps: dict[str, Rep]
    rep_versions: dict[str, list[Rep]]
    assignments: dict[str, list[Assignment]]
    credits: list[Credit]
    ytd_credits: list[Credit]
    cancellations: list[Cancellation]
    adjustments: list[Adjustment]
    state: dict[str, RepState]
    # each rep's quotas per plan component (quotas.csv: the current rows, each rep's by plan, component, start)
    quotas: dict[str, list[Quota]] = field(default_factory=dict)
    # the ledger's exchange rates (fx_rates, current rows; None when it holds none): the engine converts a credit
    # in another currency than its receiver's plan with them, as ``calc`` does with a folder's fx_rates.csv
    fx: FxRates | None = None

    def calculate(self) -> PeriodResult:
        return calculate_period(self.period, self.plans, self.reps, self.assignments, self.credits,
                                ytd_credits=self.ytd_credits, cancellations=self.cancellations,
                                adjustments=self.adjustments, state=self.state, rep_versions=self.rep_versions,
                                quotas=self.quotas, fx=self.fx)

    def restrict_to(self, rep_ids: set[str]) -> set[str]:
        """Keep only what the calculation of these reps and their managers reads (a repricing of a
        few deals need not recalculate the whole month). Returns the reps kept: their results are
        the same as in the whole month's calculation."""
        keep, readers = readers_of(rep_ids, self.rep_versions, *override_reach(self.plans))
        self.credits = [c for c in self.credits if c.rep_id in readers]
        self.ytd_credits = [c for c in self.ytd_credits if c.rep_id in readers]
        self.assignments = {r: a for r, a in self.assignments.items() if r in keep}
        self.quotas = {r: q for r, q in self.quotas.items() if r in keep}
        self.cancellations = [c for c in self.cancellations if c.rep_id in keep]
        self.adjustments = [a for a in self.adjustments if a.rep_id in keep]
        return keep

    def iter_part(self, exceptions: list[str], part: tuple[int, int] = (0, 1), *, only: Iterable[str] | None = None,
                  keyed_exceptions: list[tuple[tuple, str]] | None = None) -> Iterator[RepResult]:
        """One part of the month, rep by rep (:func:`engine.pipeline.iter_period_part`); ``only``: just
        these reps (a partition of a distributed close, ``ledger.executors``)."""
        return iter_period_part(self.period, self.plans, self.reps, self.assignments, self.credits,
                                ytd_credits=self.ytd_credits, cancellations=self.cancellations,
                                adjustments=self.adjustments, state=self.state, exceptions=exceptions, part=part,
                                rep_versions=self.rep_versions, quotas=self.quotas, fx=self.fx,
                                only=None if only is None else frozenset(only), keyed_exceptions=keyed_exceptions)


# ------------------------------------------------------------------ loading


def load_plans_latest(session: Session) -> tuple[dict[str, Plan], dict[str, int]]:
    latest = select(PlanVersion.plan_id, func.max(PlanVersion.id).label("id")).group_by(PlanVersion.plan_id).subquery()
    rows = session.execute(select(PlanVersion).join(latest, PlanVersion.id == latest.c.id)).scalars().all()
    return _compile_versions(rows)


def load_plan_versions(session: Session, ids: dict[str, int]) -> tuple[dict[str, Plan], dict[str, int]]:
    rows = session.scalars(select(PlanVersion).where(PlanVersion.id.in_(list(ids.values())))).all() if ids else []
    return _compile_versions(rows)


def _compile_versions(rows: Iterable[PlanVersion]) -> tuple[dict[str, Plan], dict[str, int]]:
    plans: dict[str, Plan] = {}
    ids: dict[str, int] = {}
    for row in rows:
        plan, errors = compile_cached(row.text, row.file, row.digest)
        if plan is None:
            raise CompErrors(list(errors))
        plans[plan.id] = plan
        ids[plan.id] = row.id
    return plans, ids


def load_reps(session: Session) -> dict[str, Rep]:
    """Every rep, latest version (a month's calculation reads the versions in force: ``history.reps_on``)."""
    return {r.rep_id: rep_of(r) for r in session.scalars(select(RepRow))}


def load_assignments(session: Session) -> dict[str, list[Assignment]]:
    """The current assignment rows (superseded rows are history: ``compengine history``)."""
    return history.load_assignments(session)


def load_plans_for(session: Session, period: Period) -> tuple[dict[str, Plan], dict[str, int]]:
    """The plan versions in force on the month's last day (the plan schedule)."""
    ids = versions_in_force(session, period.end)
    if not ids:
        return load_plans_latest(session)  # a ledger without a schedule (never imported since 0006)
    return load_plan_versions(session, ids)


def load_credits(session: Session, periods: list[str], reps: Iterable[str] | None = None) -> list[Credit]:
    """Credits of the deals closed in the given months (current amounts and splits); with
    ``reps``, only of the deals these reps own or have a split of (a repricing of a few reps).

    The deals are credited as they are read (:func:`_iter_deals`): a month's rows and Deal records
    never all live at once, only its credits (the close's memory, issue 14)."""
    if not periods:
        return []
    with _deal_reader(session, periods, reps, records=False) as (splits, deals):
        return credit_deals(deals, splits)


def load_deals(session: Session, periods: list[str],
               reps: Iterable[str] | None = None) -> tuple[list[Deal], dict[str, list[Split]]]:
    """The deals closed in the given months as they are now, and their current splits (see :func:`load_credits`).

    Each deal's ``source`` is the text ``file:line`` of its latest event (``deals.source``), its
    ``quantity``, ``cost`` and ``attrs`` those of its latest won or amended event."""
    if not periods:
        return [], {}
    with _deal_reader(session, periods, reps) as (splits, deals):
        return list(deals), splits


@contextmanager
def _deal_reader(session: Session, periods: list[str], reps: Iterable[str] | None,
                 records: bool = True) -> Iterator[tuple[dict[str, list[Split]], Iterator[Deal]]]:
    """(the current splits of the months' deals, an iterator of the deals, read as it is consumed; without
    ``records``, each deal is the plain tuple of a Deal's fields, which ``credit_deals`` reads alike)."""
    # Plain SQL over the DBAPI cursor: a month can hold a million deals, and per-row
    # type processing would dominate. Money arrives as integer thousandths, dates as text on SQLite.
    # Deals come in no particular order (sorting them cost a second a million): the engine
    # orders each rep's credits itself, and a deal's credits stay together in split order.
    conn = session.connection()
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    mark = "?" if dialect == "sqlite" else "%s"
    marks = ", ".join(mark for _ in periods)
    only, only_params = "", []
    if reps is not None:
        wanted = sorted(set(reps)) or [""]
        rmarks = ", ".join(mark for _ in wanted)
        only = (f" AND (d.owner_id IN ({rmarks}) OR d.deal_id IN (SELECT deal_id FROM splits WHERE rep_id IN ({rmarks}) "
                "AND superseded_at IS NULL))")
        only_params = wanted + wanted
    cur = raw.cursor()
    try:
        splits: dict[str, list[Split]] = defaultdict(list)
        cur.execute("SELECT s.deal_id, s.rep_id, s.split_pct, s.role FROM splits s JOIN deals d ON d.deal_id = s.deal_id "
                    f"WHERE d.close_period IN ({marks}) AND s.superseded_at IS NULL{only} ORDER BY s.deal_id, s.id",
                    list(periods) + only_params)
        pcts: dict[str, Decimal] = {}  # a month's splits share a few percentages: one Decimal each (and one text when stored)
        for deal_id, rep_id, pct, role in cur.fetchall():
            d_pct = pcts.get(pct)
            if d_pct is None:
                d_pct = pcts[pct] = Decimal(pct)
            splits[deal_id].append(Split(deal_id, rep_id, d_pct, role))
        cur.execute("SELECT deal_id, account, deal_type, amount, currency, close_date, owner_id, term_months, product, "
                    f"cancelled_on, source, quantity, cost, attrs FROM deals d WHERE close_period IN ({marks}){only}",
                    list(periods) + only_params)
        yield splits, _iter_deals(cur, dialect == "sqlite", records)
    finally:
        cur.close()


def _iter_deals(cur: Any, sqlite: bool, records: bool = True) -> Iterator[Deal]:
    """The deals of an executed deals query, made a few thousand rows at a time: Deal records, or without
    ``records`` the tuples of their fields (for ``credit_deals``: a million ``Deal._make`` calls saved)."""
    make_deal = Deal._make
    one, zero = Decimal(1), ZERO
    quantities: dict[str, Decimal] = {"1": one}  # a month's deals share a few quantities: one Decimal each
    as_date = date.fromisoformat
    dates: dict[str, date] = {}
    # the driver makes a new str for every value of every row. The owners (a few thousand, repeated by tens of
    # thousands of deals, kept alive by the credits until the close ends) are one str per distinct text instead;
    # the other texts are not looked up: that cost more than it saved (on the million month of
    # benchmarks/bench_ledger.py, 1.3 CPU s of loading to save about 190 MB for the accounts, deal types,
    # currencies and products; a forked close's closing process frees the credits once its workers start)
    one_of: dict[str | None, str | None] = {}
    shared = one_of.setdefault
    while True:
        rows = cur.fetchmany(10_000)
        if not rows:
            return
        for (deal_id, account, deal_type, amount, currency, close, owner, term, product, cancelled, source, quantity, cost,
             attrs) in rows:
            owner = shared(owner, owner)
            if sqlite:
                close = dates.get(close) or dates.setdefault(close, as_date(close))
                if cancelled is not None:
                    cancelled = as_date(cancelled)
            q = quantities.get(quantity)
            if q is None:
                q = quantities[quantity] = Decimal(quantity)
            deal = (deal_id, account, deal_type, from_thousandths(amount), currency, close, owner, term, product,
                    cancelled, source or None, q, from_thousandths(cost) if cost else zero, attrs_of(attrs) if attrs else ())
            yield make_deal(deal) if records else deal  # type: ignore[misc]


def load_state(session: Session, period: Period) -> dict[str, RepState]:
    """Each rep's balances after its latest calculated month before ``period``."""
    latest = (
        select(RepPeriod.rep_id, func.max(RepPeriod.period).label("period"))
        .where(RepPeriod.period < str(period))
        .group_by(RepPeriod.rep_id)
        .subquery()
    )
    q = select(RepPeriod.rep_id, RepPeriod.draw_balance, RepPeriod.carry_balance, RepPeriod.ytd_paid, RepPeriod.ytd_year,
               RepPeriod.ytd_plan, RepPeriod.component_paid).join(
        latest, and_(RepPeriod.rep_id == latest.c.rep_id, RepPeriod.period == latest.c.period))
    state = {rep_id: RepState(db, cb, yp, yy, plan, component_paid_of(paid))
             for rep_id, db, cb, yp, yy, plan, paid in session.execute(q)}
    return opening_state(session, period, set(state)) | state


def earned_on(session: Session, deal_ids: list[str], before: Period) -> dict[tuple[str, str], list]:
    """What each receiver was paid on each deal in months before ``before`` (incl. late-change lines).

    Commission, SPIFF and override lines of a deal exist only in its close month, so they are read
    month by month through the (period, rep, seq) index; late-change lines through the small
    partial index of adjustment lines. (payout_lines has no full index on deal_id: it would halve
    the speed of storing a big month.)
    """
    out: dict[tuple[str, str], list] = {}
    conn = session.connection()
    by_period: dict[str, list[str]] = defaultdict(list)
    for chunk in _chunks(deal_ids, 500):
        for deal_id, close_period in session.execute(
            select(DealRow.deal_id, DealRow.close_period).where(DealRow.deal_id.in_(chunk))
        ):
            if close_period < str(before):
                by_period[close_period].append(deal_id)

    def add(rep_id: str, deal_id: str, part: int, cents_: int, paid_in: str) -> None:
        entry = out.setdefault((rep_id, deal_id), [ZERO, ZERO, paid_in])
        entry[part] += from_thousandths(cents_)
        entry[2] = min(entry[2], paid_in)

    for period, ids in sorted(by_period.items()):
        for chunk in _chunks(ids, 500):
            marks = ", ".join(f":d{i}" for i in range(len(chunk)))
            params = {f"d{i}": d for i, d in enumerate(chunk)} | {"p": period}
            for rep_id, deal_id, kind, amount in conn.execute(text(
                "SELECT rep_id, deal_id, kind, amount FROM payout_lines WHERE period = :p "
                f"AND kind IN ('commission', 'spiff', 'override') AND deal_id IN ({marks})"), params
            ):
                add(rep_id, deal_id, 0 if kind == "commission" else 1, amount, period)
    all_ids = [d for ids in by_period.values() for d in ids]
    for chunk in _chunks(all_ids, 500):
        marks = ", ".join(f":d{i}" for i in range(len(chunk)))
        params = {f"d{i}": d for i, d in enumerate(chunk)} | {"b": str(before)}
        for rep_id, deal_id, rule, amount, period, ref_period in conn.execute(text(
            "SELECT rep_id, deal_id, rule, amount, period, ref_period FROM payout_lines "
            f"WHERE kind = 'adjustment' AND deal_id IN ({marks}) AND period < :b"), params
        ):
            if rule in (LATE_COMMISSION, LATE_OTHER):
                add(rep_id, deal_id, 0 if rule == LATE_COMMISSION else 1, amount, ref_period or period)
    return out


def load_cancellations(session: Session, period: Period) -> list[Cancellation]:
    """Deals closed before ``period``, cancelled on or before its end, not yet clawed back."""
    candidates = session.execute(
        select(DealRow.deal_id, DealRow.close_date, DealRow.cancelled_on, func.max(DealEvent.id))
        .join(DealEvent, and_(DealEvent.deal_id == DealRow.deal_id, DealEvent.kind == "cancelled"))
        .where(DealRow.cancelled_on.is_not(None), DealRow.cancelled_on <= period.end, DealRow.close_period < str(period))
        .group_by(DealRow.deal_id, DealRow.close_date, DealRow.cancelled_on)
    ).all()
    if not candidates:
        return []
    locks = dict(session.execute(select(PeriodRow.period, PeriodRow.last_event_id).where(PeriodRow.status == "locked")).all())
    rows = []
    for deal_id, close_date, cancelled_on, event_id in candidates:
        cancel_period = str(Period.of(cancelled_on))
        if Period.of(close_date) == Period.of(cancelled_on):
            continue  # cancelled in its close month: never credited (late: the late-change recalculation reverses it)
        if cancel_period == str(period):
            rows.append((deal_id, close_date, cancelled_on))
        elif cancel_period in locks and event_id > (locks[cancel_period] or 0):
            rows.append((deal_id, close_date, cancelled_on))  # recorded after its month was locked: lands now
    if not rows:
        return []
    ids = [r[0] for r in rows]
    done: set[str] = set()
    conn = session.connection()
    for chunk in _chunks(ids, 500):
        marks = ", ".join(f":d{i}" for i in range(len(chunk)))
        params = {f"d{i}": d for i, d in enumerate(chunk)} | {"b": str(period)}
        done.update(r[0] for r in conn.execute(text(  # kind as a literal: the partial index of clawback lines
            f"SELECT DISTINCT deal_id FROM payout_lines WHERE kind = 'clawback' AND deal_id IN ({marks}) AND period < :b"), params))
    pending = {r[0]: r for r in rows if r[0] not in done}
    earned = earned_on(session, list(pending), period)
    out = []
    for (rep_id, deal_id), (comm, other, paid_in) in sorted(earned.items()):
        _, close_date, cancelled_on = pending[deal_id]
        out.append(Cancellation(rep_id, deal_id, close_date, cancelled_on, comm, other, paid_in))
    return out


def load_adjustments(session: Session, period: Period) -> list[Adjustment]:
    out = []
    for a in session.scalars(select(AdjustmentRow).where(AdjustmentRow.period == str(period), AdjustmentRow.status == "approved")
                              .order_by(AdjustmentRow.id)):
        ref = f"dispute:{a.dispute_id}" if a.dispute_id else f"adjustment:{a.id}"
        who = f" (by {a.created_by})"
        out.append(Adjustment(a.rep_id, a.amount, a.reason + who, "adjustment", a.deal_id, a.ref_period, ref,
                              a.counts_as_commission))
    return out


def override_reach(plans: Mapping[str, Plan]) -> tuple[int, bool]:
    """How far overrides reach in these plans: the deepest level, and whether one is paid on the reports'
    commission (which prices the reports themselves)."""
    depth = max((len(p.override_levels) or (1 if p.override_rate is not None else 0) for p in plans.values()), default=0)
    return max(depth, 1), any(p.override_base == "commission" for p in plans.values())


def readers_of(rep_ids: Iterable[str], rep_versions: dict[str, list[Rep]], depth: int = 1,
               with_reports: bool = False) -> tuple[set[str], set[str]]:
    """(the reps and their managers up ``depth`` levels, in any version; those and everyone up to ``depth``
    levels below those managers): whose results a repricing of ``rep_ids`` recalculates, and whose credits
    it reads. ``with_reports``: the reports are recalculated too (an override on their commission)."""
    keep = set(rep_ids)
    level = set(keep)
    for _ in range(depth):
        level = {v.manager_id for r in level for v in rep_versions.get(r, ()) if v.manager_id} - keep
        keep |= level
    readers = override_readers(keep, rep_versions, depth)
    return (readers if with_reports else keep), readers


def override_readers(rep_ids: Iterable[str], rep_versions: dict[str, list[Rep]], depth: int) -> set[str]:
    """The reps whose credits a calculation of ``rep_ids`` (and of nobody else) reads: themselves and
    their reports down ``depth`` levels, in any version (their overrides' bases)."""
    below: dict[str, set[str]] = defaultdict(set)
    for r, vs in rep_versions.items():
        for v in vs:
            if v.manager_id:
                below[v.manager_id].add(r)
    readers = set(rep_ids)
    level = set(readers)
    for _ in range(depth):
        level = {r for m in level for r in below.get(m, ())} - readers
        readers |= level
    return readers


def load_inputs(session: Session, period: Period, plan_version_ids: dict[str, int] | None = None, *,
                rep_ids: Iterable[str] | None = None, reading: Iterable[str] | None = None) -> LedgerInputs:
    """The month's inputs; with ``rep_ids``, only the credits a calculation of these reps and their
    managers reads (call :meth:`LedgerInputs.restrict_to` with the same reps); with ``reading``, only
    the credits of these reps (a partition of a distributed close: see :func:`override_readers`)."""
    if plan_version_ids:
        plans, ids = load_plan_versions(session, plan_version_ids)
    else:
        plans, ids = load_plans_for(session, period)
    reps, versions = reps_on(session, period.end)
    readers = readers_of(rep_ids, versions, *override_reach(plans))[1] if rep_ids is not None else None
    if reading is not None:
        readers = set(reading)
    ytd_periods = [str(p) for p in period.year_start().months_through(period)[:-1]]
    credits = load_credits(session, [str(period)], readers)
    assignments = load_assignments(session)
    ytd: list[Credit] = []
    if any(p.measure == "ytd" for p in plans.values()):
        ytd_plan_of = {}
        for rep_id, rows in assignments.items():
            a = resolve_assignment(rows, period)
            if a is not None and a.plan_id in plans and plans[a.plan_id].measure == "ytd":
                ytd_plan_of[rep_id] = plans[a.plan_id]
        ytd_reps = {r for r, rows in assignments.items() if any(plans.get(a.plan_id) and plans[a.plan_id].measure == "ytd" for a in rows)}
        if ytd_periods:
            ytd = [c for c in load_credits(session, ytd_periods, None if readers is None else ytd_reps & readers)
                   if c.rep_id in ytd_reps]
        ytd += opening_credits(session, period, {r: p.currency for r, p in ytd_plan_of.items()})
    return LedgerInputs(
        period=period,
        plans=plans,
        plan_version_ids=ids,
        reps=reps,
        rep_versions=versions,
        assignments=assignments,
        credits=credits,
        ytd_credits=ytd,
        cancellations=load_cancellations(session, period),
        adjustments=load_adjustments(session, period),
        state=load_state(session, period),
        quotas=load_quotas(session),
        fx=load_fx(session),
    )


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
