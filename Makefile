# Two commands do all the set-up on a fresh machine with Python 3.11:
#   make run   - install into .venv, build the demo workspace if missing, start the workbench
#   make test  - install with dev extras, run every test
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-dev

.PHONY: run test bench install lint typecheck clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/opsnb demo --if-missing
	$(BIN)/opsnb up

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadfile $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check opsnb tests benchmarks

typecheck: $(STAMP)
	$(BIN)/mypy opsnb

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache
