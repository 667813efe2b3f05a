"""Run the examples a plan file carries (``examples:``, plans/README.md "Examples: plans that prove themselves").

Each example is priced by the real engine on a tiny in-memory company (no I/O):

* one rep, ``rep``, assigned to the plan from January 1st of the example's year (or
  from the hire date, when later), with an annual quota of 12 x the example's
  ``quota`` (default: the plan's own quota);
* no hire date unless ``tenure_month`` is given (so no ramp step and no draw month
  applies); with it, a hire date on the 1st of the month that makes ``month`` that
  tenure month;
* one deal per credit, closed on its ``close_date`` (default: the 15th of the month),
  credited ``split_pct`` percent to ``rep`` as a primary split (the rest to a colleague)
  or, with ``role: overlay``, as an overlay on a colleague's deal;
* ``reports``: deals of one direct report, ``report``, whose manager is ``rep`` (overrides).

Every month from the assignment's start through the example's month is calculated
(:func:`~compengine.engine.driver.calculate_through`: credits closed earlier in the
year are paid in their own month and carried, so a ``ytd`` plan's true-up and a draw
balance come out as they would), starting with no balance carried in. Only the
example's month is checked, and only the components ``expect`` names.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from compengine.core.errors import CompError, Source
from compengine.core.money import ZERO, shown
from compengine.core.periods import Period
from compengine.engine.driver import Dataset, calculate_through
from compengine.engine.records import Assignment, Deal, Rep, Split
from compengine.plans.model import HUNDRED, TWELVE, ExampleCredit, Plan, PlanExample

REP, REPORT, COLLEAGUE = "rep", "report", "colleague"


@dataclass(frozen=True)
class ExampleOutcome:
    """One example's run: what it expected and what the engine gave, component by component."""

    file: str
    line: int | None
    plan_id: str
    name: str
    month: str
    expected: dict[str, Decimal]
    actual: dict[str, Decimal]
    problems: list[str] = field(default_factory=list)  # besides mismatches: why the example could not be priced

    @property
    def mismatches(self) -> list[str]:
        return [k for k, v in self.expected.items() if self.actual.get(k) != v]

    @property
    def ok(self) -> bool:
        return not self.problems and not self.mismatches

    @property
    def source(self) -> Source:
        return Source(self.file, self.line)

    def message(self) -> str:
        """``example "two deals cross the band": commission expected 11,500.00, got 11,000.00``"""
        parts = [f"{k} expected {_amt(self.expected[k])}, got {_amt(self.actual[k]) if k in self.actual else 'nothing'}"
                 for k in self.mismatches]
        return f'example "{self.name}": ' + "; ".join(self.problems + parts)

    def __str__(self) -> str:
        return f"{self.source}: {self.message()}"

    def as_dict(self) -> dict:
        return {"file": self.file, "line": self.line, "plan": self.plan_id, "name": self.name, "month": self.month,
                "ok": self.ok, "expected": {k: f"{v:.2f}" for k, v in self.expected.items()},
                "actual": {k: f"{v:.2f}" for k, v in self.actual.items()}, "problems": list(self.problems),
                **({} if self.ok else {"error": str(self)})}


def _amt(x: Decimal) -> str:
    return shown(x)


def _deals(prefix: str, receiver: str, credits: Iterable[ExampleCredit], month: Period, currency: str,
           deals: list[Deal], splits: list[Split]) -> None:
    for i, c in enumerate(credits, start=1):
        deal_id = f"{prefix}-{i}"
        close = c.close_date or date(month.year, month.month, 15)
        owner = receiver if c.role == "primary" else COLLEAGUE
        deals.append(Deal(deal_id=deal_id, account=f"account-{deal_id}", deal_type=c.deal_type, amount=c.amount,
                          currency=currency, close_date=close, owner_id=owner, term_months=c.term_months,
                          product=c.product, quantity=c.quantity, cost=c.cost, attrs=c.attrs))
        if c.role == "overlay":
            splits.append(Split(deal_id, receiver, c.split_pct, "overlay"))
        elif c.split_pct != HUNDRED:
            splits.append(Split(deal_id, receiver, c.split_pct, "primary"))
            splits.append(Split(deal_id, COLLEAGUE, HUNDRED - c.split_pct, "primary"))


def example_dataset(plan: Plan, example: PlanExample) -> Dataset:
    """The tiny company an example is priced on (see the module's docstring)."""
    month = Period.parse(example.month)
    hire = None
    if example.tenure_month is not None:
        hire = Period.from_index(month.index - example.tenure_month + 1).start
    start = max(month.year_start().start, hire) if hire is not None else month.year_start().start
    annual = example.quota * TWELVE if example.quota is not None else None
    reps = {REP: Rep(REP, "Example rep", hire_date=hire), COLLEAGUE: Rep(COLLEAGUE, "Colleague")}
    deals: list[Deal] = []
    splits: list[Split] = []
    _deals("credit", REP, example.credits, month, plan.currency, deals, splits)
    if example.reports:
        reps[REPORT] = Rep(REPORT, "Direct report", manager_id=REP)
        _deals("report", REPORT, example.reports, month, plan.currency, deals, splits)
    return Dataset(reps, [Assignment(REP, plan.id, start, annual_quota=annual)], deals, splits)


def run_example(plan: Plan, example: PlanExample) -> ExampleOutcome:
    """Price one example with the plan alone and compare the components it names."""
    expected = dict(example.expect)
    month = Period.parse(example.month)
    result = calculate_through(example_dataset(plan, example), {plan.id: plan}, month)[-1]
    mine = result.rep(REP)
    problems: list[str] = []
    actual: dict[str, Decimal] = {}
    if mine is None:
        problems.append("the example's rep was not calculated: " + ("; ".join(result.exceptions) or "no reason given"))
    else:
        problems += [e for e in result.exceptions if e.startswith(REP + ":")]
        for k in expected:
            if k == "payout":
                actual[k] = mine.payout
            elif k in mine.components:
                actual[k] = mine.components[k]
            else:  # a plan component: what its lines paid this month
                actual[k] = sum((ln.amount for ln in mine.lines if ln.component == k), ZERO)
    return ExampleOutcome(plan.source.file, example.line, plan.id, example.name, example.month, expected, actual, problems)


def run_plan_examples(plans: Iterable[Plan]) -> list[ExampleOutcome]:
    """Every example of every plan (or plan version), in the plans' order then the file's."""
    return [run_example(plan, ex) for plan in plans for ex in plan.examples]


def example_errors(plans: Iterable[Plan]) -> list[CompError]:
    """A failing example as a validation error: ``plans/ae.yaml:31: example "...": commission expected ..., got ...``."""
    return [CompError(o.source, o.message()) for o in run_plan_examples(plans) if not o.ok]
