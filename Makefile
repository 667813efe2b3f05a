# compengine: the two set-up commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: install demo test bench screenshots clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e ".[dev]"
	touch $(STAMP)

install: $(STAMP)

demo: install
	$(BIN)/compengine demo --out demo

# the suite on every core (pytest-xdist): tests share nothing but the PostgreSQL server, each in
# its own schema; `.venv/bin/python -m pytest` runs it in one process
test: install
	$(BIN)/python -m pytest -n auto

# the README's portal screenshots (docs/*.png), from the browser test
screenshots: install
	COMPENGINE_SCREENSHOTS=docs $(BIN)/python -m pytest tests/test_web_browser.py

# every figure of benchmarks/RESULTS.md (an hour or more on the 2-core machine there; each script's
# docstring says what it measures). PostgreSQL runs use $(BENCH_PG); the issue-14 comparison
# builds the pre-plan-v2 commit c82f554 in a temporary worktree.
BENCH_PG ?= postgresql://postgres@127.0.0.1:5432/test
BENCH_TMP := $(shell mktemp -u /tmp/compengine-bench-XXXXXX)
bench: install
	$(BIN)/python benchmarks/bench_calc.py
	$(BIN)/python benchmarks/bench_columnar.py
	$(BIN)/python benchmarks/bench_fx.py
	$(BIN)/python benchmarks/bench_plan_cache.py
	$(BIN)/python benchmarks/bench_ledger.py
	$(BIN)/python benchmarks/bench_ledger.py --db $(BENCH_PG)
	$(BIN)/python benchmarks/bench_close_compare.py --base c82f554 --runs 2
	$(BIN)/python benchmarks/bench_scaleout.py
	$(BIN)/python benchmarks/bench_scaleout.py --preset small --db $(BENCH_PG)
	$(BIN)/python benchmarks/bench_reconcile.py
	$(BIN)/python benchmarks/bench_seals.py --db sqlite:///$(BENCH_TMP)-seals.db && rm -f $(BENCH_TMP)-seals.db*
	$(BIN)/python benchmarks/bench_history.py
	$(BIN)/python benchmarks/bench_finance.py
	$(BIN)/python benchmarks/bench_statements.py
	$(BIN)/python benchmarks/bench_statement_phases.py
	$(BIN)/python benchmarks/bench_web.py
	$(BIN)/python benchmarks/bench_real_data.py
	$(BIN)/python benchmarks/check_identical.py

clean:
	rm -rf $(VENV) out demo .pytest_cache .hypothesis
