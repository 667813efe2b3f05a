"""The close's cheaper paths store exactly what the plain ones did (issue 14: the close's speed and memory).

* The generated line encoder (``codec.shaped_line_rows``: money converted inline, a decimal's text
  reused while the same object repeats) gives, value for value, what a plain per-column encoding
  written here from the column types gives: integer thousandths for money, ``f"{d:f}"`` for exact
  decimals (what ``types.DecimalText`` binds), text or NULL for the rest.
* The close in one process encodes and stores each rep's lines as they are made
  (``workers.store_rep_by_rep``): the same batches in the same order as ``codec.shaped_batches`` of
  the whole month, so the same rows with the same row ids as storing ``calculate()``'s result.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compengine.core.errors import Source
from compengine.core.money import to_thousandths
from compengine.core.periods import Period
from compengine.engine.records import Line, RepResult, RepState
from compengine.ledger import import_folder, lock_period, run_close, transaction
from compengine.ledger.codec import (
    LINE_COLUMNS,
    LINE_KINDS,
    LINE_SHAPES,
    NULLABLE_LINE_COLUMNS,
    decode_shaped,
    shaped_batches,
    shaped_line_rows,
)
from compengine.ledger.inputs import load_inputs
from compengine.ledger.workers import StoredLines, store_rep_by_rep

REPO = Path(__file__).resolve().parents[1]
D = Decimal


def plain_shape(ln: Line) -> int:
    """Which stored form a line takes, written out from LINE_SHAPES' documented rules."""
    if ln.kind == "commission" and ln.ref_period is None and ln.ref is None and ln.deal_id and ln.role:
        return 0
    if (ln.kind == "override" and ln.rule == "override.rate" and ln.deal_id and ln.multiplier is None and ln.tier is None
            and ln.ref_period is None and ln.ref is None and ln.role is None and ln.split_pct is None):
        return 1
    return 2


def plain_value(column: str, value: object, null: object) -> object:
    """One column's stored value, from its type alone."""
    if value is None:
        return null
    kind = LINE_KINDS[column]
    if kind == "money":
        return to_thousandths(value)  # type: ignore[arg-type]
    if kind == "decimal":
        return f"{value:f}"
    if kind == "source":
        return str(value)
    if kind == "text" and column in NULLABLE_LINE_COLUMNS and value == "":
        return null
    return value


def plain_rows(lines: list[Line], pstr: str, null: object) -> tuple[list[tuple], ...]:
    out: tuple[list[tuple], ...] = tuple([] for _ in LINE_SHAPES)
    for ln in lines:
        shape = plain_shape(ln)
        values = ln._asdict() | {"period": pstr}
        out[shape].append(tuple(plain_value(c, values[c], null) for c in LINE_SHAPES[shape].columns))
    return out


def whole_row(ln: Line, null: object) -> tuple:
    values = ln._asdict()
    return tuple(plain_value(c, values[c], null) for c in LINE_COLUMNS)


# amounts in 0, 2 and 3 places (JPY, USD, KWD), as the engine makes them
money = st.builds(lambda n, places: Decimal(n).scaleb(-places), st.integers(-10**9, 10**9), st.sampled_from([0, 2, 3]))
decimal_pool = [D("0.10"), D("0.1"), D("1.0"), D("1.5"), D("100"), D("12.5"), D("0.025"), D("1E+2"), D("2.50")]


@st.composite
def line_lists(draw: st.DrawFn) -> list[Line]:
    """Lines of every shape, where rates, multipliers and split percentages are sometimes the same object
    as the previous line's (as the engine shares them) and sometimes equal values in other objects."""
    out: list[Line] = []
    prev: dict[str, Decimal | None] = {"rate": None, "multiplier": None, "split_pct": None}
    for seq in range(1, draw(st.integers(0, 12)) + 1):
        kind = draw(st.sampled_from(["commission", "commission", "override", "spiff", "adjustment", "clawback"]))
        dec = {}
        for name in prev:
            how = draw(st.sampled_from(["same", "copy", "new", "none"]))
            if how == "same" and prev[name] is not None:
                dec[name] = prev[name]
            elif how == "none":
                dec[name] = None
            else:  # a fresh object (an equal value to another line's, or not)
                dec[name] = Decimal(str(draw(st.sampled_from(decimal_pool))))
            prev[name] = dec[name]
        amount = draw(money)
        base_how = draw(st.sampled_from(["same", "equal", "other", "none"]))
        base = {"same": amount, "equal": Decimal(str(amount)), "other": draw(money), "none": None}[base_how]
        deal = draw(st.sampled_from([None, "D1", "D2"]))
        if kind == "override":
            dec["multiplier"] = dec["split_pct"] = None
        out.append(Line(
            rep_id="R1", period="2026-10", seq=seq, kind=kind, amount=amount, deal_id=deal,
            credit=draw(st.one_of(st.none(), money)), rate=dec["rate"], multiplier=dec["multiplier"],
            tier=draw(st.sampled_from([None, 1, 2])),
            rule=draw(st.sampled_from(["override.rate", "rates.new_logo", "spiffs.x", "manual"])), explain=f"line {seq}",
            ref_period=draw(st.sampled_from([None, "2026-09"])), ref=draw(st.sampled_from([None, "", "adjustment:1"])),
            role=None if kind == "override" else draw(st.sampled_from([None, "primary", "overlay"])),
            split_pct=dec["split_pct"], component=draw(st.sampled_from([None, "", "commission", "new_business"])),
            base=base, deal_source=draw(st.sampled_from([None, "deals.csv:9", Source("data/deals.csv", 12)])),
            rule_source=draw(st.sampled_from([None, "plans/ae.yaml:11,17 @2446f73d"]))))
    return out


