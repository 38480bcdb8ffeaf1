# The few commands people type. Each installs what it needs into .venv first.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test bench bench-ccxt bench-fees lint schema example

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

# The main job on the embedded default: the example home, the paper broker, eight cycles.
demo: $(STAMP)
	$(BIN)/vanta init demo-home --force
	for day in 01 02 03 04 05 06 07 08; do \
	  $(BIN)/vanta cycle --home demo-home --asof 2026-11-$${day}T00:00:00Z || exit $$?; \
	done
	$(BIN)/vanta status --home demo-home
	$(BIN)/vanta replay --all --home demo-home
	$(BIN)/vanta verify --home demo-home

lint: $(STAMP)
	$(BIN)/ruff check vanta tests
	$(BIN)/mypy

test: lint
	$(BIN)/pytest

# Benchmarks time vanta as installed: bytecode compiled first, as pip does at install (an
# editable install never does, and PYTHONDONTWRITEBYTECODE would make every run compile ~40 ms).
bench: $(STAMP)
	$(BIN)/python -m compileall -q vanta
	$(BIN)/python -m vanta.bench

bench-fees: $(STAMP)
	$(BIN)/python -m compileall -q vanta
	$(BIN)/python -m vanta.bench_fees

schema: $(STAMP)
	$(BIN)/vanta schema schemas

# Regenerate the repo's own example home (memory/, replays/): the golden replays the
# tests check. Run it after a change that deliberately changes a cycle's output bytes.
example: $(STAMP)
	$(BIN)/vanta init . --force
	for day in 01 02 03 04; do \
	  $(BIN)/vanta cycle --home . --asof 2026-11-$${day}T00:00:00Z || exit $$?; \
	done

# Live execution through ccxt against the local stub exchange (no network): latency to the
# last child order per follower (p50/p99) and orders per second through the adapter.
bench-ccxt: $(STAMP)
	$(BIN)/python -m compileall -q vanta
	$(BIN)/python -m vanta.bench_ccxt
