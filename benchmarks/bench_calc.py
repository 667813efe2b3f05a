"""Benchmark of the calculation without a database (issue 2): read, one month, the year.

Generates a seeded company into a temporary folder (default: 1,000 reps and
200,000 deals over 2026), then times, each in a fresh process so its peak memory
is its own:

* ``read``: ``read_data_folder`` (parse and check the CSVs);
* ``month``: ``calculate_month`` for the last month (runs every month through it);
* ``period``: one ``calculate_period`` call for the last month alone, on the
  inputs the driver prepared for it (credits, ytd credits, cancellations, state);
* ``year``: ``calculate_through`` from January through the last month.

Reports seconds, credit lines per second and peak memory (max RSS of the
process), prints a table and rewrites the ``calc`` section of
``benchmarks/RESULTS.md`` (the rest of the file is kept).

    .venv/bin/python benchmarks/bench_calc.py                    # the issue's sizes
    .venv/bin/python benchmarks/bench_calc.py --preset million   # 10,000 reps, ~1M credit lines in one month
    .venv/bin/python benchmarks/bench_calc.py --reps 200 --deals 20000 --no-write
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
PLANS = ROOT / "plans"
PRESETS = {
    # the sizes of issue 2: 1,000 reps, 200,000 deals over a year
    "issue": {"reps": 1000, "deals": 200_000, "months": 12},
    # a month of about a million credit lines over 10,000 reps (the ledger issue's close size)
    "million": {"reps": 10_000, "deals": 870_000, "months": 1},
}
DEFAULT_PHASES = {"issue": "read,month,period,year", "million": "read,month"}  # one month: month = period = year
PHASES = ("read", "month", "period", "year")


def maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


# --------------------------------------------------------------------------- one phase (child process)


def run_phase(phase: str, data_dir: Path, year: int, months: int) -> dict:
    from compengine.core.periods import Period
    from compengine.datafiles import read_data_folder
    from compengine.engine import driver
    from compengine.engine.pipeline import credit_deals, group_splits
    from compengine.plans import load_plans

    plans, errors = load_plans(PLANS)
    assert not errors, errors
    last = Period(year, months)
    t0, c0 = time.perf_counter(), time.process_time()
    data, errors = read_data_folder(data_dir, plans)
    t_read, c_read = time.perf_counter() - t0, time.process_time() - c0
    assert not errors, [str(e) for e in errors[:5]]
    credits = credit_deals(data.deals, group_splits(data.splits))
    in_last = sum(1 for c in credits if c.close_date.year == year and c.close_date.month == months)
    out: dict = {"phase": phase, "deals": len(data.deals), "reps": len(data.reps), "credits": len(credits),
                 "credits_last": in_last}
    if phase == "read":
        out["seconds"], out["cpu"] = t_read, c_read
        out["rows"] = len(data.deals) + len(data.splits) + len(data.reps) + len(data.assignments)
    elif phase == "month":
        t0, c0 = time.perf_counter(), time.process_time()
        result = driver.calculate_month(data, plans, last)
        out["seconds"], out["cpu"] = time.perf_counter() - t0, time.process_time() - c0
        out["lines"] = sum(len(r.lines) for r in result.reps)
        out["total_payout"] = str(result.total_payout)
    elif phase == "period":
        captured: dict = {}
        real = driver.calculate_period

        def capture(period, *args, **kwargs):
            if period == last:  # the driver updates ``state`` in place after the call: keep a copy
                captured["call"] = (period, args, {k: dict(v) if isinstance(v, dict) else v for k, v in kwargs.items()})
            return real(period, *args, **kwargs)

        driver.calculate_period = capture  # type: ignore[assignment]
        try:
            expected = driver.calculate_month(data, plans, last)
        finally:
            driver.calculate_period = real  # type: ignore[assignment]
        period, args, kwargs = captured["call"]
        t0, c0 = time.perf_counter(), time.process_time()
        result = real(period, *args, **kwargs)
        out["seconds"], out["cpu"] = time.perf_counter() - t0, time.process_time() - c0
        assert result.total_payout == expected.total_payout
        out["lines"] = sum(len(r.lines) for r in result.reps)
    elif phase == "year":
        t0, c0 = time.perf_counter(), time.process_time()
        results = driver.calculate_through(data, plans, last, first_wanted=Period(year, 1))
        out["seconds"], out["cpu"] = time.perf_counter() - t0, time.process_time() - c0
        out["lines"] = sum(len(r.lines) for pr in results for r in pr.reps)
        out["total_payout"] = str(sum(pr.total_payout for pr in results))
    out["maxrss_mb"] = maxrss_mb()
    return out


# --------------------------------------------------------------------------- the parent


def machine() -> list[str]:
    def sh(cmd: str) -> str:
        try:
            return subprocess.run(cmd, shell=True, capture_output=True, text=True, timeout=10).stdout.strip()
        except Exception:  # pragma: no cover
            return ""

    model = sh("lscpu | grep 'Model name'").split(":", 1)[-1].strip() or platform.processor()
    mem = sh("free -g | awk '/^Mem:/ {print $2}'")
    return [
        f"- CPU: {model}, {sh('nproc')} cores (`nproc`)",
        f"- Memory: {mem} GB (`free -g`)",
        f"- Python {platform.python_version()} on {platform.system()} {platform.release()}",
    ]


def header() -> str:
    return "\n".join([
        "# Benchmarks",
        "",
        "Measured on this machine:",
        "",
        *machine(),
        "",
        "Each section is written by the script named in it; seconds are wall-clock seconds of one run unless marked CPU.",
        "",
    ])


def write_section(name: str, body: str) -> None:
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else header()
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def fmt_rate(n: int, s: float) -> str:
    return f"{n / s:,.0f}" if s > 0 else "-"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default=None,
                    help="issue (default): 1,000 reps, 200,000 deals, a year; million: 10,000 reps, ~1M credit lines in a month")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--deals", type=int)
    ap.add_argument("--months", type=int)
    ap.add_argument("--year", type=int, default=2026)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--phases", help="comma-separated, of: " + ",".join(PHASES) + " (default: all; read,month for million)")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    ap.add_argument("--phase", help=argparse.SUPPRESS)
    ap.add_argument("--data", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.phase:  # child process: one measurement
        print(json.dumps(run_phase(args.phase, Path(args.data), args.year, args.months)))
        return 0

    preset_name = args.preset or "issue"
    size = dict(PRESETS[preset_name])
    for k in ("reps", "deals", "months"):
        if getattr(args, k) is not None:
            size[k] = getattr(args, k)
    custom = size != PRESETS[preset_name]
    from compengine.generate import generate

    phases = [p for p in (args.phases or DEFAULT_PHASES[preset_name]).split(",") if p]
    rows: list[dict] = []
    with tempfile.TemporaryDirectory(prefix="compengine-bench-") as tmp:
        data_dir = Path(tmp) / "company"
        t0 = time.perf_counter()
        summary = generate(data_dir, seed=args.seed, reps=size["reps"], deals=size["deals"], year=args.year,
                           months=size["months"], plans_dir=PLANS)
        t_gen = time.perf_counter() - t0
        print(f"generated in {t_gen:.1f} s: {summary}", flush=True)
        for phase in phases:
            cmd = [sys.executable, __file__, "--phase", phase, "--data", str(data_dir), "--year", str(args.year),
                   "--months", str(size["months"])]
            proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                  env={**os.environ, "PYTHONHASHSEED": "0"})
            if proc.returncode != 0:
                print(proc.stdout, proc.stderr, file=sys.stderr)
                return 1
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            rows.append(row)
            print(f"  {phase:<7} {row['seconds']:8.2f} s  (CPU {row['cpu']:.2f} s)  peak {row['maxrss_mb']:,.0f} MB", flush=True)

    last = f"{args.year}-{size['months']:02d}"
    what = {
        "read": f"read_data_folder ({summary.deals:,} deals, {summary.split_rows:,} split rows)",
        "month": f"calculate_month {last} (runs {args.year}-01..{last})",
        "period": f"one calculate_period call for {last}, inputs prepared",
        "year": f"calculate_through {args.year}-01..{last}",
    }
    table = [
        "| step | seconds | CPU seconds | credit lines | credit lines/s | payout lines | peak RSS (MB) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        credits = row["credits_last"] if row["phase"] == "period" else row["credits"]
        table.append(
            f"| {what[row['phase']]} | {row['seconds']:.2f} | {row['cpu']:.2f} | {credits:,} | {fmt_rate(credits, row['seconds'])} "
            f"| {row.get('lines', 0):,} | {row['maxrss_mb']:,.0f} |"
        )
    body = "\n".join([
        f"## calc: {summary.reps:,} reps, {summary.deals:,} deals, {size['months']} month(s) (`benchmarks/bench_calc.py"
        + (f" --preset {preset_name}" if args.preset else "") + "`)",
        "",
        f"Seeded company (seed {args.seed}): {summary.reps:,} reps in {summary.teams} teams, {summary.deals:,} deals, "
        f"{summary.split_rows:,} split rows, {summary.credit_lines:,} credit lines "
        f"({rows[0]['credits_last']:,} in {last}), {summary.cancelled:,} cancelled; generated in {t_gen:.1f} s. "
        f"Run on {date.today().isoformat()}. Credit lines/s counts every credit the step computes "
        "(the whole data set for read, month and year; the last month's for one period), per wall-clock second. "
        "CPU seconds are the process's own (other work on this shared machine inflates wall-clock time). "
        "Peak RSS is the process's, reading included.",
        "",
        *table,
    ])
    print()
    print(body)
    if not args.no_write and not custom:
        write_section(f"calc-{preset_name}", body)
        print(f"\nwrote the calc-{preset_name} section of {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
