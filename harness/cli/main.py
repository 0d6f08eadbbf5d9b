"""`stackcheck`: run the conformance suite against a DUT, render reports, list backends.

    stackcheck run [--dut NAME] [--dut-config PATH] [-k EXPR] [--report DIR] [-n N|auto]
                   [--keep-pcaps] [-- extra pytest args]
    stackcheck report RESULTS.json [RESULTS.json ...] --out DIR [--allure] [--catalog DIR] [--mutation PATH]
    stackcheck catalog check | sync [--prune] | coverage [--json] | list [--rfc N] | convert [--dry-run]
    stackcheck fuzz [--duration 8h] [--workers N] [--db DIR|redis://...] [--target NAME] [--atheris] [--report FILE]
    stackcheck mutate [--suite conformance|unit] [-j N] [--out DIR] [--only PATH ...] [--no-cache]
    stackcheck soak [--dut NAME] [--runs 10] [--load N] [-k EXPR] [-n N|auto] [--seed S] [--report DIR]
    stackcheck dut list

Exit status: 0 when every test passes or is a known deviation, 1 on failures, 2 on bad input.
Bad input is reported as one line on stderr, before pytest starts, never as a traceback.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path
from typing import NoReturn

import harness
from harness import backends, deviations
from harness.cli import fuzz as fuzz_command
from harness.cli import soak as soak_command
from harness.mutation import command as mutation_command

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
# Run output (reports, pcaps, fuzz reports) goes here, one folder per DUT, never into the source tree's packages.
DEFAULT_OUT = Path("out")
MAX_AUTO_WORKERS = 32  # -n auto on a wait-bound backend: never more workers than this


class UsageError(Exception):
    """Bad input from the user: printed as one line, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{self.prog} --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="stackcheck", description="RFC conformance harness for IPv4/IPv6 stacks.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = sub.add_parser("run", help="run the conformance suite against a DUT and write a report",
                         epilog="Arguments after '--' go to pytest unchanged.")
    run.add_argument("--dut", default="inprocess", help="backend: " + ", ".join(backends.names()))
    run.add_argument("--dut-config", type=Path, metavar="PATH", help="backend configuration (TOML)")
    run.add_argument("-k", dest="keyword", metavar="EXPR", help="only tests matching this pytest -k expression")
    run.add_argument("--report", type=Path, metavar="DIR",
                     help="where results.json, report.md, report.json and pcaps/ go (default: out/DUT, "
                          "e.g. out/inprocess)")
    run.add_argument("-n", dest="workers", metavar="N|auto", help="parallel workers (pytest-xdist)")
    run.add_argument("--order", choices=("random", "longest-first"), default="random",
                     help="with -n: keep pytest-randomly's order, each worker starting on one of the "
                          "longest tests and idle workers stealing queued tests "
                          "(default; what stackcheck soak runs), or start the tests that took longest "
                          "first, in the same order every run")
    run.add_argument("--keep-pcaps", action="store_true", help="keep every test's pcap, not only failures'")
    run.add_argument("--allure", action="store_true",
                     help="also write Allure results to DIR/allure-results")

    report = sub.add_parser(
        "report", help="render results.json files (one column per DUT) as HTML, Markdown and JSON",
        description="Render one or more results.json files (e.g. out/inprocess/results.json from the inprocess "
                    "run and out/linux/results.json) side by side: report.html (self-contained), "
                    "report.md (CI job summary) and report.json in --out DIR.")
    report.add_argument("results", nargs="+", type=Path, metavar="RESULTS.json",
                        help="results.json written by 'stackcheck run', one per DUT column")
    report.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the report files go")
    report.add_argument("--allure", action="store_true",
                        help="also build DIR/allure/index.html, one file, from the allure-results next to "
                             "each RESULTS.json (Allure 3 from npm; needs Node.js)")
    report.add_argument("--mutation", type=Path, metavar="PATH",
                        help="mutation.json of 'stackcheck mutate' whose score the report states "
                             "(default: out/mutation/mutation.json when it exists)")
    report.add_argument("--catalog", type=Path, metavar="DIR",
                        help="requirement catalog (default: conformance/requirements); its untested "
                             "requirements show in the HTML report")

    catalog = sub.add_parser("catalog", help="the requirement catalog: every normative statement of the RFCs")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True, parser_class=_Parser)
    catalog_sub.add_parser("check", help="fail on a statement without a status, or an id or quote not in the RFC")
    sync = catalog_sub.add_parser("sync", help="add proposed entries for statements the catalog lacks")
    sync.add_argument("--prune", action="store_true", help="also remove entries whose statement is gone")
    cover = catalog_sub.add_parser("coverage", help="statements, in scope and tested, per RFC (host role)")
    cover.add_argument("--json", action="store_true", help="print JSON for scripts")
    listing = catalog_sub.add_parser("list", help="every statement with its status")
    listing.add_argument("--rfc", type=int, metavar="N", help="only RFC N")
    listing.add_argument("--status", choices=("tested", "untested", "out-of-scope"), help="only this status")
    convert = catalog_sub.add_parser("convert", help="rewrite @rfc(number, section, level, text) to statement ids")
    convert.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")

    fuzz_command.add_parser(sub)
    mutation_command.add_parser(sub)
    soak_command.add_parser(sub)

    dut = sub.add_parser("dut", help="DUT backends")
    dut_sub = dut.add_subparsers(dest="dut_command", required=True, parser_class=_Parser)
    dut_sub.add_parser("list", help="list backends and whether they can run here")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1:]
    try:
        args = _parser().parse_args(argv)
        if extra and args.command != "run":
            raise UsageError("only 'stackcheck run' passes arguments after '--' to pytest")
        if args.command == "run":
            return _run(args, extra)
        if args.command == "report":
            return _report(args.results, args.out, allure=args.allure, catalog=args.catalog,
                           mutation=args.mutation)
        if args.command == "catalog":
            return _catalog(args)
        if args.command == "fuzz":
            return fuzz_command.main(args)
        if args.command == "mutate":
            return mutation_command.main(args)
        if args.command == "soak":
            _check_run(argparse.Namespace(dut=args.dut, dut_config=None, workers=args.workers, allure=False))
            return soak_command.main(args)
        return _dut_list()
    except UsageError as e:
        print(f"stackcheck: error: {e}", file=sys.stderr)
        return EXIT_USAGE


