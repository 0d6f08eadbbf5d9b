"""A pytest process that collects the suite once and runs tests against one mutant after another.

    python -m harness.mutation.worker --suite conformance|unit --mode mutate
    python -m harness.mutation.worker --suite conformance|unit --mode coverage --out PATH

pytest collects the suite once, with the stackcheck plugin and fixtures as in any run; this
module's plugin then takes over the run loop. In ``mutate`` mode the process is a fork server:
it reads one job per line on stdin (JSON: the mutant's module, its mutated source, the
outermost function holding the change, the test ids in the order to try them, each test's CPU
time limit, a CPU budget for them all) and forks a child per job, which applies the mutant and
runs the tests; the server answers one line on the original stdout: ``killed`` at the first
failing test, ``timeout`` when a test exceeds its limit or the tests their budget (an endless
loop is a kill), or ``survived``, with the child's CPU time. Test output goes to stderr, which
the parent sends to a log file. In ``coverage`` mode it runs every test once under coverage.py
with one dynamic context per test and writes line -> tests and each test's CPU time.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import json
import os
import random
import resource
import select
import signal
import sys
import time
import types
from pathlib import Path
from typing import IO, Any

import pytest
from _pytest.runner import runtestprotocol

from harness.mutation.infection import Probes
from harness.mutation.reload import Reloader
from harness.mutation.sources import PACKAGE, SUITES, Suite, product_files, repository_root, suite_dir

MEMORY_LIMIT = 3 << 30  # a mutant that allocates without bound fails with MemoryError, a kill
# How often a server checks the CPU time its child (the mutant in flight) has used.
POLL_S = 0.25


class TestTimeout(BaseException):  # not an Exception: no `except Exception` in the stack swallows it
    """Raised by SIGPROF inside a test that used more CPU time than its limit."""


def _alarm(signum: int, frame: types.FrameType | None) -> None:
    raise TestTimeout()


def pytest_args(root: Path, suite: Suite) -> list[str]:
    # --assert=plain: pytest's assertion rewriting would load the stack's modules through its
    # own import hook, ahead of the coverage run's probes (infection.py). No output capture and
    # no log capture: a sixth less CPU time per test (measured on the TCP and NDP tests); no test
    # uses caplog, and capsys works without global capture. A test passes or fails the same.
    args = [str(suite_dir(root, suite)), f"--rootdir={root}", "-q", "-p", "no:cacheprovider",
            "-p", "no:randomly", "-W", "ignore", "--assert=plain", "-p", "no:logging", "--capture=no"]
    if suite == "conformance":
        args += ["--dut", "inprocess"]
    else:  # real TAP devices and processes: slow, and they test the excluded TAP link
        args += ["-m", "not needs_root"]
    return args


class _Runner:
    """Runs one item, once more, as pytest would; says whether it failed or timed out.

    The limit is CPU time of this process (ITIMER_PROF), not wall time: the in-process suite runs
    on a virtual clock, so a test's CPU time is what it costs whatever the machine's load, and an
    endless loop is found as fast on a busy machine as on an idle one."""

    def __init__(self) -> None:
        signal.signal(signal.SIGPROF, _alarm)

    def run(self, item: pytest.Item, limit: float) -> str | None:
        # The same random numbers for a test in every run (scapy's random fields, ...): the
        # coverage run's view of which tests reach and infect a mutant holds in the mutant runs.
        random.seed(item.nodeid)
        signal.setitimer(signal.ITIMER_PROF, limit)
        try:
            reports = runtestprotocol(item, log=False, nextitem=None)
        except TestTimeout:
            return "timeout"
        finally:
            signal.setitimer(signal.ITIMER_PROF, 0)
        for report in reports:
            if report.failed:
                text = str(report.longrepr or "")
                return "timeout" if "TestTimeout" in text else "failed"
        return None


def _warm_up(items: list[pytest.Item], runner: _Runner) -> None:
    """Run the first test of each suite folder once, so what the tests import or cache lazily
    (the in-process backend, scapy's layers) is in place before the first fork."""
    seen: set[str] = set()
    for item in items:
        folder = item.nodeid.split("/")[:-1]
        key = "/".join(folder[:2])
        if key not in seen:
            seen.add(key)
            runner.run(item, 60.0)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time a live process has used so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class MutatePlugin:
    """A fork server: the suite is collected and the stack imported once; each mutant runs in a
    child forked from that clean state, so nothing a mutant does (to a module, a class, a cache, a
    half torn-down fixture) reaches the next one, and a mutant that hangs is ended by killing its
    child, not this process."""

    def __init__(self, root: Path, jobs: IO[str], out: IO[str]) -> None:
        self.root, self.jobs, self.out = root, jobs, out

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        items = {item.nodeid: item for item in session.items}
        runner = _Runner()
        # Tests first, so the modules a suite imports lazily (the in-process backend) are
        # loaded, then the whole stack, so every module it has is known to the reloader.
        _warm_up(session.items, runner)
        for source in product_files(self.root, set()):
            importlib.import_module(source.module)
        reloader = Reloader(self.root)
        for name in reloader.order:  # compiled once here, not again in every child that needs one
            reloader.original_code(name)
        gc.collect()
        gc.freeze()  # the children share these pages: no collection should touch (copy) them
        self._send({"ready": True, "tests": len(items), "reexec_modules": len(reloader.order)})
        for line in self.jobs:
            if line.strip():
                self._send(self._fork(json.loads(line), items, reloader, runner))
        return True

    def _fork(self, job: dict[str, Any], items: dict[str, pytest.Item], reloader: Reloader,
              runner: _Runner) -> dict[str, Any]:
        started = time.perf_counter()
        read_end, write_end = os.pipe()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:  # the child: apply the mutant, run the tests, answer, and vanish
            os.close(read_end)
            try:
                result = self._one(job, items, reloader, runner)
            except BaseException as e:  # any escape is reported, never raised
                result = {"id": job["id"], "status": "error", "detail": f"{type(e).__name__}: {e}"}
            with os.fdopen(write_end, "w", encoding="utf-8") as pipe:
                pipe.write(json.dumps(result))
            sys.stderr.flush()
            os._exit(0)
        os.close(write_end)
        data, killed_for = b"", ""
        cpu_limit = float(job["budget"]) + max(job.get("limits") or [0.0]) + float(job.get("margin", 10.0))
        wall_limit = float(job.get("wall_limit", 20 * cpu_limit + 120.0))
        with os.fdopen(read_end, "rb") as answer_pipe:
            while True:
                ready, _, _ = select.select([answer_pipe], [], [], POLL_S)
                if ready:
                    chunk = os.read(answer_pipe.fileno(), 1 << 16)
                    if not chunk:
                        break
                    data += chunk
                    continue
                if _cpu_seconds(pid) > cpu_limit:
                    killed_for = f"no answer within {cpu_limit:.0f} s of CPU time"
                elif time.perf_counter() - started > wall_limit:
                    killed_for = f"no answer within {wall_limit:.0f} s"
                if killed_for:
                    os.kill(pid, signal.SIGKILL)
                    break
        _, status, usage = os.wait4(pid, 0)
        cpu = usage.ru_utime + usage.ru_stime
        if killed_for:
            return {"id": job["id"], "status": "timeout", "killer": None, "ran": None, "how": None,
                    "seconds": time.perf_counter() - started, "cpu": cpu, "detail": killed_for}
        try:
            answer: dict[str, Any] = json.loads(data)
        except ValueError:  # the mutant ended the process (os._exit, a crash): a kill
            return {"id": job["id"], "status": "killed", "killer": None, "ran": None, "how": None,
                    "seconds": time.perf_counter() - started, "cpu": cpu,
                    "detail": f"the process running the tests died (wait status {status})"}
        answer["cpu"], answer["seconds"] = cpu, time.perf_counter() - started
        return answer

    def _one(self, job: dict[str, Any], items: dict[str, pytest.Item], reloader: Reloader,
             runner: _Runner) -> dict[str, Any]:
        """In the child: apply the mutant and run its tests, stopping at the first failure.
        Nothing is undone: the child exits."""
        started = time.process_time()
        module, outer = job["module"], job.get("outer")
        try:
            code = compile(job["source"], job["file"], "exec")
        except SyntaxError as e:
            return {"id": job["id"], "status": "error", "detail": f"does not compile: {e}"}
        if any(t not in items for t in job["tests"]):  # the suite changed since the coverage run
            return {"id": job["id"], "status": "error", "detail": "a test id is not in the suite"}
        how = "swap" if outer and reloader.swap(module, outer, code) is not None else "reexec"
        if how == "reexec":
            try:
                reloader.reexec(module, code)
            except Exception as e:  # the mutant breaks importing the stack: every test would fail
                return {"id": job["id"], "status": "killed", "killer": "<import>", "ran": 0,
                        "how": how, "detail": f"{type(e).__name__}: {e}"}
        status, killer, ran, detail = "survived", None, 0, ""
        for nodeid, limit in zip(job["tests"], job["limits"], strict=True):
            if time.process_time() - started > job["budget"]:
                status, detail = "timeout", f"its tests ran past their budget of {job['budget']:.0f} s of CPU time"
                break
            ran += 1
            outcome = runner.run(items[nodeid], float(limit))
            if outcome is not None:
                status = "timeout" if outcome == "timeout" else "killed"
                killer = nodeid
                break
        return {"id": job["id"], "status": status, "killer": killer, "ran": ran, "how": how, "detail": detail}

    def _send(self, message: dict[str, Any]) -> None:
        self.out.write(json.dumps(message) + "\n")
        self.out.flush()


class CoveragePlugin:
    """Runs every test once under coverage, one context per test; writes the map."""

    def __init__(self, root: Path, out_path: Path, probes: Probes) -> None:
        self.root, self.out_path, self.probes = root, out_path, probes

    @pytest.hookimpl(tryfirst=True)
    def pytest_runtestloop(self, session: pytest.Session) -> bool:
        import coverage

        stack = str((self.root / PACKAGE).resolve())
        cov = coverage.Coverage(data_file=None, source=[stack], branch=False, config_file=False)
        durations: dict[str, float] = {}
        failed: list[str] = []
        infected: dict[str, list[int]] = {}
        runner = _Runner()
        cov.start()
        try:
            for item in session.items:
                cov.switch_context(item.nodeid)
                self.probes.infected = set()
                started = time.process_time()
                if runner.run(item, 60.0) is not None:
                    failed.append(item.nodeid)
                durations[item.nodeid] = time.process_time() - started
                for mutant_id in self.probes.infected:
                    infected.setdefault(mutant_id, []).append(len(durations) - 1)
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
                                             "lines": lines, "infected": infected,
                                             "probed": sorted(self.probes.loaded)}), encoding="utf-8")
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
    plugin: object
    if args.mode == "mutate":
        plugin = MutatePlugin(root, jobs, protocol)
    else:  # before pytest imports anything of the stack: its probed modules load instrumented
        probes = Probes(product_files(root, set()))
        probes.install(root / PACKAGE, root)
        plugin = CoveragePlugin(root, args.out, probes)
    code = pytest.main(pytest_args(root, args.suite), plugins=[plugin])
    return int(code) if code not in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) else 0


if __name__ == "__main__":
    sys.exit(main())
