"""The plan file language: strict, frozen pydantic models (one per YAML section).

These models are the edge: ``loader`` fills them from YAML, ``model.compile_plan``
turns them into the plain frozen objects the engine uses. Every key is
documented in ``plans/README.md``.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from compengine.core.currency import amount_problem, check_code
from compengine.core.fx import FxPolicy
from compengine.core.money import parse_plain_number
from compengine.core.periods import Period, parse_date
from compengine.plans.model import CATEGORY, DEAL_FIELDS

DealType = Literal["new_logo", "expansion", "renewal"]
DEAL_TYPES: tuple[str, ...] = ("new_logo", "expansion", "renewal")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


NonNeg = Field(ge=0)


def _number(value: object) -> object:
    """Numbers come from YAML numbers (Decimal or int, see ``loader``), or from quoted text
    that is a plain number: ``6e4``, ``60,000`` or Arabic-Indic digits in quotes are refused."""
    if isinstance(value, bool):
        raise ValueError(f"not a number: {value}")
    if isinstance(value, str):
        return parse_plain_number(value)
    if not isinstance(value, (int, Decimal)):
        raise ValueError("not a number")
    return value


def _money(value: Decimal, info: ValidationInfo) -> Decimal:
    """An amount in the plan's currency: no finer than its minor unit (whole yen for JPY, three places for
    KWD; the loader passes the file's ``currency`` as the validation context), at most ``MAX_AMOUNT``."""
    currency = (info.context or {}).get("currency")
    try:
        known = check_code(currency) if isinstance(currency, str) else None
    except ValueError:  # an unknown currency: its own error says so; amounts are checked as cents
        known = None
    if problem := amount_problem(value, known):
        raise ValueError(problem)
    return value


def _day(value: object) -> object:
    """A date written ``YYYY-MM-DD`` (the loader hands YAML dates over as their text)."""
    if isinstance(value, str):
        return parse_date(value)
    raise ValueError("not a date: expected YYYY-MM-DD")


def _fx_policy(value: object) -> FxPolicy:
    """The plan's ``fx:`` mapping through :meth:`FxPolicy.from_mapping`; an error names its key (``fx.rate_date``)."""
    try:
        return FxPolicy.from_mapping(value)
    except ValueError as exc:
        text = str(exc)
        for key in ("rate_date", "base"):
            if text.startswith(f"fx.{key}: "):
                raise LocatedError((key,), text[len(f"fx.{key}: "):]) from None
        raise ValueError(text[len("fx: "):] if text.startswith("fx: ") else text) from None


# An exact number (a rate, a multiplier, a percent) and an amount of money (whole cents,
# at most compengine.core.money.MAX_AMOUNT).
Number = Annotated[Decimal, BeforeValidator(_number)]
Money = Annotated[Decimal, BeforeValidator(_number), AfterValidator(_money)]
Day = Annotated[date, BeforeValidator(_day)]
MAX_RATE = Decimal(10)  # 1,000%: a rate above 1.0 is already suspicious (plans validate warns)
MAX_MULTIPLIER = Decimal(100)
MAX_ATTAINMENT = Decimal(1000)  # a band's upto: 100,000% of quota
MAX_MONTHS = 1200  # tenure months, draw months, terms: a hundred years
# the same as Number/Money with their bounds, for an optional value (the bounds before the validators: an error
# then reads "less than or equal to 10", not "... to Decimal('10')")
Rate = Annotated[Decimal, Field(ge=0, le=MAX_RATE), BeforeValidator(_number)]
PositiveMoney = Annotated[Decimal, Field(gt=0), BeforeValidator(_number), AfterValidator(_money)]
NonNegMoney = Annotated[Decimal, Field(ge=0), BeforeValidator(_number), AfterValidator(_money)]


class QuotaSpec(_Strict):
    annual: Money = Field(ge=0, description="annual quota per rep; monthly quota = annual / 12")
    measure: Literal["period", "ytd"] = "period"


class RatesSpec(_Strict):
    new_logo: Number = Field(default=Decimal(0), ge=0, le=MAX_RATE)
    expansion: Number = Field(default=Decimal(0), ge=0, le=MAX_RATE)
    renewal: Number = Field(default=Decimal(0), ge=0, le=MAX_RATE)


