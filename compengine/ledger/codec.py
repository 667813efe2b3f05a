"""How engine results are stored: the one definition of a payout line's and a rep month's stored form.

Everything here is derived from the models (``PayoutLineRow``, ``RepPeriod``): the stored
columns (every column but the autoincrement id, in table order), which of them are nullable,
which hold money (:class:`~compengine.ledger.types.Thousandths`, integer thousandths) and which exact
decimals (:class:`~compengine.ledger.types.DecimalText`, canonical text). Engine records map
to columns by field name.

**Encoding** a month's lines for the bulk insert is a hot path (a big close encodes millions
of lines), so the encoders are compiled once, at import, from the column definitions into
plain Python functions (one tuple unpack and one tuple build per line, no per-value calls
but for money and decimals); their source is kept in :data:`GENERATED_SOURCE` for reading.
Lines are stored in one of :data:`LINE_SHAPES`: commission and override lines, almost all
of a big month, leave out the columns that are constant for their kind (the month too is
a constant of the batch); any other line goes whole (:data:`LINE_COLUMNS`). NULLs are
written as the caller's ``null`` token (``store.null_token``).

**Decoding** turns stored rows back into :class:`Line` (by keyword, never by position):
shaped rows as the workers send them (:func:`decode_shaped`), a month's stored lines read as
raw columns (:func:`stored_lines`, through the whole shape's decoder) and a rep month's ORM row
(:func:`rep_result_of`).

**JSON columns** hold what is a list in the engine's records, as deterministic text (keys
sorted, no spaces, decimals as canonical text, never floats; nothing is ``""``):
``rep_periods.parts`` (:func:`parts_text` / :func:`parts_of`: ``RepResult.parts``, a list of
:class:`ComponentMeasure` in the engine's order, each an object keyed by field name),
``rep_periods.component_paid`` (:func:`component_paid_text` / :func:`component_paid_of`:
``RepState.component_paid``, sorted ``[component, period, paid]`` triples) and
``deals.attrs`` / ``deal_events.attrs`` (:func:`attrs_text` / :func:`attrs_of`: ``Deal.attrs``,
an object of text values).
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, fields
from decimal import Decimal
from typing import Any

from sqlalchemy import Integer, Table, column, select

from compengine.core.money import ZERO, from_thousandths, to_thousandths
from compengine.engine.records import COMPONENTS, ComponentMeasure, Line, RepResult, RepState
from compengine.ledger.models import PayoutLineRow, RepPeriod
from compengine.ledger.types import DecimalText, Thousandths


def _stored_columns(table: Table) -> tuple[str, ...]:
    return tuple(c.name for c in table.columns if not (c.primary_key and c.autoincrement is True))


def _kinds(table: Table, names: Sequence[str]) -> dict[str, str]:
    """Each column's storage kind: money, decimal, int or text."""
    out = {}
    for name in names:
        t = table.c[name].type
        out[name] = ("money" if isinstance(t, Thousandths) else "decimal" if isinstance(t, DecimalText)
                     else "int" if isinstance(t, Integer) else "source" if name == "deal_source" else "text")
    return out


_LINES: Table = PayoutLineRow.__table__  # type: ignore[assignment]
_REP_PERIODS: Table = RepPeriod.__table__  # type: ignore[assignment]

# payout_lines: its columns in table order (the autoincrement id left out), as the seals hash them
LINE_COLUMNS: tuple[str, ...] = _stored_columns(_LINES)
NULLABLE_LINE_COLUMNS: tuple[str, ...] = tuple(c for c in LINE_COLUMNS if _LINES.c[c].nullable)
LINE_KINDS: dict[str, str] = _kinds(_LINES, LINE_COLUMNS)
MONEY_LINE_COLUMNS: tuple[str, ...] = tuple(c for c in LINE_COLUMNS if LINE_KINDS[c] == "money")
DECIMAL_LINE_COLUMNS: tuple[str, ...] = tuple(c for c in LINE_COLUMNS if LINE_KINDS[c] == "decimal")

# rep_periods: a rep's month (measures, payout, balances carried to the next month)
REP_PERIOD_COLUMNS: tuple[str, ...] = _stored_columns(_REP_PERIODS)
NULLABLE_REP_PERIOD_COLUMNS: tuple[str, ...] = tuple(c for c in REP_PERIOD_COLUMNS if _REP_PERIODS.c[c].nullable)
REP_PERIOD_KINDS: dict[str, str] = _kinds(_REP_PERIODS, REP_PERIOD_COLUMNS)

