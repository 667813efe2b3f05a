"""Seals, the audit hash chain, the triggers that guard them, and ``compengine verify``.

On SQLite and PostgreSQL (the ``ledger`` / ``db_url`` fixtures). Tampering goes around the
triggers the way an attacker with the table owner's rights would: on PostgreSQL with
``session_replication_role = replica`` (triggers off for the transaction), on SQLite by
dropping the triggers, changing the rows and creating the triggers again, in one transaction.
"""

from __future__ import annotations

import contextlib

import importlib.util
import json
import threading
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select, text

from compengine.cli import main
from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.ledger import export_payouts, import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.models import AuditRow, PayoutLineRow, PeriodRow, PeriodSeal, RepPeriod
from compengine.ledger.reconcile import reconcile
from compengine.ledger.seals import (
    LINE_COLUMNS,
    LINE_COLUMNS_1,
    REP_PERIOD_COLUMNS,
    REP_PERIOD_COLUMNS_1,
    SEAL_FORMAT,
    SEAL_FORMAT_1,
    SEAL_FORMAT_2,
    mark_reopened,
    month_digest,
    verify,
)
from compengine.ledger.store import audit

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"
ACME = REPO / "examples" / "acme"
SEP = Period.parse("2026-09")
MIGRATION = REPO / "compengine" / "ledger" / "migrations" / "versions" / "0004_period_lifecycle.py"


def migration_0004():
    spec = importlib.util.spec_from_file_location("migration_0004", MIGRATION)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod


def acme(engine, last: str = "2026-10", lock_until: str = "2026-09") -> None:  # noqa: ANN001
    # imported by paths relative to the repository, so the lines' sources (sealed by format 2) read
    # "examples/acme/deals.csv:2" wherever the repository is checked out
    with transaction(engine) as s, contextlib.chdir(REPO):
        import_folder(s, ACME.relative_to(REPO), PLANS.relative_to(REPO), "ops")
    for p in Period.parse("2026-01").months_through(Period.parse(last)):
        with transaction(engine) as s:
            run_close(s, p, "ops")
        if str(p) <= lock_until:
            with transaction(engine) as s:
                lock_period(s, p, "ops")


def tamper(engine, *statements: str) -> None:  # noqa: ANN001
    """Run SQL with the ledger's triggers out of the way (as the tables' owner could)."""
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
                for sql in statements:
                    conn.exec_driver_sql(sql)
            return
        triggers = migration_0004()._sqlite_triggers()
        with conn.begin():
            for name, _ in triggers:
                conn.exec_driver_sql(f"DROP TRIGGER {name}")
            for sql in statements:
                conn.exec_driver_sql(sql)
            for _, sql in triggers:
                conn.exec_driver_sql(sql)


def run_sql(engine, sql: str) -> None:  # noqa: ANN001
    with transaction(engine) as s:
        s.execute(text(sql))


def report(engine):  # noqa: ANN001, ANN201
    with transaction(engine) as s:
        return verify(s)


# --------------------------------------------------------------------------- honest ledgers


def test_every_lock_writes_a_seal_chained_to_the_month_before(ledger):
    acme(ledger)
    with transaction(ledger) as s:
        seals = s.scalars(select(PeriodSeal).order_by(PeriodSeal.id)).all()
        assert [x.period for x in seals] == [f"2026-{m:02d}" for m in range(1, 10)]
        assert seals[0].prev_seal is None
        assert all(b.prev_seal == a.seal for a, b in zip(seals, seals[1:]))
        sep = seals[-1]
        assert (sep.line_count, sep.total_payout, sep.sealed_by) == (4, Decimal("7750.00"), "ops")
        assert sep.lines_digest == month_digest(s, SEP).lines_digest
        # each seal is in the audit log too, which ties the two chains together
        entry = s.execute(select(AuditRow).where(AuditRow.action == "period.seal", AuditRow.period == "2026-09")).scalar_one()
        assert json.loads(entry.after)["seal"] == sep.seal
    r = report(ledger)
    assert r.ok, r.failures
    assert [m.period for m in r.months if m.sealed] == [f"2026-{m:02d}" for m in range(1, 10)]
    assert r.audit_legacy == 0 and r.audit_entries > 30 and r.audit_head


