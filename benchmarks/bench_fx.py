"""Issue 15's benchmark: a month with ~30% of its deals in other currencies against the same-size
USD-only month, on the columnar path ``compengine calc`` runs and on the pure engine, CPU seconds.

Generates two companies with ``compengine generate`` (same reps, deals and seed; one with
``--currencies USD,EUR,GBP,JPY``). Each round, for each company (the order alternating from round to
round), it times:

* ``columnar``: ``read_data_folder_fast`` + ``columnar.calculate_columns`` (the folder read into columns,
  every line's facts and each rep's payout: what ``calc`` computes), then ``ColumnarMonth.result()`` (the
  ``PeriodResult`` with its lines and explain sentences, what ``calc`` prints from);
* ``pure``: ``calculate_through`` of the month in the pure engine (the folder read once before, untimed).

Each figure is this process's CPU seconds (``time.process_time``), the best of ``--rounds``; the
machine may be shared, so wall time is not used. Every round checks that the columnar engine computed
the month itself (no fallback) and that each rep's payout equals the pure engine's to the cent.
Rewrites the ``fx-month`` section of benchmarks/RESULTS.md (``--no-write``: print only).

    .venv/bin/python benchmarks/bench_fx.py                       # 3,000 reps, 300,000 deals
    .venv/bin/python benchmarks/bench_fx.py --preset million      # 10,000 reps, 870,000 deals
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
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_statements import write_section  # noqa: E402

from compengine.api import load_plan_catalog  # noqa: E402
from compengine.core.periods import Period  # noqa: E402
from compengine.datafiles import read_data_folder, read_data_folder_fast  # noqa: E402
from compengine.engine import columnar  # noqa: E402
from compengine.engine.driver import calculate_through  # noqa: E402
from compengine.generate import generate  # noqa: E402

MONTH = Period(2026, 1)
PRESETS = {"default": (3000, 300_000), "million": (10_000, 870_000)}
COMPANIES = {"USD only": ("USD",), "30% in EUR, GBP, JPY": ("USD", "EUR", "GBP", "JPY")}


def cpu(fn):  # noqa: ANN001, ANN201
    gc.collect()
    c = time.process_time()
    out = fn()
    return out, time.process_time() - c


def one(folder: Path, catalog, full) -> dict:  # noqa: ANN001
    """One company, once: the columnar path, then the pure engine."""
    plans = catalog.for_month(MONTH)
    row: dict = {}
    (fast, errors), row["read"] = cpu(lambda: read_data_folder_fast(folder, plans))
    assert not errors and isinstance(fast.deals, columnar.DealColumns), "the fast reader fell back"
    assert columnar.unsupported(fast, plans, MONTH) is None
    cols, row["calc"] = cpu(lambda: columnar.calculate_columns(fast, plans, MONTH))
    res = None

    def made() -> int:  # the result with every Line made once (its lines are made when read: columnar.RepLines)
        nonlocal res
        res = cols.result()
        return sum(len(list(r.lines)) for r in res.reps)

    row["n_lines"], row["lines"] = cpu(made)
    col_pay = cols.payouts()
    row["converted"] = int((cols.c_tok >= 0).sum()) + int((cols.l_aux[cols.l_kind == columnar.KIND_OVERRIDE] > 0).sum())
    row["exceptions"] = len(res.exceptions)
    del res, cols, fast
    got, row["pure"] = cpu(lambda: calculate_through(full, catalog, MONTH)[-1])
    py_pay = {r.rep_id: int(r.payout.scaleb(2)) for r in got.reps}
    assert col_pay == py_pay, "the columnar and the pure engine disagree"
    assert sum(len(r.lines) for r in got.reps) == row["n_lines"]
    row["total"] = sum(py_pay.values())
    del got
    return row


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--preset", choices=sorted(PRESETS), default="default",
                    help="default: 3,000 reps, 300,000 deals; million: 10,000 reps, 870,000 deals")
    ap.add_argument("--reps", type=int)
    ap.add_argument("--deals", type=int)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    reps, deals = PRESETS[args.preset]
    reps, deals = args.reps or reps, args.deals or deals
    tmp = Path(tempfile.mkdtemp(prefix="bench-fx-"))
    loaded = {}
    for name, currencies in COMPANIES.items():
        folder = tmp / ("usd" if len(currencies) == 1 else "fx")
        generate(folder, seed=1, reps=reps, deals=deals, year=2026, months=1, plans_dir=ROOT / "plans",
                 currencies=currencies)
        catalog = load_plan_catalog(folder / "plans")
        full, errors = read_data_folder(folder, catalog.latest())
        assert not errors
        foreign = sum(1 for d in full.deals if d.currency != "USD")
        loaded[name] = (folder, catalog, full, foreign)
        print(f"{name}: {len(full.deals):,} deals, {foreign:,} in another currency", flush=True)
    started = datetime.now(timezone.utc)
    best: dict[str, dict[str, float]] = {name: {} for name in COMPANIES}
    facts: dict[str, dict] = {}
    loads = [os.getloadavg()[0]]
    names = list(COMPANIES)
    for k in range(args.rounds):
        for name in (names if k % 2 == 0 else names[::-1]):
            folder, catalog, full, _foreign = loaded[name]
            row = one(folder, catalog, full)
            row["columnar"] = row["read"] + row["calc"]
            row["end_to_end"] = row["columnar"] + row["lines"]
            for key in ("read", "calc", "columnar", "lines", "end_to_end", "pure"):
                best[name][key] = min(best[name].get(key, row[key]), row[key])
            facts[name] = row
            print(f"round {k + 1} {name}: read {row['read']:.2f} + calc {row['calc']:.2f} = {row['columnar']:.2f}, "
                  f"+ lines {row['lines']:.2f} = {row['end_to_end']:.2f}; pure {row['pure']:.2f} CPU s "
                  f"(load {os.getloadavg()[0]:.1f})", flush=True)
        loads.append(os.getloadavg()[0])
    base = best["USD only"]

    def vs(name: str, key: str) -> str:
        return f"{100 * (best[name][key] / base[key] - 1):+.0f}%"

    rows = [f"| {name} | {loaded[name][3]:,} | {best[name]['read']:.2f} + {best[name]['calc']:.2f} = "
            f"{best[name]['columnar']:.2f} | {vs(name, 'columnar')} | {best[name]['end_to_end']:.2f} | "
            f"{vs(name, 'end_to_end')} | {best[name]['pure']:.2f} | {vs(name, 'pure')} | {facts[name]['n_lines']:,} | "
            f"{facts[name]['converted']:,} | {facts[name]['exceptions']:,} |" for name in COMPANIES]
    body = "\n".join([
        "## fx-month: a month with 30% of its deals in other currencies (`benchmarks/bench_fx.py"
        + (f" --preset {args.preset}" if args.preset != "default" else "") + "`)",
        "",
        f"`generate --reps {reps} --deals {deals} --months 1` with and without `--currencies USD,EUR,GBP,JPY` "
        "(about 30% of deals booked in EUR, GBP, JPY; ~15% of AEs paid in EUR). Per company, alternating the order "
        "each round: the columnar path `calc` runs (`read_data_folder_fast` + `columnar.calculate_columns`: "
        "every line's facts and each payout), then with the `PeriodResult` and its lines and explains "
        "(`ColumnarMonth.result()`), and the pure engine (`calculate_through`, the folder read before). CPU "
        f"seconds of this process, each the best of {args.rounds} rounds; each rep's payout equal to the cent in both "
        f"engines in every round, and the columnar engine computing both months itself. {os.cpu_count()} cores "
        f"({platform.machine()}), Python {platform.python_version()}; run at {started:%Y-%m-%d %H:%M} UTC; load "
        f"average (1 min) {' -> '.join(f'{x:.1f}' for x in loads)} (other work on the machine: CPU seconds, not wall).",
        "",
        "| company | deals in another currency | columnar: read + calc CPU s | vs USD only | + lines CPU s | vs USD only "
        "| pure engine CPU s | vs USD only | lines | credits converted | exceptions |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        *rows,
        "",
        "\"credits converted\": credits and override bases converted into their receiver's plan currency on the "
        "columnar path.",
        "",
    ])
    print(body)
    if not args.no_write:
        write_section("fx-month", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