# ---- run ----------------------------------------------------------------------------------


def conformance_dir() -> Path:
    """The conformance suite next to the installed harness package (an editable install)."""
    return Path(harness.__file__).resolve().parent.parent / "conformance"


def _check_run(args: argparse.Namespace) -> Path:
    """Every check that can reject the user's input before pytest starts; returns the suite."""
    try:
        backend = backends.get(args.dut)
    except KeyError as e:
        raise UsageError(f"--dut: {e.args[0]}") from None
    if args.dut_config is not None:
        try:
            backends.read_config(args.dut_config)
        except ValueError as e:
            raise UsageError(str(e)) from None
    reason = backend.check_available(args.dut_config)
    if reason:
        raise UsageError(f"the {args.dut} DUT cannot run here: {reason}")
    if args.workers is not None and args.workers != "auto" and not (
        args.workers.isdigit() and int(args.workers) >= 0
    ):
        raise UsageError(f"-n: expected a number of workers or 'auto', got {args.workers!r}")
    suite = conformance_dir()
    if not suite.is_dir():
        raise UsageError(f"no conformance suite at {suite}; install stackcheck from a source checkout "
                         "(pip install -e .)")
    expectations = suite / "expectations" / f"{args.dut}.toml"
    if expectations.exists():
        try:
            deviations.load(expectations, suite)
        except ValueError as e:
            raise UsageError(str(e)) from None
    if args.allure:
        import importlib.util

        if importlib.util.find_spec("allure_pytest") is None:
            raise UsageError("--allure needs allure-pytest, a dependency of stackcheck: run make setup (or pip install -e .)")
    return suite


def _pytest_args(args: argparse.Namespace, suite: Path, out: Path, extra: list[str]) -> list[str]:
    # The conformance suite uses no Hypothesis; its pytest plugin would import all of it (about a
    # second of CPU) to print nothing at the end.
    pytest_args = [str(suite), f"--rootdir={suite.parent}", "--dut", args.dut, "-p", "no:hypothesispytest",
                   "--results", str(out / "results.json"), "--pcap-dir", str(out / "pcaps"), "-q"]
    if args.dut_config is not None:
        pytest_args += ["--dut-config", str(args.dut_config.resolve())]
    if args.keep_pcaps:
        pytest_args.append("--keep-pcaps")
    if args.keyword:
        pytest_args += ["-k", args.keyword]
    if args.workers is not None and args.workers != "0":
        pytest_args += ["-n", _workers(args.workers, backends.get(args.dut)), "--exit-workers-at-once"]
        if args.order == "longest-first":
            # One test at a time to whichever worker is free, longest first (harness.ordering).
            pytest_args += ["--longest-first", "--dist", "load", "--maxschedchunk", "1"]
        else:
            # Work stealing: a worker that runs out takes half of the busiest one's queue. With
            # pytest-xdist's default each worker gets runs of neighbouring tests, so one can be
            # left with a module of timer tests long after the others are idle. Each worker
            # starts on one of the longest tests, so none of them is drawn last, and as soon as
            # it has collected the suite (harness.eager_start).
            pytest_args += ["--dist", "worksteal", "--longest-lead", "--eager-start"]
    if args.allure:
        pytest_args += ["--alluredir", str(out / "allure-results"), "--clean-alluredir"]
    return pytest_args + extra


def _workers(requested: str, backend: backends.Backend) -> str:
    """``-n auto`` for a backend whose tests mostly wait on a real DUT (silence windows, timers)
    means several workers per CPU: each owns its own namespaces, and they spend their time
    asleep. pytest-xdist's own "auto" (one per CPU) is kept for the others."""
    if requested != "auto" or backend.workers_per_cpu <= 1:
        return requested
    return str(min(backend.workers_per_cpu * (os.cpu_count() or 1), MAX_AUTO_WORKERS))