def test_the_digest_is_canonical_the_same_bytes_on_both_backends(ledger):
    """Golden values: if the encoding changes, every stored seal stops verifying (bump SEAL_FORMAT)."""
    acme(ledger)
    with transaction(ledger) as s:
        # format 1 (months sealed before migration 0007): the same digests as before the columns were added
        d = month_digest(s, SEP, SEAL_FORMAT_1)
        assert (d.line_count, d.total_cents) == (4, 775000)
        assert d.lines_digest == "9a063120ecfdaf65bdd2918fa63d33f781c9282dfda7b03d19d5d4efc0a3cf6a"
        # 2026-10 holds SPIFF lines: their explain text ("500.00 x 100% primary split = 500.00", issue 12) is sealed too
        assert month_digest(s, "2026-10", SEAL_FORMAT_1).lines_digest == \
            "48e4c4b33a9444291d4205f4701a926cd9a43638c11bec25bf509ddfac218bcd"
        # format 2 (every column, the lines' component, base and sources and the rep months' components
        # too); test_format_2_digest_golden pins the encoding itself
        d = month_digest(s, SEP, SEAL_FORMAT_2)
        assert (d.line_count, d.total_cents) == (4, 775000)
        assert d.lines_digest == "f951fe3fefe3dd49bd8b9f3aa866a82bc889584281bbd82b305f6fe1c3bf3c59"
        assert month_digest(s, "2026-10", SEAL_FORMAT_2).lines_digest == \
            "1fccca520733d1110dad441b8b986344d9f9900d091f540016dbdf68ad8117ae"
        # format 3 (migration 0008): format 2's columns, money as the stored thousandths
        d = month_digest(s, SEP)
        assert (d.line_count, d.total_cents, d.total) == (4, 7750000, Decimal("7750.00"))
        assert d.lines_digest == "7b0fc8dafe9b838b91a47a6a59ce9a9180a4f90e6eb168a5a51bea73a1200d8a"
        assert month_digest(s, "2026-10").lines_digest == "736dc5a5d7ca5df46422e890e87d76514b966f8c5ee54af16ced97331ee083fb"


def test_format_2_digest_golden(ledger):
    """Format 2 over lines and rep months that fill every new column (component, base, deal and rule
    sources, the components' measures and what they paid), stored through the codec: the same bytes
    on both backends, and format 1 of the same month ignores the new columns."""
    from compengine.core.money import ZERO
    from compengine.engine.records import ComponentMeasure, Line, RepResult, RepState
    from compengine.ledger.close import store_shaped
    from compengine.ledger.codec import NULLABLE_REP_PERIOD_COLUMNS, rep_period_rows, shaped_batches
    from compengine.ledger.store import bulk_insert, ensure_period, null_token

    D = Decimal
    p = "2026-11"
    lines = [
        Line("R1", p, 1, "commission", D("1200.05"), "D1", D("12000.50"), D("0.10"), D("1.0"), 1,
             "components.new_logo.rates.new_logo", "explained", None, None, "primary", D("100"), "new_logo",
             D("1200.05"), "examples/acme/deals.csv:2", "plans/ae.yaml:12 @ab12cd34"),
        Line("R1", p, 2, "override", D("10.00"), "D9", D("1000.00"), D("0.01"), None, None, "override.rate", "o",
             component="override", base=D("10.00"), deal_source="deals.csv:9", rule_source="plans/mgr.yaml:4 @00ff00ff"),
        Line("R1", p, 3, "spiff", D("500.00"), "D1", rule="spiffs.multi_year", explain="s", role="primary",
             split_pct=D("100"), component="spiff", deal_source="deals.csv:2"),
        Line("R1", p, 4, "adjustment", D("-3.00"), rule="manual", explain="a", ref="adjustment:1"),
    ]
    parts = [ComponentMeasure("new_logo", "commission", "2026-Q4", D("75000.00"), D("12000.50"), D("0.1600"), D("1200.05")),
             ComponentMeasure("kicker", "bonus", "2026", D("0.00"), D("0.00"), D("0"), D("0.00"))]
    state = RepState(D("0.00"), D("0.00"), D("1200.05"), 2026, "ae-2026",
                     (("new_logo", "2026-Q4", D("1200.05")), ("kicker", "2026", D("0.00"))))
    rep = RepResult("R1", "ae-2026", "USD", "monthly", D("75000.00"), D("12000.50"), D("0.1600"), None, None, 3, lines,
                    {}, D("1707.05"), state, ["a note"], parts)
    bare = RepResult("R2", "ae-2026", "USD", "monthly", ZERO, ZERO, D("0"), None, None, None, [], {}, ZERO, RepState())
    with transaction(ledger) as s:
        ensure_period(s, p)
        null = null_token(s)
        for shape, rows in shaped_batches([rep, bare], p, null):
            store_shaped(s, shape, rows, p)
        bulk_insert(s, "rep_periods", REP_PERIOD_COLUMNS, rep_period_rows([rep, bare], p, null), has_dates=False,
                    nullable=NULLABLE_REP_PERIOD_COLUMNS)
    with transaction(ledger) as s:
        stored = s.execute(select(RepPeriod.parts, RepPeriod.component_paid).where(RepPeriod.rep_id == "R1")).one()
        assert stored == (
            '[{"attainment":"0.1600","component":"new_logo","credited":"12000.50","paid":"1200.05","period":"2026-Q4",'
            '"quota":"75000.00","type":"commission"},{"attainment":"0","component":"kicker","credited":"0.00",'
            '"paid":"0.00","period":"2026","quota":"0.00","type":"bonus"}]',
            '[["kicker","2026","0.00"],["new_logo","2026-Q4","1200.05"]]')
        d = month_digest(s, p, SEAL_FORMAT_2)
        assert (d.line_count, d.total_cents) == (4, 170705)
        assert d.lines_digest == "dff9fce774f9edcc6261a0c76e0cb5294e1370e546f6f12972af4ae846178d36"
        d = month_digest(s, p)
        assert (d.line_count, d.total_cents) == (4, 1707050)
        assert d.lines_digest == "7b5da16e8e3d1907f42d15b9dd2b1028588ab1ab5086826e522344f65824ae38"
        assert month_digest(s, p, SEAL_FORMAT_1).lines_digest == "d23e17ad8230feec65814216a03d8b581717042c79f2efb345f18600df71f5b2"


