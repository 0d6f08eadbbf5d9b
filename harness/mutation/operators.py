"""The mutation operators: small, realistic bugs planted into one source file at a time.

Every mutant is a text replacement of one AST node's source span, so the rest of the file
stays byte for byte the same (the diff in the report is the bug, nothing else) and the line
count never changes (code objects keep their line numbers, which lets a worker swap a
function's code in place). The operators:

    boundary          <  <->  <=,  >  <->  >=         (an off-by-one at a limit)
    negate-compare    == <-> !=, is <-> is not, in <-> not in
    constant          n -> n+1, n -> n-1, 0 <-> 1, True <-> False  (limits, pointers, offsets);
                      durations (a name ending in _ms, _s, timeout, interval, delay, time,
                      lifetime, or a multiple of 1000) n -> 2n and n -> n/2
    remove-guard      `if c: return/raise/continue/break` removed  (a missing validity check)
    negate-condition  `if c` -> `if not (c)`; on an if/else or a conditional expression this
                      swaps the branches
    remove-call       a call statement removed  (a send, a count, a timer armed or cancelled)
    bool-op           and <-> or

Decorators and class bases are never mutated (`@dataclass(slots=True)` -> False is no bug).

A mutant's id is stable across unrelated edits: it is made of the enclosing scope's qualified
name, the operator, the original and replacement text and the occurrence index of that same
change within the scope, never of line numbers. A module- or class-level change also says where
it sits in what it binds (``binding``: ``OPTION_BOUNDS["hop_limit"][1]``), which a constant added
above it does not change, so a reviewed rule can name it (equivalents.py).
"""

from __future__ import annotations

import ast
import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

# Calls whose removal changes nothing a test may observe: diagnostics only.
_LOGGING_ROOTS: Final = frozenset({"log", "logger", "_log", "_logger", "logging", "warnings", "print"})
# Constants bound to these names are durations: mutated by a factor of two, not by one.
_TIMER_NAME: Final = re.compile(r"(_ms|_s|timeout|interval|delay|time|lifetime)$", re.IGNORECASE)
_SKIPPED_ASSIGNMENTS: Final = frozenset({"__all__", "__slots__", "__match_args__"})
_SKIPPED_FUNCTIONS: Final = frozenset({"__repr__", "__str__", "__format__"})
_BOUNDARY: Final[dict[type[ast.cmpop], str]] = {ast.Lt: "<=", ast.LtE: "<", ast.Gt: ">=", ast.GtE: ">"}
_NEGATED: Final[dict[type[ast.cmpop], str]] = {ast.Eq: "!=", ast.NotEq: "==", ast.Is: "is not",
                                               ast.IsNot: "is", ast.In: "not in", ast.NotIn: "in"}
_SYMBOL: Final[dict[type[ast.cmpop], str]] = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">=",
                                              ast.Eq: "==", ast.NotEq: "!=", ast.Is: "is",
                                              ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in"}
# Comparisons whose mutants infection.py can judge: pure on numbers, strings and bytes.
PROBED_COMPARISONS: Final[frozenset[type[ast.cmpop]]] = frozenset({ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq,
                                                                    ast.NotEq})
# Arithmetic whose constant operand's mutants infection.py can judge: on numbers these may give
# the same result with either constant (a mask over bits that are clear, a shift of 0, a
# remainder of a small number), so reaching the line need not mean computing otherwise. `+` and
# `-` are left out: on numbers they always do.
PROBED_ARITHMETIC: Final[dict[type[ast.operator], str]] = {
    ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.RShift: ">>", ast.LShift: "<<", ast.FloorDiv: "//",
    ast.Mod: "%", ast.Mult: "*"}
OPERATORS: Final = ("boundary", "negate-compare", "constant", "remove-guard", "negate-condition",
                    "remove-call", "bool-op")


