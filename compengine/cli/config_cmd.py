"""``compengine config``: the ledger's settings (the company name on statements), thin over
:mod:`compengine.ledger.settings`."""

from __future__ import annotations

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option
from compengine.cli.ledger_cmds import _ledger

pass_ctx = click.make_pass_decorator(Context)


@click.group("config")
def config() -> None:
    """Settings stored in the ledger: the company name printed on statements.

    \b
    Example:
      compengine config set company "Globex Corporation"
      compengine config get company
      compengine config list
    """


@config.command("set")
@click.argument("key")
@click.argument("value")
@pass_ctx
@handles_errors("nothing was changed")
def config_set(ctx: Context, key: str, value: str) -> None:
    """Set KEY to VALUE (recorded in the audit log with --as).

    Keys: company (the company name in every statement's header).

    \b
    Example:
      compengine --as finance config set company "Globex Corporation"
    """
    value = _ledger(ctx, create=True, roles=("admin",)).set_setting(key, value, actor=ctx.who).value
    click.echo(f"{key} = {value}")


@config.command("unset")
@click.argument("key")
@pass_ctx
@handles_errors("nothing was changed")
def config_unset(ctx: Context, key: str) -> None:
    """Remove KEY (recorded in the audit log); statements then show no company name.

    \b
    Example:
      compengine config unset company
    """
    before = _ledger(ctx, roles=("admin",)).unset_setting(key, actor=ctx.who)
    click.echo(f"{key} removed" if before is not None else f"{key} was not set")


@config.command("get")
@click.argument("key")
@pass_ctx
@handles_errors("nothing was read")
def config_get(ctx: Context, key: str) -> None:
    """Print KEY's value; exit status 1 when it is not set.

    \b
    Example:
      compengine config get company
    """
    value = _ledger(ctx).get_setting(key)
    if value is None:
        raise click.ClickException(f"{key} is not set")
    click.echo(value)


@config.command("list")
@json_option
@pass_ctx
@handles_errors("nothing was read")
def config_list(ctx: Context, as_json: bool) -> None:
    """List the stored settings with who set them and when.

    \b
    Example:
      compengine config list
      compengine config list --json
    """
    rows = _ledger(ctx).list_settings()
    if as_json:
        echo_json([r.as_dict() for r in rows])
        return
    if not rows:
        click.echo('No settings: `compengine config set company "Name"` puts a company name on statements.')
        return
    for r in rows:
        click.echo(f"{r.key} = {r.value}    (set {r.updated_at.isoformat(sep=' ')} by {r.updated_by})")