_RESULT_FIELDS = {f.name for f in fields(RepResult)}
_STATE_FIELDS = {f.name for f in fields(RepState)}
if set(Line._fields) != set(LINE_COLUMNS):  # pragma: no cover - a model/engine mismatch is a programming error
    raise RuntimeError(f"payout_lines columns {LINE_COLUMNS} do not match Line fields {Line._fields}")
if not set(REP_PERIOD_COLUMNS) <= _RESULT_FIELDS | _STATE_FIELDS | {"period"}:  # pragma: no cover
    raise RuntimeError(f"rep_periods columns {REP_PERIOD_COLUMNS} are not all RepResult/RepState fields")


@dataclass(frozen=True)
class LineShape:
    """A stored form of lines: ``constants`` are left out of the rows (given to the insert as
    literals), ``required`` columns must hold a value (not None or empty) for a line to fit.
    A shape with constants also takes the month as a constant; the last shape (no constants)
    stores every column, the month included."""

    name: str
    constants: dict[str, str | None] = field(default_factory=dict)
    required: tuple[str, ...] = ()

    @property
    def columns(self) -> list[str]:
        """The columns of a row of this shape, in table order."""
        skip = set(self.constants) | ({"period"} if self.constants else set())
        return [c for c in LINE_COLUMNS if c not in skip]

    def insert_constants(self, pstr: str) -> dict[str, str | None]:
        return {"period": pstr, **self.constants} if self.constants else {}


LINE_SHAPES: tuple[LineShape, ...] = (
    LineShape("commission", {"kind": "commission", "ref_period": None, "ref": None}, ("deal_id", "role")),
    LineShape("override", {"kind": "override", "rule": "override.rate", "multiplier": None, "tier": None,
                           "ref_period": None, "ref": None, "role": None, "split_pct": None}, ("deal_id",)),
    LineShape("whole"),
)
WHOLE = len(LINE_SHAPES) - 1


# ------------------------------------------------------------------ value codecs


def canonical_text(value: Decimal) -> str:
    """The canonical text of an exact decimal, as ``types.DecimalText`` stores it."""
    s = str(value)  # plain digits unless exponent notation; f-format only then (str is 4x faster)
    return s if "E" not in s else f"{value:f}"


def _opt(v: Any) -> Any:
    return None if v is None or v == "" else v


def _opt_decimal(v: Any) -> Decimal | None:
    return None if v is None or v == "" else Decimal(v)


def _opt_money(v: Any) -> Decimal | None:
    return None if v is None or v == "" else from_thousandths(v)


# ------------------------------------------------------------------ JSON columns


def _json(value: object) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _decimal_text(v: object) -> str:
    if isinstance(v, Decimal):
        return canonical_text(v)
    if isinstance(v, int) and not isinstance(v, bool):
        return str(v)
    raise TypeError(f"refusing to store {type(v).__name__} {v!r} as an exact decimal")


_MEASURE_DECIMALS = ("quota", "credited", "attainment", "paid")  # ComponentMeasure's Decimal fields
if not set(_MEASURE_DECIMALS) < set(ComponentMeasure._fields):  # pragma: no cover - a programming error
    raise RuntimeError(f"ComponentMeasure fields {ComponentMeasure._fields} changed: update codec._MEASURE_DECIMALS")


def parts_text(parts: Sequence[ComponentMeasure]) -> str:
    """``rep_periods.parts``: the components' measures, in the engine's order ("" when none)."""
    if not parts:
        return ""
    return _json([{k: (_decimal_text(v) if k in _MEASURE_DECIMALS else v) for k, v in zip(ComponentMeasure._fields, m)}
                  for m in parts])


def parts_of(text: str | None) -> list[ComponentMeasure]:
    if not text:
        return []
    return [ComponentMeasure(**{k: (Decimal(d[k]) if k in _MEASURE_DECIMALS else d[k]) for k in ComponentMeasure._fields})
            for d in json.loads(text)]


def component_paid_text(paid: Iterable[tuple[str, str, Decimal]]) -> str:
    """``rep_periods.component_paid``: sorted ``[component, period, paid]`` ("" when none)."""
    rows = sorted((c, p, _decimal_text(v)) for c, p, v in paid)
    return _json(rows) if rows else ""


