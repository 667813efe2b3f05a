"""Read a data folder (``reps.csv``, ``assignments.csv``, ``deals.csv``, optional ``splits.csv``).

Every row is checked; every problem becomes a :class:`CompError` naming the file,
the row (the line number in the file, header = line 1) and the column. Callers
compute nothing when the list of errors is not empty.
"""

from __future__ import annotations

import csv
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import D
from compengine.engine.driver import Dataset
from compengine.engine.pipeline import check_splits, gc_paused, group_assignments, resolve_assignment
from compengine.engine.records import Assignment, Deal, Rep, Split
from compengine.core.periods import Period
from compengine.plans.model import Plan
from compengine.plans.schema import DEAL_TYPES

COLUMNS = {
    "reps.csv": ["rep_id", "name", "email", "manager_id", "team", "hire_date"],
    "assignments.csv": ["rep_id", "plan_id", "start", "end", "annual_quota"],
    "deals.csv": [
        "deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months", "product",
        "cancelled_on",
    ],
    "splits.csv": ["deal_id", "rep_id", "split_pct", "role"],
}
REQUIRED_FILES = ("reps.csv", "assignments.csv", "deals.csv")


class RowError(ValueError):
    pass


def parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise RowError(f"not a date {text!r}: expected YYYY-MM-DD") from None


def parse_decimal(text: str) -> Decimal:
    try:
        return D(text)
    except ValueError:
        raise RowError(f"not a number {text!r}") from None


def parse_int(text: str) -> int:
    try:
        return int(text.strip())
    except ValueError:
        raise RowError(f"not a whole number {text!r}") from None


class _Reader:
    """Reads one CSV and collects its errors."""

    def __init__(self, path: Path, name: str, errors: list[CompError]) -> None:
        self.path = path
        self.name = name
        self.file = str(path)
        self.errors = errors

    def rows(self) -> Iterator[tuple[Source, dict[str, str]]]:
        try:
            fh = self.path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            self.errors.append(CompError(Source(self.file), f"cannot read: {exc.strerror}"))
            return
        with fh:
            reader = csv.reader(fh)
            try:
                header = next(reader)
            except StopIteration:
                self.errors.append(CompError(Source(self.file, 1), "the file is empty: expected a header row"))
                return
            header = [h.strip() for h in header]
            missing = [c for c in COLUMNS[self.name] if c not in header]
            if missing:
                self.errors.append(CompError(Source(self.file, 1), f"missing column(s): {', '.join(missing)}"))
                return
            width = len(header)
            for row in reader:
                line = reader.line_num
                if not row or all(not v.strip() for v in row):
                    continue
                if len(row) != width:
                    self.errors.append(
                        CompError(Source(self.file, line), f"has {len(row)} fields, the header has {width}")
                    )
                    continue
                yield Source(self.file, line), dict(zip(header, map(str.strip, row)))

    def field(self, src: Source, row: Mapping[str, str], name: str, parse: Callable[[str], Any], *, required: bool = True) -> Any:
        text = row.get(name, "")
        if text == "":
            if required:
                self.errors.append(CompError(src.at(name), "is required"))
                raise RowError("skip")
            return None
        if parse is _text:
            return text
        try:
            return parse(text)
        except RowError as exc:
            self.errors.append(CompError(src.at(name), str(exc)))
            raise RowError("skip") from None

    def error(self, src: Source, field: str, message: str) -> None:
        self.errors.append(CompError(src.at(field), message))


def _text(t: str) -> str:
    return t


