"""A big month's close in worker processes (``ledger.workers``) stores and returns exactly
what the one-process close does; a failing worker writes nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from compengine.core.errors import CompErrors
from compengine.core.periods import Period
from compengine.datafiles import read_data_folder
from compengine.engine.pipeline import calculate_period, iter_period_part
from compengine.engine.report import result_dict
from compengine.ledger import import_folder, lock_period, run_close, transaction
from compengine.ledger.close import close_workers, load_inputs
from compengine.ledger.models import PayoutLineRow, PeriodRow
from compengine.ledger.workers import FrameSlice, FrameStream, StoredLines
from compengine.plans import load_plans
from helpers_ledger import stored

REPO = Path(__file__).resolve().parents[1]
PLANS = REPO / "plans"


@pytest.fixture(scope="module")
def company(tmp_path_factory) -> Path:  # noqa: ANN001
    """A seeded company over four months: splits, overlays, overrides, SPIFFs, draws, clawbacks."""
    from compengine.generate import generate

    out = tmp_path_factory.mktemp("co") / "data"
    generate(out, seed=5, reps=40, deals=1600, year=2026, months=4, plans_dir=PLANS)
    return out


@pytest.mark.parametrize("frame_rows", [20_000, 37])
def test_workers_store_and_return_what_one_process_does(ledger, company, monkeypatch, frame_rows):
    """With frames of 37 rows, most reps' lines span frames, and the results' lines are read back across them."""
    monkeypatch.setattr("compengine.ledger.workers.FRAME_ROWS", frame_rows)  # the forked workers inherit it
    with transaction(ledger) as s:
        import_folder(s, company, PLANS, "ops")
    kinds: set[str] = set()
    for p in Period.parse("2026-01").months_through(Period.parse("2026-04")):
        with transaction(ledger) as s:
            one = run_close(s, p, "ops", workers=1)
        want = stored(ledger, str(p))
        for n in (2, 3):
            with transaction(ledger) as s:
                many = run_close(s, p, "ops", workers=n)
            assert all(isinstance(r.lines, StoredLines) for r in many.reps)
            assert all(isinstance(x, FrameSlice) for r in many.reps for x in r.lines._rows)
            if frame_rows < 100:
                assert max(len(x.stream.frames) for r in many.reps for x in r.lines._rows) > 3
            assert stored(ledger, str(p)) == want, (str(p), n)
            assert result_dict(many) == result_dict(one), (str(p), n)
            assert many.exceptions == one.exceptions
        kinds |= {ln.kind for r in one.reps for ln in r.lines}
        with transaction(ledger) as s:
            lock_period(s, p, "ops")
    # the data exercised every shape the workers send: commission, override and whole rows
    assert {"commission", "override", "spiff", "clawback"} <= kinds


def break_the_workers(monkeypatch) -> None:  # noqa: ANN001
    """Make every worker fail while encoding its first rep's lines."""

    def broken(*_a, **_k):  # noqa: ANN002, ANN003, ANN202
        raise ValueError("boom in the worker")

    monkeypatch.setattr("compengine.ledger.codec.shaped_line_rows", broken)


def test_a_failing_worker_writes_nothing(ledger, company, monkeypatch):
    with transaction(ledger) as s:
        import_folder(s, company, PLANS, "ops")

    break_the_workers(monkeypatch)
    with pytest.raises(CompErrors, match=r"calculation worker \d of 2 failed: ValueError: boom in the worker"):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-01"), "ops", workers=2)
    with transaction(ledger) as s:
        assert s.scalars(select(PayoutLineRow.id).limit(1)).first() is None
        row = s.get(PeriodRow, "2026-01")
        assert row is None or row.status == "open"


def test_a_failing_rerun_keeps_the_previous_run(ledger, company, monkeypatch):
    """A rerun deletes the month's previous lines before the workers start; when a worker fails,
    that delete is rolled back with the rest: the previous run stays whole."""
    with transaction(ledger) as s:
        import_folder(s, company, PLANS, "ops")
    with transaction(ledger) as s:
        run_close(s, Period.parse("2026-01"), "ops", workers=1)
    before = stored(ledger, "2026-01")
    assert before[0] and before[1]

    break_the_workers(monkeypatch)
    with pytest.raises(CompErrors, match=r"calculation worker \d of 2 failed"):
        with transaction(ledger) as s:
            run_close(s, Period.parse("2026-01"), "ops", workers=2)
    assert stored(ledger, "2026-01") == before
    with transaction(ledger) as s:
        assert s.get(PeriodRow, "2026-01").runs == 1


