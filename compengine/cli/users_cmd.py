"""``compengine users``: add, list, disable users and issue API tokens; ``compengine serve``: the web portal."""

from __future__ import annotations

import sys

import click

from compengine.cli.common import Context, echo_json, handles_errors, json_option
from compengine.cli.ledger_cmds import _ledger

pass_ctx = click.make_pass_decorator(Context)
ADMIN = ("admin",)


@click.group("users")
def users() -> None:
    """Users of the web portal and, once any exists, of the CLI (--as).

    The first user can be added by anyone who can reach the database; after that only an admin.

    \b
    Example:
      echo 's3cret-pass' | compengine users add ana --role ops --password-stdin
    """


def _admin_ledger(ctx: Context):  # noqa: ANN202
    return _ledger(ctx, create=True, roles=ADMIN)


@users.command("add")
@click.argument("name")
@click.option("--role", required=True, type=click.Choice(["rep", "manager", "ops", "finance", "admin"]), help="The user's role.")
@click.option("--rep", "rep_id", default=None, help="The reps row of a rep or manager.")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of stdin.")
@pass_ctx
@handles_errors("no user was added")
def users_add(ctx: Context, name: str, role: str, rep_id: str | None, password_stdin: bool) -> None:
    """Add a user (password hashed with argon2; without --password-stdin the user can only use API tokens).

    \b
    Example:
      echo 's3cret-pass' | compengine --as admin users add R007 --role rep --rep R007 --password-stdin
    """
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    user = _admin_ledger(ctx).add_user(name, role, password, actor=ctx.who, rep_id=rep_id)
    click.echo(f"user {user.name} added as {user.role}" + (f" for rep {user.rep_id}" if user.rep_id else ""))


@users.command("list")
@json_option
@pass_ctx
@handles_errors("nothing was listed")
def users_list(ctx: Context, as_json: bool) -> None:
    """List the users (never their password hashes).

    \b
    Example:
      compengine users list --json
    """
    rows = _ledger(ctx).users()
    if as_json:
        echo_json([u.as_dict() for u in rows])
        return
    for u in rows:
        click.echo(f"{u.name:<20} {u.role:<8} {u.rep_id or '-':<10} {'disabled' if u.disabled else 'enabled'}")


@users.command("disable")
@click.argument("name")
@pass_ctx
@handles_errors("nothing was changed")
def users_disable(ctx: Context, name: str) -> None:
    """Disable a user: no login, no API token, no CLI.

    \b
    Example:
      compengine --as admin users disable R007
    """
    _admin_ledger(ctx).disable_user(name, actor=ctx.who)
    click.echo(f"user {name} disabled")


@users.command("token")
@click.argument("name")
@pass_ctx
@handles_errors("no token was issued")
def users_token(ctx: Context, name: str) -> None:
    """Print a new API token for NAME on stdout (only its hash is stored; send it as `Authorization: Bearer TOKEN`).

    \b
    Example:
      compengine --as admin users token R007
    """
    token = _admin_ledger(ctx).new_token(name, actor=ctx.who)
    click.echo(token)


# How long the portal keeps an idle HTTP connection open. uvicorn's default is 5 s: a client that reads
# a page for 5 s and then sends its next request on the same connection can meet the server closing it
# (httpx raises ReadError; bench_web's paced readers saw 2-3 in 400 requests), and a reverse proxy whose
# idle timeout is longer than the server's (60 s is common) answers 502 in the same race. Longer than
# such a proxy's timeout, so the proxy is the side that closes.
KEEP_ALIVE_SECONDS = 65


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=int, help="Port to listen on.")
@pass_ctx
@handles_errors("the portal did not start")
def serve(ctx: Context, host: str, port: int) -> None:
    """Serve the web portal (statements, disputes, close, payouts) on the same --db.

    Sessions are signed with COMPENGINE_SECRET (set it to keep sessions over restarts;
    without it a random key is made at start).

    \b
    Example:
      compengine --db sqlite:///demo/compengine.db serve --port 8000
    """
    import uvicorn

    app = _ledger(ctx, as_user=False).web_app()
    click.echo(f"compengine portal on http://{host}:{port}/ (ledger {ctx.db_url}); Ctrl+C stops it", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", timeout_keep_alive=KEEP_ALIVE_SECONDS)
