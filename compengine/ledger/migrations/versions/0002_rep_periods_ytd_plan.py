"""rep_periods.ytd_plan: the plan a rep's year-to-date paid tally belongs to

Revision ID: 0002
Revises: 0001
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rep_periods", schema=None) as batch_op:
        batch_op.add_column(sa.Column("ytd_plan", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("rep_periods", schema=None) as batch_op:
        batch_op.drop_column("ytd_plan")