@dataclass(frozen=True, slots=True)
class Mutant:
    """One planted bug: replace the text between two (line, byte column) positions."""

    path: str               # posix path from the repository root
    module: str             # dotted module name
    scope: str              # qualified name of the innermost enclosing def/class, or "<module>"
    outer: str | None       # the outermost function holding the change (None: module or class level)
    operator: str
    line: int               # 1-based, of the start
    col: int                # byte offset in the UTF-8 line, as the ast module counts
    end_line: int
    end_col: int
    original: str
    replacement: str
    occurrence: int         # among identical changes in the same scope
    names: tuple[str, ...]  # module/class-level changes: the names whose readers select the tests
    # Where a test can be seen to compute something different under this mutant (infection.py):
    # ("compare", line, col, end_line, end_col, what, value) for a comparison whose operator
    # (what = "op", value its new symbol) or constant operand (what = "left"/"right", value its
    # new literal) changes; ("arithmetic", ...) the same for a constant operand of an operator
    # in PROBED_ARITHMETIC; ("subscript", ..., "index"/"lower"/"upper"/"step", literal) for a
    # constant index or slice bound of a read; ("guard", ...position of the if, "guard", "")
    # for a removed guard.
    probe: tuple[str, int, int, int, int, str, str] | None = None
    # Module- or class-level changes: the name bound and the keys and indexes leading from it to
    # the change, e.g. OPTION_BOUNDS["hop_limit"][1]; "" inside a function.
    binding: str = ""

    @property
    def id(self) -> str:
        digest = hashlib.sha1(
            f"{self.operator}\0{_squash(self.original)}\0{_squash(self.replacement)}\0{self.occurrence}".encode()
        ).hexdigest()[:8]
        return f"{self.module.removeprefix('stack_under_test.')}:{self.scope}:{self.operator}:{digest}"

    @property
    def description(self) -> str:
        return f"{self.operator}: {_squash(self.original)[:80]} -> {_squash(self.replacement)[:80]}"

    def apply(self, source: str) -> str:
        data = source.encode("utf-8")
        starts = _line_starts(data)
        begin = starts[self.line - 1] + self.col
        end = starts[self.end_line - 1] + self.end_col
        return (data[:begin] + self.replacement.encode("utf-8") + data[end:]).decode("utf-8")


def _squash(text: str) -> str:
    return " ".join(text.split())


def _line_starts(data: bytes) -> list[int]:
    starts = [0]
    starts.extend(i + 1 for i, b in enumerate(data) if b == 0x0A)
    return starts


@dataclass(slots=True)
class _Raw:
    scope: str
    outer: str | None
    operator: str
    node: ast.AST
    replacement: str
    names: tuple[str, ...]
    span: tuple[int, int, int, int] | None = None  # overrides the node's span
    probe: tuple[str, int, int, int, int, str, str] | None = None
    binding: str = ""


