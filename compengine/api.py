"""compengine's front door: everything the CLI (and any Python program) does, as functions.

Plan files and data folders, no database::

    from compengine import api
    plans = api.load_plans("plans")
    data = api.read_data("examples/acme", plans)
    result = api.calculate(plans, data, "2026-10")
    print(result.total_payout)

The ledger (SQLite or PostgreSQL)::

    with api.Ledger.open("sqlite:///compengine.db") as ledger:
        ledger.import_folder("examples/acme", "plans", actor="ops")
        for month in api.months("2026-01", "2026-10"):
            ledger.run(month, actor="ops")
        ledger.lock("2026-01", through="2026-09", actor="ops")
        rec = ledger.reconcile("2026-10")

Each method that changes the ledger is one transaction holding the ledger's
writer lock (see :mod:`compengine.ledger.db`); each that reads is a snapshot
that never waits for a writer. Every refusal is a
:class:`~compengine.core.errors.CompErrors` naming what is wrong; nothing raises
a CLI exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from compengine.core.errors import CompError, CompErrors, Source
from compengine.core.money import parse_amount
from compengine.core.periods import Period, as_period
from compengine.engine.driver import Dataset, calculate_month, filter_reps
from compengine.engine.records import PeriodResult
from compengine.plans.model import Plan

if TYPE_CHECKING:
    from compengine.plans.catalog import PlanCatalog

PeriodLike = Period | str

# The rest of the front door, imported when first used (renderings, generators, file-mode helpers):
# the CLI imports nothing else from the package, so what it does is what a program can do.
_LAZY = {
    "history_text": ("compengine.ledger.history", "timeline_text"),
    "iter_result_text": "compengine.engine.report",
    "iter_result_json": "compengine.engine.report",
    "filter_reps": "compengine.engine.driver",
    "calculate_month": "compengine.engine.driver",
    # the columnar engine (issue 18): (result, None), or the pure engine's result and why it was not used
    "calculate_month_columnar": ("compengine.engine.columnar", "calculate_month"),
    "read_plans_and_folder": "compengine.datafiles",
    "load_plan_file": "compengine.plans",
    "load_plans_and_errors": ("compengine.plans", "load_plans"),  # (plans, errors) without raising
    "PlanCatalog": "compengine.plans.catalog",  # every version of every plan of a folder
    "load_plan_catalog_and_errors": ("compengine.plans.catalog", "load_plan_catalog"),  # (catalog, errors)
    "load_plan_catalog_paths": "compengine.plans.catalog",  # files and folders checked together: (catalog, errors)
    "version_range": "compengine.plans.catalog",  # "2026-07-01.." of a plan version
    "version_dict": "compengine.plans.catalog",  # a plan version as JSON data
    "rate_warnings": "compengine.plans.loader",
    "run_plan_examples": "compengine.engine.examples",  # a plan's examples: priced, compared (ExampleOutcome)
    "example_errors": "compengine.engine.examples",  # failing examples as CompErrors (plans validate)
    "FORMATS": "compengine.adapters",
    "convert_to_folder": "compengine.adapters",
    "report_text": "compengine.adapters",
    "run_demo": "compengine.demo",
    "sample_plans_dir": "compengine.demo",  # the example plans the package ships (plans/ outside a source tree)
    "generate_company": ("compengine.generate", "generate"),
    "write_finance_report": "compengine.statements.finance_report",
    "model_view": ("compengine.finance.model", "view"),
    "load_candidates": "compengine.finance.model",  # candidate plan folders, validated
    "forecast_view": ("compengine.finance.forecast", "view"),
    "accounting_view": ("compengine.finance.accounting", "view"),
    "load_accounting_config": ("compengine.finance.accounting", "load_config"),
    "open_pipeline": "compengine.adapters.maven_crm",
    "PIPELINE_OUT_COLUMNS": "compengine.adapters.maven_crm",
    "RenderReport": "compengine.statements",
    "StatementData": "compengine.statements",
    "calc_statement_data": "compengine.statements",
    "render_statements": "compengine.statements",
}

__all__ = [
    "CompError", "CompErrors", "Dataset", "Ledger", "PeriodResult", "Plan", "Source", "calculate", "load_plans",
    "load_plan_catalog", "months", "period", "read_catalog_and_folder", "read_data", "upgrade", *_LAZY,
]


def __getattr__(name: str) -> Any:
    import importlib

    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'compengine.api' has no attribute {name!r}")
    module, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value
    return value


def period(value: PeriodLike) -> Period:
    """A month from ``Period`` or ``"YYYY-MM"`` (refused in one line when it is not one)."""
    return as_period(value)


def months(first: PeriodLike, last: PeriodLike | None = None) -> list[Period]:
    """``first`` alone, or every month from ``first`` through ``last``."""
    a = period(first)
    if last is None:
        return [a]
    b = period(last)
    if b < a:
        raise CompErrors(f"{b} is before {a}")
    return a.months_through(b)


# ------------------------------------------------------------------ files, no database


def load_plans(plans_dir: Path | str) -> dict[str, Plan]:
    """Every plan file of a folder, validated and compiled (CompErrors lists every problem)."""
    from compengine.plans import load_plans as _load

    plans, errors = _load(plans_dir)
    if errors:
        raise CompErrors(errors)
    return plans


def load_plan_catalog(plans_dir: Path | str) -> PlanCatalog:
    """Every version of every plan of a folder, as a :class:`~compengine.plans.catalog.PlanCatalog`
    (CompErrors lists every problem, overlapping versions among them)."""
    from compengine.plans.catalog import load_plan_catalog as _load

    catalog, errors = _load(plans_dir)
    if errors:
        raise CompErrors(errors)
    return catalog


def read_catalog_and_folder(plans_dir: Path | str, data_dir: Path | str, *,
                            encoding: str | None = None, fast: bool = False) -> tuple[PlanCatalog, Dataset]:
    """A plan folder's catalog and a data folder checked against it (assignments name known plan ids;
    versions of one id share its currency); every error raised as CompErrors. ``fast``: deals read into
    columns for the columnar engine (``datafiles.read_data_folder_fast``: the same data and errors)."""
    from compengine.datafiles import read_data_folder, read_data_folder_fast
    from compengine.plans.catalog import load_plan_catalog as _load

    catalog, errors = _load(plans_dir)
    if errors:
        raise CompErrors(errors)
    read = read_data_folder_fast if fast else read_data_folder
    data, errors = read(data_dir, catalog.latest(), encoding=encoding)
    if errors:
        raise CompErrors(errors)
    return catalog, data


def read_data(data_dir: Path | str, plans: Mapping[str, Plan] | None = None, *, encoding: str | None = None) -> Dataset:
    """A data folder (reps, assignments, deals, splits CSVs), every row checked."""
    from compengine.datafiles import read_data_folder

    data, errors = read_data_folder(data_dir, plans, encoding=encoding)
    if errors:
        raise CompErrors(errors)
    return data


def calculate(plans: Mapping[str, Plan] | PlanCatalog, data: Dataset, month: PeriodLike, rep_ids: Sequence[str] = ()) -> PeriodResult:
    """One month's payout lines from files (the plan year through ``month`` is calculated in order).

    ``plans``: plans by id, or a ``PlanCatalog`` (each month priced by the versions in force on its last day)."""
    result = calculate_month(data, plans, period(month))
    return filter_reps(result, rep_ids) if rep_ids else result


# ------------------------------------------------------------------ the ledger


def close_executor(spec: str | None = None) -> Any:
    """Where closes calculate (a context manager, closed after the last month: a ``local-dask`` cluster
    is started once): ``local[:N]``, ``local-dask[:N]``, ``dask://HOST:PORT``; ``None``:
    ``COMPENGINE_CLOSE_EXECUTOR``, else ``local``. A bad spec raises a one-line CompErrors."""
    from compengine.ledger.executors import parse_executor

    return parse_executor(spec)


def upgrade(url: str, *, engines: list | None = None) -> tuple[str | None, str | None]:
    """Bring a database to the current schema; returns (revision before, after)."""
    from compengine.ledger.db import make_engine, upgrade as _upgrade

    engine = make_engine(url)
    if engines is not None:
        engines.append(engine)
    return _upgrade(engine)


class Ledger:
    """A ledger database. Open it with :meth:`open`; use it as a context manager to dispose of it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @classmethod
    def open(cls, url: str, *, migrate: bool = True) -> Ledger:
        """Connect (and bring the schema up to date). ``url``: ``sqlite:///file.db`` or ``postgresql://...``."""
        from compengine.ledger.db import open_ledger

        return cls(open_ledger(url, migrate=migrate))

    def dispose(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.dispose()

    @contextmanager
    def writing(self, what: str) -> Iterator[Session]:
        """A write transaction holding the ledger's writer lock (``what`` names it to waiting writers)."""
        from compengine.ledger.db import transaction

        with transaction(self.engine, what=what) as session:
            yield session

    @contextmanager
    def reading(self) -> Iterator[Session]:
        """A read-only snapshot that never waits for a writer."""
        from compengine.ledger.db import transaction

        with transaction(self.engine, write=False) as session:
            yield session

    # -- data in
    def import_folder(self, data_dir: Path | str, plans_dir: Path | str, *, actor: str, dry_run: bool = False,
                      encoding: str | None = None, retroactive: bool = False) -> Any:
        """Import a data folder and plan files in one transaction (nothing written on any bad row).

        A change that would reprice a locked month (an assignment or plan version over it) is
        refused unless ``retroactive``: then the next close reprices those months and pays the
        differences in the first open month."""
        from compengine.ledger.importer import import_folder

        with self.writing(f"import {data_dir} by {actor}") as s:
            report = import_folder(s, data_dir, plans_dir, actor, dry_run=dry_run, encoding=encoding,
                                   retroactive=retroactive)
            if dry_run:
                s.rollback()
        return report

    def import_crm(self, fmt: str, path: Path | str, plans_dir: Path | str, *, actor: str,
                   out_dir: Path | str | None = None, rep_plan: str = "ae-2026",
                   manager_plan: str = "mgr-2026") -> tuple[Any, list[Path], Any]:
        """Convert a public CRM export (``maven-crm``, ``northwind``), write the data folder (``out_dir``,
        else a temporary one), check it and import it: (conversion, files written, import report)."""
        import tempfile

        from compengine.adapters import convert_to_folder

        with tempfile.TemporaryDirectory(prefix="compengine-crm-") as tmp:
            folder = Path(out_dir) if out_dir is not None else Path(tmp) / "data"
            result, written = convert_to_folder(fmt, path, folder, plans_dir, rep_plan=rep_plan, manager_plan=manager_plan)
            return result, written, self.import_folder(folder, plans_dir, actor=actor)

    # -- the close
    def run(self, month: PeriodLike, *, actor: str, progress: Callable[[str], None] | None = None,
            workers: int | None = None, executor: Any = None) -> PeriodResult:
        """Calculate a month and store its lines (idempotent). ``executor``: where it calculates, a spec
        (``local[:N]``, ``local-dask[:N]``, ``dask://HOST:PORT``) or an open :func:`close_executor`."""
        from compengine.ledger.close import run_close

        p = period(month)
        with self.writing(f"close run {p} by {actor}") as s:
            return run_close(s, p, actor, progress=progress, workers=workers, executor=executor)

    def lock(self, month: PeriodLike, *, actor: str, through: PeriodLike | None = None, allow_open_disputes: bool = False,
             accept_exceptions: str | None = None,
             allow_pending_adjustments: bool = False) -> list[tuple[Period, Decimal, str | None]]:
        """Lock a month (or every month through ``through``: all or none). Returns (month, total, accepted reason)."""
        from compengine.ledger.close import lock_period

        ms = months(month, through)
        out = []
        with self.writing(f"close lock {ms[0]}{f'..{ms[-1]}' if len(ms) > 1 else ''} by {actor}") as s:
            for p in ms:
                row = lock_period(s, p, actor, allow_open_disputes=allow_open_disputes, accept_exceptions=accept_exceptions,
                                  allow_pending_adjustments=allow_pending_adjustments)
                out.append((p, row.total_payout, row.exceptions_accepted))
        return out

    def show(self, month: PeriodLike, rep_ids: Sequence[str] = ()) -> tuple[PeriodResult, str, str | None]:
        """A month as its close run stored it: (result, status, reason exceptions were accepted)."""
        from compengine.ledger.close import stored_result

        with self.reading() as s:
            result, prow = stored_result(s, period(month), rep_ids)
            return result, prow.status, prow.exceptions_accepted

    def reopen(self, month: PeriodLike, *, actor: str, reason: str) -> Any:
        from compengine.ledger.start import reopen_period

        p = period(month)
        with self.writing(f"close reopen {p} by {actor}") as s:
            return reopen_period(s, p, actor, reason)

    def start(self, month: PeriodLike, *, actor: str, opening_balances: Path | str | None = None) -> Any:
        from compengine.ledger.start import start_ledger

        p = period(month)
        with self.writing(f"close start {p} by {actor}") as s:
            return start_ledger(s, p, actor, Path(opening_balances) if opening_balances else None)

    def adjust(self, rep_id: str, month: PeriodLike, amount: Decimal | str, reason: str, *, actor: str,
               deal_id: str | None = None) -> tuple[int, list[str]]:
        """Record an adjustment for an open month; returns its id and the months it made stale."""
        from compengine.ledger.ops import add_adjustment
        from compengine.ledger.store import stale_months

        p = period(month)
        value = parse_amount(amount, places=3) if isinstance(amount, str) else amount
        with self.writing(f"adjust {rep_id} {p} by {actor}") as s:
            before = stale_months(s)
            adj_id = add_adjustment(s, rep_id, p, value, reason, actor, deal_id=deal_id).id
            return adj_id, sorted(stale_months(s) - before)

    # -- disputes
    def open_dispute(self, rep_id: str, month: PeriodLike, reason: str, *, actor: str, deal_id: str | None = None,
                     amount: Decimal | None = None) -> dict:
        from compengine.ledger.disputes import dispute_dict, open_dispute

        p = period(month)
        with self.writing(f"disputes open {rep_id} {p} by {actor}") as s:
            return dispute_dict(open_dispute(s, rep_id, p, reason, actor, deal_id=deal_id, amount=amount))

    def comment_dispute(self, dispute_id: int, text: str, *, actor: str) -> None:
        from compengine.ledger.disputes import comment

        with self.writing(f"disputes comment {dispute_id} by {actor}") as s:
            comment(s, dispute_id, text, actor)

    def resolve_dispute(self, dispute_id: int, *, actor: str, approve: bool, note: str, amount: Decimal | None = None,
                        by_correction: bool = False) -> tuple[str, dict]:
        """Approve (with an amount or by correction) or reject; returns (what happened, the dispute with
        ``lands_in``, ``changes`` and ``stale``: the months it made stale)."""
        from compengine.ledger.disputes import dispute_dict, resolve

        from compengine.ledger.store import stale_months

        with self.writing(f"disputes resolve {dispute_id} by {actor}") as s:
            before = stale_months(s)
            res = resolve(s, dispute_id, actor, approve, note, amount=amount, by_correction=by_correction)
            return res.text(), dispute_dict(res.dispute) | {"lands_in": res.lands_in, "changes": res.changes,
                                                           "stale": sorted(stale_months(s) - before)}

    def disputes(self, *, status: str | None = None, rep_id: str | None = None, month: PeriodLike | None = None) -> list[dict]:
        from compengine.ledger.disputes import dispute_dict, list_disputes

        with self.reading() as s:
            return [dispute_dict(d) for d in list_disputes(s, status, rep_id, str(period(month)) if month else None)]

    def dispute(self, dispute_id: int) -> dict:
        from compengine.ledger.disputes import dispute_dict, show_dispute

        with self.reading() as s:
            row, events = show_dispute(s, dispute_id)
            return dispute_dict(row, events)

    # -- out
    def export_payouts(self, month: PeriodLike, out: Path | str, *, actor: str, preliminary: bool = False) -> Any:
        """Write the payroll CSV (a locked month, or ``preliminary``); returns a ``PayoutExport``: ``.count``,
        ``.totals`` per currency (it unpacks as (rows, total) for a month paid in one currency)."""
        from compengine.ledger.ops import export_payouts

        p = period(month)
        with self.writing(f"payouts export {p} by {actor}") as s:
            return export_payouts(s, p, Path(out), preliminary=preliminary, actor=actor)

    def reconcile(self, month: PeriodLike, *, payout_file: Path | str | None = None,
                  progress: Callable[[str], None] | None = None, in_currency: str | None = None) -> Any:
        """The month's reconciliation (``.ok``, ``.exceptions``, ``.text()``, ``.as_dict()``); ``in_currency``:
        also the month in that reporting currency at the rates in force on its last day."""
        from compengine.ledger.reconcile import reconcile

        with self.reading() as s:
            return reconcile(s, period(month), payout_file=payout_file, progress=progress, in_currency=in_currency)

    def write_reconcile_report(self, rec: Any, out: Path | str, *, templates_dir: Path | str | None = None) -> Path:
        """Render a reconciliation as ``.html``, ``.pdf`` or ``.csv`` (by the file's suffix)."""
        from compengine.ledger.reconcile import PAYOUT_ROWS
        from compengine.statements.reconcile_report import write_reconcile_report

        return write_reconcile_report(rec, out, dict(PAYOUT_ROWS), templates_dir=templates_dir)

    def statement_data(self, month: PeriodLike, *, company: str | None = None, rep_ids: Sequence[str] = (),
                       locale: str | None = None) -> list[Any]:
        """Each rep's statement view model (the numbers of the PDF), from stored rows (amounts for ``locale``)."""
        from compengine.ledger.settings import company_name
        from compengine.ledger.statement_source import ledger_statement_data

        with self.reading() as s:
            name = company if company is not None else company_name(s)
            return ledger_statement_data(s, period(month), name, rep_ids=rep_ids, locale=locale)

    def render_statements(self, month: PeriodLike, out_dir: Path | str, *, company: str | None = None,
                          rep_ids: Sequence[str] = (), jobs: int | None = None, force: bool = False, html: bool = False,
                          templates_dir: Path | str | None = None, progress: Callable[[Path, str], None] | None = None,
                          locale: str | None = None) -> Any:
        """PDF statements of a calculated month; returns a RenderReport (rendered, skipped, failed)."""
        from compengine.statements import render_statements

        items = self.statement_data(month, company=company, rep_ids=rep_ids, locale=locale)
        if not items:
            raise CompErrors(f"no rep has a plan in {period(month)}; no statement was written")
        return render_statements(items, out_dir, jobs, force=force, html=html, templates_dir=templates_dir,
                                 progress=progress)

    def status(self) -> list[dict]:
        from compengine.ledger.ops import status_rows

        with self.reading() as s:
            return status_rows(s)

    def audit(self, *, month: PeriodLike | None = None, rep_id: str | None = None, limit: int | None = None) -> list[dict]:
        from compengine.ledger.ops import audit_rows

        with self.reading() as s:
            return audit_rows(s, str(period(month)) if month else None, rep_id, limit)

    def history(self, rep_id: str) -> dict:
        """A rep's timeline: versions of the rep, assignment rows and plan versions, superseded
        rows included, each with the import that recorded it (``compengine history``)."""
        from compengine.ledger.history import timeline

        with self.reading() as s:
            return timeline(s, rep_id)

    def verify(self) -> Any:
        """Check every locked month's seal and the audit chain (``.ok``, ``.text()``, ``.as_dict()``)."""
        from compengine.ledger.seals import verify

        with self.reading() as s:
            return verify(s)

    # -- users (the portal's identities; the CLI's --as once any exist)
    def require_actor(self, actor: str, roles: Sequence[str] = ()) -> Any:
        """Once the ledger has users, ``actor`` must be an enabled user of one of ``roles`` (CompErrors otherwise)."""
        from compengine.ledger.users import require_actor

        with self.reading() as s:
            return require_actor(s, actor, tuple(roles))

    def add_user(self, name: str, role: str, password: str | None, *, actor: str, rep_id: str | None = None) -> Any:
        from compengine.ledger.users import add_user

        with self.writing(f"users add {name} by {actor}") as s:
            return add_user(s, name, role, password, actor, rep_id=rep_id)

    def users(self) -> list[Any]:
        from compengine.ledger.users import list_users

        with self.reading() as s:
            return list_users(s)

    def disable_user(self, name: str, *, actor: str) -> None:
        from compengine.ledger.users import disable_user

        with self.writing(f"users disable {name} by {actor}") as s:
            disable_user(s, name, actor)

    def new_token(self, name: str, *, actor: str) -> str:
        """A new API token for ``name`` (only its hash is stored)."""
        from compengine.ledger.users import new_token

        with self.writing(f"users token {name} by {actor}") as s:
            return new_token(s, name, actor)

    def web_app(self) -> Any:
        """The portal (an ASGI app) on this ledger: serve it with uvicorn."""
        from compengine.web.app import create_app

        return create_app(self.engine)

    # -- finance: plan modeling, pipeline forecast, ASC 340-40 (read-only)
    def model(self, candidates: Sequence[Any], first: PeriodLike, last: PeriodLike) -> Any:
        """Reprice history from ``first`` through ``last`` under candidate plans (``load_candidates``;
        nothing is written)."""
        from compengine.finance.model import model_plans

        with self.reading() as s:
            return model_plans(s, candidates, period(first), period(last))

    def forecast(self, pipeline_file: Path | str, last: PeriodLike, *, commit_threshold: Decimal = Decimal("0.7"),
                 stages_file: Path | str | None = None) -> Any:
        """Expected commission of the open pipeline per rep and month through ``last``."""
        from compengine.datafiles import read_pipeline
        from compengine.finance.forecast import forecast, load_stages

        stages = load_stages(Path(stages_file)) if stages_file else None
        opps, errors = read_pipeline(Path(pipeline_file), stages)
        if errors:
            raise CompErrors(errors)
        with self.reading() as s:
            return forecast(s, opps, period(last), commit_threshold=commit_threshold)

    def accounting(self, month: PeriodLike, *, config: Any = None) -> Any:
        """The month's ASC 340-40 journal (``.ties_out``, ``.text()``, ``.as_dict()``); ``config`` from
        ``load_accounting_config`` (default: contract term, practical expedient on)."""
        from compengine.finance.accounting import journal, load_config

        config = config if config is not None else load_config(None)
        with self.reading() as s:
            return journal(s, period(month), config)

    # -- settings
    def company(self) -> str:
        """The company name on statements ("" when none is set)."""
        from compengine.ledger.settings import company_name

        with self.reading() as s:
            return company_name(s)

    def list_settings(self) -> list[Any]:
        from compengine.ledger.settings import list_settings

        with self.reading() as s:
            return list_settings(s)

    def unset_setting(self, key: str, *, actor: str) -> str | None:
        from compengine.ledger.settings import unset_setting

        with self.writing(f"config unset {key} by {actor}") as s:
            return unset_setting(s, key, actor)

    def get_setting(self, key: str) -> str | None:
        from compengine.ledger.settings import get_setting

        with self.reading() as s:
            return get_setting(s, key)

    def set_setting(self, key: str, value: str, *, actor: str) -> Any:
        from compengine.ledger.settings import set_setting

        with self.writing(f"config set {key} by {actor}") as s:
            return set_setting(s, key, value, actor)