def test_the_seal_covers_every_stored_column_but_the_id():
    assert set(LINE_COLUMNS) == {c.name for c in PayoutLineRow.__table__.columns} - {"id"}
    assert set(REP_PERIOD_COLUMNS) == {c.name for c in RepPeriod.__table__.columns}
    # format 1's columns are the first ones of today's tables, in the same order (they never change)
    assert SEAL_FORMAT == "compengine-seal/3"
    assert LINE_COLUMNS[:len(LINE_COLUMNS_1)] == LINE_COLUMNS_1
    assert LINE_COLUMNS[len(LINE_COLUMNS_1):] == ("component", "base", "deal_source", "rule_source")
    assert REP_PERIOD_COLUMNS[:len(REP_PERIOD_COLUMNS_1)] == REP_PERIOD_COLUMNS_1
    assert REP_PERIOD_COLUMNS[len(REP_PERIOD_COLUMNS_1):] == ("parts", "component_paid")


def test_new_seals_record_their_format_and_verify(ledger):
    acme(ledger, last="2026-02", lock_until="2026-02")
    with transaction(ledger) as s:
        assert {x.format for x in s.scalars(select(PeriodSeal))} == {SEAL_FORMAT}
    assert report(ledger).ok


def test_a_seal_whose_format_was_changed_fails(ledger):
    """The format is part of the seal: relabelling a format-2 seal as format 1 (whose columns would hide a
    change to the new ones) breaks it."""
    acme(ledger, last="2026-02", lock_until="2026-02")
    tamper(ledger, "UPDATE period_seals SET format = 'compengine-seal/1' WHERE period = '2026-02'")
    r = report(ledger)
    assert not r.ok
    assert any(f.period == "2026-02" and "does not match its own contents" in f.message for f in r.failures)
    run_sql_refused = pytest.raises(CompErrors, match="only be marked reopened")
    with run_sql_refused:  # and the database refuses the change (the trigger covers format since 0007)
        run_sql(ledger, "UPDATE period_seals SET format = 'compengine-seal/2' WHERE period = '2026-02'")


def test_null_and_empty_text_hash_differently(ledger):
    acme(ledger, last="2026-10", lock_until="2026-09")
    with transaction(ledger) as s:
        before = month_digest(s, "2026-10").lines_digest
        s.execute(text("UPDATE payout_lines SET ref = '' WHERE period = '2026-10' AND ref IS NULL AND rep_id = 'R1' AND seq = 1"))
        assert month_digest(s, "2026-10").lines_digest != before  # 2026-10 is open: the change is allowed


