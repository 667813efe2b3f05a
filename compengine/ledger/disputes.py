"""Disputes: a rep's disagreement with a month, resolved on the record.

Inputs: a session owned by the caller, the rep, the month, the deal (optional)
and the actor. Outputs: ``disputes`` rows and their append-only
``dispute_events`` (opened, comment, approved, rejected), one audit entry per
step, and, when a dispute is approved, the money:

* **approved with an amount**: an adjustment (kind ``dispute``) in the dispute's
  month if it is still open, else in the next open month; at the next close run
  it becomes an ``adjustment`` line whose ``ref`` and rule are ``dispute:ID``.
* **approved by correction**: the data was corrected first (a split fixed, a
  deal added, imported with ``compengine import``). No adjustment is typed in:
  the recalculated difference is the resolved amount. The money flows the way
  every data change does, so it is never paid twice: an unlocked month's own
  lines change at its next close run; a locked month's difference comes as the
  late-change lines of the next open month (``close.late_change_adjustments``),
  whose explain text names the dispute.

The difference of a correction is *recalculated now* minus *what the ledger
said when the dispute was opened* (the baseline, kept in the ``dispute.open``
audit entry): for a locked month its stored lines plus the late-change lines of
locked months; for a calculated month its stored lines; for an uncalculated
month a recalculation with the data of that moment. Only lines earned on deals
count (commission, SPIFFs, overrides), for the dispute's rep and, if given, deal.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.currency import amount_problem
from compengine.core.money import ZERO, json_money, shown
from compengine.core.periods import Period, as_period
from compengine.ledger.inputs import EARNED_KINDS, LATE_COMMISSION, LATE_OTHER, load_inputs
from compengine.ledger.models import (
    AuditRow,
    DealEvent,
    DealRow,
    DisputeEvent,
    DisputeRow,
    PayoutLineRow,
    PeriodRow,
    RepRow,
)
from compengine.ledger.ops import add_adjustment, payout_currency
from compengine.ledger.store import audit, first_open_period, period_status, utcnow
from compengine.ledger.users import has_users

STATUSES = ("open", "approved", "rejected")
LATE_RULES = (LATE_COMMISSION, LATE_OTHER)

# what a rep earned on each deal in a month: deal_id -> [commission, SPIFFs and overrides]
Earned = dict[str, list[Decimal]]


@dataclass
class Resolution:
    """What resolving did: the dispute row, where the money lands and how much."""

    dispute: DisputeRow
    how: str  # amount | correction | rejected
    amount: Decimal | None = None  # the adjustment, or the recalculated difference
    lands_in: str | None = None  # the month whose close run pays it
    adjustment_id: int | None = None
    changes: list[str] = field(default_factory=list)  # per deal: "D5 commission 0.00 -> 1,200.00"

    def text(self) -> str:
        d = self.dispute
        if self.how == "rejected":
            return f"dispute {d.id} rejected"
        if self.how == "amount":
            return (f"dispute {d.id} approved: {shown(self.amount)} for {d.rep_id} as adjustment {self.adjustment_id} "
                    f"in {self.lands_in}; run `compengine close run {self.lands_in}` to include it")
        where = (f"the late-change lines of {self.lands_in}" if self.lands_in != d.period
                 else f"the recalculated lines of {d.period}")
        out = (f"dispute {d.id} approved by correction: recalculated difference {shown(self.amount)} for {d.rep_id} in "
               f"{d.period}, paid through {where}; run `compengine close run {self.lands_in}` to include it")
        return out + "".join(f"\n  {c}" for c in self.changes)


# ------------------------------------------------------------------ reading


def get_dispute(session: Session, dispute_id: int, *, for_update: bool = False) -> DisputeRow:
    row = session.get(DisputeRow, dispute_id, with_for_update=for_update, populate_existing=for_update)
    if row is None:
        raise CompErrors(f"no dispute {dispute_id}")
    return row


def list_disputes(session: Session, status: str | None = None, rep_id: str | None = None,
                  period: Period | str | None = None) -> list[DisputeRow]:
    """Disputes in id order, optionally only one status, rep or month."""
    q = select(DisputeRow).order_by(DisputeRow.id)
    if status is not None:
        if status not in STATUSES:
            raise CompErrors(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
        q = q.where(DisputeRow.status == status)
    if rep_id is not None:
        q = q.where(DisputeRow.rep_id == rep_id)
    if period is not None:
        q = q.where(DisputeRow.period == str(as_period(period)))
    return list(session.scalars(q))


def dispute_history(session: Session, dispute_id: int) -> list[DisputeEvent]:
    return list(session.scalars(select(DisputeEvent).where(DisputeEvent.dispute_id == dispute_id).order_by(DisputeEvent.id)))


def show_dispute(session: Session, dispute_id: int) -> tuple[DisputeRow, list[DisputeEvent]]:
    """The dispute and its history (opened, comments, resolution), oldest first."""
    row = get_dispute(session, dispute_id)
    return row, dispute_history(session, dispute_id)


def resolution_kind(row: DisputeRow) -> str | None:
    """``amount``, ``correction`` or ``rejected`` once resolved; None while open."""
    if row.status == "open":
        return None
    if row.status == "rejected":
        return "rejected"
    return "amount" if row.adjustment_id is not None else "correction"


def dispute_dict(row: DisputeRow, events: list[DisputeEvent] | None = None) -> dict:
    """Plain JSON-ready values (amounts as two-place strings)."""
    out = {
        "id": row.id,
        "rep_id": row.rep_id,
        "period": row.period,
        "deal_id": row.deal_id,
        "status": row.status,
        "amount": json_money(row.amount) if row.amount is not None else None,
        "reason": row.reason,
        "resolution": row.resolution,
        "resolved_by_how": resolution_kind(row),
        "resolved_amount": json_money(row.resolved_amount) if row.resolved_amount is not None else None,
        "adjustment_id": row.adjustment_id,
        "opened_at": row.opened_at.isoformat(sep=" "),
        "opened_by": row.opened_by,
        "resolved_at": row.resolved_at.isoformat(sep=" ") if row.resolved_at else None,
        "resolved_by": row.resolved_by,
    }
    if events is not None:
        out["history"] = [{"at": e.at.isoformat(sep=" "), "actor": e.actor, "action": e.action, "text": e.text}
                          for e in events]
    return out


# ------------------------------------------------------------------ changing


def open_dispute(session: Session, rep_id: str, period: Period | str, reason: str, actor: str, *,
                 deal_id: str | None = None, amount: Decimal | None = None, now: datetime | None = None) -> DisputeRow:
    """Open a dispute (status ``open``). The month may be locked: that is when most disputes come."""
    now = now or utcnow()
    p = as_period(period)
    errors = []
    rep_known, period_known = session.get(RepRow, rep_id) is not None, session.get(PeriodRow, str(p)) is not None
    if not rep_known:
        errors.append(f"unknown rep {rep_id!r}")
    if deal_id is not None and session.get(DealRow, deal_id) is None:
        errors.append(f"unknown deal {deal_id!r}: import it first, or open the dispute without --deal")
    if not period_known:
        errors.append(f"period {p} is not in the ledger")
    if not reason.strip():
        errors.append("a dispute needs a reason")
    if amount is not None:
        currency = payout_currency(session, rep_id, p) if rep_known and period_known else None
        if problem := _amount_problem(amount, "the amount claimed", currency):
            errors.append(problem)
    if errors:
        raise CompErrors(errors)
    baseline, source = _baseline(session, p, rep_id, deal_id)
    row = DisputeRow(rep_id=rep_id, period=str(p), deal_id=deal_id, reason=reason.strip(), amount=amount, status="open",
                     opened_at=now, opened_by=actor)
    session.add(row)
    session.flush()
    claim = f", claims {shown(amount)}" if amount is not None else ""
    _event(session, row, now, actor, "opened", reason.strip() + claim)
    audit(session, actor, "dispute.open",
          f"dispute {row.id} opened for {rep_id} in {p}" + (f" on {deal_id}" if deal_id else "") + f"{claim}: {reason.strip()}",
          period=str(p), rep_id=rep_id, entity="dispute", entity_id=str(row.id),
          after={"deal_id": deal_id, "amount": amount, "reason": reason.strip(), "status": "open",
                 "baseline": {"source": source, "earned": {k: [json_money(v[0]), json_money(v[1])] for k, v in baseline.items()}}},
          at=now)
    return row


def comment(session: Session, dispute_id: int, text: str, actor: str, *, now: datetime | None = None) -> DisputeEvent:
    """Add a comment to a dispute's history (also once it is resolved)."""
    now = now or utcnow()
    row = get_dispute(session, dispute_id)
    if not text.strip():
        raise CompErrors("a comment needs some text")
    ev = _event(session, row, now, actor, "comment", text.strip())
    audit(session, actor, "dispute.comment", f"dispute {row.id}: {text.strip()}", period=row.period, rep_id=row.rep_id,
          entity="dispute", entity_id=str(row.id), after={"comment": text.strip()}, at=now)
    return ev


