# stackcheck: the two commands are `make run` and `make test` (see README.md).
# GNU make. The virtualenv is set up on first use and again whenever pyproject.toml changes.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# Renamed whenever the extras installed change, so existing venvs get them on the next run.
STAMP := $(VENV)/.stamp-dev-fuzz-randomly-allure
IS_ROOT := $(shell [ "$$(id -u)" = 0 ] && echo yes)
# make test runs the linux and tap suites side by side, beside the unit tests: 3 workers per CPU
# each (harness/backends/__init__.py says why not the 12 of a lone `-n auto`).
SIDE_BY_SIDE_WORKERS := $(shell echo $$((3 * $$(nproc))))
# Compiled modules (and pytest's rewritten test modules) are kept in __pycache__: every
# pytest-xdist worker and spawned agent would otherwise compile the same few hundred modules
# again (measured: collecting the suite takes 4.1 s of CPU per worker without, 2.6 s with),
# and some CI images set PYTHONDONTWRITEBYTECODE.
unexport PYTHONDONTWRITEBYTECODE

.PHONY: run test bench fuzz mutate setup system-deps lint guard lwip-full

# The part of the suite `make test` runs against lwIP (see there).
LWIP_SUBSET := test_rfc792_icmp_echo or test_rfc4443_echo or test_rfc8504 or test_rfc4861_validation \
  or test_rfc791_options.py or test_rfc2710 or test_rfc6528_isn or test_rfc9293_ack_and_nagle \
  or test_rfc1122_udp_interface

# ruff; the import contracts; mypy --strict on the tool side, tests included (settings in
# pyproject.toml [tool.mypy]), and on the stack's product code (its white-box tests are exempt);
# no import loop inside the stack, not even through TYPE_CHECKING imports. One variable, so
# `make test` runs them beside its other parts.
LINT_STEPS := $(BIN)/ruff check . && $(BIN)/lint-imports && $(BIN)/mypy --strict harness fuzz reports && \
  $(BIN)/mypy --strict stack_under_test --exclude stack_under_test/tests && \
  $(BIN)/python scripts/import_loops.py --typing stack_under_test

# ---- set-up (idempotent; works on a fresh clone) --------------------------------------------

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@# With the fuzz extra (redis, atheris, coverage) a fresh venv takes ~24 s here (measured), and
	@# then `make test` also covers the Redis database, Atheris mode and the coverage report.
	@echo "setting up $(VENV) (pip install -e '.[dev,fuzz]': with allure-pytest and pytest-randomly)"
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

test: setup system-deps guard
	@# The parts run at once (lwIP once linux and tap are done: its MLD tests have 0.5-s report
	@# delays and its agent no raised priority), each with its output in out/*.log, shown in order at the end (so
	@# the run ends with pytest's "N passed" line of the white-box and harness tests); the exit
	@# status is non-zero if any part failed. Most of the time of every part but lint and the
	@# in-process suite is waiting (silence windows, timers, fixed fuzz durations, spawned
	@# interpreters starting), so overlapping them is what brings the wall time down. Their
	@# testers run at raised priority, so the CPU-bound parts beside them delay them little.
	@# With Allure results, and the Allure HTML report the README shows (its renderer comes from
	@# the npm registry on first use; without Node.js or that download it warns and goes on).
	@# lwIP: a subset that has every kind of verdict (pass, known deviation, not implemented,
	@# skip) and uses the agent's TCP verbs, udp_recvmsg and udp_sendmsg (the last three files,
	@# 25 tests, 9 s of test time) in about 45 s; the whole suite waits out lwIP's fixed 15-s and
	@# 60-s reassembly timers and its TCP tests their 3-s retransmission timeouts, over 10 min, too
	@# long for CI: make lwip-full (or the README's command).
	@# As root the unit tests include the needs_root tests (TAP, real ping); without root they
	@# skip and say why, and the real-DUT suites are left out.
	@mkdir -p out; rm -f out/*.status; \
	part() { name=$$1; shift; { if "$$@" > out/$$name.log 2>&1; then echo 0; else echo $$?; fi \
	  > out/$$name.status; } & last=$$!; }; \
	part unit-tests $(BIN)/pytest -n auto; \
	part lint eval '$(LINT_STEPS)'; \
	part inprocess eval '$(BIN)/stackcheck run --dut inprocess --report out/inprocess --allure && \
	  $(BIN)/stackcheck report out/inprocess/results.json --out out/inprocess --allure'; \
	if [ "$(IS_ROOT)" = yes ]; then \
	  part linux $(BIN)/stackcheck run --dut linux --report out/linux -n $(SIDE_BY_SIDE_WORKERS); linux=$$last; \
	  part tap $(BIN)/stackcheck run --dut tap --report out/tap -n $(SIDE_BY_SIDE_WORKERS); tap=$$last; \
	  wait $$linux $$tap; part lwip $(BIN)/stackcheck run --dut lwip --report out/lwip -n auto -k "$(LWIP_SUBSET)"; \
	fi; \
	wait; status=0; parts="lint inprocess"; \
	if [ "$(IS_ROOT)" = yes ]; then \
	  part combined $(BIN)/stackcheck report out/inprocess/results.json out/tap/results.json \
	    out/linux/results.json out/lwip/results.json --out out/combined; wait; \
	  parts="$$parts linux tap lwip combined"; \
	fi; \
	for name in $$parts unit-tests; do \
	  echo "==== $$name (out/$$name.log)"; cat out/$$name.log; \
	  code=$$(cat out/$$name.status 2>/dev/null || echo 1); \
	  if [ "$$code" != 0 ]; then echo "==== $$name failed (exit $$code)"; status=1; fi; \
	done; exit $$status

# The whole suite against lwIP (root; over 10 minutes).
lwip-full: setup system-deps
	$(BIN)/stackcheck run --dut lwip --report out/lwip -n 2

lint: setup
	$(LINT_STEPS)

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

# The mutation score of the conformance suite against our stack: out/mutation/mutation.{html,md,json}.
# About 15 min on 2 cores the first time; a re-run re-tests only mutants of changed code or tests
# (cache in .cache/mutation). `stackcheck mutate --suite unit` scores the white-box tests instead.
mutate: setup
	$(BIN)/stackcheck mutate

bench: setup
	@for f in bench/*.py; do [ -e "$$f" ] || continue; echo "== $$f"; $(BIN)/python "$$f"; done
