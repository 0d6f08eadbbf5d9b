"""Which tests make a mutant compute something different: the coverage run's second look.

A test can kill a mutant only if, somewhere, the mutated code computes a different value than
the original (the mutant *infects* the run). Line coverage says a test reached the line; for
four kinds of mutant the coverage run can also say, at no extra run, whether it infected:

* a boundary flip (``a < b`` -> ``a <= b``): only where the operands were equal;
* a constant operand of a comparison (``len(buf) < 8`` -> ``< 9``): only where the comparison
  with the new constant comes out otherwise;
* a constant operand of ``& | ^ >> << // % *`` (``flags & 0x0F`` -> ``& 0x0E``): only where the
  new constant gives another result (another value, another type, or an exception where the
  original gave none, or none where it raised);
* a constant index or slice bound of a read from bytes, a string, a list or a tuple
  (``buf[2:4]`` -> ``buf[2:5]``, ``words[0]`` -> ``words[1]``): only where the new one gives
  another result (a 4-octet buffer cut at 4 or 5 is the same);
* a removed guard (``if c: return``): only where ``c`` was true.

During the coverage run the stack's modules are loaded through ``ProbeFinder``, which compiles
each probed comparison or arithmetic into a call that computes it once, as the original does,
and also under every variant, and each probed guard into a call that notes it was true. The
calls evaluate every operand exactly once, in the original order, and return the original
result (or raise the original's exception), so the run is the original run. Operands that are
not plain numbers, strings or bytes (numbers, for arithmetic) count as infecting (nothing of
theirs is computed twice).

Before the first infection a mutant's run is the original run, step for step (the suite runs
on a virtual clock, with a seeded random generator per test: worker.py), so a test that the
coverage run saw reaching such a mutant's code without infecting it cannot kill it: it is not
run against it, and a mutant no test infects is a survivor without a run.
"""

from __future__ import annotations

import ast
import builtins
import importlib.abc
import importlib.machinery
import operator
import sys
import types
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Final

from harness.mutation.operators import mutants
from harness.mutation.sources import SourceFile

COMPARE_PROBE: Final = "__stackcheck_mutation_compare__"
ARITHMETIC_PROBE: Final = "__stackcheck_mutation_arithmetic__"
GUARD_PROBE: Final = "__stackcheck_mutation_guard__"
SUBSCRIPT_PROBE: Final = "__stackcheck_mutation_subscript__"
# Reading these by index or slice is pure and their equality is their content's.
_SEQUENCES: Final = (bytes, bytearray, str, list, tuple, memoryview)
_SLICE_PARTS: Final = ("lower", "upper", "step")
_NUMBERS: Final = (int, float, bool)  # exact types: a subclass may define its own operators
_ARITHMETIC: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "&": operator.and_, "|": operator.or_, "^": operator.xor, ">>": operator.rshift, "<<": operator.lshift,
    "//": operator.floordiv, "%": operator.mod, "*": operator.mul}
_ARITHMETIC_SYMBOL: Final[dict[type[ast.operator], str]] = {type(node): symbol for node, symbol in (
    (ast.BitAnd(), "&"), (ast.BitOr(), "|"), (ast.BitXor(), "^"), (ast.RShift(), ">>"), (ast.LShift(), "<<"),
    (ast.FloorDiv(), "//"), (ast.Mod(), "%"), (ast.Mult(), "*"))}
_PLAIN: Final = (int, float, bool, str, bytes)
_OPS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge, "==": operator.eq, "!=": operator.ne}
_SYMBOL: Final[dict[type[ast.cmpop], str]] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                                              ast.Eq: "==", ast.NotEq: "!="}

Position = tuple[int, int, int, int]


