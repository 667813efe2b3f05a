"""Render statements: view model -> Jinja2 template -> CSS -> PDF (WeasyPrint), incrementally and in parallel.

Inputs: :class:`StatementData` items, an output folder, the templates folder
(by default the one shipped in the package, ``compengine/statements/templates/``,
read through :mod:`importlib.resources`: ``statement.html.j2``, ``statement.css``
and the ``fonts/`` it loads with ``@font-face``; any folder holding the same
files can replace it, see ``--templates``).
Output: one ``statement-PERIOD-REP.pdf`` per item (``.html`` too on request),
a manifest of content hashes (``.statements-manifest.json``) and a
:class:`RenderReport`.

How it stays safe and fast:

* Everything that can fail on the templates is checked in the calling process
  *before any file is written*: the template and stylesheet exist, every font
  the stylesheet loads exists and is a font file, and every statement's HTML
  renders (Jinja2 with ``StrictUndefined``). A failure is a
  :class:`~compengine.core.errors.CompErrors` naming the file and line.
* A statement's hash covers its HTML (so its view data and the template), the
  stylesheet, the fonts, this renderer's version and WeasyPrint's. A statement
  whose hash is in the manifest and whose PDF exists is skipped.
* The others are rendered by worker processes (``jobs``, default the core
  count); each PDF is written to a temporary name in the output folder and
  moved into place with ``os.replace``, so a folder never holds half a PDF.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import json
import os
import re
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import jinja2.meta

from compengine.core.currency import format_money
from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.outputs import write_atomic
from compengine.statements.view import (
    StatementData,
    StatementDataError,
    StatementView,
    statement_name,
    statement_view,
)

RENDERER_VERSION = "1"
TEMPLATE = "statement.html.j2"
STYLESHEET = "statement.css"
MANIFEST = ".statements-manifest.json"
RECYCLE_AFTER = 250  # statements a worker process renders before it is replaced (bounds its memory)
WELL_FORMED = "compengine: well-formed XHTML"  # a template saying so is parsed as XML on the PDF path
GC_THRESHOLD = 10_000  # the youngest generation's threshold while rendering (Python's default: 700)
FONT_MAGIC = (b"\x00\x01\x00\x00", b"OTTO", b"true", b"wOFF", b"wOF2", b"ttcf")

Progress = Callable[[Path, str], None]  # (pdf path, "rendered" | "skipped" | "failed")


TEMPLATES_PACKAGE = "compengine.statements"
TEMPLATES_FOLDER = "templates"
_EXTRACTED: list[Path] = []  # the package's templates copied to disk when the package is not on disk (a zip)


def default_templates_dir() -> Path:
    """The templates shipped in the package (``compengine/statements/templates/``), as a folder on disk.

    Found through :mod:`importlib.resources`, so it works from a source tree, an
    installed wheel or an editable install alike. When the package is not a
    folder on disk (imported from a zip), the files are copied once to a
    temporary folder, removed at exit (WeasyPrint and fontconfig need real files).
    """
    res = importlib.resources.files(TEMPLATES_PACKAGE) / TEMPLATES_FOLDER
    if isinstance(res, Path):
        return res
    if not _EXTRACTED:  # pragma: no cover - zip imports only
        import atexit
        import shutil
        import tempfile

        root = Path(tempfile.mkdtemp(prefix="compengine-templates-"))
        atexit.register(shutil.rmtree, root, True)

        def copy(node: Any, to: Path) -> None:
            for child in node.iterdir():
                if child.is_dir():
                    (to / child.name).mkdir()
                    copy(child, to / child.name)
                else:
                    (to / child.name).write_bytes(child.read_bytes())

        copy(res, root)
        _EXTRACTED.append(root)
    return _EXTRACTED[0]


def _shown(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------- templates


_FONT_FACE = re.compile(r"@font-face\s*\{[^}]*\}", re.S)
_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")


class Templates:
    """The checked templates folder: the Jinja2 template, the stylesheet, its fonts and their digest.

    Build it with :func:`load_templates`, which raises :class:`CompErrors` for a
    missing file, a template syntax error or a missing or unreadable font.
    """

    def __init__(self, folder: Path, template: jinja2.Template, css_path: Path, fonts: list[Path], digest: str,
                 xml: bool = False) -> None:
        self.folder = folder
        self.template = template
        self.css_path = css_path
        self.fonts = fonts
        self.digest = digest
        self.xml = xml  # the template writes well-formed XHTML (it says :data:`WELL_FORMED`)

    def html(self, view: StatementView, stylesheet: str = "") -> str:
        """The statement's HTML. ``stylesheet``: the href to link (the PDF path passes the CSS directly)."""
        return self.template.render(s=view, stylesheet=stylesheet)

    def render(self, data: StatementData, stylesheet: str = "") -> str:
        """Lay out and render one statement's HTML; bad data or template errors become :class:`CompErrors`."""
        try:
            view = statement_view(data)
        except StatementDataError as exc:
            raise CompErrors(CompError(None, f"statement not tied out: {exc}")) from None
        try:
            return self.html(view, stylesheet)
        except jinja2.TemplateError as exc:
            raise CompErrors(_template_error(exc, self.folder / TEMPLATE, f"rendering {view.name}")) from None


