"""`stackcheck soak`: find flaky tests by machine, not by luck.

    stackcheck soak --dut linux --runs 10 [--load N] [-k EXPR] [-n N|auto] [--seed S] [--report DIR]

Runs the conformance suite against one DUT ``--runs`` times, each in a different random order
(pytest-randomly, seed printed per run so any run can be repeated with
``stackcheck run ... -- -p randomly --randomly-seed=SEED``), optionally with ``--load N`` busy
loops competing for the CPUs the whole time. Then it prints every test that failed in any run,
with its failure message from each run side by side, and writes the same as soak.md and
soak.json in the report directory. Exit status 0 only when no run had a failure.

A flaky test is a bug of the test, the harness or the DUT: fix the cause (timing, ordering,
leftover state, deferred work), never retry it.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any, Final

from harness.cli.interrupts import interrupt_on_sigint

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
FAILING: Final = ("fail", "error", "unexpected-pass")
MESSAGE_LINES: Final = 6  # of each run's failure message, in the side-by-side listing
RUN_WIND_DOWN_S: Final = 30.0  # after SIGINT, before the interrupted run gets SIGTERM


class SoakUsageError(Exception):
    """Bad input: one line on stderr, exit status 2."""


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # SIGTERM stops a soak as Ctrl-C does


@contextmanager
def _interrupts_held() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while the block starts child processes; one that came
    meanwhile raises KeyboardInterrupt as the block ends. Interrupted between a child's fork and
    the return of Popen, the soak would have no handle to stop or reap it, and the child would
    outlive the soak (found by the SIGTERM test in a loaded fresh clone)."""
    came: list[int] = []
    held = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, held)  # the handlers change as one: none is lost between
    previous = {signum: signal.signal(signum, lambda n, _: came.append(n)) for signum in held}
    signal.pthread_sigmask(signal.SIG_UNBLOCK, held)  # unblocked for the children, which inherit the mask
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, held)
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, held)
    if came:
        raise KeyboardInterrupt


def add_parser(sub: Any) -> None:
    p = sub.add_parser("soak", help="run a suite many times in random order (optionally under load) "
                                    "and list every test that ever failed",
                       description="Run the conformance suite --runs times in random order against one DUT "
                                   "and print every test that failed in any run, messages side by side.")
    p.add_argument("--dut", default="inprocess", help="backend (default: %(default)s)")
    p.add_argument("--runs", default="10", metavar="N", help="how many runs (default: %(default)s)")
    p.add_argument("--load", default="0", metavar="N", help="busy loops kept running meanwhile (default: 0)")
    p.add_argument("-k", dest="keyword", metavar="EXPR", help="only tests matching this pytest -k expression")
    p.add_argument("-n", dest="workers", default="auto", metavar="N|auto", help="workers per run (default: auto)")
    p.add_argument("--seed", metavar="S", help="seed of the first run (then S+1, ...); default: random")
    p.add_argument("--report", type=Path, metavar="DIR", help="where runs and soak.md go (default: out/soak/DUT)")


def _count(text: str, what: str, minimum: int) -> int:
    if not text.isdigit() or int(text) < minimum:
        raise SoakUsageError(f"{what}: expected a whole number of at least {minimum}, got {text!r}")
    return int(text)


@dataclass
class Run:
    number: int
    seed: int
    seconds: float = 0.0
    exit_code: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)  # nodeid -> message
    # nodeid -> the test before it in its worker and the DUT's state when it failed
    context: dict[str, str] = field(default_factory=dict)
    problem: str = ""  # the run produced no results


