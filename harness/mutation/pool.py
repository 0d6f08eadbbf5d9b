"""The parent side: worker processes that stay alive, one thread each, jobs handed out lazily.

Each worker is a fork server (worker.py): it runs every mutant in a child of its own and ends a
child that hangs itself, so a worker survives every mutant. The parent still guards against a
server that stops answering (its own hard limit, far above the job's limits): it kills the
worker's whole process group, counts the mutant as killed by timeout and starts a new worker.
At the ``deadline`` (``--max-time``) the parent stops handing out jobs and ends the mutants
still in flight, which are reported as not run; a re-run with the cache picks them up.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

from harness.mutation.sources import Suite

READY_TIMEOUT_S: Final = 300.0
# The server's own answer may come this long after the job's CPU limits (a loaded machine,
# the child's start): past it, the server itself is stuck.
JOB_MARGIN_S: Final = 120.0
# One hash seed for the coverage run and every worker: set and dict orders of strings, and so
# the paths a test takes, are the same in both.
HASH_SEED: Final = "0"

Job = dict[str, Any]
Result = dict[str, Any]


class WorkerError(Exception):
    """A worker could not start (the suite does not collect, or the stack does not import)."""


def worker_env() -> dict[str, str]:
    return os.environ | {"PYTHONHASHSEED": HASH_SEED}


class _Worker:
    def __init__(self, suite: Suite, log: IO[str]) -> None:
        self.suite, self.log = suite, log
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.mutation.worker", "--suite", self.suite, "--mode", "mutate"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1,
            env=worker_env(), start_new_session=True)  # its own group: stop() ends the mutant in flight too
        ready = self._read(READY_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self.stop()
            raise WorkerError(f"a mutation worker for the {self.suite} suite did not start (see {self.log.name})")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], max(0.0, timeout))
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, job: Job, hard_limit: float, deadline: float | None) -> Result | None:
        """The worker's answer; None when the deadline came first (the job was not run)."""
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        started = time.perf_counter()
        until = started + hard_limit if deadline is None else min(started + hard_limit, deadline)
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            answer = self._read(until - started)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is not None:
            return answer
        died = self.proc.poll() is not None
        self.stop()
        if not died and deadline is not None and time.perf_counter() >= deadline:
            return None
        return {"id": job["id"], "status": "killed" if died else "timeout", "killer": None,
                "ran": None, "how": None, "seconds": time.perf_counter() - started,
                "detail": "the worker process died" if died else f"no answer within {hard_limit:.0f} s"}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.proc = None


def run(suite: Suite, workers: int, log_path: Path, next_job: Callable[[], Job | None],
        done: Callable[[Job, Result], None], deadline: float | None = None) -> list[Job]:
    """Run jobs from ``next_job`` (called under a lock) on ``workers`` processes until it
    returns None; ``done`` is called under the same lock with each result. ``deadline`` (a
    ``time.perf_counter()`` value) ends the jobs still running then; they are returned."""
    lock = threading.Lock()
    errors: list[BaseException] = []
    unfinished: list[Job] = []
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        def loop() -> None:
            worker = _Worker(suite, log)
            try:
                worker.start()
                while True:
                    with lock:
                        if errors:
                            return
                        job = next_job()
                    if job is None:
                        return
                    limits = job.get("limits") or [0.0]
                    hard = 20 * (float(job["budget"]) + max(limits)) + JOB_MARGIN_S
                    result = worker.run(job, hard, deadline)
                    with lock:
                        if result is None:
                            unfinished.append(job)
                            return
                        done(job, result)
            except BaseException as e:
                with lock:
                    errors.append(e)
            finally:
                worker.stop()

        threads = [threading.Thread(target=loop, name=f"mutation-worker-{i}") for i in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    if errors:
        raise errors[0]
    return unfinished
