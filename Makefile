# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test lint validate benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install leaves our own modules uncompiled and this environment sets
# PYTHONDONTWRITEBYTECODE, so compile them once, as a regular `pip install` would.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	$(BIN)/python -m compileall -q src
	touch $@

demo: $(VENV)/.installed
	$(BIN)/costcorrect demo

test: $(VENV)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

validate: $(VENV)/.installed
	$(BIN)/python -m costcorrect.validate perf --write docs/validation.md \
		--calibrations src/costcorrect/catalog/data/calibrations.yaml
	$(BIN)/python -m costcorrect.validate serving --write docs/validation.md \
		--csv docs/serving_agreement.csv

benchmarks: $(VENV)/.installed
	$(BIN)/python benchmarks/perf_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/serving_speed.py --write docs/benchmarks.md

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