def component_paid_of(text: str | None) -> tuple[tuple[str, str, Decimal], ...]:
    if not text:
        return ()
    return tuple((c, p, Decimal(v)) for c, p, v in json.loads(text))


def attrs_text(attrs: Iterable[tuple[str, str]]) -> str:
    """A deal's attributes as stored (``deals.attrs``): a JSON object, keys sorted ("" when none)."""
    d = dict(attrs)
    return _json(d) if d else ""


_ATTRS: dict[str, tuple[tuple[str, str], ...]] = {}


def attrs_of(text: str | None) -> tuple[tuple[str, str], ...]:
    """``Deal.attrs`` from its stored text (one tuple per distinct text: a month of deals shares them)."""
    if not text:
        return ()
    out = _ATTRS.get(text)
    if out is None:
        out = tuple(sorted(json.loads(text).items()))
        if len(_ATTRS) < 100_000:
            _ATTRS[text] = out
    return out


JSON_REP_PERIOD_COLUMNS = {"parts": "parts_text(r.parts)", "component_paid": "component_paid_text(r.state.component_paid)"}


def _encode_expr(kind: str, nullable: bool, v: str) -> str:
    """Python expression storing value ``v`` of a column (NULL as ``null``)."""
    if kind == "money":
        return f"(null if {v} is None else to_thousandths({v}))" if nullable else f"to_thousandths({v})"
    if kind == "decimal":
        return f"(null if {v} is None else canonical_text({v}))" if nullable else f"canonical_text({v})"
    if kind == "source":  # a deal's Source (a data folder's) or its text (the ledger's): stored as "file:line"
        return f"(null if {v} is None else {v} if {v}.__class__ is str else str({v}))"
    if not nullable:
        return v
    return f"(null if {v} is None else {v})" if kind == "int" else f"({v} or null)"  # text: '' is stored as NULL too


def _decode_expr(kind: str, nullable: bool, v: str) -> str:
    """Python expression of a column's value ``v`` as a shaped row holds it (NULL as None or '')."""
    if kind == "money":
        return f"_opt_money({v})" if nullable else f"from_thousandths({v})"
    if kind == "decimal":
        return f"_opt_decimal({v})" if nullable else f"Decimal({v})"
    return f"_opt({v})" if nullable else v


