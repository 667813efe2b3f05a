"""``compengine history REP``: a rep's timeline, what was true when and which import said so."""

from __future__ import annotations

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option
from compengine.cli.ledger_cmds import _ledger

pass_ctx = click.make_pass_decorator(Context)


@click.command("history")
@click.argument("rep_id")
@json_option
@pass_ctx
@handles_errors("nothing was read")
def history_cmd(ctx: Context, rep_id: str, as_json: bool) -> None:
    """Print a rep's timeline: versions of the rep (manager, team, hire and termination
    dates) with the date each is in force from, assignment rows (plan, quota, start, end)
    and the plan versions they use, superseded rows included and marked, each with the
    import that recorded it; and the retroactive changes made to the rep.

    \b
    Example:
      compengine history R1
      compengine history R1 --json | jq '.assignments'
    """
    t = _ledger(ctx).history(rep_id)
    if as_json:
        echo_json(t)
    else:
        from compengine.api import history_text

        click.echo(history_text(t))
