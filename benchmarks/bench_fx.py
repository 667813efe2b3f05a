"""Issue 15's benchmark: a month with ~30% of its deals in other currencies against the same-size
USD-only month, in the pure engine (the columnar engine leaves FX to it), CPU seconds.

Generates two companies with ``compengine generate`` (same reps, deals and seed; one with
``--currencies USD,EUR,GBP,JPY``), reads each once, then times ``calculate_through`` for the month
``--rounds`` times, alternating the two, and keeps each one's best (the machine may be busy).
Rewrites the ``fx-month`` section of benchmarks/RESULTS.md (``--no-write``: print only).

    .venv/bin/python benchmarks/bench_fx.py                       # 3,000 reps, 300,000 deals
    .venv/bin/python benchmarks/bench_fx.py --reps 1000 --deals 100000 --no-write
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_statements import write_section  # noqa: E402

from compengine.core.periods import Period  # noqa: E402
from compengine.datafiles import read_plans_and_folder  # noqa: E402
from compengine.engine.driver import calculate_through  # noqa: E402
from compengine.generate import generate  # noqa: E402

MONTH = Period(2026, 1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=3000)
    ap.add_argument("--deals", type=int, default=300000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-fx-"))
    companies = {"USD only": ("USD",), "30% in EUR, GBP, JPY": ("USD", "EUR", "GBP", "JPY")}
    loaded = {}
    for name, currencies in companies.items():
        folder = tmp / ("usd" if len(currencies) == 1 else "fx")
        generate(folder, seed=1, reps=args.reps, deals=args.deals, year=2026, months=1, plans_dir=ROOT / "plans",
                 currencies=currencies)
        loaded[name] = read_plans_and_folder(folder / "plans", folder)
    load0 = os.getloadavg()[0]
    best: dict[str, float] = {}
    facts: dict[str, tuple[int, int, int]] = {}
    for _ in range(args.rounds):
        for name, (plans, data) in loaded.items():
            gc.collect()
            c = time.process_time()
            res = calculate_through(data, plans, MONTH)[-1]
            spent = time.process_time() - c
            best[name] = min(best.get(name, spent), spent)
            foreign = sum(1 for d in data.deals if d.currency != "USD")
            facts[name] = (sum(len(r.lines) for r in res.reps), len(res.exceptions), foreign)
            del res
    load1 = os.getloadavg()[0]
    base = best["USD only"]
    rows = [f"| {name} | {facts[name][2]:,} of {args.deals:,} | {best[name]:.2f} | {100 * (best[name] / base - 1):+.0f}% | "
            f"{facts[name][0]:,} | {facts[name][1]:,} |" for name in companies]
    body = "\n".join([
        "## fx-month: a month with 30% of its deals in other currencies (`benchmarks/bench_fx.py`)",
        "",
        f"`generate --reps {args.reps} --deals {args.deals} --months 1` with and without `--currencies USD,EUR,GBP,JPY` "
        f"(about 30% of deals booked in EUR, GBP, JPY; ~15% of AEs paid in EUR); `calculate_through` of 2026-01 in the "
        f"pure engine, CPU seconds, best of {args.rounds} alternating rounds. {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}; run on {date.today()}; load average "
        f"{load0:.1f} -> {load1:.1f}.",
        "",
        "| company | deals in another currency | CPU s | vs USD only | lines | exceptions |",
        "|---|---:|---:|---:|---:|---:|",
        *rows,
        "",
    ])
    print(body)
    if not args.no_write:
        write_section("fx-month", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
