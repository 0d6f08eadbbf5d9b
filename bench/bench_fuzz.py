"""Fuzz throughput: Hypothesis raw bytes into the whole stack beside Hypothesis's own ceiling
(an empty test body), the structure-aware targets, and Atheris raw bytes with checksum fix-up.

All figures come from this one run and count CPU time of the fuzzing process (examples per
CPU-second = per core), so a loaded shared machine distorts them less than wall time would.
Targets: raw bytes >= 2,500 examples/s per core (Hypothesis alone: ~3,600/s here),
structure-aware >= 400/s, Atheris raw bytes with fix-up >= 20,000 execs/s per core.

    .venv/bin/python bench/bench_fuzz.py [--examples N] [--atheris-seconds S] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import importlib.util
import io
import os
import pstats
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from fuzz.strategies.frames import any_frames  # noqa: E402
from fuzz.target import FuzzStack, one_raw_input  # noqa: E402

TARGET_RAW, TARGET_STRUCTURED, TARGET_ATHERIS = 2_500, 400, 20_000


def examples_per_s(strategy: st.SearchStrategy[bytes], body: Callable[[bytes], None], n: int) -> float:
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def run(data: bytes) -> None:
        body(data)

    start = time.process_time()
    run()
    return n / (time.process_time() - start)


def structured_no_oracle(frame: bytes) -> None:
    fs = FuzzStack.fresh()
    fs.inject(frame)
    fs.check_invariants()


def atheris_execs_per_s(seconds: int) -> tuple[float, int] | str:
    if importlib.util.find_spec("atheris") is None:
        return "atheris is not installed (pip install 'stackcheck[fuzz]')"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with tempfile.TemporaryDirectory() as corpus:
        env = dict(os.environ, PYTHONPATH=str(REPO))
        out = subprocess.run([sys.executable, "-m", "fuzz.atheris_main", "raw", corpus, f"-max_total_time={seconds}",
                              "-print_final_stats=1"], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=seconds + 120, check=False)
    text = out.stdout + out.stderr
    runs = re.search(r"stat::number_of_executed_units:\s*(\d+)", text)
    rate = re.search(r"stat::average_exec_per_sec:\s*(\d+)", text)
    cov = re.findall(r"cov: (\d+)", text)
    if not runs or not rate:
        return f"could not read libFuzzer's final stats (exit {out.returncode}): {text[-300:]}"
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    return int(runs.group(1)) / cpu, int(cov[-1]) if cov else 0


def verdict(value: float, target: float) -> str:
    return "ok" if value >= target else "BELOW TARGET"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=3000)
    ap.add_argument("--atheris-seconds", type=int, default=10)
    ap.add_argument("--profile", action="store_true", help="profile the raw-bytes target (top 15 by own time)")
    args = ap.parse_args()
    n = args.examples
    raw = st.binary(max_size=1500)
    empty = examples_per_s(raw, lambda data: None, n)
    stack = examples_per_s(raw, one_raw_input, n)
    fixup = examples_per_s(st.binary(min_size=14, max_size=1500), lambda d: one_raw_input(d, fixup=True), n)
    structured = examples_per_s(any_frames(), structured_no_oracle, max(200, n // 5))
    structured_shared = examples_per_s(any_frames(), one_raw_input, max(200, n // 5))
    gen_only = examples_per_s(any_frames(), lambda data: None, max(200, n // 5))
    print("examples (execs) per CPU-second of the fuzzing process, i.e. per core:")
    print(f"Hypothesis st.binary(max_size=1500), empty body:      {empty:8.0f} examples/s (Hypothesis's ceiling)")
    print(f"Hypothesis raw bytes into the whole stack:            {stack:8.0f} examples/s "
          f"({stack / empty:.0%} of the ceiling) target {TARGET_RAW}: {verdict(stack, TARGET_RAW)}")
    print(f"Hypothesis raw bytes + checksum fix-up into the stack:{fixup:8.0f} examples/s")
    print(f"structure-aware frames, generation only:              {gen_only:8.0f} examples/s")
    print(f"structure-aware frames into a fresh stack:            {structured:8.0f} examples/s "
          f"target {TARGET_STRUCTURED}: {verdict(structured, TARGET_STRUCTURED)}")
    print(f"structure-aware frames into a shared stack:           {structured_shared:8.0f} examples/s "
          f"target {TARGET_STRUCTURED}: {verdict(structured_shared, TARGET_STRUCTURED)}")
    result = atheris_execs_per_s(args.atheris_seconds)
    if isinstance(result, str):
        print(f"Atheris raw bytes + fix-up into the stack: skipped: {result}")
    else:
        rate, cov = result
        print(f"Atheris raw bytes + fix-up into the stack:            {rate:8.0f} execs/s "
              f"(libFuzzer cov {cov}) target {TARGET_ATHERIS}: {verdict(rate, TARGET_ATHERIS)}")
    if args.profile:
        prof = cProfile.Profile()
        prof.enable()
        examples_per_s(raw, one_raw_input, n)
        prof.disable()
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("tottime").print_stats(15)
        print(buf.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
