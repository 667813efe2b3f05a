"""Ledger commands: db upgrade, import, close run/lock, adjust, payouts export, status, audit."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import click

from compengine.cli.common import (
    Context,
    Progress,
    db_url_problem,
    echo_json,
    echo_result,
    encoding_option,
    handles_errors,
    json_option,
    lines_option,
    months_arg,
    one_line,
    period_arg,
    progress_option,
    sqlite_file,
    locale_option,
    templates_option,
)
from compengine.api import Ledger
from compengine.core.errors import CompErrors
from compengine.core.money import parse_amount, shown
from compengine.api import iter_result_json

pass_ctx = click.make_pass_decorator(Context)


def _check_db(ctx: Context) -> None:
    """Refuse a --db that is not a usable URL; note a SQLite file this command is about to create."""
    problem = db_url_problem(ctx.db_url)
    if problem:
        raise click.ClickException(problem)
    path = sqlite_file(ctx.db_url)
    if path is not None and not path.exists() and ctx.new_sqlite is None:
        ctx.new_sqlite = path  # removed again if the command fails


OPS = ("ops",)


def _ledger(ctx: Context, *, create: bool = False, roles: tuple[str, ...] | None = None,
            as_user: bool = True) -> Ledger:
    """The ledger of --db through the library's front door (:class:`compengine.api.Ledger`).

    Only commands that bring data in (``create=True``: import, import-crm, config set) make a
    new SQLite file; any other command on a file that does not exist says so and creates nothing.
    Once the ledger has users, ``--as`` (default: the OS user) must name an enabled one, and a
    state-changing command passes the ``roles`` it needs (README: the threat model). ``as_user=False``
    (``serve``): the command acts for nobody itself; the portal signs each person in."""
    problem = db_url_problem(ctx.db_url)
    if problem:
        raise click.ClickException(problem)
    if not create:
        path = sqlite_file(ctx.db_url)
        if path is not None and not path.exists():
            raise click.ClickException(f"no ledger at {path}: start with `compengine import DATA_DIR --plans PLANS_DIR` "
                                       "(or point --db / COMPENGINE_DB at your ledger)")
    _check_db(ctx)
    try:
        ledger = Ledger.open(ctx.db_url)
    except Exception as exc:  # connection problems are one-line failures, not tracebacks
        if isinstance(exc, CompErrors):
            raise
        raise click.ClickException(f"cannot open the ledger at {ctx.db_url}: {str(exc).splitlines()[0]}") from None
    ctx.engines.append(ledger.engine)
    if not as_user:
        return ledger
    try:
        ctx.user = ledger.require_actor(ctx.who, roles or ())
    except CompErrors as exc:
        raise click.ClickException(str(exc.errors[0]) if exc.errors else str(exc)) from None
    return ledger


def _stderr(msg: str) -> None:
    click.echo(msg, err=True)


@click.group("db")
def db() -> None:
    """Manage the ledger database schema.

    \b
    Example:
      compengine --db postgresql://127.0.0.1/test db upgrade
    """


@db.command("upgrade")
@pass_ctx
def db_upgrade(ctx: Context) -> None:
    """Bring the database to the current schema (Alembic migrations).

    \b
    Example:
      compengine --db sqlite:///compengine.db db upgrade
    """
    from compengine.api import upgrade

    _check_db(ctx)
    try:
        before, after = upgrade(ctx.db_url, engines=ctx.engines)
    except Exception as exc:
        raise click.ClickException(f"cannot upgrade {ctx.db_url}: {str(exc).splitlines()[0]}") from None
    click.echo(f"schema at {after}" + (" (already current)" if before == after else f" (was {before or 'empty'})"))


@click.command("import")
@click.argument("data_dir", type=click.Path(path_type=Path))
@click.option("--plans", "plans_dir", required=True, type=click.Path(path_type=Path), help="Folder of plan files.")
@click.option("--dry-run", is_flag=True, help="Show what would change; write nothing.")
@click.option("--retroactive", is_flag=True,
              help="Let changes reach locked months: they are repriced at the next close and the differences paid "
                   "in the first open month.")
@encoding_option
@json_option
@pass_ctx
@handles_errors("nothing was imported")
def import_cmd(ctx: Context, data_dir: Path, plans_dir: Path, dry_run: bool, retroactive: bool, encoding: str | None,
               as_json: bool) -> None:
    """Import a data folder (reps, assignments, deals, splits, products, quotas, fx_rates CSVs) and plan files in one transaction.

    Any bad row and nothing is written. Re-importing the same files changes nothing.
    Changed amounts, quantities, costs or attributes become amendments, new
    cancelled_on values cancellations; deals
    of locked months (late deals and late changes) are priced as of their month at the
    next close and paid in the first open month.

    \b
    Master data is history, never overwritten (`compengine history REP`):
    a changed rep (reps.csv has no dates) applies from the first open month;
    an assignment or quota row or plan version that would change what priced a locked
    month is refused, naming file:line, the rep and the months, unless
    --retroactive: then those months are repriced at the next close and each
    difference is paid in the first open month on a line naming the change.
    Exchange rates (fx_rates.csv) are history too: a corrected rate supersedes
    the old row; one recorded after a month it is in force in was locked
    reprices that month at the next close (no --retroactive needed).

    \b
    Example:
      compengine import examples/acme --plans plans
      compengine import examples/multi-currency --plans examples/multi-currency/plans
      compengine import examples/acme --plans plans --dry-run
      compengine import data --plans plans --retroactive
    """
    report = _ledger(ctx, create=True, roles=OPS).import_folder(data_dir, plans_dir, actor=ctx.who, dry_run=dry_run,
                                                                encoding=encoding, retroactive=retroactive)
    if as_json:
        echo_json(report.as_dict())
    else:
        click.echo(report.text())


@click.group("close")
def close() -> None:
    """The monthly close: calculate a month, then lock it.

    \b
    A month is open (never calculated), calculated, stale (calculated, then
    something it depends on changed: run it again) or locked (sealed; late
    changes are paid in the next open month). See `compengine status`.

    \b
    Example:
      compengine close run 2026-10
      compengine close lock 2026-10
      compengine close show 2026-09 --rep R1
      compengine close reopen 2026-10 --reason "wrong SPIFF table"
      compengine close start 2026-07 --opening-balances opening.csv
    """


@close.command("run")
@click.argument("period", callback=period_arg)
@click.option("--through", callback=period_arg, default=None,
              help="Run every month from PERIOD through this one, in order (each in its own transaction).")
@click.option("--rep", "rep_ids", multiple=True, help="Only show this rep (repeatable); every rep is calculated.")
@json_option
@click.option("--no-explain", is_flag=True, help="Leave out the explain sentences in the text output.")
@click.option("--summary", is_flag=True,
              help="Text output: one block per rep (measures, components, payout), without the lines; for big months.")
@click.option("--executor", "executor_spec", metavar="SPEC", default=None,
              help="Where the month is calculated: local[:N] (this machine, N processes; the default), "
                   "local-dask[:N] (a Dask LocalCluster of N workers) or dask://HOST:PORT (a Dask scheduler). "
                   "Default: $COMPENGINE_CLOSE_EXECUTOR, else local.")
@lines_option
@progress_option
@pass_ctx
@handles_errors("nothing was changed")
def close_run(ctx: Context, period, through, rep_ids: tuple[str, ...], as_json: bool, no_explain: bool,
              summary: bool, executor_spec: str | None, all_lines: bool, progress: bool | None) -> None:
    """Calculate a month from the ledger and store its payout lines (idempotent).

    Prints the month's payout table (the last month's, with --through); at a
    terminal, a month of more than 5,000 lines as one block per rep (--lines: all).
    Progress (each step; with --through, each month's total) goes to stderr when
    it is a terminal or with --progress.

    \b
    Example:
      compengine close run 2026-10
      compengine close run 2026-01 --through 2026-09 --no-explain
      compengine close run 2026-10 --rep R1
      compengine close run 2026-10 --json > 2026-10.json
      compengine close run 2026-10 --summary
      compengine close run 2026-10 --executor dask://scheduler.example:8786
    """
    from compengine.api import close_executor, filter_reps

    executor = close_executor(executor_spec)  # a bad spec: one line, before the ledger is opened
    ledger = _ledger(ctx, roles=OPS)
    months = months_arg(period, through)
    progress_ = Progress(progress)
    try:
        for p in months:
            result = ledger.run(p, actor=ctx.who, progress=lambda m, p=p: progress_.status(f"close {p}: {m}"),
                                executor=executor)
            if len(months) > 1:
                progress_.line(f"close {p}: {len(result.reps)} reps, total payout {shown(result.total_payout)}"
                               + (f", {len(result.exceptions)} exception(s)" if result.exceptions else ""))
            progress_.clear()
            if len(months) > 1 or as_json:  # every month's exceptions, not only the last one's (printed below)
                for e in result.exceptions:
                    _stderr(f"close {p}: exception: {e}")
            for note in result.notices:
                _stderr(f"close {p}: {note}")
    finally:
        progress_.clear()
        executor.close()
    if rep_ids:
        result = filter_reps(result, rep_ids)
    if as_json:
        for chunk in iter_result_json(result, detail=False):  # a rep at a time: a big month is GBs of JSON
            click.echo(chunk, nl=False)
    else:
        echo_result(result, show_explain=not no_explain, show_lines=not summary, all_lines=all_lines)


@close.command("lock")
@click.argument("period", callback=period_arg)
@click.option("--through", callback=period_arg, default=None,
              help="Lock every month from PERIOD through this one: all of them or, if one is refused, none.")
@click.option("--allow-open-disputes", is_flag=True, help="Lock although disputes are open (recorded in the audit log).")
@click.option("--allow-pending-adjustments", is_flag=True,
              help="Lock although adjustments of the month await a second approval; approved later, they are paid "
                   "in the first open month.")
@click.option("--accept-exceptions", "accept_exceptions", metavar="REASON", default=None,
              help="Lock although the month has exceptions (credit that cannot be paid); the reason is kept on the "
                   "month, in the audit log and shown by reconcile.")
@pass_ctx
@handles_errors("nothing was locked")
def close_lock(ctx: Context, period, through, allow_open_disputes: bool, allow_pending_adjustments: bool,
               accept_exceptions: str | None) -> None:
    """Lock a calculated month: its lines never change again, and a seal is written.

    Refused when the month is open or stale (run it first), an earlier month is
    not locked, it has open disputes, or it has exceptions (credit that cannot
    be paid: a rep without a plan that month, a currency mismatch), each named.

    \b
    Example:
      compengine close lock 2026-10
      compengine close lock 2026-01 --through 2026-09
      compengine close lock 2026-10 --accept-exceptions "R9 left in September; paid by payroll directly"
    """
    months_arg(period, through)  # refuses a range that runs backwards, as a usage error
    totals = _ledger(ctx, roles=OPS).lock(period, through=through, actor=ctx.who, allow_open_disputes=allow_open_disputes,
                               accept_exceptions=accept_exceptions, allow_pending_adjustments=allow_pending_adjustments)
    for p, total, accepted in totals:
        click.echo(f"{p} locked: total payout {shown(total)}" + (" (exceptions accepted)" if accepted else ""))


@close.command("show")
@click.argument("period", callback=period_arg)
@click.option("--rep", "rep_ids", multiple=True, help="Only this rep (repeatable).")
@json_option
@click.option("--no-explain", is_flag=True, help="Leave out the explain sentences in the text output.")
@click.option("--summary", is_flag=True, help="Text output: one block per rep, without the lines.")
@lines_option
@pass_ctx
@handles_errors("nothing to show")
def close_show(ctx: Context, period, rep_ids: tuple[str, ...], as_json: bool, no_explain: bool, summary: bool,
               all_lines: bool) -> None:
    """Print a calculated, stale or locked month as its close run stored it (read-only).

    The same output as `close run`, read from the ledger without calculating or
    writing anything: a locked month can always be read.

    \b
    Example:
      compengine close show 2026-10
      compengine close show 2026-10 --rep R1 --json
    """
    result, status, accepted = _ledger(ctx).show(period, rep_ids)
    if rep_ids and not result.reps:
        raise click.ClickException(f"no rep {', '.join(rep_ids)} in {period}")
    _stderr(f"{period} is {status}" + (": its lines are from before the change that made it stale" if status == "stale" else "")
            + (f"; exceptions accepted at lock: {accepted}" if accepted else ""))
    if as_json:
        for chunk in iter_result_json(result, detail=False):
            click.echo(chunk, nl=False)
    else:
        echo_result(result, show_explain=not no_explain, show_lines=not summary, all_lines=all_lines)


@close.command("reopen")
@click.argument("period", callback=period_arg)
@click.option("--reason", required=True, help="Why the locked month must change (kept in the audit log).")
@pass_ctx
@handles_errors("nothing was changed")
def close_reopen(ctx: Context, period, reason: str) -> None:
    """Reopen the latest locked month, while its payouts have not been exported.

    After `payouts export` the month stays locked: correct it in the next open
    month instead (an adjustment, or import the change and the late change is
    paid there).

    \b
    Example:
      compengine close reopen 2026-10 --reason "Q3 SPIFF rates were loaded for the wrong plan"
    """
    report = _ledger(ctx, roles=OPS).reopen(period, actor=ctx.who, reason=reason)
    click.echo(report.text())


@close.command("start")
@click.argument("period", callback=period_arg)
@click.option("--opening-balances", "opening", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of each rep's balances on the first day: rep_id, ytd_credited, ytd_paid, draw_balance, "
                   "carry_balance[, ytd_deal_type].")
@json_option
@pass_ctx
@handles_errors("nothing was changed")
def close_start(ctx: Context, period, opening: Path | None, as_json: bool) -> None:
    """Make PERIOD the ledger's first month (adopting compengine mid-year).

    Months before it are never required by a close; empty months before it are
    removed; the opening balances carry each rep's year to date, draw and
    carry-forward balances into PERIOD. Only before the ledger's first close.

    \b
    Example:
      compengine close start 2026-07 --opening-balances opening-2026-07.csv
    """
    report = _ledger(ctx, roles=OPS).start(period, actor=ctx.who, opening_balances=opening)
    if as_json:
        echo_json({"first_period": report.period, "opening_balances": report.opening_balances,
                   "removed_placeholders": report.removed_placeholders})
    else:
        click.echo(report.text())


def _amount(ctx: click.Context, param: click.Parameter, value: str) -> Decimal:
    """An amount in any currency (up to three places): the ledger checks it against the rep's currency."""
    try:
        return parse_amount(value, places=3)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


@click.command("adjust")
@click.option("--rep", "rep_id", required=True, help="Rep to adjust.")
@click.option("--period", required=True, callback=period_arg, help="Open month the adjustment is paid in.")
@click.option("--amount", required=True, callback=_amount, help="Amount, e.g. -250.00 or 1200.00.")
@click.option("--reason", required=True, help="Why; shown on the statement.")
@click.option("--deal", "deal_id", default=None, help="Deal it refers to, if any.")
@json_option
@pass_ctx
@handles_errors("nothing was changed")
def adjust(ctx: Context, rep_id: str, period, amount: Decimal, reason: str, deal_id: str | None, as_json: bool) -> None:
    """Add a manual adjustment line to an open month (run the close again to include it).

    \b
    Example:
      compengine adjust --rep R1 --period 2026-11 --amount -250.00 --reason "Duplicate SPIFF in October"
    """
    adj_id, stale = _ledger(ctx, roles=("ops", "finance")).adjust(rep_id, period, amount, reason, actor=ctx.who, deal_id=deal_id)
    if as_json:
        echo_json({"id": adj_id, "rep_id": rep_id, "period": str(period), "amount": f"{amount:.2f}", "reason": reason,
                   "stale": stale})
    else:
        click.echo(f"adjustment {adj_id}: {shown(amount)} for {rep_id} in {period}; run `compengine close run {period}` to include it"
                   + (f" ({', '.join(stale)} now stale)" if stale else ""))


@click.group("payouts")
def payouts() -> None:
    """Payout files for payroll.

    \b
    Example:
      compengine payouts export 2026-10 --out payouts-2026-10.csv
    """


@payouts.command("export")
@click.argument("period", callback=period_arg)
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="CSV file to write; an existing file is replaced (atomically).")
@click.option("--preliminary", is_flag=True, help="Allow an unlocked month; the file is marked PRELIMINARY.")
@pass_ctx
@handles_errors("no file was written")
def payouts_export(ctx: Context, period, out: Path, preliminary: bool) -> None:
    """Write one row per rep (net amount and components) for payroll.

    Each row is in the rep's payout currency (its plan's), named in the currency
    column, with that currency's minor units (JPY 149501, KWD 37.963); the total
    is printed per currency.

    The file is written beside --out and moved over it, so payroll never reads half
    a file; an existing file of that name is replaced. Text cells that a
    spreadsheet would run as a formula (starting with =, +, -, @) get a leading
    single quote; amounts stay numbers.

    \b
    Example:
      compengine payouts export 2026-10 --out payouts-2026-10.csv
      compengine payouts export 2026-11 --out preview.csv --preliminary
    """
    done = _ledger(ctx, roles=("finance",)).export_payouts(period, out, actor=ctx.who, preliminary=preliminary)
    click.echo(f"{out}: {done.count} rep(s), total {done.text()}" + (" (PRELIMINARY)" if preliminary else ""))


