"""``make demo``: a realistic company's year, closed month by month, end to end.

Steps (each printed with its time): generate a seeded company as a data folder a
user can read and edit (about 40 reps in sales teams with managers, an SE
overlay team, staggered hires, a year of deals of all types with splits and
cancellations); import it into a fresh SQLite ledger; close and lock every month
up to the one before the latest; import a later version of the files (amended
amounts, late cancellations); close the latest month, where those become
adjustment lines; open two disputes, approve one and reject the other; rerun and
lock the month; write PDF statements, the payout file and the reconciliation.

This module sits at the top of the layers, beside the CLI: it only calls library
functions.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from compengine.core.periods import Period

Say = Callable[[str], None]


@dataclass
class DemoResult:
    out_dir: Path
    data_dir: Path
    db_url: str
    period: Period
    statements_dir: Path
    payout_file: Path
    reconcile_files: list[Path]
    total_payout: Decimal  # the month's payout in the home currency (USD)
    reps: int
    months: int
    seconds: float
    notes: list[str] = field(default_factory=list)
    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (user, password, what to try)
    pays: str = ""  # the month's payout per currency, "USD 812,345.67, EUR 41,234.50"


# Portal users the demo adds, with documented demo passwords (README, "Web portal"): never use them for real.
DEMO_PASSWORD = "{name}-demo-2026"


DEMO_CURRENCIES = ("USD", "EUR", "GBP", "JPY")  # the demo company books deals abroad and pays a few reps in EUR

DEMO_COMPANY = "Northwind Cloud Inc."  # the generated company's name, stored in its ledger (`config set company`)


def sample_plans_dir() -> Path:
    """The example plans shipped in the package (the repository's plans/), for a demo run outside a checkout."""
    from importlib.resources import files

    return Path(str(files("compengine") / "sample_plans"))


def run_demo(out_dir: Path | str = "demo", *, reps: int = 40, deals: int = 1800, months: int = 10, seed: int = 2026,
             plans_dir: Path | str = "plans", jobs: int | None = None, say: Say = print,
             progress: Say | None = None) -> DemoResult:
    """Run the demo; ``say`` prints each step and its result, ``progress`` (if given) the steps'
    passing detail (each month locked, statements rendered so far)."""
    from compengine.engine.report import total_text
    from compengine.generate import amend, generate
    from compengine.ledger import export_payouts, import_folder, lock_period, open_ledger, run_close, transaction
    from compengine.ledger.disputes import comment, open_dispute, resolve
    from compengine.ledger.reconcile import PAYOUT_ROWS, reconcile
    from compengine.ledger.settings import COMPANY, company_name, set_setting
    from compengine.ledger.statement_source import ledger_statement_data
    from compengine.statements import render_statements
    from compengine.statements.reconcile_report import write_reconcile_report

    detail = progress or (lambda _m: None)
    plans_dir = sample_plans_dir() if Path(plans_dir) == Path("plans") and not Path(plans_dir).is_dir() else plans_dir

    t0 = time.perf_counter()
    out = Path(out_dir).resolve()
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    data_v1 = out / "company"
    data_v2 = out / "company-later"
    db_path = out / "compengine.db"
    db_url = f"sqlite:///{db_path}"
    year = 2026
    last = Period(year, months)
    step_no = [0]
    steps = 9

    def step(msg: str) -> Callable[[str], None]:
        step_no[0] += 1
        start = time.perf_counter()
        say(f"[{step_no[0]}/{steps}] {msg} ...")

        def done(result: str) -> None:
            say(f"      {result} ({time.perf_counter() - start:.1f} s)")
        return done

    done = step(f"Generating a company: {reps} reps, {deals} deals over {months} months of {year}")
    # a few reps are paid in EUR, and deals are booked in EUR, GBP and JPY (docs/currencies.md)
    summary = generate(data_v1, seed=seed, reps=reps, deals=deals, year=year, months=months, plans_dir=plans_dir,
                       currencies=DEMO_CURRENCIES)
    done(str(summary).split("; written")[0])

    engine = open_ledger(db_url)
    done = step(f"Importing {data_v1.name}/ into a new SQLite ledger")
    with transaction(engine) as s:
        report = import_folder(s, data_v1, data_v1 / "plans", "demo-ops")
        set_setting(s, COMPANY, DEMO_COMPANY, "demo-ops")
    done(f"{report.text().splitlines()[0]} Company name: {DEMO_COMPANY}")

    done = step(f"Closing and locking {year}-01 to {last.prev()}")
    totals = []
    for p in Period(year, 1).months_through(last.prev()):
        with transaction(engine) as s:
            res = run_close(s, p, "demo-ops")
            lock_period(s, p, "demo-ops")
        totals.append(p.month)
        detail(f"      {p} locked: {len(res.reps)} reps, total payout {total_text(res)}")
    done(f"{len(totals)} months locked")

    done = step("Importing a later version of the files (amendments and late cancellations)")
    amend(data_v1, data_v2, seed=seed, fraction=0.03)
    with transaction(engine) as s:
        report = import_folder(s, data_v2, data_v2 / "plans", "demo-ops")
    text = report.text().splitlines()
    for extra in text[1:]:
        say(f"      {extra[:150]}")
    done(text[0])

    done = step(f"Closing {last}: late changes become adjustment lines")
    with transaction(engine) as s:
        res = run_close(s, last, "demo-ops")
    adjustments = sum(1 for r in res.reps for ln in r.lines if ln.kind == "adjustment")
    done(f"{len(res.reps)} reps, {sum(len(r.lines) for r in res.reps)} lines, {adjustments} adjustment lines, "
         f"total payout {total_text(res)}")

    done = step("Disputes: one approved with an adjustment, one rejected")
    paid = sorted((r for r in res.reps if any(ln.kind == "commission" for ln in r.lines)), key=lambda r: r.rep_id)
    first, second = paid[0], paid[1]
    deal = next(ln.deal_id for ln in first.lines if ln.kind == "commission")
    with transaction(engine) as s:
        d1 = open_dispute(s, first.rep_id, last, "The SPIFF for the multi-year term was not paid", first.rep_id,
                          deal_id=deal, amount=Decimal("500.00"))
        comment(s, d1.id, "Contract confirms a 36-month term; SPIFF applies.", "demo-ops")
        resolve(s, d1.id, "demo-finance", True, "Contract term verified", amount=Decimal("500.00"))
        d2 = open_dispute(s, second.rep_id, last, "I should have had all of the credit on my renewal, not half", second.rep_id,
                          amount=Decimal("1200.00"))
        resolve(s, d2.id, "demo-finance", False, "The CRM shows a 50/50 split signed off by both reps")
        ids = (d1.id, d2.id)
    with transaction(engine) as s:
        res = run_close(s, last, "demo-ops")
        lock_period(s, last, "demo-ops")
    done(f"dispute {ids[0]} approved (500.00 adjustment for {first.rep_id}), dispute {ids[1]} rejected; {last} locked, "
         f"total payout {total_text(res)}")

    done = step(f"Rendering PDF statements for {last}")
    statements_dir = out / "statements" / str(last)
    with transaction(engine) as s:
        items = ledger_statement_data(s, last, company_name(s))
    count = [0]

    def rendered(_path: object, _status: str) -> None:
        count[0] += 1
        if count[0] % 10 == 0 or count[0] == len(items):
            detail(f"      {count[0]}/{len(items)} statements")

    rep = render_statements(items, statements_dir, jobs, progress=rendered)
    if rep.failed:
        raise RuntimeError(f"{len(rep.failed)} statement(s) failed: {rep.failed[0][1]}")
    done(f"{len(rep.rendered)} statements in {statements_dir}")

    done = step("Writing the payout file for payroll")
    payout_file = out / f"payouts-{last}.csv"
    with transaction(engine) as s:
        exported = export_payouts(s, last, payout_file)
    done(f"{payout_file}: {exported.count} reps, total {exported.text()}")
    total = exported.totals.get("USD", Decimal(0))  # the home currency; a few reps are paid in EUR

    done = step("Reconciling the month for finance")
    files = [out / f"reconcile-{last}.html", out / f"reconcile-{last}.csv"]
    with transaction(engine) as s:
        rec = reconcile(s, last, payout_file=payout_file)
        for f in files:
            write_reconcile_report(rec, f, dict(PAYOUT_ROWS))
    if rec.exceptions:
        raise RuntimeError(f"reconciliation of {last} found {len(rec.exceptions)} exception(s): {rec.exceptions[0]}")
    done(f"ties out: bookings, credits, payout file and statements agree ({', '.join(f.name for f in files)})")
    logins = add_demo_users(engine, first.rep_id)
    say(f"      portal users: {', '.join(f'{u} ({w})' for u, _, w in logins)}")
    engine.dispose()
    return DemoResult(out, data_v1, db_url, last, statements_dir, payout_file, files, total, summary.reps, months,
                      time.perf_counter() - t0, logins=logins, pays=exported.text())


def add_demo_users(engine, rep_id: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    """Portal users for the demo: ops, finance, admin, the rep ``rep_id`` and their manager (or another manager)."""
    from sqlalchemy import select

    from compengine.ledger import transaction
    from compengine.ledger.models import RepRow
    from compengine.ledger.users import add_user

    out = []
    with transaction(engine, what="demo users") as s:
        rep = s.get(RepRow, rep_id)
        manager_id = rep.manager_id or s.scalar(select(RepRow.manager_id).where(RepRow.manager_id.is_not(None)).limit(1))
        plan = [("ops", "ops", None, "the months board: run, lock, disputes, adjustments"),
                ("finance", "finance", None, "reconcile, payout file, verify"),
                ("admin", "admin", None, "users"),
                ("rep", "rep", rep_id, f"{rep.name}'s statements, a dispute, what-if"),
                ("manager", "manager", manager_id, "the team's attainment")]
        for name, role, rid, what in plan:
            if role == "manager" and rid is None:
                continue
            password = DEMO_PASSWORD.format(name=name)
            add_user(s, name, role, password, "demo-admin", rep_id=rid)
            out.append((name, password, what))
    return out
