"""Small shared pieces of the ledger: clock, audit entries, periods, bulk inserts."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from compengine.core.errors import CompErrors
from compengine.core.money import to_thousandths
from compengine.core.periods import Period
from compengine.ledger.hashes import audit_hash
from compengine.ledger.models import AuditRow, PeriodRow


def utcnow() -> datetime:
    """The ledger's clock (naive UTC). Only the edges read it; the engine never does."""
    return datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value


def audit(
    session: Session,
    actor: str,
    action: str,
    summary: str,
    *,
    period: str | None = None,
    rep_id: str | None = None,
    entity: str = "",
    entity_id: str = "",
    before: Any = None,
    after: Any = None,
    at: datetime | None = None,
) -> None:
    """Append an entry to the audit log, chained to the entry before it (``hashes.audit_hash``).

    On PostgreSQL the append takes a transaction-level advisory lock (:func:`lock_audit_chain`),
    held until commit, so two writers never chain to the same entry; SQLite's writers are
    already one at a time (``BEGIN IMMEDIATE``). The entry is inserted at once, hash and all:
    the database refuses any later UPDATE of it.
    """
    lock_audit_chain(session)
    row = AuditRow(
        at=at or utcnow(),
        actor=actor,
        action=action,
        period=period,
        rep_id=rep_id,
        entity=entity,
        entity_id=entity_id,
        summary=summary,
        before=None if before is None else json.dumps(_jsonable(before), sort_keys=True),
        after=None if after is None else json.dumps(_jsonable(after), sort_keys=True),
    )
    # autoflush writes this transaction's earlier entries first, so the last row is the chain's head
    row.prev_hash = session.scalar(select(AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
    row.hash = audit_hash(row.at, row.actor, row.action, row.period, row.rep_id, row.entity, row.entity_id, row.summary,
                          row.before, row.after, row.prev_hash)
    session.add(row)
    session.flush()


# pg_advisory_xact_lock(AUDIT_LOCK_CLASS, oid of audit_log): one lock per ledger schema
AUDIT_LOCK_CLASS = 0x636F6D70  # "comp"


def lock_audit_chain(session: Session) -> None:
    """Take the audit log's append lock for this transaction (PostgreSQL; a no-op on SQLite).

    Held until commit. Transactions that hold long row locks (a close holds its month's row)
    take it first, in :func:`lock_period_row`, so the lock order is always audit chain, then
    rows, and a close and an adjustment cannot deadlock over it."""
    if session.get_bind().dialect.name != "postgresql" or session.info.get("audit_locked") is session.get_transaction():
        return
    session.execute(text(f"SELECT pg_advisory_xact_lock({AUDIT_LOCK_CLASS}, "
                         "CAST(CAST(CAST(CAST('audit_log' AS regclass) AS oid) AS bigint) % 2147483647 AS integer))"))
    session.info["audit_locked"] = session.get_transaction()


def ensure_period(session: Session, period: Period | str) -> None:
    """Create the period row (status open) if it does not exist; safe under concurrency."""
    p = str(period)
    dialect = session.get_bind().dialect.name
    ins = pg_insert(PeriodRow) if dialect == "postgresql" else sqlite_insert(PeriodRow)
    session.execute(
        ins.values(period=p, status="open", runs=0, plan_versions="{}", line_count=0).on_conflict_do_nothing(
            index_elements=["period"]
        )
    )


def lock_period_row(session: Session, period: Period | str) -> PeriodRow:
    """The period row, created if needed, locked FOR UPDATE (PostgreSQL) for this transaction.

    Takes the audit chain's lock first (:func:`lock_audit_chain`): whoever locks a month writes
    the audit log too, and taking the two in this order everywhere keeps them deadlock-free."""
    lock_audit_chain(session)
    ensure_period(session, period)
    row = session.execute(select(PeriodRow).where(PeriodRow.period == str(period)).with_for_update()).scalar_one()
    return row


def period_status(session: Session, period: Period | str) -> str:
    """``open`` (never calculated, or reopened), ``calculated``, ``stale`` (calculated, then
    something it depends on changed: run it again) or ``locked``."""
    row = session.get(PeriodRow, str(period))
    return row.status if row else "open"


def refuse_if_locked(session: Session, period: Period | str, doing: str) -> None:
    if period_status(session, period) == "locked":
        raise CompErrors(f"period {period} is locked: cannot {doing}; late changes go into the next open month")


def first_open_period(session: Session, on_or_after: Period) -> Period:
    locked = set(session.scalars(select(PeriodRow.period).where(PeriodRow.status == "locked")))
    p = on_or_after
    while str(p) in locked:
        p = p.next()
    return p


def invalidate_from(session: Session, period: Period, actor: str, why: str) -> list[str]:
    """Calculated months from ``period`` on become ``stale``: something they depend on changed.

    Their lines stay (readable, marked stale) until the next close run replaces them;
    a stale month cannot be locked, exported or followed by a close of the month
    after it. The period rows are locked (FOR UPDATE, in month order) and their
    status re-checked under the lock: a locked month is never touched.
    """
    rows = session.scalars(
        select(PeriodRow).where(PeriodRow.period >= str(period), PeriodRow.status == "calculated")
        .order_by(PeriodRow.period).with_for_update()
    ).all()
    out = []
    for row in rows:
        if row.status != "calculated":  # re-checked under the lock
            continue
        row.status = "stale"
        audit(session, actor, "period.stale", f"{row.period} needs a new close run: {why}", period=row.period,
              entity="period", entity_id=row.period, before={"status": "calculated"}, after={"status": "stale"})
        out.append(row.period)
    session.flush()
    return out


def stale_months(session: Session) -> set[str]:
    """The months whose status is ``stale`` (compare before and after a change to say which it made stale)."""
    return set(session.scalars(select(PeriodRow.period).where(PeriodRow.status == "stale")))


def null_token(session: Session) -> Any:
    """What a bulk row holds for SQL NULL in a ``nullable`` column: ``''`` on SQLite, None elsewhere.

    Python's sqlite3 binds None through its adapter protocol, about 1.2 µs per value
    (three times an int): with two million payout lines of up to eight empty
    columns that was a quarter of a close. Rows for SQLite carry ``''`` instead and
    the INSERT turns it back into NULL with ``NULLIF(?, '')`` (only for the columns
    the caller names as nullable, none of which ever holds an empty string).
    """
    return "" if session.get_bind().dialect.name == "sqlite" else None


def bulk_insert(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]], *,
                has_dates: bool = True, nullable: Sequence[str] = (), constants: Mapping[str, str | None] | None = None) -> int:
    """Insert many rows fast: COPY on PostgreSQL, executemany on SQLite. Values must be plain
    (int, str, date, datetime, None); convert money with :func:`cents` first. ``has_dates=False``
    skips the per-value date conversion SQLite needs (a hot path for payout lines).
    ``nullable`` names columns whose NULLs the rows give as :func:`null_token` (see there).
    ``constants`` are columns with the same value in every row (text or NULL), left out of
    the rows: SQLite gets them as literals in the statement (nothing to bind per row)."""
    conn = session.connection()
    dialect = conn.dialect.name
    constants = dict(constants or {})
    count = 0
    if dialect == "postgresql":
        tail = tuple(constants.values())
        names = [*columns, *constants]
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            with cur.copy(f"COPY {table} ({', '.join(names)}) FROM STDIN") as copy:
                write = copy.write_row
                for row in rows:
                    write((*row, *tail) if tail else row)
                    count += 1
        return count
    marks = [("NULLIF(?, '')" if c in nullable else "?") for c in columns]
    marks += ["NULL" if v is None else "'" + v.replace("'", "''") + "'" for v in constants.values()]
    sql = f"INSERT INTO {table} ({', '.join([*columns, *constants])}) VALUES ({', '.join(marks)})"
    batch: list[Sequence[Any]] = []
    for row in rows:
        batch.append(tuple(_sqlite_value(v) for v in row) if has_dates else row)
        if len(batch) >= 50000:
            conn.exec_driver_sql(sql, batch)
            count += len(batch)
            batch = []
    if batch:
        conn.exec_driver_sql(sql, batch)
        count += len(batch)
    return count


def _sqlite_value(v: Any) -> Any:
    """SQLAlchemy's own SQLite storage format for dates and datetimes (text)."""
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(v, date):
        return v.isoformat()
    return v


def stored_money(value: Decimal | None) -> int | None:
    """An amount as a money column stores it (integer thousandths, ``types.Thousandths``), or None."""
    return None if value is None else to_thousandths(value)
