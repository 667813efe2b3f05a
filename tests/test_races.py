"""Writers racing in real processes, on SQLite and PostgreSQL: no race loses or duplicates money.

Each race starts from the example company with 2026-01..09 locked and 2026-10
calculated, with dispute 1 open on R1's October. Two forked processes (each with
its own database connection, running the CLI as a user would) start one after the
other with a delay swept over a few values, and the ledger is then checked:

* a month that lock reported locked stays locked with all its lines (the stored
  total and count match the lines, and every deal of the month has its lines);
* an approved dispute pays once (one adjustment, whoever raced);
* no committed import is lost (its deals are in the ledger, and a locked month
  holds no deal without lines);
* an adjustment of a month that ended locked is among its lines;
* every process exits 0 or 1 with one line of error and never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import multiprocessing
import os
import shutil
import time
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from compengine.core.periods import Period
from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
from compengine.ledger.disputes import open_dispute
from compengine.ledger.models import AdjustmentRow, DealEvent, DealRow, PayoutLineRow, PeriodRow
from tests.conftest import REPO

ACME = REPO / "examples" / "acme"
PLANS = REPO / "plans"
OCT = "2026-10"

WRITERS = {
    "import": lambda data: ["import", str(data), "--plans", str(PLANS)],
    "run": lambda data: ["close", "run", OCT, "--summary"],
    "lock": lambda data: ["close", "lock", OCT, "--allow-open-disputes"],
    "adjust": lambda data: ["adjust", "--rep", "R2", "--period", OCT, "--amount", "100.00", "--reason", "race"],
    "resolve": lambda data: ["disputes", "resolve", "1", "--approve", "--amount", "750.00", "--note", "race"],
}
PAIRS = [(a, b) for i, a in enumerate(WRITERS) for b in list(WRITERS)[i:]]  # every pair, each with itself too
DELAYS = (0.0, 0.15)


def _late_data(tmp: Path) -> Path:
    """The example data plus a new October deal D20 for R2 (and nothing else changed)."""
    data = tmp / "late"
    if not data.exists():
        shutil.copytree(ACME, data)
        with (data / "deals.csv").open("a") as fh:
            fh.write("D20,Raced Inc,new_logo,10000.00,USD,2026-10-30,R2,12,Platform,\n")
    return data


def _prepare(url: str) -> None:
    engine = open_ledger(url)
    try:
        with transaction(engine) as s:
            import_folder(s, ACME, PLANS, "ops")
        for p in Period.parse("2026-01").months_through(Period.parse(OCT)):
            with transaction(engine) as s:
                run_close(s, p, "ops")
            if p < Period.parse(OCT):
                with transaction(engine) as s:
                    lock_period(s, p, "ops", allow_open_disputes=True)
        with transaction(engine) as s:
            open_dispute(s, "R1", OCT, "Missing SPIFF", "ravi", amount=Decimal("750.00"))
    finally:
        engine.dispose()


def _cli_in_child(url: str, args: list[str], delay: float, start_at: float, out: multiprocessing.Queue) -> None:
    """Run one CLI command in this (forked) process with its own connection; report exit code and output."""
    from click.testing import CliRunner

    from compengine.cli import main

    time.sleep(max(0.0, start_at + delay - time.time()))
    res = CliRunner().invoke(main, ["--db", url, "--as", f"p{os.getpid()}", *args], catch_exceptions=True)
    tb = ""
    if res.exception is not None and not isinstance(res.exception, SystemExit):
        import traceback

        tb = "".join(traceback.format_exception(res.exception))
    out.put((args[0], res.exit_code, res.output, tb))


def _race(url: str, first: list[str], second: list[str], delay: float) -> list[tuple]:
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    start_at = time.time() + 0.3
    procs = [ctx.Process(target=_cli_in_child, args=(url, args, d, start_at, q))
             for args, d in ((first, 0.0), (second, delay))]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    return results


def _check(url: str, results: list[tuple], what: str) -> None:
    for cmd, code, output, tb in results:
        assert not tb and "Traceback" not in output, f"{what}: {cmd} raised:\n{tb}{output}"
        assert code in (0, 1), f"{what}: {cmd} exited {code}: {output}"
        if code == 1:
            errors = [ln for ln in output.splitlines() if ln.startswith("Error:")]
            assert len(errors) == 1, f"{what}: {cmd} failed without one error line: {output}"
    ok = {cmd: code == 0 for cmd, code, _, _ in results if cmd not in ("close",)}
    lock_ok = any(code == 0 and out.startswith(f"{OCT} locked") for cmd, code, out, _ in results)
    engine = open_ledger(url)
    try:
        with transaction(engine, write=False) as s:
            row = s.get(PeriodRow, OCT)
            lines = s.execute(select(func.count(), func.coalesce(func.sum(PayoutLineRow.amount), 0))
                              .where(PayoutLineRow.period == OCT)).one()
            if lock_ok:
                assert row.status == "locked", f"{what}: lock said locked, the month is {row.status}"
            if row.status == "locked":
                assert lines[0] == row.line_count > 0, f"{what}: locked with {row.line_count} lines, {lines[0]} stored"
                assert Decimal(lines[1]) == row.total_payout, f"{what}: locked total {row.total_payout}, lines {lines[1]}"
                # no deal sits unpaid in a locked month (D5 closed in September), except a late deal:
                # one recorded after the lock, priced as of the month by the next open month's close
                deals = set(s.scalars(select(DealRow.deal_id).join(DealEvent, DealEvent.deal_id == DealRow.deal_id).where(
                    DealRow.close_period == OCT, DealEvent.kind == "won", DealEvent.id <= (row.last_event_id or 0))))
                paid = set(s.scalars(select(PayoutLineRow.deal_id).where(PayoutLineRow.period == OCT,
                                                                         PayoutLineRow.kind == "commission")))
                assert deals <= paid, f"{what}: deals of locked {OCT} without lines: {sorted(deals - paid)}"
                for adj_id, in s.execute(select(AdjustmentRow.id).where(AdjustmentRow.period == OCT)):
                    refs = s.scalar(select(func.count()).select_from(PayoutLineRow).where(
                        PayoutLineRow.period == OCT, PayoutLineRow.ref.in_((f"adjustment:{adj_id}", f"dispute:1"))))
                    assert refs, f"{what}: adjustment {adj_id} of locked {OCT} is not among its lines"
            _log_outcome(what, results, row.status)
            disputes_paid = s.scalar(select(func.count()).select_from(AdjustmentRow).where(AdjustmentRow.dispute_id == 1))
            assert disputes_paid <= 1, f"{what}: dispute 1 paid {disputes_paid} times"
            resolves_ok = sum(1 for cmd, code, _, _ in results if cmd == "disputes" and code == 0)
            assert disputes_paid == min(resolves_ok, 1), f"{what}: {resolves_ok} resolve(s) succeeded, {disputes_paid} paid"
            if ok.get("import"):
                assert s.get(DealRow, "D20") is not None, f"{what}: the import said it committed, D20 is missing"
            adjusts_ok = sum(1 for cmd, code, _, _ in results if cmd == "adjust" and code == 0)
            manual = s.scalar(select(func.count()).select_from(AdjustmentRow).where(AdjustmentRow.kind == "manual"))
            assert manual == adjusts_ok, f"{what}: {adjusts_ok} adjust(s) said done, {manual} recorded"
    finally:
        engine.dispose()


def _log_outcome(what: str, results: list[tuple], status: str) -> None:
    """With RACE_LOG=FILE, append what happened (for benchmarks/RESULTS.md: which orders were seen)."""
    path = os.environ.get("RACE_LOG")
    if path:
        import json

        with open(path, "a") as fh:
            fh.write(json.dumps({"race": what, "exits": [(cmd, code) for cmd, code, _, _ in results],
                                 "errors": [out.strip().splitlines()[-1] for _, code, out, _ in results if code],
                                 "october": status}) + "\n")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):  # noqa: ANN001
    """A prepared SQLite ledger file to copy, and the late data folder."""
    tmp = tmp_path_factory.mktemp("races")
    path = tmp / "prepared.db"
    _prepare(f"sqlite:///{path}")
    return path, _late_data(tmp)


@pytest.fixture(scope="module")
def prepared_pg():
    """The same ledger prepared once in a PostgreSQL database, each race's database a copy of it."""
    from tests.conftest import drop_pg_database, new_pg_database, pg_database_url, require_pg

    require_pg()
    name = new_pg_database()
    try:
        _prepare(pg_database_url(name))  # disposes its engine: a template database must have no connection
        yield name
    finally:
        drop_pg_database(name)


