"""What every CRM adapter shares: the conversion result, its report, CSV reading and the data-folder writer.

An adapter reads an export and returns a :class:`ConversionResult`: the engine's
records (reps, assignments, deals, splits), ready for a :class:`Dataset`, and a
:class:`ConversionReport` that accounts for every input row: for each file,
rows read = rows used + rows not used, the rows not used grouped by reason with
a count and a few example ids. Rows that are used but were changed or guessed
at (a product name normalised, an empty account) are counted as *notes*.

:func:`write_data_folder` writes the result as a compengine data folder
(``reps.csv``, ``assignments.csv``, ``deals.csv``, ``splits.csv``, the formats
``compengine.datafiles`` reads) plus ``CONVERSION.md`` and ``conversion.json``.
"""

from __future__ import annotations

import csv
import json
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import CONTEXT, money_str
from compengine.core.outputs import write_csv_atomic, write_text_atomic
from compengine.engine.driver import Dataset
from compengine.engine.records import Assignment, Deal, Rep, Split

MAX_EXAMPLES = 5
THOUSAND = Decimal("1E3")
TWELVE = Decimal(12)

# The column order of compengine's data folder (compengine.datafiles.COLUMNS).
REPS_COLUMNS = ["rep_id", "name", "email", "manager_id", "team", "hire_date"]
ASSIGNMENTS_COLUMNS = ["rep_id", "plan_id", "start", "end", "annual_quota"]
DEALS_COLUMNS = [
    "deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months", "product",
    "cancelled_on",
]
SPLITS_COLUMNS = ["deal_id", "rep_id", "split_pct", "role"]


# --------------------------------------------------------------------------- report


@dataclass
class Reason:
    """Rows sharing one reason: how many, and the first few ids (with their line numbers)."""

    reason: str
    count: int = 0
    examples: list[str] = field(default_factory=list)

    def add(self, example: str) -> None:
        self.count += 1
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(example)

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "count": self.count, "examples": list(self.examples)}


@dataclass
class FileReport:
    """What happened to the rows of one input file."""

    file: str
    read: int = 0
    used: int = 0
    not_used: dict[str, Reason] = field(default_factory=dict)
    notes: dict[str, Reason] = field(default_factory=dict)

    def skip(self, reason: str, example: str) -> None:
        self.not_used.setdefault(reason, Reason(reason)).add(example)

    def note(self, reason: str, example: str) -> None:
        self.notes.setdefault(reason, Reason(reason)).add(example)

    @property
    def not_used_total(self) -> int:
        return sum(r.count for r in self.not_used.values())

    @property
    def balanced(self) -> bool:
        return self.read == self.used + self.not_used_total

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "read": self.read,
            "used": self.used,
            "not_used": self.not_used_total,
            "not_used_by_reason": [r.as_dict() for r in self.not_used.values()],
            "notes": [r.as_dict() for r in self.notes.values()],
        }


@dataclass
class ConversionReport:
    """The account of one conversion: per file counts, summary figures, and the rules applied."""

    format: str
    source: str
    files: list[FileReport] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)  # JSON-ready values (decimals as strings)
    rules: list[str] = field(default_factory=list)  # one sentence per rule, with the values chosen

    def file(self, name: str) -> FileReport:
        for f in self.files:
            if f.file == name:
                return f
        fr = FileReport(name)
        self.files.append(fr)
        return fr

    def as_dict(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "source": self.source,
            "files": [f.as_dict() for f in self.files],
            "summary": dict(self.summary),
            "rules": list(self.rules),
        }


@dataclass
class ConversionResult:
    """An export turned into the engine's records, with the report of how.

    ``errors`` holds problems that stop the conversion (a missing file, a missing
    column); when it is not empty the records are empty and nothing should be written.
    """

    format: str
    reps: dict[str, Rep]
    assignments: list[Assignment]
    deals: list[Deal]
    splits: list[Split]
    report: ConversionReport
    errors: list[CompError] = field(default_factory=list)

    def dataset(self) -> Dataset:
        return Dataset(dict(self.reps), list(self.assignments), list(self.deals), list(self.splits))


def failed(fmt: str, report: ConversionReport, errors: list[CompError]) -> ConversionResult:
    return ConversionResult(fmt, {}, [], [], [], report, errors)


# --------------------------------------------------------------------------- reading


