"""Files the tool writes: CSV cells a spreadsheet cannot run, and atomic replacement with the user's umask.

Every CSV compengine writes (the payout file, the reconciliation CSV, the data
folders of ``import-crm`` and ``generate``) goes through :func:`csv_cell`, one
rule for all of them, after OWASP's guidance on CSV injection: a *text* cell
that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is what
Excel, LibreOffice and Google Sheets run as a formula, so it gets a leading
single quote (``=HYPERLINK(...)`` is written ``'=HYPERLINK(...)``). Numbers stay
numbers: a ``Decimal`` or ``int``, or a string that is a plain decimal number
such as ``-250.00``, is written as it is.

Every output file is written to a temporary name in its folder and moved over
the target with ``os.replace``: a reader sees the old file or the new one, never
half of one, and an existing file is replaced. The temporary file is created
with mode ``0o666`` so the user's umask decides the final mode, as for any file
a program writes (``tempfile.mkstemp`` would make it ``0600``).

Only the standard library: every layer may use it.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
from collections.abc import Callable, Iterable
from datetime import date
from decimal import Decimal
from pathlib import Path

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)")


def csv_cell(value: object) -> str:
    """One CSV cell as text, neutralised if a spreadsheet would run it as a formula.

    ``None`` is empty; ``Decimal`` and ``int`` are written as plain numbers
    (``Decimal`` in fixed point, never an exponent); dates as ``YYYY-MM-DD``;
    any other value as ``str(value)``, prefixed with ``'`` when it starts with
    one of :data:`FORMULA_START` and is not a plain number.
    """
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    text = str(value)
    if text.startswith(FORMULA_START) and not _NUMBER.fullmatch(text):
        return "'" + text
    return text


def csv_row(values: Iterable[object]) -> list[str]:
    """A row of :func:`csv_cell` cells."""
    return [csv_cell(v) for v in values]


class SafeWriter:
    """A ``csv.writer`` (``\\n`` line ends) whose every cell goes through :func:`csv_cell`."""

    def __init__(self, fh: io.TextIOBase) -> None:
        self._w = csv.writer(fh, lineterminator="\n")

    def writerow(self, row: Iterable[object]) -> None:
        self._w.writerow(csv_row(row))

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_text(header: Iterable[str] | None, rows: Iterable[Iterable[object]]) -> str:
    """A whole CSV document as text (header first, unless ``None``)."""
    buf = io.StringIO()
    w = SafeWriter(buf)
    if header is not None:
        w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def _temp_beside(path: Path) -> Path:
    """Create an empty temporary file next to ``path`` (mode 0o666 less the umask) and return its name."""
    for _ in range(100):
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        except FileExistsError:  # pragma: no cover - 48 random bits
            continue
        os.close(fd)
        return tmp
    raise FileExistsError(f"cannot create a temporary file next to {path}")  # pragma: no cover


def write_atomic(path: Path | str, write: Callable[[Path], None]) -> Path:
    """Write ``path`` through ``write(temporary_path)``, then move it into place (replacing any file there).

    The folder is created if needed. On any failure the temporary file is
    removed and ``path`` is untouched.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temp_beside(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def write_text_atomic(path: Path | str, text: str) -> Path:
    """Write UTF-8 text to ``path`` atomically (see :func:`write_atomic`)."""

    def write(p: Path) -> None:
        with p.open("w", encoding="utf-8", newline="") as fh:
            fh.write(text)

    return write_atomic(path, write)


def write_csv_atomic(path: Path | str, header: Iterable[str] | None, rows: Iterable[Iterable[object]]) -> Path:
    """Write a CSV file with neutralised cells (:func:`csv_cell`), atomically (:func:`write_atomic`)."""
    return write_text_atomic(path, csv_text(header, rows))


__all__ = [
    "FORMULA_START",
    "SafeWriter",
    "csv_cell",
    "csv_row",
    "csv_text",
    "write_atomic",
    "write_csv_atomic",
    "write_text_atomic",
]
