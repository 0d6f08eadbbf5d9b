# stackcheck: the two commands are `make run` and `make test` (see README.md).
# GNU make. The virtualenv is set up on first use and again whenever pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Renamed whenever the extras installed change, so existing venvs get them on the next run.
STAMP := $(VENV)/.stamp-dev-fuzz
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)

.PHONY: run test bench fuzz setup system-deps lint guard

# ---- set-up (idempotent; works on a fresh clone) --------------------------------------------

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# With the fuzz extra (redis, atheris, coverage) a fresh venv takes ~24 s here (measured), and
	@# then `make test` also covers the Redis database, Atheris mode and the coverage report.
	@echo "setting up $(VENV) (pip install -e '.[dev,fuzz]')"
	@log=$$($(BIN)/python -m pip install -q --disable-pip-version-check -e '.[dev,fuzz]' 2>&1) || \
	  { echo "$$log" >&2; exit 1; }
	@touch $@

setup: $(STAMP)

# The root-only tests point the system's `ping` and `ndisc6` at our stack on a TAP device;
# harness/tests/test_fuzz_redis.py runs a throwaway loopback `redis-server` (else it skips).
# `--dut lwip` needs lwIP and cJSON headers and a C compiler; its agent is built into
# $(VENV)/libexec/stackcheck-lwip-agent (again whenever its sources change).
system-deps: setup
ifeq ($(IS_ROOT),yes)
	@missing=""; command -v ping >/dev/null || missing="$$missing iputils-ping"; \
	command -v ndisc6 >/dev/null || missing="$$missing ndisc6"; \
	command -v redis-server >/dev/null || missing="$$missing redis-server"; \
	command -v cc >/dev/null || missing="$$missing gcc"; \
	command -v pkg-config >/dev/null || missing="$$missing pkg-config"; \
	pkg-config --exists lwip 2>/dev/null || missing="$$missing liblwip-dev"; \
	pkg-config --exists libcjson 2>/dev/null || missing="$$missing libcjson-dev"; \
	if [ -n "$$missing" ]; then apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; fi
	@$(BIN)/python -m harness.backends.lwip build >/dev/null
endif

# ---- the two commands -----------------------------------------------------------------------

run: setup
	$(BIN)/stackcheck run --dut inprocess --report out/inprocess

test: setup system-deps lint guard
	$(BIN)/stackcheck run --dut inprocess --report out/inprocess
ifeq ($(IS_ROOT),yes)
	$(BIN)/stackcheck run --dut linux --report out/linux -n auto
	@# Our stack as a real process over a TAP device, then the three columns side by side.
	$(BIN)/stackcheck run --dut tap --report out/tap -n auto
	$(BIN)/stackcheck report out/inprocess/results.json out/tap/results.json out/linux/results.json \
	  --out out/combined
endif
	@# Last, so the run ends with pytest's "N passed" line. As root this includes the
	@# needs_root tests (TAP device, real ping); without root they skip and say why.
	$(BIN)/pytest -n auto

lint: setup
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	@# The tool side, tests included; settings in pyproject.toml [tool.mypy].
	$(BIN)/mypy --strict harness fuzz reports
	@# The stack's product code (its white-box tests are exempt), and no import loop inside it.
	$(BIN)/mypy --strict stack_under_test --exclude 'stack_under_test/tests'
	$(BIN)/python scripts/import_loops.py --typing stack_under_test

# The stack never imports Scapy; the conformance suite never imports the stack.
guard:
	@if grep -rIl --include='*.py' -E '^\s*(from|import) scapy' stack_under_test; then \
	  echo "error: the files above in stack_under_test/ import scapy" >&2; exit 1; fi
	@if grep -rIl --include='*.py' -E '^\s*(from|import) stack_under_test' conformance; then \
	  echo "error: the files above in conformance/ import stack_under_test" >&2; exit 1; fi

# A 10-minute fuzz campaign over every property (the `ci` share already runs in `make test`);
# longer ones: stackcheck fuzz --duration 8h --workers N (see fuzz/README.md).
fuzz: setup
	$(BIN)/stackcheck fuzz --duration 10m --workers 2

bench: setup
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python "$$f"; done