@click.command("status")
@json_option
@pass_ctx
def status(ctx: Context, as_json: bool) -> None:
    """Show the company name and the periods of the ledger: state, reps, lines, total payout.

    \b
    Example:
      compengine status
      compengine --db postgresql://127.0.0.1/test status --json
    """
    ledger = _ledger(ctx)
    rows = ledger.status()
    company = ledger.company()
    if as_json:
        echo_json(rows)
        return
    click.echo(f"Company: {company}" if company else
               'Company: (not set; `compengine config set company "Name"` puts it on statements)')
    if not rows:
        click.echo("The ledger is empty: start with `compengine import DATA_DIR --plans PLANS_DIR`.")
        return
    click.echo(f"{'period':<8} {'status':<11} {'reps':>6} {'lines':>9} {'total payout':>16}  locked")
    for r in rows:
        total = shown(Decimal(r['total_payout'])) if r["total_payout"] is not None else "-"
        locked = f"{r['locked_at']} by {r['locked_by']}" if r["locked_at"] else ""
        click.echo(f"{r['period']:<8} {r['status']:<11} {r['reps']:>6} {r['lines']:>9} {total:>16}  {locked}")


@click.command("audit")
@click.option("--period", default=None, callback=period_arg, help="Only this month.")
@click.option("--rep", "rep_id", default=None, help="Only this rep.")
@click.option("--limit", type=int, default=None, help="Only the last N entries.")
@json_option
@pass_ctx
def audit_cmd(ctx: Context, period, rep_id: str | None, limit: int | None, as_json: bool) -> None:
    """Print the audit log: id, who did what, when, with before/after.

    Control characters and newlines in reasons and summaries are printed as
    escapes (\\n), so every entry is one line plus its before/after lines.

    \b
    Example:
      compengine audit --period 2026-10
      compengine audit --rep R1 --json
    """
    rows = _ledger(ctx).audit(month=period, rep_id=rep_id, limit=limit)
    if as_json:
        echo_json(rows)
        return
    # every value printed through one_line: a newline in a reason must not forge an entry
    for r in rows:
        click.echo(f"{r['id']:>6}  {r['at']}  {one_line(r['actor']):<12} {one_line(r['action']):<18} {one_line(r['summary'])}")
        if r["before"] is not None:
            click.echo(f"{'':>8}before: {one_line(r['before'])}")
        if r["after"] is not None:
            click.echo(f"{'':>8}after:  {one_line(r['after'])}")


