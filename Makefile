# The two commands: `make run` serves the API on the embedded stack with demo data; `make test` runs the suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
export PORT

.PHONY: run test lint install bench lock clean chromium

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

install: chromium $(VENV)/.installed node_modules/.installed

# The page tests drive Debian's chromium (never a browser playwright downloads): installed here when it is missing, as
# root or through sudo; apt-get update only if the first try fails. Without either, say so and go on.
CHROMIUM := /usr/bin/chromium
chromium:
	@if [ ! -x $(CHROMIUM) ]; then \
		if [ "$$(id -u)" = 0 ]; then sudo=""; elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
		else echo "$(CHROMIUM) is missing and neither root nor sudo can install it: apt-get install chromium"; exit 0; fi; \
		export DEBIAN_FRONTEND=noninteractive; \
		$$sudo apt-get install -y chromium || { $$sudo apt-get update && $$sudo apt-get install -y chromium; }; \
	fi

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
