"""The command line: thin click wrappers over library calls.

Each command parses its options, opens what it needs, calls one library
function and prints. Library errors become one-line messages and a non-zero
exit code. Every command's help ends with an example.
"""

from __future__ import annotations

import click

from compengine import __version__
from compengine.cli.common import Context, MainGroup


@click.group(cls=MainGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="compengine")
@click.option("--db", "db_url", envvar="COMPENGINE_DB", default="sqlite:///compengine.db", show_default=True,
              help="Ledger database URL (or set COMPENGINE_DB).")
@click.option("--as", "actor", default=None, help="Who is acting, for the audit log (default: the OS user).")
@click.pass_context
def main(ctx: click.Context, db_url: str, actor: str | None) -> None:
    """compengine: sales commissions from declarative plans, exact to the cent.

    \b
    Example (no database needed):
      compengine calc --plans plans --data examples/acme --period 2026-10
    """
    ctx.obj = Context(db_url=db_url, actor=actor)


def _register() -> None:
    from compengine.cli import calc, ledger_cmds, plans_cmd
    from compengine.cli import crm_cmd, demo_cmd
    from compengine.cli import generate_cmd
    from compengine.cli import statements_cmd
    from compengine.cli import disputes_cmd
    from compengine.cli import reconcile_cmd
    from compengine.cli import verify_cmd
    from compengine.cli import history_cmd
    from compengine.cli import config_cmd
    from compengine.cli import users_cmd
    from compengine.cli import finance_cmd

    main.add_command(calc.calc)
    main.add_command(plans_cmd.plans)
    for cmd in (ledger_cmds.db, ledger_cmds.import_cmd, ledger_cmds.close, ledger_cmds.adjust, ledger_cmds.payouts,
                ledger_cmds.status, ledger_cmds.audit_cmd, ledger_cmds.statements):
        main.add_command(cmd)
    main.add_command(crm_cmd.import_crm)
    main.add_command(demo_cmd.demo)
    main.add_command(generate_cmd.generate)
    main.add_command(statements_cmd.statements_calc)
    main.add_command(disputes_cmd.disputes)
    main.add_command(reconcile_cmd.reconcile_cmd)
    main.add_command(verify_cmd.verify_cmd)
    main.add_command(history_cmd.history_cmd)
    main.add_command(config_cmd.config)
    main.add_command(users_cmd.users)
    main.add_command(users_cmd.serve)
    for cmd in (finance_cmd.model_cmd, finance_cmd.forecast_cmd, finance_cmd.accounting_cmd):
        main.add_command(cmd)


_register()
