# Every routine command. `make up` runs the platform; `make test` sets up and runs the tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY := $(BIN)/python

.PHONY: setup test-setup up test test-fast lint typecheck format bench contracts web web-schema clean

setup: $(VENV)/.installed contracts/node_modules/.installed web/dist/index.html

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]'
	touch $@

# solc-js, OpenZeppelin and anvil come from npm (contracts/package-lock.json)
contracts/node_modules/.installed: contracts/package.json contracts/package-lock.json
	npm --prefix contracts ci --no-audit --no-fund --loglevel=error
	touch $@

# the web client (React + TypeScript, Vite): npm ci from web/package-lock.json, then build into
# web/dist, which the API serves at / (rebuilt when a source file changes)
WEB_SRC := $(shell find web/src web/public -type f 2>/dev/null) web/index.html web/vite.config.ts web/tsconfig.json

web/node_modules/.installed: web/package.json web/package-lock.json
	npm --prefix web ci --no-audit --no-fund --loglevel=error
	touch $@

web/dist/index.html: web/node_modules/.installed $(WEB_SRC)
	npm --prefix web run build

web: web/dist/index.html

# regenerate web/src/api/schema.d.ts from the API's OpenAPI schema (after changing the API)
web-schema: $(VENV)/.installed web/node_modules/.installed
	npm --prefix web run schema

# what only the tests need: docker-compose validates docker-compose.yml offline; chromium renders
# the chat page and /docs with the network blocked (driven by playwright, from the dev extra);
# prometheus scrapes the API and a worker in tests/test_metrics.py
# MCP servers the tests run (tests/mcp/package.json: @modelcontextprotocol/server-everything); the
# stdio mcp-server-time comes with the dev extra
tests/mcp/node_modules/.installed: tests/mcp/package.json tests/mcp/package-lock.json
	npm --prefix tests/mcp ci --no-audit --no-fund --loglevel=error
	touch $@

test-setup: setup tests/mcp/node_modules/.installed
	@command -v docker-compose >/dev/null || { \
	  echo "installing docker-compose (Debian package) for the compose validation test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker-compose >/dev/null; }
	@command -v chromium >/dev/null || { \
	  echo "installing chromium (Debian package) for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }
	@command -v prometheus >/dev/null || test -x /usr/bin/prometheus || { \
	  echo "installing prometheus (Debian package) for the scrape test"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; }
	@# browser scripts run outside the venv (e.g. by a plain `python3`) find Playwright there too
	@$(PYTHON) -c "import playwright" 2>/dev/null || $(PYTHON) -m pip install --disable-pip-version-check -q "playwright>=1.40,<2"

up: setup
	$(BIN)/impressox up

# lint and type check first: seconds, before minutes of tests
test: test-setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(PY) -m pytest -q

# the inner loop, seconds: lint, format check, the unit and workflow tests (no server of ours, no
# subprocess; the workflow tests run on Temporal's time-skipping test server). Slow tests are marked
# `slow` and left out here; `make test` above runs everything.
test-fast: $(VENV)/.installed
	$(BIN)/ruff check -q .
	$(BIN)/ruff format --check -q .
	$(PY) -m pytest -q -m "not slow" -p no:cacheprovider tests/unit tests/workflows

lint:
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# mypy over every package and the tests ([tool.mypy] in pyproject.toml)
typecheck: setup
	$(BIN)/mypy

format:
	$(BIN)/ruff format . && $(BIN)/ruff check --fix .

bench: setup
	$(PY) bench/turn_overhead.py

contracts: contracts/node_modules/.installed
	npm --prefix contracts run build

clean:
	rm -rf $(VENV) contracts/node_modules web/node_modules tests/mcp/node_modules web/dist data .pytest_cache
