"""The stackcheck pytest plugin: --dut, the ``dut`` fixture, per-test pcaps, verdicts, results.json.

Loaded through the ``pytest11`` entry point. One result record per test carries the RFC
requirement from the test's ``@rfc`` marker and a verdict:

    pass · fail · deviation (a known deviation from the expectation file, xfail strict)
    unexpected-pass (a listed deviation that passed: the entry must go)
    not-implemented (a test of an optional feature the DUT does not declare: harness.features)
    skip · error

Under pytest-xdist each worker attaches its records to the teardown report's
``user_properties``; the controller gathers them in ``pytest_runtest_logreport`` and writes
results.json at the end of the session.
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Generator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import pytest

from harness import (
    allure_support,
    backends,
    deviations,
    expectations,
    features,
    identity,
    ordering,
    verdicts,
    witness,
    worker_exit,
)
from harness.backends import Backend, BackendOptions
from harness.dut import DUT, FeatureAbsent, Unsupported
from harness.rfc import CitationError, requirement_of
from reports.model import RESULTS_VERSION, FrameRecord, ResultRecord, ResultsFile

PROPERTY = "stackcheck"  # user_properties key of the result record


class _State:
    """Per-session settings and gathered records, kept in ``config.stash``."""

    def __init__(self, config: pytest.Config) -> None:
        self.dut_name: str = config.getoption("stackcheck_dut")
        try:
            self.backend: Backend = backends.get(self.dut_name)
        except KeyError as e:
            raise pytest.UsageError(f"--dut: {e.args[0]}") from None
        raw_config = config.getoption("stackcheck_dut_config")
        self.dut_config = Path(raw_config) if raw_config else None
        if self.dut_config is not None:
            try:
                backends.read_config(self.dut_config)
            except ValueError as e:
                raise pytest.UsageError(f"--dut-config: {e}") from None
        pcap_dir = config.getoption("stackcheck_pcap_dir")
        self.pcap_dir = Path(pcap_dir) if pcap_dir else None
        self.keep_pcaps: bool = config.getoption("stackcheck_keep_pcaps")
        results = config.getoption("stackcheck_results")
        self.results = Path(results) if results else None
        self.suite, self.deviations = _load_deviations(config, self.dut_name)
        # Looked up for each collected test (1,705 x 108 entries for linux: a tenth of a second
        # of every worker's collection when each entry was tried).
        self.deviations_by_base: dict[str, list[deviations.Deviation]] = {}
        for dev in self.deviations:
            self.deviations_by_base.setdefault(dev.base, []).append(dev)
        # Who is tested (kernel release, stack version and commit, a device's build), known
        # without starting a DUT; conditions on expectation entries read it.
        self.identity: dict[str, str] = {"dut": self.dut_name, **identity.harness(),
                                         **self.backend.identity(self.dut_config)}
        self.records: list[ResultRecord] = []
        # Where each test runs and what ran before it there (on the same DUT, when it is shared):
        # what a failure that depends on the order needs to be understood.
        self.worker = str(getattr(config, "workerinput", {}).get("workerid", "main"))
        self.last_test: str | None = None
        self.started = _now()
        self._asked = False
        self._unavailable: str | None = None

    def unavailable(self) -> str | None:
        """Why the backend cannot run here (asked once per process), or None."""
        if not self._asked:
            self._unavailable, self._asked = self.backend.check_available(self.dut_config), True
        return self._unavailable


STATE = pytest.StashKey[_State]()
DEVIATION = expectations.DEVIATION
EXPECTATION = expectations.EXPECTATION
VERDICT = pytest.StashKey[verdicts.Progress]()
PCAP = pytest.StashKey[str]()
EXCHANGE = pytest.StashKey[list[FrameRecord]]()
WITNESS = pytest.StashKey[witness.Ledger]()
NOT_IMPLEMENTED = pytest.StashKey[str]()  # why: the optional feature the DUT does not declare
DUT_STATE = pytest.StashKey[str]()  # what the DUT held when the test failed


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load_deviations(config: pytest.Config, dut: str) -> tuple[Path, list[deviations.Deviation]]:
    given = config.getoption("stackcheck_expectations")
    default_suite = config.rootpath / "conformance"
    path = Path(given) if given else default_suite / "expectations" / f"{dut}.toml"
    suite = path.parent.parent if path.parent.name == "expectations" else default_suite
    if not given and not path.exists():
        return suite, []
    try:
        # The controller checks that every entry names a test; its workers, given the same
        # file, need not parse the suite's sources again (0.3 s of CPU each).
        return suite, deviations.load(path, suite, check_tests=not _is_worker(config))
    except ValueError as e:
        raise pytest.UsageError(str(e)) from None


# ---- options and configuration ---------------------------------------------------------


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("stackcheck", "stackcheck conformance harness")
    group.addoption("--dut", dest="stackcheck_dut", default="inprocess", metavar="NAME",
                    help="DUT backend to test: inprocess (default), linux, interface")
    group.addoption("--dut-config", dest="stackcheck_dut_config", metavar="PATH",
                    help="TOML configuration for the backend (the interface backend needs one)")
    group.addoption("--pcap-dir", dest="stackcheck_pcap_dir", metavar="DIR",
                    help="write each test's frames to DIR/<dut>/<test>.pcap")
    group.addoption("--keep-pcaps", dest="stackcheck_keep_pcaps", action="store_true",
                    help="keep every test's pcap, not only those of failures and deviations")
    group.addoption("--results", dest="stackcheck_results", metavar="PATH",
                    help="write the per-requirement results to PATH (results.json)")
    group.addoption("--expectations", dest="stackcheck_expectations", metavar="PATH",
                    help="known-deviation file (default: conformance/expectations/<dut>.toml if present)")
    group.addoption("--longest-first", dest="stackcheck_longest_first", action="store_true",
                    help="run the tests that took longest (conformance/durations.json) first (harness.ordering)")
    group.addoption("--longest-lead", dest="stackcheck_longest_lead", action="store_true",
                    help="with --dist worksteal: keep the random order, but start each worker on one of the "
                         "longest tests (harness.ordering)")
    group.addoption("--eager-start", dest="stackcheck_eager_start", action="store_true",
                    help="with --dist worksteal: each worker starts on its share as soon as it has collected, "
                         "not when all have (harness.eager_start; `stackcheck run` passes it)")
    group.addoption("--exit-workers-at-once", dest="stackcheck_exit_at_once", action="store_true",
                    help="pytest-xdist workers end without tearing their interpreter down once their session "
                         "is over (harness.worker_exit; `stackcheck run` passes it)")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "rfc(req, quote) or rfc(number, section, level, requirement, described): what a conformance "
        "test checks (harness.rfc)"
    )
    config.addinivalue_line("markers", witness.MARKER_HELP)
    config.addinivalue_line(
        "markers", "optional_feature(names, any_of): the test checks an optional feature; it runs only on "
                   "DUTs declaring it and is reported 'not implemented' on the others (harness.features)"
    )
    if _is_worker(config) and config.getoption("stackcheck_exit_at_once"):
        worker_exit.install()
    state = _State(config)
    config.stash[STATE] = state
    config.pluginmanager.register(_Recorder(config, state), "stackcheck-recorder")


def _is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


# ---- collection: every conformance test cites its RFC; known deviations become xfail ----


def _in_suite(item: pytest.Item, suite: Path) -> bool:
    return item.path.is_relative_to(suite) or "conformance" in item.path.parent.parts


def _check_and_mark(state: _State, items: list[pytest.Item]) -> str | None:
    """Mark listed deviations xfail(strict); return why these items cannot run, or None."""
    uncited, unknown = [], []
    for item in items:
        if not _in_suite(item, state.suite):
            continue
        try:
            if requirement_of(item) is None:
                uncited.append(item.nodeid)
        except CitationError as e:
            unknown.append(f"{item.nodeid}: {e}")
    if unknown:
        return "; ".join(unknown)
    if uncited:
        return (f"{', '.join(uncited)}: no @rfc(\"RFC<n>-<section>-<n>\") or @described(...) citation; "
                "every conformance test must cite the RFC requirement it checks")
    used: set[str] = set()
    bases: set[str] = set()
    for item in items:
        if not item.path.is_relative_to(state.suite):
            continue
        rel = item.path.relative_to(state.suite).as_posix() + "::" + item.nodeid.split("::", 1)[1]
        base = rel.split("[", 1)[0]
        bases.add(base)
        matching = [dev for dev in state.deviations_by_base.get(base, ()) if dev.matches(rel)]
        used.update(dev.test for dev in matching)
        expectations.mark(item, matching, state.identity)
    for dev in state.deviations:
        if dev.test not in used and dev.base in bases:
            return f"expectation entry {dev.test!r} matches no test case (check the [param-id])"
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    if _is_worker(config):
        worker_exit.session_over()


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if not config.getoption("stackcheck_eager_start") or config.getvalue("dist") != "worksteal":
        return None  # pytest-xdist's own
    from harness.eager_start import EagerWorkStealing

    return EagerWorkStealing(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # After pytest-randomly's shuffle, so tests of equal length keep its random order; every
    # pytest-xdist worker sorts alike (same seed, same file), as xdist requires.
    workers = int(config.workerinput["workercount"]) if _is_worker(config) else 1  # type: ignore[attr-defined]
    if config.getoption("stackcheck_longest_first"):
        items[:] = ordering.longest_first(items, ordering.load(), workers)
    elif config.getoption("stackcheck_longest_lead"):
        items[:] = ordering.longest_lead(items, ordering.load(), workers)


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    # Checked per collected module (not in pytest_collection_modifyitems) so that the problem
    # is an ordinary collection error, which pytest-xdist workers report like any other.
    report = yield
    state = collector.config.stash.get(STATE, None)
    if state is not None and report.passed:
        problem = _check_and_mark(state, [x for x in report.result if isinstance(x, pytest.Item)])
        if problem:
            report.outcome, report.longrepr, report.result = "failed", problem, []
    return report


# ---- the dut fixture ---------------------------------------------------------------------


def _pcap_path(state: _State, nodeid: str) -> Path | None:
    if state.pcap_dir is None:
        return None
    name = re.sub(r"[^A-Za-z0-9._=-]+", "_", nodeid.removeprefix("conformance/")).strip("_")
    if len(name) > 180:
        name = f"{name[:160]}_{zlib.crc32(nodeid.encode()):08x}"  # stable across runs and workers
    return state.pcap_dir / state.dut_name / f"{name}.pcap"


def _new_capture(state: _State) -> Any:
    if state.pcap_dir is None:
        return None
    from harness.capture import Capture

    return Capture()


@pytest.fixture(scope="session")
def _stackcheck_shared_dut(pytestconfig: pytest.Config) -> Iterator[tuple[DUT, Any]]:
    """One DUT per (worker) session for backends with costly set-up, e.g. a network namespace."""
    state = pytestconfig.stash[STATE]
    capture = _new_capture(state)
    dut = state.backend.factory(BackendOptions(state.dut_config, capture))
    try:
        yield dut, capture
    finally:
        dut.close()


def _watched(state: _State, item: pytest.Item, dut: DUT) -> DUT:
    """A conformance test's DUT counts its silences and its witnesses (harness/witness.py)."""
    if not _in_suite(item, state.suite):
        return dut
    ledger = item.stash[WITNESS] = witness.Ledger()
    watched: Any = witness.WitnessedDUT(dut, ledger)
    return watched  # type: ignore[no-any-return]


