"""Which tests run which lines of the stack: one run of the suite under coverage.py.

The suite runs once in a worker process with one dynamic context per test; the result is kept
in the cache directory under a key made of every product, suite and harness file's hash, so it
is recomputed only when one of them changed. Lines run only while the stack is imported (module
constants, class bodies, default arguments) belong to no test; ``NameIndex`` finds the tests of
such a line through the lines that read the name it defines.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.mutation import cache, pool
from harness.mutation.sources import SourceFile, Suite, digest

_MAP_MAKERS = frozenset({"worker.py", "infection.py", "operators.py", "coverage_map.py", "cache.py", "sources.py"})


class CoverageError(Exception):
    """The coverage run failed: one line for the user."""


@dataclass(frozen=True, slots=True)
class CoverageMap:
    durations: dict[str, float]           # test id -> seconds (under coverage)
    failed: list[str]                     # tests failing on the unmutated stack
    lines: dict[str, dict[int, list[str]]]  # relpath -> line -> test ids
    from_cache: bool
    infected: dict[str, set[str]] = field(default_factory=dict)  # probed mutant id -> tests it infects
    probed: frozenset[str] = frozenset()  # mutant ids whose infection the run watched (infection.py)

    def tests_of(self, relpath: str, first: int, last: int) -> set[str]:
        by_line = self.lines.get(relpath, {})
        found: set[str] = set()
        for n in range(first, last + 1):
            found.update(by_line.get(n, ()))
        return found


def fingerprint(root: Path, suite: Suite, sources: list[SourceFile], suite_files: list[Path]) -> str:
    # The harness the suite runs on, and the parts of this package that make the map (a changed
    # probe or worker makes a new one; the report or the command line do not).
    harness = sorted(p for p in (root / "harness").rglob("*.py")
                     if ("mutation" not in p.parts or p.name in _MAP_MAKERS) and "tests" not in p.parts)
    parts = [f"v{cache.VERSION}", suite, *(f"{s.relpath}:{s.digest}" for s in sources)]
    parts += [f"{p.relative_to(root)}:{digest(p.read_bytes())}" for p in (*suite_files, *harness)]
    return digest("\n".join(parts))


def load_or_run(root: Path, suite: Suite, key: str, cache_dir: Path, log: Path) -> CoverageMap:
    path = cache_dir / f"coverage-{suite}.json"
    cached = True
    data = _read(path)
    if data is None or data.get("key") != key:
        cached = False
        cache_dir.mkdir(parents=True, exist_ok=True)
        raw = cache_dir / f"coverage-{suite}.raw.json"
        with log.open("a", encoding="utf-8") as err:
            done = subprocess.run([sys.executable, "-m", "harness.mutation.worker", "--suite", suite,
                                   "--mode", "coverage", "--out", str(raw)], stdout=err, stderr=err, check=False,
                                  env=pool.worker_env())
        data = _read(raw)
        if done.returncode != 0 or data is None:
            raise CoverageError(f"the coverage run of the {suite} suite failed (exit {done.returncode}; see {log})")
        data["key"] = key
        path.write_text(json.dumps(data), encoding="utf-8")
        raw.unlink(missing_ok=True)
    names = data["tests"]  # lines hold indices into this list (the file is ~50x smaller)
    lines = {rel: {int(n): [names[i] for i in tests] for n, tests in by_line.items()}
             for rel, by_line in data["lines"].items()}
    infected = {mutant_id: {names[i] for i in tests} for mutant_id, tests in data.get("infected", {}).items()}
    return CoverageMap(data["durations"], data["failed"], lines, cached, infected, frozenset(data.get("probed", ())))


def _read(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


class NameIndex:
    """name -> the (file, line) places inside functions of the stack that read it.

    A name read only by another module- or class-level binding (``default_ttl: int =
    params.IPV4_DEFAULT_TTL``) is followed to the readers of that binding's name, and a member of
    an enumeration to the readers of the enumeration: code that reads it as a whole (``for t in
    ICMPv4Type``, ``ICMPv4Type(value)``) reads the member through it. (A dataclass field's default
    is read where the field is, not followed to every place that builds one.)"""

    def __init__(self, sources: list[SourceFile]) -> None:
        self.readers: dict[str, set[tuple[str, int]]] = defaultdict(set)
        self.aliases: dict[str, set[str]] = defaultdict(set)
        for source in sources:
            tree = ast.parse(source.text)
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    for inner in ast.walk(node):
                        name = _read_name(inner)
                        if name:
                            self.readers[name].add((source.relpath, inner.lineno))  # type: ignore[attr-defined]
                elif isinstance(node, ast.Module | ast.ClassDef):
                    for stmt in node.body:
                        self._bindings(stmt, node.name if isinstance(node, ast.ClassDef) and _is_enum(node) else None)

    def _bindings(self, stmt: ast.stmt, owner: str | None) -> None:
        if isinstance(stmt, ast.Assign):
            targets = [n.id for t in stmt.targets for n in ast.walk(t) if isinstance(n, ast.Name)]
            value: ast.AST | None = stmt.value
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            targets, value = [stmt.target.id], stmt.value
        else:
            return
        for inner in ast.walk(value) if value is not None else ():
            name = _read_name(inner)
            if name:
                self.aliases[name].update(targets)
        if owner is not None:
            for target in targets:
                self.aliases[target].add(owner)

    def tests_of(self, names: tuple[str, ...], coverage: CoverageMap) -> set[str]:
        found: set[str] = set()
        todo, seen = list(names), set(names)
        while todo:
            name = todo.pop()
            for relpath, line in self.readers.get(name, ()):
                found.update(coverage.lines.get(relpath, {}).get(line, ()))
            for alias in self.aliases.get(name, ()):
                if alias not in seen:
                    seen.add(alias)
                    todo.append(alias)
        return found


def _is_enum(node: ast.ClassDef) -> bool:
    return any((_read_name(base) or "").endswith(("Enum", "Flag")) for base in node.bases)


def _read_name(node: ast.AST) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None
