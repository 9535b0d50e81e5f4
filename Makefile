# The two commands a newcomer needs:  make demo   and   make test
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test setup setup-test services lint typecheck pytest bench clean

demo: setup ## set up, then run the demo on http://127.0.0.1:8000
	$(BIN)/citysmart demo

test: setup setup-test services lint typecheck pytest ## set up, then run every check and test

setup: $(STAMP) src/citysmart/portal/static/vendor/leaflet/leaflet.js

$(STAMP): pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(STAMP)

src/citysmart/portal/static/vendor/leaflet/leaflet.js: web/package.json web/package-lock.json
	npm ci --prefix web --no-audit --no-fund
	$(BIN)/python scripts/build_assets.py

setup-test: ## chromium for browser tests, PostGIS, ngsildclient for interop
	scripts/install_chromium.sh
	scripts/install_postgis.sh
	scripts/setup_interop.sh

services: ## make sure PostgreSQL and Mosquitto are up
	scripts/ensure_services.sh

lint:
	$(BIN)/ruff check src tests benchmarks scripts
	$(BIN)/ruff format --check src tests benchmarks scripts

typecheck:
	$(BIN)/mypy

pytest:
	$(BIN)/pytest

bench: setup services ## the ingest benchmark (figures in README)
	$(BIN)/python benchmarks/ingest.py

clean:
	rm -rf $(VENV) web/node_modules src/citysmart/portal/static/vendor var
