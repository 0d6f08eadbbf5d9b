"""`stackcheck fuzz`: long fuzz campaigns over the properties in fuzz/, or across DUTs.

    stackcheck fuzz [--duration 8h] [--workers N] [--db DIR|redis://HOST:PORT/N] [--target NAME ...]
                    [--atheris] [--corpus DIR] [--report FILE] [--list]
    stackcheck fuzz --diff inprocess,linux[,tap,...] [--duration 10m] [--json PATH] [--out DIR]
                    [--known FILE] [--lanes N] [--dut-config FILE] [--kinds K,K]

With --diff the same stimuli go to every named DUT and their answers are compared
(differential fuzzing, with liveness probes between batches): that mode is fuzz/differential/,
run here as ``python -m fuzz.differential``; see fuzz/README.md.

Composes existing engines instead of being one: each target runs as its own pytest process with
HYPOTHESIS_PROFILE=overnight (effectively unbounded examples) and one shared example database
(a directory by default; Redis, for many machines in one campaign, with the optional extra
`pip install 'stackcheck[fuzz]'`). With --atheris each target runs under libFuzzer instead
(raw bytes with checksum fix-up for `raw`, `test.hypothesis.fuzz_one_input` for the others),
keeping a corpus directory per target. Processes are stopped with SIGINT at the deadline, so
pytest, Hypothesis and coverage.py all finish cleanly. HypoFuzz (hypofuzz.com) is a fine
dashboard runner for the same tests, but its licence forbids it as a dependency.

The report (JSON at --report, Markdown next to it) lists per target: examples run, examples/s,
distinct failures (exception type + place), and branch coverage of stack_under_test when
coverage.py is installed (`pip install 'stackcheck[fuzz]'`).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypedDict

from harness.cli.interrupts import interrupt_on_sigint

if TYPE_CHECKING:
    from fuzz.campaign import Target

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
REPO = Path(__file__).resolve().parents[2]

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


class FuzzUsageError(Exception):
    """Bad input: one line on stderr, exit status 2."""


def add_parser(sub: Any) -> None:
    p = sub.add_parser("fuzz", help="run the fuzz properties for a long time across processes and write a report",
                       description="Run every fuzz property (or --target ones) with unbounded examples "
                                   "across --workers processes sharing one example database.")
    p.add_argument("--duration", default="10m", help="how long, e.g. 90s, 10m, 8h (default: %(default)s)")
    p.add_argument("--workers", default="1", metavar="N", help="processes (default: %(default)s)")
    p.add_argument("--db", default=".hypothesis/fuzz-examples", metavar="DIR|redis://...",
                   help="shared example database (default: %(default)s)")
    p.add_argument("--target", action="append", metavar="NAME", help="only this target (repeatable); see --list")
    p.add_argument("--atheris", action="store_true", help="coverage-guided mode under Atheris/libFuzzer")
    p.add_argument("--corpus", default=".hypothesis/fuzz-corpus", metavar="DIR",
                   help="Atheris corpus directory, one subdirectory per target (default: %(default)s)")
    p.add_argument("--report", default="out/fuzz/fuzz-report.json", metavar="FILE",
                   help="where the JSON report goes; Markdown is written next to it (default: %(default)s)")
    p.add_argument("--list", action="store_true", help="list the targets and exit")
    diff = p.add_argument_group("differential fuzzing across DUTs (--diff)")
    diff.add_argument("--diff", metavar="DUT,DUT[,...]",
                      help="send the same stimuli to these DUTs and report where their answers differ")
    diff.add_argument("--json", metavar="PATH", help="with --diff: a JSON summary for scripts")
    diff.add_argument("--out", default="out/fuzz/diff", metavar="DIR",
                      help="with --diff: the report directory (default: %(default)s)")
    diff.add_argument("--known", metavar="FILE", help="with --diff: the known-differences file "
                      "(default: fuzz/differential/known.toml)")
    diff.add_argument("--lanes", metavar="N", help="with --diff: instances of each real-time DUT "
                      "(default: 16 of linux, 4 of tap, the one interface)")
    diff.add_argument("--dut-config", metavar="FILE", help="with --diff: the interface backend's TOML file")
    diff.add_argument("--kinds", metavar="K,K", help="with --diff: only these stimulus kinds")


def campaign_targets() -> dict[str, Target]:
    """The campaign's targets (fuzz/campaign.py). The fuzz properties live in the source tree
    next to the harness, like the conformance suite, not in the installed packages."""
    if str(REPO) not in sys.path:
        sys.path.append(str(REPO))
    from fuzz.campaign import TARGETS

    return TARGETS


def parse_duration(text: str) -> float:
    m = _DURATION.match(text.strip())
    if not m or float(m.group(1)) <= 0:
        raise FuzzUsageError(f"--duration: expected a positive time like 90s, 10m or 8h, got {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass
class Job:
    target: str
    index: int
    stats_file: Path
    proc: subprocess.Popen[bytes] | None = None
    log: Path | None = None
    exit_code: int | None = None
    killed: bool = False
    signalled: bool = False  # stopped by the runner (deadline or Ctrl-C), not ended by itself
    starting: bool = False  # stopped before it ran an example: nothing to report
    started: float = 0.0
    stopped: float = 0.0


class TargetReport(TypedDict):
    """One target's line of the JSON report."""

    examples: int
    examples_per_s: float
    processes: int
    distinct_failures: int
    failures: dict[str, str]  # failure signature -> message
    branch_coverage_percent: float | None


