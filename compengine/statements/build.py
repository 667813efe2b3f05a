"""Build :class:`StatementData` from the file-mode engine (``compengine calc``'s results).

Input: the :class:`PeriodResult` of every month of the plan year through the
statement month (from :func:`compengine.engine.driver.calculate_through` with
``first_wanted`` = January), the :class:`Dataset` they came from and the plans.
Output: one :class:`StatementData` per rep paid in the last month. The ledger
builds the same records from the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from compengine.core.periods import Period
from compengine.engine.driver import Dataset, Plans, calculate_through, plans_for
from compengine.engine.records import PeriodResult
from compengine.plans.model import Plan
from compengine.statements.view import STATUSES, DealInfo, StatementData, YtdMonth


def statement_data_from_calc(
    results: Sequence[PeriodResult],
    data: Dataset,
    plans: Mapping[str, Plan],
    company: str,
    status: str = "preliminary",
    locale: str | None = None,
) -> list[StatementData]:
    """One statement per rep of the last month in ``results`` (earlier months of its year fill the YTD table).

    ``locale``: write every statement's amounts for it (``de_DE``); None: each rep's own ``locale``
    (reps.csv), else the house format."""
    if status not in STATUSES:
        raise ValueError(f"status must be locked or preliminary, got {status!r}")
    if not results:
        return []
    last = results[-1]
    year = Period.parse(last.period).year
    ytd: dict[str, list[YtdMonth]] = defaultdict(list)
    for res in results:
        if Period.parse(res.period).year != year:
            continue
        for r in res.reps:
            ytd[r.rep_id].append(YtdMonth(res.period, r.credited, r.payout))
    deals = {d.deal_id: DealInfo(d.account, d.deal_type, d.close_date, d.amount, d.currency) for d in data.deals}
    out: list[StatementData] = []
    for r in last.reps:
        rep = data.reps.get(r.rep_id)
        manager = data.reps.get(rep.manager_id) if rep is not None and rep.manager_id else None
        used = sorted({ln.deal_id for ln in r.lines if ln.deal_id and ln.deal_id in deals})
        out.append(StatementData(
            company=company,
            period=last.period,
            status=status,
            rep_id=r.rep_id,
            rep_name=rep.name if rep is not None else r.rep_id,
            team=rep.team if rep is not None else "",
            email=rep.email if rep is not None else "",
            manager_name=manager.name if manager is not None else None,
            plan=plans[r.plan_id],
            measure=r.measure,
            quota=r.quota,
            credited=r.credited,
            attainment=r.attainment,
            ytd_quota=r.ytd_quota,
            ytd_credited=r.ytd_credited,
            tenure_month=r.tenure_month,
            lines=tuple(r.lines),
            deals={k: deals[k] for k in used},
            components=dict(r.components),
            payout=r.payout,
            ytd=tuple(ytd[r.rep_id]),
            draw_balance=r.state.draw_balance,
            carry_balance=r.state.carry_balance,
            parts=tuple(r.parts),
            locale=locale or (rep.locale if rep is not None else None),
        ))
    return out


def calc_statement_data(
    data: Dataset,
    plans: Plans,
    period: Period,
    company: str,
    *,
    rep_ids: Sequence[str] = (),
    status: str = "preliminary",
    locale: str | None = None,
) -> list[StatementData]:
    """Calculate the plan year through ``period`` from files and build the month's statements (``rep_ids``: only those).

    ``plans``: plans by id, or a ``PlanCatalog`` (each month priced by its versions in force)."""
    results = calculate_through(data, plans, period, first_wanted=period.year_start())
    items = statement_data_from_calc(results, data, plans_for(plans, period), company, status, locale)
    if rep_ids:
        wanted = set(rep_ids)
        items = [s for s in items if s.rep_id in wanted]
    return items
