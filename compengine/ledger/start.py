"""Starting the ledger in mid-stream, and reopening a locked month.

``start_ledger`` makes a month the ledger's first (``close start P``): months
before it are never required by a close, placeholder months before it (a typo
such as ``0206-11`` in an old import made centuries of them) are removed, and
each rep's balances on that day come from an opening-balances file::

    rep_id,ytd_credited,ytd_paid,draw_balance,carry_balance,ytd_deal_type
    R1,420000.00,38500.00,0.00,0.00,new_logo
    R2,0.00,0.00,1500.00,0.00,

* ``ytd_paid``: commission paid so far in the plan year (a ``ytd`` plan's true-up
  subtracts it);
* ``ytd_credited``: credit booked so far in the plan year; a ``ytd`` plan measures
  the year with it, priced at the rate of ``ytd_deal_type`` (one of the plan's deal
  types; required when ``ytd_credited`` is not zero);
* ``draw_balance``: draws paid and still to be recovered; ``carry_balance``:
  negative payouts carried forward, still to be recovered (negative numbers).

``reopen_period`` reopens the latest locked month while its payouts have not
been exported (afterwards corrections go through the next open month).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import D
from compengine.core.periods import Period
from compengine.engine.records import Credit, RepState
from compengine.ledger.models import (
    DealEvent,
    DealRow,
    OpeningBalance,
    PeriodRow,
    RepRow,
    Setting,
)
from compengine.ledger.seals import mark_reopened
from compengine.ledger.store import audit, lock_period_row, utcnow
from compengine.plans.schema import DEAL_TYPES

OPENING_COLUMNS = ["rep_id", "ytd_credited", "ytd_paid", "draw_balance", "carry_balance"]
FIRST_PERIOD = "first_period"
EARLIEST = Period(1970, 1)
LATEST = Period(2100, 12)


def plausible_period(p: Period, what: str) -> None:
    if not (EARLIEST <= p <= LATEST):
        raise CompErrors(f"{what} {p} is outside {EARLIEST}..{LATEST}: a typo?")


def first_period(session: Session) -> Period | None:
    """The ledger's first month, set by ``close start`` (None: the earliest month it knows)."""
    row = session.get(Setting, FIRST_PERIOD)
    return Period.parse(row.value) if row else None


@dataclass
class StartReport:
    period: str
    opening_balances: int
    removed_placeholders: int

    def text(self) -> str:
        out = f"the ledger starts at {self.period}: months before it are never required"
        if self.opening_balances:
            out += f"; opening balances for {self.opening_balances} rep(s)"
        if self.removed_placeholders:
            out += f"; {self.removed_placeholders} empty month(s) before it removed"
        return out


def read_opening_balances(path: Path) -> list[tuple[Source, dict]]:
    """Rows of an opening-balances file; every problem named file:line:field (all of them)."""
    errors: list[CompError] = []
    out: list[tuple[Source, dict]] = []
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CompErrors(CompError(Source(str(path)), f"cannot read: {getattr(exc, 'strerror', None) or exc}")) from None
    reader = csv.reader(text.splitlines())
    header = [h.strip() for h in next(reader, [])]
    missing = [c for c in OPENING_COLUMNS if c not in header]
    if missing:
        raise CompErrors(CompError(Source(str(path), 1), f"missing column(s): {', '.join(missing)}"))
    seen: set[str] = set()
    for row in reader:
        line = reader.line_num
        if not row or all(not v.strip() for v in row):
            continue
        src = Source(str(path), line)
        if len(row) != len(header):
            errors.append(CompError(src, f"has {len(row)} fields, the header has {len(header)}"))
            continue
        values = dict(zip(header, (v.strip() for v in row)))
        rec: dict = {"rep_id": values["rep_id"], "ytd_deal_type": values.get("ytd_deal_type", "") or None}
        if not rec["rep_id"]:
            errors.append(CompError(src.at("rep_id"), "is required"))
            continue
        if rec["rep_id"] in seen:
            errors.append(CompError(src.at("rep_id"), f"rep {rec['rep_id']} appears twice"))
            continue
        seen.add(rec["rep_id"])
        ok = True
        for name in OPENING_COLUMNS[1:]:
            try:
                amount = D(values[name] or "0")
            except ValueError:
                errors.append(CompError(src.at(name), f"not an amount {values[name]!r}"))
                ok = False
                continue
            if amount != amount.quantize(Decimal("0.01")):
                errors.append(CompError(src.at(name), f"{values[name]} has fractions of a cent"))
                ok = False
            rec[name] = amount
        if ok:
            out.append((src, rec))
    if errors:
        raise CompErrors(errors)
    return out


