"""List the import cycles among the modules of one Python package (standard library only).

    python scripts/import_loops.py stack_under_test            # runtime loops; exit 1 if any
    python scripts/import_loops.py stack_under_test --typing   # loops through TYPE_CHECKING imports too

Every ``import`` and ``from ... import`` inside the package is an edge between two of its modules,
read from the source with ``ast`` (nothing is imported). An edge is one of three kinds:

- ``top``: runs when the module is imported (module level, class bodies, ``try`` blocks);
- ``deferred``: inside a function body, so it runs at the first call. It still closes a loop at
  run time, only later, which is why it is counted as a runtime edge and reported;
- ``typing``: inside ``if TYPE_CHECKING:``, never run; such loops are listed only with --typing.

``from pkg import name`` is an edge to ``pkg.name`` when that is a module of the package, else to
``pkg`` (its ``__init__``). Each loop is printed as one strongly connected component with one
cycle through it, every step naming the importing line and its kind.
"""

from __future__ import annotations

import argparse
import ast
import itertools
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

Kind = Literal["top", "deferred", "typing"]
RUNTIME: frozenset[str] = frozenset(("top", "deferred"))


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    line: int
    kind: Kind


def modules_of(package_dir: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every ``.py`` file below the package directory."""
    root = package_dir.parent
    found: dict[str, Path] = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(tree: ast.Module) -> Iterator[tuple[ast.Import | ast.ImportFrom, Kind]]:
    """Every import statement of the module with the kind of its context."""

    def visit(node: ast.AST, kind: Kind) -> Iterator[tuple[ast.Import | ast.ImportFrom, Kind]]:
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node, kind
            return
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            for statement in node.body:
                yield from visit(statement, "typing")
            for statement in node.orelse:
                yield from visit(statement, kind)
            return
        inner: Kind = kind
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and kind == "top":
            inner = "deferred"
        for child in ast.iter_child_nodes(node):
            yield from visit(child, inner)

    yield from visit(tree, "top")


def _base(module: str, is_package: bool, node: ast.ImportFrom) -> str | None:
    """The absolute module a ``from`` import names (relative levels resolved)."""
    if node.level == 0:
        return node.module
    parts = module.split(".")
    if not is_package:
        parts.pop()  # a module's level 1 is its own package
    drop = node.level - 1
    if drop > len(parts):
        return None
    parts = parts[: len(parts) - drop] if drop else parts
    return ".".join(parts + ([node.module] if node.module else []))


def edges_of(package_dir: Path) -> list[Edge]:
    modules = modules_of(package_dir)
    edges: list[Edge] = []

    def within(name: str | None) -> str | None:
        # The longest prefix of ``name`` that is a module of the package.
        while name:
            if name in modules:
                return name
            name = name.rpartition(".")[0]
        return None

    for module, path in modules.items():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        is_package = path.name == "__init__.py"
        for node, kind in _imports(tree):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [within(alias.name) for alias in node.names]
            else:
                base = _base(module, is_package, node)
                if base is None:
                    continue
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else within(base))
            for target in targets:
                if target is not None and target != module:
                    edges.append(Edge(module, target, node.lineno, kind))
    return edges


def strongly_connected(nodes: list[str], graph: dict[str, list[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; components of more than one module, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            successors = graph.get(node, [])
            if i < len(successors):
                work.append((node, i + 1))
                nxt = successors[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return sorted(found)


def one_cycle(component: list[str], by_pair: dict[tuple[str, str], Edge]) -> list[Edge]:
    """A shortest cycle through the component's first module (breadth-first search)."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following: list[str] = []
        for node in frontier:
            for (src, dst), _edge in by_pair.items():
                if src != node or dst not in members:
                    continue
                if dst == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    path.reverse()
                    steps = [*path, start]
                    return [by_pair[(a, b)] for a, b in itertools.pairwise(steps)]
                if dst not in previous:
                    previous[dst] = node
                    following.append(dst)
        frontier = following
    return []


def loops(edges: list[Edge], kinds: frozenset[str]) -> list[tuple[list[str], list[Edge]]]:
    """The import loops over edges of ``kinds``: (component, one cycle through it)."""
    by_pair: dict[tuple[str, str], Edge] = {}
    for edge in edges:
        if edge.kind in kinds:
            # Prefer the edge that runs earliest (top before deferred before typing) for the report.
            held = by_pair.get((edge.source, edge.target))
            if held is None or ("top", "deferred", "typing").index(edge.kind) < ("top", "deferred", "typing").index(
                held.kind
            ):
                by_pair[(edge.source, edge.target)] = edge
    graph: dict[str, list[str]] = {}
    for src, dst in sorted(by_pair):
        graph.setdefault(src, []).append(dst)
    nodes = sorted({e.source for e in edges} | {e.target for e in edges})
    return [(c, one_cycle(c, by_pair)) for c in strongly_connected(nodes, graph)]


def report(package_dir: Path, typing: bool) -> tuple[list[str], int]:
    """The printed lines and how many loops they list."""
    edges = edges_of(package_dir)
    sections = [("runtime import loops (top-level and deferred imports)", loops(edges, RUNTIME))]
    if typing:
        sections.append(("import loops counting TYPE_CHECKING imports", loops(edges, RUNTIME | {"typing"})))
    lines: list[str] = []
    for title, found in sections:
        lines.append(f"{title}: {len(found) or 'none'}")
        for component, cycle in found:
            lines.append(f"  {len(component)} modules: {', '.join(component)}")
            for edge in cycle:
                lines.append(f"    {edge.source} -> {edge.target}  (line {edge.line}, {edge.kind})")
    return lines, sum(len(found) for _, found in sections)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("package", help="the package directory, e.g. stack_under_test")
    parser.add_argument("--typing", action="store_true", help="also list loops through TYPE_CHECKING imports")
    args = parser.parse_args(argv)
    package_dir = Path(args.package)
    if not (package_dir / "__init__.py").is_file():
        print(f"import_loops: {package_dir} is not a package directory (no __init__.py)", file=sys.stderr)
        return 2
    lines, count = report(package_dir, args.typing)
    print("\n".join(lines))
    return 1 if count else 0


if __name__ == "__main__":
    sys.exit(main())
