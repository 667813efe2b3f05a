"""``compengine statements-calc``: rep statements as PDF from plan files and CSVs, no database.

A stand-in until the ledger's ``compengine statements PERIOD`` lands: both call
:func:`compengine.statements.render_statements`; this one builds the statements
from :func:`compengine.statements.calc_statement_data` (always preliminary).
"""

from __future__ import annotations

from pathlib import Path

import click

from compengine.cli.common import (
    Progress,
    handles_errors,
    period_arg,
    progress_option,
    read_plans_and_data,
    locale_option,
    templates_option,
)
from compengine.api import RenderReport, StatementData, calc_statement_data, render_statements


def render_with_progress(items: list[StatementData], out: Path, jobs: int | None, *, force: bool, html: bool,
                         templates: Path | None, progress: bool | None = None) -> RenderReport:
    """Render with progress on stderr (a passing status line at a terminal, or lines with ``--progress``), then print what was done.

    Shared by every command that renders statements (this one and the ledger's
    ``compengine statements``): they build the items, this does the rest.
    ``jobs`` None = one worker per core. ``progress`` None: only when stderr is a terminal.
    """
    shown = Progress(progress)
    total = len(items)
    count = [0]
    step = 1 if shown.tty else max(1, total // 10)  # at a terminal one status line, rewritten; in a log ~10 lines

    def tick(_path: Path, _status: str) -> None:
        count[0] += 1
        if count[0] % step == 0 or count[0] == total:
            shown.status(f"Rendering statements: {count[0]}/{total}")

    try:
        report = render_statements(items, out, jobs, force=force, html=html, templates_dir=templates, progress=tick)
    finally:
        shown.clear()
    for pdf, message in report.failed:
        click.echo(f"{pdf}: {message}", err=True)
    click.echo(f"{len(report.rendered)} rendered, {len(report.skipped)} unchanged (skipped)"
               + (f", {len(report.failed)} failed" if report.failed else "") + f" in {report.out_dir}")
    if report.failed:
        raise click.ClickException(f"{len(report.failed)} statement(s) failed to render; the others are in {report.out_dir}")
    return report


@click.command("statements-calc")
@click.option("--plans", "plans_dir", required=True, type=click.Path(path_type=Path), help="Folder of plan files.")
@click.option("--data", "data_dir", required=True, type=click.Path(path_type=Path), help="Data folder with the CSVs.")
@click.option("--period", required=True, callback=period_arg, help="Month of the statements, YYYY-MM.")
@click.option("--rep", "rep_ids", multiple=True, help="Only this rep (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=Path("out/statements"),
              show_default=True,
              help="Folder for the PDFs (and the manifest of what they contain); a changed statement's PDF is replaced.")
@click.option("--jobs", type=click.IntRange(min=1), default=None,
              help="Worker processes [default: the number of cores].")
@click.option("--html", is_flag=True, help="Also write each statement's HTML next to its PDF.")
@click.option("--force", is_flag=True, help="Render every statement, even those unchanged since the last run.")
@click.option("--company", envvar="COMPENGINE_COMPANY", default="",
              help="Company name for the header (or set COMPENGINE_COMPANY) [default: none].")
@locale_option
@templates_option
@progress_option
@handles_errors("no statement was written")
def statements_calc(plans_dir: Path, data_dir: Path, period, rep_ids: tuple[str, ...], out_dir: Path,
                    jobs: int | None, html: bool, force: bool, company: str, locale: str | None, templates_dir: Path | None,
                    progress: bool | None) -> None:
    """Render one PDF statement per rep for PERIOD from plan files and CSVs (preliminary).

    Calculates the plan year through PERIOD, as `compengine calc` does, and
    writes statement-PERIOD-REP.pdf files. Statements whose content has not
    changed since the last run in the same folder are not rendered again.

    \b
    Example:
      compengine statements-calc --plans plans --data examples/acme --period 2026-10
      compengine statements-calc --plans plans --data examples/acme --period 2026-10 --rep R1 --html --out /tmp/st
      compengine statements-calc --plans plans --data examples/acme --period 2026-10 --locale de_DE
    """
    catalog, data = read_plans_and_data(plans_dir, data_dir, rep_ids, versions=True)  # each month by its plan versions
    items = calc_statement_data(data, catalog, period, " ".join(company.split()), rep_ids=rep_ids, locale=locale)
    if not items:
        raise click.ClickException(f"no rep has a plan in {period}; no statement was written")
    render_with_progress(items, out_dir, jobs, force=force, html=html, templates=templates_dir, progress=progress)
