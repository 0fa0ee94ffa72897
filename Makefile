# Two commands on a fresh clone: `make run` (the whole pipeline on an embedded PostgreSQL) and `make test`.
# Everything else here is a convenience; `make help` lists it.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

VENV        := .venv
PY          := $(VENV)/bin/python
STAMP       := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml 2>/dev/null | cksum | cut -d' ' -f1)
PROFILES    := .local/dbt/profiles.yml
DBT         := $(VENV)/bin/dbt
DBT_FLAGS   := --project-dir dbt_project --profiles-dir .local/dbt
# pytest-xdist workers for `make test` (tests/conftest.py keeps what shares state on one worker)
TEST_WORKERS ?= 2
PG_ENV      := eval "$$($(PY) -m orchestration.local.embedded_postgres start)"

export PYTHONPATH := $(CURDIR)
# Paths reach recipes through the environment ("$$SOURCE"), never pasted into the shell line: a quote,
# $ or backquote in a folder's name stays part of the name.
export SOURCE OLD_LAKE ARCHIVE
export PYTHONDONTWRITEBYTECODE := 1

# Python 3.11 is what AWS Glue 5.0 runs; prefer it by name, else accept python3 if it is 3.11.
PYTHON_BOOT ?= $(shell command -v python3.11 2>/dev/null || command -v python3 2>/dev/null)

.PHONY: help setup run test lint psql docs test-warehouse reconcile stop clean lock bench migrate-lake prereqs

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

prereqs:
	@test -n "$(PYTHON_BOOT)" || { echo "error: Python 3.11 not found (install python3.11; AWS Glue 5.0 runs 3.11)" >&2; exit 1; }
	@$(PYTHON_BOOT) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' || { \
	  echo "error: $(PYTHON_BOOT) is Python $$($(PYTHON_BOOT) -c 'import platform; print(platform.python_version())'); this project needs 3.11 (set PYTHON_BOOT=/path/to/python3.11)" >&2; exit 1; }
	@command -v java >/dev/null 2>&1 || test -x "$${JAVA_HOME:-/nonexistent}/bin/java" || { \
	  echo "error: java not found: Spark needs a Java 17 runtime (Debian/Ubuntu: apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17)" >&2; exit 1; }

$(STAMP): requirements.lock pyproject.toml
	@$(MAKE) prereqs
	@echo "setting up $(VENV) from requirements.lock (first run only: a few minutes)"
	@test -x $(PY) || $(PYTHON_BOOT) -m venv $(VENV)
	@$(PY) -m pip install --quiet --upgrade pip 2>&1 | grep -v "is ignored" || true
	@$(PY) -m pip install --quiet -r requirements.lock 2>&1 | grep -v "is ignored" || true
	@$(PY) -c "import dbt, pyspark, pgserver, psycopg2, pyarrow" || { echo "error: dependency install failed (see pip output above)" >&2; exit 1; }
	@rm -f $(VENV)/.installed-*
	@touch $@

$(PROFILES): profiles.yml.example
	@mkdir -p $(dir $@)
	@cp $< $@

setup: $(STAMP) $(PROFILES) ## create .venv and the project-local dbt profile (done by run/test)
	@$(MAKE) prereqs

run: setup ## run the whole pipeline (SOURCE=dir for real TLC files; default: a synthetic sample)
	@$(PY) -m orchestration.local.run_pipeline $(if $(SOURCE),--source "$$SOURCE") || \
	  { status=$$?; $(PY) -m orchestration.local.failures $$status; exit $$status; }  # speaks for a killed run

test: setup ## set up and run every test, then lint
	@bash tools/setup_validators.sh
	@bash tools/setup_browser.sh
	@bash tools/setup_podman.sh
	@$(VENV)/bin/ruff check ingestion orchestration tests   # sqlfluff runs inside pytest (tests/dbt/test_dbt_sqlfluff.py)
	@$(VENV)/bin/ruff format --check ingestion orchestration tests
	@set +e; $(PY) -m pytest -n $(TEST_WORKERS) $(PYTEST_ARGS); code=$$?; set -e; \
	  if [ $$code -eq 5 ]; then echo "error: pytest collected no tests" >&2; exit 1; fi; exit $$code

lint: setup ## ruff on the Python code, sqlfluff on the dbt models
	@$(VENV)/bin/ruff check ingestion orchestration tests
	@$(VENV)/bin/ruff format --check ingestion orchestration tests
	@if [ -f dbt_project/.sqlfluff ]; then $(PG_ENV); cd dbt_project && ../$(VENV)/bin/sqlfluff lint models --disable-progress-bar --nocolor --processes 0; fi

bench: setup ## measure each stage against its floor (SCALE=rows per month; default small) -> BENCHMARKS.md
	@$(PY) tests/bench/run_bench.py $(if $(SCALE),--scale $(SCALE))

migrate-lake: setup ## re-ingest every month of a Hive-layout lake from its archive (OLD_LAKE=dir ARCHIVE=dir)
	@test -n "$$OLD_LAKE" && test -n "$$ARCHIVE" || { echo "usage: make migrate-lake OLD_LAKE=<old lake root> ARCHIVE=<archive root>" >&2; exit 2; }
	@$(PY) -m ingestion.migrate_hive_lake --old-lake "$$OLD_LAKE" --archive "$$ARCHIVE"

psql: setup ## psql on the warehouse; with SQL on standard input it runs it and exits
	@$(PG_ENV); PSQL=$$($(PY) -W ignore -c 'import pgserver._commands as c; print(c.POSTGRES_BIN_PATH / "psql")'); \
	  if [ -t 0 ]; then exec "$$PSQL" -X; else exec "$$PSQL" -X -v ON_ERROR_STOP=1 -f -; fi

docs: setup ## build the dbt docs and serve them on http://localhost:8080
	@$(PG_ENV); $(DBT) docs generate $(DBT_FLAGS) --quiet && echo "serving docs on http://localhost:8080 (Ctrl-C to stop)" && \
	  $(DBT) docs serve $(DBT_FLAGS) --port 8080 --no-browser

test-warehouse: setup ## every dbt test on every month of the warehouse (a `make run` tests the months it rebuilt)
	@$(PG_ENV); $(DBT) test $(DBT_FLAGS)

reconcile: setup ## count every month of the lake, the raw layer and the facts (a `make run` counts the months it changed)
	@$(PY) -m orchestration.local.reconcile

stop: ## stop the embedded PostgreSQL
	@if [ -x $(PY) ]; then $(PY) -m orchestration.local.embedded_postgres stop; fi

clean: stop ## remove generated data (lake, warehouse, dbt target); keeps .venv
	@rm -rf .local dbt_project/target dbt_project/logs spark-warehouse
	@echo "removed .local/ (lake, quarantine, embedded PostgreSQL data) and dbt build output"

lock: ## re-resolve the dependency ranges in pyproject.toml into requirements.lock
	@rm -rf .lock-venv && $(PYTHON_BOOT) -m venv .lock-venv && .lock-venv/bin/pip install --quiet --upgrade pip
	@.lock-venv/bin/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > .lock-venv/ranges.txt
	@.lock-venv/bin/pip install --quiet -r .lock-venv/ranges.txt 2>&1 | grep -v "is ignored" || true
	@{ echo "# Exact versions for every install (make setup, CI). Ranges live in pyproject.toml; refresh with 'make lock'."; \
	  .lock-venv/bin/pip freeze; } > requirements.lock.new && mv requirements.lock.new requirements.lock
	@rm -rf .lock-venv
	@echo "requirements.lock refreshed"
