"""``compengine import-crm``: convert a public CRM export into a compengine data folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from compengine.api import FORMATS, convert_to_folder, report_text
from compengine.cli.common import echo_json, handles_errors, json_option


@click.command("import-crm")
@click.option("--format", "fmt", required=True, type=click.Choice(sorted(FORMATS)), help="The export's format.")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path),
              help="Write a data folder here (reps.csv, assignments.csv, deals.csv, splits.csv, CONVERSION.md).")
@click.option("--rep-plan", default="ae-2026", show_default=True, help="Plan id assigned to sales reps.")
@click.option("--manager-plan", default="mgr-2026", show_default=True, help="Plan id assigned to managers.")
@click.option("--plans", "plans_dir", type=click.Path(exists=True, file_okay=False, path_type=Path),
              help="Also check the written folder against these plan files (plan ids, currencies).")
@click.option("--into-ledger", is_flag=True,
              help="Also import into the ledger (--db); the default when --out is not given.")
@click.option("--pipeline-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the open opportunities (maven-crm: Engaging, Prospecting) as a pipeline file "
                   "for `compengine forecast --pipeline`.")
@click.option("--pipeline-close", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Expected close date of the open opportunities [default: end of the month after the last won deal].")
@json_option
@click.pass_obj
@handles_errors("nothing was written")
def import_crm(ctx: Any, fmt: str, path: Path, out_dir: Path | None, rep_plan: str, manager_plan: str,
               plans_dir: Path | None, into_ledger: bool, pipeline_out: Path | None, pipeline_close: Any,
               as_json: bool) -> None:
    """Convert the CRM export at PATH into compengine's inputs, report every row, and import it.

    Without --out the converted data goes straight into the ledger (--db, with
    the plans in --plans, default plans/); with --out it is written as a data
    folder (add --into-ledger to import it too).

    Reps, managers, won deals, deal types, hire dates and plan assignments are
    derived by the format's documented rules (docs/crm-adapters.md). The report
    counts, for each input file, the rows read, used and not used (by reason,
    with example ids); nothing is dropped silently. The folder written is read
    back and checked before the command succeeds.

    \b
    Example:
      compengine import-crm --format maven-crm ../shared/data/maven-crm-sales-opportunities
      compengine import-crm --format maven-crm ../shared/data/maven-crm-sales-opportunities --out out/maven
      compengine calc --plans plans --data out/maven --period 2017-10
      compengine import-crm --format northwind ../shared/data/northwind --out out/northwind --json
      compengine import-crm --format maven-crm ../shared/data/maven-crm-sales-opportunities --pipeline-out pipeline.csv
    """
    if out_dir is None:
        into_ledger = True
    if into_ledger and plans_dir is None:
        plans_dir = Path("plans")
        if not plans_dir.is_dir():
            raise click.UsageError("importing into the ledger needs plan files: --plans PLANS_DIR")
    if pipeline_out is not None and fmt != "maven-crm":
        raise click.UsageError("--pipeline-out is available for --format maven-crm (the export with open opportunities)")
    imported = None
    if into_ledger:
        from compengine.cli.ledger_cmds import _ledger

        result, written, imported = _ledger(ctx, create=True, roles=("ops",)).import_crm(
            fmt, path, plans_dir, actor=ctx.who, out_dir=out_dir, rep_plan=rep_plan, manager_plan=manager_plan)
    else:
        result, written = convert_to_folder(fmt, path, out_dir, plans_dir, rep_plan=rep_plan, manager_plan=manager_plan)
    if pipeline_out is not None:
        from compengine.api import PIPELINE_OUT_COLUMNS, open_pipeline
        from compengine.core.outputs import write_csv_atomic

        pipeline_rows, pipeline_skipped = open_pipeline(path, result, pipeline_close.date() if pipeline_close else None)
        write_csv_atomic(pipeline_out, PIPELINE_OUT_COLUMNS, pipeline_rows)
        if not as_json:
            click.echo(f"wrote {pipeline_out}: {len(pipeline_rows)} open opportunities"
                       + "".join(f"; {n} not used: {why}" for why, n in sorted(pipeline_skipped.items())))
    if as_json:
        echo_json({"format": fmt, "out": str(out_dir) if out_dir else None, "written": [str(p) for p in written] if out_dir else [],
                   "report": result.report.as_dict(), "ledger": imported.as_dict() if imported else None})
        return
    click.echo(report_text(result.report), nl=False)
    if out_dir is not None:
        click.echo(f"wrote {out_dir}: {', '.join(p.name for p in written)}")
    if imported is not None:
        click.echo(f"ledger {ctx.db_url}: {imported.text()}")
        last = result.report.summary.get("last_month")
        if last:
            click.echo(f"next: compengine close run {result.report.summary.get('first_month', last)} (then each month in order)")
        return
    last = result.report.summary.get("last_month")
    if last:
        click.echo(f"next: compengine calc --plans {plans_dir or 'plans'} --data {out_dir} --period {last}")