@jinja2.pass_context
def money_filter(ctx: Any, value: Any, sign: bool = False) -> str:
    """The template's one ``money`` filter (:func:`compengine.core.currency.format_money`): an amount,
    already rounded, in the statement's currency, for its locale when it has one; never rounds.

    In tables (the header names the currency) the locale's digits and separators without a sign;
    ``money(sign=True)`` adds the locale's currency sign (``1.234,56 €``). Without a locale the house
    format (``1,234.56``; ``1,235`` for JPY).
    """
    view = ctx.get("s")
    currency = getattr(view, "currency", None)
    locale = getattr(view, "locale", None)
    if value is None or value == "":
        return ""
    if locale and currency:
        return format_money(value, currency, locale, symbol=sign)
    return format_money(value, currency)


def _template_error(exc: BaseException, template_path: Path, doing: str) -> CompError:
    line = getattr(exc, "lineno", None)
    name = getattr(exc, "filename", None)
    if line is None:  # runtime errors: find the template's frame in the traceback
        wanted = os.path.normpath(str(template_path))
        for frame, lineno in traceback.walk_tb(exc.__traceback__):
            if os.path.normpath(frame.f_code.co_filename) == wanted:
                line = lineno
    where = Source(_shown(Path(name)) if name else _shown(template_path), line)
    message = getattr(exc, "message", None) or str(exc)
    return CompError(where, f"template error while {doing}: {message}")


def check_fonts(css_path: Path) -> tuple[list[Path], list[CompError]]:
    """Every ``url()`` of every ``@font-face`` in the stylesheet must be a readable font file."""
    text = css_path.read_text(encoding="utf-8")
    text = re.sub(r"/\*.*?\*/", lambda m: "\n" * m.group(0).count("\n"), text, flags=re.S)  # comments out, lines kept
    fonts: list[Path] = []
    errors: list[CompError] = []
    for block in _FONT_FACE.finditer(text):
        for url in _URL.finditer(block.group(0)):
            ref = url.group(2).strip()
            line = text.count("\n", 0, block.start() + url.start()) + 1
            src = Source(_shown(css_path), line)
            if ref.startswith(("http:", "https:", "data:")):
                errors.append(CompError(src, f"font {ref!r} is not bundled: fonts must be files next to the stylesheet"))
                continue
            path = (css_path.parent / ref.removeprefix("file://")).resolve()
            try:
                head = path.read_bytes()[:4]
            except OSError:
                errors.append(CompError(src, f"font file not found: {_shown(path)}"))
                continue
            if head not in FONT_MAGIC:
                errors.append(CompError(src, f"not a font file: {_shown(path)}"))
                continue
            fonts.append(path)
    return fonts, errors


