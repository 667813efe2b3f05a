"""Read plan files: YAML text -> :class:`PlanSpec` with every error located.

Numbers are read as ``Decimal`` from their text (never through float). Each
value's line is remembered so a validation error reads
``plans/ae.yaml:14: accelerators.tiers[1].upto: must be greater than 1.0``.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from compengine.core.errors import CompError, Source
from compengine.plans.model import Plan, compile_plan
from compengine.plans.schema import LocatedError, PlanSpec

Loc = tuple[str | int, ...]


class _Located:
    """Python data built from a YAML node tree, plus the line of every path."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}

    def build(self, node: yaml.Node, loc: Loc = ()) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = self.build(knode, loc + ("<key>",))
                self.lines[loc + (str(key),)] = knode.start_mark.line + 1  # a duplicate points at itself
                if key in out:
                    raise LocatedError(loc + (str(key),), f"duplicate key {key!r}")
                out[key] = self.build(vnode, loc + (str(key),))
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(v, loc + (i,)) for i, v in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        try:
            return _scalar(node)
        except LocatedError as exc:
            raise LocatedError(loc + exc.loc, exc.message) from None

    def line_of(self, loc: Loc) -> int | None:
        loc = tuple(loc)
        while loc:
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())


_DECIMAL_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag == "tag:yaml.org,2002:float":
        try:
            return Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            raise LocatedError((), f"not a number: {node.value!r}") from None
    if tag == "tag:yaml.org,2002:int":
        text = node.value.replace("_", "")
        if not _DECIMAL_INT.match(text):  # YAML 1.1 also reads 010 as octal, 1:30 as base 60, 0x1F ...
            raise LocatedError((), f"not a plain decimal number: {node.value!r}")
        return int(text)
    if tag == "tag:yaml.org,2002:bool":
        return node.value.lower() in ("true", "yes", "on")
    if tag == "tag:yaml.org,2002:null":
        return None
    if tag == "tag:yaml.org,2002:timestamp":
        return node.value
    return node.value


def loc_text(loc: Iterable[str | int]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def parse_plan_text(text: str, file: str) -> tuple[PlanSpec | None, list[CompError], _Located]:
    located = _Located()
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or str(exc)
        return None, [CompError(Source(file, line), f"not valid YAML: {problem}")], located
    if node is None:
        return None, [CompError(Source(file, 1), "the file is empty")], located
    try:
        data = located.build(node)
    except LocatedError as exc:
        return None, [CompError(Source(file, located.line_of(exc.loc), loc_text(exc.loc) or None), exc.message)], located
    if not isinstance(data, dict):
        return None, [CompError(Source(file, 1), "a plan file must be a mapping of keys")], located
    try:
        return PlanSpec.model_validate(data), [], located
    except ValidationError as exc:
        return None, _errors_from_validation(exc, file, located), located


def _errors_from_validation(exc: ValidationError, file: str, located: _Located) -> list[CompError]:
    errors: list[CompError] = []
    for err in exc.errors():
        loc: Loc = tuple(p for p in err["loc"] if p not in ("function-after",))
        message = err["msg"]
        ctx_err = (err.get("ctx") or {}).get("error")
        if isinstance(ctx_err, LocatedError):
            loc = loc + ctx_err.loc
            message = ctx_err.message
        elif err["type"] == "extra_forbidden":
            message = f"unknown key {loc[-1]!r}"
        elif err["type"] == "missing":
            message = "is required"
        elif message.startswith("Value error, "):
            message = message[len("Value error, ") :]
        if message and message[0].isupper() and err["type"] != "missing":
            message = message[0].lower() + message[1:]
        errors.append(CompError(Source(file, located.line_of(loc), loc_text(loc) or None), message))
    return errors


def load_plan_file(path: Path | str) -> tuple[Plan | None, list[CompError]]:
    path = Path(path)
    text = path.read_text(encoding="utf-8")
    return load_plan_text(text, str(path))


def load_plan_text(text: str, file: str) -> tuple[Plan | None, list[CompError]]:
    spec, errors, located = parse_plan_text(text, file)
    if spec is None:
        return None, errors
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # a plan is located at its id (the line a duplicate-id error points to)
    return compile_plan(spec, Source(file, located.line_of(("id",)), None), text, digest), []


def plan_files(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_plans(folder: Path | str) -> tuple[dict[str, Plan], list[CompError]]:
    """Load every ``*.yaml`` in a folder. Returns plans by id and every error found."""
    folder = Path(folder)
    if not folder.is_dir():
        return {}, [CompError(Source(str(folder)), "not a folder of plan files")]
    plans: dict[str, Plan] = {}
    errors: list[CompError] = []
    files = plan_files(folder)
    if not files:
        errors.append(CompError(Source(str(folder)), "no plan files (*.yaml) in this folder"))
    for path in files:
        plan, errs = load_plan_file(path)
        errors.extend(errs)
        if plan is None:
            continue
        if plan.id in plans:
            first = plans[plan.id].source
            errors.append(
                CompError(Source(str(path), plan.source.line, "id"), f"plan id {plan.id!r} is already used by {first}")
            )
            continue
        plans[plan.id] = plan
    return plans, errors