class _Collector(ast.NodeVisitor):
    """Walks one module, keeping track of the scope and of the outermost enclosing function."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.lines = source.encode("utf-8").split(b"\n")
        self.found: list[_Raw] = []
        self.scopes: list[str] = []
        self.outer: str | None = None
        self.names: tuple[str, ...] = ()
        self.target = ""  # the name an assignment being visited binds
        self.path: list[str] = []  # the keys and indexes from that name down to the node visited
        # A probed comparison's or arithmetic's constant operand: (kind, the node, its side).
        self.operand: tuple[str, ast.AST, str] | None = None

    # ---- helpers ----------------------------------------------------------------------------
    def text(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.source, node)
        return seg if seg is not None else ""

    def scope(self) -> str:
        return ".".join(self.scopes) or "<module>"

    def add(self, operator: str, node: ast.AST, replacement: str,
            span: tuple[int, int, int, int] | None = None,
            probe: tuple[str, ast.AST, str, str] | None = None) -> None:
        names = self.names if self.outer is None else ()
        binding = self.target + "".join(self.path) if self.outer is None and self.target else ""
        where = None
        if probe is not None and self.outer is not None:  # module-level code runs at import only
            kind, at, what, value = probe
            where = (kind, at.lineno, at.col_offset, at.end_lineno or at.lineno,  # type: ignore[attr-defined]
                     at.end_col_offset or 0, what, value)  # type: ignore[attr-defined]
        self.found.append(_Raw(self.scope(), self.outer, operator, node, replacement, names, span, where,
                               binding))

    def statement_alone(self, node: ast.stmt) -> bool:
        """True when nothing but indentation precedes the statement on its line."""
        line = self.lines[node.lineno - 1]
        return not line[: node.col_offset].strip()

    def pass_for(self, node: ast.stmt) -> str:
        # Keep the line count: a worker matches code objects by their first line.
        return "pass" + "\n" * ((node.end_lineno or node.lineno) - node.lineno)

    # ---- scopes -------------------------------------------------------------------------------
    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        # Decorators and bases are not mutated: `@dataclass(slots=True)` -> False changes no
        # behaviour a test could see, and every such mutant would run the whole suite.
        self.scopes.append(node.name)
        for stmt in node.body:
            self.visit(stmt)
        self.scopes.pop()

    def _visit_function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name in _SKIPPED_FUNCTIONS:
            return
        saved_names = self.names
        self.names = (node.name,)
        for default in (*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)):
            self.visit(default)
        self.names = saved_names
        self.scopes.append(node.name)
        saved_outer = self.outer
        if self.outer is None:
            self.outer = self.scope()
        for stmt in node.body:
            self.visit(stmt)
        self.outer = saved_outer
        self.scopes.pop()

    visit_FunctionDef = _visit_function
    visit_AsyncFunctionDef = _visit_function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.visit(node.body)

    # ---- statements ---------------------------------------------------------------------------
    def visit_Assign(self, node: ast.Assign) -> None:
        targets = [name for t in node.targets for name in _bound_names(t)]
        if any(t in _SKIPPED_ASSIGNMENTS for t in targets):
            return
        only = node.targets[0] if len(node.targets) == 1 else None
        if (isinstance(only, ast.Tuple | ast.List) and isinstance(node.value, ast.Tuple | ast.List)
                and len(only.elts) == len(node.value.elts)):
            # `a, b = A(0), B(2)`: a change in B(2) is read through b alone.
            for target, value in zip(only.elts, node.value.elts, strict=True):
                self._with_names(tuple(_bound_names(target)), value)
            return
        self._with_names(tuple(targets), node.value)

    def visit_AnnAssign(self, node: ast.AnnAssign) -> None:  # the annotation is never mutated
        if node.value is not None:
            name = node.target.id if isinstance(node.target, ast.Name) else ""
            self._with_names((name,) if name else (), node.value)

    def _with_names(self, names: tuple[str, ...], value: ast.AST) -> None:
        saved, saved_target, saved_path = self.names, self.target, self.path
        if self.outer is None:
            self.names = names
        self.target, self.path = (names[0] if names else ""), []
        self.visit(value)
        self.names, self.target, self.path = saved, saved_target, saved_path

    def _at(self, step: str, node: ast.AST) -> None:
        self.path.append(step)
        self.visit(node)
        self.path.pop()

    def visit_Dict(self, node: ast.Dict) -> None:
        for key, value in zip(node.keys, node.values, strict=True):
            if key is not None:
                self.visit(key)
            literal = key.value if isinstance(key, ast.Constant) else None
            self._at(f"[{json.dumps(literal)}]" if isinstance(literal, str | int) else "[?]", value)

    def _visit_sequence(self, node: ast.Tuple | ast.List) -> None:
        for i, elt in enumerate(node.elts):
            self._at(f"[{i}]", elt)

    visit_Tuple = _visit_sequence
    visit_List = _visit_sequence

    def visit_Expr(self, node: ast.Expr) -> None:
        value = node.value
        if isinstance(value, ast.Constant):
            return  # docstrings and bare literals
        if isinstance(value, ast.Call) and not _is_logging(value.func) and self.statement_alone(node):
            self.add("remove-call", node, self.pass_for(node))
        if isinstance(value, ast.Call) and _is_logging(value.func):
            return
        self.generic_visit(node)

    def visit_Assert(self, node: ast.Assert) -> None:
        return  # debugging aids, not behaviour

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test) or _is_main_guard(node.test):
            return
        line = self.lines[node.lineno - 1]
        is_elif = line[: node.col_offset].strip() == b"" and line[node.col_offset:].startswith(b"elif")
        exits = (ast.Return, ast.Raise, ast.Continue, ast.Break)
        if (not node.orelse and len(node.body) == 1 and isinstance(node.body[0], exits)
                and not is_elif and self.statement_alone(node)):
            self.add("remove-guard", node, self.pass_for(node), probe=("guard", node, "guard", ""))
        self._negate(node.test)
        self.visit(node.test)
        for stmt in (*node.body, *node.orelse):
            self.visit(stmt)

    def visit_While(self, node: ast.While) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def visit_IfExp(self, node: ast.IfExp) -> None:
        self._negate(node.test)
        self.generic_visit(node)

    def _negate(self, test: ast.expr) -> None:
        if isinstance(test, ast.Compare) and len(test.ops) == 1 and type(test.ops[0]) in _NEGATED:
            return  # negate-compare makes the same mutant
        if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not):
            self.add("negate-condition", test, self.text(test.operand))
        else:
            self.add("negate-condition", test, f"not ({self.text(test)})")

    # ---- expressions --------------------------------------------------------------------------
    def visit_JoinedStr(self, node: ast.JoinedStr) -> None:
        return  # messages

    def visit_Compare(self, node: ast.Compare) -> None:
        operands = [node.left, *node.comparators]
        probed = len(node.ops) == 1 and type(node.ops[0]) in PROBED_COMPARISONS
        for i, op in enumerate(node.ops):
            left, right = operands[i], operands[i + 1]
            span = self._operator_span(left, right, _SYMBOL[type(op)])
            if span is None:
                continue
            if type(op) in _BOUNDARY:
                new = _BOUNDARY[type(op)]
                self.add("boundary", node, new, span, probe=("compare", node, "op", new) if probed else None)
            if type(op) in _NEGATED:
                self.add("negate-compare", node, _NEGATED[type(op)], span)
        for operand, side in ((node.left, "left"), *((c, "right") for c in node.comparators)):
            self.operand = ("compare", node, side) if probed and isinstance(operand, ast.Constant) else None
            self.visit(operand)
        self.operand = None

    def visit_BinOp(self, node: ast.BinOp) -> None:
        probed = type(node.op) in PROBED_ARITHMETIC
        for operand, side in ((node.left, "left"), (node.right, "right")):
            plain_int = isinstance(operand, ast.Constant) and type(operand.value) is int
            self.operand = ("arithmetic", node, side) if probed and plain_int else None
            self.visit(operand)
        self.operand = None

    def _operator_span(self, left: ast.expr, right: ast.expr, symbol: str) -> tuple[int, int, int, int] | None:
        """Where the operator token sits between two operands (only on one line)."""
        if left.end_lineno != right.lineno or left.end_col_offset is None:
            return None
        line = self.lines[right.lineno - 1]
        gap = line[left.end_col_offset: right.col_offset].decode("utf-8", "replace")
        words = symbol.split()
        pattern = (r"(?<![<>=!])" + re.escape(symbol) + r"(?![<>=])" if symbol[0] in "<>=!"
                   else r"\b" + r"\s+".join(words) + r"\b")
        match = re.search(pattern, gap)
        if match is None:
            return None
        base = left.end_col_offset
        return (right.lineno, base + match.start(), right.lineno, base + match.end())

    def visit_Subscript(self, node: ast.Subscript) -> None:
        # A constant index or slice bound of a read (`buf[2:4]`, `fields[0]`): probed, so a test
        # whose buffer is too short for the change to matter does not count as infecting it.
        self.visit(node.value)
        probed = isinstance(node.ctx, ast.Load)
        parts = ([(node.slice.lower, "lower"), (node.slice.upper, "upper"), (node.slice.step, "step")]
                 if isinstance(node.slice, ast.Slice) else [(node.slice, "index")])
        for part, side in parts:
            if part is None:
                continue
            plain_int = isinstance(part, ast.Constant) and type(part.value) is int
            self.operand = ("subscript", node, side) if probed and plain_int else None
            self.visit(part)
        self.operand = None

    def visit_BoolOp(self, node: ast.BoolOp) -> None:
        old, new = ("and", "or") if isinstance(node.op, ast.And) else ("or", "and")
        data = self.source.encode("utf-8")
        starts = _line_starts(data)

        def offset(line: int | None, col: int | None) -> int:
            return starts[(line or 1) - 1] + (col or 0)

        begin = offset(node.lineno, node.col_offset)
        text = data[begin: offset(node.end_lineno, node.end_col_offset)]
        # Replace the keyword in each gap between operands, from the last gap back.
        for prev, value in reversed(list(zip(node.values, node.values[1:], strict=False))):
            lo = offset(prev.end_lineno, prev.end_col_offset) - begin
            hi = offset(value.lineno, value.col_offset) - begin
            match = re.search(rb"\b" + old.encode() + rb"\b", text[lo:hi])
            if match is None:
                break
            text = text[: lo + match.start()] + new.encode() + text[lo + match.end():]
        else:
            self.add("bool-op", node, text.decode("utf-8"))
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        value = node.value
        operand, self.operand = self.operand, None
        if isinstance(value, bool):
            new_text = [str(not value)]
        elif isinstance(value, int):
            text = self.text(node)
            timer = _TIMER_NAME.search(self.target) is not None or (value >= 1000 and value % 1000 == 0)
            new_text = [hex(new) if text.lower().startswith("0x") else str(new)
                        for new in (_scaled(value) if timer else _neighbours(value))]
        else:
            return
        for replacement in new_text:
            probe = None if operand is None else (operand[0], operand[1], operand[2], replacement)
            self.add("constant", node, replacement, probe=probe)


def _scaled(n: int) -> list[int]:
    """A timer off by a millisecond is no bug any test on a real clock could see; off by a
    factor of two is the realistic one (a wrong default, seconds taken for half-seconds)."""
    return [n * 2, n // 2] if n > 1 else _neighbours(n)


def _neighbours(n: int) -> list[int]:
    if n == 0:
        return [1]
    if n == 1:
        return [0, 2]
    return [n + 1, n - 1]


def _bound_names(target: ast.expr) -> list[str]:
    """The names an assignment target binds (``a``, ``a, b``, ``(a, [b, c])``)."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [name for elt in target.elts for name in _bound_names(elt)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