def resolve(session: Session, dispute_id: int, actor: str, approve: bool, note: str, *, amount: Decimal | None = None,
            by_correction: bool = False, now: datetime | None = None) -> Resolution:
    """Approve (with an amount, or by correction of the data) or reject an open dispute."""
    now = now or utcnow()
    row = get_dispute(session, dispute_id, for_update=True)  # re-read under a row lock: approve pays once
    if row.status != "open":
        raise CompErrors(f"dispute {row.id} is already {row.status} (by {row.resolved_by} at {row.resolved_at:%Y-%m-%d %H:%M}); "
                         "open a new dispute to take it further")
    if not note.strip():
        raise CompErrors("a resolution needs a note")
    if row.opened_by == actor:
    
        if has_users(session):  # separation of duties, once the ledger has users (ledger.users)
            raise CompErrors(f"dispute {row.id} was opened by {actor}: another ops or finance user must resolve it")
    note = note.strip()
    before = {"status": row.status}
    if not approve:
        if amount is not None or by_correction:
            raise CompErrors("a rejection takes no amount and no correction")
        row.status, row.resolution, row.resolved_at, row.resolved_by = "rejected", f"Rejected: {note}", now, actor
        _event(session, row, now, actor, "rejected", note)
        audit(session, actor, "dispute.reject", f"dispute {row.id} rejected: {note}", period=row.period, rep_id=row.rep_id,
              entity="dispute", entity_id=str(row.id), before=before, after={"status": "rejected", "note": note}, at=now)
        return Resolution(row, "rejected")
    if (amount is None) == (not by_correction):
        raise CompErrors("approve with an amount or by correction (exactly one of them)")
    p = Period.parse(row.period)
    if amount is not None:
        return _approve_amount(session, row, p, amount, note, actor, now, before)
    return _approve_correction(session, row, p, note, actor, now, before)


