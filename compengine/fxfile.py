"""Read ``fx_rates.csv``: exchange rates for a data folder (issue 15; docs/currencies.md).

Columns ``date, from_currency, to_currency, rate``: from ``date`` on, 1 unit of
``from_currency`` is ``rate`` units of ``to_currency``, until the next row for that pair.
Every row is checked and every problem is a :class:`CompError` naming the file, the
line (header = line 1) and the column, as for the other data files
(:mod:`compengine.datafiles`): an unknown currency code, a rate that is not a plain
number or not above zero, the same currency on both sides, a date outside
:data:`compengine.core.periods.FIRST_DATE` .. :data:`compengine.core.periods.LAST_DATE`,
two rates for one pair on one date, missing columns. Callers compute and write
nothing while the list of errors is not empty.
"""

from __future__ import annotations

import csv
from datetime import date
from decimal import Decimal
from pathlib import Path

from compengine.core.currency import check_code
from compengine.core.errors import CompError, Source
from compengine.core.fx import FxRate, FxRates
from compengine.core.money import parse_plain_number
from compengine.core.periods import parse_date
from compengine.datafiles import detect_encoding

FX_FILE = "fx_rates.csv"
FX_COLUMNS = ["date", "from_currency", "to_currency", "rate"]


def read_fx_rates(path: Path | str, *, encoding: str | None = None) -> tuple[FxRates, list[CompError]]:
    """The rates of one file and the errors found in it (the rates hold only the good rows)."""
    path = Path(path)
    file = str(path)
    errors: list[CompError] = []
    rows: list[FxRate] = []
    try:
        enc = encoding or detect_encoding(path)
        if enc.replace("_", "-").lower() in ("utf-8", "utf8"):
            enc = "utf-8-sig"
        fh = path.open(newline="", encoding=enc)
    except FileNotFoundError:
        return FxRates(), [CompError(Source(file), "file not found")]
    except OSError as exc:
        return FxRates(), [CompError(Source(file), f"cannot read: {exc.strerror}")]
    seen: dict[tuple[str, str, date], int] = {}
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader, [])]
            missing = [c for c in FX_COLUMNS if c not in header]
            if not header:
                errors.append(CompError(Source(file, 1), "the file is empty: expected a header row "
                                                         f"({', '.join(FX_COLUMNS)})"))
                return FxRates(), errors
            if missing:
                hint = "; the file is separated by semicolons: compengine reads commas" \
                    if len(header) == 1 and ";" in header[0] else ""
                errors.append(CompError(Source(file, 1), f"missing column(s): {', '.join(missing)}{hint}"))
                return FxRates(), errors
            for raw in reader:
                line = reader.line_num
                if not raw or all(not v.strip() for v in raw):
                    continue
                src = Source(file, line)
                if len(raw) != len(header):
                    errors.append(CompError(src, f"has {len(raw)} fields, the header has {len(header)}"))
                    continue
                row = dict(zip(header, (v.strip() for v in raw)))
                row_errors: list[CompError] = []
                day = _field(row, src, "date", parse_date, row_errors)
                from_ccy = _field(row, src, "from_currency", check_code, row_errors)
                to_ccy = _field(row, src, "to_currency", check_code, row_errors)
                rate = _field(row, src, "rate", _parse_rate, row_errors)
                if from_ccy is not None and from_ccy == to_ccy:
                    row_errors.append(CompError(src.at("to_currency"),
                                                f"{to_ccy} is also the from_currency: a rate needs two currencies"))
                if row_errors:
                    errors.extend(row_errors)
                    continue
                key = (from_ccy, to_ccy, day)
                if key in seen:
                    errors.append(CompError(src.at("date"), f"{from_ccy}->{to_ccy} already has a rate on {day} "
                                                            f"(line {seen[key]}): one rate per pair and date"))
                    continue
                seen[key] = line
                rows.append(FxRate(day, from_ccy, to_ccy, rate, src))
        except UnicodeDecodeError as exc:
            errors.append(CompError(Source(file), f"not {enc} text ({exc.reason}); give the file's encoding"))
        except csv.Error as exc:
            errors.append(CompError(Source(file, reader.line_num), f"cannot read this row: {exc}"))
    return FxRates(rows), errors


def _field(row: dict[str, str], src: Source, name: str, parse, errors: list[CompError]):  # type: ignore[no-untyped-def]
    text = row.get(name, "")
    if text == "":
        errors.append(CompError(src.at(name), "is required"))
        return None
    try:
        return parse(text)
    except ValueError as exc:
        errors.append(CompError(src.at(name), str(exc)))
        return None


def _parse_rate(text: str) -> Decimal:
    rate = parse_plain_number(text)
    if rate <= 0:
        raise ValueError(f"{text} is not above zero: a rate is how many units of to_currency one from_currency buys")
    return rate
