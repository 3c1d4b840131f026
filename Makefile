# Two commands on a fresh machine with python3 and make:
#   make demo   creates .venv, installs feedwatch, polls the bundled demo site
#   make test   same set-up if needed, then the whole test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEV_STAMP := $(VENV)/.installed-dev
# A second venv for the DuckLake warehouse: its extensions need DuckDB 1.4.4.
LAKE_VENV := .venv-lake
LAKE_STAMP := $(LAKE_VENV)/.installed
# The feed reader the benchmarks compare against (benchmarks/bench_reader.py), in its own venv.
READER_VENV := .venv-reader
READER_STAMP := $(READER_VENV)/.installed

# Prefect: no telemetry, no analytics calls from an offline machine.
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false

.PHONY: demo test test-fast test-lake lint check bench install clean serve screenshot

install: $(DEV_STAMP)

# feedwatch alone: all the demo needs.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# The venv's own pip can be too old for trafilatura's extras: upgrade it first.
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	touch $@

# The tests', linters' and benchmarks' tools on top.
$(DEV_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

$(LAKE_STAMP): pyproject.toml
	$(PYTHON) -m venv $(LAKE_VENV)
	$(LAKE_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LAKE_VENV)/bin/python -m pip install --quiet -e '.[dev,lake]'
	touch $@

$(READER_STAMP):
	$(PYTHON) -m venv $(READER_VENV)
	$(READER_VENV)/bin/python -m pip install --quiet "reader==3.26" sgmllib3k
	touch $@

demo: $(STAMP)
	PREFECT_HOME=$(CURDIR)/.prefect $(BIN)/feedwatch demo

# A Prefect server on 127.0.0.1:4200, the work pool, the deployments and a worker.
serve: $(STAMP)
	PREFECT_HOME=$(CURDIR)/.prefect BIN=$(BIN) bash scripts/serve.sh

# Everything: the default install's suite, then the lake's tests in its own venv.
test: $(DEV_STAMP) $(LAKE_STAMP)
	PREFECT_HOME=$$(mktemp -d) $(BIN)/pytest -m "not lake"
	PREFECT_HOME=$$(mktemp -d) $(LAKE_VENV)/bin/pytest -m lake

test-lake: $(LAKE_STAMP)
	PREFECT_HOME=$$(mktemp -d) $(LAKE_VENV)/bin/pytest -m lake

# The tier without Prefect and without processes (tests marked slow are left out;
# anything that reaches for either fails): under a minute.
test-fast: $(DEV_STAMP)
	FEEDWATCH_TEST_TIER=fast PREFECT_HOME=$$(mktemp -d) $(BIN)/pytest -m "not slow and not lake"

lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

check: lint test

# Every figure a ratio against a baseline measured in the same run (docs/performance.md).
bench: $(DEV_STAMP) $(LAKE_STAMP) $(READER_STAMP)
	$(BIN)/python benchmarks/bench_cpu.py
	$(BIN)/python benchmarks/bench_e2e.py
	$(BIN)/python benchmarks/bench_run.py --big 10000 --timeline
	$(BIN)/python benchmarks/bench_steady.py --repeat 5
	$(BIN)/python benchmarks/bench_reader.py --reader-python $(READER_VENV)/bin/python
	$(BIN)/python benchmarks/bench_topics.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_rescore.py
	$(BIN)/python benchmarks/bench_extract.py
	$(BIN)/python benchmarks/bench_overhead.py
	$(LAKE_VENV)/bin/python benchmarks/bench_lake.py

# docs/digest.png, from the demo site polled through the real flow (needs Debian's chromium).
screenshot: $(DEV_STAMP)
	PREFECT_HOME=$$(mktemp -d) $(BIN)/python scripts/digest_screenshot.py docs/digest.png docs/digest-figures.png

clean:
	rm -rf $(VENV) $(LAKE_VENV) $(READER_VENV) .prefect .pytest_cache .mypy_cache .ruff_cache *.egg-info
