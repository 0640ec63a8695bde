# Shortcuts; the scripts in scripts/ do the work and can be run directly.
VENV_BIN := .venv/bin

.PHONY: run test test-fast lint format services bench bootstrap

run:  ## set up and serve on http://127.0.0.1:8000
	./scripts/serve.sh

test:  ## every stage: lint, SQLite, PostgreSQL+Redis, browser, deploy checks
	./scripts/test.sh

test-fast:  ## unit + integration on SQLite only
	./scripts/test.sh --fast

lint: bootstrap
	$(VENV_BIN)/ruff check .
	$(VENV_BIN)/ruff format --check .

format: bootstrap
	$(VENV_BIN)/ruff format .
	$(VENV_BIN)/ruff check --fix .

services:  ## install/start PostgreSQL, Redis and Chromium
	./scripts/services.sh

bench: bootstrap  ## run every bench/*.py; each prints its figures and ratio last
	@set -e; found=0; \
	for script in bench/*.py; do \
	  [ -e "$$script" ] || continue; \
	  case "$$(basename "$$script")" in _*) continue ;; esac; \
	  found=1; echo "== $$script"; $(VENV_BIN)/python "$$script"; \
	done; \
	[ "$$found" -eq 1 ] || echo "no benchmark scripts in bench/"

bootstrap:
	./scripts/bootstrap.sh
