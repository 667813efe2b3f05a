"""``compengine calc``: compute a month from plan files and a data folder, no database."""

from __future__ import annotations

import os
from pathlib import Path

import click

from compengine.cli.common import (
    echo_result,
    encoding_option,
    handles_errors,
    json_option,
    lines_option,
    period_arg,
    read_plans_and_data,
)
from compengine.api import calculate_month, calculate_month_columnar, filter_reps
from compengine.api import iter_result_json


@click.command()
@click.option("--plans", "plans_dir", required=True, type=click.Path(path_type=Path), help="Folder of plan files.")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Data folder with the CSVs.")
@click.option("--period", required=True, callback=period_arg, help="Month to compute, YYYY-MM.")
@click.option("--rep", "rep_ids", multiple=True, help="Only this rep (repeatable).")
@click.option("--no-explain", is_flag=True, help="Leave out the explain sentence under each line.")
@click.option("--engine", type=click.Choice(["columnar", "python"]), default="columnar", show_default=True,
              help="columnar: NumPy over integer cents, the same lines (a run it does not support is computed by the "
                   "python engine; COMPENGINE_ENGINE_NOTICE=1 says why on stderr); python: the reference engine.")
@lines_option
@json_option
@encoding_option
@handles_errors("nothing was computed")
def calc(plans_dir: Path, data_dir: Path, period, rep_ids: tuple[str, ...], no_explain: bool, engine: str,
         all_lines: bool, as_json: bool, encoding: str | None) -> None:
    """Compute a month's payouts from plan files and CSVs, without a database.

    Runs every month from the data's first month through PERIOD (balances, draws,
    ytd measures and clawbacks carry over) and prints PERIOD (at a terminal, a
    month of more than 5,000 lines as one block per rep; --lines prints them all).
    A plans folder may hold versions of a plan (effective_from/effective_to): each
    month is priced by the version in force on its last day, and named in the output.

    \b
    Example:
      compengine calc --plans plans --data examples/acme --period 2026-10
      compengine calc --plans plans --data examples/acme --period 2026-10 --rep R1 --json
      compengine calc --plans plans --data examples/acme --period 2026-10 --engine python
    """
    catalog, data = read_plans_and_data(plans_dir, data_dir, rep_ids, encoding, versions=True, fast=engine == "columnar")
    if engine == "columnar":
        # the same result, line for line; explain sentences made only when something shows them
        result, why = calculate_month_columnar(data, catalog, period, explain=as_json or not no_explain)
        if why is not None and os.environ.get("COMPENGINE_ENGINE_NOTICE"):
            click.echo(f"note: computed by the python engine: {why}", err=True)
    else:
        result = calculate_month(data, catalog, period)  # each month by the plan versions in force on its last day
    month_plans = catalog.for_month(period)  # the versions that priced PERIOD, named in the output
    if rep_ids:
        result = filter_reps(result, rep_ids)
    if as_json:
        # stdout carries exactly the documented shape; exceptions to review go to stderr
        for e in result.exceptions:
            click.echo(f"warning: {e}", err=True)
        # a rep at a time: a big month is GBs of JSON
        for chunk in iter_result_json(result, detail=False, plans=month_plans):
            click.echo(chunk, nl=False)
    else:
        echo_result(result, show_explain=not no_explain, all_lines=all_lines, plans=month_plans)
