"""Issue 18, calc speed: the set-based reference, the columnar calc and the python calc, one process, one run.

Generates the seeded million month (``--preset million`` of ``bench_calc.py``: 10,000 reps, 870,000 deals in
2026-01; or takes ``--data DIR``), then measures, in this order and ``--rounds`` times (interleaved, so the
load of this shared machine falls on all three alike):

* ``reference``: ``benchmarks/reference_sql.py`` (DuckDB parses the CSVs and computes each rep's payout);
* ``columnar``: the data folder read for the columnar engine (``read_data_folder_fast``: columns, falling back
  to the full reader on anything odd), then ``columnar.calculate_columns`` (every line's facts and each rep's
  payout, in integer cents); then, separately, ``ColumnarMonth.result()``: the PeriodResult with every
  ``Line`` and explain sentence (what ``calc`` prints);
* ``python``: ``read_data_folder`` and ``driver.calculate_month`` (today's ``calc``).

Checks that the three give every rep the same payout to the cent, prints a table of CPU seconds (this
process's, DuckDB's threads included) and wall seconds with the ratio to the reference, and rewrites the
``columnar`` section of ``benchmarks/RESULTS.md``.

    .venv/bin/python benchmarks/bench_columnar.py                # generate the million month, 1 round
    .venv/bin/python benchmarks/bench_columnar.py --rounds 2 --data /tmp/million --no-write
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_calc import machine, write_section  # noqa: E402
import reference_sql  # noqa: E402


def timed(fn):  # noqa: ANN001, ANN201
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - t0, time.process_time() - c0


def one_round(data_dir: Path, catalog, period) -> dict:  # noqa: ANN001
    from compengine.datafiles import read_data_folder, read_data_folder_fast
    from compengine.engine import columnar, driver

    plans = catalog.for_month(period)
    row: dict = {}
    ref, row["ref_s"], row["ref_cpu"] = timed(lambda: reference_sql.payouts(data_dir, plans, period))

    (fast, errors), row["col_read_s"], row["col_read_cpu"] = timed(lambda: read_data_folder_fast(data_dir, plans))
    assert not errors
    assert columnar.unsupported(fast, plans, period) is None
    cols, row["col_calc_s"], row["col_calc_cpu"] = timed(lambda: columnar.calculate_columns(fast, plans, period))
    col = cols.payouts()
    # every Line made once (a result's lines are made when read: columnar.RepLines)
    row["lines"], row["col_lines_s"], row["col_lines_cpu"] = timed(
        lambda: sum(len(list(r.lines)) for r in cols.result().reps))
    del cols, fast

    (data, errors), row["py_read_s"], row["py_read_cpu"] = timed(lambda: read_data_folder(data_dir, plans))
    assert not errors
    result, row["py_calc_s"], row["py_calc_cpu"] = timed(lambda: driver.calculate_month(data, catalog, period))
    py = {r.rep_id: int(r.payout.scaleb(2)) for r in result.reps}
    row["py_lines"] = sum(len(r.lines) for r in result.reps)
    del result, data

    assert ref == col == py, "the three disagree"
    row["reps"], row["total"] = len(py), sum(py.values())
    row["load"] = os.getloadavg()[0]
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, help="a generated one-month data folder (default: generate the million month)")
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--deals", type=int, default=870_000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from compengine.api import load_plan_catalog
    from compengine.core.periods import Period
    from compengine.generate import generate

    period = Period(2026, 1)
    with tempfile.TemporaryDirectory(prefix="compengine-columnar-") as tmp:
        data_dir = args.data
        if data_dir is None:
            data_dir = Path(tmp) / "company"
            print(generate(data_dir, seed=2026, reps=args.reps, deals=args.deals, months=1, plans_dir=ROOT / "plans"),
                  flush=True)
        catalog = load_plan_catalog(data_dir / "plans" if (data_dir / "plans").is_dir() else ROOT / "plans")
        rows = []
        for k in range(args.rounds):
            row = one_round(data_dir, catalog, period)
            rows.append(row)
            print(f"round {k + 1}: " + ", ".join(f"{key} {v:.2f}" if isinstance(v, float) else f"{key} {v}"
                                                for key, v in row.items()), flush=True)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    table = ["| round | load (1 min) | reference CPU s (wall) | columnar: read + calc CPU s (wall) | x reference "
             "| + lines and explains CPU s | python: read + calc CPU s (wall) | x reference |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for k, r in enumerate(rows, 1):
        col = r["col_read_cpu"] + r["col_calc_cpu"]
        py = r["py_read_cpu"] + r["py_calc_cpu"]
        table.append(
            f"| {k} | {r['load']:.1f} | {r['ref_cpu']:.2f} ({r['ref_s']:.2f}) "
            f"| {r['col_read_cpu']:.2f} + {r['col_calc_cpu']:.2f} = {col:.2f} ({r['col_read_s'] + r['col_calc_s']:.2f}) "
            f"| {col / r['ref_cpu']:.1f} | {r['col_lines_cpu']:.2f} "
            f"| {r['py_read_cpu']:.2f} + {r['py_calc_cpu']:.2f} = {py:.2f} ({r['py_read_s'] + r['py_calc_s']:.2f}) "
            f"| {py / r['ref_cpu']:.1f} |")
    r0 = rows[0]
    body = "\n".join([
        "## Columnar engine (issue 18): the million month against the set-based reference (`benchmarks/bench_columnar.py`)",
        "",
        f"One process, one run per round, in the order reference, columnar, python; {r0['reps']:,} reps, "
        f"{r0['lines']:,} payout lines, total payout {r0['total'] / 100:,.2f} in every engine (each rep's payout "
        f"equal to the cent in all three). Run at {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC on",
        *machine(),
        f"- peak RSS of the process: {peak:,.0f} MB; the load average (1 min) at the end of each round is in the table",
        "",
        "CPU seconds are this process's (DuckDB's two threads included); wall seconds in brackets. \"x reference\" "
        "is CPU over the reference's CPU.",
        "",
        *table,
    ])
    print()
    print(body)
    if not args.no_write:
        write_section("columnar", body)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
