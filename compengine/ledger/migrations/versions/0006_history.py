"""History that is never overwritten: rep versions, assignment history, the plan schedule,
retroactive changes

* ``rep_versions``: a rep's master data (name, email, manager, team, hire and
  termination dates) in force from ``valid_from``; every existing rep gets one version
  in force from the beginning (1970-01-01). ``reps`` keeps the latest version, and gains
  ``termination_date``.
* ``assignments``: ``recorded_at``, ``batch_id``, ``source`` and ``superseded_at``: an
  import no longer deletes a rep's rows, it marks the rows it replaces superseded.
* ``plan_schedule``: which stored plan version is in force from when to when. Built from
  the months already locked (``periods.plan_versions``: the version each locked month was
  priced with); each plan's latest version is in force from the month after its last
  locked month, as the close used it until now.
* ``retro_changes``: changes imported with ``--retroactive`` over locked months.
* ``periods.last_retro_id``: the retroactive changes a month had seen when it was locked.

Revision ID: 0006
Revises: 0005
"""
import json
from datetime import date, datetime, timedelta, timezone

from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

BEGINNING = date(1970, 1, 1)


def upgrade() -> None:
    now = datetime.now(timezone.utc).replace(tzinfo=None, microsecond=0)
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("termination_date", sa.Date(), nullable=True))
    with op.batch_alter_table("assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recorded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("batch_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column("source", sa.String(length=300), nullable=False, server_default=""))
    with op.batch_alter_table("periods", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_retro_id", sa.Integer(), nullable=True))
    rep_versions = op.create_table(
        "rep_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=200), nullable=False),
        sa.Column("manager_id", sa.String(length=64), nullable=True),
        sa.Column("team", sa.String(length=100), nullable=False),
        sa.Column("hire_date", sa.Date(), nullable=True),
        sa.Column("termination_date", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["rep_id"], ["reps.rep_id"], name=op.f("fk_rep_versions_rep_id_reps")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rep_versions")),
    )
    op.create_index(op.f("ix_rep_versions_rep_id"), "rep_versions", ["rep_id"], unique=False)
    schedule = op.create_table(
        "plan_schedule",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("plan_id", sa.String(length=64), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        sa.Column("effective_to", sa.Date(), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(["version_id"], ["plan_versions.id"], name=op.f("fk_plan_schedule_version_id_plan_versions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_plan_schedule")),
    )
    op.create_index(op.f("ix_plan_schedule_plan_id"), "plan_schedule", ["plan_id"], unique=False)
    op.create_table(
        "retro_changes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("rep_id", sa.String(length=64), nullable=True),
        sa.Column("plan_id", sa.String(length=64), nullable=True),
        sa.Column("first_period", sa.String(length=7), nullable=False),
        sa.Column("last_period", sa.String(length=7), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_retro_changes")),
    )

    bind = op.get_bind()
    # every rep: one version, in force from the beginning
    reps = bind.execute(sa.text("SELECT rep_id, name, email, manager_id, team, hire_date FROM reps")).all()
    if reps:
        op.bulk_insert(rep_versions, [
            {"rep_id": r[0], "valid_from": BEGINNING, "name": r[1], "email": r[2] or "", "manager_id": r[3],
             "team": r[4] or "", "hire_date": _as_date(r[5]), "termination_date": None, "recorded_at": now,
             "batch_id": None, "superseded_at": None, "source": "migration 0006"} for r in reps])
    bind.execute(sa.text("UPDATE assignments SET recorded_at = :now"), {"now": now})
    # the plan schedule, from what priced the locked months
    versions: dict[str, list[int]] = {}
    for pid, vid in bind.execute(sa.text("SELECT plan_id, id FROM plan_versions ORDER BY id")).all():
        versions.setdefault(pid, []).append(vid)
    used: dict[str, list[tuple[str, int]]] = {}
    for period, text in bind.execute(sa.text(
            "SELECT period, plan_versions FROM periods WHERE status = 'locked' ORDER BY period")).all():
        for pid, vid in (json.loads(text or "{}") or {}).items():
            used.setdefault(pid, []).append((period, int(vid)))
    rows = []
    for pid, ids in versions.items():
        ranges: list[list] = []  # [from, to, version]
        for period, vid in used.get(pid, []):
            start = date(int(period[:4]), int(period[5:7]), 1)
            if ranges and ranges[-1][2] == vid:
                ranges[-1][1] = _month_end(start)
            else:
                if ranges:
                    ranges[-1][1] = start - timedelta(days=1)
                ranges.append([start if ranges else BEGINNING, _month_end(start), vid])
        latest = ids[-1]
        if ranges and ranges[-1][2] == latest:
            ranges[-1][1] = None
        elif ranges:
            ranges.append([ranges[-1][1] + timedelta(days=1), None, latest])
        else:
            ranges.append([BEGINNING, None, latest])
        rows += [{"plan_id": pid, "version_id": vid, "effective_from": f, "effective_to": t, "recorded_at": now,
                  "batch_id": None, "superseded_at": None} for f, t, vid in ranges]
    if rows:
        op.bulk_insert(schedule, rows)


def _as_date(value):  # SQLite returns dates as text here
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def _month_end(first: date) -> date:
    nxt = date(first.year + (first.month == 12), first.month % 12 + 1, 1)
    return nxt - timedelta(days=1)


def downgrade() -> None:
    op.drop_table("retro_changes")
    op.drop_index(op.f("ix_plan_schedule_plan_id"), table_name="plan_schedule")
    op.drop_table("plan_schedule")
    op.drop_index(op.f("ix_rep_versions_rep_id"), table_name="rep_versions")
    op.drop_table("rep_versions")
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a batch copy of ``periods`` would break the
    # triggers of migration 0004 that read it
    for table, column in (("periods", "last_retro_id"), ("assignments", "source"), ("assignments", "superseded_at"),
                          ("assignments", "batch_id"), ("assignments", "recorded_at"), ("reps", "termination_date")):
        op.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
