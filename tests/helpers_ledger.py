"""Helpers for the ledger tests: what a month stored, for comparing two ways of closing it."""

from __future__ import annotations

from sqlalchemy import select

from compengine.ledger import transaction
from compengine.ledger.models import PayoutLineRow, RepPeriod


def stored(engine, period: str) -> tuple[list[tuple], list[tuple]]:  # noqa: ANN001
    """The month's payout lines (every column but the row id, by rep and seq) and its rep rows (by rep)."""
    cols = [c for c in PayoutLineRow.__table__.columns if c.name != "id"]
    with transaction(engine) as s:
        lines = [tuple(r) for r in s.execute(select(*cols).where(PayoutLineRow.period == period)
                                             .order_by(PayoutLineRow.rep_id, PayoutLineRow.seq))]
        reps = [tuple(r) for r in s.execute(select(*RepPeriod.__table__.columns).where(RepPeriod.period == period)
                                            .order_by(RepPeriod.rep_id))]
    return lines, reps
