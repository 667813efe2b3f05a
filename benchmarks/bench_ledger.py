"""Benchmark: import and close one month of ~1,000,000 credit lines (10,000 reps) in the ledger.

    .venv/bin/python benchmarks/bench_ledger.py --db sqlite:////tmp/bench.db
    .venv/bin/python benchmarks/bench_ledger.py --db postgresql://postgres@127.0.0.1/test

Generates a seeded company (one month of deals) into a temporary folder, imports
it (one transaction), then runs the close of the month twice (the second run
replaces the first: the idempotent rerun). Prints seconds, rows/s and the
process's peak memory. Each phase runs in a fresh process so peak memory is its own.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def phase_generate(out: str, reps: int, deals: int) -> dict:
    from compengine.generate import generate

    t = time.perf_counter()
    s = generate(out, seed=2026, reps=reps, deals=deals, year=2026, months=1, plans_dir=REPO / "plans")
    return {"seconds": time.perf_counter() - t, "reps": s.reps, "deals": deals, "peak_mb": peak_mb()}


def phase_import(db: str, data: str) -> dict:
    from compengine.ledger import import_folder, open_ledger, transaction

    engine = open_ledger(db)
    t = time.perf_counter()
    with transaction(engine) as s:
        rep = import_folder(s, data, Path(data) / "plans", "bench")
    secs = time.perf_counter() - t
    return {"seconds": secs, "deals": rep.deals_added, "deals_per_s": rep.deals_added / secs, "peak_mb": peak_mb()}


def children_cpu_s() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def phase_close(db: str, period: str, workers: int = 0) -> dict:
    from sqlalchemy import func, select

    from compengine.core.periods import Period
    from compengine.ledger import open_ledger, run_close, transaction
    from compengine.ledger.models import PayoutLineRow

    engine = open_ledger(db)
    marks: dict[str, float] = {}
    c0, k0 = cpu_s(), children_cpu_s()
    t0 = time.perf_counter()

    def progress(msg: str) -> None:
        marks[msg] = time.perf_counter() - t0

    with transaction(engine) as s:
        res = run_close(s, Period.parse(period), "bench", progress=progress, workers=workers or None)
        marks["commit"] = time.perf_counter() - t0
    secs = time.perf_counter() - t0
    cpu, workers_cpu = cpu_s() - c0, children_cpu_s() - k0
    with transaction(engine) as s:  # counted in the ledger: the result's lines decode lazily
        by_kind = dict(s.execute(select(PayoutLineRow.kind, func.count()).where(PayoutLineRow.period == period)
                                 .group_by(PayoutLineRow.kind)).all())
    lines = sum(by_kind.values())
    return {"seconds": secs, "cpu_seconds": cpu, "workers_cpu_seconds": workers_cpu, "reps": len(res.reps),
            "workers": _workers_used(marks), "payout_lines": lines,
            "commission_lines": by_kind.get("commission", 0), "lines_per_s": lines / secs, "phases": marks,
            "total": str(res.total_payout), "peak_mb": peak_mb(),
            "workers_peak_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024}


def _workers_used(marks: dict[str, float]) -> int:
    """How many processes calculated, from the close's progress messages ("... in 2 worker processes ...")."""
    for msg in marks:
        m = re.search(r" in (\d+) worker processes", msg)
        if m:
            return int(m.group(1))
    return 1


def run_phase(*args: str, script: str = __file__) -> dict:
    """Run ``script --phase ARGS`` in a fresh process (so its peak memory is its own); its last line of JSON."""
    out = subprocess.run([sys.executable, script, "--phase", *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="ledger URL (default: a temporary SQLite file)")
    ap.add_argument("--reps", type=int, default=10000)
    ap.add_argument("--deals", type=int, default=880000)
    ap.add_argument("--workers", type=int, default=0,
                    help="close worker processes (1 = calculate in the closing process; default: the close's own choice)")
    ap.add_argument("--phase", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        name, *rest = a.phase
        fn = {"generate": phase_generate, "import": phase_import, "close": phase_close}[name]
        conv = [int(x) if x.isdigit() else x for x in rest]
        print(json.dumps(fn(*conv)))
        return
    tmp = tempfile.mkdtemp(prefix="bench-ledger-")
    db = a.db or f"sqlite:///{tmp}/ledger.db"
    schema = None
    if db.startswith("postgresql"):  # a schema of its own, dropped at the end
        import uuid

        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        raw = db
        db = f"{db}{'&' if '?' in db else '?'}options=-csearch_path%3D{schema}"
    try:
        _run(db, tmp, a)
    finally:
        if schema:
            with psycopg.connect(raw, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def _run(db: str, tmp: str, a: argparse.Namespace) -> None:
    data = os.path.join(tmp, "data")
    print(f"ledger {db.split('@')[-1]}, data {data}", flush=True)
    g = run_phase("generate", data, str(a.reps), str(a.deals))
    print(f"generate: {g['seconds']:.1f} s ({g['reps']} reps, {g['deals']:,} deals)", flush=True)
    i = run_phase("import", db, data)
    print(f"import:   {i['seconds']:.1f} s, {i['deals_per_s']:,.0f} deals/s, peak {i['peak_mb']:.0f} MB", flush=True)
    for attempt in ("first", "rerun"):
        c = run_phase("close", db, "2026-01", str(a.workers))
        print(f"close ({attempt}): {c['seconds']:.1f} s ({c['cpu_seconds']:.1f} s CPU here, {c['workers_cpu_seconds']:.1f} s in "
              f"{c['workers']} worker(s)), {c['payout_lines']:,} payout lines ({c['commission_lines']:,} commission) for "
              f"{c['reps']:,} reps, {c['lines_per_s']:,.0f} lines/s, peak {c['peak_mb']:.0f} MB "
              f"(largest worker {c['workers_peak_mb']:.0f} MB); "
              f"phases {json.dumps({k: round(v, 1) for k, v in c['phases'].items()})}", flush=True)


if __name__ == "__main__":
    main()