def _digest(paths: Iterable[Path], folder: Path) -> str:
    import weasyprint

    h = hashlib.sha256(f"compengine-statements {RENDERER_VERSION} weasyprint {weasyprint.__version__}\n".encode())
    for p in sorted(set(paths)):
        try:
            rel = str(p.relative_to(folder))
        except ValueError:
            rel = str(p)
        h.update(f"{rel}\n".encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
    return h.hexdigest()


def _template_files(env: jinja2.Environment, folder: Path) -> list[Path]:
    """The statement template and every template it includes, imports or extends (not the folder's other files)."""
    seen: set[str] = set()
    todo = [TEMPLATE]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        source = env.loader.get_source(env, name)[0]  # type: ignore[union-attr]
        todo.extend(ref for ref in jinja2.meta.find_referenced_templates(env.parse(source)) if ref is not None)
    return [folder / name for name in sorted(seen)]


def load_templates(folder: Path | str | None = None) -> Templates:
    """Load and check the templates folder (default :func:`default_templates_dir`)."""
    folder = Path(folder) if folder is not None else default_templates_dir()
    tpl_path, css_path = folder / TEMPLATE, folder / STYLESHEET
    errors = [CompError(Source(_shown(p)), "file not found") for p in (tpl_path, css_path) if not p.is_file()]
    if errors:
        raise CompErrors(errors)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(folder)),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
    )
    env.filters["money"] = money_filter
    template: jinja2.Template | None = None
    sources: list[Path] = []
    try:
        template = env.get_template(TEMPLATE)
        sources = _template_files(env, folder)
    except jinja2.TemplateError as exc:
        errors.append(_template_error(exc, tpl_path, "loading it"))
    fonts, font_errors = check_fonts(css_path)
    errors.extend(font_errors)
    if errors or template is None:
        raise CompErrors(errors)
    digest = _digest([*sources, css_path, *fonts], folder)
    xml = WELL_FORMED in tpl_path.read_text(encoding="utf-8")
    return Templates(folder, template, css_path, fonts, digest, xml)


# --------------------------------------------------------------------------- one PDF (also the workers' job)


@dataclass(frozen=True, slots=True)
class _Job:
    pdf: str  # final path
    html: str  # HTML to render (no stylesheet link: the CSS is given to WeasyPrint)
    html_out: str | None  # where to write the HTML copy (--html), or None
    html_text: str | None  # the HTML copy, linking the stylesheet
    xml: bool = False  # the HTML is well-formed XHTML (see :func:`_document`)


_WORKER: dict[str, Any] = {}


def _prepare(css_path: str) -> tuple[Any, Any]:
    """Parse the stylesheet and load its fonts once per process (reused for every statement)."""
    cached = _WORKER.get(css_path)
    if cached is None:
        from weasyprint import CSS
        from weasyprint.text.fonts import FontConfiguration

        font_config = FontConfiguration()
        css = CSS(filename=css_path, font_config=font_config)
        cached = _WORKER[css_path] = (css, font_config)
    return cached


def _document(html: str, base_url: str, xml: bool) -> Any:
    """WeasyPrint's HTML document of a statement.

    WeasyPrint parses with a pure-Python HTML5 parser, about a twentieth of a statement's time. A template
    that writes well-formed XHTML (:data:`WELL_FORMED`) is parsed with the standard library's XML parser
    instead and the tree handed to WeasyPrint; when the text is not well-formed, or WeasyPrint does not hold
    its tree where this expects it, the HTML5 parser reads it as before.
    """
    from weasyprint import HTML

    if xml:
        try:
            import cssselect2
            from xml.etree import ElementTree

            root = ElementTree.fromstring(html)
        except Exception:  # not well-formed after all: the HTML5 parser reads it
            pass
        else:
            doc = HTML(string="<html></html>", base_url=base_url)
            if hasattr(doc, "wrapper_element") and hasattr(doc, "etree_element"):
                doc.wrapper_element = cssselect2.ElementWrapper.from_html_root(root, content_language=None)
                doc.etree_element = doc.wrapper_element.etree_element
                return doc
    return HTML(string=html, base_url=base_url)


def _write_atomic(path: Path, write: Callable[[Path], None]) -> None:
    """Write beside ``path`` and move into place (the user's umask; an existing file is replaced)."""
    write_atomic(path, write)


def _render_job(job: _Job, css_path: str, base_url: str) -> str | None:
    """Render one PDF (and its HTML copy). Returns None, or a one-line error."""
    try:
        css, font_config = _prepare(css_path)
        doc = _document(job.html, base_url, job.xml).render(stylesheets=[css], font_config=font_config)
        _write_atomic(Path(job.pdf), lambda p: doc.write_pdf(str(p)))
        if job.html_out is not None and job.html_text is not None:
            text = job.html_text
            _write_atomic(Path(job.html_out), lambda p: p.write_text(text, encoding="utf-8"))
        return None
    except Exception as exc:  # a failed statement is reported, the others go on
        return f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": ")