class Probes:
    """The probed places of every product file, and what the current test infected."""

    def __init__(self, sources: Sequence[SourceFile]) -> None:
        # relpath -> position -> probe number; probe number -> (mutant id, what, value)
        self.compares: dict[str, dict[Position, int]] = defaultdict(dict)
        self.guards: dict[str, dict[Position, int]] = defaultdict(dict)
        self.arithmetic: dict[str, dict[Position, int]] = defaultdict(dict)
        self.subscripts: dict[str, dict[Position, int]] = defaultdict(dict)
        self.variants: list[list[tuple[str, str, Any]]] = []
        for source in sources:
            for m in mutants(source.text, source.relpath, source.module):
                if m.probe is None:
                    continue
                kind, line, col, end_line, end_col, what, value = m.probe
                table = {"compare": self.compares, "arithmetic": self.arithmetic,
                         "subscript": self.subscripts}.get(kind, self.guards)
                number = table[source.relpath].setdefault((line, col, end_line, end_col), len(self.variants))
                if number == len(self.variants):
                    self.variants.append([])
                literal = ast.literal_eval(value) if what in ("left", "right", "index", *_SLICE_PARTS) else value
                self.variants[number].append((m.id, what, literal))
        self.ids = {mutant_id for variants in self.variants for mutant_id, _, _ in variants}
        self.infected: set[str] = set()  # by the test now running
        self.loaded: set[str] = set()    # ids whose probes are in loaded (instrumented) code

    def compare(self, number: int, symbol: str, left: Any, right: Any) -> Any:
        result = _OPS[symbol](left, right)
        for mutant_id, what, value in self.variants[number]:
            if mutant_id in self.infected:
                continue
            if what == "op":
                plain = isinstance(left, _PLAIN) and isinstance(right, _PLAIN)
                changed = not plain or bool(_OPS[value](left, right)) != bool(result)
            elif what == "left":
                changed = not isinstance(right, _PLAIN) or bool(_OPS[symbol](value, right)) != bool(result)
            else:
                changed = not isinstance(left, _PLAIN) or bool(_OPS[symbol](left, value)) != bool(result)
            if changed:
                self.infected.add(mutant_id)
        return result

    def arithmetic_probe(self, number: int, symbol: str, left: Any, right: Any) -> Any:
        compute = _ARITHMETIC[symbol]
        result, error = _outcome(compute, left, right)
        self._infect_where_differs(
            number, type(left) in _NUMBERS and type(right) in _NUMBERS, (result, error),
            lambda what, value: _outcome(compute, *((value, right) if what == "left" else (left, value))))
        if error is not None:
            raise error
        return result

    def subscript_probe(self, number: int, sequence: Any, index: Any, *bounds: Any) -> Any:
        """``sequence[index]`` (no bounds) or ``sequence[lower:upper:step]`` (index is None)."""
        def read(parts: tuple[Any, ...]) -> Any:
            return sequence[slice(*parts)] if bounds else sequence[parts[0]]

        original = bounds if bounds else (index,)
        result, error = _outcome(read, original)
        self._infect_where_differs(
            number, type(sequence) in _SEQUENCES, (result, error),
            lambda what, value: _outcome(read, tuple(value if (what == "index" or what == _SLICE_PARTS[i]) else part
                                                     for i, part in enumerate(original))))
        if error is not None:
            raise error
        return result

    def _infect_where_differs(self, number: int, plain: bool, original: tuple[Any, Exception | None],
                              mutated: Callable[[str, Any], tuple[Any, Exception | None]]) -> None:
        """Mark each variant of probe ``number`` infected whose outcome differs from ``original``;
        every variant when the operands are not ``plain`` values the probe can recompute."""
        for mutant_id, what, value in self.variants[number]:
            if mutant_id not in self.infected and (not plain or _differs(original, mutated(what, value))):
                self.infected.add(mutant_id)

    def guard(self, number: int, condition: Any) -> bool:
        taken = bool(condition)
        if taken:
            self.infected.update(mutant_id for mutant_id, _, _ in self.variants[number])
        return taken

    def install(self, stack_dir: Path, root: Path) -> None:
        setattr(builtins, COMPARE_PROBE, self.compare)
        setattr(builtins, GUARD_PROBE, self.guard)
        setattr(builtins, ARITHMETIC_PROBE, self.arithmetic_probe)
        setattr(builtins, SUBSCRIPT_PROBE, self.subscript_probe)
        sys.meta_path.insert(0, ProbeFinder(self, stack_dir.resolve(), root.resolve()))


def _outcome(compute: Callable[..., Any], *args: Any) -> tuple[Any, Exception | None]:
    try:
        return compute(*args), None
    except Exception as e:  # ZeroDivisionError, a negative shift count, OverflowError
        return None, e


def _differs(original: tuple[Any, Exception | None], mutated: tuple[Any, Exception | None]) -> bool:
    """Whether a mutated computation's outcome (value, or exception) differs from the original's."""
    (result, error), (other, other_error) = original, mutated
    if (error is None) != (other_error is None):
        return True
    return error is None and (type(other) is not type(result) or other != result)