class FuzzReport(TypedDict):
    """The JSON report (--report); Markdown with the same figures is written next to it."""

    duration_s: float
    workers: int
    database: str
    atheris: bool
    targets: dict[str, TargetReport]


@dataclass
class TargetResult:
    examples: int = 0
    seconds: float = 0.0
    failures: dict[str, str] = field(default_factory=dict)
    branch_coverage: float | None = None
    processes: int = 0


def main(args: argparse.Namespace) -> int:
    try:
        return _main(args)
    except FuzzUsageError as e:
        print(f"stackcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        # Only outside the waves (set-up, the report): no worker runs any more.
        print("stackcheck fuzz: interrupted", file=sys.stderr)
        return 128 + signal.SIGINT


def _main(args: argparse.Namespace) -> int:
    # Started in the background, the workers would ignore the SIGINT that stops them and be
    # killed without their coverage data.
    interrupt_on_sigint()
    if args.diff is not None:
        return _differential(args)
    table = campaign_targets()
    names = [name for name, target in table.items() if not args.atheris or target.atheris is not None]
    if args.list:
        for name in names:
            print(f"{name:<18} {table[name].node_id}")
        return EXIT_OK
    duration = parse_duration(args.duration)
    if not args.workers.isdigit() or int(args.workers) < 1:
        raise FuzzUsageError(f"--workers: expected a positive number of processes, got {args.workers!r}")
    workers = int(args.workers)
    targets = args.target or names
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise FuzzUsageError(f"--target: unknown {', '.join(unknown)}; choose from {', '.join(names)}")
    if args.db.startswith("redis://") and importlib.util.find_spec("redis") is None:
        raise FuzzUsageError("--db redis://... needs the redis package: pip install 'stackcheck[fuzz]'")
    if args.atheris and importlib.util.find_spec("atheris") is None:
        raise FuzzUsageError("--atheris needs atheris (a prebuilt wheel for Linux x86-64): pip install 'stackcheck[fuzz]'")
    report = Path(args.report)
    work = report.parent / "fuzz-work"
    for path in (report.parent, work):
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise FuzzUsageError(f"cannot create {path}: {e.strerror}") from None
    shutil.rmtree(work / "coverage", ignore_errors=True)  # a report covers this campaign only
    for old in work.glob("stats-*.json"):
        old.unlink()
    if not args.db.startswith("redis://"):
        Path(args.db).mkdir(parents=True, exist_ok=True)
    coverage_ok = importlib.util.find_spec("coverage") is not None and not args.atheris

    # Assign processes: every target at least one slot; with fewer workers than targets, waves.
    waves: list[list[str]] = []
    if workers >= len(targets):
        wave = [targets[i % len(targets)] for i in range(workers)]
        waves.append(wave)
    else:
        for i in range(0, len(targets), workers):
            waves.append(targets[i : i + workers])
    slice_s = duration / len(waves)
    print(f"stackcheck fuzz: {len(targets)} target(s), {workers} worker(s), {len(waves)} wave(s) of "
          f"{slice_s:.0f} s, database {args.db}" + (", Atheris" if args.atheris else ""))

    jobs: list[Job] = []
    campaign_start = time.monotonic()
    for n, wave in enumerate(waves):
        wave_jobs = [Job(t, len(jobs) + i, work / f"stats-{len(jobs) + i}-{t}.json") for i, t in enumerate(wave)]
        jobs.extend(wave_jobs)
        if not _run_wave(wave_jobs, slice_s, args, work, coverage_ok, n, len(waves)):
            break  # interrupted: no further waves, report what ran

    results = _collect(jobs, work, coverage_ok, time.monotonic() - campaign_start)
    _write_report(report, results, args, duration, workers)
    failed = any(r.failures for r in results.values())
    return EXIT_FAILED if failed else EXIT_OK


def _differential(args: argparse.Namespace) -> int:
    """Run the differential fuzzer as its own process (it lives in fuzz/, beside the properties)."""
    parse_duration(args.duration)  # a bad duration is a usage error before anything starts
    argv = [sys.executable, "-m", "fuzz.differential", "--diff", args.diff, "--duration", args.duration,
            "--out", args.out]
    for flag in ("json", "known", "lanes", "dut_config", "kinds"):
        value = getattr(args, flag)
        if value is not None:
            argv += [f"--{flag.replace('_', '-')}", value]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    proc = subprocess.Popen(argv, env=env)
    while True:
        try:
            return proc.wait()
        except KeyboardInterrupt:  # the child got the same Ctrl-C and is writing its report
            continue


def _command(job: Job, args: argparse.Namespace, work: Path, coverage_ok: bool, seconds: float) -> list[str]:
    if args.atheris:
        corpus = Path(args.corpus) / job.target
        corpus.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-m", "fuzz.atheris_main", job.target, str(corpus),
                f"-max_total_time={max(1, int(seconds))}", "-print_final_stats=1"]
    pytest_cmd = ["-m", "pytest", campaign_targets()[job.target].node_id, "-q", "-x", "-p", "no:cacheprovider",
                  "-p", "no:randomly", f"--rootdir={REPO}", "-o", "addopts=", "--hypothesis-show-statistics"]
    if coverage_ok:
        data = work / "coverage" / job.target / ".coverage"
        data.parent.mkdir(parents=True, exist_ok=True)
        return [sys.executable, "-m", "coverage", "run", "--branch", "--parallel-mode",
                f"--data-file={data}", f"--source={REPO / 'stack_under_test'}", *pytest_cmd]
    return [sys.executable, *pytest_cmd]


