# The README's two commands: `make run` and `make test`. Everything else supports them.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000

.PHONY: run test install install-dev lock browser wrk lint format bench run-aws clean

# pyproject.toml declares the dependencies; `make lock` compiles them into the two lock
# files with uv (README: "Dependencies"). Both locks pin every package with PyPI's hashes.
RUNTIME_LOCK := requirements.txt
DEV_LOCK := requirements-dev.txt
# Where the locks' versions and hashes come from: PyPI itself, not whatever mirror or
# find-links this machine's pip or uv is configured with.
LOCK_INDEX ?= https://pypi.org/simple
# e.g. `make lock LOCK_FLAGS=--upgrade` or `LOCK_FLAGS="--upgrade-package django"`
LOCK_FLAGS ?=
UV_COMPILE = $(BIN)/uv pip compile pyproject.toml --quiet --universal --generate-hashes \
	--default-index $(LOCK_INDEX) --custom-compile-command "make lock" $(LOCK_FLAGS)

# The venv's own pip installs the locks: no unlocked download (not even a newer pip).
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# The stamps keep an unchanged lock from reinstalling. The dev lock holds the runtime
# lock's packages at the same versions, so installing it satisfies both stamps.
$(VENV)/.installed: $(RUNTIME_LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(RUNTIME_LOCK)
	touch $@

$(VENV)/.installed-dev: $(RUNTIME_LOCK) $(DEV_LOCK) | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r $(DEV_LOCK)
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

# Re-resolve pyproject.toml into the locks, keeping every version that still fits (uv
# prefers the pins already in the output file). The dev lock is constrained to the runtime
# lock's versions, so tests run on exactly what production runs. uv comes from the dev lock.
lock: install-dev
	$(call compile-lock,$(RUNTIME_LOCK),)
	$(call compile-lock,$(DEV_LOCK),--group dev --constraint $(RUNTIME_LOCK))

# $(call compile-lock,LOCK,UV-ARGUMENTS): the new lock replaces LOCK only if it differs, so
# an unchanged lock keeps its date and the stamps above do not reinstall.
define compile-lock
	cp $(1) $(1).new
	$(UV_COMPILE) $(2) -o $(1).new || { rm -f $(1).new; exit 1; }
	if cmp -s $(1).new $(1); then rm $(1).new; else mv $(1).new $(1); fi
endef

# Debian's Chromium for the browser tests (Playwright drives /usr/bin/chromium).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	  else echo "note: /usr/bin/chromium missing; browser tests need it (apt-get install chromium)"; fi; \
	fi

run: install
	bin/setup
	PORT=$(PORT) bin/serve

# The same shop on the EventBridge backend, against a local moto server (docs/aws.md).
run-aws: install-dev
	bin/setup
	PORT=$(PORT) bin/serve-aws

test: install-dev browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Debian's wrk drives the HTTP benchmark's closed-loop runs (bench/cart_http.py).
wrk:
	@if ! command -v wrk >/dev/null 2>&1; then \
	  if command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; \
	  else echo "note: wrk missing; bench cart_http needs it (apt-get install wrk)"; fi; \
	fi

bench: install-dev wrk
	$(BIN)/python -m bench

clean:
	rm -rf var staticfiles .pytest_cache