def _approve_amount(session: Session, row: DisputeRow, p: Period, amount: Decimal, note: str, actor: str,
                    now: datetime, before: dict) -> Resolution:
    if problem := _amount_problem(amount, "the approved amount", payout_currency(session, row.rep_id, p)):
        raise CompErrors(problem)
    lands = first_open_period(session, p)
    adj = add_adjustment(session, row.rep_id, lands, amount, f"Dispute {row.id} approved: {note}", actor,
                         deal_id=row.deal_id, ref_period=row.period, dispute_id=row.id, kind="dispute", now=now)
    row.status, row.resolved_amount, row.adjustment_id = "approved", amount, adj.id
    row.resolution = f"Approved {shown(amount)}, paid in {lands}: {note}"
    row.resolved_at, row.resolved_by = now, actor
    _event(session, row, now, actor, "approved", f"{shown(amount)} as adjustment {adj.id} in {lands}: {note}")
    audit(session, actor, "dispute.approve", f"dispute {row.id} approved: {shown(amount)} for {row.rep_id} in {lands}: {note}",
          period=row.period, rep_id=row.rep_id, entity="dispute", entity_id=str(row.id), before=before,
          after={"status": "approved", "how": "amount", "amount": amount, "adjustment_id": adj.id, "lands_in": str(lands),
                 "note": note}, at=now)
    return Resolution(row, "amount", amount, str(lands), adj.id)