class CsvFile:
    """Reads one export CSV (any line endings, optional BOM) as (line number, fields) after the header.

    Counts every record it yields (blank lines included) as read in the file's report.
    """

    def __init__(self, path: Path, report: FileReport, errors: list[CompError]) -> None:
        self.path = path
        self.report = report
        self.errors = errors
        self.header: list[str] = []

    def open(self, required: list[str]) -> bool:
        """Read the header; False (with an error) when the file or a required column is missing."""
        try:
            with self.path.open(newline="", encoding="utf-8-sig") as fh:
                first = next(csv.reader(fh), None)
        except OSError as exc:
            self.errors.append(CompError(Source(str(self.path)), f"cannot read: {exc.strerror or exc}"))
            return False
        except UnicodeDecodeError as exc:
            self.errors.append(CompError(Source(str(self.path)), f"not UTF-8 text: {exc.reason}"))
            return False
        if first is None:
            self.errors.append(CompError(Source(str(self.path), 1), "the file is empty: expected a header row"))
            return False
        self.header = [h.strip() for h in first]
        missing = [c for c in required if c not in self.header]
        if missing:
            self.errors.append(CompError(Source(str(self.path), 1), f"missing column(s): {', '.join(missing)}"))
            return False
        return True

    def index(self, column: str) -> int:
        return self.header.index(column)

    def records(self) -> Iterator[tuple[int, list[str]]]:
        with self.path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            next(reader, None)
            for row in reader:
                self.report.read += 1
                yield reader.line_num, [v.strip() for v in row]


def example(ident: str, line: int) -> str:
    return f"{ident} (line {line})" if ident else f"line {line}"


def parse_iso_date(text: str) -> date:
    """``YYYY-MM-DD``, optionally followed by a time part (ignored). Raises ValueError."""
    text = text.strip()
    m = re.match(r"^(\d{4}-\d{2}-\d{2})(?:[ T]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)?$", text)
    if not m:
        raise ValueError(f"not a date {text!r}")
    return date.fromisoformat(m.group(1))


def has_time_of_day(text: str) -> bool:
    """True when a date-time text carries a time other than midnight."""
    rest = text.strip()[10:].strip(" T")
    return bool(rest) and bool(re.search(r"[1-9]", rest))


