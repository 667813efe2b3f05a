"""Run the pipeline month after month over a whole data set (no database).

``calculate_through`` starts at the first month any assignment or deal touches,
carries each rep's balances and what they earned on every later-cancelled deal,
and returns the months asked for. It is what ``compengine calc`` runs, and the
reference the ledger's close is tested against.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

from compengine.core.fx import FxRates
from compengine.core.money import ZERO
from compengine.core.periods import Period
from compengine.engine.pipeline import Cancellation, calculate_period, credit_deals, gc_paused, group_assignments, group_splits
from compengine.engine.records import Adjustment, Assignment, Credit, Deal, PeriodResult, Quota, Rep, RepState, Split
from compengine.plans.catalog import PlanCatalog, version_range
from compengine.plans.model import Plan


@dataclass
class Dataset:
    """The inputs of a calculation, as read from a data folder or the ledger."""

    reps: dict[str, Rep]
    assignments: list[Assignment]
    deals: list[Deal]
    splits: list[Split] = field(default_factory=list)
    adjustments: dict[str, list[Adjustment]] = field(default_factory=dict)  # by period text
    fx: FxRates | None = None  # exchange rates (a data folder's fx_rates.csv); None: no conversion
    # each rep's annual quotas per plan component (a data folder's quotas.csv), by rep id; each rep's
    # sorted by (plan, component, start) (records.group_quotas)
    quotas: dict[str, list[Quota]] = field(default_factory=dict)

    def first_period(self) -> Period | None:
        dates = [a.start for a in self.assignments] + [d.close_date for d in self.deals]
        return Period.of(min(dates)) if dates else None


Plans = Mapping[str, Plan] | PlanCatalog


def plans_for(plans: Plans, period: Period) -> Mapping[str, Plan]:
    """The plans that price ``period``: a catalog's versions in force on its last day, else ``plans``."""
    return plans.for_month(period) if isinstance(plans, PlanCatalog) else plans


@gc_paused()
def calculate_through(
    data: Dataset, plans: Plans, last: Period, *, first_wanted: Period | None = None
) -> list[PeriodResult]:
    """Calculate every month from the data's first month through ``last``.

    ``plans``: plans by id, or a :class:`~compengine.plans.catalog.PlanCatalog` (each month
    priced by the versions in force on its last day). Returns the results of the months
    from ``first_wanted`` (default ``last``) on.
    """
    first_wanted = first_wanted or last
    start = data.first_period()
    if start is None or start > last:
        start = last
    credits = credit_deals(data.deals, group_splits(data.splits))
    by_period: dict[Period, list[Credit]] = defaultdict(list)
    cancelled_by_period: dict[Period, list[Credit]] = defaultdict(list)
    watched: set[str] = set()
    period_of: dict[date, Period] = {}  # one Period per close date, not per credit
    for c in credits:
        p = period_of.get(c.close_date)
        if p is None:
            p = period_of[c.close_date] = Period.of(c.close_date)
        by_period[p].append(c)
        if c.cancelled_on is not None:
            watched.add(c.deal_id)
    for d in data.deals:
        if d.cancelled_on is not None:
            cancelled_by_period[Period.of(d.cancelled_on)].append(d)  # type: ignore[arg-type]
    assignments = group_assignments(data.assignments)
    state: dict[str, RepState] = {}
    earned: dict[str, dict[str, list]] = {}  # deal -> rep -> [commission, other, period, {component: commission}]
    terms = {d.deal_id: d.term_months for d in data.deals if d.cancelled_on is not None}
    ytd: list[Credit] = []
    out: list[PeriodResult] = []
    for period in start.months_through(last):
        if period.month == 1:
            ytd = []
        cancels: list[Cancellation] = []
        for d in sorted(cancelled_by_period.get(period, ()), key=lambda d: d.deal_id):
            if Period.of(d.close_date) >= period:
                continue  # cancelled in its close month: handled by the pipeline
            for rep_id, (comm, other, paid_in, by_comp) in sorted(earned.get(d.deal_id, {}).items()):
                cancels.append(Cancellation(rep_id, d.deal_id, d.close_date, d.cancelled_on, comm, other, paid_in,
                                            terms.get(d.deal_id), tuple(sorted(by_comp.items()))))
        month_plans = plans_for(plans, period)
        result = calculate_period(
            period,
            month_plans,
            data.reps,
            assignments,
            by_period.get(period, []),
            ytd_credits=ytd,
            cancellations=cancels,
            adjustments=data.adjustments.get(str(period), ()),
            state=state,
            fx=data.fx,
            quotas=data.quotas,
        )
        if month_plans is not plans:
            _name_gaps(result, plans, month_plans, period)  # type: ignore[arg-type]
        for r in result.reps:
            state[r.rep_id] = r.state
            for ln in r.lines:
                if ln.deal_id in watched and ln.kind in ("commission", "spiff", "override"):
                    entry = earned.setdefault(ln.deal_id, {}).setdefault(ln.rep_id, [ZERO, ZERO, result.period, {}])
                    if ln.kind == "commission":
                        entry[0] += ln.amount
                        key = ln.component or "commission"
                        entry[3][key] = entry[3].get(key, ZERO) + ln.amount
                    else:
                        entry[1] += ln.amount
        ytd = ytd + by_period.get(period, [])
        if period >= first_wanted:
            out.append(result)
    return out


def _name_gaps(result: PeriodResult, catalog: PlanCatalog, month_plans: Mapping[str, Plan], period: Period) -> None:
    """A rep whose plan has versions but none in force this month is skipped by the pipeline as
    "not loaded" (the engine knows only the month's plans): say which day had no version."""
    for pid in catalog.ids():
        if pid in month_plans:
            continue
        skipped = f": plan {pid!r} is not loaded; rep skipped"
        why = (f": plan {pid!r} has no version in force on {period.end} (its versions: "
               f"{', '.join(version_range(p) for p in catalog.versions(pid))}); rep skipped")
        result.exceptions[:] = [t[: -len(skipped)] + why if t.endswith(skipped) else t for t in result.exceptions]


def calculate_month(data: Dataset, plans: Plans, period: Period) -> PeriodResult:
    return calculate_through(data, plans, period)[-1]


def filter_reps(result: PeriodResult, rep_ids: Sequence[str]) -> PeriodResult:
    wanted = set(rep_ids)
    return PeriodResult(result.period, [r for r in result.reps if r.rep_id in wanted], result.exceptions)
