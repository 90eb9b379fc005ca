# Two commands do everything: `make run` (the demo server) and `make test` (the whole suite).
# Recipes use only .venv's tools; the first target that needs them creates .venv with python3.11.

PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-pyproject
PYTEST := $(BIN)/pytest
POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/atmospro
REDIS_URL ?= redis://127.0.0.1:6379/0

.PHONY: install run migrate collectstatic test test-postgres test-celery test-schema lint format demo-flow

install: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $@

migrate: install
	$(BIN)/python manage.py migrate --no-input

# The admin's static files with hashed names, compressed, in var/static: gunicorn serves them (WhiteNoise).
collectstatic: install
	$(BIN)/python manage.py collectstatic --no-input --verbosity 0

# Serves the demo on http://127.0.0.1:8000 with the GitHub simulator; Ctrl-C stops both.
run: migrate collectstatic
	PYTHON=$(BIN)/python bash demo/serve.sh

demo-flow: install
	$(BIN)/python -m demo.flow

# The full suite on SQLite. The `celery` tests need a broker and a real worker: see test-celery.
test: install
	env -u DATABASE_URL -u CELERY_BROKER_URL $(PYTEST) -m "not celery"

test-postgres: install
	env -u CELERY_BROKER_URL DATABASE_URL=$(POSTGRES_URL) $(PYTEST) -m "not celery"

test-celery: install
	DATABASE_URL=$(POSTGRES_URL) CELERY_BROKER_URL=$(REDIS_URL) $(PYTEST) -m celery

# schemathesis on every /api/v1/ route of a live server (simulator, seeded SQLite, gunicorn, free loopback
# ports, all in a temporary directory), from the server's own OpenAPI description; stops what it started.
SCHEMA_EXAMPLES ?= 100
test-schema: install
	env -u DATABASE_URL -u CELERY_BROKER_URL -u CACHE_URL $(BIN)/python -m demo.schema_fuzz --max-examples $(SCHEMA_EXAMPLES)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy atmospro observability github_app sts audit workspaces review

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .
