# The two commands a newcomer needs: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: demo test browser docs benchmarks clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The editable install leaves our own modules uncompiled and this environment sets
# PYTHONDONTWRITEBYTECODE, so compile them once, as a regular `pip install` would.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,ray]'
	$(BIN)/python -m compileall -q src
	touch $@

# The default scenario end to end: one self-contained HTML report and the one-sentence answer.
demo: $(VENV)/.installed
	$(BIN)/costcorrect report --out reports/demo.html

# Debian's headless Chromium and its driver, for the report's browser test. Where apt-get is
# missing or cannot install them the test skips itself and says why.
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null; then \
		SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
		($$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			$$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null) \
		|| echo "browser: apt-get could not install chromium, so the browser test will skip"; \
	else echo "browser: no apt-get here, so the report's browser test will skip"; fi

test: $(VENV)/.installed browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

benchmarks: $(VENV)/.installed
	$(BIN)/python benchmarks/perf_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/serving_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/search_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/verify_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/loadgen_speed.py --write docs/benchmarks.md
	$(BIN)/python benchmarks/report_speed.py --write docs/benchmarks.md

# Every page of docs/ (validation reports, the runtime data their fits write, figures, command
# output embedded in pages; `costcorrect.report.pages`), then the speed benchmarks.
# tests/test_docs.py checks that a regeneration changes nothing but timings (and float noise).
# Only docs needs the aiconfigurator extra (NVIDIA's kernel tables, ~80 MB; docs/engines.md).
docs: $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -e '.[dev,ray,aiconfigurator]'
	$(BIN)/python -m costcorrect.report.pages
	$(MAKE) benchmarks

clean:
	rm -rf $(VENV) build dist .pytest_cache .ruff_cache
