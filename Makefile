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

bench: install
	$(BIN)/python benchmarks/bench_calc.py
	$(BIN)/python benchmarks/bench_columnar.py
	$(BIN)/python benchmarks/bench_plan_cache.py
	$(BIN)/python benchmarks/bench_scaleout.py
	$(BIN)/python benchmarks/bench_fx.py
	$(BIN)/python benchmarks/bench_statement_phases.py

clean:
	rm -rf $(VENV) out demo .pytest_cache .hypothesis