@settings(max_examples=300, deadline=None)
@given(lines=line_lists(), null=st.sampled_from(["", None]))
def test_the_generated_encoder_stores_what_a_plain_encoding_does(lines, null):
    got = shaped_line_rows(lines, "2026-10", null)
    assert got == plain_rows(lines, "2026-10", null)
    # the texts are equal whether shared or not; the rows decode back to the lines
    assert decode_shaped("2026-10", got) == sorted(
        (ln._replace(deal_source=None if ln.deal_source is None else str(ln.deal_source), ref=ln.ref or None,
                     component=ln.component or None) for ln in lines), key=lambda ln: ln.seq)


@pytest.mark.parametrize("field", ["amount", "credit", "base"])
def test_an_amount_finer_than_a_thousandth_is_refused(field):
    ln = Line("R1", "2026-10", 1, "commission", D("1.00"), "D1", D("10.00"), D("0.1"), D("1.0"), 1, "r", "e",
              role="primary", split_pct=D("100"), component="commission", base=D("1.00"))
    with pytest.raises(ValueError, match="fractions of a thousandth"):
        shaped_line_rows([ln._replace(**{field: D("0.0005")})], "2026-10", "")


def _rep(rep_id: str, lines: list[Line]) -> RepResult:
    return RepResult(rep_id, "ae", "USD", "monthly", D("0"), D("0"), D("0"), None, None, None,
                     [ln._replace(rep_id=rep_id) for ln in lines], {}, D("0"), RepState())


@settings(max_examples=60, deadline=None)
@given(per_rep=st.lists(line_lists(), max_size=6), size=st.integers(1, 7))
def test_storing_rep_by_rep_gives_the_batches_of_the_whole_month(per_rep, size):
    reps = [_rep(f"R{i}", lines) for i, lines in enumerate(per_rep)]
    want = [(shape, list(rows)) for shape, rows in shaped_batches(reps, "2026-10", "", size)]
    got: list[tuple[int, list[tuple]]] = []

    def store(shape: int, rows: list[tuple]) -> int:
        got.append((shape, list(rows)))
        return len(rows)

    results, count = store_rep_by_rep(iter(reps), "2026-10", "", store, size)
    assert got == want
    assert count == sum(len(r.lines) for r in reps)
    for before, after in zip(reps, results, strict=True):
        assert isinstance(after.lines, StoredLines)
        assert list(after.lines) == decode_shaped("2026-10", shaped_line_rows(before.lines, "2026-10", ""))
        assert after.rep_id == before.rep_id and after.payout == before.payout


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:  # noqa: ANN001
    """A seeded company over three months: splits, overlays, overrides, SPIFFs, draws, clawbacks."""
    from compengine.generate import generate

    out = tmp_path_factory.mktemp("co") / "data"
    generate(out, seed=11, reps=30, deals=1200, year=2026, months=3, plans_dir=REPO / "plans")
    return out


def test_the_close_in_one_process_stores_the_calculated_month_row_for_row(ledger, company):
    """run_close (one process, lines stored rep by rep) writes, in id order, the rows of the month's whole
    calculation (``LedgerInputs.calculate``) encoded plainly, in the batch order of storing that result."""
    with transaction(ledger) as s:
        import_folder(s, company, REPO / "plans", "ops")
    names = ", ".join(f'"{c}"' for c in LINE_COLUMNS)
    for p in Period.parse("2026-01").months_through(Period.parse("2026-03")):
        with transaction(ledger) as s:
            res = load_inputs(s, p).calculate()
        with transaction(ledger) as s:
            got = run_close(s, p, "ops", workers=1)
        by_key = {(ln.rep_id, ln.seq): ln for r in res.reps for ln in r.lines}
        order = []  # (rep, seq) in the order the whole result's batches were stored
        for shape, rows in shaped_batches(res.reps, str(p), None):
            order += [(row[1], row[2]) if shape == len(LINE_SHAPES) - 1 else (row[0], row[1]) for row in rows]
        want = [whole_row(by_key[k]._replace(period=str(p)), None) for k in order]
        with transaction(ledger) as s:
            stored = [tuple(r) for r in s.connection().exec_driver_sql(
                f"SELECT {names} FROM payout_lines WHERE period = '{p}' ORDER BY id")]
        assert len(want) > 100
        assert stored == want, str(p)
        assert [list(r.lines) for r in got.reps] == [r.lines for r in res.reps]
        assert all(isinstance(r.lines, StoredLines) for r in got.reps)
        assert got.exceptions == res.exceptions and got.total_payout == res.total_payout
        with transaction(ledger) as s:
            lock_period(s, p, "ops", accept_exceptions="test" if got.exceptions else None)
