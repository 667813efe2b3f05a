"""Where a one-page statement's time goes (issue 18, statements 2x): CPU seconds per statement of each
phase, in one process, after one warm-up document, on the synthetic statements of bench_statements.py.

* view + template: ``statement_view`` and the Jinja template (HTML text);
* parse: the HTML read into a tree (``render._document``: XML for the shipped template, else HTML5);
* style + layout: ``.render()`` with the stylesheet and fonts already loaded (as every worker does);
* pdf: ``.write_pdf()`` (fonts subset and embedded);
* trivial document: one paragraph under the same stylesheet, the fixed cost of a document;
* ten statements as one document: what batching documents would save.

Each statement goes the way a worker renders it (``render._document``: the XML parser for a template
that says it is well-formed; the worker's garbage-collector settings).

``--base REV`` (repeatable) also measures earlier commits the same way, each in its own process with
its own code, templates and synthetic statements (a git worktree in a temporary folder, this venv's
packages), alternating with this tree for ``--rounds`` rounds so all see the same machine load; the
table gives the median CPU seconds per statement and this tree's speed-up over each.

Rewrites the ``statement-phases`` section of benchmarks/RESULTS.md (``--no-write``: print only).

    .venv/bin/python benchmarks/bench_statement_phases.py --count 40
    .venv/bin/python benchmarks/bench_statement_phases.py --base 5712538 --base 8fc7fa4 --rounds 3
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_statements import synthetic, write_section  # noqa: E402
from trees import USE_TREE, checkout  # noqa: E402

from compengine.statements import load_templates  # noqa: E402
from compengine.statements import render as _render  # noqa: E402

# One tree's statements, CPU seconds each, as its worker renders them (run with that tree's code first on the path;
# the venv's editable install's import hook is taken out so it cannot win).
TREE = """
import io, os, sys, time
tree, count = sys.argv[1], int(sys.argv[2])
""" + USE_TREE + """
sys.path.insert(1, os.path.join(tree, "benchmarks"))
from bench_statements import synthetic
from compengine.statements import load_templates
from compengine.statements import render as R
from weasyprint import HTML
assert R.__file__.startswith(tree), R.__file__
items = synthetic(count + 1)
t = load_templates()
R._init_worker(str(t.css_path))
css, fonts = R._prepare(str(t.css_path))
base = str(t.folder) + os.sep
def document(h):
    return R._document(h, base, t.xml) if hasattr(R, "_document") else HTML(string=h, base_url=base)
document(t.render(items[0])).render(stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
htmls = [t.render(d) for d in items[1:]]
c = time.process_time()
for h in htmls:
    document(h).render(stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
print((time.process_time() - c) / count)
"""


def against(bases: list[str], count: int, rounds: int) -> list[str]:
    """This tree against each base commit, alternating; the table's rows."""
    with tempfile.TemporaryDirectory(prefix="bench-phases-") as tmp, contextlib.ExitStack() as stack:
        trees: list[tuple[str, str]] = []
        for rev in bases:
            folder = stack.enter_context(checkout(rev, Path(tmp) / rev))
            trees.append((f"`{rev}`", str(folder)))
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True).stdout.strip()
        trees.append((f"this tree (`{head}`{', with changes' if dirty() else ''})", str(ROOT)))
        seconds: dict[str, list[float]] = {name: [] for name, _ in trees}
        loads = [os.getloadavg()[0]]
        for _ in range(rounds):
            for name, folder in trees:
                out = subprocess.run([sys.executable, "-c", TREE, folder, str(count)], check=True, capture_output=True,
                                     text=True, cwd=folder)
                seconds[name].append(float(out.stdout.strip().splitlines()[-1]))
                loads.append(os.getloadavg()[0])
                print(f"{name}: {seconds[name][-1]:.4f} CPU s per statement (load {loads[-1]:.1f})", flush=True)
    mine = statistics.median(seconds[trees[-1][0]])
    rows = [f"{len(trees)} trees, {rounds} alternating rounds of {count} statements each, load average "
            f"{min(loads):.1f} to {max(loads):.1f}; median CPU s per statement (every round's in brackets):", "",
            "| code | CPU s per statement | this tree is |", "|---|---:|---:|"]
    for name, _ in trees:
        med = statistics.median(seconds[name])
        every = ", ".join(f"{x:.3f}" for x in seconds[name])
        rows.append(f"| {name} | {med:.4f} ({every}) | {med / mine:.2f}x as fast |" if name != trees[-1][0]
                    else f"| {name} | {med:.4f} ({every}) | |")
    return rows


def dirty() -> bool:
    out = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                         capture_output=True, text=True).stdout
    return bool(out.strip())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--base", action="append", default=[], help="an earlier commit to measure against (repeatable)")
    ap.add_argument("--rounds", type=int, default=3, help="alternating rounds with --base (default 3)")
    ap.add_argument("--no-write", action="store_true")
    args = ap.parse_args()
    from weasyprint import HTML, __version__ as wp_version

    items = synthetic(args.count + 1)
    t = load_templates()
    _render._init_worker(str(t.css_path))  # as a worker: stylesheet and fonts loaded, the collector's settings
    css, fonts = _render._prepare(str(t.css_path))
    base = str(t.folder) + os.sep
    load0 = os.getloadavg()[0]
    _render._document(t.render(items[0]), base, t.xml).render(
        stylesheets=[css], font_config=fonts).write_pdf(io.BytesIO())
    n = len(items) - 1
    c = time.process_time()
    htmls = [t.render(d) for d in items[1:]]
    phase = {"view + template": time.process_time() - c, "parse": 0.0, "style + layout": 0.0, "pdf": 0.0}
    elements = sum(len(re.findall(r"<[a-zA-Z]", h)) for h in htmls) / n
    for h in htmls:
        c = time.process_time()
        doc = _render._document(h, base, t.xml)
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
    compare = against(args.base, args.count, args.rounds) if args.base else []

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
        *([f"Against earlier commits (`--base {' --base '.join(args.base)} --rounds {args.rounds}`): "
           + compare[0], *compare[1:], ""] if compare else []),
    ])
    print(body)
    if not args.no_write:
        write_section("statement-phases", body)
    import gc

    gc.unfreeze()  # what _init_worker set aside goes back to the collector before the interpreter exits
    return 0


if __name__ == "__main__":
    sys.exit(main())
