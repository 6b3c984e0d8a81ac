# Two commands (README.md): `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The real SDK v1 in a venv of its own (tests/sdkv1): its pins are not the app's.
SDKV1 := .venv-sdkv1
SDKV1_STAMP := $(SDKV1)/.installed

.PHONY: setup system-packages run test unit lint bench reliability clean studio sdkv1

setup: $(STAMP) node_modules/.installed studio

# Debian packages of the Java and C# callers' tests (installs nothing when present).
system-packages:
	scripts/system-packages.sh

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

sdkv1: $(SDKV1_STAMP)

$(SDKV1_STAMP): tests/sdkv1/requirements.txt
	test -x $(SDKV1)/bin/python || $(PYTHON) -m venv $(SDKV1)
	$(SDKV1)/bin/python -m pip install --quiet --disable-pip-version-check -r tests/sdkv1/requirements.txt
	touch $(SDKV1_STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

# The studio's page: studio/ built into pipelines/studio/static (committed, shipped as it is;
# tests/integration/test_studio.py fails when it is stale). Deployment runs this before packaging.
studio: node_modules/.installed
	npm run --silent build:studio

# The local host on http://127.0.0.1:7071 with Azurite, and the example published.
run: setup
	$(PY) -m pipelines.devhost --example

# The gates (lint, the import contract, strict types), then the whole test suite:
# tests/unit and tests/integration, the latter against a real Azurite that the tests
# start themselves, real browsers and real Java and C# callers. Two passes: every file but
# the OpenAPI fuzzing on PYTEST_WORKERS processes (pytest-xdist; a file's tests stay together,
# in order, each process with an Azurite of its own), then the fuzzing in one process (under
# xdist Schemathesis's cases would not run: tests/integration/test_schemathesis.py).
# PYTEST_ARGS goes to both passes: options such as -k or -x, not paths. A pass that it leaves
# with no test (pytest's exit status 5) is not a failure; without PYTEST_ARGS it is.
PYTEST_WORKERS ?= 2
SCHEMATHESIS_TESTS := tests/integration/test_schemathesis.py
NONE_CHOSEN_IS_FINE := $(if $(strip $(PYTEST_ARGS)),|| test $$? -eq 5,)
test: setup system-packages sdkv1 lint
	$(PY) -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --ignore=$(SCHEMATHESIS_TESTS) $(PYTEST_ARGS) $(NONE_CHOSEN_IS_FINE)
	$(PY) -m pytest -q -p no:xdist $(SCHEMATHESIS_TESTS) $(PYTEST_ARGS) $(NONE_CHOSEN_IS_FINE)

# Ruff (rules in pyproject.toml), the layers of pyproject's import contract, mypy strict.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(VENV)/bin/lint-imports
	$(PY) -m mypy

# The unit tests alone: no Azurite, no Node, no browser; seconds.
unit: $(STAMP)
	$(PY) -m pytest -q tests/unit $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

# The fault suite at full scale (its short form runs in `make test`): duplicate deliveries, host
# SIGKILL mid-step and mid-commit, storage stopped and restarted, concurrent diamonds, 16-client
# load, cancel of a process tree; it prints its figures. Then Schemathesis's long run over every
# operation of openapi.json.
reliability: setup
	PIPELINES_RELIABILITY_SCALE=long $(PY) -m pytest -q -p no:cacheprovider tests/reliability
	PIPELINES_SCHEMATHESIS_EXAMPLES=100 $(PY) -m pytest -q -p no:cacheprovider tests/integration/test_schemathesis.py

clean:
	rm -rf $(VENV) $(SDKV1) node_modules .azurite .pytest_cache