class _Instrument(ast.NodeTransformer):
    def __init__(self, compares: dict[Position, int], guards: dict[Position, int],
                 arithmetic: dict[Position, int] | None = None, subscripts: dict[Position, int] | None = None) -> None:
        self.compares, self.guards, self.arithmetic = compares, guards, arithmetic or {}
        self.subscripts = subscripts or {}
        self.done: set[int] = set()  # the probes placed

    @staticmethod
    def _at(node: ast.AST) -> Position:
        return (node.lineno, node.col_offset, node.end_lineno or node.lineno,  # type: ignore[attr-defined]
                node.end_col_offset or 0)  # type: ignore[attr-defined]

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        number = self.compares.get(self._at(node))
        if number is None or len(node.ops) != 1 or type(node.ops[0]) not in _SYMBOL:
            return node
        call = ast.Call(ast.Name(COMPARE_PROBE, ast.Load()),
                        [ast.Constant(number), ast.Constant(_SYMBOL[type(node.ops[0])]), node.left,
                         node.comparators[0]], [])
        self.done.add(number)
        return ast.copy_location(call, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        number = self.arithmetic.get(self._at(node))
        if number is None or type(node.op) not in _ARITHMETIC_SYMBOL:
            return node
        call = ast.Call(ast.Name(ARITHMETIC_PROBE, ast.Load()),
                        [ast.Constant(number), ast.Constant(_ARITHMETIC_SYMBOL[type(node.op)]), node.left,
                         node.right], [])
        self.done.add(number)
        return ast.copy_location(call, node)

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        self.generic_visit(node)
        number = self.subscripts.get(self._at(node))
        if number is None or not isinstance(node.ctx, ast.Load):
            return node
        if isinstance(node.slice, ast.Slice):
            parts = [p if p is not None else ast.Constant(None)
                     for p in (node.slice.lower, node.slice.upper, node.slice.step)]
            args: list[ast.expr] = [ast.Constant(number), node.value, ast.Constant(None), *parts]
        else:
            args = [ast.Constant(number), node.value, node.slice]
        self.done.add(number)
        return ast.copy_location(ast.Call(ast.Name(SUBSCRIPT_PROBE, ast.Load()), args, []), node)

    def visit_If(self, node: ast.If) -> ast.AST:
        number = self.guards.get(self._at(node))
        self.generic_visit(node)
        if number is not None:
            self.done.add(number)
            node.test = ast.copy_location(
                ast.Call(ast.Name(GUARD_PROBE, ast.Load()), [ast.Constant(number), node.test], []), node.test)
        return node


class _ProbeLoader(importlib.machinery.SourceFileLoader):
    probes: Probes
    relpath: str

    def get_code(self, fullname: str) -> types.CodeType:  # never a cached .pyc: always instrumented
        path = self.get_filename(fullname)
        tree = ast.parse(Path(path).read_text(encoding="utf-8"), path)
        instrument = _Instrument(self.probes.compares.get(self.relpath, {}), self.probes.guards.get(self.relpath, {}),
                                 self.probes.arithmetic.get(self.relpath, {}),
                                 self.probes.subscripts.get(self.relpath, {}))
        tree = ast.fix_missing_locations(instrument.visit(tree))
        code: types.CodeType = compile(tree, path, "exec", dont_inherit=True)
        for number in instrument.done:
            self.probes.loaded.update(mutant_id for mutant_id, _, _ in self.probes.variants[number])
        return code


class ProbeFinder(importlib.abc.MetaPathFinder):
    """Loads the stack's probed modules instrumented; everything else as usual."""

    def __init__(self, probes: Probes, stack_dir: Path, root: Path) -> None:
        self.probes, self.stack_dir, self.root = probes, stack_dir, root

    def find_spec(self, fullname: str, path: Sequence[str] | None,
                  target: types.ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        if not fullname.startswith(self.stack_dir.name):
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is None or spec.origin is None or not spec.origin.endswith(".py"):
            return spec
        origin = Path(spec.origin).resolve()
        relpath = origin.relative_to(self.root).as_posix() if origin.is_relative_to(self.root) else ""
        tables = (self.probes.compares, self.probes.guards, self.probes.arithmetic, self.probes.subscripts)
        if all(relpath not in table for table in tables):
            return spec
        loader = _ProbeLoader(fullname, spec.origin)
        loader.probes, loader.relpath = self.probes, relpath
        spec.loader = loader
        return spec
