"""The engine: a pure pipeline from (plans, credits, period state) to payout lines.

Stages: credit -> classify -> measure -> rate -> adjust -> pay. Input records
and outputs live in ``records``; ``pipeline`` holds the stages; ``driver`` runs
months in sequence over a data set; ``report`` renders results as JSON or text.
Never imports sqlalchemy, jinja2, weasyprint or click.
"""

from compengine.engine.driver import Dataset, calculate_month, calculate_through
from compengine.engine.pipeline import Cancellation, calculate_period, check_splits, credit_deals
from compengine.engine.records import (
    Adjustment,
    Assignment,
    Credit,
    Deal,
    Line,
    PeriodResult,
    Quota,
    Rep,
    RepResult,
    RepState,
    Split,
)

__all__ = [
    "Adjustment", "Assignment", "Cancellation", "Credit", "Dataset", "Deal", "Line", "PeriodResult", "Quota", "Rep",
    "RepResult", "RepState", "Split", "calculate_month", "calculate_period", "calculate_through", "check_splits",
    "credit_deals",
]
