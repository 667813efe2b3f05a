"""``compengine plans``: validate and show plan files."""

from __future__ import annotations

from pathlib import Path

import click

from compengine.cli.common import echo_json, handles_errors, json_option
from compengine.core.errors import CompErrors
from compengine.api import load_plan_catalog_paths, load_plan_file
from compengine.api import example_errors, rate_warnings, run_plan_examples, version_range


@click.group()
def plans() -> None:
    """Check and inspect plan files.

    \b
    Example:
      compengine plans validate plans/
    """


@plans.command("validate")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def validate(paths: tuple[Path, ...], as_json: bool) -> None:
    """Validate plan files or folders of them; print every error as file:line: field: message.

    A plan may have several versions (files of one id with effective_from/effective_to):
    each id's versions are listed with their dates; versions whose dates overlap, or
    a version that ends before it starts, are errors. So is an example (examples:) whose
    payout is not what it expects (compengine plans test shows them all). A rate above
    1.0 (100%) is a warning (almost always 10 written for 0.10); the exit code stays 0.

    \b
    Example:
      compengine plans validate plans/
      compengine plans validate plans/ae.yaml
    """
    catalog, errors = load_plan_catalog_paths(paths)
    ids = sorted(catalog.ids())
    errors = errors + example_errors(_versions(catalog))
    warnings = [w for pid in ids for version in catalog.versions(pid) for w in rate_warnings(version.source.file)]
    if as_json:
        versions = catalog.as_dict()
        echo_json({"ok": not errors, "plans": ids, "versions": {pid: versions[pid] for pid in ids},
                   "errors": [str(e) for e in errors], "warnings": [str(w) for w in warnings]})
        if errors:
            raise SystemExit(1)
        return
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if errors:
        for e in errors:
            click.echo(str(e), err=True)
        raise click.ClickException(f"{len(errors)} error(s) in plan files")
    for pid in ids:
        (only, *more) = catalog.versions(pid)
        if more or version_range(only) != "always":
            click.echo(f"ok  {catalog.describe(pid)}")
        else:
            click.echo(f"ok  {pid:<24} {only.source.file}")
        for version in catalog.versions(pid):  # a v2 plan: one line per component (a v1 plan prints none)
            if version.v2 and more:
                click.echo(f"    {version.source.file}:")
            for c in version.components:
                click.echo(f"    {'  ' if more else ''}{c.describe()}")
    n_versions = sum(len(catalog.versions(pid)) for pid in ids)
    click.echo(f"{len(ids)} plan(s) valid" + (f" ({n_versions} versions)" if n_versions > len(ids) else ""))


def _versions(catalog):  # noqa: ANN001, ANN202
    """Every version of every plan, by file."""
    return sorted((v for pid in catalog.ids() for v in catalog.versions(pid)), key=lambda v: v.source.file)


@plans.command("test")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@json_option
def examples_cmd(paths: tuple[Path, ...], as_json: bool) -> None:
    """Run the examples plan files carry (examples:) and compare each with its expected payout.

    Each example is priced by the engine on a one-rep company (plans/README.md, "Examples:
    plans that prove themselves"). A failing example is printed as file:line with what it
    expected and what the engine gave; exit code 1 when any fails or a plan file is invalid.

    \b
    Example:
      compengine plans test plans/
      compengine plans test plans/ae.yaml --json
    """
    catalog, errors = load_plan_catalog_paths(paths)
    versions = _versions(catalog)
    outcomes = run_plan_examples(versions)
    failed = [o for o in outcomes if not o.ok]
    if as_json:
        echo_json({"ok": not errors and not failed, "errors": [str(e) for e in errors],
                   "files": [{"file": v.source.file, "plan": v.id, "examples": len(v.examples),
                              "failed": sum(1 for o in failed if o.file == v.source.file)} for v in versions],
                   "examples": [o.as_dict() for o in outcomes]})
        if errors or failed:
            raise SystemExit(1)
        return
    for e in errors:
        click.echo(str(e), err=True)
    for v in versions:
        mine = [o for o in failed if o.file == v.source.file]
        for o in mine:
            click.echo(str(o), err=True)
        if not v.examples:
            click.echo(f"--  {v.source.file}: no examples")
        elif not mine:
            click.echo(f"ok  {v.source.file}: {len(v.examples)} example(s)")
    if errors:
        raise click.ClickException(f"{len(errors)} error(s) in plan files"
                                   + (f"; {len(failed)} of {len(outcomes)} example(s) failed" if failed else ""))
    if failed:
        raise click.ClickException(f"{len(failed)} of {len(outcomes)} example(s) failed")
    click.echo(f"{len(outcomes)} example(s) in {len(versions)} plan file(s) pass")


