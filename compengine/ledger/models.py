"""The ledger's tables (SQLAlchemy 2 typed ORM).

Append-only records: ``deal_events`` (won, amended, cancelled, splits_changed),
``adjustments``, ``audit_log``, ``plan_versions``, ``dispute_events``.
Period results: ``payout_lines`` and ``rep_periods`` (one row per rep and month:
measures, payout and the balances carried into the next month); they are
replaced only while their period is not locked.
``deals.amount``/``deals.cancelled_on`` and ``splits.superseded_at`` are a
projection of the events, kept for fast reads (``projection.rebuild`` recomputes it).
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from compengine.ledger.types import DecimalText, Thousandths

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class RepRow(Base):
    __tablename__ = "reps"
    rep_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    manager_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    team: Mapped[str] = mapped_column(String(100), default="")
    hire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    termination_date: Mapped[date | None] = mapped_column(Date, nullable=True)  # migration 0006
    # migration 0009: how the rep's statements write amounts (reps.csv locale; not priced, not versioned)
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)


class RepVersionRow(Base):
    """A rep's master data in force from ``valid_from`` (until the next current version).

    Type-2 history (migration 0006): a change never updates a version, it adds one;
    a version replaced by a later import of the same effective date is marked
    ``superseded_at`` and kept. ``reps`` holds the latest version, for fast reads.
    """

    __tablename__ = "rep_versions"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), index=True)
    valid_from: Mapped[date] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(200), default="")
    manager_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    team: Mapped[str] = mapped_column(String(100), default="")
    hire_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    termination_date: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    source: Mapped[str] = mapped_column(String(300), default="")


class PlanVersion(Base):
    __tablename__ = "plan_versions"
    __table_args__ = (UniqueConstraint("plan_id", "digest"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(String(64), index=True)
    digest: Mapped[str] = mapped_column(String(64))
    file: Mapped[str] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime)


class AssignmentRow(Base):
    __tablename__ = "assignments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), index=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, nullable=True)
    annual_quota: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    # history (migration 0006): rows are never deleted; a row an import replaced is superseded
    recorded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")


class QuotaRow(Base):
    """A rep's annual quota for one plan component, in force ``start``..``end`` (quotas.csv; migration 0007).

    History like ``assignments``: rows are never deleted; a row an import replaced is superseded."""

    __tablename__ = "quotas"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), index=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    component: Mapped[str] = mapped_column(String(64))
    start: Mapped[date] = mapped_column(Date)
    end: Mapped[date | None] = mapped_column(Date, nullable=True)
    annual: Mapped[Decimal] = mapped_column(Thousandths)
    source: Mapped[str] = mapped_column(String(300), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PlanScheduleRow(Base):
    """Which stored plan version is in force from ``effective_from`` to ``effective_to``
    (inclusive; None = open-ended). Rows an import replaced are superseded, never deleted."""

    __tablename__ = "plan_schedule"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    plan_id: Mapped[str] = mapped_column(String(64), index=True)
    version_id: Mapped[int] = mapped_column(Integer, ForeignKey("plan_versions.id"))
    effective_from: Mapped[date] = mapped_column(Date)
    effective_to: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class RetroChangeRow(Base):
    """A master-data change imported with ``--retroactive`` over locked months
    ``first_period``..``last_period``: the next close reprices them and pays the differences."""

    __tablename__ = "retro_changes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    batch_id: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    plan_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    first_period: Mapped[str] = mapped_column(String(7))
    last_period: Mapped[str] = mapped_column(String(7))
    description: Mapped[str] = mapped_column(Text)


class FxRateRow(Base):
    """An exchange rate (fx_rates.csv, migration 0008): from ``day`` on, 1 ``from_currency`` = ``rate``
    ``to_currency``, until the pair's next rate.

    History like the other master data: a row is never updated nor deleted. A rate imported again for a
    pair and day with another value is a new row; the row it corrects is marked ``superseded_at`` and kept.
    """

    __tablename__ = "fx_rates"
    __table_args__ = (Index("ix_fx_rates_pair_day", "from_currency", "to_currency", "day"),)
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    day: Mapped[date] = mapped_column(Date)
    from_currency: Mapped[str] = mapped_column(String(3))
    to_currency: Mapped[str] = mapped_column(String(3))
    rate: Mapped[Decimal] = mapped_column(DecimalText)
    source: Mapped[str] = mapped_column(String(300), default="")
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    batch_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DealRow(Base):
    __tablename__ = "deals"
    deal_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    account: Mapped[str] = mapped_column(String(200), default="")
    deal_type: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    close_date: Mapped[date] = mapped_column(Date)
    close_period: Mapped[str] = mapped_column(String(7), index=True)
    owner_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"))
    term_months: Mapped[int | None] = mapped_column(Integer, nullable=True)
    product: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # projection of deal_events (latest amount, cancellation)
    amount: Mapped[Decimal] = mapped_column(Thousandths)
    cancelled_on: Mapped[date | None] = mapped_column(Date, nullable=True)
    # migration 0007: units, cost (margin = amount - cost) and attributes (deals.csv's further columns and
    # products.csv's category: a JSON object, keys sorted; "" when none), projected from the latest won or
    # amended event; ``source``: the file:line of the deal's latest event (Credit.source)
    quantity: Mapped[Decimal] = mapped_column(DecimalText, default=Decimal(1), server_default="1")
    cost: Mapped[Decimal] = mapped_column(Thousandths, default=Decimal(0), server_default="0")
    attrs: Mapped[str] = mapped_column(Text, default="", server_default="")
    source: Mapped[str] = mapped_column(String(300), default="", server_default="")


class DealEvent(Base):
    __tablename__ = "deal_events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String(64), ForeignKey("deals.deal_id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # won | amended | cancelled | splits_changed
    amount: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    effective: Mapped[date | None] = mapped_column(Date, nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    batch_id: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(300), default="")
    # migration 0007: the deal's units, cost and attributes as of a won or amended event (NULL on other
    # kinds, and on events recorded before 0007)
    quantity: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    cost: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    attrs: Mapped[str | None] = mapped_column(Text, nullable=True)


class SplitRow(Base):
    __tablename__ = "splits"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    deal_id: Mapped[str] = mapped_column(String(64), ForeignKey("deals.deal_id"), index=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"))
    split_pct: Mapped[Decimal] = mapped_column(DecimalText)
    role: Mapped[str] = mapped_column(String(10))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class PeriodRow(Base):
    __tablename__ = "periods"
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | calculated | stale | locked
    calculated_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    locked_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    runs: Mapped[int] = mapped_column(Integer, default=0)
    plan_versions: Mapped[str] = mapped_column(Text, default="{}")  # JSON: plan_id -> plan_versions.id
    total_payout: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    last_event_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # deal events seen when locked
    calc_watermark: Mapped[int | None] = mapped_column(BigInteger, nullable=True)  # deal events seen by the last run
    results_digest: Mapped[str | None] = mapped_column(String(64), nullable=True)  # SHA-256 of the stored results
    exceptions: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")  # JSON: the last run's exceptions
    exceptions_accepted: Mapped[str | None] = mapped_column(Text, nullable=True)  # reason given at lock
    exported_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)  # payroll file written
    exported_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    last_retro_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # retro_changes seen when locked
    # migration 0008: the fx_rates rows the month's last close run saw (the highest id); a rate recorded after
    # the lock (a new or corrected rate in force in the month) reprices the month as a late change
    last_fx_id: Mapped[int | None] = mapped_column(Integer, nullable=True)


class RepPeriod(Base):
    __tablename__ = "rep_periods"
    period: Mapped[str] = mapped_column(String(7), primary_key=True)
    rep_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    plan_id: Mapped[str] = mapped_column(String(64))
    currency: Mapped[str] = mapped_column(String(3))
    measure: Mapped[str] = mapped_column(String(8))
    quota: Mapped[Decimal] = mapped_column(Thousandths)
    credited: Mapped[Decimal] = mapped_column(Thousandths)
    attainment: Mapped[Decimal] = mapped_column(DecimalText)
    ytd_quota: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    ytd_credited: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    tenure_month: Mapped[int | None] = mapped_column(Integer, nullable=True)
    payout: Mapped[Decimal] = mapped_column(Thousandths)
    draw_balance: Mapped[Decimal] = mapped_column(Thousandths)
    carry_balance: Mapped[Decimal] = mapped_column(Thousandths)
    ytd_paid: Mapped[Decimal] = mapped_column(Thousandths)
    ytd_year: Mapped[int] = mapped_column(Integer)
    ytd_plan: Mapped[str | None] = mapped_column(String(64), nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    # migration 0007 (JSON text, "" when empty; codec.parts_text / component_paid_text): RepResult.parts
    # (each plan component's quota, credit, attainment, paid) and RepState.component_paid (carried)
    parts: Mapped[str] = mapped_column(Text, default="", server_default="")
    component_paid: Mapped[str] = mapped_column(Text, default="", server_default="")


# The commission lines stored before lines carried their base (migration 0007): the condition of the
# partial index ix_payout_lines_unbased, which a query uses only when its WHERE says the same.
UNBASED_LINES = "kind = 'commission' AND base IS NULL"


class PayoutLineRow(Base):
    __tablename__ = "payout_lines"
    # No full index on deal_id (it halves the speed of storing a big month): deal lookups go through
    # the period index, and two small partial indexes serve the clawback and correction lines.
    __table_args__ = (
        Index("ix_payout_lines_period_rep", "period", "rep_id", "seq"),
        Index("ix_payout_lines_clawback_deal", "deal_id", sqlite_where=text("kind = 'clawback'"),
              postgresql_where=text("kind = 'clawback'")),
        Index("ix_payout_lines_adjustment_deal", "deal_id", sqlite_where=text("kind = 'adjustment'"),
              postgresql_where=text("kind = 'adjustment'")),
        # migration 0010: the commission lines stored before lines carried their base (reconcile works it out)
        Index("ix_payout_lines_unbased", "period", sqlite_where=text(UNBASED_LINES),
              postgresql_where=text(UNBASED_LINES)),
    )
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7))
    rep_id: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(20))
    amount: Mapped[Decimal] = mapped_column(Thousandths)
    deal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    credit: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    rate: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    multiplier: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    tier: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rule: Mapped[str] = mapped_column(String(200), default="")
    explain: Mapped[str] = mapped_column(Text, default="")
    ref_period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    ref: Mapped[str | None] = mapped_column(String(100), nullable=True)
    role: Mapped[str | None] = mapped_column(String(10), nullable=True)
    split_pct: Mapped[Decimal | None] = mapped_column(DecimalText, nullable=True)
    # migration 0007: the plan component that made the line, credit x rate before the band's multiplier
    # (unrounded), where the deal came from (its import file:line) and where the rule is written
    component: Mapped[str | None] = mapped_column(String(64), nullable=True)
    base: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)  # credit x rate, rounded once (the part at the base rate)
    deal_source: Mapped[str | None] = mapped_column(String(300), nullable=True)
    rule_source: Mapped[str | None] = mapped_column(String(300), nullable=True)


class AdjustmentRow(Base):
    __tablename__ = "adjustments"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    amount: Mapped[Decimal] = mapped_column(Thousandths)
    reason: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20), default="manual")  # manual | dispute
    deal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ref_period: Mapped[str | None] = mapped_column(String(7), nullable=True)
    dispute_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    counts_as_commission: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))
    # approved | pending: only approved adjustments reach the close (migration 0005; see ledger.users)
    status: Mapped[str] = mapped_column(String(12), default="approved", server_default="approved")
    approved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)


class DisputeRow(Base):
    __tablename__ = "disputes"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), index=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    deal_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    status: Mapped[str] = mapped_column(String(12), default="open")  # open | approved | rejected
    resolution: Mapped[str | None] = mapped_column(Text, nullable=True)
    resolved_amount: Mapped[Decimal | None] = mapped_column(Thousandths, nullable=True)
    adjustment_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    opened_by: Mapped[str] = mapped_column(String(100))
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    resolved_by: Mapped[str | None] = mapped_column(String(100), nullable=True)


class DisputeEvent(Base):
    __tablename__ = "dispute_events"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    dispute_id: Mapped[int] = mapped_column(Integer, ForeignKey("disputes.id"), index=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(20))  # opened | comment | approved | rejected
    text: Mapped[str] = mapped_column(Text, default="")


class AuditRow(Base):
    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    action: Mapped[str] = mapped_column(String(40))
    period: Mapped[str | None] = mapped_column(String(7), nullable=True, index=True)
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    entity: Mapped[str] = mapped_column(String(40), default="")
    entity_id: Mapped[str] = mapped_column(String(100), default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    before: Mapped[str | None] = mapped_column(Text, nullable=True)
    after: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)  # the chain: hash of the entry before
    hash: Mapped[str | None] = mapped_column(String(64), nullable=True)


class ImportBatch(Base):
    __tablename__ = "import_batches"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor: Mapped[str] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(300))
    summary: Mapped[str] = mapped_column(Text, default="")


class PeriodSeal(Base):
    """One row per lock: SHA-256 over the month's lines, rep totals and the previous seal."""

    __tablename__ = "period_seals"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True)
    period: Mapped[str] = mapped_column(String(7), index=True)
    lines_digest: Mapped[str] = mapped_column(String(64))
    line_count: Mapped[int] = mapped_column(Integer)
    total_payout: Mapped[Decimal] = mapped_column(Thousandths)
    prev_seal: Mapped[str | None] = mapped_column(String(64), nullable=True)
    seal: Mapped[str] = mapped_column(String(64))
    sealed_at: Mapped[datetime] = mapped_column(DateTime)
    sealed_by: Mapped[str] = mapped_column(String(100))
    reopened_at: Mapped[datetime | None] = mapped_column(DateTime, nullable=True)
    # migration 0007: which columns and header the seal hashes (seals.SEAL_FORMATS); seals written before are format 1
    format: Mapped[str] = mapped_column(String(32), default="compengine-seal/1", server_default="compengine-seal/1")