def _keep(state: _State, item: pytest.Item) -> bool:
    verdict = item.stash.get(VERDICT, verdicts.Progress()).verdict
    return state.keep_pcaps or verdict not in (None, "pass", "skip")


@pytest.fixture
def dut(request: pytest.FixtureRequest) -> Iterator[DUT]:
    """The device under test chosen with --dut, fresh (or reset) for this test."""
    state = request.config.stash[STATE]
    reason = state.unavailable()
    if reason:
        pytest.skip(reason)
    item = request.node
    path = _pcap_path(state, item.nodeid)
    if state.backend.shared:
        shared, capture = request.getfixturevalue("_stackcheck_shared_dut")
        _require_features(item, shared)  # before the reset: a test that cannot run costs nothing
        shared.reset()
        expectations.mark_with_dut(item, shared, state.identity)
        if capture is not None:
            capture.start(path)
        try:
            yield _watched(state, item, shared)
        finally:
            _note_state_at_failure(item, shared)
            _stop(state, item, capture, path)
        return
    capture = _new_capture(state)
    if capture is not None:
        capture.start(path)
    fresh = state.backend.factory(BackendOptions(state.dut_config, capture))
    expectations.mark_with_dut(item, fresh, state.identity)
    try:
        _require_features(item, fresh)
        yield _watched(state, item, fresh)
    finally:
        _note_state_at_failure(item, fresh)
        try:
            fresh.close()
        finally:
            _stop(state, item, capture, path)


