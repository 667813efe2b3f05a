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
* Triggers (both backends) that refuse UPDATE and DELETE of ``audit_log`` rows, of
  ``period_seals`` rows (except setting ``reopened_at`` once, see ``seals.mark_reopened``),
  and of ``payout_lines`` and ``rep_periods`` rows whose period is locked. Every refusal's
  message starts with ``compengine:`` (``db.transaction`` turns it into a one-line error).
  PostgreSQL checks lines with statement-level triggers over transition tables, so a close
  rerun deleting two million lines of an open month runs one check, not two million.
  Note for later migrations: a SQLite ``batch_alter_table`` that recreates one of these
  tables drops its triggers; create them again (``create_triggers``).

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
    create_triggers(op.get_bind().dialect.name)


LOCKED_TABLES = ("payout_lines", "rep_periods")  # rows read-only while their period is locked
SEALED_COLUMNS = ("id", "period", "lines_digest", "line_count", "total_payout", "prev_seal", "seal", "sealed_at", "sealed_by")


def _sqlite_triggers() -> list[tuple[str, str]]:
    out = []
    for table in ("audit_log",):
        for op_ in ("UPDATE", "DELETE"):
            out.append((f"{table}_no_{op_.lower()}",
                        f"CREATE TRIGGER {table}_no_{op_.lower()} BEFORE {op_} ON {table} "
                        f"BEGIN SELECT RAISE(ABORT, 'compengine: audit log entries cannot be changed or deleted'); END"))
    out.append(("period_seals_no_delete", "CREATE TRIGGER period_seals_no_delete BEFORE DELETE ON period_seals "
                "BEGIN SELECT RAISE(ABORT, 'compengine: period seals cannot be deleted'); END"))
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in SEALED_COLUMNS)
    out.append(("period_seals_only_reopen", "CREATE TRIGGER period_seals_only_reopen BEFORE UPDATE ON period_seals "
                f"WHEN NOT (OLD.reopened_at IS NULL AND NEW.reopened_at IS NOT NULL AND {same}) "
                "BEGIN SELECT RAISE(ABORT, 'compengine: a period seal can only be marked reopened, once'); END"))
    for table in LOCKED_TABLES:
        locked = "(SELECT status FROM periods WHERE period = {}.period) = 'locked'"
        out.append((f"{table}_locked_delete", f"CREATE TRIGGER {table}_locked_delete BEFORE DELETE ON {table} "
                    f"WHEN {locked.format('OLD')} "
                    f"BEGIN SELECT RAISE(ABORT, 'compengine: {table} of a locked period cannot be changed or deleted'); END"))
        out.append((f"{table}_locked_update", f"CREATE TRIGGER {table}_locked_update BEFORE UPDATE ON {table} "
                    f"WHEN {locked.format('OLD')} OR {locked.format('NEW')} "
                    f"BEGIN SELECT RAISE(ABORT, 'compengine: {table} of a locked period cannot be changed or deleted'); END"))
    return out