def _approve_correction(session: Session, row: DisputeRow, p: Period, note: str, actor: str, now: datetime,
                        before: dict) -> Resolution:
    baseline = _stored_baseline(session, row)
    current = _recalculated(session, p, row.rep_id, row.deal_id)
    changes: list[str] = []
    diff = ZERO
    for deal_id in sorted(set(baseline) | set(current)):
        was = baseline.get(deal_id, [ZERO, ZERO])
        now_ = current.get(deal_id, [ZERO, ZERO])
        for part, label in ((0, "commission"), (1, "SPIFFs/overrides")):
            if now_[part] != was[part]:
                changes.append(f"{deal_id} {label} {shown(was[part])} -> {shown(now_[part])}")
                diff += now_[part] - was[part]
    scope = f"{row.rep_id}" + (f" on {row.deal_id}" if row.deal_id else "") + f" in {p}"
    if not changes:
        raise CompErrors(f"the correction changes nothing for {scope}: import the corrected data first "
                         "(or approve with --amount)")
    lands = first_open_period(session, p)
    if lands != p and not _changed_since_lock(session, p):
        raise CompErrors(f"{p} is locked and none of its deals changed since: a locked month is recalculated only "
                         "for amended, re-split or cancelled deals, so this difference would never be paid; "
                         "approve with --amount instead")
    where = f"late-change lines of {lands}" if lands != p else f"recalculated lines of {p}"
    row.status, row.resolved_amount, row.adjustment_id = "approved", diff, None
    row.resolution = f"Approved by correction: recalculated difference {shown(diff)}, paid in the {where}: {note}"
    row.resolved_at, row.resolved_by = now, actor
    _event(session, row, now, actor, "approved", f"by correction, recalculated difference {shown(diff)} "
           f"({'; '.join(changes)}), paid in the {where}: {note}")
    audit(session, actor, "dispute.approve", f"dispute {row.id} approved by correction: {shown(diff)} for {scope}: {note}",
          period=row.period, rep_id=row.rep_id, entity="dispute", entity_id=str(row.id), before=before,
          after={"status": "approved", "how": "correction", "amount": diff, "lands_in": str(lands), "changes": changes,
                 "note": note}, at=now)
    return Resolution(row, "correction", diff, str(lands), None, changes)


def correction_disputes(session: Session, period: Period) -> dict[tuple[str, str | None, str], list[int]]:
    """Disputes approved by correction whose money the close run of ``period`` pays as late-change lines.

    Keyed by (rep, deal or None for the whole rep, disputed month). A correction
    lands in the first month that was not locked when it was approved: so it
    belongs to ``period`` when every earlier locked month was locked by then.
    """
    last_lock = session.scalar(select(func.max(PeriodRow.locked_at))
                               .where(PeriodRow.status == "locked", PeriodRow.period < str(period)))
    if last_lock is None:
        return {}
    out: dict[tuple[str, str | None, str], list[int]] = defaultdict(list)
    for dispute_id, rep_id, deal_id, dperiod in session.execute(
        select(DisputeRow.id, DisputeRow.rep_id, DisputeRow.deal_id, DisputeRow.period)
        .where(DisputeRow.status == "approved", DisputeRow.adjustment_id.is_(None), DisputeRow.resolved_amount.is_not(None),
               DisputeRow.period < str(period), DisputeRow.resolved_at >= last_lock)
        .order_by(DisputeRow.id)
    ):
        out[(rep_id, deal_id, dperiod)].append(dispute_id)
    return dict(out)


# ------------------------------------------------------------------ helpers


def _amount_problem(amount: Decimal, what: str, currency: str | None) -> str | None:
    """Why a claimed or approved amount is refused: not a Decimal, zero, or finer than the rep's payout
    currency (cents; whole yen; fils for KWD)."""
    if not isinstance(amount, Decimal):
        return f"{what} must be a decimal amount, e.g. 1200.00"
    if amount == 0:
        return f"{what} is 0.00"
    problem = amount_problem(amount, currency)
    return f"{what} {problem}" if problem else None


def _event(session: Session, row: DisputeRow, at: datetime, actor: str, action: str, text: str) -> DisputeEvent:
    ev = DisputeEvent(dispute_id=row.id, at=at, actor=actor, action=action, text=text)
    session.add(ev)
    session.flush()
    return ev


def _add(out: Earned, deal_id: str, kind_or_rule: str, amount: Decimal) -> None:
    entry = out.setdefault(deal_id, [ZERO, ZERO])
    entry[0 if kind_or_rule in ("commission", LATE_RULES[0]) else 1] += amount


