"""Statements from the ledger: fill :class:`compengine.statements.StatementData` from the database.

Every number comes from stored rows: ``rep_periods`` (measures, payout, balances, and each plan
component's measures: ``parts``),
``payout_lines`` (the lines, in seq order), ``deals`` (account, type, close date),
``disputes`` and the plan version the month was calculated with. Nothing is
recalculated here, so a statement's net is the payout file's amount by construction.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import ZERO
from compengine.core.periods import Period
from compengine.engine.records import COMPONENTS
from compengine.ledger.codec import parts_of, stored_lines
from compengine.ledger.inputs import load_plan_versions, load_plans_latest
from compengine.ledger.models import DealRow, DisputeRow, PayoutLineRow, PeriodRow, RepPeriod, RepRow
from compengine.statements.view import DealInfo, Dispute, StatementData, YtdMonth


def ledger_statement_data(session: Session, period: Period, company: str, *, rep_ids: Sequence[str] = (),
                          locale: str | None = None) -> list[StatementData]:
    """The month's statements from the ledger. ``locale``: write their amounts for it (``de_DE``); None: each
    rep's own (reps.csv ``locale``, stored since migration 0009), else the house format."""
    prow = session.get(PeriodRow, str(period))
    if prow is None or prow.status == "open":
        raise CompErrors(f"period {period} has not been calculated: run `compengine close run {period}` first")
    if prow.status == "stale":
        raise CompErrors(f"period {period} is stale: something it depends on changed since its last close run; "
                         f"run `compengine close run {period}` first")
    status = "locked" if prow.status == "locked" else "preliminary"
    versions = json.loads(prow.plan_versions or "{}")
    plans, _ = load_plan_versions(session, versions) if versions else load_plans_latest(session)
    wanted = set(rep_ids)
    if wanted:
        known = set(session.scalars(select(RepRow.rep_id).where(RepRow.rep_id.in_(wanted))))
        missing = sorted(wanted - known)
        if missing:
            raise CompErrors(f"unknown rep {missing[0]!r}")

    q = select(RepPeriod).where(RepPeriod.period == str(period)).order_by(RepPeriod.rep_id)
    if wanted:
        q = q.where(RepPeriod.rep_id.in_(wanted))
    rps = session.scalars(q).all()
    if wanted:  # the wanted reps and their managers, not the whole company (a portal page is one rep)
        reps = {r.rep_id: r for r in session.scalars(select(RepRow).where(RepRow.rep_id.in_(wanted)))}
        managers = {r.manager_id for r in reps.values() if r.manager_id} - set(reps)
        if managers:
            reps.update((r.rep_id, r) for r in session.scalars(select(RepRow).where(RepRow.rep_id.in_(managers))))
    else:
        reps = {r.rep_id: r for r in session.scalars(select(RepRow))}

    lines = stored_lines(session, str(period), wanted)
    # the deals the lines name, by a subquery (not an IN list of 500 bound ids a page)
    line_deals = select(PayoutLineRow.deal_id).where(PayoutLineRow.period == str(period),
                                                     PayoutLineRow.deal_id.is_not(None))
    if wanted:
        line_deals = line_deals.where(PayoutLineRow.rep_id.in_(wanted))
    deals: dict[str, DealInfo] = {
        deal_id: DealInfo(account, deal_type, close_date, amount, currency)
        for deal_id, account, deal_type, close_date, amount, currency in session.execute(
            select(DealRow.deal_id, DealRow.account, DealRow.deal_type, DealRow.close_date, DealRow.amount,
                   DealRow.currency).where(DealRow.deal_id.in_(line_deals)))}

    ytd: dict[str, list[YtdMonth]] = defaultdict(list)
    yq = (select(RepPeriod.rep_id, RepPeriod.period, RepPeriod.credited, RepPeriod.payout)
          .where(RepPeriod.period >= str(period.year_start()), RepPeriod.period <= str(period))
          .order_by(RepPeriod.rep_id, RepPeriod.period))
    if wanted:
        yq = yq.where(RepPeriod.rep_id.in_(wanted))
    for rep_id, p, credited, payout in session.execute(yq):
        ytd[rep_id].append(YtdMonth(p, credited, payout))

    disputes: dict[str, list[Dispute]] = defaultdict(list)
    for d in session.scalars(select(DisputeRow).where(DisputeRow.period == str(period)).order_by(DisputeRow.id)):
        disputes[d.rep_id].append(Dispute(str(d.id), d.status, d.deal_id, d.amount, d.reason, d.resolution or ""))

    out: list[StatementData] = []
    for rp in rps:
        rep = reps[rp.rep_id]
        plan = plans.get(rp.plan_id)
        if plan is None:
            raise CompErrors(f"{rp.rep_id}: plan {rp.plan_id} of {period} is not in the ledger")
        rep_lines = lines.get(rp.rep_id, [])
        components = {k: ZERO for k in COMPONENTS}
        for ln in rep_lines:
            components[ln.kind] = components.get(ln.kind, ZERO) + ln.amount
        manager = reps.get(rep.manager_id) if rep.manager_id else None
        out.append(StatementData(
            company=company,
            period=str(period),
            status=status,
            rep_id=rep.rep_id,
            rep_name=rep.name,
            team=rep.team or "",
            email=rep.email or "",
            manager_name=manager.name if manager else None,
            plan=plan,
            measure=rp.measure,
            quota=rp.quota,
            credited=rp.credited,
            attainment=Decimal(rp.attainment),
            ytd_quota=rp.ytd_quota,
            ytd_credited=rp.ytd_credited,
            tenure_month=rp.tenure_month,
            lines=tuple(rep_lines),
            deals={k: deals[k] for k in {ln.deal_id for ln in rep_lines if ln.deal_id} if k in deals},
            components=components,
            payout=rp.payout,
            ytd=tuple(ytd.get(rp.rep_id, ())),
            draw_balance=rp.draw_balance,
            carry_balance=rp.carry_balance,
            disputes=tuple(disputes.get(rp.rep_id, ())),
            parts=tuple(parts_of(rp.parts)),
            locale=locale or (rep.locale if rep is not None else None),
        ))
    return out