# --------------------------------------------------------------------------- tampering is caught


def test_a_locked_line_raised_with_its_totals_ties_out_but_fails_the_seal(db_url, tmp_path):
    """Raising a locked line by 1,000.00 with its rep and month totals keeps every sum consistent:
    only the seal can tell. reconcile and verify both fail, naming 2026-09."""
    engine = open_ledger(db_url)
    try:
        acme(engine)
        tamper(engine,
               "UPDATE payout_lines SET amount = amount + 1000000 WHERE period = '2026-09' AND rep_id = 'R2' AND kind = 'draw'",
               "UPDATE rep_periods SET payout = payout + 1000000 WHERE period = '2026-09' AND rep_id = 'R2'",
               "UPDATE periods SET total_payout = total_payout + 1000000 WHERE period = '2026-09'")
        with transaction(engine) as s:
            rec = reconcile(s, SEP)
            # the payroll file would carry the forged 4,000.00
            n, total = export_payouts(s, SEP, tmp_path / "p.csv")
        assert total == Decimal("8750.00")
        assert [f.check for f in rec.exceptions] == ["seal", "seal"]  # every other check ties out
        assert "2026-09: its payout lines or rep totals differ from the seal" in rec.exceptions[0].message
        assert "sealed 4 lines, total 7,750.00; now 4 lines, total 8,750.00" in rec.exceptions[0].message
        assert "the period row records 4 lines, total 8,750.00; the seal 4 lines, total 7,750.00" in rec.exceptions[1].message
    finally:
        engine.dispose()
    run = CliRunner().invoke
    r = run(main, ["--db", db_url, "reconcile", "2026-09"])
    assert r.exit_code == 1 and "[seal] 2026-09: its payout lines or rep totals differ" in r.stdout
    r = run(main, ["--db", db_url, "verify"])
    assert r.exit_code == 1
    assert "2026-09  locked" in r.stdout and "FAILED" in r.stdout
    assert r.stderr.startswith("verify failed: 2026-09: its payout lines or rep totals differ from the seal")
    data = json.loads(run(main, ["--db", db_url, "verify", "--json"]).stdout)
    assert data["ok"] is False
    assert [(f["kind"], f["period"]) for f in data["failures"]] == [("seal", "2026-09")] * 2
    assert {m["period"]: m["ok"] for m in data["months"]}["2026-08"] is True


@pytest.mark.parametrize("what, statements, months", [
    ("a line's explain text", ["UPDATE payout_lines SET explain = explain || ' ' WHERE period = '2026-07' AND rep_id = 'A1'"],
     ["2026-07"]),
    ("a deleted line", ["DELETE FROM payout_lines WHERE period = '2026-08' AND rep_id = 'M1'"], ["2026-08"]),
    ("an added line", ["INSERT INTO payout_lines (period, rep_id, seq, kind, amount, rule, explain) "
                       "VALUES ('2026-08', 'R1', 9, 'spiff', 100, '', '')"], ["2026-08"]),
    ("a rep total's balance", ["UPDATE rep_periods SET draw_balance = 0 WHERE period = '2026-09' AND rep_id = 'R2'"],
     ["2026-09"]),
    ("a rep total's NULL made ''", ["UPDATE rep_periods SET ytd_quota = 0 WHERE period = '2026-06' AND rep_id = 'M1'"],
     ["2026-06"]),
    ("a line's NULL made ''", ["UPDATE payout_lines SET ref = '' WHERE period = '2026-07' AND rep_id = 'M1'"], ["2026-07"]),
    ("the seal's digest", ["UPDATE period_seals SET lines_digest = 'x' WHERE period = '2026-05'"], ["2026-05"]),
    ("a seal removed", ["DELETE FROM period_seals WHERE period = '2026-04'"], ["2026-04", "2026-05"]),
])
def test_verify_names_the_month_that_was_tampered_with(ledger, what, statements, months):
    acme(ledger)
    assert report(ledger).ok
    tamper(ledger, *statements)
    r = report(ledger)
    assert not r.ok, what
    assert sorted({f.period for f in r.failures if f.kind == "seal"}) == months, r.failures
    assert [m.period for m in r.months if not m.ok] == months


