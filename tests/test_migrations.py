"""The Alembic migrations build exactly the schema the models describe, on both backends."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from compengine.ledger.db import current_revision, head_revision, upgrade
from compengine.ledger.models import Base


def test_migrations_match_the_models(ledger):
    assert current_revision(ledger) == head_revision()
    with ledger.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_upgrade_is_idempotent(ledger):
    before, after = upgrade(ledger)
    assert before == after == head_revision()


def test_0006_carries_an_existing_ledger_over(ledger):
    """A ledger made before history (0005) with locked months: 0006 gives every rep one version from
    the beginning, keeps its assignment rows current, and schedules each plan's stored version over the
    months it priced, so a late amendment is repriced exactly as before the migration."""
    from alembic import command
    from decimal import Decimal

    from sqlalchemy import select

    from compengine.core.periods import Period
    from compengine.ledger import import_folder, run_close, transaction
    from compengine.ledger.db import alembic_config
    from compengine.ledger.models import PayoutLineRow, PlanScheduleRow, RepVersionRow
    from tests.test_ledger import ACME, PLANS, close_through

    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    close_through(ledger, "2026-09", lock_until="2026-09")
    cfg = alembic_config(ledger)
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, "0005")
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert current_revision(ledger) == head_revision()
    with transaction(ledger) as s:
        versions = s.execute(select(RepVersionRow.rep_id, RepVersionRow.valid_from)).all()
        assert sorted(r for r, _ in versions) == ["A1", "M1", "R1", "R2", "S1"]
        assert {str(v) for _, v in versions} == {"1970-01-01"}
        schedule = s.execute(select(PlanScheduleRow.plan_id, PlanScheduleRow.effective_from, PlanScheduleRow.effective_to)).all()
        assert sorted((p, str(f), t) for p, f, t in schedule) == [
            ("ae-2026", "1970-01-01", None), ("am-2026", "1970-01-01", None), ("mgr-2026", "1970-01-01", None),
            ("se-2026", "1970-01-01", None)]
    # D5 (R1, September, 25,000.00 in band 1 at 10%) amended to 26,000.00: +100.00 in October
    import csv
    import shutil
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "acme"
        shutil.copytree(ACME, data)
        rows = list(csv.DictReader((data / "deals.csv").open()))
        for r in rows:
            if r["deal_id"] == "D5":
                r["amount"] = "26000.00"
        with (data / "deals.csv").open("w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        with transaction(ledger) as s:
            import_folder(s, data, PLANS, "ops")
    with transaction(ledger) as s:
        run_close(s, Period(2026, 10), "ops")
        late = s.execute(select(PayoutLineRow.rep_id, PayoutLineRow.amount).where(
            PayoutLineRow.period == "2026-10", PayoutLineRow.deal_id == "D5", PayoutLineRow.kind == "adjustment")).all()
    assert sorted(late) == [("M1", Decimal("10.00")), ("R1", Decimal("100.00"))]
