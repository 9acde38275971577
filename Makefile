# All set-up happens here: a fresh machine needs only Python 3.11+.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/office-workers.yaml

.PHONY: demo test lint venv dev clean bench reports servers servers-python-node conformance

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
# A scenario with a sweep: section is run with `tokensim sweep`, any other with `tokensim run`.
reports: $(VENV)/.installed
	@set -e; for scenario in scenarios/*.yaml; do \
	  name=$$(basename $$scenario .yaml); \
	  if grep -q '^sweep:' $$scenario; then \
	    $(BIN)/tokensim sweep $$scenario --out reports/$$name --force --quiet --report; \
	  else \
	    $(BIN)/tokensim run $$scenario --out reports/$$name --force --quiet --report; \
	  fi; \
	  echo "reports/$$name/report.html"; \
	done
	$(BIN)/tokensim compare scenarios/compare-vendors.yaml --out reports/compare-vendors/compare --force --quiet \
	  --presets visma_connect,auth0,okta,duende_identityserver,keycloak_offline,entra_id
	@echo "reports/compare-vendors/compare/comparison.md"

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests

test: $(VENV)/.installed-dev
	$(BIN)/ruff check sim tests
	$(BIN)/python -m pytest -q

# The real authorization servers of the conformance suite (issue 14), installed by the project's own script:
# django-oauth-toolkit (PyPI, into the venv), node oidc-provider (npm ci) and libfaketime (Debian).
servers-python-node: $(VENV)/.installed-dev
	VENV=$(VENV) scripts/servers/install-python-node.sh

servers: servers-python-node

# Differential conformance against the real servers, with the longer randomised run (CI runs the short one
# inside `make test`). Regenerates nothing: `scripts/conformance_matrix.py` writes docs/conformance.md.
conformance: servers
	$(BIN)/python -m pytest -q tests/conformance --conformance-long

# The performance benchmark (issue 7): full model vs bare SimPy, scaling, workers. Not part of `make test`.
bench: $(VENV)/.installed-bench
	$(BIN)/python benchmarks/bench.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis .ruff_cache
