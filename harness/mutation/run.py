"""One mutation campaign: generate the mutants, pick each one's tests, run them, gather results."""

from __future__ import annotations

import resource
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from harness.mutation import areas, cache, coverage_map, equivalents, pool
from harness.mutation.import_time import import_time_functions
from harness.mutation.operators import Mutant, mutants
from harness.mutation.sources import SourceFile, Suite, digest, product_files, suite_dir

# A test's CPU time limit under a mutant: this many times its unmutated CPU time (measured under
# coverage, which is slower still), at least MIN_LIMIT_S; and all of a mutant's tests together:
# BUDGET_FACTOR times theirs, at least MIN_BUDGET_S. CPU time, not wall time: the in-process
# suite runs on a virtual clock, so the limits hold on a loaded machine as on an idle one. A
# mutant past either made the suite hang or crawl: a kill, counted as "timeout".
LIMIT_FACTOR: Final = 20.0
MIN_LIMIT_S: Final = 1.0
BUDGET_FACTOR: Final = 5.0
MIN_BUDGET_S: Final = 10.0
KILLED: Final = frozenset({"killed", "timeout"})
# A survivor no test could kill: tests reach its line, none makes it compute otherwise (infection.py).
NOT_INFECTED: Final = {
    "boundary": "no test that reaches the comparison has its two sides equal: no test holds the stack at this boundary",
    "constant": "no test that reaches the comparison has a value for which the new constant decides otherwise",
    "remove-guard": "no test that reaches the guard makes its condition true: no test sends what it rejects",
    "arithmetic": "no test that reaches the expression has an operand for which the new constant gives another result",
    "subscript": "no test that reaches the read has a sequence from which the new index or bound reads another value",
}


@dataclass(slots=True)
class Options:
    root: Path
    suite: Suite
    workers: int
    cache_dir: Path
    out_dir: Path
    only: list[str] = field(default_factory=list)   # path substrings; empty: the whole stack
    use_cache: bool = True
    max_seconds: float | None = None                # stop starting mutants after this long


@dataclass(slots=True)
class Outcome:
    mutant: Mutant
    source: SourceFile
    status: str                      # killed, timeout, survived, no-coverage, equivalent
    tests: list[str]                 # the tests selected for it, in the order tried
    killer: str | None = None
    ran: int | None = None
    how: str | None = None           # swap or reexec
    seconds: float = 0.0
    cpu: float = 0.0                 # CPU seconds of the process that ran its tests
    cached: bool = False
    selection: str = "lines"         # lines, names, all
    detail: str = ""
    reason: str = ""                 # why it is equivalent


@dataclass(slots=True)
class Campaign:
    options: Options
    outcomes: list[Outcome]
    reviewed: equivalents.Reviewed
    stale: list[str]
    baseline_failures: list[str]
    seconds: dict[str, float]
    coverage_cached: bool
    cpu_seconds: dict[str, float] = field(default_factory=dict)


def _suite_files(root: Path, suite: Suite) -> list[Path]:
    return sorted(suite_dir(root, suite).rglob("*.py"))


def _order(tests: set[str], durations: dict[str, float], history: dict[str, Counter[str]],
           mutant: Mutant) -> list[str]:
    """Tests that killed mutants of this line, then of this function, then of this file first
    (in this run or, through the cache, in earlier ones); then the fastest."""
    line = history.get(f"{mutant.path}:{mutant.line}", Counter())
    here = history.get(f"{mutant.path}:{mutant.scope}", Counter())
    near = history.get(mutant.path, Counter())
    return sorted(tests, key=lambda t: (-line[t], -here[t], -near[t], durations.get(t, 1.0), t))


