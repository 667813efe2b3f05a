"""Benchmark ``compengine model`` (and ``accounting``) on a generated company's closed year.

Generates a seeded company, imports it into a SQLite ledger, closes every month of the year
(setup, timed apart), then models the year with the stored plans (which must reproduce what
was paid) and with a candidate (the AE new-logo rate raised), and prints wall seconds and peak RSS.

    .venv/bin/python benchmarks/bench_finance.py --reps 10000 --deals 600000
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import time
from pathlib import Path

from compengine.core.periods import Period
from compengine.finance.accounting import journal
from compengine.finance.model import load_candidates, model_plans
from compengine.generate import generate
from compengine.ledger import import_folder, open_ledger, run_close, transaction

REPO = Path(__file__).resolve().parents[1]


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--reps", type=int, default=10000)
    ap.add_argument("--deals", type=int, default=600000)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--db", default=None, help="reuse a closed ledger (skip the setup)")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-finance-"))
    db = a.db or f"sqlite:///{tmp / 'ledger.db'}"
    engine = open_ledger(db)
    if a.db is None:
        t = time.time()
        s = generate(tmp / "co", seed=a.seed, reps=a.reps, deals=a.deals, plans_dir=REPO / "plans")
        print(f"generated {s.reps} reps, {s.deals} deals in {time.time() - t:.1f} s", flush=True)
        t = time.time()
        with transaction(engine) as ses:
            import_folder(ses, tmp / "co", tmp / "co" / "plans", "bench")
        print(f"imported in {time.time() - t:.1f} s", flush=True)
        t = time.time()
        for p in Period(2026, 1).months_through(Period(2026, 12)):
            with transaction(engine) as ses:
                r = run_close(ses, p, "bench")
            print(f"  closed {p}: {len(r.reps)} reps, total {r.total_payout:,.2f}", flush=True)
        print(f"closed the year in {time.time() - t:.1f} s", flush=True)
    cand = tmp / "cand"
    shutil.copytree(REPO / "plans", cand, ignore=shutil.ignore_patterns("*.md"), dirs_exist_ok=True)
    (cand / "ae.yaml").write_text((cand / "ae.yaml").read_text().replace("new_logo: 0.10", "new_logo: 0.12"))
    for label, dirs in (("stored plans", [REPO / "plans"]), ("stored plans + candidate", [REPO / "plans", cand])):
        t = time.time()
        c0 = time.process_time()
        with transaction(engine, write=False) as ses:
            rep = model_plans(ses, load_candidates(dirs), Period(2026, 1), Period(2026, 12))
        wall, cpu = time.time() - t, time.process_time() - c0
        print(f"model, {label}: {wall:.1f} s wall, {cpu:.1f} s CPU, peak RSS {rss_mb():,.0f} MB; actual "
              f"{rep.actual.total:,.2f}; " + "; ".join(f"{c.name} {c.total:,.2f}" for c in rep.candidates), flush=True)
        assert rep.candidates[0].by_month == rep.actual.by_month, "the stored plans must reproduce what was paid"
    t = time.time()
    with transaction(engine, write=False) as ses:
        j = journal(ses, Period(2026, 12))
    print(f"accounting 2026-12: {time.time() - t:.1f} s, ties out: {j.ties_out}, asset balance {j.asset_balance:,.2f}")
    print(f"ledger: {db}")


if __name__ == "__main__":
    main()