def _is_logging(func: ast.expr) -> bool:
    while isinstance(func, ast.Attribute):
        func = func.value
    return isinstance(func, ast.Name) and func.id in _LOGGING_ROOTS


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _is_main_guard(test: ast.expr) -> bool:
    return (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name)
            and test.left.id == "__name__")


def mutants(source: str, path: str, module: str) -> Iterator[Mutant]:
    """Every mutant of one module's source, in source order."""
    collector = _Collector(source)
    collector.visit(ast.parse(source))
    seen: Counter[tuple[str, str, str, str]] = Counter()
    for raw in collector.found:
        node = raw.node
        if raw.span is not None:
            line, col, end_line, end_col = raw.span
        else:
            line, col = node.lineno, node.col_offset  # type: ignore[attr-defined]
            end_line, end_col = node.end_lineno, node.end_col_offset  # type: ignore[attr-defined]
        original = _slice(source, line, col, end_line, end_col)
        if original == raw.replacement:
            continue
        key = (raw.scope, raw.operator, _squash(original), _squash(raw.replacement))
        occurrence = seen[key]
        seen[key] += 1
        yield Mutant(path, module, raw.scope, raw.outer, raw.operator, line, col, end_line, end_col,
                     original, raw.replacement, occurrence, raw.names, raw.probe, raw.binding)


def _slice(source: str, line: int, col: int, end_line: int, end_col: int) -> str:
    data = source.encode("utf-8")
    starts = _line_starts(data)
    return data[starts[line - 1] + col: starts[end_line - 1] + end_col].decode("utf-8")
