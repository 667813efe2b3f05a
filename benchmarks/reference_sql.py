"""The set-based reference of issue 18: a month's payouts per rep in DuckDB, exact DECIMAL arithmetic.

The limit the engines are measured against (``benchmarks/bench_columnar.py`` runs it in the same process
as them). It reads the data folder's CSVs with DuckDB's parser and computes, in SQL:

* credits: a deal to its owner, or to its primary split reps (cents allocated by largest remainder, ties by
  rep id, so parts add up to the deal) and overlay reps (each rounded half up on its own);
* which credits count (not cancelled by the month's end within the receiver's plan's clawback window);
* quotas (annual / 12 x the ramp percent of the rep's tenure month, rounded once), band edges (quota x upto,
  rounded once);
* commission: credits ordered by (close date, deal id) per rep, running sums, each credit's part in each band
  ``least(end, hi) - greatest(start, lo)`` (marginal), the band of the month's total (retroactive), each part
  ``credit x rate x multiplier`` rounded once with the plan's mode (half up or half even);
* SPIFFs (scaled by the split), the monthly cap, overrides on direct reports' credit, draw top-ups;
* the payout of every rep with a plan in the month.

It covers what the generated companies' plans use (``plans/``: v1 plans, one month, every assignment all
month) and checks that it does (``check_supported``); plan parameters come from the loaded plan files into
small tables. Money is DECIMAL (exact) and integer cents; no DOUBLE anywhere.

    .venv/bin/python benchmarks/reference_sql.py DATA_DIR PLANS_DIR 2026-01     # per-rep payouts, checked
"""

from __future__ import annotations

import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def check_supported(plans: dict) -> None:
    for p in plans.values():
        if p.v2 or p.override_base != "credit" or len(p.override_levels) > 1 or p.currency != "USD":
            raise SystemExit(f"reference_sql: plan {p.id} uses what the reference does not compute")


def plan_tables(con, plans: dict) -> None:  # noqa: ANN001
    """Plan parameters as tables (a few rows each)."""
    con.execute("CREATE OR REPLACE TABLE plan (plan_id VARCHAR, annual_c BIGINT, measure VARCHAR, mode VARCHAR, "
                "even BOOLEAN, cap_c BIGINT, clawback_days INTEGER, draw_c BIGINT, draw_months INTEGER, "
                "o_n BIGINT, o_d BIGINT)")
    con.execute("CREATE OR REPLACE TABLE rate (plan_id VARCHAR, deal_type VARCHAR, rate_n BIGINT, rate_d BIGINT)")
    con.execute("CREATE OR REPLACE TABLE tier (plan_id VARCHAR, band INTEGER, upto_n BIGINT, upto_d BIGINT, "
                "mult_n BIGINT, mult_d BIGINT)")
    con.execute("CREATE OR REPLACE TABLE ramp (plan_id VARCHAR, first INTEGER, last INTEGER, pct_u BIGINT)")
    con.execute("CREATE OR REPLACE TABLE spiff (plan_id VARCHAR, k INTEGER, amount_c BIGINT, deal_type VARCHAR, "
                "min_term INTEGER, min_amount_c BIGINT, product VARCHAR)")

    def cents(x: Decimal | None) -> int | None:  # plan money in cents, exactly
        return None if x is None else int(x.scaleb(2).to_integral_exact())

    for p in plans.values():
        o = p.override_rate.as_integer_ratio() if p.override_rate is not None else (None, None)
        con.execute("INSERT INTO plan VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [p.id, cents(p.annual_quota), p.measure, p.mode, p.rounding == "half_even", cents(p.cap),
                     p.clawback_days, cents(p.draw.amount) if p.draw else None, p.draw.months if p.draw else None, *o])
        for t, r in p.rates.items():
            con.execute("INSERT INTO rate VALUES (?, ?, ?, ?)", [p.id, t, *r.as_integer_ratio()])
        for t in p.tiers:
            up = t.upper.as_integer_ratio() if t.upper is not None else (None, None)
            con.execute("INSERT INTO tier VALUES (?, ?, ?, ?, ?, ?)", [p.id, t.index, *up, *t.multiplier.as_integer_ratio()])
        for s in p.ramp:
            con.execute("INSERT INTO ramp VALUES (?, ?, ?, ?)", [p.id, s.first, s.last, int(s.quota_pct.scaleb(6))])
        for k, s in enumerate(p.spiffs):
            con.execute("INSERT INTO spiff VALUES (?, ?, ?, ?, ?, ?, ?)",
                        [p.id, k, cents(s.amount), s.deal_type, s.min_term_months, cents(s.min_amount), s.product])


