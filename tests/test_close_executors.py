"""The close on a Dask distributed cluster (``ledger.executors``): a LocalCluster of two workers
stores and returns exactly what the one-process close does, row for row, on SQLite and
PostgreSQL, with roll-up overrides of two and three levels, late changes and any cut of the
month into partitions; a failed worker writes nothing; a bad executor spec is one CLI line."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.engine.report import result_dict
from compengine.ledger import import_folder, lock_period, run_close, transaction
from compengine.ledger.executors import DaskExecutor, LocalExecutor, parse_executor, partition_reps
from compengine.ledger.models import PayoutLineRow, PeriodRow
from helpers_ledger import stored

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"

DIRECTOR = """\
id: dir-2026
name: Sales Director FY2026
currency: USD
rounding: half_up
quota: {annual: 1200000, measure: period}
rates: {new_logo: 0.02, expansion: 0.01, renewal: 0.005}
override:
  levels: [0.02, 0.01]         # a roll-up: 2% of the managers' credit, 1% of their reps'
  base: credit
clawback: {window_days: 90}
"""
VP = """\
id: vp-2026
name: Sales VP FY2026
currency: USD
rounding: half_even
quota: {annual: 2400000, measure: period}
rates: {new_logo: 0.01, expansion: 0.01, renewal: 0.005}
override:
  levels: [0.03, 0.02, 0.01]   # three levels, on the reports' commission (prices the reports themselves)
  base: commission
