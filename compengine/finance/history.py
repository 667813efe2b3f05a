"""A month's engine inputs read from the ledger, for calculations that never store anything.

The close (``ledger.close.load_inputs``) reads the balances each rep carries from the stored
previous month. Modeling and forecasting carry their own: the first month's state comes from
the ledger (``load_state``), later months' from the caller's own results. Reps, assignments
and each month's credits are read once; year-to-date credits of ``ytd`` plans are assembled
from the months already read (plus the ledger's opening balances).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from compengine.core.periods import Period
from compengine.engine.pipeline import Cancellation, resolve_assignment
from compengine.engine.records import Adjustment, Assignment, Credit, Rep, RepState
from compengine.ledger.history import load_fx
from compengine.ledger.inputs import (
    load_adjustments,
    load_assignments,
    load_cancellations,
    load_credits,
    load_reps,
    load_state,
)
from compengine.ledger.start import opening_credits
from compengine.plans.model import Plan


@dataclass
class Month:
    """What the engine needs for one month, except the plans and the carried state."""

    period: Period
    credits: list[Credit]
    cancellations: list[Cancellation]
    adjustments: list[Adjustment]


class History:
    """Reads the ledger month by month (read-only), caching what ``ytd`` plans read again."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.reps: dict[str, Rep] = load_reps(session)
        self.assignments: dict[str, list[Assignment]] = load_assignments(session)
        self.fx = load_fx(session)  # the ledger's current exchange rates (None: none), as the close converts with them
        self._credits: dict[str, list[Credit]] = {}
        self._ytd_reps: set[str] | None = None

    def month(self, period: Period) -> Month:
        credits = self.credits(period)
        return Month(period, credits, load_cancellations(self.session, period), load_adjustments(self.session, period))

    def credits(self, period: Period) -> list[Credit]:
        key = str(period)
        got = self._credits.get(key)
        if got is None:
            got = load_credits(self.session, [key])
            if self._ytd_reps is not None:  # keep only what ytd plans read later
                self._credits[key] = [c for c in got if c.rep_id in self._ytd_reps]
        return got

    def watch_ytd(self, plan_sets: Iterable[Mapping[str, Plan]]) -> None:
        """Say which plans will be used, so the credits of reps ever on a ``ytd`` plan are kept."""
        ytd_ids = {pid for plans in plan_sets for pid, p in plans.items() if p.measure == "ytd"}
        self._ytd_reps = {r for r, rows in self.assignments.items() if any(a.plan_id in ytd_ids for a in rows)}

    def ytd_credits(self, period: Period, plans: Mapping[str, Plan]) -> list[Credit]:
        """Credits of earlier months of the plan year for reps on a ``ytd`` plan, as ``load_inputs`` reads them."""
        ytd_reps = {r for r, rows in self.assignments.items()
                    if any(a.plan_id in plans and plans[a.plan_id].measure == "ytd" for a in rows)}
        if not ytd_reps:
            return []
        out: list[Credit] = []
        for m in period.year_start().months_through(period)[:-1]:
            key = str(m)
            cached = self._credits.get(key)
            if cached is None:
                cached = [c for c in load_credits(self.session, [key]) if c.rep_id in (self._ytd_reps or ytd_reps)]
                self._credits[key] = cached
            out.extend(c for c in cached if c.rep_id in ytd_reps)
        currency_of = {}
        for rep_id, rows in self.assignments.items():
            a = resolve_assignment(rows, period)
            if a is not None and a.plan_id in plans and plans[a.plan_id].measure == "ytd":
                currency_of[rep_id] = plans[a.plan_id].currency
        return out + opening_credits(self.session, period, currency_of)

    def state_before(self, period: Period) -> dict[str, RepState]:
        return load_state(self.session, period)