@click.command("statements")
@click.argument("period", callback=period_arg)
@click.option("--rep", "rep_ids", multiple=True, help="Only this rep (repeatable).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the PDFs [default: out/statements/PERIOD]; a changed statement's PDF is replaced.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Worker processes [default: the number of cores].")
@click.option("--html", is_flag=True, help="Also write each statement's HTML next to its PDF.")
@click.option("--force", is_flag=True, help="Render every statement, even those unchanged since the last run.")
@click.option("--company", envvar="COMPENGINE_COMPANY", default=None,
              help="Company name in the header (or set COMPENGINE_COMPANY) [default: the ledger's, "
                   "`compengine config set company NAME`; none when it is not set].")
@locale_option
@templates_option
@progress_option
@pass_ctx
@handles_errors("no statement was written")
def statements(ctx: Context, period, rep_ids: tuple[str, ...], out_dir: Path | None, jobs: int | None, html: bool,
               force: bool, company: str | None, locale: str | None, templates_dir: Path | None,
               progress: bool | None) -> None:
    """Render one PDF statement per rep for a calculated month, from the ledger.

    A locked month's statements say LOCKED, a calculated one PRELIMINARY. Reruns
    render only the statements whose content changed. The header carries the
    company name stored in the ledger (`compengine config set company NAME`) or
    --company.

    \b
    Example:
      compengine statements 2026-10
      compengine statements 2026-10 --rep R1 --html --out /tmp/statements
      compengine statements 2026-10 --locale de_DE
    """
    import os

    from compengine.cli.statements_cmd import render_with_progress

    items = _ledger(ctx).statement_data(period, company=company, rep_ids=rep_ids, locale=locale)
    if not items:
        raise click.ClickException(f"no rep has a plan in {period}; no statement was written")
    out = out_dir or Path("out") / "statements" / str(period)
    render_with_progress(items, out, jobs or os.cpu_count(), force=force, html=html, templates=templates_dir,
                         progress=progress)
