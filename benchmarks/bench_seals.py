"""Benchmark: seal a big month, and what the locked-month triggers cost a close rerun's DELETE.

    .venv/bin/python benchmarks/bench_seals.py --db sqlite:////tmp/bench_seals.db --lines 2000000
    .venv/bin/python benchmarks/bench_seals.py --db postgresql://postgres@127.0.0.1/test --lines 2000000

Builds a synthetic ledger (no engine run: the lines look like a big month's commission lines,
200 per rep, with an explain sentence each) into an empty database: one month of ``--lines``
lines to seal, and one open month of ``--delete-lines`` lines. Then times
``seals.month_digest`` and ``seals.seal_period`` on the big month, and the DELETE of the
open month's lines (what a close rerun does) with the triggers and with them disabled
(each timed in a transaction that is rolled back, best of ``--repeat``). Prints JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import resource
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy import text

REPO = Path(__file__).resolve().parents[1]
MIGRATION = REPO / "compengine" / "ledger" / "migrations" / "versions" / "0004_period_lifecycle.py"


def lines(period: str, n: int, null):  # noqa: ANN001, ANN201
    """Commission lines shaped like a big month's, each row built by column name (``codec.LINE_COLUMNS``)."""
    from compengine.ledger.codec import LINE_COLUMNS

    for i in range(n):
        row = {"period": period, "rep_id": f"R{i // 200:06d}", "seq": i % 200 + 1, "kind": "commission",
               "amount": 12345 + i % 1000, "deal_id": f"D{i:09d}", "credit": 123450 + i % 1000, "rate": "0.10",
               "multiplier": "1.0", "tier": 1, "rule": "rates.new_logo x accelerators.tiers[0]",
               "explain": f"D{i:09d} new_logo Account {i % 9973}: credit {1234.50 + i % 1000:,.2f} in band 1 (0%-100%) "
                          "at 10% x 1.0",
               "ref_period": null, "ref": null, "role": "primary", "split_pct": "100", "component": "commission",
               "base": 123450 + i % 1000, "deal_source": f"data/deals.csv:{i + 2}", "rule_source": "plans/ae.yaml:11,17 @2446f73d"}
        yield tuple(row[c] for c in LINE_COLUMNS)


def rep_periods(period: str, n: int, null):  # noqa: ANN001, ANN201
    """One rep_periods row per 200 lines, built by column name (``codec.REP_PERIOD_COLUMNS``)."""
    from compengine.ledger.codec import REP_PERIOD_COLUMNS

    for r in range(n // 200 + 1):
        row = {"period": period, "rep_id": f"R{r:06d}", "plan_id": "ae-2026", "currency": "USD", "measure": "period",
               "quota": 10000000, "credited": 5000000, "attainment": "0.5000", "ytd_quota": null, "ytd_credited": null,
               "tenure_month": 12, "payout": 246900, "draw_balance": 0, "carry_balance": 0, "ytd_paid": 246900,
               "ytd_year": 2026, "ytd_plan": null, "notes": "", "parts": null, "component_paid": null}
        yield tuple(row[c] for c in REP_PERIOD_COLUMNS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", required=True)
    ap.add_argument("--lines", type=int, default=2_000_000)
    ap.add_argument("--delete-lines", type=int, default=200_000)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()

    from compengine.ledger import open_ledger, transaction
    from compengine.ledger.codec import LINE_COLUMNS, NULLABLE_LINE_COLUMNS, NULLABLE_REP_PERIOD_COLUMNS, REP_PERIOD_COLUMNS
    from compengine.ledger.seals import month_digest, seal_period
    from compengine.ledger.store import bulk_insert, null_token

    engine = open_ledger(args.db)
    dialect = engine.dialect.name
    out: dict = {"db": dialect, "lines": args.lines, "delete_lines": args.delete_lines}
    t = time.perf_counter()
    with transaction(engine) as s:
        null = null_token(s)
        for p, status in [(f"2025-{m:02d}", "locked") for m in range(1, 13)] + [("2026-01", "calculated"),
                                                                             ("2026-02", "calculated")]:
            s.execute(text("INSERT INTO periods (period, status, runs, plan_versions, line_count, exceptions) "
                           "VALUES (:p, :s, 1, '{}', 0, '[]')"), {"p": p, "s": status})
        for p, n in (("2026-01", args.lines), ("2026-02", args.delete_lines)):
            bulk_insert(s, "payout_lines", LINE_COLUMNS, lines(p, n, null), has_dates=False, nullable=NULLABLE_LINE_COLUMNS)
            bulk_insert(s, "rep_periods", REP_PERIOD_COLUMNS, rep_periods(p, n, null), has_dates=False,
                        nullable=NULLABLE_REP_PERIOD_COLUMNS)
    out["build_seconds"] = round(time.perf_counter() - t, 1)
    if dialect == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE payout_lines")

    with transaction(engine) as s:
        t = time.perf_counter()
        d = month_digest(s, "2026-01")
        out["digest_seconds"] = round(time.perf_counter() - t, 2)
        t = time.perf_counter()
        seal_period(s, "2026-01", "bench", datetime(2026, 2, 1))
        out["seal_period_seconds"] = round(time.perf_counter() - t, 2)
    out["digest_lines"] = d.line_count
    out["lines_per_second"] = round(d.line_count / out["digest_seconds"])

    spec = importlib.util.spec_from_file_location("m0004", MIGRATION)
    m = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m)  # type: ignore[union-attr]

    def timed_delete(without_triggers: bool) -> float:
        best = float("inf")
        for _ in range(args.repeat):
            with engine.connect() as conn:
                tx = conn.begin()
                if without_triggers:
                    if dialect == "postgresql":
                        conn.exec_driver_sql("ALTER TABLE payout_lines DISABLE TRIGGER payout_lines_locked_delete")
                    else:
                        conn.exec_driver_sql("DROP TRIGGER payout_lines_locked_delete")
                t = time.perf_counter()
                n = conn.exec_driver_sql("DELETE FROM payout_lines WHERE period = '2026-02'").rowcount
                best = min(best, time.perf_counter() - t)
                assert n == args.delete_lines, n
                tx.rollback()
        return round(best, 3)

    out["delete_with_triggers_seconds"] = timed_delete(False)
    out["delete_without_triggers_seconds"] = timed_delete(True)
    out["peak_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