def _init_worker(css_path: str) -> None:
    """A worker process: the stylesheet and fonts loaded, then what is loaded so far set aside from the
    garbage collector (it is never garbage) and the collector run less often: a statement allocates
    tens of thousands of objects, and the default thresholds walked them again and again (about 2% of
    a statement's instructions). The worker is replaced every :data:`RECYCLE_AFTER` statements."""
    import gc

    _prepare(css_path)
    gc.collect()
    gc.freeze()
    gc.set_threshold(GC_THRESHOLD, *gc.get_threshold()[1:])


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Rendering in this process: the collector's youngest threshold raised for the while (as in a worker)."""
    import gc

    before = gc.get_threshold()
    gc.set_threshold(max(before[0], GC_THRESHOLD), *before[1:])
    try:
        yield
    finally:
        gc.set_threshold(*before)


def render_pdf(data: StatementData, path: Path | str, templates: Templates | None = None) -> Path:
    """Render one statement to ``path`` in this process (no manifest, no skipping)."""
    templates = templates or load_templates()
    path = Path(path)
    try:
        with _fewer_collections():
            err = _render_job(_Job(str(path), templates.render(data), None, None, templates.xml),
                              str(templates.css_path), str(templates.folder) + os.sep)
    finally:
        _WORKER.clear()
    if err:
        raise CompErrors(CompError(Source(_shown(path)), err))
    return path


# --------------------------------------------------------------------------- many PDFs


@dataclass(frozen=True)
class RenderReport:
    """What :func:`render_statements` did. Paths are the PDFs; ``files`` every PDF that exists for the items."""

    rendered: tuple[Path, ...]
    skipped: tuple[Path, ...]  # unchanged since the last render
    failed: tuple[tuple[Path, str], ...]  # (pdf, one-line error); not written, not in the manifest
    files: tuple[Path, ...]  # in item order: rendered + skipped
    out_dir: Path


def _read_manifest(path: Path) -> dict[str, str]:
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    entries = raw.get("statements") if isinstance(raw, dict) else None
    if not isinstance(entries, dict):
        return {}
    return {str(k): str(v) for k, v in entries.items()}


def _write_manifest(path: Path, entries: dict[str, str]) -> None:
    body = {"renderer": RENDERER_VERSION, "statements": dict(sorted(entries.items()))}
    text = json.dumps(body, indent=1) + "\n"
    _write_atomic(path, lambda p: p.write_text(text, encoding="utf-8"))


