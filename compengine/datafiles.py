"""Read a data folder (``reps.csv``, ``assignments.csv``, ``deals.csv``, optional ``splits.csv``,
``fx_rates.csv``, ``products.csv`` and ``quotas.csv``).

``deals.csv`` may have ``quantity`` (a positive number, default 1) and ``cost`` (money, at
least 0, default 0); every further column is an attribute of the deal (``Deal.attrs``, sorted
by name; empty cells left out). ``products.csv`` (``product, category``) makes ``category`` an
attribute of every deal of that product (a deal's own ``category`` cell must agree with it).
``quotas.csv`` (``rep_id, plan_id, component, start, end, annual``) gives a rep's annual quota
per plan component, effective-dated (``Dataset.quotas``).

Every row is checked; every problem becomes a :class:`CompError` naming the file,
the row (the line number in the file, header = line 1) and the column. Callers
compute nothing when the list of errors is not empty. A row with an error yields
that one error: rows that refer to it (a split of a bad deal, a deal of a bad rep)
are not reported again.

Files are read as UTF-8 (with or without a byte order mark) or, when they are not
UTF-8, as Windows-1252 (what Excel writes); ``encoding`` forces one. Numbers are
plain ASCII digits (:func:`compengine.core.money.parse_plain_number`), amounts at most
:data:`compengine.core.money.MAX_AMOUNT`, dates ``YYYY-MM-DD`` within
:data:`compengine.core.periods.FIRST_DATE` .. :data:`compengine.core.periods.LAST_DATE`.
"""

from __future__ import annotations

import codecs
import csv
import re
from dataclasses import dataclass
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from compengine.core.currency import amount_problem, check_code, check_locale, minor_units
from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import MAX_AMOUNT, ZERO, check_amount, parse_plain_number
from compengine.core.periods import parse_date as _parse_date
from compengine.engine.driver import Dataset
from compengine.engine.pipeline import check_splits, gc_paused, group_assignments, resolve_assignment
from compengine.engine.records import Assignment, Deal, Quota, Rep, Split, group_quotas
from compengine.core.periods import Period
from compengine.plans.model import Plan
from compengine.plans.schema import DEAL_TYPES

COLUMNS = {
    "reps.csv": ["rep_id", "name", "email", "manager_id", "team", "hire_date"],  # optional too: termination_date, locale
    "assignments.csv": ["rep_id", "plan_id", "start", "end", "annual_quota"],
    "deals.csv": [
        "deal_id", "account", "deal_type", "amount", "currency", "close_date", "owner_id", "term_months", "product",
        "cancelled_on",
    ],
    "splits.csv": ["deal_id", "rep_id", "split_pct", "role"],
    "products.csv": ["product", "category"],
    "quotas.csv": ["rep_id", "plan_id", "component", "start", "end", "annual"],
    # open opportunities for ``compengine forecast`` (plus probability or stage; optional account,
    # term_months, product): see read_pipeline
    "pipeline.csv": ["deal_id", "owner_id", "amount", "currency", "deal_type", "expected_close"],
}
REQUIRED_FILES = ("reps.csv", "assignments.csv", "deals.csv")
# deals.csv columns that are not attributes of the deal (every other column is one: Deal.attrs)
DEAL_COLUMNS = frozenset(COLUMNS["deals.csv"]) | {"quantity", "cost"}
ONE = Decimal(1)
MAX_TERM_MONTHS = 1200  # a hundred years: more is a typo
# Windows-1252 leaves these five bytes undefined; a file with them is read as Latin-1.
_CP1252_UNDEFINED = frozenset(b"\x81\x8d\x8f\x90\x9d")


class RowError(ValueError):
    pass


def parse_date(text: str) -> date:
    try:
        return _parse_date(text)
    except ValueError as exc:
        raise RowError(str(exc)) from None


def parse_decimal(text: str) -> Decimal:
    try:
        return parse_plain_number(text)
    except ValueError as exc:
        raise RowError(str(exc)) from None


def parse_int(text: str) -> int:
    text = text.strip()
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        shown = text if len(text) <= 30 else text[:12] + "..."
        raise RowError(f"not a whole number {shown!r}")
    return int(text)


