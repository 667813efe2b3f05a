"""``compengine reconcile``: tie a month out for finance, and write the report as HTML, PDF or CSV."""

from __future__ import annotations

import csv
import io
import os
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option, period_arg
from compengine.cli.ledger_cmds import _ledger
from compengine.core.errors import CompErrors

pass_ctx = click.make_pass_decorator(Context)
TEMPLATES = Path(__file__).resolve().parents[2] / "statements"
TEMPLATE = "reconcile.html.j2"
STYLESHEET = "reconcile.css"
REPORT_REPS = 500  # reps listed one by one in the HTML/PDF report (all of them in CSV and JSON)


@click.command("reconcile")
@click.argument("period", callback=period_arg)
@json_option
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the report: report.html, report.pdf or report.csv (by extension).")
@click.option("--payout-file", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="The payout file payroll received (from `payouts export`): compared rep by rep.")
@pass_ctx
@handles_errors("nothing was reconciled")
def reconcile_cmd(ctx: Context, period, as_json: bool, out: Path | None, payout_file: Path | None) -> None:
    """Tie a calculated or locked month out: bookings, credit, lines, statements, payout file.

    Prints bookings by deal type against the credit on the lines, payout by
    component, team and rep, the totals as the ledger, the statements and the
    payout file see them, liabilities (draw balances, carried balances, open
    disputes), month over month and cost of sales. Every difference is listed with
    the rep or deal that causes it, and the command then exits with status 1.

    \b
    Example:
      compengine reconcile 2026-10
      compengine reconcile 2026-10 --payout-file payouts-2026-10.csv --out reconcile-2026-10.pdf
      compengine reconcile 2026-10 --json > reconcile-2026-10.json
    """
    from compengine.ledger import transaction
    from compengine.ledger.reconcile import reconcile

    if out is not None and out.suffix.lower() not in (".html", ".htm", ".pdf", ".csv"):
        raise click.BadParameter("the report must end in .html, .pdf or .csv", param_hint="--out")
    with transaction(_ledger(ctx), write=False) as session:
        rec = reconcile(session, period, payout_file=payout_file)
    if out is not None:
        write_report(rec, out)
    if as_json:
        echo_json(rec.as_dict())
    else:
        click.echo(rec.text(), nl=False)
        if out is not None:
            click.echo(f"report written to {out}")
    if not rec.ok:
        click.echo(f"{period} does not tie out: {len(rec.exceptions)} exception(s)", err=True)
        raise SystemExit(1)


def write_report(rec, out: Path) -> None:  # noqa: ANN001 (a Reconciliation)
    """Write the report by extension, atomically: CSV (every table as a titled section), HTML or PDF."""
    suffix = out.suffix.lower()
    out.parent.mkdir(parents=True, exist_ok=True)
    if suffix == ".csv":
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        for i, (title, header, rows) in enumerate(rec.tables()):
            if i:
                w.writerow([])
            w.writerow([f"# {title}"])
            w.writerow(header)
            w.writerows(rows)
        _atomic(out, lambda p: p.write_text(buf.getvalue(), encoding="utf-8"))
        return
    html = render_html(rec, stylesheet=STYLESHEET if suffix != ".pdf" else "")
    if suffix in (".html", ".htm"):
        _atomic(out, lambda p: p.write_text(html, encoding="utf-8"))
        css = out.parent / STYLESHEET
        if out.parent.resolve() != TEMPLATES.resolve():
            # the page links reconcile.css next to it; its fonts are referenced from the repository
            text = (TEMPLATES / STYLESHEET).read_text(encoding="utf-8").replace("url(fonts/", f"url({(TEMPLATES / 'fonts').as_uri()}/")
            _atomic(css, lambda p: p.write_text(text, encoding="utf-8"))
        return
    try:
        from weasyprint import CSS, HTML
        from weasyprint.text.fonts import FontConfiguration
    except ImportError as exc:  # pragma: no cover - weasyprint is a dependency
        raise CompErrors(f"cannot write a PDF: {exc}") from None
    fonts = FontConfiguration()
    css = CSS(filename=str(TEMPLATES / STYLESHEET), font_config=fonts)
    doc = HTML(string=html, base_url=str(TEMPLATES) + os.sep).render(stylesheets=[css], font_config=fonts)
    _atomic(out, lambda p: doc.write_pdf(str(p)))


def render_html(rec, stylesheet: str = "") -> str:  # noqa: ANN001
    import jinja2

    from compengine.ledger.reconcile import PAYOUT_ROWS

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(TEMPLATES)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["money"] = _money
    try:
        template = env.get_template(TEMPLATE)
        generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        return template.render(r=rec.as_dict(), generated=generated, stylesheet=stylesheet, rep_limit=REPORT_REPS,
                               labels=dict(PAYOUT_ROWS))
    except jinja2.TemplateError as exc:
        where = f"{TEMPLATES / TEMPLATE}" + (f":{exc.lineno}" if getattr(exc, "lineno", None) else "")
        raise CompErrors(f"{where}: {exc.message or exc}") from None


def _money(value: Any) -> str:
    """The report's one money filter: thousands separators on an already-rounded two-place amount; never rounds."""
    if value is None or value == "":
        return ""
    d = Decimal(str(value))
    if d != d.quantize(Decimal("0.01")):
        raise ValueError(f"{value} is not a cent amount")
    return f"{d:,.2f}"


def _atomic(path: Path, write) -> None:  # noqa: ANN001
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