@settings(max_examples=6, deadline=None)
@given(n=st.integers(min_value=1, max_value=7), month=st.sampled_from(["2026-01", "2026-03"]))
def test_parts_of_a_month_concatenate_to_the_month(company, n, month):
    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(company, plans)
    assert not errors
    from compengine.engine.driver import calculate_through

    # state and earlier months as the driver builds them; then the month in parts
    period = Period.parse(month)
    whole = calculate_through(data, plans, period, first_wanted=period)[-1]
    from decimal import localcontext

    from compengine.core.money import CONTEXT

    inputs = _driver_inputs(data, plans, period)
    reps, exceptions = [], []
    for i in range(n):
        part_exceptions: list[str] = []
        with localcontext(CONTEXT):
            reps += list(iter_period_part(period, plans, *inputs["args"], **inputs["kw"], exceptions=part_exceptions,
                                          part=(i, n)))
        exceptions += part_exceptions
    direct = calculate_period(period, plans, *inputs["args"], **inputs["kw"])
    assert [r.rep_id for r in reps] == [r.rep_id for r in direct.reps]
    assert reps == direct.reps
    assert exceptions == direct.exceptions
    if month == "2026-01":  # the first month needs no carried state: the driver's result is the same month
        assert result_dict(direct) == result_dict(whole)


def _driver_inputs(data, plans, period: Period) -> dict:  # noqa: ANN001
    """Inputs of one month from a data folder, without carried balances (enough to compare parts)."""
    from compengine.engine.pipeline import credit_deals, group_assignments, group_splits

    credits = credit_deals(data.deals, group_splits(data.splits))
    month = [c for c in credits if Period.of(c.close_date) == period]
    ytd = [c for c in credits if Period.of(c.close_date).year == period.year and Period.of(c.close_date) < period]
    return {"args": (data.reps, group_assignments(data.assignments), month), "kw": {"ytd_credits": ytd}}


def test_close_workers_choice(monkeypatch):
    monkeypatch.delenv("COMPENGINE_CLOSE_WORKERS", raising=False)
    assert close_workers(None, 10) == 1
    assert close_workers(3, 10) == 3
    monkeypatch.setenv("COMPENGINE_CLOSE_WORKERS", "4")
    assert close_workers(None, 10) == 4
    monkeypatch.setenv("COMPENGINE_CLOSE_WORKERS", "two")
    with pytest.raises(CompErrors, match="COMPENGINE_CLOSE_WORKERS must be a whole number"):
        close_workers(None, 10)


def test_load_inputs_reads_every_credit_of_the_month(ledger, company):
    with transaction(ledger) as s:
        import_folder(s, company, PLANS, "ops")
        inputs = load_inputs(s, Period.parse("2026-02"))
    plans, _ = load_plans(PLANS)
    data, _ = read_data_folder(company, plans)
    from compengine.engine.pipeline import credit_deals, group_splits

    want = sorted(c._replace(source=str(c.source))  # the ledger keeps the deal's file:line as text
                  for c in credit_deals(data.deals, group_splits(data.splits)) if Period.of(c.close_date) == Period.parse("2026-02"))
    assert sorted(inputs.credits) == want


def test_cli_close_run_summary_leaves_out_the_lines(tmp_path):
    from click.testing import CliRunner

    from compengine.cli import main

    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    run = CliRunner().invoke
    assert run(main, [*db, "import", str(REPO / "examples" / "acme"), "--plans", str(PLANS)]).exit_code == 0
    full = run(main, [*db, "close", "run", "2026-01", "--through", "2026-10"])
    short = run(main, [*db, "close", "run", "2026-10", "--summary"])
    assert full.exit_code == 0 and short.exit_code == 0, short.output
    full, short = full.stdout, short.stdout
    # same header, reps and payouts; the lines' table and explain sentences only in the full output
    assert full.splitlines()[0] == short.splitlines()[0]
    payouts = [ln for ln in full.splitlines() if ln.startswith("  = payout")]
    assert payouts and payouts == [ln for ln in short.splitlines() if ln.startswith("  = payout")]
    assert "  kind " in full and "  kind " not in short
    assert any(ln.strip().endswith("line(s)") and ln.strip() != "0 line(s)" for ln in short.splitlines())
    assert len(short) < len(full)


