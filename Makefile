# All set-up happens here: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/office-workers.yaml

.PHONY: demo test lint venv dev clean bench reports notebooks servers servers-debian servers-python-node conformance

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.installed

$(VENV)/.installed-bench: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[bench]'
	touch $@ $(VENV)/.installed

venv: $(VENV)/.installed
dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/tokensim run $(SCENARIO) --out out/demo --force

# Example reports of every shipped scenario, committed under reports/ (tables are not: reports/.gitignore).
# compare-*.yaml is run with `tokensim compare` (the presets below), a scenario with a sweep: section with
# `tokensim sweep`, one with an optimize: section with `tokensim optimize` (its saved evaluations are not
# committed: reports/.gitignore), any other with `tokensim run`.
COMPARED_PRESETS ?= visma_connect,auth0,okta,duende_identityserver,keycloak_offline,entra_id
reports: $(VENV)/.installed
	@set -e; for scenario in scenarios/*.yaml; do \
	  name=$$(basename $$scenario .yaml); \
	  case $$name in \
	    compare-*) $(BIN)/tokensim compare $$scenario --presets $(COMPARED_PRESETS) --out reports/$$name \
	                 --force --quiet --report ;; \
	    *) if grep -q '^sweep:' $$scenario; then \
	         $(BIN)/tokensim sweep $$scenario --out reports/$$name --force --quiet --report; \
	       elif grep -q '^optimize:' $$scenario; then \
	         $(BIN)/tokensim optimize $$scenario --out reports/$$name --force --quiet --report; \
	       else \
	         $(BIN)/tokensim run $$scenario --out reports/$$name --force --quiet --report; \
	       fi ;; \
	  esac; \
	  echo "reports/$$name/report.html"; \
	done

# The notebooks, executed top to bottom and saved with their outputs (committed that way).
notebooks: $(VENV)/.installed-dev
	$(BIN)/python scripts/execute_notebooks.py

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests
	$(BIN)/mypy

test: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# The real authorization servers of the conformance suite (issue 14), installed by the project's own script:
# django-oauth-toolkit (PyPI, into the venv), node oidc-provider (npm ci) and libfaketime (Debian).
servers-python-node: $(VENV)/.installed-dev
	VENV=$(VENV) scripts/servers/install-python-node.sh

servers: servers-python-node servers-debian

# Differential conformance against the real servers, with the longer randomised run (CI runs the short one
# inside `make test`). Regenerates nothing: `scripts/conformance_matrix.py` writes docs/conformance.md.
conformance: servers
	$(BIN)/python -m pytest -q tests/conformance --conformance-long

# The performance benchmark (issue 7): full model vs bare SimPy, scaling, workers. Not part of `make test`.
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

# Real authorization servers for the server tests (issue 14), from Debian packages: Glewlwyd, LemonLDAP::NG
# (with its FastCGI server and nginx) and libfaketime. Needs root or sudo; nothing is started or enabled.
servers-debian:
	scripts/servers/install-debian.sh

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .ruff_cache