# n / d (n >= 0, d > 0, integers) rounded to an integer: half up, or half to even; exact (HUGEINT)
MACROS = """
CREATE OR REPLACE MACRO rdiv(n, d, even) AS
  (n::HUGEINT // d) + CASE WHEN 2 * (n::HUGEINT % d) > d
                             OR (2 * (n::HUGEINT % d) = d AND (NOT even OR (n::HUGEINT // d) % 2 = 1))
                           THEN 1 ELSE 0 END;
"""

SQL = """
WITH
deals AS (
  SELECT * FROM read_csv($deals, header = true, auto_detect = false, columns = {
    'deal_id': 'VARCHAR', 'account': 'VARCHAR', 'deal_type': 'VARCHAR', 'amount': 'DECIMAL(18,2)',
    'currency': 'VARCHAR', 'close_date': 'DATE', 'owner_id': 'VARCHAR', 'term_months': 'INTEGER',
    'product': 'VARCHAR', 'cancelled_on': 'DATE'})
  WHERE close_date BETWEEN $first AND $last
),
splits AS (
  SELECT * FROM read_csv($splits, header = true, auto_detect = false, columns = {
    'deal_id': 'VARCHAR', 'rep_id': 'VARCHAR', 'split_pct': 'DECIMAL(18,6)', 'role': 'VARCHAR'})
),
splits_u AS (SELECT deal_id, rep_id, (split_pct * 1000000)::BIGINT AS pct_u, role FROM splits),
reps AS (
  SELECT * FROM read_csv($reps, header = true, auto_detect = false, columns = {
    'rep_id': 'VARCHAR', 'name': 'VARCHAR', 'email': 'VARCHAR', 'manager_id': 'VARCHAR', 'team': 'VARCHAR',
    'hire_date': 'DATE'})
),
assignments AS (
  SELECT * FROM read_csv($assignments, header = true, auto_detect = false, columns = {
    'rep_id': 'VARCHAR', 'plan_id': 'VARCHAR', 'start': 'DATE', 'end': 'DATE', 'annual_quota': 'DECIMAL(18,2)'})
),
-- reps with a plan all month: tenure month, monthly quota (annual x ramp % / 1200, rounded once)
active AS (
  SELECT a.rep_id, a.plan_id, p.*, r.manager_id,
         CASE WHEN r.hire_date IS NULL THEN NULL
              ELSE ($year * 12 + $month) - (year(r.hire_date) * 12 + month(r.hire_date)) + 1 END AS tenure,
         coalesce((a.annual_quota * 100)::BIGINT, p.annual_c) AS annual_c2
  FROM assignments a JOIN plan p USING (plan_id) JOIN reps r USING (rep_id)
  WHERE a.start <= $first AND (a."end" IS NULL OR a."end" >= $last)
),
quota AS (
  SELECT a.*,
         CASE WHEN a.measure = 'ytd' AND a.tenure IS NOT NULL AND a.tenure < 1 THEN 0
              ELSE rdiv(a.annual_c2 * coalesce((SELECT pct_u FROM ramp WHERE ramp.plan_id = a.plan_id
                                                 AND a.tenure BETWEEN first AND last), 100000000), 1200000000, a.even)
         END::BIGINT AS quota_c
  FROM active a
),
-- credits: primary parts by largest remainder (ties by rep id), overlays rounded half up, else the owner
prim AS (
  SELECT d.deal_id, s.rep_id, s.pct_u, (d.amount * 100)::BIGINT AS total_c,
         sum(s.pct_u) OVER (PARTITION BY d.deal_id) AS wsum
  FROM deals d JOIN splits_u s USING (deal_id) WHERE s.role = 'primary'
),
prim2 AS (
  SELECT *, (total_c::HUGEINT * pct_u // wsum)::BIGINT AS fl, total_c::HUGEINT * pct_u % wsum AS rem
  FROM prim
),
prim3 AS (
  SELECT *, total_c - sum(fl) OVER (PARTITION BY deal_id) AS leftover,
         row_number() OVER (PARTITION BY deal_id ORDER BY rem DESC, rep_id) AS k
  FROM prim2
),
credits AS (
  SELECT deal_id, rep_id, fl + CASE WHEN k <= leftover THEN 1 ELSE 0 END AS cents, pct_u, 0 AS sub FROM prim3
  UNION ALL
  SELECT d.deal_id, d.owner_id, (d.amount * 100)::BIGINT, 100000000, 0 FROM deals d
  WHERE NOT EXISTS (SELECT 1 FROM splits_u s WHERE s.deal_id = d.deal_id AND s.role = 'primary')
  UNION ALL
  SELECT d.deal_id, s.rep_id, rdiv((d.amount * 100)::BIGINT * s.pct_u, 100000000, false)::BIGINT, s.pct_u, 1
  FROM deals d JOIN splits_u s USING (deal_id) WHERE s.role = 'overlay'
),
cred AS (
  SELECT c.*, d.deal_type, d.close_date, d.cancelled_on, d.term_months, d.product, d.amount AS deal_amount
  FROM credits c JOIN deals d USING (deal_id)
),
-- the receiver's credits that count, running sums in (close date, deal id) order
mine AS (
  SELECT c.*, q.plan_id, q.mode, q.even, q.quota_c,
         sum(c.cents) OVER w - c.cents AS s, sum(c.cents) OVER w AS e,
         sum(c.cents) OVER (PARTITION BY c.rep_id) AS total
  FROM cred c JOIN quota q USING (rep_id)
  WHERE NOT (c.cancelled_on IS NOT NULL AND c.cancelled_on <= $last AND q.clawback_days IS NOT NULL
             AND date_diff('day', c.close_date, c.cancelled_on) BETWEEN 0 AND q.clawback_days)
  WINDOW w AS (PARTITION BY c.rep_id ORDER BY c.close_date, c.deal_id, c.sub ROWS UNBOUNDED PRECEDING)
),
-- band edges in cents: quota x upto, rounded once (lo of band 1: none; hi of the last: none)
edges AS (
  SELECT q.rep_id, t.band,
         lag(rdiv(q.quota_c * t.upto_n, t.upto_d, q.even)) OVER (PARTITION BY q.rep_id ORDER BY t.band) AS lo,
         CASE WHEN t.upto_n IS NULL THEN NULL ELSE rdiv(q.quota_c * t.upto_n, t.upto_d, q.even) END AS hi,
         t.mult_n, t.mult_d
  FROM quota q JOIN tier t USING (plan_id) WHERE q.quota_c > 0
),
parts AS (
  -- no quota: the whole credit at x1
  SELECT m.rep_id, m.cents AS portion, r.rate_n, r.rate_d, 1 AS mult_n, 1 AS mult_d, m.even
  FROM mine m JOIN rate r ON r.plan_id = m.plan_id AND r.deal_type = m.deal_type WHERE m.quota_c <= 0
  UNION ALL
  -- marginal: the part of [s, e) in [lo, hi)
  SELECT m.rep_id, least(m.e, coalesce(x.hi, m.e)) - greatest(m.s, coalesce(x.lo, m.s)), r.rate_n, r.rate_d,
         x.mult_n, x.mult_d, m.even
  FROM mine m JOIN edges x USING (rep_id) JOIN rate r ON r.plan_id = m.plan_id AND r.deal_type = m.deal_type
  WHERE m.quota_c > 0 AND m.mode = 'marginal'
    AND least(m.e, coalesce(x.hi, m.e)) - greatest(m.s, coalesce(x.lo, m.s)) > 0
  UNION ALL
  -- retroactive: the whole credit in the band of the month's total (a boundary belongs to the lower band)
  SELECT m.rep_id, m.cents, r.rate_n, r.rate_d, x.mult_n, x.mult_d, m.even
  FROM mine m JOIN edges x USING (rep_id) JOIN rate r ON r.plan_id = m.plan_id AND r.deal_type = m.deal_type
  WHERE m.quota_c > 0 AND m.mode = 'retroactive'
    AND (x.lo IS NULL OR m.total > x.lo) AND (x.hi IS NULL OR m.total <= x.hi)
),
commission AS (
  SELECT rep_id, sum(rdiv(portion * rate_n * mult_n, rate_d * mult_d, even))::BIGINT AS comm FROM parts GROUP BY rep_id
),
spiffs AS (
  SELECT m.rep_id, sum(rdiv(sp.amount_c * m.pct_u, 100000000, m.even))::BIGINT AS spiff
  FROM mine m JOIN spiff sp ON sp.plan_id = m.plan_id
  WHERE (sp.deal_type IS NULL OR sp.deal_type = m.deal_type)
    AND (sp.min_term IS NULL OR coalesce(m.term_months, 0) >= sp.min_term)
    AND (sp.min_amount_c IS NULL OR m.deal_amount * 100 >= sp.min_amount_c)
    AND (sp.product IS NULL OR sp.product = m.product)
  GROUP BY m.rep_id
),
overrides AS (
  SELECT q.rep_id, sum(rdiv(c.cents * q.o_n, q.o_d, q.even))::BIGINT AS override
  FROM quota q JOIN reps r ON r.manager_id = q.rep_id JOIN cred c ON c.rep_id = r.rep_id
  WHERE q.o_n IS NOT NULL
    AND NOT (c.cancelled_on IS NOT NULL AND c.cancelled_on <= $last AND q.clawback_days IS NOT NULL
             AND date_diff('day', c.close_date, c.cancelled_on) BETWEEN 0 AND q.clawback_days)
  GROUP BY q.rep_id
),
earned AS (
  SELECT q.rep_id, q.tenure, q.draw_c, q.draw_months,
         coalesce(c.comm, 0) AS comm,
         CASE WHEN q.cap_c IS NOT NULL AND coalesce(c.comm, 0) > q.cap_c THEN q.cap_c - c.comm ELSE 0 END AS cap,
         coalesce(s.spiff, 0) AS spiff, coalesce(o.override, 0) AS override
  FROM quota q LEFT JOIN commission c USING (rep_id) LEFT JOIN spiffs s USING (rep_id) LEFT JOIN overrides o USING (rep_id)
)
SELECT rep_id,
       comm + cap + spiff + override
       + CASE WHEN draw_c IS NOT NULL AND tenure BETWEEN 1 AND draw_months AND comm + cap + spiff + override < draw_c
              THEN draw_c - (comm + cap + spiff + override) ELSE 0 END AS payout_c
FROM earned ORDER BY rep_id
"""


