"""CRM adapters: turn a public CRM export into compengine's inputs.

Input: the folder of an export (one format per module). Output: a
:class:`ConversionResult` holding the engine's records (reps, assignments,
deals, splits; ``.dataset()`` gives a :class:`~compengine.engine.driver.Dataset`)
and a :class:`ConversionReport` that accounts for every input row: rows read =
rows used + rows not used, the latter grouped by reason with examples.
:func:`write_data_folder` writes a data folder ``compengine calc`` reads, plus
``CONVERSION.md`` and ``conversion.json``. The rules of each format are in its
module docstring and in docs/crm-adapters.md.

Formats: ``maven-crm`` (:mod:`.maven_crm`), ``northwind`` (:mod:`.northwind`).
Uses only the standard library, ``compengine.core`` and ``compengine.engine``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from compengine.adapters import maven_crm, northwind
from compengine.adapters.common import (
    ConversionReport,
    ConversionResult,
    FileReport,
    Reason,
    report_markdown,
    report_text,
    write_data_folder,
)

FORMATS: dict[str, Callable[..., ConversionResult]] = {
    maven_crm.FORMAT: maven_crm.convert,
    northwind.FORMAT: northwind.convert,
}


def convert(fmt: str, path: Path | str, **options: str) -> ConversionResult:
    """Convert an export of the named format. Raises KeyError for an unknown format."""
    return FORMATS[fmt](path, **options)


__all__ = [
    "FORMATS", "ConversionReport", "ConversionResult", "FileReport", "Reason", "convert", "report_markdown",
    "report_text", "write_data_folder",
]


def convert_to_folder(fmt: str, path: Path | str, out_dir: Path | str, plans_dir: Path | str | None = None,
                      **options: str) -> tuple[ConversionResult, list[Path]]:
    """Convert the export at ``path``, write the data folder and read it back as ``compengine calc``
    would (against the plan files, if given). Raises :class:`CompErrors` on any error."""
    from compengine.core.errors import CompErrors
    from compengine.datafiles import read_data_folder
    from compengine.plans.loader import load_plans

    if fmt not in FORMATS:
        raise CompErrors(f"unknown CRM format {fmt!r}: use one of {', '.join(sorted(FORMATS))}")
    plans = None
    if plans_dir is not None:
        plans, errors = load_plans(plans_dir)
        if errors:
            raise CompErrors(errors)
    result = convert(fmt, path, **options)
    if result.errors:
        raise CompErrors(result.errors)
    written = write_data_folder(result, Path(out_dir))
    _, errors = read_data_folder(out_dir, plans)
    if errors:
        raise CompErrors(errors)
    return result, written
