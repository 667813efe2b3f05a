"""Plan versions: several files of one plan id, each in force over its own dates.

A plan file may carry ``effective_from`` and ``effective_to`` (``YYYY-MM-DD``, both
inclusive). Without ``effective_from`` a file is in force from the beginning of time;
without ``effective_to``, open-ended. A folder may hold several versions of one id
whose ranges do not overlap (gaps are allowed). A month is priced by the version in
force on its last day (:meth:`PlanCatalog.for_month`). See plans/README.md, "Plan versions".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType
from typing import Any

from compengine.core.errors import CompError, Source
from compengine.core.periods import Period, as_period
from compengine.plans.loader import load_plan_file_located, plan_files
from compengine.plans.model import Plan


def version_range(plan: Plan) -> str:
    """``2026-01-01..2026-06-30``, ``2026-07-01..`` (open-ended), ``..2026-06-30``, or ``always``."""
    if plan.effective_from is None and plan.effective_to is None:
        return "always"
    return f"{plan.effective_from or ''}..{plan.effective_to or ''}"


def version_dict(plan: Plan) -> dict[str, Any]:
    """A version as JSON data: its file, its dates (``null`` when open) and the digest of its text."""
    return {
        "file": plan.source.file,
        "effective_from": plan.effective_from.isoformat() if plan.effective_from else None,
        "effective_to": plan.effective_to.isoformat() if plan.effective_to else None,
        "digest": plan.digest,
    }


def is_dated(plan: Plan) -> bool:
    return plan.effective_from is not None or plan.effective_to is not None


def in_force_on(plan: Plan, day: date) -> bool:
    return (plan.effective_from is None or plan.effective_from <= day) and (
        plan.effective_to is None or day <= plan.effective_to)


def _overlap(a: Plan, b: Plan) -> bool:
    a_from, a_to = a.effective_from or date.min, a.effective_to or date.max
    b_from, b_to = b.effective_from or date.min, b.effective_to or date.max
    return a_from <= b_to and b_from <= a_to


def _start(plan: Plan) -> date:
    return plan.effective_from or date.min


class PlanCatalog:
    """Every version of every plan of a folder; each id's versions sorted by ``effective_from``."""

    __slots__ = ("_by_id",)

    def __init__(self, versions: Mapping[str, list[Plan] | tuple[Plan, ...]] | None = None) -> None:
        self._by_id: Mapping[str, tuple[Plan, ...]] = MappingProxyType(
            {pid: tuple(sorted(vs, key=_start)) for pid, vs in (versions or {}).items() if vs})

    def __repr__(self) -> str:
        return f"PlanCatalog({', '.join(f'{pid}: {len(vs)}' for pid, vs in self._by_id.items())})"

    def __contains__(self, plan_id: object) -> bool:
        return plan_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[str]:
        """Plan ids, in the order their first file was read."""
        return list(self._by_id)

    def versions(self, plan_id: str) -> tuple[Plan, ...]:
        """The versions of ``plan_id``, earliest first (empty when the id is unknown)."""
        return self._by_id.get(plan_id, ())

    def in_force(self, plan_id: str, day: date) -> Plan | None:
        """The version of ``plan_id`` in force on ``day`` (None in a gap, before the first or after the last)."""
        for plan in self._by_id.get(plan_id, ()):
            if in_force_on(plan, day):
                return plan
        return None

    def for_month(self, period: Period | str) -> dict[str, Plan]:
        """Each id's version in force on the month's last day; ids with none in force are left out."""
        day = as_period(period).end
        out: dict[str, Plan] = {}
        for pid in self._by_id:
            plan = self.in_force(pid, day)
            if plan is not None:
                out[pid] = plan
        return out

    def latest(self) -> dict[str, Plan]:
        """Each id's last version (the one with the latest ``effective_from``)."""
        return {pid: vs[-1] for pid, vs in self._by_id.items()}

    def describe(self, plan_id: str) -> str:
        """``ae-2026: 2 versions: 2026-01-01..2026-06-30 (plans/ae-h1.yaml), 2026-07-01.. (plans/ae-h2.yaml)``"""
        vs = self.versions(plan_id)
        parts = ", ".join(f"{version_range(p)} ({p.source.file})" for p in vs)
        return f"{plan_id}: {len(vs)} version{'s' if len(vs) != 1 else ''}: {parts}"

    def as_dict(self) -> dict[str, list[dict[str, Any]]]:
        """Every id's versions as JSON data (:func:`version_dict`), earliest first."""
        return {pid: [version_dict(p) for p in vs] for pid, vs in self._by_id.items()}


