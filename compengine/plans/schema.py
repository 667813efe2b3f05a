"""The plan file language: strict, frozen pydantic models (one per YAML section).

These models are the edge: ``loader`` fills them from YAML, ``model.compile_plan``
turns them into the plain frozen objects the engine uses. Every key is
documented in ``plans/README.md``.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator,
                      model_validator)

from compengine.core.currency import check_code
from compengine.core.fx import FxPolicy
from compengine.core.money import check_amount, parse_plain_number
from compengine.core.periods import Period, parse_date

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


def _money(value: Decimal) -> Decimal:
    problem = check_amount(value)
    if problem:
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


class AcceleratorsSpec(_Strict):
    mode: Literal["marginal", "retroactive"] = "marginal"
    tiers: list[TierSpec] = Field(min_length=1)

    @model_validator(mode="after")
    def _bands(self) -> AcceleratorsSpec:
        tiers = self.tiers
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


class ClawbackSpec(_Strict):
    window_days: int = Field(ge=0, le=MAX_MONTHS * 31)


class DrawSpec(_Strict):
    amount: Money = Field(gt=0)
    months: int = Field(ge=1, le=MAX_MONTHS)
    recoverable: bool = True


class OverrideSpec(_Strict):
    rate: Number = Field(ge=0, le=MAX_RATE)


class PlanSpec(_Strict):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    name: str | None = None
    currency: str = Field(pattern=r"^[A-Z]{3}$")
    rounding: Literal["half_up", "half_even"] = "half_up"
    quota: QuotaSpec
    rates: RatesSpec
    accelerators: AcceleratorsSpec | None = None
    ramp: list[RampStep] = []
    cap: CapSpec | None = None
    spiffs: list[SpiffSpec] = []
    clawback: ClawbackSpec | None = None
    draw: DrawSpec | None = None
    override: OverrideSpec | None = None
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
            if key not in EXAMPLE_COMPONENTS:
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
