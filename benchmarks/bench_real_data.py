"""Benchmark: the public CRM data sets end to end through the ledger.

    .venv/bin/python benchmarks/bench_real_data.py

For each data set in ../shared/data (read in place, never copied): convert,
import into a fresh SQLite ledger, close and lock every month, reconcile every
month, and render every rep's statement for every month. Prints deals, reps,
months and the seconds of each phase.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

from compengine.adapters import convert, write_data_folder  # noqa: E402
from compengine.core.periods import Period  # noqa: E402
from compengine.ledger import import_folder, lock_period, open_ledger, run_close, transaction  # noqa: E402
from compengine.ledger.reconcile import reconcile  # noqa: E402
from compengine.ledger.statement_source import ledger_statement_data  # noqa: E402
from compengine.statements import render_statements  # noqa: E402

CASES = {"maven-crm": "maven-crm-sales-opportunities", "northwind": "northwind"}


def run(fmt: str) -> None:
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-{fmt}-"))
    t = time.perf_counter()
    result = convert(fmt, SHARED / CASES[fmt])
    write_data_folder(result, tmp / "data")
    t_convert = time.perf_counter() - t
    engine = open_ledger(f"sqlite:///{tmp / 'ledger.db'}")
    t = time.perf_counter()
    with transaction(engine) as s:
        import_folder(s, tmp / "data", REPO / "plans", "bench")
    t_import = time.perf_counter() - t
    first = Period.parse(result.report.summary["first_month"])
    last = Period.parse(result.report.summary["last_month"])
    months = first.months_through(last)
    t = time.perf_counter()
    lines = 0
    for p in months:
        with transaction(engine) as s:
            res = run_close(s, p, "bench")
            lock_period(s, p, "bench")
        lines += sum(len(r.lines) for r in res.reps)
    t_close = time.perf_counter() - t
    t = time.perf_counter()
    for p in months:
        with transaction(engine) as s:
            assert reconcile(s, p).ok, p
    t_rec = time.perf_counter() - t
    t = time.perf_counter()
    rendered = 0
    for p in months:
        with transaction(engine) as s:
            items = ledger_statement_data(s, p, "Bench")
        rep = render_statements(items, tmp / "statements" / str(p), os.cpu_count())
        assert not rep.failed
        rendered += len(rep.rendered)
    t_render = time.perf_counter() - t
    engine.dispose()
    print(f"| {fmt} | {len(result.deals):,} | {len(result.reps)} | {len(months)} ({first}..{last}) | {lines:,} | "
          f"{t_convert:.2f} | {t_import:.2f} | {t_close:.1f} | {t_rec:.1f} | {rendered:,} in {t_render:.0f} |", flush=True)


if __name__ == "__main__":
    print("| data set | deals | reps | months | payout lines | convert s | import s | close+lock all months s | reconcile all s | statements rendered, s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for fmt in CASES:
        run(fmt)