def detect_encoding(path: Path) -> str:
    """``utf-8-sig`` when the file is UTF-8 (a byte order mark or not), ``utf-16`` when it starts
    with a UTF-16 byte order mark, else ``cp1252`` (Excel's
    Western European), or ``latin-1`` when the file has bytes Windows-1252 leaves undefined.

    Reads the file in chunks: a big file is not held in memory.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as fh:
            if fh.read(2) in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
                return "utf-16"  # Excel's "Unicode Text"
            fh.seek(0)
            while chunk := fh.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        return "utf-8-sig"
    except UnicodeDecodeError:
        pass
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            if not _CP1252_UNDEFINED.isdisjoint(chunk):
                return "latin-1"
    return "cp1252"


def _undecodable_line(path: Path, encoding: str) -> int | None:
    """The line of the first byte that does not decode (the reader decodes in blocks, so it cannot say)."""
    decoder = codecs.getincrementaldecoder(encoding)()
    with path.open("rb") as fh:
        for number, raw in enumerate(fh, 1):
            try:
                decoder.decode(raw)
            except UnicodeDecodeError:
                return number
    return None


def _header_hint(header: list[str], wanted: list[str], missing: list[str]) -> str:
    """What is probably wrong with a header that lacks columns (or "")."""
    joined = ",".join(header)
    if len(header) == 1 and joined.count(";") >= 1:
        return ("; the file is separated by semicolons: compengine reads commas "
                "(in Excel: Save As \"CSV UTF-8 (Comma delimited)\")")
    if len(header) == 1 and "\t" in joined:
        return "; the file is separated by tabs: compengine reads commas"
    lower = {h.lower(): h for h in header}
    cased = [(c, lower[c.lower()]) for c in missing if c.lower() in lower]
    if cased:
        c, h = cased[0]
        return f"; column names are lower case: write {c!r}, not {h!r}"
    return ""


class _Reader:
    """Reads one CSV and collects its errors."""

    def __init__(self, path: Path, name: str, errors: list[CompError], encoding: str | None = None) -> None:
        self.path = path
        self.name = name
        self.file = str(path)
        self.errors = errors
        self.encoding = encoding
        self.incomplete = False  # the file could not be read to its end: references to it are not checked
        self.header: list[str] = []  # the file's column names (once its first row is read)

    def rows(self) -> Iterator[tuple[Source, dict[str, str]]]:
        try:
            encoding = self.encoding or detect_encoding(self.path)
            if encoding.replace("_", "-").lower() in ("utf-8", "utf8"):
                encoding = "utf-8-sig"  # a byte order mark is not part of the first column's name
            fh = self.path.open(newline="", encoding=encoding)
        except OSError as exc:
            self.errors.append(CompError(Source(self.file), f"cannot read: {exc.strerror}"))
            self.incomplete = True
            return
        with fh:
            reader = csv.reader(fh)
            try:
                yield from self._rows(reader)
            except UnicodeDecodeError as exc:
                self.incomplete = True
                self.errors.append(CompError(Source(self.file, _undecodable_line(self.path, encoding)),
                                             f"not {self.encoding or encoding} text ({exc.reason}); "
                                             "give the file's encoding with --encoding"))
            except csv.Error as exc:
                self.incomplete = True
                self.errors.append(CompError(Source(self.file, reader.line_num), f"cannot read this row: {exc}"))

    def _rows(self, reader: Any) -> Iterator[tuple[Source, dict[str, str]]]:
        try:
            header = next(reader)
        except StopIteration:
            self.errors.append(CompError(Source(self.file, 1), "the file is empty: expected a header row"))
            self.incomplete = True
            return
        header = self.header = [h.strip() for h in header]
        missing = [c for c in COLUMNS[self.name] if c not in header]
        if missing:
            hint = _header_hint(header, COLUMNS[self.name], missing)
            self.errors.append(CompError(Source(self.file, 1), f"missing column(s): {', '.join(missing)}{hint}"))
            self.incomplete = True
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


def _parse_locale(t: str) -> str:
    try:
        return check_locale(t)
    except ValueError as exc:
        raise RowError(str(exc)) from None


@gc_paused()
def read_data_folder(folder: Path | str, plans: Mapping[str, Plan] | None = None, *,
                     encoding: str | None = None) -> tuple[Dataset, list[CompError]]:
    """Read and check a data folder. Returns the data set and every error found.

    ``encoding``: of every CSV (default: UTF-8, or Windows-1252 for a file that is not UTF-8).
    """
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
    bad_reps: set[str] = set()  # ids whose own row had an error: rows referring to them are not reported again
    rd = _Reader(folder / "reps.csv", "reps.csv", errors, encoding)
    pending_managers: list[tuple[Source, str]] = []
    for src, row in rd.rows():
        try:
            rep_id = rd.field(src, row, "rep_id", _text)
            name = rd.field(src, row, "name", _text)
            hire = rd.field(src, row, "hire_date", parse_date, required=False)
            termination = rd.field(src, row, "termination_date", parse_date, required=False)
            locale = rd.field(src, row, "locale", _parse_locale, required=False)
        except RowError:
            bad_reps.add(row.get("rep_id", ""))
            continue
        if rep_id in reps:
            rd.error(src, "rep_id", f"duplicate rep {rep_id!r} (first at line {reps[rep_id].source.line})")  # type: ignore[union-attr]
            continue
        if termination is not None and hire is not None and termination < hire:
            rd.error(src, "termination_date", f"{termination} is before hire_date {hire}")
            bad_reps.add(rep_id)
            continue
        manager = row.get("manager_id") or None
        if manager:
            pending_managers.append((src, manager))
        reps[rep_id] = Rep(rep_id=rep_id, name=name, email=row.get("email", ""), manager_id=manager,
                           team=row.get("team", ""), hire_date=hire, source=src, termination_date=termination,
                           locale=locale)

    def unknown_rep(reader: _Reader, src: Source, field: str, rep_id: str) -> bool:
        """True when ``rep_id`` is not a good rep; reported unless its own row was the bad one."""
        if rep_id in reps:
            return False
        if rep_id not in bad_reps and not rd.incomplete:
            reader.error(src, field, f"unknown rep {rep_id!r}")
        return True

    for src, manager in pending_managers:
        unknown_rep(rd, src, "manager_id", manager)

    # assignments
    assignments: list[Assignment] = []
    ra = _Reader(folder / "assignments.csv", "assignments.csv", errors, encoding)
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
        if unknown_rep(ra, src, "rep_id", rep_id):
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
        elif quota is not None and (problem := _plan_amount_problem(quota, plans, plan_id)):
            ra.error(src, "annual_quota", problem)
            ok = False
        if ok:
            assignments.append(Assignment(rep_id, plan_id, start, end, quota, src))
    by_rep = group_assignments(assignments)
    for rep_id, rows in by_rep.items():
        rows = sorted(rows, key=lambda a: a.start)
        for a, b in zip(rows, rows[1:]):
            if a.end is None or b.start <= a.end:
                ra.error(b.source, "start", f"overlaps the assignment of {rep_id} at line {a.source.line}")  # type: ignore[arg-type]

    # products (optional): a product's category becomes an attribute of its deals
    products = read_products(folder / "products.csv", errors, encoding) if (folder / "products.csv").is_file() else {}

    # deals
    deals: list[Deal] = []
    seen: dict[str, int] = {}
    bad_deals: set[str] = set()  # ids whose own row had an error
    rdl = _Reader(folder / "deals.csv", "deals.csv", errors, encoding)
    extra: list[str] | None = None  # the columns that are attributes, sorted by name
    for src, row in rdl.rows():
        if extra is None:
            extra = sorted({h for h in rdl.header if h and h not in DEAL_COLUMNS})
        try:
            deal_id = rdl.field(src, row, "deal_id", _text)
            deal_type = rdl.field(src, row, "deal_type", _text)
            amount = rdl.field(src, row, "amount", parse_decimal)
            currency = rdl.field(src, row, "currency", _text)
            close = rdl.field(src, row, "close_date", parse_date)
            owner = rdl.field(src, row, "owner_id", _text)
            term = rdl.field(src, row, "term_months", parse_int, required=False)
            cancelled = rdl.field(src, row, "cancelled_on", parse_date, required=False)
            quantity = rdl.field(src, row, "quantity", parse_decimal, required=False)
            cost = rdl.field(src, row, "cost", parse_decimal, required=False)
        except RowError:
            bad_deals.add(row.get("deal_id", ""))
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
        try:
            known: str | None = check_code(currency)  # amounts in its own minor units
        except ValueError as exc:
            rdl.error(src, "currency", str(exc))
            ok = False
            known = None
        if amount > 0 and (problem := amount_problem(amount, known)):
            rdl.error(src, "amount", problem)
            ok = False
        if unknown_rep(rdl, src, "owner_id", owner):
            ok = False
        if term is not None and term > MAX_TERM_MONTHS:
            rdl.error(src, "term_months", f"must be at most {MAX_TERM_MONTHS}, got {term}")
            ok = False
        if cancelled is not None and cancelled < close:
            rdl.error(src, "cancelled_on", f"{cancelled} is before close_date {close}")
            ok = False
        if quantity is None:
            quantity = ONE
        elif quantity <= 0:
            rdl.error(src, "quantity", f"must be positive, got {quantity}")
            ok = False
        elif quantity > MAX_AMOUNT:
            rdl.error(src, "quantity", f"{quantity} is above the maximum {MAX_AMOUNT:,}")
            ok = False
        if cost is None:
            cost = ZERO
        elif cost < 0:
            rdl.error(src, "cost", f"must not be negative, got {cost}")
            ok = False
        elif problem := amount_problem(cost, known):
            rdl.error(src, "cost", problem)
            ok = False
        product = row.get("product") or None
        attrs: tuple[tuple[str, str], ...] = tuple((k, row[k]) for k in extra if row[k]) if extra else ()
        if product is not None and product in products:
            category, at = products[product]
            own = row.get("category", "")
            if own and own != category:
                rdl.error(src, "category", f"{own!r}, but products.csv line {at} gives product {product!r} the category "
                                           f"{category!r}")
                ok = False
            elif not own:
                attrs = tuple(sorted((*attrs, ("category", category))))
        if ok:
            deals.append(
                Deal(deal_id, row.get("account", ""), deal_type, amount, currency, close, owner, term, product, cancelled,
                     src, quantity, cost, attrs)
            )
        else:
            bad_deals.add(deal_id)

    # splits
    splits: list[Split] = []
    sp_path = folder / "splits.csv"
    if sp_path.is_file():
        rs = _Reader(sp_path, "splits.csv", errors, encoding)
        bad_split_deals: set[str] = set()  # deals with a bad split row: their sums are not checked again
        good_deals = {d.deal_id for d in deals}
        for src, row in rs.rows():
            try:
                deal_id = rs.field(src, row, "deal_id", _text)
                rep_id = rs.field(src, row, "rep_id", _text)
                pct = rs.field(src, row, "split_pct", parse_decimal)
                role = rs.field(src, row, "role", _text, required=False) or "primary"
            except RowError:
                bad_split_deals.add(row.get("deal_id", ""))
                continue
            ok = True
            if deal_id not in good_deals:
                if deal_id not in bad_deals and not rdl.incomplete:  # else the deal's own row is reported
                    rs.error(src, "deal_id", f"unknown deal {deal_id!r}")
                ok = False
            if unknown_rep(rs, src, "rep_id", rep_id):
                ok = False
            if not (0 < pct <= 100):
                rs.error(src, "split_pct", f"must be more than 0 and at most 100, got {pct}")
                ok = False
            if role not in ("primary", "overlay"):
                rs.error(src, "role", f"unknown role {role!r} (expected primary or overlay)")
                ok = False
            if ok:
                splits.append(Split(deal_id, rep_id, pct, role, src))
            else:
                bad_split_deals.add(deal_id)
        checked = [s for s in splits if s.deal_id not in bad_split_deals]
        errors.extend(check_splits(deals, checked, str(sp_path)))

    # exchange rates (optional): errors join the folder's others, with file:line:field
    fx = None
    fx_path = folder / "fx_rates.csv"
    if fx_path.is_file():
        from compengine.fxfile import read_fx_rates  # (fxfile reads files with this module's detect_encoding)

        fx, fx_errors = read_fx_rates(fx_path, encoding=encoding)
        errors.extend(fx_errors)

    # quotas per plan component (optional)
    quotas: list[Quota] = []
    q_path = folder / "quotas.csv"
    if q_path.is_file():
        rq = _Reader(q_path, "quotas.csv", errors, encoding)
        for src, row in rq.rows():
            try:
                rep_id = rq.field(src, row, "rep_id", _text)
                plan_id = rq.field(src, row, "plan_id", _text)
                component = rq.field(src, row, "component", _text)
                start = rq.field(src, row, "start", parse_date)
                end = rq.field(src, row, "end", parse_date, required=False)
                annual = rq.field(src, row, "annual", parse_decimal)
            except RowError:
                continue
            ok = not unknown_rep(rq, src, "rep_id", rep_id)
            if plans is not None:
                plan = plans.get(plan_id)
                if plan is None:
                    rq.error(src, "plan_id", f"unknown plan {plan_id!r} (known: {', '.join(sorted(plans)) or 'none'})")
                    ok = False
                elif component not in (names := [c.id for c in plan.parts()]):
                    rq.error(src, "component", f"plan {plan_id} has no component {component!r} (its components: "
                                               f"{', '.join(names)})")
                    ok = False
            if end is not None and end < start:
                rq.error(src, "end", f"{end} is before start {start}")
                ok = False
            if annual < 0:
                rq.error(src, "annual", f"must not be negative, got {annual}")
                ok = False
            elif problem := _plan_amount_problem(annual, plans, plan_id):
                rq.error(src, "annual", problem)
                ok = False
            if ok:
                quotas.append(Quota(rep_id, plan_id, component, start, end, annual, src))
        by_key: dict[tuple[str, str, str], list[Quota]] = defaultdict(list)
        for q in quotas:
            by_key[(q.rep_id, q.plan_id, q.component)].append(q)
        for (rep_id, plan_id, component), rows in by_key.items():
            rows = sorted(rows, key=lambda q: (q.start, q.source.line or 0))  # type: ignore[union-attr]
            for a, b in zip(rows, rows[1:]):
                if a.end is None or b.start <= a.end:
                    rq.error(b.source, "start", f"overlaps the quota of {rep_id} for {plan_id} {component} at line "  # type: ignore[arg-type]
                                                f"{a.source.line}")  # type: ignore[union-attr]

    data = Dataset(reps, assignments, deals, splits, fx=fx, quotas=group_quotas(quotas))
    if plans is not None:
        errors.extend(check_currencies(data, plans))
    return data, errors


def read_products(path: Path, errors: list[CompError], encoding: str | None = None) -> dict[str, tuple[str, int]]:
    """``products.csv``: product -> (category, line). Errors join ``errors`` (file:line:field)."""
    out: dict[str, tuple[str, int]] = {}
    rp = _Reader(path, "products.csv", errors, encoding)
    for src, row in rp.rows():
        try:
            product = rp.field(src, row, "product", _text)
            category = rp.field(src, row, "category", _text)
        except RowError:
            continue
        if product in out:
            rp.error(src, "product", f"duplicate product {product!r} (first at line {out[product][1]})")
            continue
        out[product] = (category, src.line or 0)
    return out


def check_currencies(data: Dataset, plans: Mapping[str, Plan]) -> list[CompError]:
    """Without exchange rates (``data.fx`` is None: no ``fx_rates.csv``), a deal must be in the
    currency of every receiver's plan on its close date (else, with no assignment in force that
    day, of the receiver's plan of the close month).

    With exchange rates, a deal in another currency is converted by the engine at calculation
    time (:class:`compengine.engine.pipeline.FxCredits`); whether a rate exists for its pair on
    its rate date depends on the plan's ``fx`` policy and the month, and a missing one is an
    exception of the calculation naming the deal, the pair and the date (it blocks a lock),
    not an input error: nothing is reported here.

    The receivers are those the credit stage pays: the primary split reps (the owner
    when there are none) and the overlay reps.
    """
    if data.fx is not None:
        return []
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
            if a is not None and not a.active_on(d.close_date):
                # a part-month assignment: the deal is priced by the one in force on its close date
                a = next((x for x in by_rep.get(rep_id, ()) if x.active_on(d.close_date)), a)
            if a is None or a.plan_id not in plans:
                continue
            cur = plans[a.plan_id].currency
            if cur != d.currency:
                src = d.source or Source("deals.csv")
                errors.append(CompError(src.at("currency"), f"{d.currency} but {rep_id}'s plan {a.plan_id} pays in {cur} "
                                                            "(no fx_rates.csv in the folder to convert it)"))
                break
    return errors


def load_folder_or_raise(folder: Path | str, plans: Mapping[str, Plan], *, encoding: str | None = None) -> Dataset:
    data, errors = read_data_folder(folder, plans, encoding=encoding)
    if errors:
        raise CompErrors(errors)
    return data


def read_plans_and_folder(plans_dir: Path | str, data_dir: Path | str, *,
                          encoding: str | None = None) -> tuple[dict[str, Plan], Dataset]:
    """Plan files and a data folder, checked against each other; every error raised as CompErrors."""
    from compengine.plans.loader import load_plans

    plans, errors = load_plans(plans_dir)
    if errors:
        raise CompErrors(errors)
    data, errors = read_data_folder(data_dir, plans, encoding=encoding)
    if errors:
        raise CompErrors(errors)
    return plans, data


# ----------------------------------------------------------------------------- pipeline

# Stage -> probability when a pipeline row has a stage and no probability (docs/finance.md);
# a stage file (YAML mapping) given to ``compengine forecast --stages`` replaces it.
DEFAULT_STAGES = {
    "prospecting": Decimal("0.10"),
    "qualification": Decimal("0.20"),
    "engaging": Decimal("0.60"),
    "proposal": Decimal("0.60"),
    "negotiation": Decimal("0.80"),
    "commit": Decimal("0.90"),
}


@dataclass(frozen=True, slots=True)
class Opportunity:
    """An open opportunity: what it would be as a closed-won deal, and how likely it is."""

    deal: Deal
    probability: Decimal
    stage: str | None
    source: Source


def read_pipeline(path: Path | str, stages: Mapping[str, Decimal] | None = None, *,
                  encoding: str | None = None) -> tuple[list[Opportunity], list[CompError]]:
    """Read a pipeline file: one open opportunity a row, with ``probability`` (0..1) or a ``stage``
    mapped to one by ``stages`` (default :data:`DEFAULT_STAGES`, matched case-insensitively)."""
    stages = {k.lower(): v for k, v in (DEFAULT_STAGES if stages is None else stages).items()}
    path = Path(path)
    errors: list[CompError] = []
    out: list[Opportunity] = []
    rd = _Reader(path, "pipeline.csv", errors, encoding)
    seen: dict[str, int] = {}
    for src, row in rd.rows():
        if "probability" not in row and "stage" not in row:
            errors.append(CompError(Source(rd.file, 1), "missing column: probability or stage"))
            break
        try:
            deal_id = rd.field(src, row, "deal_id", _text)
            owner = rd.field(src, row, "owner_id", _text)
            amount = rd.field(src, row, "amount", parse_decimal)
            currency = rd.field(src, row, "currency", _text)
            deal_type = rd.field(src, row, "deal_type", _text)
            close = rd.field(src, row, "expected_close", parse_date)
            term = rd.field(src, row, "term_months", parse_int, required=False)
            prob = rd.field(src, row, "probability", parse_decimal, required=False)
        except RowError:
            continue
        stage = row.get("stage") or None
        if deal_id in seen:
            rd.error(src, "deal_id", f"duplicate opportunity {deal_id!r} (first at line {seen[deal_id]})")
            continue
        seen[deal_id] = src.line or 0
        ok = True
        if deal_type not in DEAL_TYPES:
            rd.error(src, "deal_type", f"unknown deal type {deal_type!r} (expected {', '.join(DEAL_TYPES)})")
            ok = False
        if amount <= 0:
            rd.error(src, "amount", f"must be positive, got {amount}")
            ok = False
        elif problem := check_amount(amount):
            rd.error(src, "amount", problem)
            ok = False
        if term is not None and not 0 < term <= MAX_TERM_MONTHS:
            rd.error(src, "term_months", f"must be 1..{MAX_TERM_MONTHS}, got {term}")
            ok = False
        if prob is None:
            if stage is None:
                rd.error(src, "probability", "is required (or a stage)")
                ok = False
            elif stage.lower() not in stages:
                rd.error(src, "stage", f"unknown stage {stage!r} (known: {', '.join(sorted(stages))}); "
                                       "give a probability or a stage file")
                ok = False
            else:
                prob = stages[stage.lower()]
        elif not Decimal(0) <= prob <= Decimal(1):
            rd.error(src, "probability", f"must be between 0 and 1, got {prob}")
            ok = False
        if ok:
            deal = Deal(deal_id, row.get("account", ""), deal_type, amount, currency, close, owner, term,
                        row.get("product") or None, None, src)
            out.append(Opportunity(deal, prob, stage, src))
    return out, errors


def _plan_amount_problem(value: Decimal, plans: Mapping[str, Plan] | None, plan_id: str) -> str | None:
    """Why a quota for ``plan_id`` is refused: finer than the plan currency's minor unit (whole yen, fils
    for KWD; cents when the plan is unknown) or beyond the maximum amount."""
    plan = plans.get(plan_id) if plans is not None else None
    return amount_problem(value, plan.currency if plan is not None else None)


# ----------------------------------------------------------------------------- fast reading (issue 18)


@gc_paused()
def read_data_folder_fast(folder: Path | str, plans: Mapping[str, Plan] | None = None, *,
                          encoding: str | None = None) -> tuple[Dataset, list[CompError]]:
    """:func:`read_data_folder` for the columnar engine: ``deals.csv`` read into columns
    (:class:`~compengine.engine.columnar.DealColumns`, a ``Deal`` made only when one is asked for).

    It takes the plain files ``compengine generate`` and most exports write (UTF-8 without a byte order mark,
    no quotes, no carriage returns, no blank rows, the documented columns and no others, one assignment a
    rep, no ``products.csv`` or ``quotas.csv``; deals in the plans' one currency, or in any currencies of 0-3
    places with an ``fx_rates.csv`` the full reader reads without an error) and checks
    every rule :func:`read_data_folder` checks. On anything else, and on any error, it returns what
    :func:`read_data_folder` returns, so errors are reported exactly as that reports them (file:line:field).
    """
    folder = Path(folder)
    try:
        data = _read_plain_folder(folder, plans, encoding)
    except _NotPlain:
        data = None
    if data is None:
        return read_data_folder(folder, plans, encoding=encoding)
    return data, []


class _NotPlain(Exception):
    """The folder is not one the fast reader takes: read it with the full reader."""


def _plain_rows(path: Path, columns: list[str]) -> tuple[int, list[tuple[str, ...]]]:
    """A plain CSV (see :func:`read_data_folder_fast`) as (number of rows, its columns): each field as the
    full reader reads it (no field has whitespace around it: the full reader strips it; no quotes)."""
    try:
        raw = path.read_bytes()
    except OSError:
        raise _NotPlain from None
    if raw.startswith(codecs.BOM_UTF8) or b'"' in raw or b"\r" in raw:
        raise _NotPlain
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise _NotPlain from None
    if not text.endswith("\n"):
        text += "\n"
    head, _, body = text.partition("\n")
    if head.split(",") != columns or _space_around(body):
        raise _NotPlain
    width = len(columns)
    body = body[:-1]  # the last newline
    if not body:
        return 0, [()] * width
    n = body.count("\n") + 1
    fields = body.replace("\n", ",").split(",")
    if len(fields) != n * width or "\n\n" in body or any(c != width - 1 for c in map(str.count, body.split("\n"), [","] * n)):
        raise _NotPlain  # blank or ragged rows: the full reader says what it does with them
    return n, [tuple(fields[k::width]) for k in range(width)]


# whitespace at either end of a field (str.strip and re's \s agree on what whitespace is)
_SPACE_AROUND = re.compile(r"(?:^|,)[^\S\n]|[^\S\n](?:,|$)", re.MULTILINE)


def _space_around(body: str) -> bool:
    """Some field of ``body`` has whitespace at an end. ASCII text (the usual): substring searches; other
    text: the regex."""
    if not body.isascii():
        return _SPACE_AROUND.search(body) is not None
    if any(c in body for c in "\t\x0b\x0c\x1c\x1d\x1e\x1f"):
        return True  # ASCII whitespace other than the space: rare enough to leave to the full reader
    return body.startswith(" ") or " ," in body or ", " in body or " \n" in body or "\n " in body or body.endswith(" ")


def _stripped(values: Iterable[str], required: bool = True) -> None:
    if required and "" in set(values):
        raise _NotPlain


def _dates(values: Iterable[str]) -> dict[str, date | None]:
    out: dict[str, date | None] = {}
    for v in set(values):
        if v == "":
            out[v] = None
            continue
        try:
            out[v] = _parse_date(v)
        except ValueError:
            raise _NotPlain from None
    return out


_PLAIN_CENTS = re.compile(r"[0-9]{1,12}(?:\.[0-9]{1,2})?", re.ASCII)


def _read_plain_folder(folder: Path, plans: Mapping[str, Plan] | None, encoding: str | None) -> Dataset | None:
    from compengine.engine.columnar import DealColumns

    if encoding is not None and encoding.replace("_", "-").lower() not in ("utf-8", "utf8", "utf-8-sig"):
        return None
    if not folder.is_dir() or any(not (folder / n).is_file() for n in REQUIRED_FILES):
        return None
    if any((folder / n).exists() for n in ("products.csv", "quotas.csv")):
        return None
    fx = None
    fx_path = folder / "fx_rates.csv"
    if fx_path.exists():
        if not fx_path.is_file():
            return None
        from compengine.fxfile import read_fx_rates

        fx, fx_errors = read_fx_rates(fx_path, encoding=encoding)
        if fx_errors:
            return None
    # reps
    reps_file = str(folder / "reps.csv")
    reps: dict[str, Rep] = {}
    _, cols = _plain_rows(folder / "reps.csv", COLUMNS["reps.csv"])
    _stripped(cols[0])
    _stripped(cols[1])
    for c in (2, 3, 4):
        _stripped(cols[c], required=False)
    hires = _dates(cols[5])
    for line, (rep_id, name, email, manager, team, hire) in enumerate(zip(*cols), start=2):
        if rep_id in reps:
            return None
        reps[rep_id] = Rep(rep_id=rep_id, name=name, email=email, manager_id=manager or None, team=team,
                           hire_date=hires[hire], source=Source(reps_file, line), termination_date=None)
    if any(r.manager_id is not None and r.manager_id not in reps for r in reps.values()):
        return None
    # assignments: one a rep
    a_file = str(folder / "assignments.csv")
    assignments: list[Assignment] = []
    _, cols = _plain_rows(folder / "assignments.csv", COLUMNS["assignments.csv"])
    for c in range(5):
        _stripped(cols[c], required=c < 3)
    days = _dates((*cols[2], *cols[3]))
    seen: set[str] = set()
    for line, (rep_id, plan_id, start, end, quota) in enumerate(zip(*cols), start=2):
        if rep_id in seen or rep_id not in reps or (plans is not None and plan_id not in plans) or days[start] is None:
            return None
        seen.add(rep_id)
        end_d = days[end]
        if end_d is not None and end_d < days[start]:  # type: ignore[operator]
            return None
        q = None
        if quota:
            if not _PLAIN_CENTS.fullmatch(quota):
                return None
            q = Decimal(quota)
        assignments.append(Assignment(rep_id, plan_id, days[start], end_d, q, Source(a_file, line)))  # type: ignore[arg-type]
    # deals, into columns
    d_file = str(folder / "deals.csv")
    n, cols = _plain_rows(folder / "deals.csv", COLUMNS["deals.csv"])
    deal_id, account, deal_type, amount, currency, close, owner, term, product, cancelled = cols
    for c, required in ((deal_id, True), (account, False), (owner, True), (product, False)):
        _stripped(c, required)
    if len(set(deal_id)) != n or not set(deal_type) <= set(DEAL_TYPES) or not set(owner) <= reps.keys():
        return None
    fullmatch = _PLAIN_CENTS.fullmatch
    if not all(map(fullmatch, amount)):
        return None
    currencies = set(currency)
    plan_currencies = {p.currency for p in plans.values()} if plans is not None else set()
    if fx is None:
        if len(currencies) > 1 or (currencies and (currencies != plan_currencies or minor_units(next(iter(currencies))) != 2)):
            return None
    else:  # with exchange rates, any known currency (the engine converts); an amount must fit its currency
        try:
            for c in currencies:
                check_code(c)
        except ValueError:
            return None
    cents = [int(a[:-3] + a[-2:]) if a[-3:-2] == "." else (int(a[:-2] + a[-1:]) * 10 if a[-2:-1] == "." else int(a) * 100)
             for a in amount]
    if n and min(cents) <= 0:
        return None
    whole = {c for c in currencies if minor_units(c) < 2}
    if whole and any(cur in whole and c % 100 for c, cur in zip(cents, currency)):
        return None  # finer than the currency's minor unit (the full reader says so)
    close_of = _dates(close)
    cancel_of = _dates(cancelled)
    if None in (close_of[x] for x in set(close)):
        return None
    terms: dict[str, int | None] = {}
    for t in set(term):
        if t == "":
            terms[t] = None
        elif t.isascii() and t.isdigit() and len(t) <= 9 and int(t) <= MAX_TERM_MONTHS:
            terms[t] = int(t)
        else:
            return None
    close_d = [close_of[x] for x in close]
    cancel_d = [cancel_of[x] for x in cancelled]
    if any(c is not None and c < d for c, d in zip(cancel_d, close_d)):  # type: ignore[operator]
        return None
    deals = DealColumns(
        file=d_file, deal_id=list(deal_id), account=list(account), deal_type=list(deal_type), amount_text=list(amount),
        cents=cents, currency=list(currency), close_date=close_d, owner_id=list(owner),
        term_months=[terms[t] for t in term], product=[p or None for p in product], cancelled_on=cancel_d,
    )
    # splits
    splits: list[Split] = []
    sp_path = folder / "splits.csv"
    if sp_path.is_file():
        s_file = str(sp_path)
        _, cols = _plain_rows(sp_path, COLUMNS["splits.csv"])
        _stripped(cols[0])
        _stripped(cols[1])
        if not set(cols[0]) <= set(deal_id) or not set(cols[1]) <= reps.keys() or not set(cols[3]) <= {"", "primary", "overlay"}:
            return None
        pcts: dict[str, Decimal] = {}
        for v in set(cols[2]):
            if not _PLAIN_PCT.fullmatch(v):
                return None
            pcts[v] = Decimal(v)
            if not 0 < pcts[v] <= 100:
                return None
        splits = [Split(d, r, pcts[p], role or "primary", Source(s_file, line))
                  for line, (d, r, p, role) in enumerate(zip(*cols), start=2)]
        if _split_errors(splits):
            return None
    return Dataset(reps, assignments, deals, splits, fx=fx)  # type: ignore[arg-type]


_PLAIN_PCT = re.compile(r"[0-9]{1,3}(?:\.[0-9]{1,6})?", re.ASCII)


def _split_errors(splits: list[Split]) -> bool:
    """The checks of :func:`~compengine.engine.pipeline.check_splits` (a receiver once per deal, primary
    splits summing to 100), without the Deal objects it reads only for their ids (checked above)."""
    by_deal: dict[str, list[Split]] = defaultdict(list)
    for s in splits:
        by_deal[s.deal_id].append(s)
    for rows in by_deal.values():
        if len({s.rep_id for s in rows}) != len(rows):
            return True
        prim = [s.split_pct for s in rows if s.role == "primary"]
        if prim and sum(prim, Decimal(0)) != 100:
            return True
    return False