@gc_paused()
def read_data_folder(folder: Path | str, plans: Mapping[str, Plan] | None = None) -> tuple[Dataset, list[CompError]]:
    """Read and check a data folder. Returns the data set and every error found."""
    folder = Path(folder)
    errors: list[CompError] = []
    if not folder.is_dir():
        return Dataset({}, [], []), [CompError(Source(str(folder)), "not a data folder")]
    for name in REQUIRED_FILES:
        if not (folder / name).is_file():
            errors.append(CompError(Source(str(folder / name)), "file not found (required)"))
    if errors:
        return Dataset({}, [], []), errors

    # reps
    reps: dict[str, Rep] = {}
    rd = _Reader(folder / "reps.csv", "reps.csv", errors)
    pending_managers: list[tuple[Source, str]] = []
    for src, row in rd.rows():
        try:
            rep_id = rd.field(src, row, "rep_id", _text)
            name = rd.field(src, row, "name", _text)
            hire = rd.field(src, row, "hire_date", parse_date, required=False)
        except RowError:
            continue
        if rep_id in reps:
            rd.error(src, "rep_id", f"duplicate rep {rep_id!r} (first at line {reps[rep_id].source.line})")  # type: ignore[union-attr]
            continue
        manager = row.get("manager_id") or None
        if manager:
            pending_managers.append((src, manager))
        reps[rep_id] = Rep(rep_id, name, row.get("email", ""), manager, row.get("team", ""), hire, src)
    for src, manager in pending_managers:
        if manager not in reps:
            rd.error(src, "manager_id", f"unknown rep {manager!r}")

    # assignments
    assignments: list[Assignment] = []
    ra = _Reader(folder / "assignments.csv", "assignments.csv", errors)
    for src, row in ra.rows():
        try:
            rep_id = ra.field(src, row, "rep_id", _text)
            plan_id = ra.field(src, row, "plan_id", _text)
            start = ra.field(src, row, "start", parse_date)
            end = ra.field(src, row, "end", parse_date, required=False)
            quota = ra.field(src, row, "annual_quota", parse_decimal, required=False)
        except RowError:
            continue
        ok = True
        if rep_id not in reps:
            ra.error(src, "rep_id", f"unknown rep {rep_id!r}")
            ok = False
        if plans is not None and plan_id not in plans:
            ra.error(src, "plan_id", f"unknown plan {plan_id!r} (known: {', '.join(sorted(plans)) or 'none'})")
            ok = False
        if end is not None and end < start:
            ra.error(src, "end", f"{end} is before start {start}")
            ok = False
        if quota is not None and quota < 0:
            ra.error(src, "annual_quota", "must not be negative")
            ok = False
        if ok:
            assignments.append(Assignment(rep_id, plan_id, start, end, quota, src))
    by_rep = group_assignments(assignments)
    for rep_id, rows in by_rep.items():
        rows = sorted(rows, key=lambda a: a.start)
        for a, b in zip(rows, rows[1:]):
            if a.end is None or b.start <= a.end:
                ra.error(b.source, "start", f"overlaps the assignment of {rep_id} at line {a.source.line}")  # type: ignore[arg-type]

    # deals
    deals: list[Deal] = []
    seen: dict[str, int] = {}
    rdl = _Reader(folder / "deals.csv", "deals.csv", errors)
    for src, row in rdl.rows():
        try:
            deal_id = rdl.field(src, row, "deal_id", _text)
            deal_type = rdl.field(src, row, "deal_type", _text)
            amount = rdl.field(src, row, "amount", parse_decimal)
            currency = rdl.field(src, row, "currency", _text)
            close = rdl.field(src, row, "close_date", parse_date)
            owner = rdl.field(src, row, "owner_id", _text)
            term = rdl.field(src, row, "term_months", parse_int, required=False)
            cancelled = rdl.field(src, row, "cancelled_on", parse_date, required=False)
        except RowError:
            continue
        ok = True
        if deal_id in seen:
            rdl.error(src, "deal_id", f"duplicate deal {deal_id!r} (first at line {seen[deal_id]})")
            continue
        seen[deal_id] = src.line or 0
        if deal_type not in DEAL_TYPES:
            rdl.error(src, "deal_type", f"unknown deal type {deal_type!r} (expected {', '.join(DEAL_TYPES)})")
            ok = False
        if amount <= 0:
            rdl.error(src, "amount", f"must be positive, got {amount}")
            ok = False
        elif amount != amount.quantize(Decimal("0.01")):
            rdl.error(src, "amount", f"{amount} has fractions of a cent")
            ok = False
        if not (len(currency) == 3 and currency.isalpha() and currency.isupper()):
            rdl.error(src, "currency", f"not a currency code {currency!r} (e.g. USD)")
            ok = False
        if owner not in reps:
            rdl.error(src, "owner_id", f"unknown rep {owner!r}")
            ok = False
        if term is not None and term < 0:
            rdl.error(src, "term_months", "must not be negative")
            ok = False
        if cancelled is not None and cancelled < close:
            rdl.error(src, "cancelled_on", f"{cancelled} is before close_date {close}")
            ok = False
        if ok:
            deals.append(
                Deal(deal_id, row.get("account", ""), deal_type, amount, currency, close, owner, term,
                     row.get("product") or None, cancelled, src)
            )

    # splits
    splits: list[Split] = []
    sp_path = folder / "splits.csv"
    if sp_path.is_file():
        rs = _Reader(sp_path, "splits.csv", errors)
        for src, row in rs.rows():
            try:
                deal_id = rs.field(src, row, "deal_id", _text)
                rep_id = rs.field(src, row, "rep_id", _text)
                pct = rs.field(src, row, "split_pct", parse_decimal)
                role = rs.field(src, row, "role", _text, required=False) or "primary"
            except RowError:
                continue
            ok = True
            if deal_id not in seen:
                rs.error(src, "deal_id", f"unknown deal {deal_id!r}")
                ok = False
            if rep_id not in reps:
                rs.error(src, "rep_id", f"unknown rep {rep_id!r}")
                ok = False
            if not (0 < pct <= 100):
                rs.error(src, "split_pct", f"must be more than 0 and at most 100, got {pct}")
                ok = False
            if role not in ("primary", "overlay"):
                rs.error(src, "role", f"unknown role {role!r} (expected primary or overlay)")
                ok = False
            if ok:
                splits.append(Split(deal_id, rep_id, pct, role, src))
        errors.extend(check_splits(deals, splits, str(sp_path)))

    data = Dataset(reps, assignments, deals, splits)
    if plans is not None:
        errors.extend(check_currencies(data, plans))
    return data, errors


