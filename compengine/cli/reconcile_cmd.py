"""``compengine reconcile``: tie a month out for finance, and write the report as HTML, PDF or CSV."""

from __future__ import annotations

from pathlib import Path

import click

from compengine.cli.common import (
    Context,
    check_report_out,
    echo_report,
    handles_errors,
    json_option,
    period_arg,
    templates_option,
)
from compengine.cli.ledger_cmds import _ledger

pass_ctx = click.make_pass_decorator(Context)


@click.command("reconcile")
@click.argument("period", callback=period_arg)
@json_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report: report.html (one self-contained file), report.pdf or report.csv "
                   "(by extension). An existing file is replaced.")
@click.option("--payout-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The payout file payroll received (from `payouts export`): compared rep by rep.")
@click.option("--in", "in_currency", metavar="CCY", default=None,
              help="Also show the month in this reporting currency (e.g. USD), each currency at the ledger's rate in "
                   "force on the month's last day (reporting only: reps are paid in their plan's currency).")
@templates_option
@pass_ctx
@handles_errors("nothing was reconciled")
def reconcile_cmd(ctx: Context, period, as_json: bool, out: Path | None, payout_file: Path | None,
                  in_currency: str | None, templates_dir: Path | None) -> None:
    """Tie a calculated or locked month out: bookings, credit, lines, statements, payout file.

    Prints bookings by deal type against the credit on the lines, payout by
    component, team and rep, the totals as the ledger, the statements and the
    payout file see them, liabilities (draw balances, carried balances, open
    disputes), month over month and cost of sales, each per currency (a rep's
    currency is its plan's; a deal converted into it counts there). Every difference
    is listed with the rep or deal that causes it, and the command then exits with
    status 1. With --in, the month's totals also in one reporting currency.

    \b
    Example:
      compengine reconcile 2026-10
      compengine reconcile 2026-10 --payout-file payouts-2026-10.csv --out reconcile-2026-10.pdf
      compengine reconcile 2026-10 --json > reconcile-2026-10.json
      compengine reconcile 2026-10 --in USD --out reconcile-2026-10.html
    """
    check_report_out(out)
    ledger = _ledger(ctx)
    rec = ledger.reconcile(period, payout_file=payout_file, in_currency=in_currency)
    if out is not None:
        ledger.write_reconcile_report(rec, out, templates_dir=templates_dir)
    echo_report(rec, as_json, out)
    if not rec.ok:
        click.echo(f"{period} does not tie out: {len(rec.exceptions)} exception(s)", err=True)
        raise SystemExit(1)

