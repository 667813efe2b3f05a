"""The finance reconciliation report as a file: HTML (one self-contained file), PDF or CSV.

Input: a reconciliation (:class:`compengine.ledger.reconcile.Reconciliation`, used
through its ``as_dict()`` and ``tables()``), the payout component labels, and the
templates folder (default: the package's, see
:func:`compengine.statements.render.default_templates_dir`), which holds
``reconcile.html.j2``, ``reconcile.css`` and the ``fonts/`` it loads.
Output: the report, written atomically with the user's umask (an existing file is
replaced). The HTML carries its stylesheet in a ``<style>`` element (nothing is
written beside it; a browser uses its own fonts); the PDF embeds the bundled
fonts; the CSV has every table as a titled section, cells neutralised against
formula injection.

Layering: Jinja2 and WeasyPrint; never SQLAlchemy or click.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Protocol

from compengine.core.currency import format_money
from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.outputs import csv_text, write_atomic, write_text_atomic

TEMPLATE = "reconcile.html.j2"
STYLESHEET = "reconcile.css"
REPORT_REPS = 500  # reps listed one by one in the HTML/PDF report (all of them in CSV and JSON)
SUFFIXES = (".html", ".htm", ".pdf", ".csv")


class ReconciliationLike(Protocol):  # pragma: no cover - a type only
    def as_dict(self) -> dict: ...

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]: ...


def _folder(templates_dir: Path | str | None) -> Path:
    from compengine.statements.render import default_templates_dir

    folder = Path(templates_dir) if templates_dir is not None else default_templates_dir()
    missing = [folder / n for n in (TEMPLATE, STYLESHEET) if not (folder / n).is_file()]
    if missing:
        raise CompErrors([CompError(Source(str(p)), "file not found") for p in missing])
    return folder


_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}\s*", re.S)


def inline_css(folder: Path) -> str:
    """The stylesheet as text for a ``<style>`` element: without its ``@font-face`` rules (their
    font files are not beside the HTML: a browser falls back to the next font of each
    ``font-family``), and with ``</`` escaped so the text cannot close the element."""
    text = (folder / STYLESHEET).read_text(encoding="utf-8")
    return _FONT_FACE.sub("", text).replace("</", "<\\/")


def money(value: Any, currency: str | None = None) -> str:
    """The report's money filter: the package's one format (:func:`compengine.core.currency.format_money`)
    on an already-rounded amount given as text or Decimal, in its currency's places; never rounds."""
    if value is None or value == "":
        return ""
    return format_money(Decimal(str(value)), currency)


def pct(value: Any) -> str:
    """An attainment ratio (``"1.0500"``) as a percent with two places (``105.00%``); none: ``n/a``."""
    if value is None or value == "":
        return "n/a"
    return f"{(Decimal(str(value)) * 100).quantize(Decimal('0.01'))}%"


def render_html(rec: ReconciliationLike, labels: Mapping[str, str], *, templates_dir: Path | str | None = None,
                css: str | None = None, generated: datetime | None = None) -> str:
    """The report's HTML. ``css``: the stylesheet text to inline (default: the folder's, for a
    standalone file); pass ``""`` to leave it out (the PDF gives it to WeasyPrint)."""
    import jinja2
    import markupsafe

    folder = _folder(templates_dir)
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.filters["money"] = money
    env.filters["pct"] = pct
    style = inline_css(folder) if css is None else css
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    try:
        template = env.get_template(TEMPLATE)
        return template.render(r=rec.as_dict(), generated=when, css=markupsafe.Markup(style),
                               rep_limit=REPORT_REPS, labels=dict(labels))
    except jinja2.TemplateError as exc:
        line = getattr(exc, "lineno", None)
        raise CompErrors(CompError(Source(str(folder / TEMPLATE), line),
                                   f"template error: {getattr(exc, 'message', None) or exc}")) from None


def write_report_file(out: Path | str, tables: Any, html: Any, *, templates_dir: Path | str | None = None) -> Path:
    """Write a report by ``out``'s extension, atomically; returns ``out``. One writer for every
    report of tables (reconcile, model, forecast, accounting): ``.csv`` is its ``tables``
    (title, header, rows) one after the other; ``.html``/``.htm`` is ``html(folder, None)``, one
    file with its stylesheet inline; ``.pdf`` is ``html(folder, "")`` laid out by WeasyPrint with
    the folder's ``reconcile.css`` and bundled fonts."""
    out = Path(out)
    suffix = out.suffix.lower()
    if suffix not in SUFFIXES:
        raise CompErrors(f"{out}: the report must end in .html, .pdf or .csv")
    if suffix == ".csv":
        parts = []
        for i, (title, header, rows) in enumerate(tables):
            parts.append(csv_text(None, [*([[]] if i else []), [f"# {title}"], header, *rows]))
        return write_text_atomic(out, "".join(parts))
    if suffix in (".html", ".htm"):
        return write_text_atomic(out, html(templates_dir, None))
    from weasyprint import CSS, HTML
    from weasyprint.text.fonts import FontConfiguration

    folder = _folder(templates_dir)
    page = html(folder, "")
    fonts = FontConfiguration()
    css = CSS(filename=str(folder / STYLESHEET), font_config=fonts)
    doc = HTML(string=page, base_url=str(folder) + os.sep).render(stylesheets=[css], font_config=fonts)
    return write_atomic(out, lambda p: doc.write_pdf(str(p)))


def write_reconcile_report(rec: ReconciliationLike, out: Path | str, labels: Mapping[str, str], *,
                           templates_dir: Path | str | None = None) -> Path:
    """Write the reconciliation by ``out``'s extension (.html/.htm, .pdf or .csv): :func:`write_report_file`."""
    return write_report_file(out, rec.tables(), lambda folder, css: render_html(rec, labels, templates_dir=folder, css=css),
                             templates_dir=templates_dir)


__all__ = ["REPORT_REPS", "inline_css", "render_html", "write_reconcile_report", "write_report_file"]
