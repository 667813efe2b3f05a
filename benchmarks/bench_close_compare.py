"""Benchmark: the million-line close of this tree against an earlier commit, on copies of one ledger.

    .venv/bin/python benchmarks/bench_close_compare.py --base f3b4f3e [--runs 2]

Generates the 10,000-rep month (as ``bench_ledger.py``), imports it once with the
*base* commit's code into a SQLite file, then alternates closes on fresh copies of
that file: the base commit's code, then this tree's (whose schema upgrade runs
before the clock starts), ``--runs`` times each, so both see the same machine load.
This tree's lock (which writes the seal) is timed too. Prints one JSON line per run
and a summary. The base commit is checked out with ``git worktree`` in a temporary
folder and removed afterwards; both run with this venv's packages.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from trees import REPO, USE_TREE, beside  # benchmarks/trees.py (a script's folder is on its sys.path)

LOCK = """
import json, sys, time
from compengine.core.periods import Period
from compengine.ledger import lock_period, open_ledger, transaction
engine = open_ledger(sys.argv[1])
t = time.perf_counter()
with transaction(engine) as s:
    lock_period(s, Period.parse("2026-01"), "bench", accept_exceptions="bench")
print(json.dumps({"seconds": time.perf_counter() - t}))
"""


# Runs a script with ``tree``'s compengine (trees.USE_TREE).
BOOT = """
import runpy, sys
tree, script, *args = sys.argv[1:]
""" + USE_TREE + """
sys.argv = [script, *args]
runpy.run_path(script, run_name="__main__")
"""


def run_in(tree: Path, script: str, *args: str) -> dict:
    out = subprocess.run([sys.executable, "-c", BOOT, str(tree), script, *args], check=True, capture_output=True, text=True,
                         cwd=tree)
    return json.loads(out.stdout.strip().splitlines()[-1])


def phase(tree: Path, *args: str) -> dict:
    return run_in(tree, str(tree / "benchmarks" / "bench_ledger.py"), "--phase", *args)


def compare(a: argparse.Namespace, tmp: Path, base: Path) -> None:
    """The runs: ``base``'s import once, then closes on fresh copies, base and this tree alternating."""
    data = tmp / "data"
    phase(REPO, "generate", str(data), str(a.reps), str(a.deals))
    master = tmp / "imported.db"
    imp = phase(base, "import", f"sqlite:///{master}", str(data))
    print(json.dumps({"import_seconds_base": round(imp["seconds"], 1)}), flush=True)
    summary: dict[str, list[float]] = {"base": [], "this": [], "lock": []}
    for i in range(a.runs):
        for name, tree in (("base", base), ("this", REPO)):
            copy = tmp / f"{name}-{i}.db"
            shutil.copy(master, copy)
            load = os.getloadavg()[0]
            c = phase(tree, "close", f"sqlite:///{copy}", "2026-01", "0")
            summary[name].append(c["seconds"])
            row = {"code": name, "run": i + 1, "seconds": round(c["seconds"], 1), "cpu": round(c["cpu_seconds"], 1),
                   "workers_cpu": round(c["workers_cpu_seconds"], 1), "lines": c["payout_lines"], "total": c["total"],
                   "peak_mb": round(max(c["peak_mb"], c["workers_peak_mb"])), "load": round(load, 1)}
            if name == "this":
                script = tmp / "lock.py"
                script.write_text(LOCK)
                row["lock_seconds"] = round(run_in(REPO, str(script), f"sqlite:///{copy}")["seconds"], 1)
                summary["lock"].append(row["lock_seconds"])
            print(json.dumps(row), flush=True)
            copy.unlink()
    ratio = sum(summary["this"]) / sum(summary["base"])
    print(json.dumps({"base_s": summary["base"], "this_s": summary["this"], "lock_s": summary["lock"],
                      "this_over_base": round(ratio, 3)}), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", required=True, help="the commit to compare with")
    ap.add_argument("--runs", type=int, default=2)
    ap.add_argument("--reps", type=int, default=10000)
    ap.add_argument("--deals", type=int, default=880000)
    a = ap.parse_args()
    with beside(a.base, "bench-compare-") as (tmp, base):
        compare(a, tmp, base)


if __name__ == "__main__":
    main()
