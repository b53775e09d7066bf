# fiscus: `make run` serves on the embedded PostgreSQL; `make test` installs and tests.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
UV_VERSION := 0.13.8
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: install run test lint format check clean

$(STAMP): pyproject.toml uv.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	UV_PROJECT_ENVIRONMENT=$(VENV) $(BIN)/uv sync --frozen --python $(BIN)/python
	@touch $(STAMP)

install: $(STAMP) ## Build .venv from the lock file

run: install ## Serve on http://$${FISCUS_HOST:-127.0.0.1}:$${FISCUS_PORT:-8000} (embedded DB unless FISCUS_DATABASE_URL)
	$(BIN)/fiscus serve

test: install ## Run the whole test suite against a real PostgreSQL
	$(BIN)/pytest -n 2 --dist loadgroup $(PYTEST_ARGS)

lint: install ## ruff, formatting, strict mypy and module boundaries
	$(BIN)/ruff check src tests migrations bench tools
	$(BIN)/ruff format --check src tests migrations bench tools
	$(BIN)/mypy src tools
	$(BIN)/python -m tools.contracts --check
	$(BIN)/lint-imports

format: install
	$(BIN)/ruff format src tests migrations bench tools
	$(BIN)/ruff check --fix src tests migrations bench tools

check: lint test

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
