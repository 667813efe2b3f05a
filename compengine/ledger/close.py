"""The monthly close: feed the pure engine from the ledger, store its lines, lock.

``run_close`` loads the month's inputs set-wise (deals and splits of the month,
earlier deals of the plan year for ``ytd`` plans, cancellations, adjustments,
balances carried from the previous month), recalculates locked months that had
late changes to derive correction lines, calls :func:`calculate_period`, and
replaces the month's lines. It is idempotent. ``lock_period`` freezes a month.
"""

from __future__ import annotations

import json
import os
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import and_, delete, func, literal_column, or_, select, text, update
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors, Source
from compengine.core.money import ZERO, from_cents
from compengine.core.periods import Period
from compengine.engine.pipeline import (
    Cancellation,
    calculate_period,
    credit_deals,
    gc_paused,
    group_assignments,
    iter_period_part,
    resolve_assignment,
)
from compengine.engine.records import (
    COMPONENTS,
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
from compengine.ledger.models import (
    AdjustmentRow,
    AssignmentRow,
    DealEvent,
    DealRow,
    DisputeRow,
    PayoutLineRow,
    PeriodRow,
    PlanVersion,
    RepPeriod,
    RepRow,
    SplitRow,
)
from compengine.ledger.store import (
    audit,
    bulk_insert,
    cents_encoder,
    invalidate_from,
    lock_period_row,
    null_token,
    text_encoder,
    utcnow,
)
from compengine.ledger.seals import month_digest, seal_period
from compengine.ledger.start import first_period, opening_credits, opening_state
from compengine.ledger.workers import calculate_and_store, can_fork
from compengine.plans.loader import load_plan_text
from compengine.plans.model import Plan

EARNED_KINDS = ("commission", "spiff", "override")
LATE_COMMISSION = "late_change.commission"
LATE_OTHER = "late_change.other"
LINE_COLUMNS = ["period", "rep_id", "seq", "kind", "amount", "deal_id", "credit", "rate", "multiplier", "tier", "rule",
                "explain", "ref_period", "ref", "role", "split_pct"]
NULLABLE_LINE_COLUMNS = ("deal_id", "credit", "rate", "multiplier", "tier", "ref_period", "ref", "role", "split_pct")
REP_PERIOD_COLUMNS = ["period", "rep_id", "plan_id", "currency", "measure", "quota", "credited", "attainment", "ytd_quota",
                      "ytd_credited", "tenure_month", "payout", "draw_balance", "carry_balance", "ytd_paid", "ytd_year",
                      "ytd_plan", "notes"]
NULLABLE_REP_PERIOD_COLUMNS = ("ytd_quota", "ytd_credited", "tenure_month", "ytd_plan")
Progress = Callable[[str], None]
PARALLEL_MIN_CREDITS = 50_000  # below this a month calculates faster in one process than it forks


@dataclass
class LedgerInputs:
    period: Period
    plans: dict[str, Plan]
    plan_version_ids: dict[str, int]
    reps: dict[str, Rep]
    assignments: dict[str, list[Assignment]]
    credits: list[Credit]
    ytd_credits: list[Credit]
    cancellations: list[Cancellation]
    adjustments: list[Adjustment]
    state: dict[str, RepState]

    def calculate(self) -> PeriodResult:
        return calculate_period(self.period, self.plans, self.reps, self.assignments, self.credits,
                                ytd_credits=self.ytd_credits, cancellations=self.cancellations,
                                adjustments=self.adjustments, state=self.state)

    def iter_part(self, exceptions: list[str], part: tuple[int, int]) -> Iterator[RepResult]:
        """One part of the month, rep by rep (:func:`engine.pipeline.iter_period_part`)."""
        return iter_period_part(self.period, self.plans, self.reps, self.assignments, self.credits,
                                ytd_credits=self.ytd_credits, cancellations=self.cancellations,
                                adjustments=self.adjustments, state=self.state, exceptions=exceptions, part=part)


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
        plan, errors = load_plan_text(row.text, row.file)
        if plan is None:
            raise CompErrors(errors)
        plans[plan.id] = plan
        ids[plan.id] = row.id
    return plans, ids


def load_reps(session: Session) -> dict[str, Rep]:
    return {
        r.rep_id: Rep(r.rep_id, r.name, r.email, r.manager_id, r.team, r.hire_date)
        for r in session.scalars(select(RepRow))
    }


def load_assignments(session: Session) -> dict[str, list[Assignment]]:
    return group_assignments(
        Assignment(a.rep_id, a.plan_id, a.start, a.end, a.annual_quota) for a in session.scalars(select(AssignmentRow))
    )


def load_credits(session: Session, periods: list[str]) -> list[Credit]:
    """Credits of the deals closed in the given months (current amounts and splits)."""
    if not periods:
        return []
    # Plain SQL over the DBAPI cursor: a month can hold a million deals, and per-row
    # type processing would dominate. Money arrives as integer cents, dates as text on SQLite.
    # Deals come in no particular order (sorting them cost a second a million): the engine
    # orders each rep's credits itself, and a deal's credits stay together in split order.
    conn = session.connection()
    dialect = conn.dialect.name
    raw = conn.connection.driver_connection
    mark = "?" if dialect == "sqlite" else "%s"
    marks = ", ".join(mark for _ in periods)
    make_deal = Deal._make
    cur = raw.cursor()
    try:
        cur.execute("SELECT deal_id, account, deal_type, amount, currency, close_date, owner_id, term_months, product, "
                    f"cancelled_on FROM deals WHERE close_period IN ({marks})", list(periods))
        rows = cur.fetchall()
        if dialect == "sqlite":
            as_date = date.fromisoformat
            dates: dict[str, date] = {}
            deals = [make_deal((deal_id, account, deal_type, from_cents(amount), currency,
                                dates.get(close) or dates.setdefault(close, as_date(close)), owner, term, product,
                                as_date(cancelled) if cancelled is not None else None, None))
                     for deal_id, account, deal_type, amount, currency, close, owner, term, product, cancelled in rows]
        else:
            deals = [make_deal((deal_id, account, deal_type, from_cents(amount), currency, close, owner, term, product,
                                cancelled, None))
                     for deal_id, account, deal_type, amount, currency, close, owner, term, product, cancelled in rows]
        del rows
        splits: dict[str, list[Split]] = defaultdict(list)
        cur.execute("SELECT s.deal_id, s.rep_id, s.split_pct, s.role FROM splits s JOIN deals d ON d.deal_id = s.deal_id "
                    f"WHERE d.close_period IN ({marks}) AND s.superseded_at IS NULL ORDER BY s.deal_id, s.id", list(periods))
        for deal_id, rep_id, pct, role in cur.fetchall():
            splits[deal_id].append(Split(deal_id, rep_id, Decimal(pct), role))
    finally:
        cur.close()
    return credit_deals(deals, splits)


def load_state(session: Session, period: Period) -> dict[str, RepState]:
    """Each rep's balances after its latest calculated month before ``period``."""
    latest = (
        select(RepPeriod.rep_id, func.max(RepPeriod.period).label("period"))
        .where(RepPeriod.period < str(period))
        .group_by(RepPeriod.rep_id)
        .subquery()
    )
    q = select(RepPeriod.rep_id, RepPeriod.draw_balance, RepPeriod.carry_balance, RepPeriod.ytd_paid, RepPeriod.ytd_year,
               RepPeriod.ytd_plan).join(latest, and_(RepPeriod.rep_id == latest.c.rep_id, RepPeriod.period == latest.c.period))
    state = {rep_id: RepState(db, cb, yp, yy, plan) for rep_id, db, cb, yp, yy, plan in session.execute(q)}
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
        entry[part] += from_cents(cents_)
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


def load_inputs(session: Session, period: Period, plan_version_ids: dict[str, int] | None = None) -> LedgerInputs:
    if plan_version_ids:
        plans, ids = load_plan_versions(session, plan_version_ids)
    else:
        plans, ids = load_plans_latest(session)
    ytd_periods = [str(p) for p in period.year_start().months_through(period)[:-1]]
    credits = load_credits(session, [str(period)])
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
            ytd = [c for c in load_credits(session, ytd_periods) if c.rep_id in ytd_reps]
        ytd += opening_credits(session, period, {r: p.currency for r, p in ytd_plan_of.items()})
    return LedgerInputs(
        period=period,
        plans=plans,
        plan_version_ids=ids,
        reps=load_reps(session),
        assignments=assignments,
        credits=credits,
        ytd_credits=ytd,
        cancellations=load_cancellations(session, period),
        adjustments=load_adjustments(session, period),
        state=load_state(session, period),
    )


# ------------------------------------------------------------------ late changes


def late_change_adjustments(session: Session, period: Period, plans_now: dict[str, Plan]) -> list[Adjustment]:
    """Recalculate locked months whose deals changed after the lock; the differences
    (per rep and deal, commission and other earnings) become adjustment lines now.
    A line that pays a dispute approved by correction names it in its explain text."""
    from compengine.ledger.disputes import correction_disputes  # disputes reads load_inputs from here

    out: list[Adjustment] = []
    disputed = correction_disputes(session, period)
    locked = session.execute(
        select(PeriodRow.period, PeriodRow.last_event_id, PeriodRow.plan_versions)
        .where(PeriodRow.status == "locked", PeriodRow.period < str(period)).order_by(PeriodRow.period)
    ).all()
    for lperiod, last_event_id, versions in locked:
        changed = session.execute(
            select(DealEvent.deal_id, DealEvent.kind, DealEvent.amount, DealEvent.effective)
            .join(DealRow, DealRow.deal_id == DealEvent.deal_id)
            .where(DealRow.close_period == lperiod, DealEvent.id > (last_event_id or 0),
                   DealEvent.kind.in_(("amended", "splits_changed", "cancelled")))
            .order_by(DealEvent.id)
        ).all()
        what = {}
        for deal_id, kind, amount, effective in changed:
            if kind == "cancelled":
                if effective is None or str(Period.of(effective)) != lperiod:
                    continue  # cancelled in a later month: a clawback, not a recalculation
                what[deal_id] = f"cancelled on {effective} in its close month"
            else:
                what[deal_id] = f"amended to {amount:,.2f}" if kind == "amended" else "splits changed"
        if not what:
            continue
        lp = Period.parse(lperiod)
        inputs = load_inputs(session, lp, json.loads(versions) or None)
        shadow = inputs.calculate()
        now_paid: dict[tuple[str, str, int], Decimal] = defaultdict(lambda: ZERO)
        for r in shadow.reps:
            for ln in r.lines:
                if ln.kind in EARNED_KINDS and ln.deal_id:
                    now_paid[(ln.rep_id, ln.deal_id, 0 if ln.kind == "commission" else 1)] += ln.amount
        was_paid: dict[tuple[str, str, int], Decimal] = defaultdict(lambda: ZERO)
        for rep_id, deal_id, kind, amount in session.execute(
            select(PayoutLineRow.rep_id, PayoutLineRow.deal_id, PayoutLineRow.kind, PayoutLineRow.amount)
            .where(PayoutLineRow.period == lperiod, PayoutLineRow.kind.in_(EARNED_KINDS), PayoutLineRow.deal_id.is_not(None))
        ):
            was_paid[(rep_id, deal_id, 0 if kind == "commission" else 1)] += amount
        # corrections already made by earlier months' runs (months close in order, and rerunning a
        # month invalidates the later ones, so every earlier month's lines are current)
        for rep_id, deal_id, rule, amount in session.execute(
            select(PayoutLineRow.rep_id, PayoutLineRow.deal_id, PayoutLineRow.rule, PayoutLineRow.amount)
            .where(PayoutLineRow.ref_period == lperiod, PayoutLineRow.kind == literal_column("'adjustment'"),
                   PayoutLineRow.rule.in_((LATE_COMMISSION, LATE_OTHER)), PayoutLineRow.period < str(period))
        ):
            was_paid[(rep_id, deal_id, 0 if rule == LATE_COMMISSION else 1)] += amount
        ytd_same_year = {
            r.rep_id for r in shadow.reps if r.measure == "ytd" and lp.year == period.year
        }
        for key in sorted(set(now_paid) | set(was_paid)):
            rep_id, deal_id, part = key
            diff = now_paid[key] - was_paid[key]
            if diff == 0:
                continue
            if part == 0 and rep_id in ytd_same_year:
                continue  # the ytd true-up of this month already re-measures the year with the change
            cause = what.get(deal_id, f"re-banded after changes to {', '.join(sorted(what))}")
            label = "commission" if part == 0 else "SPIFF/override"
            reason = (f"Late change: {deal_id} ({cause}) recalculated for {lperiod}: {label} "
                      f"{now_paid[key]:,.2f}, was {was_paid[key]:,.2f}")
            ids = sorted(disputed.get((rep_id, deal_id, lperiod), []) + disputed.get((rep_id, None, lperiod), []))
            if ids:
                reason += f"; pays dispute {', '.join(map(str, ids))} (approved by correction)"
            out.append(Adjustment(rep_id, diff, reason, "adjustment", deal_id, lperiod,
                                  LATE_COMMISSION if part == 0 else LATE_OTHER, counts_as_commission=part == 0))
    return out


# ------------------------------------------------------------------ run and lock


def previous_gap(session: Session, period: Period) -> str | None:
    """The first earlier month of the ledger that is neither calculated nor locked."""
    start = first_period(session)
    q = select(PeriodRow.period, PeriodRow.status).where(PeriodRow.period < str(period))
    if start is not None:
        q = q.where(PeriodRow.period >= str(start))
    rows = dict(session.execute(q).all())
    if not rows:
        return None
    first = Period.parse(min(rows))
    for p in first.months_through(period.prev()):
        if rows.get(str(p), "open") not in ("calculated", "locked"):
            return str(p)
    return None


def close_workers(requested: int | None, credit_lines: int) -> int:
    """How many worker processes calculate a close: ``requested`` if given, else the
    ``COMPENGINE_CLOSE_WORKERS`` environment variable, else 2 for a month of at least
    :data:`PARALLEL_MIN_CREDITS` credit lines on a machine with two or more cores, else 1
    (1 = calculate in this process). Without ``fork`` (Windows) always 1; the automatic
    choice is made on Linux only (elsewhere ask for workers explicitly)."""
    if not can_fork():
        return 1
    if requested is None:
        env = os.environ.get("COMPENGINE_CLOSE_WORKERS", "").strip()
        if env:
            if not env.isdigit() or int(env) < 1:
                raise CompErrors(f"COMPENGINE_CLOSE_WORKERS must be a whole number of at least 1, not {env!r}")
            requested = int(env)
        else:
            big = credit_lines >= PARALLEL_MIN_CREDITS and (os.cpu_count() or 1) >= 2
            requested = 2 if big and sys.platform.startswith("linux") else 1
    return max(1, requested)


@gc_paused()
def run_close(session: Session, period: Period, actor: str, *, now: datetime | None = None,
              progress: Progress | None = None, workers: int | None = None) -> PeriodResult:
    """Calculate a month and store its lines (replacing the month's previous run).

    A big month is calculated in worker processes while this one stores their lines
    (``workers``: see :func:`close_workers` and ``ledger.workers``); the lines are the same.
    The cyclic garbage collector is paused meanwhile: a month can make millions of
    acyclic records, which reference counting frees (see ``engine.pipeline.gc_paused``).
    """
    now = now or utcnow()
    say = progress or (lambda _m: None)
    row = lock_period_row(session, period)  # the writer lock is held (ledger.db.transaction): re-checked here
    if row.status == "locked":
        raise CompErrors(f"period {period} is locked: its lines cannot change; late changes go into the next open month")
    gap = previous_gap(session, period)
    if gap is not None:
        raise CompErrors(f"period {gap} has not been calculated: close the months in order (run {gap} first)")
    pstr = str(period)
    # Months after this one that are calculated depend on its results: if this run changes
    # nothing they read, they stay as they are (compared through the seal's ``month_digest``).
    later_calculated = session.scalar(select(func.count()).select_from(PeriodRow).where(
        PeriodRow.period > pstr, PeriodRow.status == "calculated")) or 0
    old_digest = month_digest(session, period).lines_digest if later_calculated and row.line_count else None
    say("loading inputs")
    watermark = session.scalar(select(func.max(DealEvent.id))) or 0
    inputs = load_inputs(session, period)
    say("recalculating late changes")
    late = late_change_adjustments(session, period, inputs.plans)
    inputs.adjustments = late + inputs.adjustments
    if late and inputs.cancellations:
        inputs.cancellations = _with_late_changes(inputs.cancellations, late)
    conn = session.connection()
    conn.execute(PayoutLineRow.__table__.delete().where(PayoutLineRow.__table__.c.period == pstr))
    conn.execute(RepPeriod.__table__.delete().where(RepPeriod.__table__.c.period == pstr))
    null = null_token(session)

    n_workers = close_workers(workers, len(inputs.credits))
    if n_workers > 1:
        say(f"calculating {len(inputs.credits):,} credit lines in {n_workers} worker processes, storing lines as they come")
        result, count = calculate_and_store(inputs, pstr, n_workers, null,
                                            lambda shape, rows: store_shaped(session, shape, rows, pstr))
    else:
        say(f"calculating {len(inputs.credits):,} credit lines")
        result = inputs.calculate()
        say("storing lines")
        count = sum(store_shaped(session, shape, rows, pstr) for shape, rows in shaped_batches(result.reps, pstr, null))
    bulk_insert(session, "rep_periods", REP_PERIOD_COLUMNS, rep_period_rows(result.reps, pstr, null), has_dates=False,
                nullable=NULLABLE_REP_PERIOD_COLUMNS)
    total = result.total_payout
    new_digest = month_digest(session, period).lines_digest if later_calculated else None
    session.execute(
        update(PeriodRow).where(PeriodRow.period == pstr).values(
            status="calculated", calculated_at=now, runs=PeriodRow.runs + 1, calc_watermark=watermark,
            results_digest=new_digest, exceptions=json.dumps(result.exceptions), exceptions_accepted=None,
            plan_versions=json.dumps(inputs.plan_version_ids, sort_keys=True), total_payout=total, line_count=count)
    )
    session.expire(row)
    later: list[str] = []
    if later_calculated and new_digest != old_digest:
        later = invalidate_from(session, period.next(), actor, f"{period} was recalculated with different results")
    if later:
        result.notices.append(f"{', '.join(later)} now stale: {period} was recalculated with different results; "
                              "run them again")
    audit(session, actor, "close.run", f"{period}: {len(result.reps)} reps, {count} lines, total {total:,.2f}"
          + (f"; {', '.join(later)} now stale" if later else "")
          + (f"; {len(result.exceptions)} exception(s)" if result.exceptions else ""), period=pstr, entity="period",
          entity_id=pstr, after={"reps": len(result.reps), "lines": count, "total": total,
                                 "exceptions": len(result.exceptions)}, at=now)
    return result


# The shapes in which a close stores its lines (in this process or from ``ledger.workers``):
# commission and override lines, almost all of a big month, leave out the columns that are
# constant for their kind; any other line goes whole (LINE_COLUMNS). The month is a constant too.
LINE_SHAPES: tuple[tuple[list[str], dict[str, str | None]], ...] = (
    (["rep_id", "seq", "amount", "deal_id", "credit", "rate", "multiplier", "tier", "rule", "explain", "role", "split_pct"],
     {"kind": "commission", "ref_period": None, "ref": None}),
    (["rep_id", "seq", "amount", "deal_id", "credit", "rate", "explain"],
     {"kind": "override", "rule": "override.rate", "multiplier": None, "tier": None, "ref_period": None, "ref": None,
      "role": None, "split_pct": None}),
    (LINE_COLUMNS, {}),
)


def shaped_line_rows(r: RepResult, pstr: str, null: object) -> tuple[list[tuple], list[tuple], list[tuple]]:
    """A rep's payout-line rows split by :data:`LINE_SHAPES` (commission, override, whole)."""
    money, text_ = cents_encoder(null), text_encoder(null)
    comm: list[tuple] = []
    over: list[tuple] = []
    other: list[tuple] = []
    for (rep_id, _p, seq, kind, amount, deal_id, credit, rate, mult, tier, rule, explain, ref_period, ref, role,
         split_pct) in r.lines:
        if kind == "commission" and ref_period is None and ref is None and deal_id and role:
            comm.append((rep_id, seq, money(amount), deal_id, money(credit), text_(rate), text_(mult),
                         null if tier is None else tier, rule, explain, role, text_(split_pct)))
        elif (kind == "override" and rule == "override.rate" and deal_id and mult is None and tier is None
              and ref_period is None and ref is None and role is None and split_pct is None):
            over.append((rep_id, seq, money(amount), deal_id, money(credit), text_(rate), explain))
        else:
            other.append((pstr, rep_id, seq, kind, money(amount), deal_id or null, money(credit), text_(rate), text_(mult),
                          null if tier is None else tier, rule, explain, ref_period or null, ref or null, role or null,
                          text_(split_pct)))
    return comm, over, other


def shaped_batches(reps: Iterable[RepResult], pstr: str, null: object, size: int = 20_000,
                   counts: list[tuple[int, int, int]] | None = None) -> Iterator[tuple[int, list[tuple]]]:
    """``(shape, rows)`` batches of about ``size`` rows of the reps' lines, in rep order within a
    shape. ``counts``, if given, receives each rep's (commission, override, whole) row counts."""
    batches: list[list[tuple]] = [[], [], []]
    for r in reps:
        shaped = shaped_line_rows(r, pstr, null)
        for shape, rows in enumerate(shaped):
            batch = batches[shape]
            batch.extend(rows)
            if len(batch) >= size:
                yield shape, batch
                batches[shape] = []  # the consumer may keep the batch it was given
        if counts is not None:
            counts.append((len(shaped[0]), len(shaped[1]), len(shaped[2])))
    for shape, batch in enumerate(batches):
        if batch:
            yield shape, batch


def store_shaped(session: Session, shape: int, rows: list[tuple], pstr: str) -> int:
    """Insert rows of one of :data:`LINE_SHAPES` into ``payout_lines``."""
    columns, constants = LINE_SHAPES[shape]
    if shape < 2:
        constants = {"period": pstr, **constants}
    return bulk_insert(session, "payout_lines", columns, rows, has_dates=False, nullable=NULLABLE_LINE_COLUMNS,
                       constants=constants)


def rep_period_rows(reps: Iterable[RepResult], pstr: str, null: object) -> Iterator[tuple]:
    """The ``rep_periods`` rows (:data:`REP_PERIOD_COLUMNS`) of a month's results; NULLs as ``null``."""
    money, text_ = cents_encoder(null), text_encoder(null)
    for r in reps:
        st = r.state
        yield (pstr, r.rep_id, r.plan_id, r.currency, r.measure, money(r.quota), money(r.credited), text_(r.attainment),
               money(r.ytd_quota), money(r.ytd_credited), null if r.tenure_month is None else r.tenure_month,
               money(r.payout), money(st.draw_balance), money(st.carry_balance), money(st.ytd_paid), st.ytd_year,
               st.ytd_plan or null, "\n".join(r.notes))


def lock_period(session: Session, period: Period, actor: str, *, allow_open_disputes: bool = False,
                accept_exceptions: str | None = None, now: datetime | None = None) -> PeriodRow:
    """Lock a calculated month: its lines never change again, and a seal is written.

    Refused, naming why, when the month is not calculated (open, or stale since its
    last run), an earlier month is not locked, a deal event of the month was recorded
    after its last run (the watermark moved), it has open disputes (unless
    ``allow_open_disputes``) or exceptions, i.e. credit that cannot be paid (unless
    ``accept_exceptions`` gives the reason, kept on the month and in the audit log).
    """
    now = now or utcnow()
    row = lock_period_row(session, period)
    pstr = str(period)
    if row.status == "locked":
        raise CompErrors(f"period {period} is already locked (by {row.locked_by} at {row.locked_at:%Y-%m-%d %H:%M})")
    if row.status == "stale":
        raise CompErrors(f"period {period} is stale: something it depends on changed since its last close run; "
                         f"run `compengine close run {period}` first")
    if row.status != "calculated":
        raise CompErrors(f"period {period} has not been calculated since its last change: run `compengine close run {period}` first")
    start = first_period(session)
    gap = session.scalar(select(PeriodRow.period).where(PeriodRow.period < pstr, PeriodRow.status != "locked",
                                                        PeriodRow.period >= str(start or ""))
                         .order_by(PeriodRow.period).limit(1))
    if gap is not None:
        raise CompErrors(f"period {gap} is not locked: lock months in order")
    if row.calc_watermark is not None:
        moved = session.scalar(
            select(func.count()).select_from(DealEvent).join(DealRow, DealRow.deal_id == DealEvent.deal_id)
            .where(DealEvent.id > row.calc_watermark,
                   or_(DealRow.close_period == pstr, and_(DealEvent.kind == "cancelled", DealEvent.effective >= period.start,
                                                          DealEvent.effective <= period.end)))) or 0
        if moved:
            raise CompErrors(f"period {period}: {moved} deal event(s) of the month were recorded after its last close run; "
                             f"run `compengine close run {period}` again")
    open_disputes = session.scalar(select(func.count()).select_from(DisputeRow)
                                   .where(DisputeRow.period == pstr, DisputeRow.status == "open")) or 0
    if open_disputes and not allow_open_disputes:
        raise CompErrors(f"period {period} has {open_disputes} open dispute(s): resolve them or lock with --allow-open-disputes")
    exceptions = json.loads(row.exceptions or "[]")
    accepted = (accept_exceptions or "").strip()
    if accept_exceptions is not None and not accepted:
        raise CompErrors("--accept-exceptions needs a reason")
    if exceptions and not accepted:
        raise CompErrors([f"{period}: exception: {e}" for e in exceptions],
                         headline=f"period {period} has {len(exceptions)} exception(s), credit that cannot be paid (listed "
                                  "above): fix the data and run the month again, or lock with --accept-exceptions REASON")
    row.status = "locked"
    row.last_event_id = session.scalar(select(func.max(DealEvent.id))) or 0
    row.locked_at = now
    row.locked_by = actor
    row.exceptions_accepted = accepted if exceptions else None
    audit(session, actor, "close.lock", f"{period} locked"
          + (f" with {open_disputes} open dispute(s) allowed" if open_disputes else "")
          + (f" with {len(exceptions)} exception(s) accepted: {accepted}" if exceptions else ""),
          period=pstr, entity="period", entity_id=pstr,
          after={"total": row.total_payout, "lines": row.line_count, "open_disputes_allowed": open_disputes,
                 "exceptions_accepted": {"reason": accepted, "exceptions": exceptions} if exceptions else None}, at=now)
    seal_period(session, period, actor, now)
    return row


def period_exceptions(session: Session, period: Period) -> tuple[list[str], str | None]:
    """The exceptions of a month's last close run, and the reason they were accepted at lock (if they were)."""
    row = session.get(PeriodRow, str(period))
    if row is None:
        return [], None
    return json.loads(row.exceptions or "[]"), row.exceptions_accepted


def stored_result(session: Session, period: Period, rep_ids: Iterable[str] = ()) -> tuple[PeriodResult, PeriodRow]:
    """A calculated, stale or locked month as its close run stored it, read-only: the same
    :class:`PeriodResult` that ``run_close`` returned (lines, measures, balances, exceptions)."""
    prow = session.get(PeriodRow, str(period))
    if prow is None or (prow.status == "open" and not prow.line_count):
        raise CompErrors(f"period {period} has not been calculated: run `compengine close run {period}` first")
    pstr = str(period)
    wanted = sorted(set(rep_ids))
    rq = select(RepPeriod).where(RepPeriod.period == pstr).order_by(RepPeriod.rep_id)
    lq = select(PayoutLineRow).where(PayoutLineRow.period == pstr).order_by(PayoutLineRow.rep_id, PayoutLineRow.seq)
    if wanted:
        rq, lq = rq.where(RepPeriod.rep_id.in_(wanted)), lq.where(PayoutLineRow.rep_id.in_(wanted))
    lines: dict[str, list] = defaultdict(list)
    for ln in session.scalars(lq):
        lines[ln.rep_id].append(Line(rep_id=ln.rep_id, period=ln.period, seq=ln.seq, kind=ln.kind, amount=ln.amount,
                                     deal_id=ln.deal_id, credit=ln.credit, rate=ln.rate, multiplier=ln.multiplier,
                                     tier=ln.tier, rule=ln.rule, explain=ln.explain, ref_period=ln.ref_period, ref=ln.ref,
                                     role=ln.role, split_pct=ln.split_pct))
    reps = []
    for rp in session.scalars(rq):
        rep_lines = lines.get(rp.rep_id, [])
        components = {k: ZERO for k in COMPONENTS}
        for ln in rep_lines:
            components[ln.kind] = components.get(ln.kind, ZERO) + ln.amount
        reps.append(RepResult(
            rep_id=rp.rep_id, plan_id=rp.plan_id, currency=rp.currency, measure=rp.measure, quota=rp.quota,
            credited=rp.credited, attainment=rp.attainment, ytd_quota=rp.ytd_quota, ytd_credited=rp.ytd_credited,
            tenure_month=rp.tenure_month, lines=rep_lines, components=components, payout=rp.payout,
            state=RepState(draw_balance=rp.draw_balance, carry_balance=rp.carry_balance, ytd_paid=rp.ytd_paid,
                           ytd_year=rp.ytd_year, ytd_plan=rp.ytd_plan),
            notes=rp.notes.split("\n") if rp.notes else []))
    return PeriodResult(pstr, reps, json.loads(prow.exceptions or "[]")), prow


def _with_late_changes(cancellations: list[Cancellation], late: list[Adjustment]) -> list[Cancellation]:
    """A deal corrected and cancelled in the same run: the clawback reverses the corrected earnings."""
    extra: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    for a in late:
        if a.deal_id:
            extra[(a.rep_id, a.deal_id)][0 if a.ref == LATE_COMMISSION else 1] += a.amount
    out = []
    for x in cancellations:
        comm, other = extra.get((x.rep_id, x.deal_id), (ZERO, ZERO))
        out.append(Cancellation(x.rep_id, x.deal_id, x.close_date, x.cancelled_on, x.commission + comm, x.other + other, x.period))
    return out


def _chunks(items: list, size: int):
    for i in range(0, len(items), size):
        yield items[i : i + size]
