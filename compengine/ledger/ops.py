"""Ledger operations besides import and close: adjustments, payout files, status, audit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.currency import amount_problem, format_money, minor_units, to_minor
from compengine.core.money import CONTEXT, MAX_AMOUNT, ZERO, json_money, money_str, shown
from compengine.core.outputs import write_csv_atomic
from compengine.core.periods import Period
from compengine.engine.records import COMPONENTS
from compengine.ledger.inputs import load_plans_for
from compengine.ledger.models import AdjustmentRow, AssignmentRow, AuditRow, DealRow, PayoutLineRow, PeriodRow, RepPeriod, RepRow
from compengine.ledger.store import audit, invalidate_from, lock_period_row, period_status, utcnow
from compengine.ledger.users import needs_approval


# How far past the latest month the ledger knows an adjustment may land: further is a typo
# (2062 for 2026), and every month in between would have to be closed first.
ADJUST_MONTHS_AHEAD = 12


def add_adjustment(session: Session, rep_id: str, period: Period, amount: Decimal, reason: str, actor: str, *,
                   deal_id: str | None = None, ref_period: str | None = None, dispute_id: int | None = None,
                   kind: str = "manual", counts_as_commission: bool = False, now: datetime | None = None) -> AdjustmentRow:
    """Record an adjustment for an open month (it becomes an ``adjustment`` line at the next close run).

    On a ledger with users, a manual adjustment above ``adjustment_approval_threshold`` is stored
    ``pending`` and reaches the close only once approved (:func:`compengine.ledger.users.approve_adjustment`).

    Refused: an unknown rep or deal, an amount of 0, of fractions of a cent or above
    :data:`~compengine.core.money.MAX_AMOUNT` either way, a locked month, a month before the
    ledger's first or more than :data:`ADJUST_MONTHS_AHEAD` months after its latest.
    """
    now = now or utcnow()
    if session.get(RepRow, rep_id) is None:
        raise CompErrors(f"unknown rep {rep_id!r}")
    if deal_id is not None and session.get(DealRow, deal_id) is None:
        raise CompErrors(f"unknown deal {deal_id!r}: import it first, or leave out the deal")
    if not reason.strip():
        raise CompErrors("an adjustment needs a reason")
    if amount == 0:
        raise CompErrors("an adjustment of 0.00 changes nothing")
    if abs(amount) > MAX_AMOUNT:
        raise CompErrors(f"amount {amount} is beyond the maximum amount {MAX_AMOUNT:,} (either way)")
    currency = payout_currency(session, rep_id, period)
    if problem := amount_problem(amount, currency):
        raise CompErrors(f"amount {problem}")  # finer than the rep's currency: cents, whole yen, fils for KWD
    first, last = session.execute(select(func.min(PeriodRow.period), func.max(PeriodRow.period))).one()
    if first is None:
        raise CompErrors("the ledger has no months yet: import data first")
    if str(period) < first:
        raise CompErrors(f"period {period} is before the ledger's first month {first}")
    latest = Period.parse(last)
    if period.index > latest.index + ADJUST_MONTHS_AHEAD:
        raise CompErrors(f"period {period} is more than {ADJUST_MONTHS_AHEAD} months after the ledger's latest month "
                         f"{latest}: adjust a month up to {Period.from_index(latest.index + ADJUST_MONTHS_AHEAD)}")
    if lock_period_row(session, period).status == "locked":  # read under the row lock: a racing lock is seen
        raise CompErrors(f"period {period} is locked: adjust the next open month instead")

    status = "pending" if needs_approval(session, amount, kind) else "approved"
    row = AdjustmentRow(rep_id=rep_id, period=str(period), amount=amount, reason=reason.strip(), kind=kind, deal_id=deal_id,
                        ref_period=ref_period, dispute_id=dispute_id, counts_as_commission=counts_as_commission,
                        created_at=now, created_by=actor, status=status)
    session.add(row)
    session.flush()
    audit(session, actor, "adjust", f"{shown(amount)} for {rep_id} in {period}: {reason.strip()}", period=str(period),
          rep_id=rep_id, entity="adjustment", entity_id=str(row.id), after={"amount": amount, "reason": reason, "deal_id": deal_id, "status": status}, at=now)
    invalidate_from(session, period, actor, f"adjustment {row.id} added")
    return row


def payout_currency(session: Session, rep_id: str, period: Period) -> str | None:
    """The currency ``rep_id`` is paid in for ``period``: the currency of the plan (the version in force on
    the month's last day) of the rep's assignment in force that day, or else of its latest assignment that
    starts before the month ends; None when the rep has no assignment (or its plan is not in the ledger)."""
    rows = session.scalars(select(AssignmentRow).where(AssignmentRow.rep_id == rep_id,
                                                       AssignmentRow.superseded_at.is_(None),
                                                       AssignmentRow.start <= period.end)
                           .order_by(AssignmentRow.start)).all()
    if not rows:
        return None
    in_force = [a for a in rows if a.end is None or a.end >= period.end]
    plan_id = (in_force or rows)[-1].plan_id
    plan = load_plans_for(session, period)[0].get(plan_id)
    return plan.currency if plan is not None else None


EXPORT_COLUMNS = ["rep_id", "name", "team", "period", "currency", "amount", *COMPONENTS, "status"]


@dataclass
class PayoutRow:
    rep_id: str
    name: str
    team: str
    period: str
    currency: str
    amount: Decimal
    components: dict[str, Decimal]


def payout_rows(session: Session, period: Period) -> list[PayoutRow]:
    """One row per rep for the month: net payout and components, from the stored lines."""
    comps: dict[str, dict[str, Decimal]] = defaultdict(lambda: {k: ZERO for k in COMPONENTS})
    for rep_id, kind, total in session.execute(
        select(PayoutLineRow.rep_id, PayoutLineRow.kind, func.sum(PayoutLineRow.amount))
        .where(PayoutLineRow.period == str(period)).group_by(PayoutLineRow.rep_id, PayoutLineRow.kind)
    ):
        comps[rep_id][kind] = total  # sum() keeps the Cents type: already a Decimal amount
    out = []
    for rep_id, name, team, currency, payout in session.execute(  # the columns, not the ORM objects (0.4 s a 10,000-rep month)
        select(RepPeriod.rep_id, RepRow.name, RepRow.team, RepPeriod.currency, RepPeriod.payout)
        .join(RepRow, RepRow.rep_id == RepPeriod.rep_id)
        .where(RepPeriod.period == str(period)).order_by(RepPeriod.rep_id)
    ):
        c = comps[rep_id]
        total = sum(c.values(), ZERO)
        if total != payout:
            raise CompErrors(f"ledger inconsistency: {rep_id} lines sum to {total} but the payout is {payout}")
        out.append(PayoutRow(rep_id, name, team, str(period), currency, payout, dict(c)))
    return out


@dataclass(frozen=True)
class PayoutExport:
    """What ``payouts export`` wrote: the rows, and the total per payout currency.

    Unpacks as ``(rows, total)`` where ``total`` is the one currency's total; a month paid in
    several currencies has no single total (read ``totals``)."""

    count: int
    totals: dict[str, Decimal]

    @property
    def total(self) -> Decimal:
        if len(self.totals) > 1:
            raise CompErrors(f"the payouts are in {len(self.totals)} currencies ({', '.join(self.totals)}): "
                             "there is no single total, read the totals per currency")
        return next(iter(self.totals.values()), ZERO)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter((self.count, self.total))

    def text(self) -> str:
        """``USD 3,613.20 (1 rep), JPY 149,501 (1 rep)``: each currency in its own minor units."""
        return ", ".join(f"{cur} {format_money(t, cur)}" for cur, t in self.totals.items()) or "nothing"


def amount_text(amount: Decimal, currency: str) -> str:
    """An amount as the payroll file writes it: plain digits with the currency's minor units (USD ``1234.50``,
    JPY ``1235``, KWD ``12.345``). Exact: an amount finer than its currency is refused, never rounded."""
    places = minor_units(currency)
    if places == 2:
        return money_str(amount)
    to_minor(amount, currency)  # refuses an amount finer than the currency
    return f"{amount.quantize(Decimal(1).scaleb(-places), context=CONTEXT):f}"


def export_payouts(session: Session, period: Period, out: Path, *, preliminary: bool = False,
                   actor: str = "compengine") -> PayoutExport:
    """Write the payroll file. Refuses an unlocked month unless ``preliminary``.

    One row per rep in the rep's payout currency (its plan's), with the currency column; amounts in
    the currency's minor units (:func:`amount_text`). Returns the rows and the totals per currency.

    Written atomically (an existing file is replaced), with the user's umask; text
    cells a spreadsheet would run as formulas are neutralised
    (:func:`compengine.core.outputs.csv_cell`), amounts stay numbers. Exporting a
    locked month records that it was paid out: it can no longer be reopened.
    """
    status = period_status(session, period)
    if status != "locked" and not preliminary:
        raise CompErrors(f"period {period} is not locked ({status}): lock it first, or pass --preliminary")
    if status == "open":
        raise CompErrors(f"period {period} has not been calculated: run `compengine close run {period}`")
    if status == "stale":
        raise CompErrors(f"period {period} is stale: something it depends on changed since its last close run; "
                         f"run `compengine close run {period}` first")
    rows = payout_rows(session, period)
    label = "locked" if status == "locked" else "PRELIMINARY"
    write_csv_atomic(out, EXPORT_COLUMNS, (
        [r.rep_id, r.name, r.team, r.period, r.currency, amount_text(r.amount, r.currency),
         *(amount_text(r.components[k], r.currency) for k in COMPONENTS), label]
        for r in rows
    ))
    if status == "locked":  # paid out: from now on the month cannot be reopened
        prow = session.get(PeriodRow, str(period))
        if prow.exported_at is None:
            prow.exported_at, prow.exported_by = utcnow(), actor
        audit(session, actor, "payouts.export", f"{period}: payout file {out} written ({len(rows)} reps)",
              period=str(period), entity="period", entity_id=str(period), after={"file": str(out), "reps": len(rows)})
    totals: dict[str, Decimal] = {}
    for r in sorted(rows, key=lambda r: r.currency):
        totals[r.currency] = totals.get(r.currency, ZERO) + r.amount
    return PayoutExport(len(rows), totals)


def status_rows(session: Session) -> list[dict]:
    reps = dict(session.execute(select(RepPeriod.period, func.count()).group_by(RepPeriod.period)).all())
    out = []
    for row in session.scalars(select(PeriodRow).order_by(PeriodRow.period)):
        out.append({
            "period": row.period,
            "status": row.status,
            "reps": reps.get(row.period, 0),
            "lines": row.line_count,
            "total_payout": json_money(row.total_payout) if row.total_payout is not None else None,
            "runs": row.runs,
            "calculated_at": row.calculated_at.isoformat(sep=" ") if row.calculated_at else None,
            "locked_at": row.locked_at.isoformat(sep=" ") if row.locked_at else None,
            "locked_by": row.locked_by,
        })
    return out


def audit_rows(session: Session, period: str | None = None, rep_id: str | None = None, limit: int | None = None) -> list[dict]:
    q = select(AuditRow).order_by(AuditRow.id)
    if period:
        q = q.where(AuditRow.period == period)
    if rep_id:
        q = q.where(AuditRow.rep_id == rep_id)
    rows = session.scalars(q).all()
    if limit:
        rows = rows[-limit:]
    return [
        {"id": a.id, "at": a.at.isoformat(sep=" "), "actor": a.actor, "action": a.action, "period": a.period,
         "rep_id": a.rep_id, "entity": a.entity, "entity_id": a.entity_id, "summary": a.summary,
         "before": a.before, "after": a.after}
        for a in rows
    ]