def start_ledger(session: Session, period: Period, actor: str, opening: Path | None = None, *,
                 now: datetime | None = None) -> StartReport:
    """Make ``period`` the ledger's first month, with the reps' balances on that day."""
    now = now or utcnow()
    plausible_period(period, "the first month")
    closed = session.scalar(select(PeriodRow.period).where(PeriodRow.status != "open").order_by(PeriodRow.period).limit(1))
    if closed is not None:
        raise CompErrors(f"period {closed} has already been calculated: a ledger is started before its first close "
                         "(to correct balances after that, use `compengine adjust`)")
    rows = read_opening_balances(opening) if opening else []
    known = set(session.scalars(select(RepRow.rep_id)))
    errors = [CompError(src.at("rep_id"), f"unknown rep {rec['rep_id']!r}: import the reps first")
              for src, rec in rows if rec["rep_id"] not in known]
    errors += [CompError(src.at("ytd_deal_type"), f"ytd_credited {rec['ytd_credited']} needs the deal type that prices it: "
                         f"one of {', '.join(DEAL_TYPES)}")
               for src, rec in rows if rec["ytd_credited"] != 0 and rec["ytd_deal_type"] not in DEAL_TYPES]
    if errors:
        raise CompErrors(errors)
    early = session.scalar(select(func.count()).select_from(DealRow).where(DealRow.close_period < str(period))) or 0
    if early:
        raise CompErrors(f"{early} deal(s) close before {period}: the ledger cannot start after deals it holds "
                         "(give their year to date in the opening balances instead)")
    removed = session.execute(delete(PeriodRow).where(PeriodRow.period < str(period))).rowcount or 0
    session.execute(delete(OpeningBalance))
    for src, rec in rows:
        session.add(OpeningBalance(rep_id=rec["rep_id"], period=str(period), ytd_credited=rec["ytd_credited"],
                                   ytd_paid=rec["ytd_paid"], draw_balance=rec["draw_balance"],
                                   carry_balance=rec["carry_balance"], ytd_deal_type=rec["ytd_deal_type"],
                                   source=str(src), recorded_at=now))
    setting = session.get(Setting, FIRST_PERIOD)
    before = setting.value if setting else None
    if setting is None:
        session.add(Setting(key=FIRST_PERIOD, value=str(period), updated_at=now, updated_by=actor))
    else:
        setting.value, setting.updated_at, setting.updated_by = str(period), now, actor
    lock_period_row(session, period)
    report = StartReport(str(period), len(rows), removed)
    audit(session, actor, "close.start", report.text(), period=str(period), entity="period", entity_id=str(period),
          before={"first_period": before}, after={"first_period": str(period), "opening_balances": len(rows),
                                                  "source": str(opening) if opening else None}, at=now)
    return report


def opening_state(session: Session, period: Period, reps_with_history: set[str]) -> dict[str, RepState]:
    """Opening balances as the state carried into ``period``, for reps with no month before it."""
    out = {}
    for ob in session.scalars(select(OpeningBalance).where(OpeningBalance.period <= str(period))):
        if ob.rep_id in reps_with_history:
            continue
        ob_period = Period.parse(ob.period)
        out[ob.rep_id] = RepState(draw_balance=ob.draw_balance, carry_balance=ob.carry_balance, ytd_paid=ob.ytd_paid,
                                  ytd_year=ob_period.year, ytd_plan=None)
    return out


def opening_credits(session: Session, period: Period, currency_of: dict[str, str]) -> list[Credit]:
    """The year-to-date credit before the ledger's first month, as one credit per rep dated the
    first day of the plan year, for ``ytd`` plans in that year (``currency_of``: rep -> plan currency)."""
    out = []
    for ob in session.scalars(select(OpeningBalance).where(OpeningBalance.period <= str(period),
                                                           OpeningBalance.ytd_credited != 0)):
        start = Period.parse(ob.period)
        if start.year != period.year or ob.rep_id not in currency_of:
            continue
        out.append(Credit(rep_id=ob.rep_id, deal_id=f"opening:{ob.rep_id}", deal_type=ob.ytd_deal_type or "",
                          close_date=date(start.year, 1, 1), credit=ob.ytd_credited, role="primary",
                          split_pct=Decimal("1"), deal_amount=ob.ytd_credited, account="opening balance",
                          term_months=None, product=None, cancelled_on=None, currency=currency_of[ob.rep_id]))
    return out


@dataclass
class ReopenReport:
    period: str
    status: str
    reason: str

    def text(self) -> str:
        return (f"{self.period} reopened ({self.status}): {self.reason}; run `compengine close run {self.period}` "
                "if anything changed, then lock it again")


def reopen_period(session: Session, period: Period, actor: str, reason: str, *, now: datetime | None = None) -> ReopenReport:
    """Reopen the latest locked month while its payouts have not been exported."""
    now = now or utcnow()
    reason = reason.strip()
    if not reason:
        raise CompErrors("reopening a locked month needs a reason (--reason)")
    row = lock_period_row(session, period)
    if row.status != "locked":
        raise CompErrors(f"period {period} is not locked ({row.status}): nothing to reopen")
    later = session.scalar(select(PeriodRow.period).where(PeriodRow.period > str(period), PeriodRow.status == "locked")
                           .order_by(PeriodRow.period.desc()).limit(1))
    if later is not None:
        raise CompErrors(f"period {later} is locked after {period}: only the latest locked month can be reopened")
    if row.exported_at is not None:
        raise CompErrors(f"the payouts of {period} were exported for payroll at {row.exported_at:%Y-%m-%d %H:%M} by "
                         f"{row.exported_by}: it stays locked; correct it in the next open month (adjust, or import the "
                         "change: late changes are paid there)")
    moved = session.scalar(select(func.count()).select_from(DealEvent).where(
        DealEvent.id > (row.calc_watermark if row.calc_watermark is not None else row.last_event_id or 0))) or 0
    status = "stale" if moved else "calculated"
    before = {"status": "locked", "locked_at": row.locked_at, "locked_by": row.locked_by}
    row.status, row.locked_at, row.locked_by, row.last_event_id = status, None, None, None
    mark_reopened(session, period, now)
    audit(session, actor, "close.reopen", f"{period} reopened: {reason}", period=str(period), entity="period",
          entity_id=str(period), before=before, after={"status": status, "reason": reason}, at=now)
    return ReopenReport(str(period), status, reason)
