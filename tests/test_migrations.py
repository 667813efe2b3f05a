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


def _downgrade_and_upgrade(ledger, to: str) -> None:  # noqa: ANN001
    from alembic import command

    from compengine.ledger.db import alembic_config

    cfg = alembic_config(ledger)
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        command.downgrade(cfg, to)
    with ledger.connect() as conn:
        cols = {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("payout_lines")}
        seal_cols = {c["name"] for c in __import__("sqlalchemy").inspect(conn).get_columns("period_seals")}
    assert "component" not in cols and "format" not in seal_cols  # really at the old schema
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    assert current_revision(ledger) == head_revision()


def test_0007_months_sealed_before_it_still_verify(ledger, monkeypatch):
    """A ledger whose months were locked and sealed before 0007 (format 1: the columns of then) is
    upgraded: its seals are labelled format 1 and verify over the columns they covered; a month
    locked afterwards is sealed in format 2, chained to them; ``compengine verify`` passes; a
    locked line changed behind the triggers is still caught in a format-1 month."""
    from click.testing import CliRunner
    from sqlalchemy import select

    from compengine.cli import main
    from compengine.core.periods import Period
    from compengine.ledger import import_folder, lock_period, run_close, transaction
    from compengine.ledger import seals
    from compengine.ledger.models import PeriodSeal
    from tests.test_ledger import ACME, PLANS, close_through
    from tests.test_seals import tamper

    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    # seal as the code before 0007 did: format 1's header and columns
    monkeypatch.setattr(seals, "SEAL_FORMAT", seals.SEAL_FORMAT_1)
    close_through(ledger, "2026-09", lock_until="2026-09")
    monkeypatch.undo()
    with transaction(ledger) as s:
        before = {x.period: (x.seal, x.lines_digest) for x in s.scalars(select(PeriodSeal))}
        # the digest the code before 0007 wrote for acme's September (tests/test_seals.py's format-1 golden)
        assert before["2026-09"][1] == "9a063120ecfdaf65bdd2918fa63d33f781c9282dfda7b03d19d5d4efc0a3cf6a"

    _downgrade_and_upgrade(ledger, "0006")

    with transaction(ledger) as s:
        rows = s.scalars(select(PeriodSeal).order_by(PeriodSeal.id)).all()
        assert {x.period: (x.seal, x.lines_digest) for x in rows} == before
        assert {x.format for x in rows} == {"compengine-seal/1"}
        assert seals.verify(s).ok
    with transaction(ledger) as s:
        run_close(s, Period(2026, 10), "ops")
    with transaction(ledger) as s:
        lock_period(s, Period(2026, 10), "ops")
    with transaction(ledger) as s:
        oct_ = s.scalars(select(PeriodSeal).where(PeriodSeal.period == "2026-10")).one()
        assert oct_.format == seals.SEAL_FORMAT == "compengine-seal/3" and oct_.prev_seal == before["2026-09"][0]
        r = seals.verify(s)
        assert r.ok, r.failures
        assert [m.period for m in r.months if m.sealed] == [f"2026-{m:02d}" for m in range(1, 11)]
    res = CliRunner().invoke(main, ["--db", ledger.url.render_as_string(hide_password=False), "verify"])
    assert res.exit_code == 0, res.output
    assert "verified" in res.output

    tamper(ledger, "UPDATE payout_lines SET amount = amount + 1000 WHERE period = '2026-09' AND seq = 1 AND rep_id = 'R1'")
    with transaction(ledger) as s:
        r = seals.verify(s)
    assert not r.ok and {f.period for f in r.failures} == {"2026-09"}


def test_0007_downgrade_and_upgrade_keep_deal_fields_defaulted(ledger):
    """Deals imported before 0007 read back with quantity 1, cost 0, no attributes, and the source of
    their latest event (filled by the migration)."""
    from compengine.ledger import import_folder, transaction
    from compengine.ledger.inputs import load_deals
    from tests.test_ledger import ACME, PLANS

    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    _downgrade_and_upgrade(ledger, "0006")
    with transaction(ledger) as s:
        deals, _ = load_deals(s, ["2026-10"])
    d1 = next(d for d in deals if d.deal_id == "D1")
    assert (d1.quantity, d1.cost, d1.attrs) == (1, 0, ())
    assert d1.source == f"{ACME / 'deals.csv'}:2"


def _migrate(ledger, to: str, direction: str = "downgrade") -> None:  # noqa: ANN001
    from alembic import command

    from compengine.ledger.db import alembic_config

    cfg = alembic_config(ledger)
    with ledger.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, to)


