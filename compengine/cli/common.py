"""Shared pieces of the CLI: context object, options, error reporting."""

from __future__ import annotations

import getpass
import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import click

from compengine.core.errors import CompErrors
from compengine.core.periods import Period


@dataclass
class Context:
    db_url: str
    actor: str | None = None
    # a SQLite file this command created (removed again when the command fails) and the
    # engines opened on it (disposed first)
    new_sqlite: Path | None = None
    engines: list[Any] = field(default_factory=list)
    user: Any = None  # the ledger user acting (ledger.users.User), once the ledger has users

    @property
    def who(self) -> str:
        if self.actor:
            return self.actor
        try:
            return getpass.getuser()
        except Exception:  # pragma: no cover - no user database
            return os.environ.get("USER", "unknown")


def db_url_problem(url: str) -> str | None:
    """Why ``--db`` is not a usable database URL (None when it looks right), saying what to write."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    if "://" not in url:
        return (f"--db takes a database URL, not a file name: write sqlite:///{url} for the SQLite file {url}, "
                "or postgresql://HOST/DB")
    scheme, rest = url.split("://", 1)
    if scheme.lower() in ("postgres", "postgres+psycopg", "pgsql"):
        return f"--db: write postgresql://{rest} (postgres:// is not a URL scheme SQLAlchemy knows)"
    try:
        parsed = make_url(url)
    except ArgumentError:
        return f"--db: not a database URL: {url}"
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:"):
            return None
        path = Path(database)
        if path.is_dir():
            return f"--db: {database} is a folder: name a file in it, e.g. sqlite:///{path / 'compengine.db'}"
        if not path.parent.is_dir():
            return f"--db: the folder {path.parent} does not exist: create it first, or name a file in a folder that does"
    return None


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL (None for other databases and in-memory ones)."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    if parsed.database.startswith("file:"):
        return None
    return Path(parsed.database)


def _holds_data(path: Path) -> bool:
    """Whether a SQLite ledger holds anything a command committed (the schema alone is nothing)."""
    import sqlite3

    try:
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        return False
    try:
        for table in ("audit_log", "reps", "periods", "import_batches"):
            try:
                if con.execute(f"SELECT EXISTS (SELECT 1 FROM {table})").fetchone()[0]:
                    return True
            except sqlite3.Error:
                continue
        return False
    finally:
        con.close()


def discard_new_ledger(ctx: Context | None) -> None:
    """After a failed command: remove the SQLite file the command created (and its -wal/-shm),
    unless something was committed to it before the failure."""
    if ctx is None or ctx.new_sqlite is None:
        return
    for engine in ctx.engines:
        engine.dispose()
    path = ctx.new_sqlite
    if not path.exists() or _holds_data(path):
        return
    for p in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm"),
              path.with_name(path.name + "-journal")):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
    ctx.new_sqlite = None


class MainGroup(click.Group):
    """The top group: a command that fails leaves no SQLite file it created behind."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.exceptions.Exit as exc:
            if exc.exit_code:
                discard_new_ledger(ctx.obj)
            raise
        except SystemExit as exc:
            if exc.code:
                discard_new_ledger(ctx.obj)
            raise
        except BaseException:
            discard_new_ledger(ctx.obj)
            raise


json_option = click.option("--json", "as_json", is_flag=True, help="Print machine-readable JSON.")