def check_currencies(data: Dataset, plans: Mapping[str, Plan]) -> list[CompError]:
    """A deal must be in the currency of every receiver's plan in its close month.

    The receivers are those the credit stage pays: the primary split reps (the owner
    when there are none) and the overlay reps.
    """
    errors: list[CompError] = []
    by_rep = group_assignments(data.assignments)
    primary: dict[str, list[str]] = defaultdict(list)
    overlay: dict[str, list[str]] = defaultdict(list)
    for s in data.splits:
        (primary if s.role == "primary" else overlay)[s.deal_id].append(s.rep_id)
    period_of: dict[date, Period] = {}
    plan_of: dict[tuple[str, Period], Assignment | None] = {}  # (rep, month) -> assignment: resolved once
    for d in data.deals:
        period = period_of.get(d.close_date)
        if period is None:
            period = period_of[d.close_date] = Period.of(d.close_date)
        for rep_id in [*(primary.get(d.deal_id) or [d.owner_id]), *overlay.get(d.deal_id, ())]:
            key = (rep_id, period)
            if key in plan_of:
                a = plan_of[key]
            else:
                a = plan_of[key] = resolve_assignment(by_rep.get(rep_id, ()), period)
            if a is None or a.plan_id not in plans:
                continue
            cur = plans[a.plan_id].currency
            if cur != d.currency:
                src = d.source or Source("deals.csv")
                errors.append(CompError(src.at("currency"), f"{d.currency} but {rep_id}'s plan {a.plan_id} pays in {cur}"))
                break
    return errors


def load_folder_or_raise(folder: Path | str, plans: Mapping[str, Plan]) -> Dataset:
    data, errors = read_data_folder(folder, plans)
    if errors:
        raise CompErrors(errors)
    return data


def read_plans_and_folder(plans_dir: Path | str, data_dir: Path | str) -> tuple[dict[str, Plan], Dataset]:
    """Plan files and a data folder, checked against each other; every error raised as CompErrors."""
    from compengine.plans.loader import load_plans

    plans, errors = load_plans(plans_dir)
    if errors:
        raise CompErrors(errors)
    data, errors = read_data_folder(data_dir, plans)
    if errors:
        raise CompErrors(errors)
    return plans, data