# the exact thousandths of a Decimal n/d with d dividing 1000: n x THOUSANDTHS_PER[d] (``money.to_thousandths``,
# inlined in the encoder: one method call and one dict lookup a value; any other d goes through to_thousandths,
# which refuses it)
THOUSANDTHS_PER = {d: 1000 // d for d in range(1, 1001) if 1000 % d == 0}


def _money_statements(var: str, out: str, nullable: bool) -> list[str]:
    """Statements setting ``out`` to the stored thousandths of ``var`` (NULL as ``null``)."""
    body = [f"_r = {var}.as_integer_ratio()",
            "_k = _per(_r[1])",
            f"{out} = _r[0] * _k if _k is not None else to_thousandths({var})"]
    if not nullable:
        return body
    return [f"if {var} is None:", f"    {out} = null", "else:", *(f"    {b}" for b in body)]


def _line_encoder_source() -> str:
    """The encoder of lines into shaped rows. Per line it converts each money value once (inlined) and
    writes each exact decimal's canonical text once per distinct object in a run of lines: a rate,
    multiplier or split percentage that is the same object as the previous line's (the plan's rate,
    the band's multiplier, 100) reuses its text (the same str object, which also keeps the month's
    rows small); nothing else is shared, so the rows are the same values as one conversion per line."""
    var = {c: f"f_{c}" for c in Line._fields}
    decimals = [c for c in LINE_COLUMNS if LINE_KINDS[c] == "decimal"]
    out = ["def shaped_line_rows(lines, pstr, null):",
           f"    rows = {tuple([] for _ in LINE_SHAPES)!r}",
           *(f"    add{i} = rows[{i}].append" for i in range(len(LINE_SHAPES))),
           "    _per = THOUSANDTHS_PER.get",
           *(f"    p_{c} = t_{c} = None" for c in decimals),
           f"    for ({', '.join(var[c] for c in Line._fields)},) in lines:"]
    for i, shape in enumerate(LINE_SHAPES):
        terms = [f"{var[c]} is None" if v is None else f"{var[c]} == {v!r}" for c, v in shape.constants.items()]
        terms += [var[c] for c in shape.required]
        if i == WHOLE:
            out.append("        else:")
        else:
            out.append(f"        {'if' if i == 0 else 'elif'} {' and '.join(terms)}:")
        pre: list[str] = []
        values = []
        for c in shape.columns:
            nullable = c in NULLABLE_LINE_COLUMNS
            if c == "period":
                values.append("pstr")  # the batch's month
            elif c in shape.required:
                values.append(var[c])
            elif c == "amount":
                pre += _money_statements("f_amount", "c_amount", False)
                values.append("c_amount")
            elif c == "base":  # most lines' base is their amount (a multiplier of 1): the same object, converted once
                pre += ["if f_base is f_amount:", "    c_base = c_amount", "else:",
                        *(f"    {b}" for b in _money_statements("f_base", "c_base", True))]
                values.append("c_base")
            elif LINE_KINDS[c] == "money":
                pre += _money_statements(var[c], f"c_{c}", nullable)
                values.append(f"c_{c}")
            elif LINE_KINDS[c] == "decimal":
                miss = f"(t_{c} := canonical_text((p_{c} := {var[c]})))"
                hit = f"t_{c} if {var[c]} is p_{c} else {miss}"
                values.append(f"(null if {var[c]} is None else {hit})" if nullable else f"({hit})")
            else:
                values.append(_encode_expr(LINE_KINDS[c], nullable, var[c]))
        out += [f"            {s}" for s in pre]
        out.append(f"            add{i}(({', '.join(values)},))")
    out.append("    return rows")
    return "\n".join(out) + "\n"


def _line_decoder_source(i: int, shape: LineShape) -> str:
    at = {c: f"row[{n}]" for n, c in enumerate(shape.columns)}
    args = []
    for c in Line._fields:
        if c in shape.constants:
            expr = repr(shape.constants[c])
        elif c == "period" and c not in at:
            expr = "period"
        elif c in shape.required:
            expr = at[c]
        else:
            expr = _decode_expr(LINE_KINDS[c], c in NULLABLE_LINE_COLUMNS, at[c])
        args.append(f"{c}={expr}")
    return (f"def decode_{shape.name}(period, rows):\n"
            f"    return [Line({', '.join(args)}) for row in rows]\n")


def _rep_period_encoder_source() -> str:
    values = []
    for c in REP_PERIOD_COLUMNS:
        if c == "period":
            v = "pstr"
        elif c in JSON_REP_PERIOD_COLUMNS:
            values.append(JSON_REP_PERIOD_COLUMNS[c])
            continue
        elif c == "notes":
            v = 'nl.join(r.notes)'  # lines of text, one column
        elif c in _RESULT_FIELDS:
            v = f"r.{c}"
        else:
            v = f"r.state.{c}"
        values.append(v if c in ("period", "notes") else
                      _encode_expr(REP_PERIOD_KINDS[c], c in NULLABLE_REP_PERIOD_COLUMNS, v))
    return ("def rep_period_rows(reps, pstr, null):\n"
            "    nl = '\\n'\n"
            "    for r in reps:\n"
            f"        yield ({', '.join(values)},)\n")


GENERATED_SOURCE = "\n\n".join([_line_encoder_source(), *(_line_decoder_source(i, s) for i, s in enumerate(LINE_SHAPES)),
                                _rep_period_encoder_source()])
_namespace: dict[str, Any] = {"Line": Line, "Decimal": Decimal, "to_thousandths": to_thousandths,
                              "THOUSANDTHS_PER": THOUSANDTHS_PER, "from_thousandths": from_thousandths,
                              "canonical_text": canonical_text, "_opt": _opt, "_opt_decimal": _opt_decimal,
                              "_opt_money": _opt_money, "parts_text": parts_text,
                              "component_paid_text": component_paid_text}
exec(compile(GENERATED_SOURCE, "<compengine.ledger.codec generated>", "exec"), _namespace)  # noqa: S102

_shaped_line_rows: Callable[..., tuple[list[tuple], ...]] = _namespace["shaped_line_rows"]
_DECODERS: tuple[Callable[[str, list[tuple]], list[Line]], ...] = tuple(_namespace[f"decode_{s.name}"] for s in LINE_SHAPES)
# payout_lines' stored columns as untyped SQL columns (raw values: integer thousandths, decimal text), the
# whole shape's row that ``decode_whole`` reads by position (its source is generated from the same list)
_RAW_LINE_COLUMNS = tuple(column(c) for c in LINE_SHAPES[WHOLE].columns)
_REP_AT = LINE_SHAPES[WHOLE].columns.index("rep_id")


def stored_lines(session: Any, period: str, rep_ids: Iterable[str] = ()) -> dict[str, list[Line]]:
    """A month's stored lines by rep, each rep's in ``seq`` order (only ``rep_ids``' when given). Read as
    raw column values (untyped columns: no per-value result processing) and decoded by the generated
    whole-row decoder, the one the close's shaped rows use: an ORM object costs about 30 us to build (14 ms
    of a 31 ms 502-line statement in the portal), a typed row read by name about 7 us a line."""
    q = select(*_RAW_LINE_COLUMNS).select_from(_LINES).where(PayoutLineRow.period == period).order_by(
        PayoutLineRow.rep_id, PayoutLineRow.seq)
    wanted = sorted(set(rep_ids))
    if wanted:
        q = q.where(PayoutLineRow.rep_id.in_(wanted))
    rows: dict[str, list[tuple]] = defaultdict(list)
    for row in session.execute(q):
        rows[row[_REP_AT]].append(row)
    decode = _DECODERS[WHOLE]
    return defaultdict(list, {rep: decode(period, rep_rows) for rep, rep_rows in rows.items()})


rep_period_rows: Callable[[Iterable[RepResult], str, object], Iterator[tuple]] = _namespace["rep_period_rows"]
rep_period_rows.__doc__ = "The ``rep_periods`` rows (:data:`REP_PERIOD_COLUMNS`) of a month's results; NULLs as ``null``."


# ------------------------------------------------------------------ encoding


def shaped_line_rows(lines: Iterable[Line], pstr: str, null: object) -> tuple[list[tuple], ...]:
    """Lines of month ``pstr`` as stored rows, one list per :data:`LINE_SHAPES` (NULLs as ``null``)."""
    return _shaped_line_rows(lines, pstr, null)


def shaped_batches(reps: Iterable[RepResult], pstr: str, null: object, size: int = 20_000,
                   counts: list[tuple[int, ...]] | None = None) -> Iterator[tuple[int, list[tuple]]]:
    """``(shape, rows)`` batches of about ``size`` rows of the reps' lines, in rep order within a
    shape. ``counts``, if given, receives each rep's row count per shape."""
    batches: list[list[tuple]] = [[] for _ in LINE_SHAPES]
    for r in reps:
        shaped = shaped_line_rows(r.lines, pstr, null)
        for shape, rows in enumerate(shaped):
            batch = batches[shape]
            batch.extend(rows)
            if len(batch) >= size:
                yield shape, batch
                batches[shape] = []  # the consumer may keep the batch it was given
        if counts is not None:
            counts.append(tuple(len(rows) for rows in shaped))
    for shape, batch in enumerate(batches):
        if batch:
            yield shape, batch


# ------------------------------------------------------------------ decoding


def decode_shaped(period: str, rows: Sequence[list[tuple]]) -> list[Line]:
    """A rep's shaped rows (one list per :data:`LINE_SHAPES`) back into its lines, in seq order."""
    lines: list[Line] = []
    for decode, shape_rows in zip(_DECODERS, rows):
        if shape_rows:
            lines += decode(period, shape_rows)
    lines.sort(key=lambda ln: ln.seq)
    return lines


def decode_line(row: Sequence[Any]) -> Line:
    """A whole ``payout_lines`` row (:data:`LINE_COLUMNS`) back into a Line."""
    return _DECODERS[WHOLE]("", [row])[0]


def rep_result_of(rp: RepPeriod, lines: list[Line]) -> RepResult:
    """A rep's month as stored (its ``rep_periods`` row and lines) as the :class:`RepResult` the close returned."""
    components = {k: ZERO for k in COMPONENTS}
    for ln in lines:
        components[ln.kind] = components.get(ln.kind, ZERO) + ln.amount
    values = {c: getattr(rp, c) for c in REP_PERIOD_COLUMNS}
    values["parts"] = parts_of(values["parts"])
    values["component_paid"] = component_paid_of(values["component_paid"])
    state = RepState(**{f: values[f] for f in _STATE_FIELDS})
    kept = {f: values[f] for f in _RESULT_FIELDS & set(REP_PERIOD_COLUMNS) if f != "notes"}
    return RepResult(**kept, lines=lines, components=components, state=state,
                     notes=rp.notes.split("\n") if rp.notes else [])