class Setting(Base):
    """Ledger-wide settings: ``company`` (statements), ``first_period`` (close start)."""

    __tablename__ = "settings"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(DateTime)
    updated_by: Mapped[str] = mapped_column(String(100))


class OpeningBalance(Base):
    """A rep's balances when the ledger starts mid-year (``close start --opening-balances``)."""

    __tablename__ = "opening_balances"
    rep_id: Mapped[str] = mapped_column(String(64), ForeignKey("reps.rep_id"), primary_key=True)
    period: Mapped[str] = mapped_column(String(7))  # the ledger's first month
    ytd_credited: Mapped[Decimal] = mapped_column(Thousandths)
    ytd_paid: Mapped[Decimal] = mapped_column(Thousandths)
    draw_balance: Mapped[Decimal] = mapped_column(Thousandths)
    carry_balance: Mapped[Decimal] = mapped_column(Thousandths)
    ytd_deal_type: Mapped[str | None] = mapped_column(String(20), nullable=True)  # prices ytd_credited on ytd plans
    source: Mapped[str] = mapped_column(String(300))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class UserRow(Base):
    """Who may use the portal and, once any user exists, the CLI (``compengine users``)."""

    __tablename__ = "users"
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    role: Mapped[str] = mapped_column(String(12))  # rep | manager | ops | finance | admin
    rep_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # reps and managers: their reps row
    password_hash: Mapped[str | None] = mapped_column(String(200), nullable=True)  # argon2id
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(100))


class ApiTokenRow(Base):
    """An API token: only its SHA-256 is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    user_name: Mapped[str] = mapped_column(String(100), ForeignKey("users.name"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
