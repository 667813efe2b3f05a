"""``compengine disputes``: open, list, show, comment on and resolve a rep's disputes."""

from __future__ import annotations

from decimal import Decimal

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option, period_arg
from compengine.cli.ledger_cmds import _amount, _ledger
from compengine.core.money import D, shown

pass_ctx = click.make_pass_decorator(Context)


def _optional_amount(ctx: click.Context, param: click.Parameter, value: str | None) -> Decimal | None:
    return None if value is None else _amount(ctx, param, value)


@click.group("disputes")
def disputes() -> None:
    """A rep's disagreement with a month, on the record: open, comment, resolve.

    Approving pays through the ledger (an adjustment, or a data correction that the
    next close run recalculates); every step is in the audit log with the actor.

    \b
    Example:
      compengine --as ravi disputes open --rep R1 --period 2026-10 --deal D2 --reason "My split is 60%, not 40%" --amount 1200.00
      compengine disputes list --status open
      compengine --as finance disputes resolve 1 --approve --amount 1200.00 --note "Split confirmed by the VP"
    """


@disputes.command("open")
@click.option("--rep", "rep_id", required=True, help="The rep who disputes.")
@click.option("--period", required=True, callback=period_arg, help="The month disputed, e.g. 2026-10.")
@click.option("--deal", "deal_id", default=None, help="The deal disputed, if any.")
@click.option("--reason", required=True, help="What is wrong, in the rep's words.")
@click.option("--amount", default=None, callback=_optional_amount, help="The amount claimed, e.g. 1200.00.")
@json_option
@pass_ctx
@handles_errors("no dispute was opened")
def open_cmd(ctx: Context, rep_id: str, period, deal_id: str | None, reason: str, amount: Decimal | None,
             as_json: bool) -> None:
    """Open a dispute for a rep and month (status open). Locked months can be disputed.

    \b
    Example:
      compengine disputes open --rep R1 --period 2026-10 --deal D9 --reason "Soylent deal missing" --amount 1200.00
      compengine disputes open --rep R2 --period 2026-10 --reason "Wrong rate on renewals"
    """
    ledger = _ledger(ctx)
    if ctx.user is not None and ctx.user.role == "rep" and ctx.user.rep_id != rep_id:
        raise click.ClickException(f"user {ctx.who} is a rep and may open disputes for {ctx.user.rep_id} only")
    data = ledger.open_dispute(rep_id, period, reason, actor=ctx.who, deal_id=deal_id, amount=amount)
    if as_json:
        echo_json(data)
    else:
        click.echo(f"dispute {data['id']} opened for {rep_id} in {period}" + (f" on {deal_id}" if deal_id else "")
                   + (f", claiming {shown(amount)}" if amount is not None else ""))


@disputes.command("list")
@click.option("--status", type=click.Choice(["open", "approved", "rejected"]), default=None, help="Only this status.")
@click.option("--rep", "rep_id", default=None, help="Only this rep.")
@click.option("--period", default=None, callback=period_arg, help="Only this month.")
@json_option
@pass_ctx
@handles_errors("nothing to list")
def list_cmd(ctx: Context, status: str | None, rep_id: str | None, period, as_json: bool) -> None:
    """List disputes, oldest first.

    --json prints a list of objects with id, rep_id, period, deal_id, status,
    amount (claimed), reason, resolution, resolved_amount and who/when.

    \b
    Example:
      compengine disputes list --status open
      compengine disputes list --rep R1 --period 2026-10 --json
    """
    rows = _ledger(ctx).disputes(status=status, rep_id=rep_id, month=period)
    if as_json:
        echo_json(rows)
        return
    if not rows:
        click.echo("No disputes" + (f" {status}" if status else "") + ".")
        return
    click.echo(f"{'id':>4}  {'period':<7}  {'rep':<8} {'deal':<10} {'status':<9} {'claimed':>12} {'resolved':>12}  reason")
    for r in rows:
        claimed = shown(D(r['amount'])) if r["amount"] else "-"
        resolved = shown(D(r['resolved_amount'])) if r["resolved_amount"] else "-"
        reason = r["reason"] if len(r["reason"]) <= 50 else r["reason"][:49] + "…"
        click.echo(f"{r['id']:>4}  {r['period']:<7}  {r['rep_id']:<8} {r['deal_id'] or '-':<10} {r['status']:<9} "
                   f"{claimed:>12} {resolved:>12}  {reason}")