def payouts(data_dir: Path, plans: dict, period) -> dict[str, int]:  # noqa: ANN001
    """Each rep's payout in cents for ``period`` (a compengine Period), CSVs parsed by DuckDB."""
    import duckdb

    check_supported(plans)
    con = duckdb.connect()
    con.execute("SET threads TO 2")
    con.execute(MACROS)
    plan_tables(con, plans)
    splits = data_dir / "splits.csv"
    params = {"deals": str(data_dir / "deals.csv"), "reps": str(data_dir / "reps.csv"),
              "assignments": str(data_dir / "assignments.csv"), "first": period.start, "last": period.end,
              "year": period.year, "month": period.month}
    sql = SQL
    if splits.is_file():
        params["splits"] = str(splits)
    else:  # no splits.csv: an empty table of its columns
        sql = sql.replace("""SELECT * FROM read_csv($splits, header = true, auto_detect = false, columns = {
    'deal_id': 'VARCHAR', 'rep_id': 'VARCHAR', 'split_pct': 'DECIMAL(18,6)', 'role': 'VARCHAR'})""",
                          "SELECT NULL::VARCHAR AS deal_id, NULL::VARCHAR AS rep_id, NULL::DECIMAL(18,6) AS split_pct, "
                          "NULL::VARCHAR AS role WHERE false")
    rows = con.execute(sql, params).fetchall()
    con.close()
    return {r: int(c) for r, c in rows}


