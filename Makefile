# Quick start:  make app   (launch the app on the built-in default model)
#               make test  (install everything the tests need, build the docs, run the tests)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin

.PHONY: app test docs bench install install-dev browser

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.runtime: requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/pip install -q -r requirements-dev.txt
	touch $(VENV)/.runtime $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

# Debian's chromium and its driver, for the browser tests (no browser downloads).
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

app: install
	$(BIN)/freqrex app

# The documentation site (docs/, mkdocs.yml) into site/; a broken link or page fails it.
docs: install-dev
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site

test: install-dev browser docs
	$(BIN)/python -m pytest -q

bench: install-dev
	$(BIN)/python benchmarks/engine.py
