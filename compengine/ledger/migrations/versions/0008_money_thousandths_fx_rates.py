"""Multi-currency ledger (issue 15): money in thousandths of a unit, exchange rates with history

* Every money column (BIGINT) held integer **cents**; it now holds integer **thousandths** of the
  amount's unit, so 0-, 2- and 3-decimal currencies (JPY, USD, KWD) are all exact. Upgrading
  multiplies each stored value by 10, in every money column (``payout_lines.base`` of 0007
  included), on SQLite and PostgreSQL. Locked months' lines and rep totals and the seals are
  scaled too: the triggers of 0004 and 0007 that refuse changes to them are dropped for the
  update and created again, as they were. Seals written before (formats 1 and 2) hash money as
  cents: they keep verifying over the stored thousandths divided by ten (``seals.CENT_FORMATS``);
  months locked from now on are sealed in format 3 (thousandths).
* ``fx_rates``: the exchange rates imported from a data folder's ``fx_rates.csv``; rows are never
  changed nor deleted (a corrected rate is a new row, the old one marked ``superseded_at``).
* ``periods.last_fx_id``: the fx_rates rows a month's last close run saw (a rate recorded after
  the month was locked reprices it as a late change).

Downgrading divides by 10 and is refused while any stored amount has a third decimal (a KWD
amount, or a JPY conversion's sub-cent part cannot be stored in cents). Months sealed in format 3
then no longer verify under the older code (it does not know the format) until upgraded again.

Revision ID: 0008
Revises: 0007
"""
import importlib.util
from pathlib import Path

from alembic import op
import sqlalchemy as sa

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# every money column as of this migration (frozen here: a later money column scales itself)
MONEY_COLUMNS = {
    "assignments": ("annual_quota",),
    "quotas": ("annual",),
    "deals": ("amount", "cost"),
    "deal_events": ("amount", "cost"),
    "periods": ("total_payout",),
    "rep_periods": ("quota", "credited", "ytd_quota", "ytd_credited", "payout", "draw_balance", "carry_balance",
                    "ytd_paid"),
    "payout_lines": ("amount", "credit", "base"),
    "adjustments": ("amount",),
    "disputes": ("amount", "resolved_amount"),
    "period_seals": ("total_payout",),
    "opening_balances": ("ytd_credited", "ytd_paid", "draw_balance", "carry_balance"),
}


def _sibling(name: str):  # noqa: ANN202
    """A migration module of this folder (their file names start with digits: not importable by name)."""
    path = Path(__file__).with_name(name)
    spec = importlib.util.spec_from_file_location(f"compengine_migration_{path.stem}", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _rescale(sql_for: str) -> None:
    """Run ``UPDATE t SET c = <sql_for % c>`` over every money column with the lock triggers out of the way."""
    dialect = op.get_bind().dialect.name
    m0004, m0007 = _sibling("0004_period_lifecycle.py"), _sibling("0007_components_quotas.py")
    m0004.drop_triggers(dialect)
    if dialect == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS period_seals_only_reopen")
    for table, columns in MONEY_COLUMNS.items():
        sets = ", ".join(f"{c} = {sql_for.format(c=c)}" for c in columns)
        op.execute(f"UPDATE {table} SET {sets}")
    m0004.create_triggers(dialect)
    m0007._seal_trigger(dialect, m0007.SEALED_COLUMNS_0007)


def upgrade() -> None:
    _rescale("{c} * 10")
    op.create_table(
        "fx_rates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("from_currency", sa.String(length=3), nullable=False),
        sa.Column("to_currency", sa.String(length=3), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fx_rates")),
    )
    op.create_index("ix_fx_rates_pair_day", "fx_rates", ["from_currency", "to_currency", "day"], unique=False)
    op.add_column("periods", sa.Column("last_fx_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    bind = op.get_bind()
    finer = []
    for table, columns in MONEY_COLUMNS.items():
        for c in columns:
            n = bind.execute(sa.text(f"SELECT COUNT(*) FROM {table} WHERE {c} % 10 <> 0")).scalar()
            if n:
                finer.append(f"{table}.{c} ({n} row(s))")
    if finer:
        raise RuntimeError("cannot downgrade below 0008: amounts with a third decimal cannot be stored in cents: "
                           + ", ".join(finer))
    op.execute("ALTER TABLE periods DROP COLUMN last_fx_id")
    op.drop_index("ix_fx_rates_pair_day", table_name="fx_rates")
    op.drop_table("fx_rates")
    _rescale("{c} / 10")