def test_0008_scales_money_to_thousandths_and_months_sealed_in_cents_still_verify(ledger, monkeypatch):
    """A ledger of cents (before 0008) with months locked and sealed in format 2: 0008 multiplies every
    money column by 10 (locked months and seals too, behind their triggers), the seals still verify over
    the stored thousandths / 10, a month locked afterwards is sealed in format 3 and chained to them, and
    a locked line changed afterwards is still caught. Downgrading gives back the very cents."""
    from sqlalchemy import select, text

    from compengine.core.periods import Period
    from compengine.ledger import import_folder, lock_period, run_close, transaction
    from compengine.ledger import seals
    from compengine.ledger.models import PeriodSeal
    from tests.test_ledger import ACME, PLANS, close_through
    from tests.test_seals import tamper

    with transaction(ledger) as s:
        import_folder(s, ACME, PLANS, "ops")
    monkeypatch.setattr(seals, "SEAL_FORMAT", seals.SEAL_FORMAT_2)  # as the code before 0008 sealed
    close_through(ledger, "2026-09", lock_until="2026-09")
    monkeypatch.undo()
    raw = "SELECT rep_id, seq, amount, credit, base FROM payout_lines WHERE period = '2026-09' ORDER BY rep_id, seq"
    money = "SELECT (SELECT SUM(amount) FROM deals), (SELECT SUM(payout) FROM rep_periods), " \
            "(SELECT SUM(total_payout) FROM period_seals), (SELECT SUM(total_payout) FROM periods)"
    with ledger.connect() as conn:
        thousandths, totals = conn.execute(text(raw)).all(), conn.execute(text(money)).one()
    with transaction(ledger) as s:
        before = {x.period: (x.seal, x.lines_digest, x.format) for x in s.scalars(select(PeriodSeal))}
    assert {f for _, _, f in before.values()} == {"compengine-seal/2"}

    _migrate(ledger, "0007")  # what a ledger of then held: cents
    with ledger.connect() as conn:
        cents, cent_totals = conn.execute(text(raw)).all(), conn.execute(text(money)).one()
    assert [tuple(v if v is None or isinstance(v, str) else v * 10 for v in r[2:]) for r in cents] == \
        [tuple(r[2:]) for r in thousandths]
    assert [v * 10 for v in cent_totals] == list(totals)
    assert (cents[0][0], cents[0][2], thousandths[0][2]) == ("M1", 25000, 250000)  # M1's first line: 250.00

    _migrate(ledger, "head", "upgrade")
    assert current_revision(ledger) == head_revision()
    with ledger.connect() as conn:
        assert conn.execute(text(raw)).all() == thousandths
        assert tuple(conn.execute(text(money)).one()) == tuple(totals)
    with transaction(ledger) as s:
        assert {x.period: (x.seal, x.lines_digest, x.format) for x in s.scalars(select(PeriodSeal))} == before
        r = seals.verify(s)
        assert r.ok, r.failures
    with transaction(ledger) as s:
        run_close(s, Period(2026, 10), "ops")
    with transaction(ledger) as s:
        lock_period(s, Period(2026, 10), "ops")
    with transaction(ledger) as s:
        oct_ = s.scalars(select(PeriodSeal).where(PeriodSeal.period == "2026-10")).one()
        assert oct_.format == "compengine-seal/3" and oct_.prev_seal == before["2026-09"][0]
        assert seals.verify(s).ok
    tamper(ledger, "UPDATE payout_lines SET amount = amount + 1 WHERE period = '2026-09' AND seq = 1 AND rep_id = 'R1'")
    with transaction(ledger) as s:
        r = seals.verify(s)
    assert not r.ok and {f.period for f in r.failures} == {"2026-09"}


def test_0008_downgrade_is_refused_while_an_amount_has_a_third_decimal(ledger, tmp_path):
    """A KWD line (37.963) cannot be stored in cents: the downgrade names the columns and changes nothing."""
    import pytest
    from sqlalchemy import text

    from compengine.core.periods import Period
    from compengine.ledger import import_folder, run_close, transaction
    from tests.test_fx_ledger import folder

    data, plans = folder(tmp_path, [("K1", "1234.56", "USD", "2026-10-05", "R3")],
                         [("2026-10-01", "USD", "KWD", "0.3075")], reps={"R3": "kw"})
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    with transaction(ledger) as s:
        run_close(s, Period(2026, 10), "ops")
    with pytest.raises(RuntimeError, match=r"cannot downgrade below 0008: amounts with a third decimal cannot be stored "
                                           r"in cents: periods.total_payout \(1 row\(s\)\), rep_periods.credited"):
        _migrate(ledger, "0007")
    assert current_revision(ledger) == head_revision()
    with ledger.connect() as conn:
        assert conn.execute(text("SELECT credit, amount FROM payout_lines")).all() == [(379627, 37963)]