clawback: {window_days: 90}
"""


def _rows(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="") as f:
        r = csv.DictReader(f)
        return list(r.fieldnames or []), list(r)


def _write(path: Path, fields: list[str], rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows)


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> tuple[Path, Path]:  # noqa: ANN001
    """A seeded company of four months under two directors and a VP: (data folder, plans folder)."""
    from compengine.generate import generate

    root = tmp_path_factory.mktemp("co")
    data, plans = root / "data", root / "plans"
    generate(data, seed=5, reps=40, deals=1600, year=2026, months=4, plans_dir=PLANS)
    shutil.copytree(PLANS, plans, ignore=shutil.ignore_patterns("README.md"))
    (plans / "director.yaml").write_text(DIRECTOR)
    (plans / "vp.yaml").write_text(VP)
    fields, reps = _rows(data / "reps.csv")
    managers = sorted(r["rep_id"] for r in reps if not r["manager_id"])
    for i, r in enumerate(x for x in reps if x["rep_id"] in managers):
        r["manager_id"] = "DIR1" if managers.index(r["rep_id"]) % 2 == 0 else "DIR2"
    people = [{"rep_id": "VP1", "name": "Ada Vance", "email": "ada.vance@example.com", "manager_id": "",
               "team": "Leadership", "hire_date": "2019-03-01"},
              {"rep_id": "DIR1", "name": "Ben Dahl", "email": "ben.dahl@example.com", "manager_id": "VP1",
               "team": "Leadership", "hire_date": "2019-04-01"},
              {"rep_id": "DIR2", "name": "Cleo Ortiz", "email": "cleo.ortiz@example.com", "manager_id": "VP1",
               "team": "Leadership", "hire_date": "2019-05-01"},
              # no plan assignment: their deals are the month's exceptions (in whichever partition they land)
              {"rep_id": "AAA0", "name": "Al Ames", "email": "al.ames@example.com", "manager_id": "DIR1",
               "team": "Leadership", "hire_date": "2019-05-01"},
              {"rep_id": "ZZZ9", "name": "Zed Zane", "email": "zed.zane@example.com", "manager_id": "",
               "team": "Leadership", "hire_date": "2019-05-01"}]
    _write(data / "reps.csv", fields, people + reps)
    fields, assignments = _rows(data / "assignments.csv")
    top = [{"rep_id": "VP1", "plan_id": "vp-2026", "start": "2026-01-01", "end": "", "annual_quota": ""},
           {"rep_id": "DIR1", "plan_id": "dir-2026", "start": "2026-01-01", "end": "", "annual_quota": ""},
           {"rep_id": "DIR2", "plan_id": "dir-2026", "start": "2026-01-01", "end": "", "annual_quota": ""}]
    _write(data / "assignments.csv", fields, top + assignments)
    fields, deals = _rows(data / "deals.csv")
    for who in ("AAA0", "ZZZ9", "AAA0"):
        deals.append(dict(deals[0], deal_id=f"X{len(deals)}", owner_id=who))
    _write(data / "deals.csv", fields, deals)
    return data, plans


def _late_changes(data: Path, dest: Path) -> Path:
    """The data folder with two January deals amended and one cancelled in January (late, after its lock)."""
    out = dest / "late"
    shutil.copytree(data, out)
    fields, deals = _rows(out / "deals.csv")
    january = [d for d in deals if d["close_date"].startswith("2026-01")]
    january[0]["amount"] = f"{float(january[0]['amount']) + 25000:.2f}"  # noqa: money as text, written once
    january[5]["amount"] = "1234.56"
    january[9]["cancelled_on"] = "2026-01-30"
    _write(out / "deals.csv", fields, deals)
    return out


@pytest.fixture(scope="module")
def cluster():  # noqa: ANN201
    """One LocalCluster of two worker processes for the module (started once: a few seconds)."""
    ex = DaskExecutor(n_workers=2)
    ex.client()
    try:
        yield ex
    finally:
        ex.close()


def test_a_dask_cluster_stores_what_one_process_does(ledger, company, cluster, monkeypatch, tmp_path):
    data, plans = company
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    seen: dict[str, set] = {"kinds": set(), "rules": set(), "override_reps": set()}
    # each month cut another way: one partition per worker, then subtrees cut apart, then one partition
    cuts = {"2026-01": None, "2026-02": "5", "2026-03": "3", "2026-04": "1"}
    for p in Period.parse("2026-01").months_through(Period.parse("2026-04")):
        if str(p) == "2026-03":  # January changes after its lock: March pays the differences
            with transaction(ledger) as s:
                import_folder(s, _late_changes(data, tmp_path), plans, "ops")
        with transaction(ledger) as s:
            one = run_close(s, p, "ops", executor=LocalExecutor(1))
        want = stored(ledger, str(p))
        if cuts[str(p)]:
            monkeypatch.setenv("COMPENGINE_DASK_PARTITIONS", cuts[str(p)])
        else:
            monkeypatch.delenv("COMPENGINE_DASK_PARTITIONS", raising=False)
        with transaction(ledger) as s:
            many = run_close(s, p, "ops", executor=cluster)
        assert stored(ledger, str(p)) == want, str(p)
        assert result_dict(many) == result_dict(one), str(p)
        assert many.exceptions == one.exceptions
        seen["exceptions"] = seen.get("exceptions", 0) + len(one.exceptions)
        for r in one.reps:
            for ln in r.lines:
                seen["kinds"].add(ln.kind)
                seen["rules"].add(ln.rule)
                if ln.kind == "override":
                    seen["override_reps"].add(r.rep_id)
        with transaction(ledger) as s:
            lock_period(s, p, "ops", accept_exceptions="test data" if one.exceptions else None)
    # the data exercised roll-ups of two and three levels and late changes
    assert {"commission", "override", "adjustment"} <= seen["kinds"]
    assert {"VP1", "DIR1", "DIR2"} <= seen["override_reps"]
    assert seen["exceptions"] >= 2
    assert {"late_change.commission", "late_change.other"} & seen["rules"]


def test_partitions_keep_manager_trees_whole(company):
    from compengine.engine.records import Rep

    tree = {"VP": None, "D1": "VP", "D2": "VP", "M1": "D1", "M2": "D1", "M3": "D2",
            "a": "M1", "b": "M1", "c": "M2", "d": "M3", "e": "M3", "solo": None}
    versions = {r: [Rep(r, r, manager_id=m)] for r, m in tree.items()}
    weight = {r: 10 for r in "abcde"}
    one = partition_reps(tree, versions, weight, 1)
    assert one == [sorted(tree)]
    parts = partition_reps(tree, versions, weight, 2)
    assert sorted(r for p in parts for r in p) == sorted(tree)  # every rep once
    where = {r: i for i, p in enumerate(parts) for r in p}
    # a share is 31: VP's subtree (61) and D1's (36) are cut, so VP and D1 go alone; the subtrees under
    # them (M1's 23, M2's 12, D2's 24) stay whole
    for subtree in (("M1", "a", "b"), ("M2", "c"), ("D2", "M3", "d", "e")):
        assert len({where[r] for r in subtree}) == 1, (subtree, parts)
    # largest unit first into the lightest partition: 24 | 23, 12 | then VP, D1 and solo (1 each) | 24 + 3
    assert sorted(sum(1 + weight.get(r, 0) for r in p) for p in parts) == [27, 35]


def test_a_failed_worker_writes_nothing(ledger, company, cluster, monkeypatch, tmp_path):
    data, plans = company
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    # the workers read a database without the ledger: every partition fails
    bad = f"sqlite:///{tmp_path / 'empty.db'}" if ledger.dialect.name == "sqlite" else (
        ledger.url.render_as_string(hide_password=False).split("?")[0] + "?options=-csearch_path%3Dno_such_schema")
    monkeypatch.setenv("COMPENGINE_WORKER_DB", bad)
    with pytest.raises(CompErrors, match=r"close partition \d of \d failed on local-dask:2: .*; nothing was stored"):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-01"), "ops", executor=cluster)
    with transaction(ledger) as s:
        row = s.get(PeriodRow, "2026-01")
        assert row is None or (row.status == "open" and not row.line_count)
        assert s.scalar(select(PayoutLineRow.id).limit(1)) is None
    monkeypatch.delenv("COMPENGINE_WORKER_DB")
    with transaction(ledger) as s:  # the same close with the workers reaching the ledger
        assert run_close(s, Period.parse("2026-01"), "ops", executor=cluster).reps


def test_executor_specs(monkeypatch):
    monkeypatch.delenv("COMPENGINE_CLOSE_EXECUTOR", raising=False)
    assert isinstance(parse_executor(None), LocalExecutor) and parse_executor(None).workers is None
    assert parse_executor("local:3").workers == 3
    ex = parse_executor("local-dask:4")
    assert isinstance(ex, DaskExecutor) and ex.n_workers == 4 and ex.address is None
    assert parse_executor("local-dask").n_workers == 2
    assert parse_executor("dask://sched.example:8786").address == "tcp://sched.example:8786"
    monkeypatch.setenv("COMPENGINE_CLOSE_EXECUTOR", "dask://10.0.0.5:8786")
    assert parse_executor(None).spec == "dask://10.0.0.5:8786"
    for bad in ("spark://x:1", "local:0", "local:two", "dask://host", "dask://host:99999", "local-dask:"):
        with pytest.raises(CompErrors):
            parse_executor(bad)


@pytest.mark.parametrize("args, env, says", [
    (["--executor", "threads:4"], None, "--executor 'threads:4' is not a close executor: use local[:N], local-dask[:N] or dask://HOST:PORT"),
    (["--executor", "local:0"], None, "--executor 'local:0': the number of workers must be a whole number of at least 1"),
    ([], "dask://nohost", "COMPENGINE_CLOSE_EXECUTOR 'dask://nohost' is not a close executor"),
])
def test_a_bad_executor_is_one_cli_line(tmp_path, monkeypatch, args, env, says):
    from click.testing import CliRunner

    from compengine.cli import main

    if env:
        monkeypatch.setenv("COMPENGINE_CLOSE_EXECUTOR", env)
    else:
        monkeypatch.delenv("COMPENGINE_CLOSE_EXECUTOR", raising=False)
    res = CliRunner().invoke(main, ["--db", f"sqlite:///{tmp_path / 'l.db'}", "close", "run", "2026-01", *args])
    assert res.exit_code == 1
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    lines = [ln for ln in res.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and says in lines[0], res.output


def test_cli_close_run_on_a_dask_scheduler(tmp_path, cluster, monkeypatch):
    """`close run --executor dask://HOST:PORT` prints what the local close prints, and stores the same lines."""
    from click.testing import CliRunner

    from compengine.cli import main
    from compengine.ledger import open_ledger

    monkeypatch.delenv("COMPENGINE_CLOSE_EXECUTOR", raising=False)
    address = cluster.client().scheduler.address.removeprefix("tcp://")
    url = f"sqlite:///{tmp_path / 'l.db'}"
    run = CliRunner().invoke
    assert run(main, ["--db", url, "import", str(REPO / "examples" / "acme"), "--plans", str(PLANS)]).exit_code == 0
    local = run(main, ["--db", url, "close", "run", "2026-01", "--through", "2026-03"])
    engine = open_ledger(url)
    want = [stored(engine, m) for m in ("2026-01", "2026-02", "2026-03")]
    dask = run(main, ["--db", url, "close", "run", "2026-01", "--through", "2026-03", "--executor", f"dask://{address}"])
    assert local.exit_code == 0 and dask.exit_code == 0, dask.output
    assert dask.stdout == local.stdout and "2026-03" in local.stdout
    assert [stored(engine, m) for m in ("2026-01", "2026-02", "2026-03")] == want
    engine.dispose()


def test_an_unreachable_scheduler_fails_the_close_in_one_line(ledger, company):
    import socket

    data, plans = company
    with transaction(ledger) as s:
        import_folder(s, data, plans, "ops")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    ex = parse_executor(f"dask://127.0.0.1:{port}")
    ex.connect_timeout = 1.0
    with pytest.raises(CompErrors, match=rf"^cannot reach the Dask scheduler of dask://127.0.0.1:{port}: ") as err:
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-01"), "ops", executor=ex)
    assert "\n" not in str(err.value)
    with transaction(ledger) as s:
        assert s.scalar(select(PayoutLineRow.id).limit(1)) is None