def main(args: argparse.Namespace) -> int:
    try:
        return _main(args)
    except SoakUsageError as e:
        print(f"stackcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE


def _main(args: argparse.Namespace) -> int:
    runs = _count(args.runs, "--runs", 1)
    load = _count(args.load, "--load", 0)
    first_seed = _count(args.seed, "--seed", 0) if args.seed is not None else random.Random().getrandbits(32)
    out: Path = args.report or Path("out") / "soak" / args.dut
    shutil.rmtree(out, ignore_errors=True)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise SoakUsageError(f"cannot create {out}: {e.strerror}") from None
    print(f"stackcheck soak: {runs} run(s) of --dut {args.dut}" + (f" -k {args.keyword!r}" if args.keyword else "")
          + f", -n {args.workers}, {load} busy loop(s); load average {_loadavg()}", flush=True)
    interrupt_on_sigint()
    previous = signal.signal(signal.SIGTERM, _interrupt)
    loops: list[subprocess.Popen[bytes]] = []
    done: list[Run] = []
    started = time.monotonic()
    try:
        with _interrupts_held():
            loops += [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(load)]
        for n in range(1, runs + 1):
            run = _one(args, n, (first_seed + n - 1) % 2**32, out)
            done.append(run)
            shown = run.problem or ", ".join(f"{v} {k}" for k, v in run.totals.items())
            print(f"run {n}/{runs} --randomly-seed={run.seed}: {shown} ({run.seconds:.0f} s; "
                  f"load average {_loadavg()})", flush=True)
    except KeyboardInterrupt:
        print("stackcheck soak: interrupted; reporting the runs that finished", flush=True)
    finally:
        for proc in loops:
            proc.kill()
            proc.wait()
        signal.signal(signal.SIGTERM, previous)
    summary = _summary(done, args, load, time.monotonic() - started)
    print(summary, end="")
    (out / "soak.md").write_text(summary, encoding="utf-8")
    (out / "soak.json").write_text(json.dumps([run.__dict__ for run in done], indent=2) + "\n", encoding="utf-8")
    failed = any(run.failures or run.problem for run in done)
    return EXIT_FAILED if failed or len(done) < runs else EXIT_OK


def _loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _one(args: argparse.Namespace, n: int, seed: int, out: Path) -> Run:
    report = out / f"run-{n}"
    command = [sys.executable, "-m", "harness", "run", "--dut", args.dut, "--report", str(report),
               "-n", args.workers, "--order", "random"]
    if args.keyword:
        command += ["-k", args.keyword]
    command += ["--", "-p", "randomly", f"--randomly-seed={seed}"]
    run = Run(n, seed)
    begun = time.monotonic()
    with open(out / f"run-{n}.log", "wb") as log:
        # In a session of its own, so the soak alone decides when it is interrupted (below).
        proc: subprocess.Popen[bytes] | None = None
        try:
            with _interrupts_held():
                proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
            run.exit_code = proc.wait()
        except KeyboardInterrupt:
            if proc is not None:
                _stop_run(proc)
            raise
    run.seconds = time.monotonic() - begun
    try:
        data = json.loads((report / "results.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        run.problem = f"no results (exit {run.exit_code}; see {out / f'run-{n}.log'})"
        return run
    for record in data.get("results", []):
        verdict = record.get("verdict", "error")
        run.totals[verdict] = run.totals.get(verdict, 0) + 1
        if verdict in FAILING:
            run.failures[record["nodeid"]] = f"[{verdict}] {record.get('message') or ''}".strip()
            run.context[record["nodeid"]] = _context(record)
    if run.exit_code not in (0, 1) and not run.failures:
        run.problem = f"pytest exit {run.exit_code} (see {out / f'run-{n}.log'})"
    return run


def _stop_run(proc: subprocess.Popen[bytes]) -> None:
    """End an interrupted run as Ctrl-C ends one in a terminal: SIGINT to the run and its workers
    (its process group), each of which then removes what its backend made. SIGTERM to the group if
    it has not ended ``RUN_WIND_DOWN_S`` later. Whether the soak had Ctrl-C or SIGTERM, and even
    when it was started with SIGINT ignored, the run is stopped the way its backends are tested for."""
    os.killpg(proc.pid, signal.SIGINT)
    try:
        proc.wait(timeout=RUN_WIND_DOWN_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()


def _context(record: dict[str, Any]) -> str:
    """The test that ran before the failed one in its worker, and the DUT's state at the failure:
    where a failure caused by an earlier test's leftovers shows."""
    lines = []
    if record.get("after"):
        lines.append(f"ran after {record['after']} (worker {record.get('worker', '?')})")
    if record.get("dut_state"):
        lines += ["DUT state at the failure:", *(f"  {line}" for line in str(record["dut_state"]).splitlines())]
    return "\n".join(lines)


def _summary(done: list[Run], args: argparse.Namespace, load: int, seconds: float) -> str:
    lines = [f"# stackcheck soak: --dut {args.dut}, {len(done)} run(s), {load} busy loop(s), {seconds:.0f} s", ""]
    flaky: dict[str, list[Run]] = {}
    for run in done:
        for nodeid in run.failures:
            flaky.setdefault(nodeid, []).append(run)
    broken = [run for run in done if run.problem]
    if not done:
        return "\n".join([*lines, "Interrupted before any run finished."]) + "\n"
    if not flaky and not broken:
        lines.append(f"No test failed in any of the {len(done)} run(s) (seeds "
                     f"{', '.join(str(r.seed) for r in done)}).")
        return "\n".join(lines) + "\n"
    lines.append(f"{len(flaky)} test(s) failed in at least one run:")
    for nodeid, runs in sorted(flaky.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        lines += ["", f"## {nodeid} — failed in {len(runs)} of {len(done)} run(s)", ""]
        for run in runs:
            message = run.failures[nodeid].splitlines()[:MESSAGE_LINES]
            message += run.context.get(nodeid, "").splitlines()
            lines.append(f"- run {run.number} (--randomly-seed={run.seed}): " + "\n    ".join(message))
    for run in broken:
        lines.append(f"\nrun {run.number} (--randomly-seed={run.seed}): {run.problem}")
    return "\n".join(lines) + "\n"
