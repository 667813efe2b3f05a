"""Rep statements as PDF: view model -> Jinja2 template -> CSS -> PDF (WeasyPrint).

Inputs: :class:`StatementData` (one rep's month, from the file-mode engine via
:func:`statement_data_from_calc` or from the ledger), the templates folder
(default: ``compengine/statements/templates/``, package data found with
:mod:`importlib.resources`: ``statement.html.j2``, ``statement.css``, ``fonts/``,
and the reconciliation's ``reconcile.html.j2`` and ``reconcile.css``, written by
:mod:`compengine.statements.reconcile_report`).
Outputs: ``statement-PERIOD-REP.pdf`` files written atomically, incrementally
(content hashes in ``.statements-manifest.json``) and in parallel
(:func:`render_statements`, which returns a :class:`RenderReport`).

Layering: imports ``core``, ``plans`` and ``engine``; Jinja2 and WeasyPrint;
never SQLAlchemy or click.
"""

from compengine.statements.build import calc_statement_data, statement_data_from_calc
from compengine.statements.render import (
    RenderReport,
    Templates,
    default_templates_dir,
    load_templates,
    render_pdf,
    render_statements,
    statement_name_of,
)
from compengine.statements.view import (
    DealInfo,
    Dispute,
    StatementData,
    StatementDataError,
    StatementView,
    YtdMonth,
    statement_view,
)
from compengine.core.currency import format_money  # the package's one money format (re-exported)

__all__ = [
    "DealInfo",
    "Dispute",
    "RenderReport",
    "StatementData",
    "StatementDataError",
    "StatementView",
    "Templates",
    "YtdMonth",
    "calc_statement_data",
    "default_templates_dir",
    "format_money",
    "load_templates",
    "render_pdf",
    "render_statements",
    "statement_data_from_calc",
    "statement_name_of",
    "statement_view",
]