def _note_state_at_failure(item: pytest.Item, dut: DUT) -> None:
    """Keep what a failed test's DUT holds (routes, neighbors...) before the next reset undoes it:
    a failure caused by what an earlier test left behind shows it there."""
    if item.stash.get(VERDICT, verdicts.Progress()).verdict != "fail":
        return
    describe = getattr(dut, "describe_state", None)
    if describe is None:
        return
    try:
        item.stash[DUT_STATE] = str(describe())
    except Exception as e:  # the verdict stands; only the extra detail is missing
        item.stash[DUT_STATE] = f"(the DUT's state could not be read: {type(e).__name__}: {e})"


def _require_features(item: pytest.Item, dut: DUT) -> None:
    absent = features.missing_feature(item, dut)
    if absent is not None:
        raise absent


def _stop(state: _State, item: pytest.Item, capture: Any, path: Path | None) -> None:
    if capture is None or path is None:
        return
    keep = _keep(state, item)
    capture.stop(keep)
    if keep:
        item.stash[PCAP] = str(path)
    # The report shows the last frames of a failing (or deviating) test, dissected.
    if item.stash.get(VERDICT, verdicts.Progress()).verdict in ("fail", "deviation", "error"):
        item.stash[EXCHANGE] = verdicts.exchange(capture.records)
    allure_support.attach(item, item.stash.get(PCAP, None), item.stash.get(EXCHANGE, None))