def period_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> Period | None:
    if value is None:
        return None
    try:
        return Period.parse(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _encoding(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    import codecs

    try:
        codecs.lookup(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding {value!r} (e.g. utf-8, cp1252, latin-1)") from None
    return value


encoding_option = click.option(
    "--encoding", default=None, callback=_encoding,
    help="Encoding of the CSV files [default: UTF-8 (with or without a BOM), else Windows-1252].")


def fail_with(errors: CompErrors, what: str = "nothing was changed") -> None:
    """Print every error (file:line: field: message) to stderr, then exit with a one-line reason."""
    n = len(errors.errors)
    if n > 1 or errors.headline:
        for e in errors.errors:
            click.echo(str(e), err=True)
    if errors.headline:
        raise click.ClickException(f"{errors.headline}; {what}")
    raise click.ClickException(f"{n} error{'s' if n != 1 else ''} in input; {what}" if n > 1 else f"{errors.errors[0]}; {what}")


def echo_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def handles_errors(what: str) -> Callable:
    """Decorator: CompErrors from the library become printed errors and exit code 1."""

    def wrap(fn: Callable) -> Callable:
        import functools

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except CompErrors as exc:
                fail_with(exc, what)

        return inner

    return wrap


_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def one_line(text: str | None) -> str:
    """Text safe to print as part of one line: backslashes, newlines and every other control or
    invisible formatting character (bidi overrides, line separators) written as escapes, so a
    value can never start a new line or disguise what follows it."""
    if text is None:
        return ""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ch.isprintable() or ch == " ":
            out.append(ch)
        else:
            code = ord(ch)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


progress_option = click.option(
    "--progress/--no-progress", "progress", default=None,
    help="Print progress on stderr [default: only when stderr is a terminal, so `2>log` stays quiet].")

templates_option = click.option(
    "--templates", "templates_dir", envvar="COMPENGINE_TEMPLATES",
    type=click.Path(exists=True, file_okay=False, path_type=Path), default=None,
    help="Folder of edited templates to use instead of those in the package (or set COMPENGINE_TEMPLATES); "
         "see statements/README.md.")


def _locale_arg(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    if value is None:
        return None
    from compengine.core.currency import check_locale

    try:
        return check_locale(value)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


locale_option = click.option(
    "--locale", "locale", envvar="COMPENGINE_LOCALE", default=None, callback=_locale_arg,
    help="Write amounts for this locale through Babel/CLDR (de_DE: 1.234,56 €; ja_JP: ￥1,235) [default: "
         "each rep's reps.csv `locale` where there is one, else 1,234.56 with the currency named].")


def progress_enabled(flag: bool | None = None) -> bool:
    """``--progress`` / ``--no-progress`` when given, else whether stderr is a terminal."""
    return sys.stderr.isatty() if flag is None else flag


class Progress:
    """Progress on stderr, only when :func:`progress_enabled`.

    :meth:`status` is a passing message: at a terminal it overwrites one status
    line, which is cleared before anything else is printed; to a file (with
    ``--progress``) it is a line. :meth:`line` is a line that stays.
    """

    def __init__(self, flag: bool | None = None) -> None:
        self.enabled = progress_enabled(flag)
        self.tty = sys.stderr.isatty()
        self._shown = False

    def status(self, message: str) -> None:
        if not self.enabled:
            return
        if self.tty:
            click.echo("\r\x1b[K" + message, nl=False, err=True)
            self._shown = True
        else:
            click.echo(message, err=True)

    def line(self, message: str) -> None:
        if not self.enabled:
            return
        self.clear()
        click.echo(message, err=True)

    def clear(self) -> None:
        if self._shown:
            click.echo("\r\x1b[K", nl=False, err=True)
            self._shown = False


def read_plans_and_data(plans_dir, data_dir, rep_ids=(), encoding=None, *, versions=False, fast=False):  # noqa: ANN001, ANN201
    """Plans (``versions``: the folder's PlanCatalog of every plan version) and a data folder for the
    file-mode commands; every error raised as CompErrors. ``fast`` (with ``versions``): deals as columns."""
    from compengine.api import read_catalog_and_folder, read_plans_and_folder

    if versions:
        plans, data = read_catalog_and_folder(plans_dir, data_dir, encoding=encoding, fast=fast)
    else:
        plans, data = read_plans_and_folder(plans_dir, data_dir, encoding=encoding)
    unknown = [r for r in rep_ids if r not in data.reps]
    if unknown:
        raise click.ClickException(f"unknown rep {unknown[0]!r} in --rep")
    return plans, data


def months_arg(period: Period, through: Period | None) -> list[Period]:
    """PERIOD alone, or PERIOD through --through (refusing a range that runs backwards)."""
    if through is None:
        return [period]
    if through < period:
        raise click.BadParameter(f"--through {through} is before {period}")
    return period.months_through(through)


# At a terminal, a month with more payout lines than this is shown one block per rep (the
# summary): a million-line month would print four million lines and take as long as the close.
TERMINAL_LINE_LIMIT = 5000

lines_option = click.option(
    "--lines", "all_lines", is_flag=True,
    help=f"Print every line even at a terminal (a month of more than {TERMINAL_LINE_LIMIT:,} lines is summarised there).")


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def echo_result(result: Any, *, show_explain: bool = True, show_lines: bool = True, all_lines: bool = False,
                plans: Any = None) -> None:
    """Print a month's result as text, a rep at a time. At a terminal, a month of more than
    :data:`TERMINAL_LINE_LIMIT` lines is printed as the summary unless ``all_lines``; redirected
    to a file or a pipe, every line is printed. ``plans``: the month's plans (names dated versions)."""
    from compengine.api import iter_result_text

    hidden = 0
    if show_lines and not all_lines:
        count = sum(len(r.lines) for r in result.reps)
        if count > TERMINAL_LINE_LIMIT and stdout_is_terminal():
            show_lines, hidden = False, count
    for chunk in iter_result_text(result, show_explain=show_explain, show_lines=show_lines, plans=plans):
        click.echo(chunk, nl=False)
    if hidden:  # last, where the eye is when the output stops
        click.echo(f"{hidden:,} payout lines: one block per rep shown here; --lines prints every line, "
                   "--rep R one rep's, --json the data (or redirect to a file)", err=True)


REPORT_SUFFIXES = (".html", ".htm", ".pdf", ".csv")


def check_report_out(out: Path | None) -> None:
    """Refuse an ``--out`` a report cannot be written as (before any work is done)."""
    if out is not None and out.suffix.lower() not in REPORT_SUFFIXES:
        raise click.BadParameter("the report must end in .html, .pdf or .csv", param_hint="--out")


def echo_report(report: Any, as_json: bool, out: Path | None, written: str = "report") -> None:
    """Print a report (``as_dict()`` as JSON, else ``text()``) and where its file went."""
    if as_json:
        echo_json(report.as_dict())
        return
    click.echo(report.text(), nl=False)
    if out is not None:
        click.echo(f"{written} written to {out}")
