"""Plan components: deal units, cost and attributes, quotas per component, explained lines, seal formats

* ``payout_lines``: ``component`` (the plan component that made the line), ``base`` (credit x rate
  at the base rate, before the band's multiplier, rounded once to cents), ``deal_source`` (the deal's import file:line) and
  ``rule_source`` (where the rule is written, and the plan version). NULL on existing rows.
* ``rep_periods``: ``parts`` (JSON: each component's quota, credit, attainment and pay) and
  ``component_paid`` (JSON: what each component paid in its quota period so far, carried to the
  next month). "" on existing rows (read as none).
* ``deals``: ``quantity`` (exact decimal text, existing deals 1), ``cost`` (cents, 0), ``attrs``
  (JSON object of further deals.csv columns and products.csv's category, ""), and ``source``: the
  file:line of the deal's latest event (filled from ``deal_events``), for fast reads.
* ``deal_events``: ``quantity``, ``cost`` and ``attrs`` as of a won or amended event (NULL on other
  kinds and on the events recorded before this migration).
* ``quotas``: a rep's annual quota per plan component, effective-dated; history like ``assignments``
  (superseded, never deleted).
* ``period_seals.format``: the seal format (which columns a seal hashes, ``seals.SEAL_FORMATS``);
  the seals written before are ``compengine-seal/1`` and keep verifying over the columns they
  covered. The trigger that allows a seal only to be marked reopened covers ``format`` too.

Columns are added with plain ALTER TABLE (no SQLite batch copy: it would drop the triggers of
migration 0004 on ``payout_lines``, ``rep_periods`` and ``period_seals``); nothing existing is
updated in ``payout_lines``, ``rep_periods`` or ``period_seals`` (their triggers refuse it for
locked months): the new columns get their values from their server defaults.

Revision ID: 0007
Revises: 0006
"""
from alembic import op
import sqlalchemy as sa

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

FORMAT_1 = "compengine-seal/1"
# the seal columns the triggers of 0004 keep as they were written; 0007 adds ``format``
SEALED_COLUMNS_0004 = ("id", "period", "lines_digest", "line_count", "total_payout", "prev_seal", "seal", "sealed_at",
                       "sealed_by")
SEALED_COLUMNS_0007 = SEALED_COLUMNS_0004 + ("format",)



def _added() -> list[tuple[str, sa.Column]]:
    """The added columns (new Column objects each call: a Column belongs to one table)."""
    return [
        ("payout_lines", sa.Column("component", sa.String(length=64), nullable=True)),
        ("payout_lines", sa.Column("base", sa.BigInteger(), nullable=True)),  # cents: the line at the base rate, rounded
        ("payout_lines", sa.Column("deal_source", sa.String(length=300), nullable=True)),
        ("payout_lines", sa.Column("rule_source", sa.String(length=300), nullable=True)),
        ("rep_periods", sa.Column("parts", sa.Text(), nullable=False, server_default="")),
        ("rep_periods", sa.Column("component_paid", sa.Text(), nullable=False, server_default="")),
        ("deals", sa.Column("quantity", sa.String(length=40), nullable=False, server_default="1")),
        ("deals", sa.Column("cost", sa.BigInteger(), nullable=False, server_default="0")),
        ("deals", sa.Column("attrs", sa.Text(), nullable=False, server_default="")),
        ("deals", sa.Column("source", sa.String(length=300), nullable=False, server_default="")),
        ("deal_events", sa.Column("quantity", sa.String(length=40), nullable=True)),
        ("deal_events", sa.Column("cost", sa.BigInteger(), nullable=True)),
        ("deal_events", sa.Column("attrs", sa.Text(), nullable=True)),
        ("period_seals", sa.Column("format", sa.String(length=32), nullable=False, server_default=FORMAT_1)),
    ]


def upgrade() -> None:
    for table, column in _added():
        op.add_column(table, column)
    op.create_table(
        "quotas",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("component", sa.String(length=64), nullable=False),
        sa.Column("start", sa.Date(), nullable=False),
        sa.Column("end", sa.Date(), nullable=True),
        sa.Column("annual", sa.BigInteger(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.rep_id"], name=op.f("fk_quotas_rep_id_reps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quotas")),
    )
    op.create_index(op.f("ix_quotas_rep_id"), "quotas", ["rep_id"], unique=False)
    # a deal's source: the file:line of its latest event
    op.execute("UPDATE deals SET source = COALESCE((SELECT e.source FROM deal_events e WHERE e.deal_id = deals.deal_id "
               "ORDER BY e.id DESC LIMIT 1), '')")
    _seal_trigger(op.get_bind().dialect.name, SEALED_COLUMNS_0007)


def _seal_trigger(dialect: str, columns: tuple[str, ...]) -> None:
    """(Re)create the check that a period seal is only ever marked reopened, over ``columns``."""
    if dialect == "sqlite":
        same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in columns)
        op.execute("DROP TRIGGER IF EXISTS period_seals_only_reopen")
        op.execute("CREATE TRIGGER period_seals_only_reopen BEFORE UPDATE ON period_seals "
                   f"WHEN NOT (OLD.reopened_at IS NULL AND NEW.reopened_at IS NOT NULL AND {same}) "
                   "BEGIN SELECT RAISE(ABORT, 'compengine: a period seal can only be marked reopened, once'); END")
    elif dialect == "postgresql":
        op.execute(f"""
CREATE OR REPLACE FUNCTION compengine_seal_update() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF OLD.reopened_at IS NULL AND NEW.reopened_at IS NOT NULL
     AND ROW({", ".join("NEW." + c for c in columns)}) IS NOT DISTINCT FROM ROW({", ".join("OLD." + c for c in columns)}) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'compengine: a period seal can only be marked reopened, once' USING ERRCODE = 'restrict_violation';
END $$""")


def downgrade() -> None:
    _seal_trigger(op.get_bind().dialect.name, SEALED_COLUMNS_0004)  # before its column goes
    op.drop_index(op.f("ix_quotas_rep_id"), table_name="quotas")
    op.drop_table("quotas")
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy would drop the triggers of 0004
    for table, column in reversed(_added()):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column.name}")
