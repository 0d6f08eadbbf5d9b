"""Expectation files: the known deviations of a DUT from the RFCs it is tested against.

``conformance/expectations/<dut>.toml`` lists, for stacks we do not own (the Linux kernel,
a stack behind an interface), tests that are known to fail and why::

    [[deviation]]
    test = "ipv4/test_rfc1122_ipv4_header.py::test_source_broadcast_is_dropped"
    rfc = "RFC 1122 3.2.1.3: \"... MUST silently discard ...\""
    observed = "Linux 6.18 with rp_filter=0 answers the echo request"

The plugin marks each listed test ``xfail(strict=True)``: it is reported as a deviation while
it fails the same way, and an unexpected pass fails the run so the entry gets removed. Our
own stack's expectation file stays empty: its defects are fixed, never listed.

An entry with ``intermittent = true`` is for a DUT that deviates only sometimes (a race inside
the DUT that `stackcheck soak` shows): the test fails as a deviation or passes, never as a
failure of the run. An entry may carry a ``[deviation.when]`` table (kernel range, sysctl values, build fields; see
``harness/conditions.py``): it then applies only to the DUTs where that holds, and the run
reports it, with the reason, where it does not.
"""

from __future__ import annotations

import ast
import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

from harness.conditions import Condition

KEYS = frozenset({"test", "rfc", "observed"})
OPTIONAL_KEYS = frozenset({"when", "intermittent"})


@dataclass(frozen=True)
class Deviation:
    test: str  # path relative to conformance/ "::" test name, optional "[param-id]"
    rfc: str  # the requirement, quoted
    observed: str  # what the DUT does instead
    when: Condition | None = None  # None: applies to every build of this DUT
    # The DUT deviates only sometimes (a race inside it, shown by `stackcheck soak`): the test is
    # xfail(strict=False), reported "deviation" when it fails and "pass" when it passes.
    intermittent: bool = False

    @property
    def base(self) -> str:
        """The test without its parameter id."""
        return self.test.split("[", 1)[0]

    def matches(self, rel_nodeid: str) -> bool:
        if "[" in self.test:
            return rel_nodeid == self.test
        return rel_nodeid.split("[", 1)[0] == self.test


def load(path: Path, suite: Path, check_tests: bool = True) -> list[Deviation]:
    """Read and check an expectation file; ValueError with one readable line on any problem.

    ``suite`` is the conformance directory the ``test`` paths are relative to. Each entry must
    name a test function that exists there (unless ``check_tests`` is off), so a renamed test
    cannot leave a stale entry.
    """
    try:
        with path.open("rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ValueError(f"cannot read expectation file {path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"expectation file {path} is not valid TOML: {e}") from None
    extra = set(data) - {"deviation"}
    if extra:
        raise ValueError(f"{path}: unknown top-level key(s) {sorted(extra)}; expected [[deviation]] tables")
    entries = data.get("deviation", [])
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'deviation' must be an array of tables ([[deviation]])")
    out: list[Deviation] = []
    seen: set[str] = set()  # test, or test + condition
    for n, entry in enumerate(entries, 1):
        where = f"{path}: deviation #{n}"
        if not isinstance(entry, dict):
            raise ValueError(f"{where} is not a table")
        missing, unknown = KEYS - set(entry), set(entry) - KEYS - OPTIONAL_KEYS
        if missing or unknown:
            problems = [f"missing {sorted(missing)}"] if missing else []
            problems += [f"unknown {sorted(unknown)}"] if unknown else []
            raise ValueError(f"{where}: {', '.join(problems)} (keys are test, rfc, observed and optionally when)")
        if not all(isinstance(entry[k], str) and entry[k].strip() for k in KEYS):
            raise ValueError(f"{where}: test, rfc and observed must be non-empty strings")
        when = Condition.parse(entry["when"], where) if "when" in entry else None
        intermittent = entry.get("intermittent", False)
        if not isinstance(intermittent, bool):
            raise ValueError(f"{where}: intermittent must be true or false")
        dev = Deviation(entry["test"].strip(), entry["rfc"].strip(), entry["observed"].strip(), when, intermittent)
        key = f"{dev.test} when {dev.when.describe()}" if dev.when else dev.test
        if key in seen or (dev.when is None and any(k.startswith(f"{dev.test} when ") for k in seen)):
            raise ValueError(f"{where}: {dev.test} is listed twice (entries for one test need different 'when')")
        seen.add(key)
        problem = _missing_test(dev, suite) if check_tests else None
        if problem:
            raise ValueError(f"{where}: {problem}")
        out.append(dev)
    return out


def _missing_test(dev: Deviation, suite: Path) -> str | None:
    """Why ``dev.test`` names no test under ``suite``, or None when it does (checked statically)."""
    file, sep, name = dev.base.partition("::")
    if not sep or not file.endswith(".py") or not name:
        return f"test {dev.test!r} must look like 'dir/test_file.py::test_name[param-id]'"
    source = suite / file
    if not source.is_file():
        return f"test file {file} does not exist under {suite}"
    tree = _parsed(source)
    if tree is None:
        return None  # collecting the file will report the real error
    for part in name.split("::"):
        body = getattr(tree, "body", [])
        found = [
            node for node in body
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef) and node.name == part
        ]
        if not found:
            return f"no test {name!r} in {file}"
        tree = found[0]
    return None


@functools.cache
def _parsed(source: Path) -> ast.AST | None:
    """The file's syntax tree, parsed once for all its entries (an expectation file names a
    hundred tests in a few dozen files)."""
    try:
        return ast.parse(source.read_bytes(), str(source))
    except SyntaxError:
        return None
