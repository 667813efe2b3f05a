"""Where a one-page statement's time goes (issue 18, statements 2x): CPU seconds per statement of each
phase, in one process, after one warm-up document, on the synthetic statements of bench_statements.py.

* view + template: ``statement_view`` and the Jinja template (HTML text);
* parse: WeasyPrint reads the HTML (``HTML(string=...)``);
* style + layout: ``.render()`` with the stylesheet and fonts already loaded (as every worker does);
* pdf: ``.write_pdf()`` (fonts subset and embedded);
* trivial document: one paragraph under the same stylesheet, the fixed cost of a document;
* ten statements as one document: what batching documents would save.

Rewrites the ``statement-phases`` section of benchmarks/RESULTS.md (``--no-write``: print only).

    .venv/bin/python benchmarks/bench_statement_phases.py --count 40
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import sys
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_statements import synthetic, write_section  # noqa: E402

from compengine.statements import load_templates  # noqa: E402
from compengine.statements.render import _prepare  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from weasyprint import HTML, __version__ as wp_version

    items = synthetic(args.count + 1)
    t = load_templates()
    css, fonts = _prepare(str(t.css_path))
    base = str(t.folder) + os.sep
    load0 = os.getloadavg()[0]
    HTML(string=t.render(items[0]), base_url=base).render(stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
    n = len(items) - 1
    c = time.process_time()
    htmls = [t.render(d) for d in items[1:]]
    phase = {"view + template": time.process_time() - c, "parse": 0.0, "style + layout": 0.0, "pdf": 0.0}
    elements = sum(len(re.findall(r"<[a-zA-Z]", h)) for h in htmls) / n
    for h in htmls:
        c = time.process_time()
        doc = HTML(string=h, base_url=base)
        phase["parse"] += time.process_time() - c
        c = time.process_time()
        rendered = doc.render(stylesheets=[css], font_config=fonts)
        phase["style + layout"] += time.process_time() - c
        c = time.process_time()
        rendered.write_pdf(io.BytesIO())
        phase["pdf"] += time.process_time() - c
    total = sum(phase.values())
    c = time.process_time()
    for _ in range(20):
        HTML(string="<html><body><p>x</p></body></html>", base_url=base).render(
            stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
    trivial = (time.process_time() - c) / 20
    bodies = [re.search(r"<body[^>]*>(.*)</body>", h, re.S).group(1) for h in htmls[:10]]  # type: ignore[union-attr]
    head, body_tag = htmls[0].split("<body")[0], re.search(r"<body[^>]*>", htmls[0]).group(0)  # type: ignore[union-attr]
    batch = head + body_tag + "".join(f'<div style="break-before: page">{b}</div>' for b in bodies) + "</body></html>"
    c = time.process_time()
    HTML(string=batch, base_url=base).render(stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
    batched = (time.process_time() - c) / len(bodies)
    load1 = os.getloadavg()[0]

    rows = [f"| {k} | {v / n:.4f} | {100 * v / total:.0f}% |" for k, v in phase.items()]
    body = "\n".join([
        f"## statement-phases: where a one-page statement's time goes (`benchmarks/bench_statement_phases.py`)",
        "",
        f"{n} synthetic one-page statements (bench_statements.py, seed 7), {elements:.0f} HTML elements each; "
        f"one process, stylesheet and fonts loaded once (as each worker does). WeasyPrint {wp_version}, "
        f"{os.cpu_count()} cores ({platform.machine()}), Python {platform.python_version()}; run on {date.today()}; "
        f"load average {load0:.1f} -> {load1:.1f} (other work on the machine: CPU seconds, not wall).",
        "",
        "| phase | CPU s per statement | share |",
        "|---|---:|---:|",
        *rows,
        f"| **total** | **{total / n:.4f}** | |",
        f"| a trivial document (one paragraph, same stylesheet) | {trivial:.4f} | |",
        f"| ten statements as one document, per statement | {batched:.4f} | |",
        "",
    ])
    print(body)
    if not args.no_write:
        write_section("statement-phases", body)
    return 0


if __name__ == "__main__":
    sys.exit(main())
