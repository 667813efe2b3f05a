"""``compengine demo``: build a seeded company's ledger, close it, write statements, payouts and a reconciliation."""

from __future__ import annotations

from pathlib import Path

import click

from compengine.cli.common import Progress, progress_option


@click.command("demo")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"), show_default=True,
              help="Folder for everything the demo writes (replaced on each run).")
@click.option("--reps", type=click.IntRange(min=12), default=40, show_default=True, help="Reps in the company.")
@click.option("--deals", type=click.IntRange(min=100), default=1800, show_default=True, help="Deals over the year.")
@click.option("--months", type=click.IntRange(2, 12), default=10, show_default=True, help="Months of 2026 to close.")
@click.option("--seed", type=int, default=2026, show_default=True, help="Seed of the generated company.")
@click.option("--plans", "plans_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("plans"),
              show_default=True, help="Plan files to use (default: ./plans, else the example plans shipped with compengine).")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes for the PDFs.")
@progress_option
def demo(out_dir: Path, reps: int, deals: int, months: int, seed: int, plans_dir: Path, jobs: int | None,
         progress: bool | None) -> None:
    """Run a whole year's monthly close on a generated company, end to end.

    Generates a company as CSV files you can read and edit, imports it into a
    SQLite ledger, closes and locks each month, imports late changes, resolves
    disputes, and writes the latest month's PDF statements, payout file and
    reconciliation. Then prints where everything is. Each step and its result go
    to stdout; passing detail (each month locked, statements so far) to stderr at
    a terminal or with --progress.

    \b
    Example:
      compengine demo
      compengine demo --out /tmp/demo --reps 60 --months 12
    """
    from compengine.api import run_demo

    shown = Progress(progress)

    def say(message: str) -> None:
        shown.clear()
        click.echo(message)

    try:
        res = run_demo(out_dir, reps=reps, deals=deals, months=months, seed=seed, plans_dir=plans_dir, jobs=jobs,
                       say=say, progress=shown.status)
    except Exception as exc:  # the demo is a user-facing walkthrough: one line, not a traceback
        shown.clear()
        raise click.ClickException(f"demo failed: {exc}") from exc
    shown.clear()
    db = res.db_url.removeprefix("sqlite:///")
    click.echo("")
    click.echo(f"Done in {res.seconds:.0f} s. Closed {res.months} months for {res.reps} reps; {res.period} pays {res.pays}.")
    click.echo("Where everything is:")
    click.echo(f"  company data (CSV, editable)  {res.data_dir}/")
    click.echo(f"  ledger (SQLite)               {db}")
    click.echo(f"  PDF statements                {res.statements_dir}/")
    click.echo(f"  payout file for payroll       {res.payout_file}")
    for f in res.reconcile_files:
        click.echo(f"  reconciliation                {f}")
    click.echo("Try next (the ledger has users now: the CLI acts --as one of them):")
    click.echo(f"  .venv/bin/compengine --db sqlite:///{db} --as ops status")
    click.echo(f"  .venv/bin/compengine --db sqlite:///{db} --as ops disputes list")
    click.echo(f"  .venv/bin/compengine --db sqlite:///{db} --as finance reconcile {res.period}")
    click.echo("The web portal:")
    click.echo(f"  .venv/bin/compengine --db sqlite:///{db} serve --port 8000    # then open http://127.0.0.1:8000/")
    click.echo("  sign in as (demo passwords, for this demo only):")
    for user, password, what in res.logins:
        click.echo(f"    {user:<8} {password:<22} {what}")
