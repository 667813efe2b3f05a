"""Hypothesis invariants of the engine.

- primary splits conserve a deal's credit to the cent (overlays reduce nobody);
- marginal earnings are continuous in a deal's amount and never decrease as it grows;
- with ascending multipliers, retroactive earnings >= marginal earnings (up to rounding);
- a rep's lines sum to the payout and to each component; payouts and balances are never negative;
- the same inputs give byte-identical JSON, whatever the order of the input rows.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compengine.core.money import ZERO
from compengine.core.periods import Period
from compengine.engine import Assignment, Dataset, Deal, Rep, Split, calculate_period, calculate_through, credit_deals
from compengine.engine.pipeline import group_assignments, group_splits
from compengine.engine.report import result_json
from compengine.plans import Plan, load_plan_text, load_plans

PLANS_DIR = Path(__file__).resolve().parent.parent / "plans"
CENT = Decimal("0.01")
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])

cents = st.integers(min_value=1, max_value=10**9).map(lambda c: Decimal(c).scaleb(-2))


# --------------------------------------------------------------------------- credit


@st.composite
def primary_weights(draw) -> list[Decimal]:
    """Split percents with two decimals that sum to exactly 100."""
    n = draw(st.integers(1, 6))
    cuts = sorted(draw(st.lists(st.integers(1, 9999), min_size=n - 1, max_size=n - 1, unique=True)))
    bounds = [0, *cuts, 10000]
    return [Decimal(b - a).scaleb(-2) for a, b in zip(bounds, bounds[1:])]


@FAST
@given(amount=cents, weights=primary_weights(), overlays=st.lists(st.integers(1, 10000), max_size=3))
def test_primary_splits_conserve_credit_to_the_cent(amount, weights, overlays):
    deal = Deal("D", "acct", "new_logo", amount, "USD", date(2026, 1, 5), "R0")
    splits = [Split("D", f"R{i}", w, "primary") for i, w in enumerate(weights)]
    over = [Split("D", f"S{i}", Decimal(o).scaleb(-2), "overlay") for i, o in enumerate(overlays)]
    credits = credit_deals([deal], group_splits(splits + over))
    prim = [c for c in credits if c.role == "primary"]
    assert sum((c.credit for c in prim), ZERO) == amount
    assert all(c.credit >= 0 and c.credit == c.credit.quantize(CENT) for c in credits)
    # each part is within a cent of its exact share
    for c in prim:
        assert abs(c.credit - amount * c.split_pct / 100) < CENT
    # overlays reduce nobody: the primary credits are the same without them
    alone = credit_deals([deal], group_splits(splits))
    assert [(c.rep_id, c.credit) for c in alone] == [(c.rep_id, c.credit) for c in prim]
    for c in credits:
        if c.role == "overlay":
            assert abs(c.credit - amount * c.split_pct / 100) <= Decimal("0.005")


# --------------------------------------------------------------------------- rating


@st.composite
def tier_sets(draw, ascending: bool) -> list[tuple[Decimal | None, Decimal]]:
    """Tiers as (upto, multiplier): uptos strictly ascending, last one open."""
    n = draw(st.integers(1, 4))
    uptos = sorted(draw(st.lists(st.integers(10, 300), min_size=n - 1, max_size=n - 1, unique=True)))
    mults = draw(st.lists(st.integers(0, 40), min_size=n, max_size=n))
    if ascending:
        mults = sorted(mults)
    ups: list[Decimal | None] = [Decimal(u).scaleb(-2) for u in uptos] + [None]
    return [(u, Decimal(m).scaleb(-1)) for u, m in zip(ups, mults)]


def make_plan(tiers, mode: str, rate: Decimal, annual: Decimal, rounding: str = "half_up") -> Plan:
    rows = "\n".join(
        f"    - {{upto: {u}, multiplier: {m}}}" if u is not None else f"    - {{multiplier: {m}}}" for u, m in tiers
    )
    text = (
        f"id: p\ncurrency: USD\nrounding: {rounding}\nquota: {{annual: {annual}}}\nrates: {{new_logo: {rate}}}\n"
        f"accelerators:\n  mode: {mode}\n  tiers:\n{rows}\n"
    )
    plan, errors = load_plan_text(text, "p.yaml")
    assert plan is not None, errors
    return plan


REPS = {"R1": Rep("R1", "R1", hire_date=date(2020, 1, 1))}
ASSIGN = group_assignments([Assignment("R1", "p", date(2026, 1, 1))])
JAN = Period(2026, 1)


def earnings(plan: Plan, amounts: list[Decimal]) -> tuple[Decimal, list]:
    """Commission earned in January on deals closed in this order; also the lines of the last deal."""
    deals = [Deal(f"D{i:02d}", "a", "new_logo", a, "USD", date(2026, 1, 1 + i), "R1") for i, a in enumerate(amounts)]
    res = calculate_period(JAN, {"p": plan}, REPS, ASSIGN, credit_deals(deals, {}))
    r = res.reps[0]
    comm = [ln for ln in r.lines if ln.kind == "commission"]
    last = deals[-1].deal_id
    return sum((ln.amount for ln in comm), ZERO), [ln for ln in comm if ln.deal_id == last]


rates = st.integers(1, 30).map(lambda r: Decimal(r).scaleb(-2))
annuals = st.integers(12_000, 3_000_000).map(Decimal)
small_amounts = st.integers(1, 30_000_000).map(lambda c: Decimal(c).scaleb(-2))


@FAST
@given(tiers=tier_sets(ascending=False), rate=rates, annual=annuals,
       before=st.lists(small_amounts, max_size=4), x=small_amounts, grow=st.integers(1, 5_000_000),
       rounding=st.sampled_from(["half_up", "half_even"]))
def test_marginal_earnings_are_continuous_and_never_decrease(tiers, rate, annual, before, x, grow, rounding):
    plan = make_plan(tiers, "marginal", rate, annual, rounding)
    max_mult = max(m for _, m in tiers)
    e0, lines0 = earnings(plan, [*before, x])
    e1, lines1 = earnings(plan, [*before, x + CENT])
    # one more cent of credit earns at most rate x the largest multiplier x 0.01, plus half a cent
    # of rounding on each line of that deal, before and after
    assert abs(e1 - e0) <= rate * max_mult * CENT + Decimal("0.005") * (len(lines0) + len(lines1))
    assert e1 >= e0
    e2, _ = earnings(plan, [*before, x + Decimal(grow).scaleb(-2)])
    assert e2 >= e0


@FAST
@given(tiers=tier_sets(ascending=True), rate=rates, annual=annuals, amounts=st.lists(small_amounts, min_size=1, max_size=6))
def test_retroactive_earns_at_least_marginal_with_ascending_multipliers(tiers, rate, annual, amounts):
    marginal = make_plan(tiers, "marginal", rate, annual)
    retro = make_plan(tiers, "retroactive", rate, annual)
    deals = [Deal(f"D{i}", "a", "new_logo", a, "USD", date(2026, 1, 1 + i), "R1") for i, a in enumerate(amounts)]
    credits = credit_deals(deals, {})
    m = calculate_period(JAN, {"p": marginal}, REPS, ASSIGN, credits).reps[0]
    r = calculate_period(JAN, {"p": retro}, REPS, ASSIGN, credits).reps[0]
    # exact retroactive >= exact marginal; each rounded line is within half a cent of its exact value
    slack = Decimal("0.005") * (len(m.lines) + len(r.lines))
    assert r.components["commission"] >= m.components["commission"] - slack
    # both rate the same credit
    assert sum((ln.credit for ln in r.lines), ZERO) == sum((ln.credit for ln in m.lines), ZERO) == sum(amounts, ZERO)


# --------------------------------------------------------------------------- whole months


PLANS, _errors = load_plans(PLANS_DIR)
assert not _errors
COMPANY_REPS = {
    "M1": Rep("M1", "Maria", hire_date=date(2022, 1, 10)),
    "R1": Rep("R1", "Ravi", manager_id="M1", hire_date=date(2023, 3, 1)),
    "R2": Rep("R2", "Jo", manager_id="M1", hire_date=date(2026, 1, 15)),  # ramp and draw months
    "A1": Rep("A1", "Ana", manager_id="M1", hire_date=date(2021, 5, 1)),
    "S1": Rep("S1", "Sam", hire_date=date(2026, 2, 1)),  # non-recoverable draw
}
COMPANY_ASSIGN = [
    Assignment("M1", "mgr-2026", date(2026, 1, 1)),
    Assignment("R1", "ae-2026", date(2026, 1, 1)),
    Assignment("R2", "ae-2026", date(2026, 1, 15)),
    Assignment("A1", "am-2026", date(2026, 1, 1), annual_quota=Decimal(1200000)),
    Assignment("S1", "se-2026", date(2026, 2, 1)),
]
OWNERS = ["M1", "R1", "R2", "A1"]
LAST = Period(2026, 6)


@st.composite
def datasets(draw) -> Dataset:
    n = draw(st.integers(0, 12))
    deals: list[Deal] = []
    splits: list[Split] = []
    for i in range(n):
        close = date(2026, 1, 1) + timedelta(days=draw(st.integers(0, 180)))
        cancel = draw(st.one_of(st.none(), st.integers(0, 120)))
        deals.append(Deal(
            f"D{i:03d}", f"acct{i}", draw(st.sampled_from(["new_logo", "expansion", "renewal"])),
            Decimal(draw(st.integers(1, 40_000_000))).scaleb(-2), "USD", close, draw(st.sampled_from(OWNERS)),
            draw(st.sampled_from([None, 12, 24, 36])), None,
            None if cancel is None else close + timedelta(days=cancel),
        ))
        if draw(st.booleans()):
            a, b = draw(st.lists(st.sampled_from(["R1", "R2", "A1"]), min_size=2, max_size=2, unique=True))
            pct = Decimal(draw(st.integers(1, 99)))
            splits += [Split(f"D{i:03d}", a, pct, "primary"), Split(f"D{i:03d}", b, 100 - pct, "primary")]
            if draw(st.booleans()):
                splits.append(Split(f"D{i:03d}", "S1", Decimal(draw(st.integers(1, 100))), "overlay"))
    return Dataset(dict(COMPANY_REPS), list(COMPANY_ASSIGN), deals, splits)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets())
def test_lines_sum_to_payout_and_components(data):
    for result in calculate_through(data, PLANS, LAST, first_wanted=Period(2026, 1)):
        period = Period.parse(result.period)
        # every rep with an assignment in the month is listed, deals or not, in rep_id order
        assert [r.rep_id for r in result.reps] == sorted(
            a.rep_id for a in COMPANY_ASSIGN if a.overlaps(period.start, period.end))
        for r in result.reps:
            total = sum((ln.amount for ln in r.lines), ZERO)
            assert total == r.payout
            assert sum(r.components.values(), ZERO) == r.payout
            for kind, value in r.components.items():
                assert value == sum((ln.amount for ln in r.lines if ln.kind == kind), ZERO), kind
            assert all(ln.amount == ln.amount.quantize(CENT) for ln in r.lines)
            assert r.payout >= 0
            assert r.state.carry_balance >= 0 and r.state.draw_balance >= 0
            assert [ln.seq for ln in r.lines] == list(range(1, len(r.lines) + 1))
        assert result.total_payout == sum((r.payout for r in result.reps), ZERO)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=datasets(), rnd=st.randoms(use_true_random=False))
def test_same_inputs_give_byte_identical_json_in_any_row_order(data, rnd):
    first = [result_json(r) for r in calculate_through(data, PLANS, LAST, first_wanted=Period(2026, 1))]
    again = [result_json(r) for r in calculate_through(data, PLANS, LAST, first_wanted=Period(2026, 1))]
    assert first == again
    deals, splits, assigns = list(data.deals), list(data.splits), list(data.assignments)
    rnd.shuffle(deals)
    rnd.shuffle(splits)
    rnd.shuffle(assigns)
    reps = dict(sorted(data.reps.items(), key=lambda kv: rnd.random()))
    shuffled = Dataset(reps, assigns, deals, splits)
    third = [result_json(r) for r in calculate_through(shuffled, PLANS, LAST, first_wanted=Period(2026, 1))]
    assert third == first
    brief = [result_json(r, detail=False) for r in calculate_through(shuffled, PLANS, LAST, first_wanted=Period(2026, 1))]
    assert brief == [result_json(r, detail=False) for r in calculate_through(data, PLANS, LAST, first_wanted=Period(2026, 1))]
