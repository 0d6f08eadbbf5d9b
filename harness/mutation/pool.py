"""The parent side: worker processes that stay alive, one thread each, jobs handed out lazily.

A worker that does not answer within a job's hard limit (its time budget plus the longest
test's limit plus a margin: the alarms inside the worker should have fired long before) is killed and
restarted, and the mutant counts as killed by timeout; a worker that dies (a mutant that
crashes the interpreter) is restarted and the mutant counts as killed. A worker that asks for
it (after a timeout) is restarted; one whose canary test failed is restarted and the jobs it
ran since the canary last passed are run again.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any, Final

from harness.mutation.sources import Suite

READY_TIMEOUT_S: Final = 300.0
JOB_MARGIN_S: Final = 30.0
MAX_RETRIES: Final = 2

Job = dict[str, Any]
Result = dict[str, Any]


class WorkerError(Exception):
    """A worker could not start (the suite does not collect, or the stack does not import)."""


class _Worker:
    def __init__(self, suite: Suite, log: IO[str]) -> None:
        self.suite, self.log = suite, log
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.mutation.worker", "--suite", self.suite, "--mode", "mutate"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        ready = self._read(READY_TIMEOUT_S)
        if ready is None or not ready.get("ready"):
            self.stop()
            raise WorkerError(f"a mutation worker for the {self.suite} suite did not start (see {self.log.name})")

    def _read(self, timeout: float) -> dict[str, Any] | None:
        assert self.proc is not None and self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not ready:
            return None
        line = self.proc.stdout.readline()
        if not line:
            return None
        answer: dict[str, Any] = json.loads(line)
        return answer

    def run(self, job: Job, hard_limit: float) -> Result:
        if self.proc is None or self.proc.poll() is not None:
            self.start()
        assert self.proc is not None and self.proc.stdin is not None
        started = time.perf_counter()
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            answer = self._read(hard_limit)
        except (BrokenPipeError, OSError):
            answer = None
        if answer is not None:
            return answer
        died = self.proc.poll() is not None
        self.stop()
        return {"id": job["id"], "status": "killed" if died else "timeout", "killer": None,
                "ran": None, "how": None, "seconds": time.perf_counter() - started,
                "detail": "the worker process died" if died else f"no answer within {hard_limit:.0f} s"}

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                stream.close()
        self.proc = None


def run(suite: Suite, workers: int, log_path: Path, next_job: Callable[[], Job | None],
        done: Callable[[Job, Result], None]) -> None:
    """Run jobs from ``next_job`` (called under a lock) on ``workers`` processes until it
    returns None; ``done`` is called under the same lock with each result."""
    lock = threading.Lock()
    errors: list[BaseException] = []
    retry: deque[Job] = deque()
    tries: Counter[str] = Counter()
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with log_path.open("w", encoding="utf-8") as log:
        def loop() -> None:
            worker = _Worker(suite, log)
            since_canary: list[Job] = []
            try:
                worker.start()
                while True:
                    with lock:
                        if errors:
                            return
                        job = retry.popleft() if retry else next_job()
                    if job is None:
                        return
                    limits = job.get("limits") or [0.0]
                    result = worker.run(job, float(job["budget"]) + max(limits) + JOB_MARGIN_S)
                    since_canary.append(job)
                    with lock:
                        if result.get("suspect"):  # the worker went bad: its recent results go again
                            for again in since_canary:
                                tries[again["id"]] += 1
                                if tries[again["id"]] <= MAX_RETRIES:
                                    retry.append(again)
                                else:
                                    done(again, {"id": again["id"], "status": "error",
                                                 "detail": "the worker's canary test kept failing after it"})
                        else:
                            done(job, result)
                    if result.get("canary_ok") or result.get("suspect"):
                        since_canary = []
                    if result.get("restart"):
                        worker.stop()
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