def _run_wave(jobs: list[Job], seconds: float, args: argparse.Namespace, work: Path, coverage_ok: bool,
              wave: int, waves: int) -> bool:
    """Run one wave of workers for ``seconds``; False when the user interrupted it."""
    env = dict(os.environ, HYPOTHESIS_PROFILE="overnight", STACKCHECK_FUZZ_DB=args.db,
               PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    completed = True
    try:
        for job in jobs:
            job.log = work / f"log-{job.index}-{job.target}.txt"
            job_env = dict(env, STACKCHECK_FUZZ_STATS=str(job.stats_file))
            with open(job.log, "wb") as log:
                # A session of its own: a Ctrl-C on the terminal reaches only this runner, which then
                # stops each worker the way its stage allows (see _stop), never in mid-import.
                job.proc = subprocess.Popen(_command(job, args, work, coverage_ok, seconds), cwd=REPO,
                                            env=job_env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
            job.started = time.monotonic()
        deadline = time.monotonic() + seconds
        next_progress = time.monotonic() + 10
        while time.monotonic() < deadline and any(j.proc.poll() is None for j in jobs if j.proc):
            time.sleep(0.5)
            if time.monotonic() >= next_progress:
                next_progress += 10
                _progress(jobs, wave, waves)
    except KeyboardInterrupt:
        print("stackcheck fuzz: interrupted, stopping the workers and writing the report", flush=True)
        completed = False
    finally:
        _stop(jobs)
    _progress(jobs, wave, waves)
    return completed


def _stop(jobs: list[Job]) -> None:
    """Stop every worker still running, the way its stage allows.

    A worker that has run examples (its stats file exists) gets SIGINT, so pytest, Hypothesis
    and coverage.py end cleanly and save what they have; SIGKILL if it is still running 180 s
    later. Neither a fixed 30 s nor 30 s with 5 s of CPU since told a stuck worker from one still
    saving its coverage on a loaded machine (CI runs this beside real-DUT suites at raised
    priority; both rules killed a worker that was ending cleanly). A worker still starting (importing pytest, Hypothesis, the stack) has nothing to
    save, and a KeyboardInterrupt in the middle of an import can surface as another error
    ("SystemError: AST constructor recursion depth mismatch" from pytest's assertion
    rewriting): it gets SIGKILL at once. A second Ctrl-C while waiting kills what is left."""
    for job in jobs:
        if job.proc is None or job.proc.poll() is not None:
            continue
        job.signalled = True
        if job.stats_file.exists():
            job.proc.send_signal(signal.SIGINT)
        else:
            job.proc.kill()
            job.starting = True
    signalled_at = time.monotonic()
    limit = signalled_at + STOP_WALL_LIMIT_S
    try:
        for job in jobs:
            if job.proc is None:
                continue
            checked, seen = time.monotonic(), _examples_run(job)
            while job.proc.poll() is None:
                now = time.monotonic()
                if now > limit:
                    job.proc.kill()
                    job.killed = True
                    break
                if job.signalled and not job.starting and now - checked >= RESIGNAL_S:
                    # Still counting examples: its interrupt was lost (one in a CI run went on
                    # fuzzing for the whole 180 s); one saving its coverage counts none.
                    count = _examples_run(job)
                    if count > seen:
                        job.proc.send_signal(signal.SIGINT)
                    checked, seen = now, count
                time.sleep(0.1)
            job.exit_code = job.proc.wait()
            job.stopped = time.monotonic()
    except KeyboardInterrupt:
        for job in jobs:
            if job.proc is not None and job.proc.poll() is None:
                job.proc.kill()
                job.killed = True
            if job.proc is not None:
                job.exit_code = job.proc.wait()
                job.stopped = job.stopped or time.monotonic()


STOP_WALL_LIMIT_S = 180.0  # a worker still running this long after SIGINT is killed
RESIGNAL_S = 5.0  # a worker whose example count still grows this long after SIGINT gets another


def _examples_run(job: Job) -> int:
    return _examples_in(_read_stats(job.stats_file))


def _examples_in(stats: dict[str, Any]) -> int:
    return sum(stats["examples"].values())


def _read_stats(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text(encoding="utf-8"))  # type: ignore[no-any-return]
    except (OSError, ValueError):
        return {"examples": {}, "failures": {}, "elapsed_s": 0.0}


def _progress(jobs: list[Job], wave: int, waves: int) -> None:
    parts = []
    for job in jobs:
        data = _read_stats(job.stats_file)
        n = _examples_in(data)
        rate = n / data["elapsed_s"] if data.get("elapsed_s") else 0.0
        state = "" if job.proc is None or job.proc.poll() is None else f" exited {job.proc.returncode}"
        fails = sum(len(v) for v in data["failures"].values())
        parts.append(f"{job.target}: {n} ({rate:.0f}/s){f', {fails} failure(s)' if fails else ''}{state}")
    print(f"[wave {wave + 1}/{waves}] " + "; ".join(parts), flush=True)


def _collect(jobs: list[Job], work: Path, coverage_ok: bool, elapsed: float) -> dict[str, TargetResult]:
    results: dict[str, TargetResult] = {}
    for job in jobs:
        r = results.setdefault(job.target, TargetResult())
        data = _read_stats(job.stats_file)
        r.examples += _examples_in(data)
        r.seconds += (job.stopped or time.monotonic()) - job.started
        r.processes += 1
        for sigs in data["failures"].values():
            r.failures.update(sigs)
        # A process that ended by itself before the deadline with an error found something;
        # Atheris/libFuzzer reports crashes only in its log. One the runner stopped reports its
        # findings in its stats (an example cut short by the SIGINT is not one), unless it had
        # to be killed.
        if ((job.killed or not job.signalled) and job.exit_code not in (0, 2, -signal.SIGINT, 130, None)
                and not data["failures"] and job.log is not None):
            tail = job.log.read_text(encoding="utf-8", errors="replace")[-800:]
            # A worker still busy 180 s after SIGINT may be stuck in the stack: worth a look, so
            # it stays listed, under a name that says what happened.
            sig = "killed: still running long after SIGINT" if job.killed else f"exit {job.exit_code}"
            r.failures.setdefault(sig, tail)
    if len(results) > 1:
        combined = TargetResult(examples=sum(r.examples for r in results.values()), seconds=elapsed,
                                processes=sum(r.processes for r in results.values()))
        for r in results.values():
            combined.failures.update(r.failures)
        results["all targets combined"] = combined
    if coverage_ok:
        for target, r in results.items():
            folder, pattern = (work / "coverage", "*/.coverage.*") if target == "all targets combined" else (
                work / "coverage" / target, ".coverage.*")
            r.branch_coverage = _branch_coverage(folder, pattern)
    return results


def _branch_coverage(folder: Path, pattern: str) -> float | None:
    """Branch coverage (percent of branches taken) of stack_under_test in the data files under
    ``folder`` matching ``pattern``, combined."""
    import coverage

    files = [str(p) for p in folder.glob(pattern)]
    if not files:
        return None
    cov = coverage.Coverage(data_file=str(folder / ".coverage"), branch=True, source=[str(REPO / "stack_under_test")])
    cov.combine(files, keep=True)
    cov.save()
    out = folder / "coverage.json"
    try:
        cov.json_report(outfile=str(out))
    except coverage.exceptions.NoDataError:
        return None
    totals = json.loads(out.read_text(encoding="utf-8"))["totals"]
    branches = totals.get("num_branches", 0)
    return 100.0 * totals.get("covered_branches", 0) / branches if branches else None


def _write_report(path: Path, results: dict[str, TargetResult], args: argparse.Namespace, duration: float,
                  workers: int) -> None:
    data = FuzzReport(
        duration_s=duration, workers=workers, database=args.db, atheris=bool(args.atheris),
        targets={
            name: TargetReport(examples=r.examples, examples_per_s=r.examples / r.seconds if r.seconds else 0.0,
                               processes=r.processes, distinct_failures=len(r.failures), failures=r.failures,
                               branch_coverage_percent=r.branch_coverage)
            for name, r in results.items()
        },
    )
    path.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    lines = ["# Fuzz campaign", "",
             f"{duration:.0f} s, {workers} worker(s), database `{args.db}`{', Atheris' if args.atheris else ''}.", "",
             "| target | examples | examples/s | distinct failures | branch coverage of stack_under_test |",
             "|---|---:|---:|---:|---:|"]
    for name, t in data["targets"].items():
        cov = "n/a" if t["branch_coverage_percent"] is None else f"{t['branch_coverage_percent']:.1f}%"
        lines.append(f"| {name} | {t['examples']} | {t['examples_per_s']:.0f} | {t['distinct_failures']} | {cov} |")
    for name, t in data["targets"].items():
        for sig, message in t["failures"].items():
            lines += ["", f"## {name}: {sig}", "", "```", message.strip(), "```"]
    md = path.with_suffix(".md")
    md.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"stackcheck fuzz: report written to {path} and {md}")
    for name, t in data["targets"].items():
        print(f"  {name}: {t['examples']} examples, {t['examples_per_s']:.0f}/s, "
              f"{t['distinct_failures']} distinct failure(s)")
