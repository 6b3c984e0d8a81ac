# Two commands (README.md): `make run` and `make test`. Both install what they need.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup system-packages run test bench clean studio

setup: $(STAMP) node_modules/.installed studio

# Debian packages of the Java and C# callers' tests (installs nothing when present).
system-packages:
	scripts/system-packages.sh

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps -e .
	touch $(STAMP)

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch node_modules/.installed

# The studio's page: studio/ built into pipelines/studio/static (committed, shipped as it is;
# tests/test_studio.py fails when it is stale). Deployment runs this before packaging.
studio: node_modules/.installed
	npm run --silent build:studio

# The local host on http://127.0.0.1:7071 with Azurite, and the example published.
run: setup
	$(PY) -m pipelines.devhost --example

# Lint (unused names, undefined names, import order), then the whole test suite
# against a real Azurite that the tests start themselves.
test: setup system-packages
	$(PY) -m ruff check --select F,I pipelines tests bench function_app.py
	$(PY) -m pytest -q $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench

clean:
	rm -rf $(VENV) node_modules .azurite .pytest_cache
