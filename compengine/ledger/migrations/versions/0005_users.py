"""Users, API tokens, and adjustments that wait for approval

* ``users``: name, role (rep, manager, ops, finance, admin), the rep a rep or
  manager is, an argon2 password hash, disabled flag.
* ``api_tokens``: SHA-256 of each API token (the token itself is shown once).
* ``adjustments.status`` (``approved`` | ``pending``, existing rows approved),
  ``approved_by``, ``approved_at``: an adjustment above the
  ``adjustment_approval_threshold`` setting waits for a second user's approval;
  only approved ones reach the close.

Revision ID: 0005
Revises: 0004
"""
from alembic import op
import sqlalchemy as sa

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=True),
        sa.Column("password_hash", sa.String(length=200), nullable=True),
        sa.Column("disabled", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("created_by", sa.String(length=100), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_users")),
    )
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("user_name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_name"], ["users.name"], name=op.f("fk_api_tokens_user_name_users")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_index(op.f("ix_api_tokens_user_name"), "api_tokens", ["user_name"], unique=False)
    # plain ADD COLUMN (no table rebuild): the adjustments table has no triggers, but keep it cheap anyway
    op.add_column("adjustments", sa.Column("status", sa.String(length=12), nullable=False, server_default="approved"))
    op.add_column("adjustments", sa.Column("approved_by", sa.String(length=100), nullable=True))
    op.add_column("adjustments", sa.Column("approved_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("adjustments", schema=None) as batch_op:
        batch_op.drop_column("approved_at")
        batch_op.drop_column("approved_by")
        batch_op.drop_column("status")
    op.drop_index(op.f("ix_api_tokens_user_name"), table_name="api_tokens")
    op.drop_table("api_tokens")
    op.drop_table("users")
