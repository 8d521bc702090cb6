# Live Scoreboard: `make up` runs the system, `make test` runs the whole suite.
# Both install what is missing (Python packages into .venv; Kafka, PostgreSQL, Redis via the stack).
PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# What mypy --strict checks; the import-linter contracts run inside pytest (tests/unit/test_architecture.py).
TYPED  := scoreboard producer_api stream_app gateway projections schemas devstack bench testkit tests

.PHONY: up down test test-unit lint status bench clean

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

up: $(STAMP)
	$(BIN)/scoreboard stack up
	$(BIN)/scoreboard run

down: $(STAMP)
	$(BIN)/scoreboard stack down

status: $(STAMP)
	$(BIN)/scoreboard stack status

# Static checks first: under half a minute, and they fail before any service is started.
lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy --strict $(TYPED)

test: $(STAMP) lint
	@if docker info >/dev/null 2>&1 && [ "$${SCOREBOARD_TESTCONTAINERS:-1}" != 0 ]; then \
	  echo "a Docker engine answers: the tests start Kafka, Postgres and Redis with testcontainers"; \
	else $(BIN)/scoreboard stack up; fi
	sh tests/browser/ensure_chromium.sh
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-unit: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

bench: $(STAMP)
	$(BIN)/pip install -q -e '.[bench]'
	$(BIN)/scoreboard stack up
	$(BIN)/scoreboard bench

clean:
	rm -rf $(VENV) build *.egg-info