def execute(options: Options, log: Any = print) -> Campaign:
    root, suite = options.root, options.suite
    started = time.perf_counter()
    cpu_started = _cpu_used()
    reviewed = equivalents.load(root / "conformance" / equivalents.FILE_NAME)
    sources = product_files(root, set(reviewed.excluded))
    if options.only:
        sources = [s for s in sources if any(o in s.relpath for o in options.only)]
    suite_files = _suite_files(root, suite)
    file_digests = {p.relative_to(root).as_posix(): digest(p.read_bytes()) for p in suite_files}
    all_sources = product_files(root, set())
    key = coverage_map.fingerprint(root, suite, all_sources, suite_files)
    log_path = options.cache_dir / f"worker-{suite}.log"
    t0 = time.perf_counter()
    cov = coverage_map.load_or_run(root, suite, key, options.cache_dir, log_path)
    coverage_s = time.perf_counter() - t0
    coverage_cpu = _cpu_used() - cpu_started
    log(f"stackcheck mutate: coverage map of the {suite} suite {'from the cache' if cov.from_cache else 'made'} "
        f"({len(cov.durations)} tests, {coverage_s:.1f} s)")
    names = coverage_map.NameIndex(all_sources)
    usable = {t for t in cov.durations if t not in set(cov.failed)}
    everything = set(usable)
    import_time = import_time_functions(all_sources)

    outcomes: list[Outcome] = []
    seen_ids: set[str] = set()
    used_rules: set[int] = set()
    for source in sources:
        for m in mutants(source.text, source.relpath, source.module):
            seen_ids.add(m.id)
            reason = reviewed.reason_for(suite, m.id, m.operator, m.original, m.path, m.scope, m.binding,
                                         m.replacement)
            rule = reviewed.rule_for(suite, m.operator, m.original, m.path, m.scope, m.binding, m.replacement)
            if rule is not None:
                used_rules.add(id(rule))
            if reason is not None:
                outcomes.append(Outcome(m, source, "equivalent", [], reason=reason))
                continue
            if (m.module, m.outer) in import_time:
                # Runs at import (harness.mutation.import_time): applied by re-execution, and what
                # it built may be read by any test.
                tests, selection = everything, "import-time"
            elif m.outer is not None:
                tests, selection = cov.tests_of(m.path, m.line, m.end_line) & usable, "lines"
                if m.id in cov.probed:  # only the tests in which the mutated code computes otherwise
                    infecting = tests & cov.infected.get(m.id, set())
                    if tests and not infecting:
                        outcomes.append(Outcome(m, source, "survived", sorted(tests), selection="infection",
                                                ran=0, detail=NOT_INFECTED[_probe_kind(m)]))
                        continue
                    tests, selection = infecting, "infection"
            else:
                tests, selection = names.tests_of(m.names, cov) & usable, "names"
                if not tests:
                    tests, selection = everything, "all"
            outcome = Outcome(m, source, "pending", sorted(tests), selection=selection)
            if not tests:
                outcome.status = "no-coverage"
            outcomes.append(outcome)
    stale = sorted(set(reviewed.equivalent) - seen_ids) if not options.only else []
    if not options.only:  # a rule of this suite that matches nothing any more is stale too
        stale += [r.describe() for r in reviewed.unobservable if suite in r.suites and id(r) not in used_rules]

    test_digests = _test_digests(root, cov, file_digests, {s.relpath: s.digest for s in all_sources})
    results = cache.ResultCache(options.cache_dir / f"results-{suite}.json")
    history: dict[str, Counter[str]] = defaultdict(Counter)
    pending: list[tuple[Outcome, str]] = []
    for o in outcomes:
        if o.status != "pending":
            continue
        k = cache.mutant_key(suite, o.source.digest, o.mutant.id, o.mutant.description,
                             [(t, test_digests.get(t, "")) for t in o.tests])
        hit = results.get(k) if options.use_cache else None
        if hit is not None:
            _settle(o, hit, cached=True)
            _learn(history, o)
        else:
            pending.append((o, k))
    log(f"stackcheck mutate: {len(outcomes)} mutants in {len(sources)} files; "
        f"{len(pending)} to run on {options.workers} workers, the rest known")

    queue = iter(_round_robin(pending))
    by_id: dict[str, tuple[Outcome, str]] = {}
    finished = 0
    t1 = time.perf_counter()

    deadline = None if options.max_seconds is None else started + options.max_seconds

    def next_job() -> dict[str, Any] | None:
        if deadline is not None and time.perf_counter() > deadline:
            return None
        for o, k in queue:
            by_id[o.mutant.id] = (o, k)
            o.tests = _order(set(o.tests), cov.durations, history, o.mutant)
            unmutated = [cov.durations.get(t, 0.1) for t in o.tests]
            return {"id": o.mutant.id, "module": o.mutant.module, "file": str(o.source.path),
                    "source": o.mutant.apply(o.source.text), "outer": None if o.selection == "import-time" else o.mutant.outer, "tests": o.tests,
                    "limits": [max(MIN_LIMIT_S, LIMIT_FACTOR * d) for d in unmutated],
                    "budget": max(MIN_BUDGET_S, BUDGET_FACTOR * sum(unmutated))}
        return None

    def done(job: dict[str, Any], result: dict[str, Any]) -> None:
        nonlocal finished
        o, k = by_id[job["id"]]
        _settle(o, result, cached=False)
        _learn(history, o)
        if result.get("status") in ("killed", "timeout", "survived"):
            results.put(k, {key: result.get(key) for key in ("status", "killer", "ran", "how", "seconds", "cpu",
                                                             "detail")})
        finished += 1
        if finished % 250 == 0 or finished == len(pending):
            results.save(prune=False)  # an interrupted run keeps what it learnt
            rate = finished / max(time.perf_counter() - t1, 1e-6)
            log(f"stackcheck mutate: {finished}/{len(pending)} run ({rate:.1f} mutants/s)")

    if pending:
        pool.run(suite, max(1, min(options.workers, len(pending))), log_path, next_job, done, deadline)
    not_run = [o for o in outcomes if o.status == "pending"]
    for o in not_run:
        o.status = "not-run"
    if not_run:
        log(f"stackcheck mutate: --max-time reached: {len(not_run)} mutants not run (a re-run picks them up)")
    results.save(prune=not options.only and not not_run)
    run_s = time.perf_counter() - t1
    total_cpu = _cpu_used() - cpu_started
    return Campaign(options, outcomes, reviewed, stale, sorted(cov.failed),
                    {"coverage": coverage_s, "mutants": run_s, "total": time.perf_counter() - started},
                    cov.from_cache, {"coverage": coverage_cpu, "total": total_cpu,
                                     "mutants": sum(o.cpu for o in outcomes if not o.cached)})