def _stored_lines(session: Session, p: Period, rep_id: str, deal_id: str | None, *, with_late: bool) -> Earned:
    """What the stored lines pay the rep on deals in ``p`` (plus late-change lines of locked months)."""
    out: Earned = {}
    q = (select(PayoutLineRow.deal_id, PayoutLineRow.kind, func.sum(PayoutLineRow.amount))
         .where(PayoutLineRow.period == str(p), PayoutLineRow.rep_id == rep_id, PayoutLineRow.kind.in_(EARNED_KINDS),
                PayoutLineRow.deal_id.is_not(None))
         .group_by(PayoutLineRow.deal_id, PayoutLineRow.kind))
    if deal_id is not None:
        q = q.where(PayoutLineRow.deal_id == deal_id)
    for d, kind, amount in session.execute(q):
        _add(out, d, kind, amount)
    if with_late:
        q = (select(PayoutLineRow.deal_id, PayoutLineRow.rule, func.sum(PayoutLineRow.amount))
             .join(PeriodRow, PeriodRow.period == PayoutLineRow.period)
             .where(PayoutLineRow.ref_period == str(p), PayoutLineRow.rep_id == rep_id, PayoutLineRow.kind == "adjustment",
                    PayoutLineRow.rule.in_(LATE_RULES), PayoutLineRow.deal_id.is_not(None), PeriodRow.status == "locked")
             .group_by(PayoutLineRow.deal_id, PayoutLineRow.rule))
        if deal_id is not None:
            q = q.where(PayoutLineRow.deal_id == deal_id)
        for d, rule, amount in session.execute(q):
            _add(out, d, rule, amount)
    return out


def _recalculated(session: Session, p: Period, rep_id: str, deal_id: str | None) -> Earned:
    """What the month pays the rep with the data as it is now (stored lines while they are current)."""
    status = period_status(session, p)
    if status == "calculated":  # an import that touches the month sends it back to open: its lines are current
        return _stored_lines(session, p, rep_id, deal_id, with_late=False)
    versions = None
    if status == "locked":
        versions = json.loads(session.get(PeriodRow, str(p)).plan_versions or "{}") or None
    result = load_inputs(session, p, versions).calculate()
    out: Earned = {}
    rep = result.rep(rep_id)
    for ln in rep.lines if rep else ():
        if ln.kind in EARNED_KINDS and ln.deal_id and (deal_id is None or ln.deal_id == deal_id):
            _add(out, ln.deal_id, ln.kind, ln.amount)
    return out


def _baseline(session: Session, p: Period, rep_id: str, deal_id: str | None) -> tuple[Earned, str]:
    """What the ledger says the rep earns in ``p`` now, before any correction: kept with the opening."""
    status = period_status(session, p)
    if status == "locked":
        return _stored_lines(session, p, rep_id, deal_id, with_late=True), "locked lines"
    if status == "calculated":
        return _stored_lines(session, p, rep_id, deal_id, with_late=False), "calculated lines"
    try:
        return _recalculated(session, p, rep_id, deal_id), "recalculated"
    except CompErrors:
        return {}, "none"


def _changed_since_lock(session: Session, p: Period) -> bool:
    """Whether a deal of the locked month ``p`` was amended, re-split or cancelled after the lock."""
    last = session.scalar(select(PeriodRow.last_event_id).where(PeriodRow.period == str(p))) or 0
    return session.scalar(
        select(func.count()).select_from(DealEvent).join(DealRow, DealRow.deal_id == DealEvent.deal_id)
        .where(DealRow.close_period == str(p), DealEvent.id > last,
               DealEvent.kind.in_(("amended", "splits_changed", "cancelled")))
    ) > 0


def _stored_baseline(session: Session, row: DisputeRow) -> Earned:
    """The baseline kept in the dispute's ``dispute.open`` audit entry."""
    after = session.scalar(select(AuditRow.after).where(AuditRow.action == "dispute.open", AuditRow.entity == "dispute",
                                                         AuditRow.entity_id == str(row.id)).order_by(AuditRow.id).limit(1))
    earned = (json.loads(after).get("baseline") or {}).get("earned", {}) if after else {}
    return {k: [Decimal(v[0]), Decimal(v[1])] for k, v in earned.items()}