def _fresh(db_url: str, prepared, request, tmp_path: Path, n: int) -> tuple[str, str | None]:  # noqa: ANN001
    """A copy of the prepared ledger: its URL, and the PostgreSQL database to drop afterwards."""
    if db_url.startswith("sqlite"):
        target = tmp_path / f"race{n}.db"
        shutil.copy(prepared[0], target)
        return f"sqlite:///{target}", None
    from tests.conftest import new_pg_database, pg_database_url

    name = new_pg_database(request.getfixturevalue("prepared_pg"))
    return pg_database_url(name), name


@pytest.mark.parametrize("pair", PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_two_writers_race(db_url, prepared, request, tmp_path, pair):  # noqa: ANN001
    first, second = pair
    data = prepared[1]
    databases = []
    try:
        for n, delay in enumerate(DELAYS):
            url, database = _fresh(db_url, prepared, request, tmp_path, n)
            if database:
                databases.append(database)
            with contextlib.redirect_stderr(io.StringIO()):
                results = _race(url, WRITERS[first](data), WRITERS[second](data), delay)
            _check(url, results, f"{first} vs {second} (delay {delay:.2f} s, {db_url.split(':')[0]})")
    finally:
        from tests.conftest import drop_pg_database

        for database in databases:
            drop_pg_database(database)