def test_verify_names_the_audit_entry_that_was_changed_or_deleted(ledger):
    acme(ledger)
    with transaction(ledger) as s:
        ids = list(s.scalars(select(AuditRow.id).order_by(AuditRow.id)))
    changed, deleted = ids[5], ids[10]
    tamper(ledger, f"UPDATE audit_log SET actor = 'mallory' WHERE id = {changed}")
    r = report(ledger)
    assert [(f.kind, f.entry_id) for f in r.failures] == [("audit", changed)]
    assert "contents do not match its hash" in r.failures[0].message
    tamper(ledger, f"DELETE FROM audit_log WHERE id = {deleted}")
    r = report(ledger)
    assert [(f.kind, f.entry_id) for f in r.failures] == [("audit", changed), ("audit", ids[11])]
    assert "does not match the hash of the entry before it" in r.failures[1].message
    res = CliRunner().invoke(main, ["--db", ledger.url.render_as_string(hide_password=False), "verify"])
    assert res.exit_code == 1 and res.stderr.startswith(f"verify failed: audit entry {changed}: ")


def test_audit_entries_written_before_the_chain_are_legacy_not_failures(ledger):
    for i in range(3):  # as a ledger migrated from before the chain has them: no hash
        run_sql(ledger, "INSERT INTO audit_log (at, actor, action, entity, entity_id, summary) "
                        f"VALUES ('2025-01-0{i + 1} 00:00:00', 'old', 'import', '', '', 'before hashes')")
    acme(ledger, last="2026-02", lock_until="2026-01")
    r = report(ledger)
    assert r.ok, r.failures
    assert r.audit_legacy == 3 and r.audit_entries > 3
    res = CliRunner().invoke(main, ["--db", ledger.url.render_as_string(hide_password=False), "verify"])
    assert res.exit_code == 0 and ", 3 unchained legacy," in res.stdout
    run_sql(ledger, "INSERT INTO audit_log (at, actor, action, entity, entity_id, summary) "
                    "VALUES ('2026-01-01 00:00:00', 'mallory', 'adjust', '', '', 'slipped in without a hash')")
    with transaction(ledger) as s:
        last = s.scalar(select(func.max(AuditRow.id)))
    r = report(ledger)
    assert [(f.kind, f.entry_id) for f in r.failures] == [("audit", last)]


def test_a_month_unlocked_behind_its_seal_fails(ledger):
    acme(ledger)
    run_sql(ledger, "UPDATE periods SET status = 'calculated' WHERE period = '2026-09'")
    r = report(ledger)
    assert [(f.kind, f.period) for f in r.failures] == [("seal", "2026-09")]
    assert "without its seal being marked reopened" in r.failures[0].message


def test_a_reopened_month_relocked_gets_a_new_seal_chained_to_the_month_before(ledger):
    acme(ledger)
    now = datetime(2026, 11, 2, 9, 0)
    with transaction(ledger) as s:  # what `close reopen` does, in short
        old = mark_reopened(s, SEP, now)
        s.execute(text("UPDATE periods SET status = 'calculated' WHERE period = '2026-09'"))
    assert old is not None and old.reopened_at == now
    with transaction(ledger) as s:
        run_close(s, SEP, "ops")
    assert report(ledger).ok
    with transaction(ledger) as s:
        lock_period(s, SEP, "ops")
    with transaction(ledger) as s:
        aug = s.scalars(select(PeriodSeal).where(PeriodSeal.period == "2026-08")).one()
        seps = s.scalars(select(PeriodSeal).where(PeriodSeal.period == "2026-09").order_by(PeriodSeal.id)).all()
        assert len(seps) == 2 and seps[1].prev_seal == aug.seal and seps[1].reopened_at is None
        with pytest.raises(CompErrors, match="already sealed"):
            from compengine.ledger.seals import seal_period

            seal_period(s, SEP, "ops", now)
    r = report(ledger)
    assert r.ok, r.failures


# --------------------------------------------------------------------------- the triggers