def _run(args: argparse.Namespace, extra: list[str]) -> int:
    suite = _check_run(args)
    report_dir: Path = args.report or DEFAULT_OUT / args.dut
    out = report_dir.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UsageError(f"cannot create report directory {report_dir}: {e.strerror}") from None
    # Stale results or pcaps from an earlier run of this DUT would mislead the report.
    (out / "results.json").unlink(missing_ok=True)
    shutil.rmtree(out / "pcaps" / args.dut, ignore_errors=True)
    shutil.rmtree(out / "allure-results", ignore_errors=True)

    # pytest keeps the suite's assertion-rewritten modules as bytecode in __pycache__; where the
    # environment forbids writing bytecode, each of -n's workers rewrites all of them again at
    # start-up (16 workers on 2 cores: about 10 s of a real-DUT run's wall time).
    os.environ.pop("PYTHONDONTWRITEBYTECODE", None)
    sys.dont_write_bytecode = False

    import pytest

    code = int(pytest.main(_pytest_args(args, suite, out, extra)))
    if code == pytest.ExitCode.USAGE_ERROR:
        return EXIT_USAGE  # pytest printed the reason
    if code == pytest.ExitCode.NO_TESTS_COLLECTED:
        what = f"matches -k {args.keyword!r}" if args.keyword else f"was collected from {suite}"
        raise UsageError(f"no conformance test {what}")
    if code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.INTERNAL_ERROR):
        print(f"stackcheck: error: pytest stopped early (exit {code}; see the errors above), no report written",
              file=sys.stderr)
        return EXIT_FAILED
    results = out / "results.json"
    if not results.exists():
        print(f"stackcheck: error: pytest ended (exit {code}) without writing {results}", file=sys.stderr)
        return EXIT_FAILED
    written = _report([results], out, allure=False)
    if written != EXIT_OK:
        return written
    return EXIT_OK if code == pytest.ExitCode.OK else EXIT_FAILED


# ---- report and dut list -------------------------------------------------------------------


def _report(paths: list[Path], out: Path, *, allure: bool = False, catalog: Path | None = None,
            mutation: Path | None = None) -> int:
    from harness.cli import report as report_command

    if mutation is None:  # the last `stackcheck mutate` of the conformance suite, if any
        known = mutation_command.default_out(conformance_dir().parent, "conformance") / "mutation.json"
        mutation = known if known.exists() else None
    try:
        for line in report_command.write(paths, out, catalog or conformance_dir() / "requirements", mutation):
            print(line)
        if allure:
            cache = Path(os.environ.get("STACKCHECK_ALLURE_CACHE") or conformance_dir().parent / ".cache" / "allure")
            try:
                print(report_command.allure(paths, out, cache))
            except report_command.AllureUnavailable as e:
                results = ", ".join(str(p.parent / report_command.ALLURE_RESULTS) for p in paths)
                print(f"stackcheck: warning: no Allure HTML report: {e}. The other reports are written; the "
                      f"Allure results are in {results} for any Allure 3 (npx allure awesome DIR)", file=sys.stderr)
    except report_command.ReportError as e:
        raise UsageError(str(e)) from None
    return EXIT_OK


def _catalog(args: argparse.Namespace) -> int:
    from harness.cli import catalog as catalog_command
    from reports.catalog import CatalogError
    from reports.rfcs.policy import PolicyError

    suite, command = conformance_dir(), args.catalog_command
    directory = suite / "requirements"
    try:
        if command == "sync":
            return catalog_command.sync(suite, directory, args.prune)
        if command == "coverage":
            return catalog_command.coverage_report(suite, directory, args.json)
        if command == "list":
            return catalog_command.listing(suite, directory, args.rfc, args.status)
        if command == "convert":
            return catalog_command.convert(suite, args.dry_run)
        return EXIT_OK if catalog_command.check(suite, directory) == 0 else EXIT_FAILED
    except (CatalogError, PolicyError, catalog_command.CollectError) as e:
        raise UsageError(str(e)) from None


def _environment() -> str:
    """One line: what this machine offers the backends (root, namespaces, TAP) and the reports."""
    import importlib.util

    checks = {
        "root": os.geteuid() == 0,
        "network namespaces": Path("/proc/self/ns/net").exists() and shutil.which("ip") is not None,
        "TAP (/dev/net/tun)": Path("/dev/net/tun").exists(),
        "allure-pytest": importlib.util.find_spec("allure_pytest") is not None,
        "Node.js (report --allure)": shutil.which("node") is not None,
    }
    return "this machine: " + ", ".join(f"{k} {'yes' if ok else 'no'}" for k, ok in checks.items())


def _dut_list() -> int:
    print(_environment())
    for name in backends.names():
        backend = backends.get(name)
        reason = backend.check_available(None)
        status = "available" if reason is None else f"unavailable: {reason}"
        print(f"{name:<10} {backend.description}\n{'':<10} {status}")
    return EXIT_OK