class TierSpec(_Strict):
    upto: Number | None = Field(default=None, gt=0, le=MAX_ATTAINMENT)
    multiplier: Number = Field(ge=0, le=MAX_MULTIPLIER)


def _check_bands(tiers: list[TierSpec]) -> None:
    """Tiers ascend, do not overlap, and only the last is open."""
    for i, t in enumerate(tiers[:-1]):
        if t.upto is None:
            raise _at(("tiers", i, "upto"), "only the last tier may be open (no upto)")
    if tiers[-1].upto is not None:
        raise _at(("tiers", len(tiers) - 1, "upto"), "the last tier must be open: remove its upto")
    prev = Decimal(0)
    for i, t in enumerate(tiers[:-1]):
        assert t.upto is not None
        if t.upto <= prev:
            raise _at(("tiers", i, "upto"), f"must be greater than {prev} (tiers ascend and must not overlap)")
        prev = t.upto


class AcceleratorsSpec(_Strict):
    mode: Literal["marginal", "retroactive"] = "marginal"
    tiers: list[TierSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands(self) -> AcceleratorsSpec:
        _check_bands(self.tiers)
        return self


class RampStep(_Strict):
    months: tuple[int, int]
    quota_pct: Number = Field(ge=0, le=100)

    @field_validator("months")
    @classmethod
    def _range(cls, v: tuple[int, int]) -> tuple[int, int]:
        if v[0] < 1 or v[1] < v[0]:
            raise ValueError("must be [first, last] tenure months with 1 <= first <= last")
        if v[1] > MAX_MONTHS:
            raise ValueError(f"tenure months must be at most {MAX_MONTHS}")
        return v


class CapSpec(_Strict):
    per_period: Money = Field(gt=0)


class SpiffWhen(_Strict):
    deal_type: DealType | None = None
    min_term_months: int | None = Field(default=None, ge=0, le=MAX_MONTHS)
    min_amount: Money | None = Field(default=None, ge=0)
    product: str | None = None


class SpiffSpec(_Strict):
    id: str = Field(min_length=1)
    amount: Money = Field(gt=0)
    when: SpiffWhen = SpiffWhen()


class ClawbackStepSpec(_Strict):
    upto_days: int = Field(ge=0, le=MAX_MONTHS * 31)
    pct: Number = Field(ge=0, le=100)


class ClawbackSpec(_Strict):
    window_days: int = Field(ge=0, le=MAX_MONTHS * 31)
    # v2: how much of what was paid a cancellation reverses (default: all of it)
    schedule: list[ClawbackStepSpec] = []
    prorate: Literal["term"] | None = None

    @model_validator(mode="after")
    def _share(self) -> ClawbackSpec:
        if self.schedule and self.prorate is not None:
            raise _at(("prorate",), "give schedule or prorate, not both")
        prev: int | None = None
        for i, step in enumerate(self.schedule):
            if prev is not None and step.upto_days <= prev:
                raise _at(("schedule", i, "upto_days"),
                          f"must be greater than {prev} (schedule steps ascend in upto_days)")
            if step.upto_days > self.window_days:
                raise _at(("schedule", i, "upto_days"), f"is beyond window_days {self.window_days}: a cancellation "
                                                        f"after the window is not clawed back")
            prev = step.upto_days
        return self


class DrawSpec(_Strict):
    amount: Money = Field(gt=0)
    months: int = Field(ge=1, le=MAX_MONTHS)
    recoverable: bool = True


class OverrideSpec(_Strict):
    rate: Rate | None = None  # level 1 only (v1)
    levels: list[Rate] | None = Field(default=None, min_length=1)  # level 1 = direct reports, 2 = theirs, ...
    base: Literal["credit", "commission"] = "credit"

    @model_validator(mode="after")
    def _one(self) -> OverrideSpec:
        if self.rate is not None and self.levels is not None:
            raise _at(("levels",), "give rate (direct reports only) or levels, not both")
        if self.rate is None and self.levels is None:
            raise _at(("rate",), "is required (or levels: a rate per level of reports)")
        return self


class PayoutSpec(_Strict):
    negative: Literal["carry", "pay"] = "carry"  # a month whose lines sum below zero: carried forward, or paid


# ------------------------------------------------------------------ components (plan language v2)

COMPONENT_ID = r"^[a-z][a-z0-9_]*$"
PERIODS = Literal["month", "quarter", "half", "year"]


def _patterns(value: object) -> tuple[str, ...]:
    """A condition's value: one value or a list of them (any of), each text or a number, kept as text."""
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ValueError("give at least one value")
    out: list[str] = []
    for i, v in enumerate(items):
        loc: tuple[int, ...] = (i,) if isinstance(value, list) else ()
        if isinstance(v, bool) or v is None or isinstance(v, (dict, list)):
            raise _at(loc, f"not a value to match: {v!r} (write text, quoted if need be)")
        text = f"{v:f}" if isinstance(v, Decimal) else str(v)
        if not text:
            raise _at(loc, "an empty value matches nothing")
        out.append(text)
    return tuple(out)


# ``measure``/``when``: deal field -> the values (globs) any of which it must match
Conditions = dict[str, Annotated[tuple[str, ...], BeforeValidator(_patterns)]]


class ComponentQuotaSpec(_Strict):
    annual: NonNegMoney | None = None  # None: the rep's quota (quotas.csv, assignment, plan)
    period: PERIODS = "month"


class RateRuleSpec(_Strict):
    when: Conditions = {}
    rate: Rate | None = None
    amount_per_deal: PositiveMoney | None = None

    @model_validator(mode="after")
    def _one(self) -> RateRuleSpec:
        if self.rate is not None and self.amount_per_deal is not None:
            raise _at((), "a rule sets rate or amount_per_deal, not both")
        if self.rate is None and self.amount_per_deal is None:
            raise _at((), "a rule sets rate or amount_per_deal")
        return self


class GateSpec(_Strict):
    annual_attainment: Number = Field(gt=0, le=MAX_ATTAINMENT)


class ComponentAcceleratorsSpec(_Strict):
    mode: Literal["marginal", "retroactive", "hybrid"] = "marginal"
    gate: GateSpec | None = None
    tiers: list[TierSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands(self) -> ComponentAcceleratorsSpec:
        _check_bands(self.tiers)
        if (self.mode == "hybrid" or self.gate is not None) and not any(t.upto == 1 for t in self.tiers):
            what = "hybrid mode" if self.mode == "hybrid" else "a gate"
            raise _at(("tiers",), f"{what} needs a tier that ends at 1.0 (100%): the bands up to it and above it "
                                  f"are paid differently")
        return self


class CurvePointSpec(_Strict):
    attainment: Number = Field(ge=0, le=MAX_ATTAINMENT)
    pct: Number = Field(ge=0, le=MAX_MULTIPLIER)  # share of the target: 1.0 = 100%


# the keys of each type of component (the rest are an error on it)
_COMMISSION_ONLY = ("measure", "base", "quota", "rates", "rate", "rate_rules", "accelerators", "per_deal")
_BONUS_ONLY = ("target", "of", "curve", "period")


class ComponentSpec(_Strict):
    id: str = Field(pattern=COMPONENT_ID)
    type: Literal["commission", "bonus"] = "commission"
    # commission
    measure: Conditions = {}
    base: Literal["amount", "margin", "quantity"] = "amount"
    quota: ComponentQuotaSpec | None = None
    rates: RatesSpec | None = None
    rate: Rate | None = None
    rate_rules: list[RateRuleSpec] = []
    accelerators: ComponentAcceleratorsSpec | None = None
    per_deal: PositiveMoney | None = None
    # bonus
    target: PositiveMoney | None = None
    of: list[str] | None = Field(default=None, min_length=1)
    curve: list[CurvePointSpec] | None = Field(default=None, min_length=1)
    period: PERIODS | None = None

    @field_validator("curve")
    @classmethod
    def _ascending(cls, curve: list[CurvePointSpec] | None) -> list[CurvePointSpec] | None:
        for i, (a, b) in enumerate(zip(curve or [], (curve or [])[1:]), start=1):
            if b.attainment <= a.attainment:
                raise _at((i, "attainment"), f"must be greater than {a.attainment} (curve points ascend in attainment)")
        return curve

    @model_validator(mode="after")
    def _by_type(self) -> ComponentSpec:
        given = self.model_fields_set
        if self.type == "bonus":
            for key in _COMMISSION_ONLY:
                if key in given:
                    hint = ": set its quota period with period" if key == "quota" else ""
                    raise _at((key,), f"a bonus has no {key}: it pays on the attainment of the components "
                                      f"in of{hint}")
            for key in ("target", "of", "curve"):
                if getattr(self, key) is None:
                    raise _at((key,), "is required on a bonus")
            return self
        for key in _BONUS_ONLY:
            if key in given:
                hint = " (a commission component's period is quota.period)" if key == "period" else ""
                raise _at((key,), f"only a bonus (type: bonus) has {key}{hint}")
        if self.rates is not None and self.rate is not None:
            raise _at(("rate",), "give rates (a rate by deal type) or rate (one rate for every credit), not both")
        return self


class PlanSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rounding: Literal["half_up", "half_even"] = "half_up"
    # v2 (plans/README.md, "Components"), before quota and rates: their validators look at them
    attributes: list[Annotated[str, Field(min_length=1)]] = []  # deal attributes measure/when may name
    components: list[ComponentSpec] | None = Field(default=None, min_length=1)
    quota: QuotaSpec
    rates: RatesSpec | None = Field(default=None, validate_default=True)  # required without components
    accelerators: AcceleratorsSpec | None = None
    ramp: list[RampStep] = []
    cap: CapSpec | None = None
    spiffs: list[SpiffSpec] = []
    clawback: ClawbackSpec | None = None
    draw: DrawSpec | None = None
    override: OverrideSpec | None = None
    payout: PayoutSpec | None = None
    # a part-month assignment's quota and cap: by calendar days in force, or the full month (none)
    proration: Literal["calendar_days", "none"] = "calendar_days"
    # plan versions (plans/README.md, "Plan versions"): the dates this file is in force, both inclusive
    effective_from: Day | None = None
    effective_to: Day | None = None
    # multi-currency (docs/currencies.md): {rate_date: close_date | month_end | month_average, base: USD}
    fx: Annotated[Any, BeforeValidator(_fx_policy)] = None

    @field_validator("currency")
    @classmethod
    def _known_currency(cls, code: str) -> str:
        return check_code(code)
    # examples (plans/README.md, "Examples: plans that prove themselves"): scenarios and the payout they must give
    examples: list[ExampleSpec] = []

    # field validators (not one model validator) so these are reported even when
    # another section of the file is wrong too
    @field_validator("attributes")
    @classmethod
    def _attributes(cls, names: list[str]) -> list[str]:
        seen: set[str] = set()
        for i, name in enumerate(names):
            if name in DEAL_FIELDS or name == CATEGORY:
                raise _at((i,), f"{name!r} is a deal column: measure and when name it without declaring it")
            if name in seen:
                raise _at((i,), f"duplicate attribute {name!r}")
            seen.add(name)
        return names

    @field_validator("components")
    @classmethod
    def _components(cls, comps: list[ComponentSpec] | None, info: ValidationInfo) -> list[ComponentSpec] | None:
        if comps is None:
            return None
        kinds: dict[str, str] = {}
        for i, c in enumerate(comps):
            if c.id in kinds:
                raise _at((i, "id"), f"duplicate component id {c.id!r}")
            kinds[c.id] = c.type
        if "attributes" in info.data:  # (else its own error is reported)
            known = (*DEAL_FIELDS, CATEGORY, *info.data["attributes"])
            for i, c in enumerate(comps):
                where = [(("measure",), c.measure)]
                where += [(("rate_rules", j, "when"), r.when) for j, r in enumerate(c.rate_rules)]
                for loc, conditions in where:
                    for name in conditions:
                        if name not in known:
                            declared = ", ".join(info.data["attributes"]) or "none yet"
                            raise _at((i, *loc, name), f"unknown deal field {name!r}: name a deal column "
                                                       f"({', '.join(DEAL_FIELDS)}), {CATEGORY}, or an attribute "
                                                       f"declared in attributes ({declared})")
        commissions = [cid for cid, kind in kinds.items() if kind == "commission"]
        for i, c in enumerate(comps):
            seen: set[str] = set()
            for j, name in enumerate(c.of or ()):
                if name not in kinds:
                    raise _at((i, "of", j), f"unknown component {name!r}: a bonus pays on this plan's commission "
                                            f"components ({', '.join(commissions) or 'none'})")
                if kinds[name] == "bonus":
                    raise _at((i, "of", j), f"{name!r} is a bonus: a bonus pays on commission components")
                if name in seen:
                    raise _at((i, "of", j), f"{name!r} is named twice")
                seen.add(name)
        return comps

    @field_validator("quota")
    @classmethod
    def _no_plan_measure(cls, quota: QuotaSpec, info: ValidationInfo) -> QuotaSpec:
        if info.data.get("components") and "measure" in quota.model_fields_set:
            raise _at(("measure",), "a plan with components measures each over its own quota period: "
                                    "set components[].quota.period instead")
        return quota

    @field_validator("rates")
    @classmethod
    def _rates_v1(cls, rates: RatesSpec | None, info: ValidationInfo) -> RatesSpec | None:
        if "components" not in info.data:  # the components are wrong: their errors say enough
            return rates
        if info.data["components"] is None and rates is None:
            raise ValueError("is required")
        if info.data["components"] is not None and rates is not None:
            raise ValueError("move rates into a component (components[].rates): a plan with components is "
                             "priced by them")
        return rates

    @field_validator("accelerators")
    @classmethod
    def _accelerators_v1(cls, acc: AcceleratorsSpec | None, info: ValidationInfo) -> AcceleratorsSpec | None:
        if acc is not None and info.data.get("components") is not None:
            raise ValueError("move accelerators into a component (components[].accelerators): a plan with "
                             "components is priced by them")
        return acc

    @field_validator("ramp")
    @classmethod
    def _ramp_disjoint(cls, ramp: list[RampStep]) -> list[RampStep]:
        steps = sorted(enumerate(ramp), key=lambda p: p[1].months[0])
        for (_, a), (j, b) in zip(steps, steps[1:]):
            if b.months[0] <= a.months[1]:
                raise _at((j, "months"), f"overlaps tenure months {list(a.months)}")
        return ramp

    @field_validator("effective_to")
    @classmethod
    def _not_inverted(cls, end: date | None, info: ValidationInfo) -> date | None:
        start = info.data.get("effective_from")
        if end is not None and start is not None and end < start:
            raise ValueError(f"{end} is before effective_from {start}: a version must end on or after the day it starts")
        return end

    @field_validator("spiffs")
    @classmethod
    def _spiff_ids(cls, spiffs: list[SpiffSpec]) -> list[SpiffSpec]:
        seen: set[str] = set()
        for i, s in enumerate(spiffs):
            if s.id in seen:
                raise _at((i, "id"), f"duplicate spiff id {s.id!r}")
            seen.add(s.id)
        return spiffs


    @field_validator("examples")
    @classmethod
    def _examples(cls, examples: list[ExampleSpec], info: ValidationInfo) -> list[ExampleSpec]:
        return check_examples(examples, info.data)


# ------------------------------------------------------------------ examples

COMPONENT_ID = re.compile(r"^[a-z][a-z0-9_]*$")

# What an example's ``expect`` may name: the engine's payout components
# (compengine.engine.records.COMPONENTS, which this layer may not import: a test keeps them equal) and the payout.
EXAMPLE_COMPONENTS: tuple[str, ...] = (
    "commission", "true_up", "spiff", "bonus", "cap", "clawback", "override", "adjustment", "balance_recovery", "draw",
    "draw_recovery", "carry_forward", "payout",
)


def _month(value: object) -> object:
    if isinstance(value, str):
        try:
            return str(Period.parse(value))
        except ValueError:
            pass
    shown = value if isinstance(value, str) and len(value) <= 40 else str(value)[:12] + "..."
    raise ValueError(f"not a month {shown!r}: expected YYYY-MM, e.g. 2026-10")


class ExampleCreditSpec(_Strict):
    deal_type: DealType
    amount: Money = Field(gt=0)
    close_date: Day | None = None  # default: the 15th of the example's month
    term_months: int | None = Field(default=None, ge=0, le=MAX_MONTHS)
    product: str | None = None
    split_pct: Number = Field(default=Decimal(100), gt=0, le=100)
    role: Literal["primary", "overlay"] = "primary"
    quantity: Number = Field(default=Decimal(1), gt=0)  # units (a component measured on quantity)
    cost: Money = Field(default=Decimal(0), ge=0)  # the deal's cost (margin = amount - cost)
    attributes: dict[str, str] = {}  # further deal columns: {category: Services, region: EMEA}


class ExampleSpec(_Strict):
    name: str = Field(min_length=1)
    month: Annotated[str, BeforeValidator(_month)]
    quota: Money | None = Field(default=None, ge=0)  # the month's quota before any ramp (annual = 12 x this)
    tenure_month: int | None = Field(default=None, ge=1, le=MAX_MONTHS)
    credits: list[ExampleCreditSpec] = []
    reports: list[ExampleCreditSpec] = []  # a direct report's credits (override plans)
    expect: dict[str, Money] = Field(min_length=1)

    @field_validator("expect")
    @classmethod
    def _components(cls, expect: dict[str, Decimal]) -> dict[str, Decimal]:
        for key in expect:
            if key not in EXAMPLE_COMPONENTS and not COMPONENT_ID.match(key):
                raise _at((key,), f"unknown component {key!r}: expect names any of {', '.join(EXAMPLE_COMPONENTS)}")
        return expect

    @model_validator(mode="after")
    def _dates(self) -> ExampleSpec:
        month = Period.parse(self.month)
        first, last = month.year_start().start, month.end
        for key in ("credits", "reports"):
            for i, c in enumerate(getattr(self, key)):
                if c.close_date is not None and not first <= c.close_date <= last:
                    raise _at((key, i, "close_date"), f"{c.close_date} is outside {first}..{last}: an example's "
                                                      f"credits close in its month or earlier in its plan year")
        return self


def check_examples(examples: list[ExampleSpec], plan: dict) -> list[ExampleSpec]:
    """Cross-checks against the rest of the plan (``plan``: the keys validated so far)."""
    seen: set[str] = set()
    for i, ex in enumerate(examples):
        if ex.name in seen:
            raise _at((i, "name"), f"duplicate example name {ex.name!r}")
        seen.add(ex.name)
        if ex.reports and "override" in plan and plan["override"] is None:
            raise _at((i, "reports"), "this plan has no override: a report's credits pay nothing on it")
        ids = [c.id for c in plan.get("components") or ()]
        known = "components" in plan  # absent: the components were refused already (their errors say why)
        for key in ex.expect:
            if key not in EXAMPLE_COMPONENTS and key not in ids and known:
                also = f", or a component of the plan: {', '.join(ids)}" if ids else ""
                raise _at((i, "expect", key),
                          f"unknown component {key!r}: expect names any of {', '.join(EXAMPLE_COMPONENTS)}{also}")
        end = Period.parse(ex.month).end
        start, stop = plan.get("effective_from"), plan.get("effective_to")
        if (start is not None and end < start) or (stop is not None and end > stop):
            raise _at((i, "month"), f"{ex.month} is not priced by this version (in force {start or ''}..{stop or ''} "
                                    f"on the month's last day): an example's month must be")
    return examples


class LocatedError(ValueError):
    """A validation error that knows the field path it belongs to (relative to its model)."""

    def __init__(self, loc: tuple[str | int, ...], message: str) -> None:
        self.loc = loc
        self.message = message
        super().__init__(message)


def _at(loc: tuple[str | int, ...], message: str) -> LocatedError:
    return LocatedError(loc, message)


PlanSpec.model_rebuild()  # its examples are declared below it
