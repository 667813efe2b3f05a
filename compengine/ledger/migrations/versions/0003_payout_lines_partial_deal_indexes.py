"""payout_lines: replace the full deal_id index with partial ones (clawback, adjustment lines)

A full index on deal_id took half the time of storing a month of two million
lines; deal lookups now go through the period index, and the few clawback and
correction lines have their own small partial indexes.

Revision ID: 0003
Revises: 0002
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_payout_lines_deal")
    for kind in ("clawback", "adjustment"):
        op.create_index(f"ix_payout_lines_{kind}_deal", "payout_lines", ["deal_id"],
                        sqlite_where=sa.text(f"kind = '{kind}'"), postgresql_where=sa.text(f"kind = '{kind}'"))


def downgrade() -> None:
    for kind in ("clawback", "adjustment"):
        op.drop_index(f"ix_payout_lines_{kind}_deal", table_name="payout_lines")
    with op.batch_alter_table("payout_lines", schema=None) as batch_op:
        batch_op.create_index("ix_payout_lines_deal", ["deal_id"], unique=False)
