"""Helpers for the engine tests: write a small case as text, load it, compute it.

A case is a plan snippet (YAML) and CSV rows written inline in a test; the helpers
add the CSV headers, write everything under ``tmp_path`` and run the real readers
(``load_plans``, ``read_data_folder``) so the tests exercise the same path as
``compengine calc``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

from compengine.core.money import ZERO, money_str
from compengine.core.periods import Period
from compengine.datafiles import COLUMNS, read_data_folder
from compengine.engine import Dataset, PeriodResult, RepResult, calculate_through
from compengine.plans import Plan, load_plans

HEADERS = {name: ",".join(cols) for name, cols in COLUMNS.items()}


def dedent(text: str) -> str:
    return textwrap.dedent(text).strip() + "\n"


def write_case(
    root: Path,
    plans: dict[str, str],
    *,
    reps: str,
    assignments: str,
    deals: str = "",
    splits: str | None = None,
) -> tuple[Path, Path]:
    """Write plan files and CSVs (rows only; headers are added). Returns (plans_dir, data_dir)."""
    plans_dir = root / "plans"
    data_dir = root / "data"
    plans_dir.mkdir(parents=True, exist_ok=True)
    data_dir.mkdir(parents=True, exist_ok=True)
    for name, text in plans.items():
        (plans_dir / name).write_text(dedent(text), encoding="utf-8")
    files = {"reps.csv": reps, "assignments.csv": assignments, "deals.csv": deals}
    if splits is not None:
        files["splits.csv"] = splits
    for name, rows in files.items():
        body = dedent(rows) if rows.strip() else ""
        (data_dir / name).write_text(HEADERS[name] + "\n" + body, encoding="utf-8")
    return plans_dir, data_dir


def load_case(root: Path, plans: dict[str, str], **csvs: str | None) -> tuple[dict[str, Plan], Dataset]:
    """Write and read a case; fails the test if any file has an error."""
    plans_dir, data_dir = write_case(root, plans, **csvs)  # type: ignore[arg-type]
    loaded, errors = load_plans(plans_dir)
    assert not errors, "\n".join(map(str, errors))
    data, errors = read_data_folder(data_dir, loaded)
    assert not errors, "\n".join(map(str, errors))
    return loaded, data


def months(root: Path, plans: dict[str, str], first: str, last: str, **csvs: str | None) -> dict[str, PeriodResult]:
    """Compute every month from ``first`` through ``last``; results by period text."""
    loaded, data = load_case(root, plans, **csvs)
    results = calculate_through(data, loaded, Period.parse(last), first_wanted=Period.parse(first))
    return {r.period: r for r in results}


def rep(result: PeriodResult, rep_id: str) -> RepResult:
    found = result.rep(rep_id)
    assert found is not None, f"{rep_id} not in {result.period}: {[r.rep_id for r in result.reps]}"
    return found


def table(r: RepResult) -> list[tuple]:
    """A rep's lines as (kind, deal_id, credit, multiplier, amount), decimals as text (money_str never rounds)."""
    return [
        (
            ln.kind,
            ln.deal_id,
            None if ln.credit is None else money_str(ln.credit),
            None if ln.multiplier is None else f"{ln.multiplier:f}",
            money_str(ln.amount),
        )
        for ln in r.lines
    ]


def amounts(r: RepResult) -> list[tuple[str, str | None, str]]:
    """A rep's lines as (kind, deal_id, amount)."""
    return [(ln.kind, ln.deal_id, money_str(ln.amount)) for ln in r.lines]


def comp(r: RepResult, kind: str) -> str:
    return money_str(r.components.get(kind, ZERO))
