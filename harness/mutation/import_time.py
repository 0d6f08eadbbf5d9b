"""Functions of the stack that run while it is imported, found by reading its source.

A class body's ``version = Bits(0, 1, 4, 4)`` calls ``Bits.__init__`` once, at import: swapping
that function's code in a worker where the stack is already imported changes nothing, so its
mutants survived whatever the tests did (the descriptors were built by the original). Such a
mutant is applied by re-executing its module and the modules importing it instead
(``harness.mutation.reload``), which builds the descriptors again with the mutated code, and runs
against the whole suite, as a module constant does: what the function builds can be read anywhere.

Found here: every call in module-level code or a class body (decorators included) whose callee
is a function or class of the stack named directly, through ``from module import name`` or as
``module.name``; for a class, the methods Python calls when it is instantiated or subclassed.
Calls made by those functions in turn are not followed (none of the stack's import-time
callables calls another of its functions).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from typing import Final

from harness.mutation.reload import imported_from
from harness.mutation.sources import SourceFile

# What instantiating (or subclassing, or naming in a class body) a class runs of its own code.
_CLASS_HOOKS: Final = ("__new__", "__init__", "__post_init__", "__set_name__", "__init_subclass__")


def import_time_functions(sources: Iterable[SourceFile]) -> set[tuple[str, str]]:
    """(module, qualified name) of every function of ``sources`` that runs at import."""
    trees = {source.module: (source, ast.parse(source.text)) for source in sources}
    defined: dict[str, dict[str, ast.stmt]] = {}  # module -> its top-level functions and classes
    aliases: dict[str, dict[str, tuple[str, str | None]]] = {}
    for module, (source, tree) in trees.items():
        defined[module] = {node.name: node for node in tree.body
                           if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        aliases[module] = _imported_names(tree, module, source.relpath.endswith("__init__.py"))

    def definition(module: str, name: str, hops: int = 0) -> tuple[str, ast.stmt] | None:
        """Where ``module.name`` is defined, following re-exports (``from x import name``)."""
        if name in defined.get(module, {}):
            return module, defined[module][name]
        origin = aliases.get(module, {}).get(name)
        if origin is None or origin[1] is None or hops > 8:
            return None
        return definition(origin[0], origin[1], hops + 1)

    def hooks(module: str, node: ast.ClassDef) -> Iterator[tuple[str, str]]:
        """The class's own hooks and those it inherits from the stack's classes."""
        for item in node.body:
            if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and item.name in _CLASS_HOOKS:
                yield module, f"{node.name}.{item.name}"
        for base in node.bases:
            if isinstance(base, ast.Name):
                found = definition(module, base.id) if base.id not in aliases[module] else \
                    definition(*_as_target(aliases[module][base.id]))
                if found is not None and isinstance(found[1], ast.ClassDef):
                    yield from hooks(found[0], found[1])

    found: set[tuple[str, str]] = set()
    for module, (_source, tree) in trees.items():
        for call in _calls_at_import(tree.body):
            target = _resolve(call, module, aliases[module])
            where = definition(*target) if target is not None else None
            if where is None:
                continue
            place, node = where
            if isinstance(node, ast.ClassDef):
                found.update(hooks(place, node))
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                found.add((place, node.name))
    return found


def _as_target(alias: tuple[str, str | None]) -> tuple[str, str]:
    return (alias[0], alias[1]) if alias[1] is not None else (alias[0], "")


def _imported_names(tree: ast.Module, module: str, is_package: bool) -> dict[str, tuple[str, str | None]]:
    """Local name -> (module, name in it), or (module, None) for a module bound by ``import``."""
    aliases: dict[str, tuple[str, str | None]] = {}
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            base = imported_from(node, module, is_package)
            for alias in node.names:
                # ``from package import module`` binds a module; either way both readings are kept.
                aliases[alias.asname or alias.name] = (base, alias.name)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (alias.name if alias.asname else
                                                                     alias.name.split(".")[0], None)
    return aliases


def _calls_at_import(body: list[ast.stmt]) -> Iterator[ast.Call]:
    """Calls in module-level statements and class bodies, decorators included, not inside functions."""
    for node in body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for decorator in node.decorator_list:
                yield from _calls_in(decorator, as_decorator=True)
            for default in [*node.args.defaults, *node.args.kw_defaults]:
                if default is not None:
                    yield from _calls_in(default)
        elif isinstance(node, ast.If) and _is_main_guard(node.test):
            continue  # ``if __name__ == "__main__":`` does not run when the module is imported
        elif isinstance(node, ast.ClassDef):
            for expr in [*node.decorator_list, *node.bases]:
                yield from _calls_in(expr, as_decorator=expr in node.decorator_list)
            yield from _calls_at_import(node.body)
        else:
            yield from _calls_in(node)


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and test.left.id == "__name__"
            and any(isinstance(c, ast.Constant) and c.value == "__main__" for c in test.comparators))


def _calls_in(node: ast.AST, as_decorator: bool = False) -> Iterator[ast.Call]:
    if as_decorator and isinstance(node, (ast.Name, ast.Attribute)):
        yield ast.Call(func=node, args=[], keywords=[])  # ``@name``: the decorator is called
    if isinstance(node, ast.Call):
        yield node
    for child in ast.iter_child_nodes(node):
        if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            yield from _calls_at_import([child])  # nested in an ``if`` or ``try`` at module level
        elif not isinstance(child, ast.Lambda):  # a lambda's body runs when it is called
            yield from _calls_in(child)


def _resolve(call: ast.Call, module: str, aliases: dict[str, tuple[str, str | None]]) -> tuple[str, str] | None:
    func = call.func
    if isinstance(func, ast.Name):
        if func.id in aliases:
            base, name = aliases[func.id]
            return (base, name) if name is not None else None
        return module, func.id
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in aliases:
        base, name = aliases[func.value.id]
        return (base if name is None else f"{base}.{name}", func.attr)
    return None