def _probe_kind(m: Mutant) -> str:
    return m.probe[0] if m.probe is not None and m.probe[0] in ("arithmetic", "subscript") else m.operator


def _cpu_used() -> float:
    """CPU seconds of this process and of every process it (or they) started and waited for:
    the coverage run, the workers and the children they forked per mutant."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _test_digests(root: Path, cov: coverage_map.CoverageMap, suite_digests: dict[str, str],
                  stack_digests: dict[str, str]) -> dict[str, str]:
    """Per test, a hash of everything its outcome under a mutant depends on besides the mutated
    file: its own file, the stack files it runs (a change elsewhere in the stack can make it
    catch or miss a mutant), the harness it runs on and the suite's conftest files."""
    support = sorted(p for p in (root / "harness").rglob("*.py") if "mutation" not in p.parts and "tests" not in p.parts)
    common = digest("\n".join([*(f"{p.relative_to(root)}:{digest(p.read_bytes())}" for p in support),
                               *(f"{f}:{d}" for f, d in sorted(suite_digests.items()) if f.endswith("conftest.py"))]))
    runs: dict[str, set[str]] = defaultdict(set)
    for relpath, by_line in cov.lines.items():
        for tests in by_line.values():
            for t in tests:
                runs[t].add(relpath)
    return {t: digest("\n".join([common, suite_digests.get(t.split("::", 1)[0], ""),
                                 *(f"{f}:{stack_digests.get(f, '')}" for f in sorted(runs[t]))]))
            for t in cov.durations}


def _round_robin(pending: list[tuple[Outcome, str]]) -> list[tuple[Outcome, str]]:
    """One mutant of each file in turn (each file's in source order): a run cut short by
    --max-time has made progress in every area, not finished the first files alphabetically."""
    by_file: dict[str, list[tuple[Outcome, str]]] = defaultdict(list)
    for job in pending:
        by_file[job[0].mutant.path].append(job)
    files = list(by_file.values())
    return [f[i] for i in range(max((len(f) for f in files), default=0)) for f in files if i < len(f)]


def _settle(o: Outcome, result: dict[str, Any], *, cached: bool) -> None:
    o.status = str(result.get("status"))
    o.killer = result.get("killer")
    o.ran = result.get("ran")
    o.how = result.get("how")
    o.seconds = float(result.get("seconds") or 0.0)
    o.cpu = float(result.get("cpu") or 0.0)
    o.detail = str(result.get("detail") or "")
    o.cached = cached


def _learn(history: dict[str, Counter[str]], o: Outcome) -> None:
    if o.status in KILLED and o.killer:
        history[f"{o.mutant.path}:{o.mutant.line}"][o.killer] += 1
        history[f"{o.mutant.path}:{o.mutant.scope}"][o.killer] += 1
        history[o.mutant.path][o.killer] += 1


def area(o: Outcome) -> str:
    return areas.area_of(o.source.below_package, citation(o))


def citation(o: Outcome) -> str | None:
    return areas.citation(o.source.text.splitlines(), o.mutant.line, o.mutant.end_line)
