"""Applying a mutant inside a worker that has the stack and the suite already imported.

Two ways, the cheaper first:

* **code swap** (a change inside a function body): compile the mutated module, take the code
  object of the outermost function holding the change (matched by qualified name and first
  line, which the operators keep) and assign it to the live function's ``__code__``. Every
  reference to that function (methods, bound methods held by timers, dispatch tables) sees
  the mutant at once; undone by assigning the original code back. Measured: microseconds.
* **re-execution** (a module constant, a class attribute, a default argument, or a swap that
  cannot apply): execute the mutated module's code in its own ``__dict__``, then every
  module that imports it, directly or not, in import order, so names bound with
  ``from x import NAME`` pick up the new value; undone by doing the same with the original.
  A module's place in that order is where Python's own import completes it (parents first,
  then its imports), so re-execution rebuilds the same bindings the first import made.
  Only the stack and the modules outside it that import it at module level are re-executed
  (``harness.backends.inprocess``, the white-box tests), never the harness or pytest.
"""

from __future__ import annotations

import ast
import functools
import sys
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness.mutation.sources import PACKAGE


def imported_from(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    """The absolute name of the module ``from ... import`` reads, relative imports resolved."""
    if not node.level:
        return node.module or ""
    parts = module.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join([*parts[:keep], *([node.module] if node.module else [])])


def _module_level_imports(tree: ast.Module, module: str, is_package: bool) -> Iterator[str]:
    """Dotted names imported at module level (not inside functions or TYPE_CHECKING), in order."""
    def walk(body: list[ast.stmt]) -> Iterator[str]:
        for node in body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    yield alias.name
            elif isinstance(node, ast.ImportFrom):
                base = imported_from(node, module, is_package)
                yield base
                for alias in node.names:
                    yield f"{base}.{alias.name}"
            elif isinstance(node, ast.If) and not (isinstance(node.test, ast.Name)
                                                   and node.test.id == "TYPE_CHECKING"):
                yield from walk(node.body)
                yield from walk(node.orelse)
            elif isinstance(node, ast.Try):
                yield from walk(node.body)
    yield from walk(tree.body)


class Reloader:
    """The modules to re-execute, in import order, with their original code objects."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.stack_dir = (root / PACKAGE).resolve()
        loaded = {name: mod for name, mod in list(sys.modules.items()) if self._source(mod) is not None}
        sources = {name: self._source(mod) for name, mod in loaded.items()}
        imports: dict[str, list[str]] = {}
        for name, path in sources.items():
            assert path is not None
            tree = ast.parse(path.read_text(encoding="utf-8"))
            is_package = path.name == "__init__.py"
            imports[name] = [n for n in _module_level_imports(tree, name, is_package) if n in loaded]
        stack = {name for name, path in sources.items() if path is not None and path.is_relative_to(self.stack_dir)
                 and not self._is_test(name)}
        # Modules outside the stack proper that import it (or import an importer of it).
        users: set[str] = set()
        changed = True
        while changed:
            changed = False
            for name, deps in imports.items():
                if name in stack or name in users or name.startswith("harness.mutation") \
                        or name == "harness.plugin":
                    continue
                if any(d in stack or d in users for d in deps):
                    users.add(name)
                    changed = True
        chosen = stack | users
        self.order = self._import_order(chosen, imports, list(loaded))
        self.importers: dict[str, set[str]] = {name: set() for name in self.order}
        for name in self.order:
            for dep in imports[name]:
                if dep in self.importers:
                    self.importers[dep].add(name)
        self.modules = {name: loaded[name] for name in self.order}
        self.paths = {name: sources[name] for name in self.order}
        self.codes: dict[str, types.CodeType] = {}

    def _is_test(self, name: str) -> bool:
        return name.startswith(f"{PACKAGE}.tests")

    def _source(self, module: Any) -> Path | None:
        file = getattr(module, "__file__", None)
        if not file or not file.endswith(".py"):
            return None
        path = Path(file).resolve()
        return path if path.is_relative_to(self.root) else None

    @staticmethod
    def _import_order(chosen: set[str], imports: dict[str, list[str]], started: list[str]) -> list[str]:
        """Completion order of Python's own import: depth first, a module after what it imports."""
        order: list[str] = []
        state: dict[str, int] = {}

        def visit(name: str) -> None:
            # As Python does: the parent packages first (whose __init__ may import this very
            # module), then the module itself, whose imports complete before it does.
            parts = name.split(".")
            for i in range(1, len(parts)):
                parent = ".".join(parts[:i])
                if parent in imports:
                    visit(parent)
            if state.get(name):
                return
            state[name] = 1
            for dep in imports.get(name, []):
                visit(dep)
            state[name] = 2
            order.append(name)

        for name in started:
            visit(name)
        return [name for name in order if name in chosen]

    def original_code(self, module: str) -> types.CodeType:
        if module not in self.codes:
            path = self.paths[module]
            assert path is not None
            self.codes[module] = compile(path.read_text(encoding="utf-8"), str(path), "exec")
        return self.codes[module]

    # ---- code swap --------------------------------------------------------------------------
    def swap(self, module: str, outer: str, mutated: types.CodeType) -> tuple[Any, types.CodeType] | None:
        """Put the mutated code of ``outer`` in place; returns (function, original code) or None."""
        live = self.modules.get(module)
        original = _find_code(self.original_code(module), outer)
        new = _find_code(mutated, outer)
        if live is None or original is None or new is None:
            return None
        func = _find_function(live, outer, original.co_firstlineno)
        if func is None or func.__code__.co_freevars != new.co_freevars:
            return None
        saved = func.__code__
        func.__code__ = new
        _clear_cache(live, outer)
        return func, saved

    @staticmethod
    def unswap(func: Any, code: types.CodeType, module: Any = None, outer: str = "") -> None:
        func.__code__ = code

    # ---- re-execution -----------------------------------------------------------------------
    def dependents(self, module: str) -> list[str]:
        """``module`` and every module importing it at module level, directly or not, in import order."""
        found, todo = {module}, [module]
        while todo:
            for importer in self.importers.get(todo.pop(), ()):
                if importer not in found:
                    found.add(importer)
                    todo.append(importer)
        return [name for name in self.order if name in found]

    def reexec(self, module: str, code: types.CodeType | None) -> None:
        """Execute ``code`` (None: the original) as ``module``, then the modules importing it."""
        for name in self.dependents(module):
            body = code if name == module and code is not None else self.original_code(name)
            exec(body, self.modules[name].__dict__)


def _find_code(code: types.CodeType, qualname: str) -> types.CodeType | None:
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            if const.co_qualname == qualname:
                return const
            if qualname.startswith(const.co_qualname + "."):
                found = _find_code(const, qualname)
                if found is not None:
                    return found
    return None


def _find_function(module: Any, qualname: str, first_line: int) -> Any:
    obj: Any = module
    for part in qualname.split("."):
        space = getattr(obj, "__dict__", None)
        if space is None or part not in space:
            return None
        obj = space[part]
    for candidate in (obj, getattr(obj, "__func__", None), getattr(obj, "fget", None),
                      getattr(obj, "fset", None), getattr(obj, "fdel", None), getattr(obj, "__wrapped__", None),
                      getattr(obj, "func", None)):
        code = getattr(candidate, "__code__", None)
        if isinstance(code, types.CodeType) and code.co_firstlineno == first_line:
            return candidate
    return None


def _clear_cache(module: Any, qualname: str) -> None:
    """A cached function keeps results computed by the other version of its code."""
    obj: Any = module
    for part in qualname.split("."):
        obj = getattr(obj, "__dict__", {}).get(part)
    for candidate in (obj, getattr(obj, "__func__", None)):
        clear = getattr(candidate, "cache_clear", None)
        if callable(clear):
            clear()
        if isinstance(candidate, functools.cached_property):
            return


def compile_mutant(source: str, path: str) -> types.CodeType:
    return compile(source, path, "exec")