@plans.command("show")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@handles_errors("nothing to show")
def show(path: Path) -> None:
    """Show how a plan file is understood: quota, rates, bands, ramp and the rest.

    \b
    Example:
      compengine plans show plans/ae.yaml
    """
    plan, errs = load_plan_file(path)
    if plan is None:
        raise CompErrors(errs)
    click.echo(f"{plan.id}: {plan.name} ({plan.currency}, rounding {plan.rounding})")
    if version_range(plan) != "always":
        click.echo(f"  in force: {version_range(plan)} (a version: plans/README.md, \"Plan versions\")")
    if plan.v2:
        click.echo(f"  quota: {plan.annual_quota:,} a year unless a component sets its own")
        for c in plan.components:
            click.echo(f"  component {c.describe()}")
            if c.type == "bonus":
                points = (f"{p.attainment * 100:.0f}% -> {p.pct * 100:.0f}%" for p in c.curve)
                click.echo("    curve: " + ", ".join(points))
                continue
            if c.rates:
                click.echo("    rates: " + ", ".join(f"{k} {v}" for k, v in c.rates.items()))
            for r in c.rate_rules:
                what = f"rate {r.rate}" if r.rate is not None else f"{r.amount_per_deal} per deal"
                click.echo(f"    rule {r.index + 1}: {' '.join(w.text() for w in r.when) or 'every credit'}: {what}")
            for t in c.tiers if len(c.tiers) > 1 else ():
                click.echo(f"    {t.label()}: x{t.multiplier}")
    else:
        click.echo(f"  quota: {plan.annual_quota:,} a year, measured per {plan.measure}")
        click.echo("  rates: " + ", ".join(f"{k} {v}" for k, v in plan.rates.items()))
        click.echo(f"  accelerators ({plan.mode}):")
        for t in plan.tiers:
            click.echo(f"    {t.label()}: x{t.multiplier}")
    for s in plan.ramp:
        click.echo(f"  ramp: tenure months {s.first}-{s.last} at {s.quota_pct}% of quota")
    if plan.cap:
        click.echo(f"  cap: {plan.cap:,} a month on commission")
    for sp in plan.spiffs:
        click.echo(f"  spiff {sp.id}: {sp.amount}")
    if plan.clawback_days is not None:
        click.echo(f"  clawback: cancellations within {plan.clawback_days} days")
        for step in plan.clawback_schedule:
            click.echo(f"    up to {step.upto_days} days after close: {step.pct}% reversed")
        if plan.clawback_prorate == "term":
            click.echo("    the unexpired share of the deal's term reversed")
    if plan.draw:
        click.echo(f"  draw: {plan.draw.amount} a month for {plan.draw.months} months, "
                   f"{'recoverable' if plan.draw.recoverable else 'non-recoverable'}")
    if len(plan.override_levels) > 1 or (plan.override_levels and plan.override_base != "credit"):
        click.echo("  override: " + ", ".join(f"level {i} {r}" for i, r in enumerate(plan.override_levels, start=1))
                   + f" on reports' {plan.override_base}")
    elif plan.override_rate is not None:
        click.echo(f"  override: {plan.override_rate} on direct reports' credit")
    if plan.negative != "carry":
        click.echo("  payout: a negative month is paid (not carried forward)")
    if plan.examples:
        click.echo(f"  examples: {len(plan.examples)} (run them: compengine plans test {plan.source.file})")
