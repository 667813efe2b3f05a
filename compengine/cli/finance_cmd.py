"""``compengine model``, ``forecast`` and ``accounting``: finance views over the ledger (read-only)."""

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
from compengine.core.money import shown

pass_ctx = click.make_pass_decorator(Context)

out_option = click.option(
    "--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
    help="Also write the report: report.html (one self-contained file), report.pdf or report.csv (by extension).")


def _write(report, out: Path | None, view, templates_dir: Path | None) -> None:  # noqa: ANN001
    if out is not None:
        from compengine.api import write_finance_report

        write_finance_report(report, out, view, templates_dir=templates_dir)


@click.command("model")
@click.option("--plans", "plan_dirs", multiple=True, required=True,
              type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="A folder of candidate plan files; repeat to compare several candidates.")
@click.option("--from", "first", required=True, callback=period_arg, help="First month (YYYY-MM).")
@click.option("--through", "last", required=True, callback=period_arg, help="Last month (YYYY-MM).")
@json_option
@out_option
@templates_option
@pass_ctx
@handles_errors("nothing was written")
def model_cmd(ctx: Context, plan_dirs: tuple[Path, ...], first, last, as_json: bool, out: Path | None,  # noqa: ANN001
              templates_dir: Path | None) -> None:
    """Reprice the ledger's history under candidate plans and compare with what was paid.

    Every month from --from through --through (each calculated or locked) is
    calculated again in memory with the stored deals, splits and master data,
    the plans of each --plans folder replacing the stored plans of the same id,
    carrying each rep's balances month to month. Nothing is written to the
    ledger. Shows total cost and cost of sales by month, team, component and
    rep, the biggest winners and losers, and attainment and payout histograms
    (in the HTML/PDF report).

    \b
    Example:
      compengine model --plans plans-2027 --from 2026-01 --through 2026-12
      compengine model --plans cand-a --plans cand-b --from 2026-01 --through 2026-12 --out model.pdf
      compengine model --plans plans-2027 --from 2026-01 --through 2026-12 --json
    """
    from compengine.api import load_candidates, model_view

    check_report_out(out)
    candidates = load_candidates(plan_dirs)  # a bad candidate is refused before the ledger is opened
    report = _ledger(ctx).model(candidates, first, last)
    _write(report, out, model_view, templates_dir)
    echo_report(report, as_json, out)


@click.command("accounting")
@click.argument("period", callback=period_arg)
@click.option("--config", "config_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Accounting config (YAML): basis (term | term_plus_renewals), expected_renewal_months, "
                   "default_term_months, practical_expedient. Default: term, expedient on (docs/finance.md).")
@json_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the journal: journal.csv, or a report .html/.pdf (by extension).")
@templates_option
@pass_ctx
@handles_errors("nothing was written")
def accounting_cmd(ctx: Context, period, config_file: Path | None, as_json: bool, out: Path | None,  # noqa: ANN001
                   templates_dir: Path | None) -> None:
    """Print a month's ASC 340-40 journal: commissions capitalized, expensed, amortized.

    Commission lines with a deal are capitalized and amortized straight-line over
    the period of benefit (the contract term, or term plus expected renewals)
    from the close month; with the practical expedient, a period of 12 months or
    less is expensed at once. A clawback reverses the unamortized asset and the
    expense already taken. The journal is tied out to the month's payouts: when it
    does not tie out the command exits with status 1.

    \b
    Example:
      compengine accounting 2026-10
      compengine accounting 2026-10 --config accounting.yaml --out journal-2026-10.csv
      compengine accounting 2026-10 --json
    """
    from compengine.api import accounting_view, load_accounting_config

    check_report_out(out)
    config = load_accounting_config(config_file)  # a bad config is refused before the ledger is opened
    j = _ledger(ctx).accounting(period, config=config)
    _write(j, out, accounting_view, templates_dir)
    echo_report(j, as_json, out, "journal")
    if not j.ties_out:
        click.echo(f"{period}: the journal ({shown(j.journal_total)}) does not tie out to the payouts ({shown(j.payout)})", err=True)
        raise SystemExit(1)


@click.command("forecast")
@click.option("--pipeline", "pipeline_file", required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path),
              help="Open opportunities (CSV): deal_id, owner_id, amount, currency, deal_type, expected_close, and "
                   "probability (0..1) or stage; optional account, term_months, product.")
@click.option("--through", "last", required=True, callback=period_arg, help="Last month to forecast (YYYY-MM).")
@click.option("--commit-threshold", default="0.7", show_default=True,
              help="Opportunities at or above this probability are the commit scenario.")
@click.option("--stages", "stages_file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Stage -> probability (YAML mapping) for rows with a stage and no probability "
                   "[default: prospecting 0.10, qualification 0.20, engaging 0.60, proposal 0.60, negotiation 0.80, commit 0.90].")
@json_option
@out_option
@templates_option
@pass_ctx
@handles_errors("nothing was written")
def forecast_cmd(ctx: Context, pipeline_file: Path, last, commit_threshold: str, stages_file: Path | None,  # noqa: ANN001
                 as_json: bool, out: Path | None, templates_dir: Path | None) -> None:
    """Forecast each rep's earnings per month from the open pipeline, on top of the closed-won credit.

    From the month after the last locked one through --through, every month is
    calculated in memory (nothing is written) under three scenarios: commit
    (probability >= --commit-threshold counted as closed), best case (every open
    opportunity closed) and expected (probability-weighted: each opportunity's
    marginal commission given the closed credit and the more likely deals; see
    docs/finance.md). Accelerators are priced at the band each rep would reach.

    \b
    Example:
      compengine forecast --pipeline pipeline.csv --through 2026-12
      compengine forecast --pipeline pipeline.csv --through 2026-12 --commit-threshold 0.6 --out forecast.pdf
      compengine forecast --pipeline pipeline.csv --through 2026-12 --json
    """
    from compengine.api import forecast_view
    from compengine.core.money import parse_plain_number

    check_report_out(out)
    try:
        threshold = parse_plain_number(commit_threshold)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--commit-threshold") from None
    f = _ledger(ctx).forecast(pipeline_file, last, commit_threshold=threshold, stages_file=stages_file)
    _write(f, out, forecast_view, templates_dir)
    echo_report(f, as_json, out)
