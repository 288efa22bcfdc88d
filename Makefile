# Two commands on a fresh machine: `make run` and `make test`. Nothing else to install.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# The stamp names the pyproject it was installed from: edit pyproject.toml, and the venv refreshes.
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint bench chaos screenshots clean reset key

run: $(STAMP)
	$(BIN)/python -m app.run

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check app jobs tests bench chaos
	$(BIN)/ruff format --check app jobs tests bench chaos
	$(BIN)/mypy
	$(BIN)/lint-imports

# The README's pictures, taken by the browser tests from our own running app.
screenshots: $(STAMP)
	SCREENSHOT_DIR=docs $(BIN)/python -m pytest tests/e2e/test_browser.py tests/e2e/test_trading_form.py -q

# An API key, printed once: make key NAME=bot SCOPES=read,trade [RATE_LIMIT=600]
key: $(STAMP)
	@$(BIN)/python -m app.keys create --name "$(or $(NAME),$(error give NAME=…))" \
		--scopes "$(or $(SCOPES),read,trade)" $(if $(RATE_LIMIT),--rate-limit $(RATE_LIMIT))

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

# Faults under load on real processes and servers; exits non-zero if an invariant breaks.
chaos: $(STAMP)
	$(BIN)/python -m chaos $(CHAOS_ARGS)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
		|| { echo "make: Python 3.11 or newer is needed (set PYTHON=...)"; exit 1; }
	@if ! $(BIN)/python -c '' 2>/dev/null; then rm -rf $(VENV) && $(PYTHON) -m venv $(VENV); fi
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,embedded]'
	@rm -f $(VENV)/.installed-* && touch $@

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache

# Forget every order and the simulated market (embedded servers only).
reset:
	rm -rf .data
