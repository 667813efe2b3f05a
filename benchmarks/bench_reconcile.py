"""Benchmark: reconcile one month of ~1,000,000 credit lines (the goal: under 10 s).

    .venv/bin/python benchmarks/bench_reconcile.py --db sqlite:////tmp/bench.db [--period 2026-01]
    .venv/bin/python benchmarks/bench_reconcile.py --db postgresql://postgres@127.0.0.1/test --build

With ``--db`` of a ledger that already holds a closed month (``benchmarks/bench_ledger.py``
builds one), it reconciles that month (the latest calculated or locked one unless
``--period``). With ``--build`` (or no ``--db``) it first builds the ledger: a seeded
company from :mod:`compengine.generate` (10,000 reps, 880,000 deals in one month: about
1,000,000 credit lines), imported and closed. Each run is a fresh process (cold Python,
warm database cache after the first); prints the phases, the wall-clock total, the CPU
seconds of the reconciling process (with SQLite that is all the work; with PostgreSQL the
server's share is not in it), peak memory and the load average (the machine is shared).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def phase_build(db: str, reps: int, deals: int) -> dict:
    from compengine.core.periods import Period
    from compengine.generate import generate
    from compengine.ledger import import_folder, open_ledger, run_close, transaction

    data = Path(tempfile.mkdtemp(prefix="bench-reconcile-")) / "data"
    t0 = time.perf_counter()
    generate(data, seed=2026, reps=reps, deals=deals, year=2026, months=1, plans_dir=REPO / "plans")
    t1 = time.perf_counter()
    engine = open_ledger(db)
    with transaction(engine) as s:
        import_folder(s, data, data / "plans", "bench")
    t2 = time.perf_counter()
    with transaction(engine) as s:
        run_close(s, Period.parse("2026-01"), "bench")
    t3 = time.perf_counter()
    return {"generate": t1 - t0, "import": t2 - t1, "close": t3 - t2}


def phase_reconcile(db: str, period: str) -> dict:
    from sqlalchemy import func, select

    from compengine.core.periods import Period
    from compengine.ledger import open_ledger, transaction
    from compengine.ledger.models import PayoutLineRow, PeriodRow
    from compengine.ledger.reconcile import reconcile

    engine = open_ledger(db)
    with transaction(engine) as s:
        if not period:
            period = s.scalar(select(func.max(PeriodRow.period)).where(PeriodRow.status.in_(("calculated", "locked"))))
        lines = s.scalar(select(func.count()).select_from(PayoutLineRow).where(PayoutLineRow.period == period))
        credit_lines = s.scalar(select(func.count()).select_from(PayoutLineRow)
                                .where(PayoutLineRow.period == period, PayoutLineRow.kind == "commission"))
    marks: dict[str, float] = {}
    c0 = time.process_time()
    t0 = time.perf_counter()
    last = [t0, "start"]

    def progress(msg: str) -> None:
        now = time.perf_counter()
        marks[last[1]] = round(now - last[0], 2)
        last[0], last[1] = now, msg

    with transaction(engine) as s:
        rec = reconcile(s, Period.parse(period), progress=progress)
    progress("end")
    secs = time.perf_counter() - t0
    cpu = time.process_time() - c0
    return {"period": period, "seconds": secs, "cpu_seconds": cpu, "payout_lines": lines, "credit_lines": credit_lines, "reps": len(rec.reps),
            "deals": sum(b.deals for b in rec.bookings), "ties_out": rec.ok, "exceptions": len(rec.exceptions),
            "phases": marks, "peak_mb": peak_mb()}


def run_phase(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--phase", *args], check=True, capture_output=True, text=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--db", default=None, help="ledger URL (default: build one in a temporary SQLite file)")
    ap.add_argument("--build", action="store_true", help="build the ledger first (generate, import, close)")
    ap.add_argument("--period", default="", help="month to reconcile (default: the latest calculated or locked)")
    ap.add_argument("--reps", type=int, default=10000)
    ap.add_argument("--deals", type=int, default=880000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--phase", nargs="*", help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.phase:
        name, *rest = a.phase
        if name == "build":
            print(json.dumps(phase_build(rest[0], int(rest[1]), int(rest[2]))))
        else:
            print(json.dumps(phase_reconcile(rest[0], rest[1] if len(rest) > 1 else "")))
        return
    db = a.db or f"sqlite:///{tempfile.mkdtemp(prefix='bench-reconcile-')}/ledger.db"
    print(f"ledger {db.split('@')[-1]}; load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores", flush=True)
    if a.build or a.db is None:
        b = run_phase("build", db, str(a.reps), str(a.deals))
        print(f"build: generate {b['generate']:.1f} s, import {b['import']:.1f} s, close {b['close']:.1f} s", flush=True)
    times = []
    for i in range(a.runs):
        r = run_phase("reconcile", db, a.period)
        times.append(r["seconds"])
        print(f"reconcile {r['period']} run {i + 1}: {r['seconds']:.2f} s ({r['cpu_seconds']:.2f} CPU s in this process) "
              f"for {r['credit_lines']:,} credit lines "
              f"({r['payout_lines']:,} payout lines, {r['reps']:,} reps, {r['deals']:,} deals); "
              f"{'ties out' if r['ties_out'] else str(r['exceptions']) + ' exceptions'}; peak {r['peak_mb']:.0f} MB; "
              f"load {os.getloadavg()[0]:.2f}; phases {json.dumps(r['phases'])}", flush=True)
    times.sort()
    print(f"reconcile: best {times[0]:.2f} s, median {times[len(times) // 2]:.2f} s over {len(times)} runs", flush=True)


if __name__ == "__main__":
    main()