def slug(name: str) -> str:
    """A stable id from a person's name: ASCII, lower case, words joined by '-' ("Anna Snelling" -> "anna-snelling")."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")


def months_between(first: date, last: date) -> int:
    """Calendar months from ``first``'s month through ``last``'s, inclusive."""
    return (last.year - first.year) * 12 + last.month - first.month + 1


def month_start_shift(d: date, months: int) -> date:
    """The first day of the month ``months`` away from ``d``'s month (negative: earlier)."""
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def median(values: list[Decimal]) -> Decimal:
    s = sorted(values)
    n = len(s)
    if n % 2:
        return s[n // 2]
    return CONTEXT.divide(CONTEXT.add(s[n // 2 - 1], s[n // 2]), Decimal(2))


def annualised(total: Decimal, months: int) -> Decimal:
    return CONTEXT.divide(CONTEXT.multiply(total, TWELVE), Decimal(months))


def round_thousand(value: Decimal) -> Decimal:
    """Round half-up to a whole 1,000 (a quota figure), never below 1,000."""
    out = value.quantize(THOUSAND, rounding=ROUND_HALF_UP, context=CONTEXT)
    return max(out, Decimal(1000)).quantize(Decimal(1), context=CONTEXT)


def classify_deal_types(deals: list[dict[str, Any]], report: FileReport, *, id_key: str = "deal_id") -> None:
    """Set ``deal_type`` on candidate deals: an account's first deal (close_date, then id) is new_logo,
    its later deals expansion; a deal without an account is new_logo and noted. Mutates the dicts."""
    seen: set[str] = set()
    for d in sorted(deals, key=lambda d: (d["close_date"], d[id_key])):
        account = d["account"]
        if not account:
            d["deal_type"] = "new_logo"
            report.note("no account: typed new_logo", example(d[id_key], d["line"]))
        elif account in seen:
            d["deal_type"] = "expansion"
        else:
            seen.add(account)
            d["deal_type"] = "new_logo"


# --------------------------------------------------------------------------- writing


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> None:
    """Write one CSV of the data folder: cells neutralised against formula injection
    (:func:`compengine.core.outputs.csv_cell`; amounts stay numbers), replaced atomically."""
    write_csv_atomic(path, header, rows)


def write_data_folder(result: ConversionResult, out: Path | str) -> list[Path]:
    """Write the data folder (the four CSVs, CONVERSION.md, conversion.json). Returns the paths written.

    Raises :class:`CompErrors` when the conversion failed. Existing files of the
    same names are replaced; other files in the folder are left alone.
    """
    if result.errors:
        raise CompErrors(result.errors)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    reps = [result.reps[k] for k in sorted(result.reps)]
    write_csv(out / "reps.csv", REPS_COLUMNS,
              [[r.rep_id, r.name, r.email, r.manager_id, r.team, r.hire_date] for r in reps])
    assignments = sorted(result.assignments, key=lambda a: (a.rep_id, a.start))
    write_csv(out / "assignments.csv", ASSIGNMENTS_COLUMNS,
              [[a.rep_id, a.plan_id, a.start, a.end, a.annual_quota] for a in assignments])
    deals = sorted(result.deals, key=lambda d: (d.close_date, d.deal_id))
    write_csv(out / "deals.csv", DEALS_COLUMNS,
              [[d.deal_id, d.account, d.deal_type, money_str(d.amount), d.currency, d.close_date, d.owner_id,
                d.term_months, d.product, d.cancelled_on] for d in deals])
    write_csv(out / "splits.csv", SPLITS_COLUMNS,
              [[s.deal_id, s.rep_id, s.split_pct, s.role] for s in result.splits])
    written += [out / n for n in ("reps.csv", "assignments.csv", "deals.csv", "splits.csv")]

    write_text_atomic(out / "conversion.json", json.dumps(result.report.as_dict(), indent=2, ensure_ascii=False) + "\n")
    write_text_atomic(out / "CONVERSION.md", report_markdown(result.report))
    written += [out / "conversion.json", out / "CONVERSION.md"]
    return written


def report_text(report: ConversionReport) -> str:
    """The report as plain text: per file, rows read/used/not used by reason, then notes and the summary."""
    lines: list[str] = [f"{report.format} export at {report.source}"]
    for f in report.files:
        lines.append(f"  {f.file}: {f.read:,} rows read, {f.used:,} used, {f.not_used_total:,} not used")
        for r in sorted(f.not_used.values(), key=lambda r: (-r.count, r.reason)):
            lines.append(f"    not used  {r.count:>6,}  {r.reason}  e.g. {', '.join(r.examples)}")
        for r in sorted(f.notes.values(), key=lambda r: (-r.count, r.reason)):
            lines.append(f"    note      {r.count:>6,}  {r.reason}  e.g. {', '.join(r.examples)}")
    if report.summary:
        lines.append("  result:")
        for k, v in report.summary.items():
            lines.append(f"    {k}: {v}")
    return "\n".join(lines) + "\n"


def report_markdown(report: ConversionReport) -> str:
    out: list[str] = [
        f"# Conversion report: {report.format}",
        "",
        f"Source: `{report.source}`. Written by `compengine import-crm`; the rules are in docs/crm-adapters.md.",
        "",
        "## Rows",
        "",
        "| file | read | used | not used |",
        "|---|---:|---:|---:|",
    ]
    for f in report.files:
        out.append(f"| {f.file} | {f.read:,} | {f.used:,} | {f.not_used_total:,} |")
    for f in report.files:
        if f.not_used or f.notes:
            out += ["", f"### {f.file}", "", "| | count | reason | examples |", "|---|---:|---|---|"]
            for r in sorted(f.not_used.values(), key=lambda r: (-r.count, r.reason)):
                out.append(f"| not used | {r.count:,} | {r.reason} | {', '.join(r.examples)} |")
            for r in sorted(f.notes.values(), key=lambda r: (-r.count, r.reason)):
                out.append(f"| note (used) | {r.count:,} | {r.reason} | {', '.join(r.examples)} |")
    out += ["", "## Result", ""]
    for k, v in report.summary.items():
        out.append(f"- {k}: {v}")
    out += ["", "## Rules applied", ""]
    for rule in report.rules:
        out.append(f"- {rule}")
    return "\n".join(out) + "\n"
