# Lotse developer tasks. See docs/development.md.

PY ?= $(shell command -v python3.11 >/dev/null 2>&1 && echo python3.11 || echo python3)
VENV = .venv
VENV_STAMP = $(VENV)/.installed
NPM_STAMP = node_modules/.npm-ci.stamp
PYTEST_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help venv assets run test lint bench clean distclean

help:
	@echo "make venv    - create $(VENV) and pip install -e '.[test]' (when pyproject.toml changed)"
	@echo "make assets  - npm ci (when package-lock.json changed) + scripts/vendor_assets.py"
	@echo "make run     - db upgrade, deploy bpmn/, seed demo data, serve on 127.0.0.1:5000"
	@echo "make test    - pytest -q \$$PYTEST_ARGS   (e.g. make test PYTEST_ARGS=tests/e2e)"
	@echo "make lint    - ruff check engine processes web tests, then mypy ([tool.mypy] in pyproject.toml)"
	@echo "make bench   - python -m bench"
	@echo "make clean   - remove node_modules, vendored assets and caches (keeps $(VENV))"
	@echo "make distclean - clean + remove $(VENV)"

venv: $(VENV_STAMP)

$(VENV_STAMP): pyproject.toml
	@test -x $(VENV)/bin/python || $(PY) -m venv $(VENV)
	$(VENV)/bin/python -m pip install -e '.[test]'
	@touch $@

assets: $(NPM_STAMP)
	$(PY) scripts/vendor_assets.py

$(NPM_STAMP): package-lock.json package.json
	npm ci --no-audit --no-fund --ignore-scripts
	@touch $@

run: export LOTSE_ENV ?= development
run: venv assets
	$(VENV)/bin/lotse db upgrade
	$(VENV)/bin/lotse deploy bpmn/
	$(VENV)/bin/lotse demo seed
	$(VENV)/bin/lotse worker & worker=$$!; trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
		$(VENV)/bin/lotse serve --host 127.0.0.1 --port 5000

test: venv assets
	$(VENV)/bin/pytest -q $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check engine processes web tests
	$(VENV)/bin/mypy

bench: venv
	$(VENV)/bin/python -m pip install -q -e '.[bench]'
	$(VENV)/bin/python -m bench

clean:
	rm -rf node_modules web/static/vendor .pytest_cache .ruff_cache build dist
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
