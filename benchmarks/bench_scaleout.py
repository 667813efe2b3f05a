"""Benchmark: the close of one big month on this machine's processes vs a Dask LocalCluster of 1, 2 and 4 workers.

    .venv/bin/python benchmarks/bench_scaleout.py                       # the million-line month, SQLite
    .venv/bin/python benchmarks/bench_scaleout.py --preset small        # 2,000 reps, 176,000 deals
    .venv/bin/python benchmarks/bench_scaleout.py --db postgresql://postgres@127.0.0.1/test

Generates and imports the month as ``bench_ledger.py`` does (a seeded company of
10,000 reps and 880,000 deals, about a million credit lines), then closes it once per
executor, each in a fresh process (on SQLite each on a fresh copy of the imported ledger, a
first close; on PostgreSQL the runs after the first are reruns, which replace the month's
lines): ``local:1`` (one process), ``local:2`` (two forked
workers, the default for a big month on two cores), and ``local-dask:1``, ``:2``, ``:4``.
For Dask the cluster is started before the clock starts (its start-up is printed
apart), and the workers' CPU is read from each worker before and after the close.
Every run stores the same lines: the total and line count are printed and compared.
Prints wall seconds, CPU seconds (closing process, workers) and peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

PRESETS = {"million": (10_000, 880_000), "small": (2_000, 176_000), "tiny": (400, 35_000)}
EXECUTORS = ("local:1", "local:2", "local-dask:1", "local-dask:2", "local-dask:4")


def _cpu(who: int = resource.RUSAGE_SELF) -> float:
    r = resource.getrusage(who)
    return r.ru_utime + r.ru_stime


def _worker_cpu() -> float:
    return _cpu()


def phase_close(db: str, period: str, spec: str) -> dict:
    from sqlalchemy import func, select

    from compengine.core.periods import Period
    from compengine.ledger import open_ledger, run_close, transaction
    from compengine.ledger.executors import parse_executor
    from compengine.ledger.models import PayoutLineRow

    engine = open_ledger(db)
    ex = parse_executor(spec)
    start_s = 0.0
    client = None
    if ex.distributed:
        t = time.perf_counter()
        client = ex.client()
        client.wait_for_workers(ex.n_workers)
        start_s = time.perf_counter() - t
        client.run(_worker_cpu)  # the workers have imported compengine's engine before the clock starts
    try:
        w0 = sum(client.run(_worker_cpu).values()) if client else 0.0
        c0, k0 = _cpu(), _cpu(resource.RUSAGE_CHILDREN)
        marks: dict[str, float] = {}
        t0 = time.perf_counter()
        with transaction(engine) as s:
            res = run_close(s, Period.parse(period), "bench", executor=ex,
                            progress=lambda m: marks.__setitem__(m.split(" ")[0], time.perf_counter() - t0))
            marks["commit"] = time.perf_counter() - t0
        secs = time.perf_counter() - t0
        cpu, forked = _cpu() - c0, _cpu(resource.RUSAGE_CHILDREN) - k0
        workers_cpu = sum(client.run(_worker_cpu).values()) - w0 if client else forked
    finally:
        ex.close()
    with transaction(engine, write=False) as s:
        lines = s.scalar(select(func.count()).select_from(PayoutLineRow).where(PayoutLineRow.period == period))
    return {"executor": spec, "seconds": secs, "cluster_start_s": start_s, "cpu_seconds": cpu,
            "workers_cpu_seconds": workers_cpu, "payout_lines": lines, "reps": len(res.reps),
            "total": str(res.total_payout), "phases": {k: round(v, 1) for k, v in marks.items()},
            "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="ledger URL (default: a temporary SQLite file)")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="million")
    ap.add_argument("--executors", default=",".join(EXECUTORS), help="comma-separated executor specs to measure")
    ap.add_argument("--phase", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        print(json.dumps(phase_close(*a.phase)))
        return
    import bench_ledger

    reps, deals = PRESETS[a.preset]
    tmp = tempfile.mkdtemp(prefix="bench-scaleout-")
    db = a.db or f"sqlite:///{tmp}/ledger.db"
    schema = raw = None
    if db.startswith("postgresql"):
        import uuid

        import psycopg

        schema, raw = f"bench_{uuid.uuid4().hex[:12]}", db
        with psycopg.connect(raw, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        db = f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"
    try:
        data = os.path.join(tmp, "data")
        print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f} at the start; "
              f"ledger {db.split('@')[-1].split('?')[0]}; preset {a.preset}", flush=True)
        g = bench_ledger.run_phase("generate", data, str(reps), str(deals))
        print(f"generate: {g['seconds']:.1f} s ({g['reps']} reps, {g['deals']:,} deals)", flush=True)
        i = bench_ledger.run_phase("import", db, data)
        print(f"import:   {i['seconds']:.1f} s", flush=True)
        totals = set()
        # on SQLite each executor closes a fresh copy of the imported ledger (a first close); on PostgreSQL
        # every run after the first replaces the month's lines (a rerun: its DELETE is in the figure)
        master = db.removeprefix("sqlite:///") if db.startswith("sqlite:///") else None
        for n, spec in enumerate(a.executors.split(",")):
            target = db
            if master is not None:
                copy = os.path.join(tmp, f"close-{n}.db")
                shutil.copy(master, copy)
                target = f"sqlite:///{copy}"
            c = bench_ledger.run_phase(target, "2026-01", spec, script=__file__)
            if master is not None:
                os.remove(copy)
            rerun = " (rerun)" if master is None and n else ""
            totals.add((c["total"], c["payout_lines"]))
            start = f", cluster start {c['cluster_start_s']:.1f} s apart" if c["cluster_start_s"] else ""
            print(f"close {spec + rerun:<21} {c['seconds']:6.1f} s wall, CPU {c['cpu_seconds']:5.1f} s closing + "
                  f"{c['workers_cpu_seconds']:5.1f} s workers, {c['payout_lines']:,} lines, total {c['total']}, "
                  f"peak {c['peak_mb']:.0f} MB{start}; phases {json.dumps(c['phases'])}; "
                  f"load {os.getloadavg()[0]:.1f}", flush=True)
        print("same total and line count from every executor" if len(totals) == 1 else f"DIFFERENT RESULTS: {totals}")
    finally:
        if schema:
            with psycopg.connect(raw, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
