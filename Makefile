# fixgw: `make demo` runs the main job, `make test` runs the whole test suite.
# Each target creates .venv and installs what it needs on first use. quickfix compiles from
# source the first time (about 7 minutes on 2 cores); pip caches the wheel after that.

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.fixgw-installed

.PHONY: demo test lint bench mutation clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	@echo "installing fixgw and its dependencies (quickfix builds from source the first time: ~7 min)"
	$(BIN)/python -m pip install --progress-bar off -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/fixgw demo $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy fixcore fixgw gateway simulator bench tests models tools
	$(BIN)/lint-imports

bench: $(STAMP)
	$(BIN)/python -m bench $(ARGS)

# Mutation testing of the pure core (tools/mutants.py, each applied to a temporary copy of the
# tree): prints the survivors and the score. Not part of `make test`. ARGS="--only OS4,SV11" etc.
mutation: $(STAMP)
	$(BIN)/python -m tools.mutation $(ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache
