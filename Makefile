# The two commands: `make run` serves the API on the embedded stack with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint install bench lock clean

run: install
	$(BIN)/exchange serve --seed

test: install lint
	$(BIN)/pytest

# Lint, then the import contracts of pyproject.toml ([tool.importlinter]); each runs even if one before it failed, and
# any failure fails the target. lint-imports needs the repo root importable, and keeps no cache (it would be untracked).
lint: install
	@status=0; \
	echo "$(BIN)/ruff check ."; $(BIN)/ruff check . || status=1; \
	echo "$(BIN)/ruff format --check ."; $(BIN)/ruff format --check . || status=1; \
	echo "PYTHONPATH=. $(BIN)/lint-imports --no-cache --no-logo"; PYTHONPATH=. $(BIN)/lint-imports --no-cache --no-logo || status=1; \
	exit $$status

install: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements-dev.lock pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $@

node_modules/.installed: package-lock.json
	npm ci --no-audit --no-fund
	touch $@

bench: install
	$(BIN)/python -m bench.http_bench

# Re-pin every dependency from pyproject.toml in a throwaway venv.
lock:
	rm -rf .lockvenv && $(PYTHON) -m venv .lockvenv
	.lockvenv/bin/pip install --quiet . && .lockvenv/bin/pip freeze --exclude-editable | grep -v '^techmart-exchange' > requirements.lock.new
	.lockvenv/bin/pip install --quiet '.[dev]' && .lockvenv/bin/pip freeze --exclude-editable | grep -v '^techmart-exchange' > requirements-dev.lock.new
	rm -rf .lockvenv
	@echo "review requirements*.lock.new, then move them over the lock files"

clean:
	rm -rf $(VENV) node_modules .var
