"""payout_lines: a partial index of the commission lines stored without their base (before 0007)

``reconcile`` works out the base of a commission line stored before lines carried it (migration
0007); finding whether a month has such a line took a scan of its lines (0.4 s of a million-line
month on SQLite), and working it out for every line in the one pass over them another 0.2 s. The
index holds only those old lines: empty in a ledger started since 0007, so storing a month pays one
test of the condition a line, and a month without old lines is told in one index seek.

Revision ID: 0010
Revises: 0009
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

UNBASED = "kind = 'commission' AND base IS NULL"


def upgrade() -> None:
    op.create_index("ix_payout_lines_unbased", "payout_lines", ["period"],
                    sqlite_where=sa.text(UNBASED), postgresql_where=sa.text(UNBASED))


def downgrade() -> None:
    op.drop_index("ix_payout_lines_unbased", table_name="payout_lines")