def main() -> int:
    from compengine.api import load_plan_catalog
    from compengine.core.periods import Period
    from compengine.datafiles import read_data_folder
    from compengine.engine import driver

    data_dir, plans_dir, month = Path(sys.argv[1]), Path(sys.argv[2]), Period.parse(sys.argv[3])
    catalog = load_plan_catalog(plans_dir)
    plans = catalog.for_month(month)
    c0 = time.process_time()
    t0 = time.perf_counter()
    ref = payouts(data_dir, plans, month)
    print(f"reference: {len(ref):,} reps, total {Decimal(sum(ref.values())).scaleb(-2):,.2f} in "
          f"{time.perf_counter() - t0:.2f} s ({time.process_time() - c0:.2f} s CPU of this process)")
    data, errors = read_data_folder(data_dir, plans)
    assert not errors, errors[:3]
    result = driver.calculate_month(data, catalog, month)
    py = {r.rep_id: int(r.payout.scaleb(2)) for r in result.reps}
    bad = [(k, ref.get(k), py.get(k)) for k in sorted(set(ref) | set(py)) if ref.get(k) != py.get(k)]
    print(f"python engine: total {result.total_payout:,.2f}; {len(bad)} rep(s) differ" + (f": {bad[:5]}" if bad else ""))
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
