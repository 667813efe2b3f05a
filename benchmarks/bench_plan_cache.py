"""Benchmark: compiling the stored plan versions, cold vs from the cache (``plans.loader.compile_cached``).

    .venv/bin/python benchmarks/bench_plan_cache.py [--runs 50]

A close reads the plan versions in force for its month and again for each locked month it
reprices (late changes); a statement run, reconcile and every portal page read them too.
Each read used to parse and compile the YAML of every version; now a version is compiled
once per process per (digest, file). Imports the example plans (plans/ and the v2
examples) into a temporary SQLite ledger, then times ``load_plans_for`` with the cache
cleared before each call (cold: what every read cost before) and warm, and a small
company's close repricing two locked months with plans compiled at each read and cached.
Prints milliseconds (median). (Before this benchmark, ``ledger.inputs`` already kept an LRU
keyed by the plan's full text; ``compile_cached`` keys it by the stored version's digest
and file and serves every layer.)
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=50)
    a = ap.parse_args()

    from compengine.core.periods import Period
    from compengine.generate import generate
    from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction
    from compengine.ledger.inputs import load_plans_for
    from compengine.plans.loader import compile_cache_clear

    tmp = Path(tempfile.mkdtemp(prefix="bench-plan-cache-"))
    plans = tmp / "plans"
    shutil.copytree(REPO / "plans", plans, ignore=shutil.ignore_patterns("README.md"))
    for f in (REPO / "examples" / "plans-v2").glob("*.yaml"):
        shutil.copy(f, plans / f.name)
    data = tmp / "data"
    generate(data, seed=7, reps=60, deals=1200, year=2026, months=3, plans_dir=REPO / "plans")
    engine = open_ledger(f"sqlite:///{tmp / 'ledger.db'}")
    with transaction(engine) as s:
        import_folder(s, data, plans, "bench")
    p = Period.parse("2026-03")
    n_plans = len(list(plans.glob("*.yaml")))

    def timed(cold: bool) -> list[float]:
        out = []
        with transaction(engine, write=False) as s:
            load_plans_for(s, p)
            for _ in range(a.runs):
                if cold:
                    compile_cache_clear()
                t = time.perf_counter()
                load_plans_for(s, p)
                out.append(time.perf_counter() - t)
        return out

    cold, warm = timed(True), timed(False)
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}; {n_plans} plan versions, "
          f"{a.runs} runs each, median")
    print(f"plans of a month, compiled each time: {statistics.median(cold) * 1000:7.2f} ms")
    print(f"plans of a month, from the cache:     {statistics.median(warm) * 1000:7.2f} ms "
          f"({statistics.median(cold) / statistics.median(warm):.0f}x)")

    # a close that reprices two locked months (a late change in each): three reads of the plans
    for m in ("2026-01", "2026-02"):
        with transaction(engine) as s:
            run_close(s, Period.parse(m), "bench")
            lock_period(s, Period.parse(m), "bench", accept_exceptions="bench")
    import csv

    rows = list(csv.DictReader((data / "deals.csv").open(newline="")))
    fields = list(rows[0])
    for m in ("2026-01", "2026-02"):
        d = next(r for r in rows if r["close_date"].startswith(m))
        d["amount"] = "98765.43"
    with (data / "deals.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, fields)
        w.writeheader()
        w.writerows(rows)
    with transaction(engine) as s:
        import_folder(s, data, plans, "bench")
    import compengine.ledger.inputs as inputs_module
    from compengine.plans.loader import compile_cached, load_plan_text

    for label, cached in (("compiled at each read", False), ("from the cache", True)):
        inputs_module.compile_cached = compile_cached if cached else (lambda text, file, digest=None: load_plan_text(text, file))
        times = []
        for _ in range(5):
            t = time.perf_counter()
            with transaction(engine) as s:
                run_close(s, p, "bench", executor="local:1")
            times.append(time.perf_counter() - t)
        print(f"close of {p} repricing 2 locked months, plans {label}: {statistics.median(times) * 1000:7.1f} ms")
    inputs_module.compile_cached = compile_cached


if __name__ == "__main__":
    main()
