"""A long-lived pytest process that runs tests against one mutant after another.

    python -m harness.mutation.worker --suite conformance|unit --mode mutate
    python -m harness.mutation.worker --suite conformance|unit --mode coverage --out PATH

pytest collects the suite once, with the stackcheck plugin and fixtures as in any run; this
module's plugin then takes over the run loop. In ``mutate`` mode it reads one job per line on
stdin (JSON: the mutant's module, its mutated source, the outermost function holding the
change, the test ids in the order to try them, each test's time limit, a budget for them all)
and answers one line on the original stdout: ``killed`` at the first failing test, ``timeout``
when a test exceeds its limit or the tests their budget (an endless loop is a kill), or
``survived``. Test output goes to stderr, which the
parent sends to a log file. In ``coverage`` mode it runs every test once under coverage.py with
one dynamic context per test and writes line -> tests and each test's duration.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import resource
import signal
import sys
import time
import types
from pathlib import Path
from typing import IO, Any

import pytest
from _pytest.runner import runtestprotocol

from harness.mutation.reload import Reloader
from harness.mutation.sources import PACKAGE, SUITES, Suite, product_files, repository_root, suite_dir

CANARY_EVERY = 50
MEMORY_LIMIT = 3 << 30  # a mutant that allocates without bound fails with MemoryError, a kill


class TestTimeout(BaseException):  # not an Exception: no `except Exception` in the stack swallows it
    """Raised by SIGALRM inside a test that ran past its limit."""


def _alarm(signum: int, frame: types.FrameType | None) -> None:
    raise TestTimeout()


def pytest_args(root: Path, suite: Suite) -> list[str]:
    args = [str(suite_dir(root, suite)), f"--rootdir={root}", "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", "-W", "ignore"]
    if suite == "conformance":
        args += ["--dut", "inprocess"]
    else:  # real TAP devices and processes: slow, and they test the excluded TAP link
        args += ["-m", "not needs_root"]
    return args


class _Runner:
    """Runs one item, once more, as pytest would; True when it failed (or timed out)."""

    def __init__(self) -> None:
        signal.signal(signal.SIGALRM, _alarm)

    def run(self, item: pytest.Item, limit: float) -> str | None:
        signal.setitimer(signal.ITIMER_REAL, limit)
        try:
            reports = runtestprotocol(item, log=False, nextitem=None)
        except TestTimeout:
            return "timeout"
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
        for report in reports:
            if report.failed:
                text = str(report.longrepr or "")
                return "timeout" if "TestTimeout" in text else "failed"
        return None


class MutatePlugin:
    def __init__(self, root: Path, jobs: IO[str], out: IO[str]) -> None:
        self.root, self.jobs, self.out = root, jobs, out

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        items = {item.nodeid: item for item in session.items}
        runner = _Runner()
        # Tests first, so the modules a suite imports lazily (the in-process backend) are
        # loaded, then the whole stack, so every module it has is known to the reloader. The
        # first test that passes is the canary (below).
        canary = next((item for item in session.items[:20] if runner.run(item, 60.0) is None), None)
        for source in product_files(self.root, set()):
            importlib.import_module(source.module)
        reloader = Reloader(self.root)
        self._send({"ready": True, "tests": len(items), "reexec_modules": len(reloader.order)})
        done = 0
        for line in self.jobs:
            if not line.strip():
                continue
            result = self._one(json.loads(line), items, reloader, runner)
            done += 1
            # A test cut short by the alarm may leave pytest's fixture stack or the stack's
            # modules half-way: this process is done (the parent starts a fresh one). Every
            # CANARY_EVERY mutants the canary, unmutated, must still pass; if not, the results
            # since its last pass are suspect and the parent runs them again elsewhere.
            if result["status"] == "timeout":
                result["restart"] = True
            elif canary is not None and done % CANARY_EVERY == 0:
                healthy = runner.run(canary, 60.0) is None
                result |= {"canary_ok": True} if healthy else {"restart": True, "suspect": True}
            self._send(result)
            if result.get("restart"):
                break
        return True

    def _one(self, job: dict[str, Any], items: dict[str, pytest.Item], reloader: Reloader,
             runner: _Runner) -> dict[str, Any]:
        started = time.perf_counter()
        module, outer = job["module"], job.get("outer")
        try:
            code = compile(job["source"], job["file"], "exec")
        except SyntaxError as e:
            return {"id": job["id"], "status": "error", "detail": f"does not compile: {e}"}
        if any(t not in items for t in job["tests"]):  # the suite changed since the coverage run
            return {"id": job["id"], "status": "error", "detail": "a test id is not in the suite"}
        swapped = reloader.swap(module, outer, code) if outer else None
        how = "swap"
        if swapped is None:
            how = "reexec"
            try:
                reloader.reexec(module, code)
            except Exception as e:  # the mutant breaks importing the stack: every test would fail
                reloader.reexec(module, None)
                return {"id": job["id"], "status": "killed", "killer": "<import>", "ran": 0,
                        "how": how, "detail": f"{type(e).__name__}: {e}",
                        "seconds": time.perf_counter() - started}
        status, killer, ran, detail = "survived", None, 0, ""
        try:
            for nodeid, limit in zip(job["tests"], job["limits"], strict=True):
                if time.perf_counter() - started > job["budget"]:
                    status, detail = "timeout", f"its tests ran past their budget of {job['budget']:.0f} s"
                    break
                ran += 1
                outcome = runner.run(items[nodeid], float(limit))
                if outcome is not None:
                    status = "timeout" if outcome == "timeout" else "killed"
                    killer = nodeid
                    break
        finally:
            if swapped is not None:
                func, saved = swapped
                reloader.unswap(func, saved)
            else:
                reloader.reexec(module, None)
        return {"id": job["id"], "status": status, "killer": killer, "ran": ran, "how": how,
                "seconds": time.perf_counter() - started, "detail": detail}

    def _send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


class CoveragePlugin:
    """Runs every test once under coverage, one context per test; writes the map."""

    def __init__(self, root: Path, out_path: Path) -> None:
        self.root, self.out_path = root, out_path

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        import coverage

        stack = str((self.root / PACKAGE).resolve())
        cov = coverage.Coverage(data_file=None, source=[stack], branch=False, config_file=False)
        durations: dict[str, float] = {}
        failed: list[str] = []
        runner = _Runner()
        cov.start()
        try:
            for item in session.items:
                cov.switch_context(item.nodeid)
                started = time.perf_counter()
                if runner.run(item, 60.0) is not None:
                    failed.append(item.nodeid)
                durations[item.nodeid] = time.perf_counter() - started
        finally:
            cov.stop()
        data = cov.get_data()
        index = {nodeid: i for i, nodeid in enumerate(durations)}
        lines: dict[str, dict[str, list[int]]] = {}
        for file in data.measured_files():
            rel = Path(file).resolve().relative_to(self.root).as_posix()
            by_line = data.contexts_by_lineno(file)
            lines[rel] = {str(n): sorted(index[c] for c in ctx if c in index) for n, ctx in by_line.items()
                          if any(c in index for c in ctx)}
        self.out_path.write_text(json.dumps({"tests": list(durations), "durations": durations, "failed": failed,
                                             "lines": lines}), encoding="utf-8")
        return True


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.mutation.worker")
    parser.add_argument("--suite", choices=SUITES, required=True)
    parser.add_argument("--mode", choices=("mutate", "coverage"), required=True)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    root = repository_root()
    # The protocol keeps the real stdout; whatever the tests print goes to stderr.
    protocol = os.fdopen(os.dup(1), "w", encoding="utf-8")
    jobs = os.fdopen(os.dup(0), "r", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    _soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard == resource.RLIM_INFINITY or hard > MEMORY_LIMIT:
        resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, hard))
    plugin: object = (MutatePlugin(root, jobs, protocol) if args.mode == "mutate"
                      else CoveragePlugin(root, args.out))
    code = pytest.main(pytest_args(root, args.suite), plugins=[plugin])
    return int(code) if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) else 0


if __name__ == "__main__":
    sys.exit(main())