# ---- Unsupported -> skip ------------------------------------------------------------------


def _skip_unsupported(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    try:
        yield
    except FeatureAbsent as e:
        item.stash[NOT_IMPLEMENTED] = str(e)
        pytest.skip(str(e))
    except Unsupported as e:
        pytest.skip(str(e) or "the backend does not support this")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    allure_support.label(item)  # epic/feature/story/severity from @rfc, when --alluredir is given
    return (yield from _skip_unsupported(item))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    __tracebackhide__ = True
    yield from _skip_unsupported(item)
    # Reached only when the test passed: a silence it proved needs a positive control.
    problem = witness.problem(item, item.stash.get(WITNESS, None))
    if problem:
        pytest.fail(problem, pytrace=False)


# ---- verdicts and records ------------------------------------------------------------------

@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    # tryfirst makes this the outermost wrapper: it sees the report after xfail handling.
    report = yield
    current = item.stash.setdefault(VERDICT, verdicts.Progress())
    verdicts.update(current, report, call, not_implemented=NOT_IMPLEMENTED in item.stash)
    state = item.config.stash[STATE]
    if report.when == "teardown" and (requirement_of(item) is not None or _in_suite(item, state.suite)):
        record = verdicts.record(item, current, item.stash.get(DEVIATION, None), item.stash.get(PCAP, None),
                                 item.stash.get(EXCHANGE, None), worker=state.worker, after=state.last_test,
                                 dut_state=item.stash.get(DUT_STATE, ""))
        state.last_test = item.nodeid
        record["pcap"] = _relative_pcap(state, record["pcap"])
        record["expectations"] = item.stash.get(EXPECTATION, [])
        report.user_properties.append((PROPERTY, record))
    return report


def _randomly_seed(config: pytest.Config) -> int | None:
    """pytest-randomly's seed when it shuffled this run (None with -p no:randomly)."""
    if not config.pluginmanager.hasplugin("randomly"):
        return None
    seed = getattr(config.option, "randomly_seed", None)
    return seed if isinstance(seed, int) else None


def _relative_pcap(state: _State, pcap: str | None) -> str | None:
    """Pcap paths relative to the results file's directory, so a report directory can move."""
    if pcap is None or state.results is None:
        return pcap
    base = state.results.resolve().parent
    path = Path(pcap).resolve()
    return path.relative_to(base).as_posix() if path.is_relative_to(base) else str(path)


class _Recorder:
    """Gathers the records (from this process or from xdist workers) and writes results.json."""

    def __init__(self, config: pytest.Config, state: _State) -> None:
        self.config, self.state = config, state

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        # Under xdist the record arrives from a worker as the plain dict it was sent as.
        self.state.records.extend(
            cast(ResultRecord, value) for key, value in report.user_properties
            if key == PROPERTY and isinstance(value, dict)
        )

    def pytest_sessionfinish(self) -> None:
        state = self.state
        if _is_worker(self.config) or state.results is None:
            return
        results = ResultsFile(
            version=RESULTS_VERSION,
            dut=state.dut_name,
            identity=state.identity,
            randomly_seed=_randomly_seed(self.config),
            started=state.started,
            finished=_now(),
            expectations=expectations.summary(state.deviations, state.records),
            results=sorted(state.records, key=lambda r: r["nodeid"]),
        )
        state.results.parent.mkdir(parents=True, exist_ok=True)
        state.results.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        state = self.state
        if _is_worker(self.config) or not state.records:
            return
        terminalreporter.section(f"stackcheck: conformance of {state.dut_name!r} per RFC")
        terminalreporter.write_line("DUT: " + ", ".join(f"{k} {v}" for k, v in state.identity.items()))
        seed = _randomly_seed(self.config)
        if seed is not None:
            terminalreporter.write_line(f"random test order: --randomly-seed={seed} repeats it")
        for line in verdicts.summary_lines(state.records):
            terminalreporter.write_line(line)
        for line in expectations.summary_lines(expectations.summary(state.deviations, state.records)):
            terminalreporter.write_line(line)
        if state.results is not None:
            terminalreporter.write_line(f"results: {state.results}")
