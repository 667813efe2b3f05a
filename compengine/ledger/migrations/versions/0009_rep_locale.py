"""A rep's locale: how their statements write amounts (reps.csv ``locale``, issue 15)

* ``reps.locale``: a CLDR locale name (``de_DE``, ``ja_JP``) or NULL (the house format). It is how a
  statement is written, not what a rep is paid: it lives on the latest rep row only (no rep version,
  nothing repriced when it changes), and each import sets it from reps.csv.

Revision ID: 0009
Revises: 0008
"""
from alembic import op
import sqlalchemy as sa

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("reps", sa.Column("locale", sa.String(35), nullable=True))


def downgrade() -> None:
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of reps would break the foreign keys
    # that point at it
    op.drop_column("reps", "locale")
