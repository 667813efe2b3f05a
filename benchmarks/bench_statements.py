"""Benchmark of statement rendering (issue 4): 1,000 one-page PDF statements.

Builds synthetic, seeded :class:`StatementData` (default 1,000 reps on the
``ae-2026`` plan, each with 2 to 4 deal lines, some splits, SPIFFs, clawbacks,
draws and adjustments, ten months of year to date: one page each, which the
script checks), then times in one run:

* ``naive``: one process, one statement after the other, the plain way:
  ``HTML(string=...).write_pdf(stylesheets=[CSS(filename=...)])`` (the
  stylesheet and its fonts are loaded again for every statement);
* ``jobs=1``: :func:`render_statements` with one worker process (stylesheet
  and fonts loaded once per worker and reused; workers are replaced every 250
  statements);
* ``jobs=N``: :func:`render_statements` with N worker processes (default 2),
  into a fresh folder;
* ``rerun``: :func:`render_statements` again on the same folder, nothing
  changed: it must render 0.

Prints statements per second and rewrites the ``statements`` section of
``benchmarks/RESULTS.md`` (between its markers; the rest of the file is kept).

    .venv/bin/python benchmarks/bench_statements.py                  # 1,000 statements, jobs=2
    .venv/bin/python benchmarks/bench_statements.py --count 40 --no-write
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from compengine.core.money import ZERO, round_money  # noqa: E402
from compengine.engine.records import COMPONENTS, Line  # noqa: E402
from compengine.plans import load_plans  # noqa: E402
from compengine.statements import (  # noqa: E402
    DealInfo,
    StatementData,
    YtdMonth,
    load_templates,
    render_statements,
    statement_name_of,
)

RESULTS = ROOT / "benchmarks" / "RESULTS.md"
ACCOUNTS = ("Globex", "Initech", "Umbrella", "Hooli", "Stark", "Wayne", "Soylent", "Acme Labs", "Tyrell", "Cyberdyne",
            "Wonka", "Gringotts", "Vandelay", "Pied Piper", "Dunder Mifflin", "Oscorp")
FIRST = ("Ravi", "Jo", "Ana", "Sam", "Maria", "Lee", "Noor", "Tomás", "Aiko", "Zoë", "Olu", "Ines", "Piotr", "Mei")
LAST = ("Shah", "Kim", "Silva", "Okafor", "Lopez", "Nguyen", "Haddad", "Müller", "Tanaka", "Brennan", "Adeyemi")


def cents(rng: random.Random, lo: int, hi: int) -> Decimal:
    return Decimal(rng.randrange(lo, hi) * 100).scaleb(-2)


def synthetic(count: int, seed: int = 7) -> list[StatementData]:
    """``count`` consistent one-page statements for 2026-10 on the ae-2026 plan (lines sum to the payout)."""
    plans, errors = load_plans(ROOT / "plans")
    assert not errors, errors
    plan = plans["ae-2026"]
    rng = random.Random(seed)
    out: list[StatementData] = []
    for n in range(1, count + 1):
        rep = f"R{n:04d}"
        lines: list[Line] = []
        deals: dict[str, DealInfo] = {}
        pos = ZERO
        quota = Decimal("100000.00")
        for k in range(rng.randint(2, 4)):
            deal = f"D{n:04d}{k}"
            amount = cents(rng, 50, 900) * 100
            pct = rng.choice((Decimal(100), Decimal(100), Decimal(60), Decimal(50)))
            credit = round_money(amount * pct / 100)
            deal_type = rng.choice(("new_logo", "new_logo", "expansion", "renewal"))
            rate = plan.rates[deal_type]
            tier = plan.tiers[0] if pos + credit <= quota else plan.tiers[1]
            pos += credit
            amt = round_money(credit * rate * tier.multiplier)
            deals[deal] = DealInfo(rng.choice(ACCOUNTS), deal_type, date(2026, 10, rng.randint(1, 31)))
            share = "" if pct == 100 else f" (primary {pct}% of {amount:,.2f})"
            lines.append(Line(rep, "2026-10", 0, "commission", amt, deal, credit, rate, tier.multiplier, tier.index,
                              f"rates.{deal_type}", f"{deal} {deal_type}: credit {credit:,.2f}{share} in "
                              f"{tier.label()} at {rate * 100:.0f}% x {tier.multiplier} = {amt:,.2f}",
                              role="primary", split_pct=pct))
        if rng.random() < 0.3:
            deal = next(iter(deals))
            lines.append(Line(rep, "2026-10", 0, "spiff", Decimal("500.00"), deal, rule="spiffs.multi-year",
                              explain=f"SPIFF multi-year on {deal}: 500.00 = 500.00", role="primary",
                              split_pct=Decimal(100)))
        if rng.random() < 0.1 and len(lines) <= 4:
            deal = f"D{n:04d}X"
            deals[deal] = DealInfo(rng.choice(ACCOUNTS), "new_logo", date(2026, 8, 12))
            lines.append(Line(rep, "2026-10", 0, "clawback", Decimal("-1200.00"), deal, rule="clawback.window_days",
                              ref_period="2026-08", explain=f"Clawback: {deal} (closed 2026-08-12) cancelled on "
                              "2026-10-05, 54 days later, within 90; reverses 1,200.00 paid in 2026-08"))
        if rng.random() < 0.1 and len(lines) <= 3:  # an adjustment table: room for it on the page
            lines.append(Line(rep, "2026-10", 0, "adjustment", Decimal("-150.00"), rule="adjustment:3",
                              explain="Duplicate SPIFF in September", ref_period="2026-09", ref="adjustment:3"))
        lines = [ln._replace(seq=i) for i, ln in enumerate(lines, start=1)]
        comps = {k: ZERO for k in COMPONENTS}
        for ln in lines:
            comps[ln.kind] += ln.amount
        payout = sum((ln.amount for ln in lines), ZERO)
        ytd = [YtdMonth(f"2026-{m:02d}", cents(rng, 0, 1200) * 100, cents(rng, 0, 120) * 100) for m in range(1, 10)]
        ytd.append(YtdMonth("2026-10", pos, payout))
        out.append(StatementData(
            company="Synthetic Corp", period="2026-10", status="preliminary", rep_id=rep,
            rep_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}", team=f"Team {n % 40 + 1}",
            email=f"{rep.lower()}@example.com", manager_name=f"{rng.choice(FIRST)} {rng.choice(LAST)}",
            plan=plan, measure="period", quota=quota, credited=pos,
            attainment=(pos / quota).quantize(Decimal("0.0001")), ytd_quota=None, ytd_credited=None,
            tenure_month=40, lines=tuple(lines), deals=deals, components=comps, payout=payout, ytd=tuple(ytd),
            draw_balance=ZERO, carry_balance=ZERO,
        ))
    return out


def naive(items: list[StatementData], out: Path) -> None:
    """The baseline: one process, sequential, stylesheet and fonts loaded per statement."""
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    templates = load_templates()
    base = str(templates.folder) + os.sep
    out.mkdir(parents=True, exist_ok=True)
    for s in items:
        fonts = FontConfiguration()  # as WeasyPrint's docs do it for a stylesheet with @font-face
        css = CSS(filename=str(templates.css_path), font_config=fonts)
        HTML(string=templates.render(s), base_url=base).write_pdf(
            str(out / f"{statement_name_of(s)}.pdf"), stylesheets=[css], font_config=fonts)


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the worker processes, once joined)."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


class Phase:
    """Wall-clock and CPU seconds of a block, and the 1-minute load average before and after it."""

    def __enter__(self) -> "Phase":
        self.load0 = os.getloadavg()[0]
        self.cpu0, self.t0 = cpu_seconds(), time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.t0
        self.cpu = cpu_seconds() - self.cpu0
        self.load1 = os.getloadavg()[0]


def page_counts(folder: Path) -> dict[int, int]:
    from pypdf import PdfReader

    counts: dict[int, int] = {}
    for pdf in folder.glob("*.pdf"):
        n = len(PdfReader(str(pdf)).pages)
        counts[n] = counts.get(n, 0) + 1
    return counts


def write_section(name: str, body: str) -> None:
    """Replace this script's section of RESULTS.md (between its markers), keeping everything else."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    text = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmarks\n"
    block = f"{start}\n{body.rstrip()}\n{end}"
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + block + after
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    RESULTS.write_text(text, encoding="utf-8")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--count", type=int, default=1000, help="statements to render (default 1,000)")
    ap.add_argument("--jobs", type=int, default=2, help="worker processes for the parallel run (default 2)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-jobs1", action="store_true", help="leave out the in-process render_statements run")
    ap.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = ap.parse_args()

    t0 = time.perf_counter()
    items = synthetic(args.count, args.seed)
    t_build = time.perf_counter() - t0
    rows: list[tuple[str, int, Phase]] = []

    def report(what: str, n: int, ph: Phase, short: str) -> None:
        rows.append((what, n, ph))
        print(f"{short:<11}{ph.wall:8.1f} s wall, {ph.cpu:8.1f} s CPU, rendered {n}, load {ph.load0:.1f} -> {ph.load1:.1f}",
              flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-statements-") as tmp:
        tmpdir = Path(tmp)
        with Phase() as ph:
            naive(items, tmpdir / "naive")
        report("naive: one process, sequential, stylesheet and fonts loaded per statement", args.count, ph, "naive")
        pages = page_counts(tmpdir / "naive")
        if not args.skip_jobs1:
            with Phase() as ph:
                rep = render_statements(items, tmpdir / "jobs1", jobs=1)
            report("render_statements, jobs=1 (one worker process, stylesheet and fonts loaded once per worker)",
                   len(rep.rendered), ph, "jobs=1")
        with Phase() as ph:
            rep = render_statements(items, tmpdir / "parallel", jobs=args.jobs)
        report(f"render_statements, jobs={args.jobs} (worker processes)", len(rep.rendered), ph, f"jobs={args.jobs}")
        assert len(rep.rendered) == args.count and not rep.failed, rep.failed
        with Phase() as ph:
            again = render_statements(items, tmpdir / "parallel", jobs=args.jobs)
        report("rerun, nothing changed (hash check only)", len(again.rendered), ph, "rerun")
        assert again.rendered == () and len(again.skipped) == args.count
        changed = [replace(s, rep_name=s.rep_name + " Jr") if i == 0 else s for i, s in enumerate(items)]
        with Phase() as ph:
            one = render_statements(changed, tmpdir / "parallel", jobs=args.jobs)
        report("rerun after one statement changed", len(one.rendered), ph, "one change")
        assert len(one.rendered) == 1

    base = rows[0][2]
    table = ["| run | rendered | wall s | statements/s | vs naive (wall) | CPU s | CPU s per statement | load avg before -> after |",
             "|---|---:|---:|---:|---:|---:|---:|---|"]
    for what, n, ph in rows:
        rate = f"{args.count / ph.wall:,.2f}" if "rerun" not in what else f"{args.count / ph.wall:,.0f} checked"
        per = f"{ph.cpu / n:.3f}" if n else "-"
        vs = "-" if "rerun" in what else f"{base.wall / ph.wall:.2f}x"
        table.append(f"| {what} | {n:,} | {ph.wall:.1f} | {rate} | {vs} | {ph.cpu:.1f} | {per} "
                     f"| {ph.load0:.1f} -> {ph.load1:.1f} |")
    page_note = ", ".join(f"{c:,} with {p} page{'s' if p > 1 else ''}" for p, c in sorted(pages.items()))
    import weasyprint

    body = "\n".join([
        f"## statements: {args.count:,} one-page PDF statements (`benchmarks/bench_statements.py`)",
        "",
        f"Synthetic statements (seed {args.seed}, built in {t_build:.1f} s): ae-2026 plan, 2 to 4 deal lines each, "
        f"some SPIFFs, clawbacks and adjustments, ten months of year to date; pages: {page_note}. "
        f"WeasyPrint {weasyprint.__version__}, {os.cpu_count()} cores ({platform.machine()}), Python "
        f"{platform.python_version()}; run on {date.today().isoformat()}. Seconds are wall-clock, one run each, "
        "in one process tree; statements/s = statements / wall seconds (reruns: statements checked per second). "
        "CPU s is user+system time of the benchmark and its worker processes; the load average (1 minute, "
        "2 cores) shows how busy the machine was with other work, which slows the wall-clock figures.",
        "",
        *table,
    ])
    print()
    print(body)
    if not args.no_write and args.count == 1000:
        write_section("statements", body)
        print(f"\nwrote the statements section of {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