def render_statements(
    items: Sequence[StatementData],
    out_dir: Path | str,
    jobs: int | None = None,
    *,
    force: bool = False,
    html: bool = False,
    templates_dir: Path | str | None = None,
    progress: Progress | None = None,
) -> RenderReport:
    """Render one PDF per item into ``out_dir``, skipping those whose content has not changed.

    ``jobs``: worker processes (default ``os.cpu_count()``; with 1, up to
    :data:`RECYCLE_AFTER` statements are rendered in this process). ``force``:
    render even unchanged statements. ``html``: also write
    ``statement-PERIOD-REP.html`` (linking the stylesheet in the templates folder).
    ``progress`` is called in this process once per item as it is done.

    Raises :class:`CompErrors` (nothing written) when the templates are broken,
    a font is missing, two items would share a file or an item does not tie out.
    """
    templates = load_templates(templates_dir)
    out = Path(out_dir)
    jobs = max(1, jobs if jobs is not None else (os.cpu_count() or 1))

    # 1. everything that can fail on the templates or the data, before writing anything
    names: dict[str, StatementData] = {}
    planned: list[tuple[Path, str, str | None]] = []  # (pdf, hash, html) html None = unchanged candidate
    errors: list[CompError] = []
    stylesheet_href = templates.css_path.resolve().as_uri()
    previous = _read_manifest(out / MANIFEST)
    html_copies: dict[Path, str] = {}
    for data in items:
        text = templates.render(data)
        name = statement_name_of(data)
        if name in names:
            errors.append(CompError(None, f"two statements for {data.rep_id} {data.period} ({name}.pdf)"))
            continue
        names[name] = data
        digest = hashlib.sha256((templates.digest + "\n" + text).encode()).hexdigest()
        pdf = out / f"{name}.pdf"
        copy = pdf.with_suffix(".html")
        unchanged = (
            not force
            and previous.get(pdf.name) == digest
            and pdf.is_file()
            and (not html or (previous.get(copy.name) == digest and copy.is_file()))
        )
        planned.append((pdf, digest, None if unchanged else text))
        if html and not unchanged:
            html_copies[pdf] = templates.render(data, stylesheet=stylesheet_href)
    if errors:
        raise CompErrors(errors)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CompErrors(CompError(Source(_shown(out)), f"cannot create the output folder: {exc.strerror}")) from None

    # 2. skip the unchanged, render the rest
    manifest = dict(previous)
    rendered: list[Path] = []
    skipped: list[Path] = []
    failed: list[tuple[Path, str]] = []
    todo: list[tuple[Path, str, _Job]] = []
    for pdf, digest, text in planned:
        if text is None:
            skipped.append(pdf)
            if progress:
                progress(pdf, "skipped")
            continue
        manifest.pop(pdf.name, None)  # until it is written again
        manifest.pop(pdf.with_suffix(".html").name, None)  # an HTML copy left from before is now stale
        todo.append((pdf, digest, _Job(str(pdf), text, str(pdf.with_suffix(".html")) if html else None,
                                       html_copies.get(pdf), templates.xml)))

    css_path, base_url = str(templates.css_path), str(templates.folder) + os.sep

    def done(pdf: Path, digest: str, err: str | None) -> None:
        if err is None:
            rendered.append(pdf)
            manifest[pdf.name] = digest
            if html:
                manifest[pdf.with_suffix(".html").name] = digest
        else:
            failed.append((pdf, err))
        if progress:
            progress(pdf, "rendered" if err is None else "failed")

    try:
        if len(todo) <= 1 or (jobs == 1 and len(todo) <= RECYCLE_AFTER):
            with _fewer_collections():
                for pdf, digest, job in todo:
                    done(pdf, digest, _render_job(job, css_path, base_url))
        else:
            _render_parallel(todo, min(jobs, len(todo)), css_path, base_url, done)
    finally:
        _WORKER.clear()  # this process's fonts: freed now, not at interpreter exit
        if todo or manifest != previous:
            _write_manifest(out / MANIFEST, manifest)

    order = {p: i for i, (p, _, _) in enumerate(planned)}
    ok = set(rendered) | set(skipped)
    return RenderReport(
        rendered=tuple(sorted(rendered, key=order.__getitem__)),
        skipped=tuple(skipped),
        failed=tuple(sorted(failed, key=lambda f: order[f[0]])),
        files=tuple(p for p, _, _ in planned if p in ok),
        out_dir=out,
    )


def _render_parallel(
    todo: list[tuple[Path, str, _Job]],
    jobs: int,
    css_path: str,
    base_url: str,
    done: Callable[[Path, str, str | None], None],
) -> None:
    """Render in worker processes, a fresh pool every ``jobs x RECYCLE_AFTER`` statements.

    WeasyPrint's memory grows a little with every document a process renders
    (about 0.15 MB here), so workers are replaced before it adds up over a big
    company. At most a few jobs per worker are in flight, so the HTML of a whole
    company is never queued at once.
    """
    chunk = jobs * RECYCLE_AFTER
    for first in range(0, len(todo), chunk):
        part = todo[first:first + chunk]
        workers = min(jobs, len(part))
        window = workers * 4
        pending: dict[Any, tuple[Path, str]] = {}
        it = iter(part)
        with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker, initargs=(css_path,)) as pool:
            while True:
                while len(pending) < window:
                    nxt = next(it, None)
                    if nxt is None:
                        break
                    pdf, digest, job = nxt
                    try:
                        pending[pool.submit(_render_job, job, css_path, base_url)] = (pdf, digest)
                    except Exception as exc:  # the pool broke (a worker was killed): the rest fail too
                        done(pdf, digest, f"worker failed: {type(exc).__name__}: {exc}")
                if not pending:
                    break
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for fut in finished:
                    pdf, digest = pending.pop(fut)
                    try:
                        err = fut.result()
                    except Exception as exc:  # the worker died (e.g. killed): report, keep going
                        err = f"worker failed: {type(exc).__name__}: {exc}"
                    done(pdf, digest, err)


def statement_name_of(data: StatementData) -> str:
    """The file stem of an item's statement: ``statement-2026-10-R1``."""
    return statement_name(data.period, data.rep_id)


__all__ = [
    "RenderReport",
    "Templates",
    "default_templates_dir",
    "load_templates",
    "render_pdf",
    "render_statements",
    "statement_name_of",
]
