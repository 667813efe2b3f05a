"""The monthly close: feed the pure engine from the ledger, store its lines, lock.

``run_close`` loads the month's inputs set-wise (deals and splits of the month,
earlier deals of the plan year for ``ytd`` plans, cancellations, adjustments,
balances carried from the previous month), recalculates locked months that had
late changes to derive correction lines, calls :func:`calculate_period`, and
replaces the month's lines. It is idempotent. ``lock_period`` freezes a month.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import datetime
from decimal import Decimal

from sqlalchemy import and_, func, literal_column, or_, select, update
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import ZERO, shown, signed
from compengine.core.periods import Period
from compengine.engine.pipeline import Cancellation, gc_paused
from compengine.engine.records import LATE_DRAW_RULE, Adjustment, PeriodResult
from compengine.ledger.codec import (
    LINE_SHAPES,
    NULLABLE_LINE_COLUMNS,
    NULLABLE_REP_PERIOD_COLUMNS,
    REP_PERIOD_COLUMNS,
    rep_period_rows,
    rep_result_of,
    stored_lines,
)
from compengine.ledger.disputes import correction_disputes
from compengine.ledger.executors import PARALLEL_MIN_CREDITS, CloseExecutor, as_executor, close_workers  # noqa: F401
from compengine.ledger.inputs import (  # noqa: F401 - the loaders are also read from here
    EARNED_KINDS,
    LATE_COMMISSION,
    LATE_OTHER,
    LedgerInputs,
    _chunks,
    load_inputs,
    load_plan_versions,
    load_plans_latest,
)
from compengine.ledger.history import fx_changes_after, last_fx_id, retro_changes_for
from compengine.ledger.models import (
    AdjustmentRow,
    DealEvent,
    DealRow,
    DisputeRow,
    PayoutLineRow,
    PeriodRow,
    RepPeriod,
    RetroChangeRow,
    SplitRow,
)
from compengine.ledger.seals import month_digest, seal_period
from compengine.ledger.start import first_period
from compengine.ledger.store import audit, bulk_insert, invalidate_from, lock_period_row, null_token, utcnow
from compengine.plans.model import Plan

Progress = Callable[[str], None]


# ------------------------------------------------------------------ late changes


LATE_DRAW = LATE_DRAW_RULE
# the lines a repricing compares, by part: 0 commission (counts toward the ytd tally), 1 other earnings, 2 draws
# (clawbacks are not compared: a cancellation recorded after its month was locked is clawed back
# in the first open month, by that month's own calculation)
PART_OF_KIND = {"commission": 0, "true_up": 0, "cap": 0, "spiff": 1, "bonus": 1, "override": 1, "draw": 2}
PART_OF_RULE = {LATE_COMMISSION: 0, LATE_OTHER: 1, LATE_DRAW: 2}
RULE_OF_PART = {0: LATE_COMMISSION, 1: LATE_OTHER, 2: LATE_DRAW}
WHAT_OF_KIND = {"true_up": "true-up", "cap": "cap", "draw": "draw", "clawback": "clawback"}


def late_change_adjustments(session: Session, period: Period, plans_now: dict[str, Plan]) -> list[Adjustment]:
    """Reprice locked months that changed after their lock; pay the differences now.

    A locked month is repriced when deal events of it were recorded after the lock (late
    amendments, cancellations in the close month, split changes, late new deals) or a
    change imported with ``--retroactive`` reaches it. It is recalculated with the master
    data and plan versions in force in it (forward changes never alter those; retroactive
    ones do, on purpose) and the balances it was locked with. The differences per rep and
    deal (commission, SPIFFs and overrides, clawbacks) and per rep (true-ups, cap, draws)
    become adjustment lines that name the cause and the month. A line that pays a dispute
    approved by correction names it.
    """
    out: list[Adjustment] = []
    disputed = correction_disputes(session, period)
    locked = session.execute(
        select(PeriodRow.period, PeriodRow.last_event_id, PeriodRow.last_retro_id, PeriodRow.last_fx_id)
        .where(PeriodRow.status == "locked", PeriodRow.period < str(period)).order_by(PeriodRow.period)
    ).all()
    for lperiod, last_event_id, last_retro_id, seen_fx_id in locked:
        changed = session.execute(
            select(DealEvent.deal_id, DealEvent.kind, DealEvent.amount, DealEvent.effective)
            .join(DealRow, DealRow.deal_id == DealEvent.deal_id)
            .where(DealRow.close_period == lperiod, DealEvent.id > (last_event_id or 0),
                   DealEvent.kind.in_(("won", "amended", "splits_changed", "cancelled")))
            .order_by(DealEvent.id)
        ).all()
        what = {}
        for deal_id, kind, amount, effective in changed:
            if kind == "cancelled":
                if effective is None or str(Period.of(effective)) != lperiod:
                    continue  # cancelled in a later month: a clawback, not a recalculation
                what[deal_id] = f"cancelled on {effective} in its close month"
            elif kind == "won":
                what[deal_id] = f"late deal closed {effective}, {shown(amount)}"
            elif deal_id not in what or not what[deal_id].startswith("late deal"):
                what[deal_id] = f"amended to {shown(amount)}" if kind == "amended" else "splits changed"
        retro = retro_changes_for(session, lperiod, last_retro_id or 0)
        lp = Period.parse(lperiod)
        # exchange rates recorded after the lock that can be in force in the month (a month locked before
        # migration 0008 saw none: NULL is 0)
        fx = fx_changes_after(session, lp, seen_fx_id or 0)
        if fx:  # a rate reaches the month only through a conversion: a deal in another currency than a plan's
            used = set(session.scalars(select(DealRow.currency).distinct().where(  # the year's: ytd plans read them
                DealRow.close_period >= str(lp.year_start()), DealRow.close_period <= lperiod)))
            used |= set(session.scalars(select(RepPeriod.currency).where(RepPeriod.period == lperiod).distinct()))
            fx = [c for c in fx if len(used) > 1 and (c.from_ccy in used or c.to_ccy in used)]
        if not what and not retro and not fx:
            continue
        causes = []
        if retro:
            causes.append("; ".join(r.description for r in retro) + " (retroactive import)")
        if fx:
            causes.append("exchange rate " + "; ".join(map(str, fx)) + " recorded after the lock")
        retro_cause = "; ".join(causes)
        keep: set[str] | None = None
        if retro or fx:  # the master data and plan versions in force in the month; a rate reaches any deal
            inputs = load_inputs(session, lp)
        else:  # deal changes reach only the deals' receivers, before and after, and their managers
            affected = _receivers(session, lperiod, set(what)) | _current_receivers(session, set(what))
            inputs = load_inputs(session, lp, rep_ids=affected)
            keep = inputs.restrict_to(affected)
        shadow = inputs.calculate()
        now_paid: dict[tuple[str, str | None, int], Decimal] = defaultdict(lambda: ZERO)
        for r in shadow.reps:
            for ln in r.lines:
                part = PART_OF_KIND.get(ln.kind)
                if part is not None:
                    now_paid[(ln.rep_id, ln.deal_id if part != 2 else None, part)] += ln.amount
        was_paid: dict[tuple[str, str | None, int], Decimal] = defaultdict(lambda: ZERO)
        for rep_id, deal_id, kind, amount in session.execute(
            select(PayoutLineRow.rep_id, PayoutLineRow.deal_id, PayoutLineRow.kind, PayoutLineRow.amount)
            .where(PayoutLineRow.period == lperiod, PayoutLineRow.kind.in_(list(PART_OF_KIND)))
        ):
            if keep is not None and rep_id not in keep:
                continue
            part = PART_OF_KIND[kind]
            was_paid[(rep_id, deal_id if part != 2 else None, part)] += amount
        # corrections already made by earlier months' runs (months close in order, and rerunning a
        # month invalidates the later ones, so every earlier month's lines are current)
        for rep_id, deal_id, rule, amount in session.execute(
            select(PayoutLineRow.rep_id, PayoutLineRow.deal_id, PayoutLineRow.rule, PayoutLineRow.amount)
            .where(PayoutLineRow.ref_period == lperiod, PayoutLineRow.kind == literal_column("'adjustment'"),
                   PayoutLineRow.rule.in_(list(PART_OF_RULE)), PayoutLineRow.period < str(period))
        ):
            if keep is not None and rep_id not in keep:
                continue
            was_paid[(rep_id, deal_id, PART_OF_RULE[rule])] += amount
        ytd_same_year = {
            r.rep_id for r in shadow.reps if r.measure == "ytd" and lp.year == period.year
        }
        # a deal already clawed back is settled (its clawback lines name this month as where it was paid):
        # a late correction or a retroactive repricing of it pays nothing (what it would pay would be
        # clawed back at once); its effect on other deals' bands still counts
        dead = set(session.execute(select(PayoutLineRow.rep_id, PayoutLineRow.deal_id).where(
            PayoutLineRow.kind == literal_column("'clawback'"), PayoutLineRow.ref_period == lperiod,
            PayoutLineRow.period < str(period))).all())
        for key in sorted(set(now_paid) | set(was_paid), key=lambda k: (k[0], k[1] or "", k[2])):
            rep_id, deal_id, part = key
            diff = now_paid[key] - was_paid[key]
            if diff == 0:
                continue
            if part == 0 and rep_id in ytd_same_year:
                continue  # the ytd true-up of this month already re-measures the year with the change
            if deal_id is not None and (rep_id, deal_id) in dead:
                continue
            if deal_id in what:
                label = "commission" if part == 0 else "SPIFF/override"
                reason = (f"Late change: {deal_id} ({what[deal_id]}) recalculated for {lperiod}: {label} "
                          f"{shown(now_paid[key])}, was {shown(was_paid[key])}")
            else:
                cause = retro_cause or f"changes to {', '.join(sorted(what))}"
                if deal_id is not None:
                    effect = (f"{deal_id} {'repriced' if fx else 're-banded'} in {lperiod}" if part == 0
                              else f"{deal_id} in {lperiod}")
                else:
                    kinds = sorted({WHAT_OF_KIND.get(ln.kind, ln.kind) for r in shadow.reps if r.rep_id == rep_id
                                    for ln in r.lines if PART_OF_KIND.get(ln.kind) == part and ln.deal_id is None})
                    effect = f"{' and '.join(kinds) or ('draw' if part == 2 else 'true-up and cap')} for {lperiod}"
                reason = f"{cause}: {effect} {signed(diff)} (now {shown(now_paid[key])}, was {shown(was_paid[key])})"
            ids = sorted(disputed.get((rep_id, deal_id, lperiod), []) + disputed.get((rep_id, None, lperiod), []))
            if ids:
                reason += f"; pays dispute {', '.join(map(str, ids))} (approved by correction)"
            out.append(Adjustment(rep_id, diff, reason, "adjustment", deal_id, lperiod, RULE_OF_PART[part],
                                  counts_as_commission=part == 0))
    return out


def _current_receivers(session: Session, deal_ids: set[str]) -> set[str]:
    """Who the deals credit now: their owners and the reps of their current splits."""
    out: set[str] = set()
    for chunk in _chunks(sorted(deal_ids), 500):
        out.update(session.scalars(select(DealRow.owner_id).where(DealRow.deal_id.in_(chunk))))
        out.update(session.scalars(select(SplitRow.rep_id).where(SplitRow.deal_id.in_(chunk),
                                                                 SplitRow.superseded_at.is_(None))))
    return out


def _receivers(session: Session, lperiod: str, deal_ids: set[str]) -> set[str]:
    """Who was paid on these deals in a month (their lines, and corrections of it made since)."""
    out: set[str] = set()
    for chunk in _chunks(sorted(deal_ids), 500):
        out.update(session.scalars(select(PayoutLineRow.rep_id).where(
            PayoutLineRow.period == lperiod, PayoutLineRow.deal_id.in_(chunk)).distinct()))
        out.update(session.scalars(select(PayoutLineRow.rep_id).where(
            PayoutLineRow.kind == literal_column("'adjustment'"), PayoutLineRow.ref_period == lperiod,
            PayoutLineRow.deal_id.in_(chunk)).distinct()))
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


@gc_paused()
def run_close(session: Session, period: Period, actor: str, *, now: datetime | None = None,
              progress: Progress | None = None, workers: int | None = None,
              executor: CloseExecutor | str | None = None) -> PeriodResult:
    """Calculate a month and store its lines (replacing the month's previous run).

    A big month is calculated in worker processes while this one stores their lines
    (``workers``: see :func:`close_workers` and ``ledger.workers``), or on a Dask cluster
    (``executor``, a spec or a :class:`~compengine.ledger.executors.CloseExecutor`; default
    ``COMPENGINE_CLOSE_EXECUTOR``, else ``local``); the lines are the same.
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
    ex, own = as_executor(executor)
    try:
        return _run_close(session, period, actor, row, now, say, workers, ex)
    finally:
        if own:
            ex.close()


def _run_close(session: Session, period: Period, actor: str, row: PeriodRow, now: datetime, say: Progress,
               workers: int | None, ex: CloseExecutor) -> PeriodResult:
    pstr = str(period)
    # Months after this one that are calculated depend on its results: if this run changes
    # nothing they read, they stay as they are (compared through the seal's ``month_digest``).
    later_calculated = session.scalar(select(func.count()).select_from(PeriodRow).where(
        PeriodRow.period > pstr, PeriodRow.status == "calculated")) or 0
    old_digest = month_digest(session, period).lines_digest if later_calculated and row.line_count else None
    say("loading inputs")
    watermark = session.scalar(select(func.max(DealEvent.id))) or 0
    fx_seen = last_fx_id(session)  # the exchange rates this run prices with (periods.last_fx_id)
    # a distributed close loads no credits here: each worker reads its partition's
    inputs = load_inputs(session, period, reading=() if ex.distributed else None)
    say("recalculating late changes")
    late = late_change_adjustments(session, period, inputs.plans)
    inputs.adjustments = late + inputs.adjustments
    if late:
        inputs.cancellations = _with_late_changes(session, period, inputs.cancellations, late)
    conn = session.connection()
    conn.execute(PayoutLineRow.__table__.delete().where(PayoutLineRow.__table__.c.period == pstr))
    conn.execute(RepPeriod.__table__.delete().where(RepPeriod.__table__.c.period == pstr))
    null = null_token(session)
    result, count = ex.calculate_and_store(session, inputs, pstr, null,
                                           lambda shape, rows: store_shaped(session, shape, rows, pstr), say, workers)
    bulk_insert(session, "rep_periods", REP_PERIOD_COLUMNS, rep_period_rows(result.reps, pstr, null), has_dates=False,
                nullable=NULLABLE_REP_PERIOD_COLUMNS)
    total = result.total_payout
    new_digest = month_digest(session, period).lines_digest if later_calculated else None
    session.execute(
        update(PeriodRow).where(PeriodRow.period == pstr).values(
            status="calculated", calculated_at=now, runs=PeriodRow.runs + 1, calc_watermark=watermark,
            results_digest=new_digest, exceptions=json.dumps(result.exceptions), exceptions_accepted=None,
            plan_versions=json.dumps(inputs.plan_version_ids, sort_keys=True), total_payout=total, line_count=count,
            last_fx_id=fx_seen)
    )
    session.expire(row)
    later: list[str] = []
    if later_calculated and new_digest != old_digest:
        later = invalidate_from(session, period.next(), actor, f"{period} was recalculated with different results")
    if later:
        result.notices.append(f"{', '.join(later)} now stale: {period} was recalculated with different results; "
                              "run them again")
    audit(session, actor, "close.run", f"{period}: {len(result.reps)} reps, {count} lines, total {shown(total)}"
          + (f"; {', '.join(later)} now stale" if later else "")
          + (f"; {len(result.exceptions)} exception(s)" if result.exceptions else ""), period=pstr, entity="period",
          entity_id=pstr, after={"reps": len(result.reps), "lines": count, "total": total,
                                 "exceptions": len(result.exceptions)}, at=now)
    return result


def store_shaped(session: Session, shape: int, rows: list[tuple], pstr: str) -> int:
    """Insert rows of one of :data:`codec.LINE_SHAPES` into ``payout_lines``."""
    spec = LINE_SHAPES[shape]
    return bulk_insert(session, "payout_lines", spec.columns, rows, has_dates=False, nullable=NULLABLE_LINE_COLUMNS,
                       constants=spec.insert_constants(pstr))


def lock_period(session: Session, period: Period, actor: str, *, allow_open_disputes: bool = False,
                accept_exceptions: str | None = None, allow_pending_adjustments: bool = False,
                now: datetime | None = None) -> PeriodRow:
    """Lock a calculated month: its lines never change again, and a seal is written.

    Refused, naming why, when the month is not calculated (open, or stale since its
    last run), an earlier month is not locked, a deal event of the month was recorded
    after its last run (the watermark moved), it has open disputes (unless
    ``allow_open_disputes``), adjustments awaiting a second approval (unless
    ``allow_pending_adjustments``: approved later, they are paid in the first open month) or
    exceptions, i.e. credit that cannot be paid (unless ``accept_exceptions`` gives the reason,
    kept on the month and in the audit log).
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
    pending = list(session.scalars(select(AdjustmentRow.id).where(AdjustmentRow.period == pstr,
                                                                  AdjustmentRow.status == "pending")
                                   .order_by(AdjustmentRow.id)))
    if pending and not allow_pending_adjustments:
        raise CompErrors(f"period {period} has {len(pending)} adjustment(s) awaiting approval "
                         f"({', '.join(map(str, pending))}): have them approved, or lock with "
                         "--allow-pending-adjustments (approved later, they are paid in the first open month)")
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
    row.last_retro_id = session.scalar(select(func.max(RetroChangeRow.id))) or 0
    row.last_fx_id = last_fx_id(session)  # a rate imported since the run made the month stale: the run saw these
    row.locked_at = now
    row.locked_by = actor
    row.exceptions_accepted = accepted if exceptions else None
    audit(session, actor, "close.lock", f"{period} locked"
          + (f" with {open_disputes} open dispute(s) allowed" if open_disputes else "")
          + (f" with pending adjustment(s) {', '.join(map(str, pending))} left for a later month" if pending else "")
          + (f" with {len(exceptions)} exception(s) accepted: {accepted}" if exceptions else ""),
          period=pstr, entity="period", entity_id=pstr,
          after={"total": row.total_payout, "lines": row.line_count, "open_disputes_allowed": open_disputes,
                 "exceptions_accepted": {"reason": accepted, "exceptions": exceptions} if exceptions else None,
                 "pending_adjustments": pending}, at=now)
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
    if wanted:
        rq = rq.where(RepPeriod.rep_id.in_(wanted))
    lines = stored_lines(session, pstr, wanted)
    reps = [rep_result_of(rp, lines.get(rp.rep_id, [])) for rp in session.scalars(rq)]
    return PeriodResult(pstr, reps, json.loads(prow.exceptions or "[]")), prow


def _with_late_changes(session: Session, period: Period, cancellations: list[Cancellation],
                       late: list[Adjustment]) -> list[Cancellation]:
    """A deal corrected and cancelled in the same run: the clawback reverses the corrected earnings.

    A late deal (or a late correction) whose deal was cancelled by the end of this month, in a later
    month than it closed, and is not clawed back yet, is reversed here too, even when nothing was
    paid on it before (a late deal has no lines of its own month to reverse)."""
    extra: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [ZERO, ZERO])
    ref_of: dict[tuple[str, str], str] = {}
    for a in late:
        if a.deal_id and a.ref in (LATE_COMMISSION, LATE_OTHER):
            extra[(a.rep_id, a.deal_id)][0 if a.ref == LATE_COMMISSION else 1] += a.amount
            ref_of[(a.rep_id, a.deal_id)] = a.ref_period or str(period)
    out = []
    seen: set[tuple[str, str]] = set()
    for x in cancellations:
        comm, other = extra.get((x.rep_id, x.deal_id), (ZERO, ZERO))
        seen.add((x.rep_id, x.deal_id))
        out.append(Cancellation(x.rep_id, x.deal_id, x.close_date, x.cancelled_on, x.commission + comm, x.other + other, x.period))
    rest = sorted(k for k in extra if k not in seen)
    if rest:
        ids = sorted({d for _, d in rest})
        cancelled = {}
        for chunk in _chunks(ids, 500):
            for deal_id, close_date, cancelled_on in session.execute(
                select(DealRow.deal_id, DealRow.close_date, DealRow.cancelled_on).where(
                    DealRow.deal_id.in_(chunk), DealRow.cancelled_on.is_not(None),
                    DealRow.cancelled_on <= period.end)):
                if Period.of(cancelled_on) != Period.of(close_date):  # cancelled in its close month: repriced away
                    cancelled[deal_id] = (close_date, cancelled_on)
        clawed = _clawed_back(session, period, set(cancelled))
        for rep_id, deal_id in rest:
            if deal_id in cancelled and (rep_id, deal_id) not in clawed:
                close_date, cancelled_on = cancelled[deal_id]
                comm, other = extra[(rep_id, deal_id)]
                out.append(Cancellation(rep_id, deal_id, close_date, cancelled_on, comm, other, ref_of[(rep_id, deal_id)]))
    return out


def _clawed_back(session: Session, before: Period, deal_ids: set[str]) -> set[tuple[str, str]]:
    """(rep, deal) pairs with a clawback line in a month before ``before``."""
    out: set[tuple[str, str]] = set()
    for chunk in _chunks(sorted(deal_ids), 500):
        out.update(session.execute(select(PayoutLineRow.rep_id, PayoutLineRow.deal_id).where(
            PayoutLineRow.kind == literal_column("'clawback'"), PayoutLineRow.deal_id.in_(chunk),
            PayoutLineRow.period < str(before))).all())
    return out

