"""``compengine verify``: check every locked month against its seal and the audit log's hash chain."""

from __future__ import annotations

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option
from compengine.cli.ledger_cmds import _ledger

pass_ctx = click.make_pass_decorator(Context)


@click.command("verify")
@json_option
@pass_ctx
@handles_errors("nothing was verified")
def verify_cmd(ctx: Context, as_json: bool) -> None:
    """Check the ledger for tampering: seals of locked months and the audit chain.

    Recomputes each locked month's seal from its stored payout lines and rep
    totals and compares it (and the chain of seals), then walks the audit log's
    hash chain. Prints one row per month and exits with status 1 naming the month
    or audit entry that fails. Audit entries from before the chain existed are
    reported as unchained legacy entries, not as a failure.

    \b
    Example:
      compengine verify
      compengine --db postgresql://127.0.0.1/comp verify --json > verify.json
    """
    report = _ledger(ctx).verify()
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(report.text(), nl=False)
    if not report.ok:
        first = report.failures[0]
        more = len(report.failures) + report.more_failures - 1
        click.echo(f"verify failed: {first}" + (f" (and {more} more)" if more else ""), err=True)
        raise SystemExit(1)
