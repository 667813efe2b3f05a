"""Finance reports (``model``, ``forecast``, ``accounting``) as files: HTML, PDF or CSV.

Input: a report object with ``as_dict()`` and ``tables()`` (``compengine.finance``) and a
``view(data)`` that picks its title, subtitle and summary cards from ``as_dict()``.
Histograms in ``as_dict()["distributions"]`` are drawn here as SVG (server-rendered, no
script), so the HTML and the PDF show the same charts. Output: the file, written atomically;
the CSV holds every table as a titled section with cells made safe against formula injection.
The stylesheet is the reconciliation report's (``reconcile.css``).

Layering: Jinja2 and WeasyPrint; never SQLAlchemy or click.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from html import escape
from pathlib import Path
from typing import Any

from compengine.core.errors import CompError, CompErrors, Source

from compengine.statements.reconcile_report import STYLESHEET, inline_css, write_report_file

TEMPLATE = "finance.html.j2"
SUFFIXES = (".html", ".htm", ".pdf", ".csv")
ROW_LIMIT = 500
COLOURS = ("#1f2a44", "#d97706", "#0f766e", "#9333ea", "#dc2626")
_NUM = re.compile(r"^[-+]?[0-9][0-9,]*(\.[0-9]+)?%?$")


def svg_histogram(title: str, bins: Sequence[str], series: Sequence[dict], width: int = 640, height: int = 220) -> str:
    """Grouped bars: one group per bin, one bar per series (``{"name", "counts"}``), with a legend."""
    left, right, top, bottom = 36, 8, 28, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    top_count = max([1] + [c for s in series for c in s["counts"]])
    group_w = plot_w / max(1, len(bins))
    bar_w = group_w * 0.8 / max(1, len(series))
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="{escape(title)}" font-family="DejaVu Sans, sans-serif" font-size="9">',
           f'<text x="{left}" y="12" font-size="11" font-weight="bold">{escape(title)}</text>',
           f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" stroke="#6b7280"/>',
           f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{top_count}</text>',
           f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end">0</text>']
    for i, label in enumerate(bins):
        x0 = left + i * group_w + group_w * 0.1
        for j, s in enumerate(series):
            c = s["counts"][i]
            h = plot_h * c / top_count
            x = x0 + j * bar_w
            out.append(f'<rect x="{x:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w:.1f}" height="{h:.1f}" '
                       f'fill="{COLOURS[j % len(COLOURS)]}"><title>{escape(s["name"])}: {label}: {c}</title></rect>')
        out.append(f'<text x="{left + (i + 0.5) * group_w:.1f}" y="{top + plot_h + 12}" text-anchor="middle" '
                   f'font-size="7.5">{escape(label)}</text>')
    lx = left
    for j, s in enumerate(series):
        out.append(f'<rect x="{lx}" y="{height - 14}" width="8" height="8" fill="{COLOURS[j % len(COLOURS)]}"/>')
        out.append(f'<text x="{lx + 11}" y="{height - 7}">{escape(s["name"])}</text>')
        lx += 20 + 6 * len(s["name"])
    out.append("</svg>")
    return "".join(out)


def charts_of(data: dict) -> list[str]:
    return [svg_histogram(h["title"], h["bins"], h["series"]) for h in data.get("distributions", {}).values()]


def render_html(report: Any, view: Callable[[dict], dict], *, templates_dir: Path | str | None = None,
                css: str | None = None, generated: datetime | None = None) -> str:
    import jinja2
    import markupsafe

    from compengine.statements.render import default_templates_dir

    folder = Path(templates_dir) if templates_dir is not None else default_templates_dir()
    for name in (TEMPLATE, STYLESHEET):
        if not (folder / name).is_file():
            raise CompErrors(CompError(Source(str(folder / name)), "file not found"))
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder)), autoescape=True,
                             undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    env.tests["num"] = lambda v: isinstance(v, str) and bool(_NUM.match(v))
    data = report.as_dict()
    style = inline_css(folder) if css is None else css
    when = (generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC")
    try:
        return env.get_template(TEMPLATE).render(
            r={"verdict": None, "verdict_ok": True, "notes": data.get("notes", []), **view(data)},
            tables=report.tables(), charts=[markupsafe.Markup(c) for c in charts_of(data)], generated=when,
            css=markupsafe.Markup(style), row_limit=ROW_LIMIT)
    except jinja2.TemplateError as exc:
        raise CompErrors(CompError(Source(str(folder / TEMPLATE), getattr(exc, "lineno", None)),
                                   f"template error: {getattr(exc, 'message', None) or exc}")) from None


def write_finance_report(report: Any, out: Path | str, view: Callable[[dict], dict], *,
                         templates_dir: Path | str | None = None) -> Path:
    """Write the report by ``out``'s extension (.html/.htm, .pdf or .csv), atomically: the
    reconciliation's writer (:func:`~compengine.statements.reconcile_report.write_report_file`)."""
    return write_report_file(out, report.tables(),
                             lambda folder, css: render_html(report, view, templates_dir=folder, css=css),
                             templates_dir=templates_dir)