# One function per check; SET search_path FROM CURRENT pins the tables the function reads to the
# schema it was created in (a session's search_path cannot point it at look-alike tables).
PG_FUNCTIONS = {
    "compengine_refuse": """
CREATE FUNCTION compengine_refuse() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  RAISE EXCEPTION 'compengine: % rows cannot be changed or deleted (%)', TG_TABLE_NAME, TG_OP
    USING ERRCODE = 'restrict_violation';
END $$""",
    "compengine_seal_update": f"""
CREATE FUNCTION compengine_seal_update() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF OLD.reopened_at IS NULL AND NEW.reopened_at IS NOT NULL
     AND ROW({", ".join("NEW." + c for c in SEALED_COLUMNS)}) IS NOT DISTINCT FROM ROW({", ".join("OLD." + c for c in SEALED_COLUMNS)}) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'compengine: a period seal can only be marked reopened, once' USING ERRCODE = 'restrict_violation';
END $$""",
    "compengine_locked_delete": """
CREATE FUNCTION compengine_locked_delete() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE p text;
BEGIN
  SELECT o.period INTO p FROM (SELECT DISTINCT period FROM old_rows) o
    JOIN periods ON periods.period = o.period WHERE periods.status = 'locked' LIMIT 1;
  IF p IS NOT NULL THEN
    RAISE EXCEPTION 'compengine: % of a locked period cannot be changed or deleted (%)', TG_TABLE_NAME, p
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NULL;
END $$""",
    "compengine_locked_update": """
CREATE FUNCTION compengine_locked_update() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
DECLARE p text;
BEGIN
  SELECT o.period INTO p FROM (SELECT period FROM old_rows UNION SELECT period FROM new_rows) o
    JOIN periods ON periods.period = o.period WHERE periods.status = 'locked' LIMIT 1;
  IF p IS NOT NULL THEN
    RAISE EXCEPTION 'compengine: % of a locked period cannot be changed or deleted (%)', TG_TABLE_NAME, p
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NULL;
END $$""",
    "compengine_locked_truncate": """
CREATE FUNCTION compengine_locked_truncate() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM periods WHERE status = 'locked') THEN
    RAISE EXCEPTION 'compengine: % holds locked periods and cannot be truncated', TG_TABLE_NAME
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NULL;
END $$""",
}


def _pg_triggers() -> list[tuple[str, str, str]]:
    """(table, trigger, CREATE TRIGGER statement)."""
    out = [
        ("audit_log", "audit_log_append_only", "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
                                               "FOR EACH ROW EXECUTE FUNCTION compengine_refuse()"),
        ("audit_log", "audit_log_no_truncate", "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
                                               "FOR EACH STATEMENT EXECUTE FUNCTION compengine_refuse()"),
        ("period_seals", "period_seals_no_delete", "CREATE TRIGGER period_seals_no_delete BEFORE DELETE ON period_seals "
                                                   "FOR EACH ROW EXECUTE FUNCTION compengine_refuse()"),
        ("period_seals", "period_seals_no_truncate", "CREATE TRIGGER period_seals_no_truncate BEFORE TRUNCATE ON period_seals "
                                                     "FOR EACH STATEMENT EXECUTE FUNCTION compengine_refuse()"),
        ("period_seals", "period_seals_only_reopen", "CREATE TRIGGER period_seals_only_reopen BEFORE UPDATE ON period_seals "
                                                     "FOR EACH ROW EXECUTE FUNCTION compengine_seal_update()"),
    ]
    for t in LOCKED_TABLES:
        out += [
            (t, f"{t}_locked_delete", f"CREATE TRIGGER {t}_locked_delete AFTER DELETE ON {t} REFERENCING OLD TABLE AS old_rows "
                                      "FOR EACH STATEMENT EXECUTE FUNCTION compengine_locked_delete()"),
            (t, f"{t}_locked_update", f"CREATE TRIGGER {t}_locked_update AFTER UPDATE ON {t} REFERENCING OLD TABLE AS old_rows "
                                      "NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION compengine_locked_update()"),
            (t, f"{t}_locked_truncate", f"CREATE TRIGGER {t}_locked_truncate BEFORE TRUNCATE ON {t} "
                                        "FOR EACH STATEMENT EXECUTE FUNCTION compengine_locked_truncate()"),
        ]
    return out


def create_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for _name, sql in _sqlite_triggers():
            op.execute(sql)
    elif dialect == "postgresql":
        for sql in PG_FUNCTIONS.values():
            op.execute(sql)
        for _table, _name, sql in _pg_triggers():
            op.execute(sql)


def drop_triggers(dialect: str) -> None:
    if dialect == "sqlite":
        for name, _sql in _sqlite_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
    elif dialect == "postgresql":
        for table, name, _sql in _pg_triggers():
            op.execute(f"DROP TRIGGER IF EXISTS {name} ON {table}")
        for name in PG_FUNCTIONS:
            op.execute(f"DROP FUNCTION IF EXISTS {name}()")


def downgrade() -> None:
    drop_triggers(op.get_bind().dialect.name)
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