def load_plan_catalog(folder: Path | str) -> tuple[PlanCatalog, list[CompError]]:
    """Every ``*.yaml`` of a folder as a :class:`PlanCatalog`, and every error found.

    Besides each file's own errors (an ``effective_to`` before its ``effective_from`` among
    them), two versions of one id whose dates overlap are refused: one error per clash,
    at the later file's ``effective_from`` line, naming the other file and line. So is a
    version in another currency than the id's earlier ones. The later file (in name order)
    is left out of the catalog; the earlier one is kept.
    """
    folder = Path(folder)
    if not folder.is_dir():
        return PlanCatalog(), [CompError(Source(str(folder)), "not a folder of plan files")]
    return load_plan_catalog_paths([folder])


def load_plan_catalog_paths(paths: Iterable[Path | str]) -> tuple[PlanCatalog, list[CompError]]:
    """:func:`load_plan_catalog` over plan files and folders of them, checked together (what
    ``compengine plans validate`` reads)."""
    errors: list[CompError] = []
    kept: dict[str, list[tuple[Plan, Source]]] = {}
    for path in map(Path, paths):
        if path.is_dir():
            files = plan_files(path)
            if not files:
                errors.append(CompError(Source(str(path)), "no plan files (*.yaml) in this folder"))
        else:
            files = [path]
        for file in files:
            _add_file(file, kept, errors)
    return PlanCatalog({pid: [p for p, _ in vs] for pid, vs in kept.items()}), errors


def _add_file(path: Path, kept: dict[str, list[tuple[Plan, Source]]], errors: list[CompError]) -> None:
    plan, errs, located = load_plan_file_located(path)
    errors.extend(errs)
    if plan is None:
        return
    here = _dates_source(plan, located.line_of)
    clashes = [(other, there) for other, there in kept.get(plan.id, []) if _overlap(plan, other)]
    for other, there in clashes:
        if not is_dated(plan) and not is_dated(other):
            errors.append(CompError(Source(str(path), plan.source.line, "id"),
                                    f"plan id {plan.id!r} is already used by {other.source}"))
        else:
            errors.append(CompError(here, (
                f"plan {plan.id!r} in force {version_range(plan)} overlaps its version in force "
                f"{version_range(other)} ({there}): versions of one plan must not overlap"
                + (" (a file without effective_from and effective_to is in force always)"
                   if not (is_dated(plan) and is_dated(other)) else ""))))
    if clashes:
        return
    other_currency = next((o for o, _ in kept.get(plan.id, []) if o.currency != plan.currency), None)
    if other_currency is not None:
        errors.append(CompError(Source(str(path), located.line_of(("currency",)), "currency"), (
            f"{plan.currency} but plan {plan.id!r} pays in {other_currency.currency} in its version "
            f"{version_range(other_currency)} ({other_currency.source}): versions of one plan keep its currency "
            f"(a new currency is a new plan id)")))
        return
    kept.setdefault(plan.id, []).append((plan, here))


def _dates_source(plan: Plan, line_of: Any) -> Source:
    """Where a version's dates are written: its effective_from (else effective_to, else its id)."""
    for key in ("effective_from", "effective_to"):
        if getattr(plan, key) is not None:
            return Source(plan.source.file, line_of((key,)), key)
    return Source(plan.source.file, plan.source.line, "id")
