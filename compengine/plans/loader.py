"""Read plan files: YAML text -> :class:`PlanSpec` with every error located.

Numbers are read as ``Decimal`` from their text (never through float). Each
value's line is remembered so a validation error reads
``plans/ae.yaml:14: accelerators.tiers[1].upto: must be greater than 1.0``.

A plan file is small, so anything that is not is refused before it costs time or
memory (``plans/README.md``, "Limits"): files over :data:`MAX_PLAN_BYTES`, YAML
aliases (``*name``: a 570-byte "billion laughs" file expands to gigabytes),
nesting deeper than :data:`MAX_DEPTH`, more than :data:`MAX_NODES` values, numbers longer than
:data:`~compengine.core.money.MAX_NUMBER_CHARS` characters or written with an exponent.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from compengine.core.errors import CompError, Source
from compengine.core.money import MAX_NUMBER_CHARS
from compengine.plans.model import Plan, compile_plan
from compengine.plans.schema import LocatedError, PlanSpec

Loc = tuple[str | int, ...]

MAX_PLAN_BYTES = 1_000_000  # a real plan is a few kilobytes
MAX_DEPTH = 20  # levels of nested mappings and lists; a plan uses four
MAX_NODES = 10_000  # values, keys, mappings and lists; a plan has a hundred or two


class _Refused(yaml.YAMLError):
    """A plan file that is refused for its shape (not its YAML syntax)."""

    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _PlanLoader(yaml.SafeLoader):
    """SafeLoader's composer, refusing aliases and deep nesting before they are expanded."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0
        self._nodes = 0

    def compose_node(self, parent, index):  # noqa: ANN001, ANN201
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(f"YAML aliases (*{event.anchor}) are not allowed in plan files: write the value out",
                           event.start_mark)
        self._depth += 1
        self._nodes += 1
        try:
            if self._nodes > MAX_NODES:
                raise _Refused(f"more than {MAX_NODES:,} values: too big for a plan file", self.peek_event().start_mark)
            if self._depth > MAX_DEPTH:
                raise _Refused(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


class _Located:
    """Python data built from a YAML node tree, plus the line of every path (a key's own line for a
    mapping key, the item's line for a list item)."""

    def __init__(self) -> None:
        self.lines: dict[Loc, int] = {}
        self.key_lines: dict[Loc, int] = {}

    def build(self, node: yaml.Node, loc: Loc = ()) -> Any:
        self.lines[loc] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for knode, vnode in node.value:
                key = self.build(knode, loc + ("<key>",))
                self.lines[loc + (str(key),)] = knode.start_mark.line + 1  # a duplicate points at itself
                self.key_lines[loc + (str(key),)] = knode.start_mark.line + 1
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
        """The line of a key path (a key's own line, not its value's), else of the nearest enclosing one."""
        loc = tuple(loc)
        while loc:
            if loc in self.key_lines:
                return self.key_lines[loc]
            if loc in self.lines:
                return self.lines[loc]
            loc = loc[:-1]
        return self.lines.get(())

    def paths(self) -> dict[str, int]:
        """Every key path of the file as text (``components[0].rate_rules[1]``) with its line."""
        return {loc_text(loc): self.key_lines.get(loc, line) for loc, line in self.lines.items()
                if loc and "<key>" not in loc}


_DECIMAL_INT = re.compile(r"^[-+]?(0|[1-9][0-9]*)$")


_EXPONENT = re.compile(r"[eE]")


def _scalar(node: yaml.ScalarNode) -> Any:
    tag = node.tag
    if tag in ("tag:yaml.org,2002:float", "tag:yaml.org,2002:int") and len(node.value) > MAX_NUMBER_CHARS:
        raise LocatedError((), f"number {node.value[:12] + '...'!r} is too long ({len(node.value):,} characters, "
                               f"at most {MAX_NUMBER_CHARS})")
    if tag == "tag:yaml.org,2002:float":
        if _EXPONENT.search(node.value) and not node.value.lower().endswith(("inf", "nan")):
            raise LocatedError((), f"not a plain number {node.value!r}: write it in digits, without an exponent")
        try:
            d = Decimal(node.value.replace("_", ""))
        except InvalidOperation:
            raise LocatedError((), f"not a number: {node.value!r}") from None
        if not d.is_finite():
            raise LocatedError((), f"not a number: {node.value!r}")
        return d
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
    if len(text) > MAX_PLAN_BYTES:
        return None, [CompError(Source(file), f"too big for a plan file ({len(text):,} characters, "
                                              f"at most {MAX_PLAN_BYTES:,})")], located
    try:
        node = yaml.compose(text, Loader=_PlanLoader)
    except _Refused as exc:
        line = exc.mark.line + 1 if exc.mark is not None else None
        return None, [CompError(Source(file, line), exc.message)], located
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
        # amounts are checked in the plan currency's minor units (schema._money)
        return PlanSpec.model_validate(data, context={"currency": data.get("currency")}), [], located
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


def read_plan_file(path: Path) -> tuple[str | None, CompError | None]:
    """A plan file's text, or why it cannot be read: too big (checked before reading), not UTF-8."""
    try:
        size = path.stat().st_size
        if size > MAX_PLAN_BYTES:
            return None, CompError(Source(str(path)), f"too big for a plan file ({size:,} bytes, at most {MAX_PLAN_BYTES:,})")
        return path.read_bytes().decode("utf-8"), None
    except OSError as exc:
        return None, CompError(Source(str(path)), f"cannot read: {exc.strerror}")
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        return None, CompError(Source(str(path), line), "not UTF-8 text: save the plan file as UTF-8")


def load_plan_file(path: Path | str) -> tuple[Plan | None, list[CompError]]:
    plan, errors, _ = load_plan_file_located(path)
    return plan, errors


def load_plan_file_located(path: Path | str) -> tuple[Plan | None, list[CompError], _Located]:
    """:func:`load_plan_file`, plus the line of every key (``.line_of(("effective_from",))``)."""
    path = Path(path)
    text, error = read_plan_file(path)
    if text is None:
        return None, [error], _Located()  # type: ignore[list-item]
    return _load_text(text, str(path))


def load_plan_text(text: str, file: str) -> tuple[Plan | None, list[CompError]]:
    plan, errors, _ = _load_text(text, file)
    return plan, errors


PLAN_CACHE_SIZE = 256
_cache: OrderedDict[tuple[str, str], tuple[Plan | None, tuple[CompError, ...]]] = OrderedDict()
_cache_lock = threading.Lock()


def compile_cached(text: str, file: str, digest: str | None = None) -> tuple[Plan | None, list[CompError]]:
    """:func:`load_plan_text`, compiled once per process for each (version digest, file).

    A stored plan version never changes (its digest is the SHA-256 of its text), and a compiled
    :class:`Plan` is frozen, so the ledger's readers (a close and each late-change month, statement
    runs, reconcile, the portal) share one compiled plan instead of parsing the YAML again each time.
    ``digest``: the stored version's, when known (else computed from the text). An LRU of
    :data:`PLAN_CACHE_SIZE` versions (``benchmarks/bench_plan_cache.py`` measures it).
    """
    key = (digest or hashlib.sha256(text.encode("utf-8")).hexdigest(), file)
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
    if hit is None:
        plan, errors = load_plan_text(text, file)
        hit = (plan, tuple(errors))
        with _cache_lock:
            _cache[key] = hit
            while len(_cache) > PLAN_CACHE_SIZE:
                _cache.popitem(last=False)
    return hit[0], list(hit[1])


def compile_cache_clear() -> None:
    with _cache_lock:
        _cache.clear()


def _load_text(text: str, file: str) -> tuple[Plan | None, list[CompError], _Located]:
    spec, errors, located = parse_plan_text(text, file)
    if spec is None:
        return None, errors, located
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    # a plan is located at its id (the line a duplicate-id error points to)
    return (compile_plan(spec, Source(file, located.line_of(("id",)), None), text, digest, located.line_of,
                         located.paths()), [], located)


def rate_warnings(path: Path | str) -> list[CompError]:
    """Rates above 1.0 (100%) in a valid plan file: allowed, but almost always a percent
    written where a fraction belongs (``10`` for ``0.10``)."""
    path = Path(path)
    text, _ = read_plan_file(path)
    if text is None:
        return []
    spec, _, located = parse_plan_text(text, str(path))
    if spec is None:
        return []
    rates: list[tuple[Loc, Decimal]] = []
    if spec.rates is not None:
        rates += [(("rates", k), v) for k, v in spec.rates.model_dump().items()]
    for i, c in enumerate(spec.components or ()):
        if c.rates is not None:
            rates += [(("components", i, "rates", k), v) for k, v in c.rates.model_dump().items()]
        if c.rate is not None:
            rates.append((("components", i, "rate"), c.rate))
        rates += [(("components", i, "rate_rules", j, "rate"), r.rate) for j, r in enumerate(c.rate_rules)
                  if r.rate is not None]
    if spec.override is not None:
        if spec.override.rate is not None:
            rates.append((("override", "rate"), spec.override.rate))
        rates += [(("override", "levels", j), v) for j, v in enumerate(spec.override.levels or ())]
    return [
        CompError(Source(str(path), located.line_of(loc), loc_text(loc)),
                  f"{value} is above 1.0 (100%): a rate is a fraction, 10% is 0.10")
        for loc, value in rates if value > 1
    ]


def plan_files(folder: Path | str) -> list[Path]:
    folder = Path(folder)
    return sorted(p for p in folder.iterdir() if p.suffix in (".yaml", ".yml") and p.is_file())


def load_plans(folder: Path | str) -> tuple[dict[str, Plan], list[CompError]]:
    """Load every ``*.yaml`` in a folder. Returns plans by id and every error found.

    A folder holding several versions of one plan (``effective_from``/``effective_to``, see
    :mod:`compengine.plans.catalog`) gives each id's latest version; with one file per id, every plan."""
    from compengine.plans.catalog import load_plan_catalog

    catalog, errors = load_plan_catalog(folder)
    return catalog.latest(), errors