@pytest.mark.parametrize("sql, message", [
    ("UPDATE payout_lines SET amount = amount + 1000000 WHERE period = '2026-09' AND rep_id = 'R2'",
     "payout_lines of a locked period cannot be changed or deleted"),
    ("DELETE FROM payout_lines WHERE period = '2026-09'", "payout_lines of a locked period cannot be changed or deleted"),
    ("UPDATE payout_lines SET period = '2026-09' WHERE period = '2026-10' AND rep_id = 'R1' AND seq = 1",
     "payout_lines of a locked period cannot be changed or deleted"),
    ("UPDATE rep_periods SET payout = 0 WHERE period = '2026-09'", "rep_periods of a locked period cannot be changed"),
    ("DELETE FROM rep_periods WHERE period = '2026-01'", "rep_periods of a locked period cannot be changed"),
    ("UPDATE audit_log SET summary = 'nothing happened' WHERE id = 1", "cannot be changed or deleted"),
    ("DELETE FROM audit_log", "cannot be changed or deleted"),
    ("DELETE FROM period_seals WHERE period = '2026-09'", "cannot be"),
    ("UPDATE period_seals SET seal = 'x' WHERE period = '2026-09'", "a period seal can only be marked reopened, once"),
    ("UPDATE period_seals SET reopened_at = '2026-11-01 00:00:00', line_count = 5 WHERE period = '2026-09'",
     "a period seal can only be marked reopened, once"),
])
def test_the_database_refuses_changes_to_locked_months_the_audit_log_and_seals(ledger, sql, message):
    acme(ledger)
    with pytest.raises(CompErrors, match="refused by the database: .*" + message) as exc:
        run_sql(ledger, sql)
    assert "\n" not in str(exc.value)
    assert report(ledger).ok


def test_the_database_allows_what_the_close_needs(ledger):
    acme(ledger)
    # an open month's lines can be replaced (a close rerun) and a seal marked reopened, once
    run_sql(ledger, "UPDATE payout_lines SET explain = 'x' WHERE period = '2026-10'")
    run_sql(ledger, "DELETE FROM payout_lines WHERE period = '2026-10'")
    with transaction(ledger) as s:
        assert mark_reopened(s, SEP, datetime(2026, 11, 1)) is not None
    with pytest.raises(CompErrors, match="marked reopened, once"):
        run_sql(ledger, "UPDATE period_seals SET reopened_at = '2026-12-01 00:00:00' WHERE period = '2026-09'")


# --------------------------------------------------------------------------- the audit chain under concurrency


def test_concurrent_audit_writers_keep_one_linear_chain(ledger):
    def writer(n: int) -> None:
        for i in range(8):
            with transaction(ledger) as s:
                for j in range(3):
                    audit(s, f"w{n}", "test", f"writer {n} transaction {i} entry {j}")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with transaction(ledger) as s:
        rows = s.execute(select(AuditRow.prev_hash, AuditRow.hash).order_by(AuditRow.id)).all()
    assert len(rows) == 96
    assert rows[0][0] is None and all(b[0] == a[1] for a, b in zip(rows, rows[1:]))
    assert report(ledger).ok


# --------------------------------------------------------------------------- audit output


def test_a_newline_in_a_reason_cannot_forge_an_audit_entry(db_url):
    run = CliRunner().invoke
    db = ["--db", db_url]
    assert run(main, [*db, "import", str(ACME), "--plans", str(PLANS)]).exit_code == 0
    forged = "2026-10-31 23:59:59  ceo          adjust             1,000,000.00 for R1 in 2026-10: approved"
    r = run(main, [*db, "--as", "mallory", "adjust", "--rep", "R1", "--period", "2026-10", "--amount", "5.00",
                   "--reason", f"typo fix\n{forged}\tand\x1b[2Ja\u202e"])
    assert r.exit_code == 0, r.output
    out = run(main, [*db, "audit", "--rep", "R1"]).stdout
    lines = out.splitlines()
    assert not any(ln.startswith("2026-10-31") for ln in lines)
    entry = [ln for ln in lines if "mallory" in ln]
    assert len(entry) == 1
    assert f"typo fix\\n{forged}\\tand\\x1b[2Ja\\u202e" in entry[0]
    # before and after are shown, escaped the same way
    after = lines[lines.index(entry[0]) + 1]
    assert after.lstrip().startswith("after:  {") and "typo fix\\\\n" in after


def test_a_locked_month_whose_seal_was_marked_reopened_fails(ledger):
    acme(ledger)
    with transaction(ledger) as s:
        mark_reopened(s, SEP, datetime(2026, 11, 2, 9, 0))  # ...and the month never left 'locked'
    r = report(ledger)
    assert [(f.kind, f.period) for f in r.failures] == [("seal", "2026-09")]
    assert str(r.failures[0]) == "2026-09: locked, but its seal was marked reopened at 2026-11-02 09:00 and no new seal written"
    with transaction(ledger) as s:
        assert mark_reopened(s, Period.parse("2025-01"), datetime(2026, 11, 2)) is None  # nothing sealed: nothing to mark