@disputes.command("show")
@click.argument("dispute_id", type=int)
@json_option
@pass_ctx
@handles_errors("nothing to show")
def show_cmd(ctx: Context, dispute_id: int, as_json: bool) -> None:
    """Show one dispute with its history (opened, comments, resolution).

    \b
    Example:
      compengine disputes show 7
      compengine disputes show 7 --json
    """
    data = _ledger(ctx).dispute(dispute_id)
    if as_json:
        echo_json(data)
        return
    click.echo(f"Dispute {data['id']}: {data['rep_id']} {data['period']}" + (f" {data['deal_id']}" if data["deal_id"] else "")
               + f" — {data['status']}")
    click.echo(f"  reason:   {data['reason']}")
    if data["amount"]:
        click.echo(f"  claimed:  {shown(D(data['amount']))}")
    if data["resolution"]:
        click.echo(f"  resolved: {data['resolution']}")
    if data["resolved_amount"]:
        click.echo(f"  amount:   {shown(D(data['resolved_amount']))}"
                   + (f" (adjustment {data['adjustment_id']})" if data["adjustment_id"] else " (recalculated)"))
    click.echo("History:")
    for e in data["history"]:
        click.echo(f"  {e['at']}  {e['actor']:<12} {e['action']:<9} {e['text']}")


@disputes.command("comment")
@click.argument("dispute_id", type=int)
@click.option("--text", required=True, help="The comment.")
@pass_ctx
@handles_errors("nothing was changed")
def comment_cmd(ctx: Context, dispute_id: int, text: str) -> None:
    """Add a comment to a dispute's history.

    \b
    Example:
      compengine --as ops disputes comment 7 --text "Asked the deal desk for the signed split form"
    """
    _ledger(ctx).comment_dispute(dispute_id, text, actor=ctx.who)
    click.echo(f"dispute {dispute_id}: comment added")


@disputes.command("resolve")
@click.argument("dispute_id", type=int)
@click.option("--approve", "decision", flag_value="approve", help="Approve: with --amount, or --correction.")
@click.option("--reject", "decision", flag_value="reject", help="Reject, with the reason in --note.")
@click.option("--amount", default=None, callback=_optional_amount,
              help="Approve this amount: an adjustment line in the next open month.")
@click.option("--correction", is_flag=True,
              help="Approve as a data correction already imported: the recalculated difference is paid.")
@click.option("--note", required=True, help="The resolution, shown on the statement.")
@json_option
@pass_ctx
@handles_errors("nothing was changed")
def resolve_cmd(ctx: Context, dispute_id: int, decision: str | None, amount: Decimal | None, correction: bool, note: str,
                as_json: bool) -> None:
    """Resolve an open dispute: approve it (with an amount, or by correction of the data) or reject it.

    --approve --amount X adds an adjustment line (ref dispute:ID) to the dispute's
    month if it is open, else to the next open month. --approve --correction is for
    a fix already imported with `compengine import` (a split corrected, a deal
    added): the recalculated difference is recorded and paid by the next close run.

    \b
    Example:
      compengine disputes resolve 7 --approve --amount 1200.00 --note "Split confirmed by the VP"
      compengine import corrected/ --plans plans && compengine disputes resolve 8 --approve --correction --note "Split fixed"
      compengine disputes resolve 9 --reject --note "Deal closed in November, paid then"
    """
    if decision is None:
        raise click.UsageError("say --approve or --reject")
    if decision == "approve" and (amount is None) == (not correction):
        raise click.UsageError("--approve needs either --amount X or --correction")
    if decision == "reject" and (amount is not None or correction):
        raise click.UsageError("--reject takes no --amount and no --correction")
    text, data = _ledger(ctx, roles=("ops", "finance")).resolve_dispute(dispute_id, actor=ctx.who, approve=decision == "approve", note=note,
                                              amount=amount, by_correction=correction)
    if as_json:
        echo_json(data)
    else:
        click.echo(text + (f" ({', '.join(data['stale'])} now stale)" if data["stale"] else ""))
