"""The period life cycle: watermarks, stale months, exceptions, export marks, seals,
a hash-chained audit log, ledger settings and opening balances

* ``periods``: ``calc_watermark`` (the last deal event a close run saw),
  ``results_digest`` (SHA-256 of the month's stored results, to tell whether a
  rerun changed anything later months depend on), ``exceptions`` (JSON list of
  the last run's exceptions), ``exceptions_accepted`` (the reason given with
  ``close lock --accept-exceptions``), ``exported_at``/``exported_by`` (the
  payroll file was written: the month can no longer be reopened).
* ``period_seals``: one row per lock (a chain: each seal covers the previous).
* ``audit_log.hash``/``prev_hash``: the audit log as a hash chain.
* ``settings``: ledger-wide settings (company name, first month).
* ``opening_balances``: a rep's balances when the ledger starts mid-year.

Revision ID: 0004
Revises: 0003
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calc_watermark", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("results_digest", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("exceptions", sa.Text(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("exceptions_accepted", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("exported_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("exported_by", sa.String(length=100), nullable=True))
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("hash", sa.String(length=64), nullable=True))
    op.create_table(
        "period_seals",
        sa.Column("id", BIGINT, autoincrement=True, nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("lines_digest", sa.String(length=64), nullable=False),
        sa.Column("line_count", sa.Integer(), nullable=False),
        sa.Column("total_payout", sa.BigInteger(), nullable=False),
        sa.Column("prev_seal", sa.String(length=64), nullable=True),
        sa.Column("seal", sa.String(length=64), nullable=False),
        sa.Column("sealed_at", sa.DateTime(), nullable=False),
        sa.Column("sealed_by", sa.String(length=100), nullable=False),
        sa.Column("reopened_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_period_seals")),
    )
    op.create_index("ix_period_seals_period", "period_seals", ["period"])
    op.create_table(
        "settings",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("updated_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_settings")),
    )
    op.create_table(
        "opening_balances",
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=7), nullable=False),
        sa.Column("ytd_credited", sa.BigInteger(), nullable=False),
        sa.Column("ytd_paid", sa.BigInteger(), nullable=False),
        sa.Column("draw_balance", sa.BigInteger(), nullable=False),
        sa.Column("carry_balance", sa.BigInteger(), nullable=False),
        sa.Column("ytd_deal_type", sa.String(length=20), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.rep_id"], name=op.f("fk_opening_balances_rep_id_reps")),
        sa.PrimaryKeyConstraint("rep_id", name=op.f("pk_opening_balances")),
    )


def downgrade() -> None:
    op.drop_table("opening_balances")
    op.drop_table("settings")
    op.drop_index("ix_period_seals_period", table_name="period_seals")
    op.drop_table("period_seals")
    with op.batch_alter_table("audit_log", schema=None) as batch_op:
        batch_op.drop_column("hash")
        batch_op.drop_column("prev_hash")
    with op.batch_alter_table("periods", schema=None) as batch_op:
        for c in ("exported_by", "exported_at", "exceptions_accepted", "exceptions", "results_digest", "calc_watermark"):
            batch_op.drop_column(c)
