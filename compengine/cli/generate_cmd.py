"""``compengine generate``: write a seeded example company as a data folder (CSVs and plans)."""

from __future__ import annotations

from pathlib import Path

import click

from compengine.cli.common import echo_json, handles_errors, json_option

CSV_FILES = ("reps.csv", "assignments.csv", "deals.csv", "splits.csv")


@click.command()
@click.argument("out_dir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--reps", "n_reps", default=40, show_default=True, type=click.IntRange(min=5),
              help="Number of reps, managers and SEs included.")
@click.option("--deals", "n_deals", default=2000, show_default=True, type=click.IntRange(min=0), help="Number of deals.")
@click.option("--year", default=2026, show_default=True, type=int, help="Plan year of the deals.")
@click.option("--months", default=12, show_default=True, type=click.IntRange(1, 12),
              help="Months of deals, from January.")
@click.option("--seed", default=1, show_default=True, type=int, help="Random seed: same seed, same files.")
@click.option("--plans", "plans_dir", default="plans", show_default=True, type=click.Path(path_type=Path),
              help="Folder with the example plans (ae-2026, am-2026, se-2026, mgr-2026); copied to OUT_DIR/plans. "
                   "Without ./plans, the copies the package ships.")
@click.option("--currencies", default="USD", show_default=True, metavar="USD,EUR,...",
              help="Currencies of the company, USD first: with others, ~30% of deals are booked in them, fx_rates.csv "
                   "holds monthly rates and ~15% of the AEs are paid in the second one.")
@click.option("--force", is_flag=True, help="Overwrite the CSV files of an existing data folder.")
@json_option
@handles_errors("nothing was generated")
def generate(out_dir: Path, n_reps: int, n_deals: int, year: int, months: int, seed: int, plans_dir: Path,
             currencies: str, force: bool, as_json: bool) -> None:
    """Generate a realistic, seeded company as a data folder in OUT_DIR.

    Sales teams of AEs and AMs with a manager each, an SE overlay team, staggered
    hire dates (some reps ramp), deals of all three types with splits, overlays and
    a few cancellations. Quotas come from the plan files, which are copied to
    OUT_DIR/plans so the folder is self-contained.

    \b
    Example:
      compengine generate demo/company --reps 40 --deals 2000 --seed 7
      compengine calc --plans demo/company/plans --data demo/company --period 2026-10
      compengine generate global --currencies USD,EUR,GBP,JPY
    """
    from compengine.api import generate_company, sample_plans_dir

    if plans_dir == Path("plans") and not plans_dir.is_dir():  # outside a source tree: the plans the package ships
        plans_dir = sample_plans_dir()
    if not force and any((out_dir / name).exists() for name in CSV_FILES):
        raise click.ClickException(f"{out_dir} already holds a data folder; use --force to overwrite it")
    try:
        summary = generate_company(out_dir, seed=seed, reps=n_reps, deals=n_deals, year=year, months=months,
                                   plans_dir=plans_dir, currencies=tuple(currencies.split(",")))
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        echo_json({
            "out_dir": str(summary.out_dir), "reps": summary.reps, "teams": summary.teams, "deals": summary.deals,
            "split_rows": summary.split_rows, "credit_lines": summary.credit_lines, "cancelled": summary.cancelled,
            "year": summary.year, "months": summary.months, "seed": summary.seed,
        })
        return
    click.echo(f"Generated {summary}")