def test_a_big_month_at_a_terminal_is_summarised_unless_asked(tmp_path, monkeypatch):
    """At a terminal, a month of more than TERMINAL_LINE_LIMIT lines prints one block per rep and
    says how to see the lines; --lines prints them; redirected output always has every line."""
    from click.testing import CliRunner

    from compengine.cli import common, main

    db = ["--db", f"sqlite:///{tmp_path / 'l.db'}"]
    run = CliRunner().invoke
    assert run(main, [*db, "import", str(REPO / "examples" / "acme"), "--plans", str(PLANS)]).exit_code == 0
    redirected = run(main, [*db, "close", "run", "2026-01", "--through", "2026-10"])
    assert redirected.exit_code == 0 and "  kind " in redirected.stdout
    n_lines = sum(1 for ln in redirected.stdout.splitlines() if ln.startswith("  ") and ln.split()[0] in
                  ("commission", "spiff", "override", "true_up", "cap", "clawback", "draw", "draw_recovery",
                   "adjustment", "carry_forward", "balance_recovery"))
    assert n_lines > 20
    monkeypatch.setattr(common, "stdout_is_terminal", lambda: True)
    monkeypatch.setattr(common, "TERMINAL_LINE_LIMIT", n_lines - 1)
    for cmd in ([*db, "close", "run", "2026-10"],
                ["calc", "--plans", str(PLANS), "--data", str(REPO / "examples" / "acme"), "--period", "2026-10"]):
        big = run(main, cmd)
        assert big.exit_code == 0, big.output
        assert "  kind " not in big.stdout and " line(s)" in big.stdout
        assert f"{n_lines:,} payout lines: one block per rep shown here; --lines prints every line" in big.stderr
        every = run(main, [*cmd, "--lines"])
        assert every.stdout == redirected.stdout and "payout lines:" not in every.stderr
    monkeypatch.setattr(common, "TERMINAL_LINE_LIMIT", n_lines)  # at the limit: every line
    assert run(main, [*db, "close", "run", "2026-10"]).stdout == redirected.stdout


def test_streamed_text_is_the_text(company):
    """The CLI prints a month rep by rep (iter_result_text): joined, it is result_text, laid out as
    the header, one block per rep and the exceptions, separated by blank lines."""
    from compengine.engine.driver import calculate_month
    from compengine.engine.report import iter_result_text, result_text

    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(company, plans)
    assert not errors
    for month in ("2026-01", "2026-04"):
        res = calculate_month(data, plans, Period.parse(month))
        for show_lines in (True, False):
            streamed = "".join(iter_result_text(res, show_lines=show_lines))
            assert streamed == result_text(res, show_lines=show_lines)
            blocks = streamed.rstrip("\n").split("\n\n")
            assert blocks[0] == f"Period {month}: {len(res.reps)} rep(s), total payout {res.total_payout:,.2f}"
            assert [b.split()[0] for b in blocks[1:1 + len(res.reps)]] == [r.rep_id for r in res.reps]
            assert blocks[1 + len(res.reps):] == (
                ["Exceptions to review:\n" + "\n".join(f"  - {e}" for e in res.exceptions)] if res.exceptions else [])


_json_data = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(10**20), max_value=10**20) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=25,
)


@settings(max_examples=300, deadline=None)
@given(value=_json_data, level=st.integers(min_value=0, max_value=3))
def test_json_indented_is_json_dumps(value, level):
    """The streamed --json writer formats exactly as json.dumps(indent=2, ensure_ascii=False)."""
    import json

    from compengine.engine.report import json_indented

    want = json.dumps(value, indent=2, ensure_ascii=False)
    # as if nested ``level`` deep: every line but the first is indented by 2 x level more
    # (split on "\n" only: a string may hold other line breaks, which JSON leaves as they are)
    first, *rest = want.split("\n")
    want_nested = "\n".join([first, *("  " * level + ln for ln in rest)])
    assert json_indented(value, level) == want_nested


def test_streamed_json_is_json_dumps_of_the_result(company):
    """--json of a month, written a rep at a time, is byte for byte json.dumps of result_dict."""
    import json

    from compengine.engine.driver import calculate_month
    from compengine.engine.records import PeriodResult
    from compengine.engine.report import iter_result_json, result_dict, result_json

    plans, _ = load_plans(PLANS)
    data, errors = read_data_folder(company, plans)
    assert not errors
    results = [calculate_month(data, plans, Period.parse(m)) for m in ("2026-01", "2026-04")]
    results.append(PeriodResult("2026-05", [], ["R9: an exception"]))  # no reps: the empty list
    assert any(r.exceptions for r in results) and any(rr.notes for r in results for rr in r.reps)
    for res in results:
        for detail in (True, False):
            want = json.dumps(result_dict(res, detail=detail), indent=2, ensure_ascii=False) + "\n"
            assert result_json(res, detail=detail) == want
            assert "".join(iter_result_json(res, detail=detail)) == want


@settings(max_examples=200, deadline=None)
@given(sizes=st.lists(st.integers(1, 9), max_size=8), cuts=st.lists(st.integers(0, 80), max_size=8),
       order=st.randoms(use_true_random=False))
def test_a_frame_stream_reads_back_any_stretch_of_its_rows(sizes, cuts, order):
    import itertools
    import marshal

    rows = [(f"R{i}", i, None, "x" * (i % 3)) for i in range(sum(sizes))]
    stream = FrameStream()
    at = 0
    for n in sizes:
        stream.add(marshal.dumps(rows[at:at + n]), n)
        at += n
    bounds = sorted({0, len(rows), *(min(c, len(rows)) for c in cuts)})
    stretches = list(itertools.pairwise(bounds))
    order.shuffle(stretches)  # reps are read in any order, not only the order they came in
    for a, b in stretches:
        assert stream.rows(a, b) == rows[a:b]
    assert stream.rows(len(rows), len(rows)) == []
