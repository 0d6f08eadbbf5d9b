"""Rewrite ``@rfc(number, section, level, text)`` citations to statement ids: ``stackcheck catalog convert``.

Each quote is found in its RFC and section (``reports.rfcs.quotes``) and mapped to the
normative statement it lies in (``reports.rfcs.statements``):

- inside one statement: ``@rfc("RFC4861-7.1.1-1")``; if the quote is a clause of a longer
  sentence, or an ellipsis joins the sentence to an item of its list, the part outside the
  statement (or the clause) stays as ``quote=``;
- an item of the list a statement introduces ("... validity checks:" and then "- ICMP Code is
  0."): ``@rfc(<that statement>, quote=<the item>)``;
- across several statements: the first whose level is the citation's (the others are named in
  the plan, to review);
- in no statement (a behaviour described without a keyword): ``@described(...)`` with the same
  section, level and quote.

A citation whose quote is not found, or whose text is built at run time (a loop variable), is
left alone and listed, to convert by hand. Running it again changes nothing already converted,
so it can be applied again after a merge brings more citations in the old form.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from reports.rfcs.index import StatementIndex
from reports.rfcs.quotes import ELLIPSIS, canonical
from reports.rfcs.statements import GROUP_OF, Statement

LEVEL_NAMES: Final = {"MUST": "MUST", "MUST_NOT": "MUST NOT", "SHOULD": "SHOULD", "SHOULD_NOT": "SHOULD NOT",
                      "MAY": "MAY"}
LEVEL_CONSTANTS: Final = {v: k for k, v in LEVEL_NAMES.items()}
WIDTH: Final = 110


@dataclass(frozen=True)
class Change:
    path: Path
    line: int
    old: str  # the citation as written
    new: str | None  # its replacement, or None when it must be converted by hand
    note: str = ""  # what a reviewer should look at (a level that differs, several statements)
    start: int = 0  # offsets of the call in the file
    end: int = 0


def _calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "rfc" \
                and node.args and not (isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            yield node


def _constants(tree: ast.Module) -> dict[str, ast.expr]:
    """Module-level ``NAME = <expr>`` assignments, for quotes built from constants."""
    out: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            out[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            out[node.target.id] = node.value
    return out


def _value(node: ast.expr, names: dict[str, ast.expr], depth: int = 0) -> str | int | None:
    """The value of a literal, a module constant, a concatenation or an f-string of those."""
    if depth > 10:
        return None
    if isinstance(node, ast.Constant) and isinstance(node.value, str | int):
        return node.value
    if isinstance(node, ast.Name):
        if node.id in LEVEL_NAMES:
            return LEVEL_NAMES[node.id]
        return _value(names[node.id], names, depth + 1) if node.id in names else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _value(node.left, names, depth + 1), _value(node.right, names, depth + 1)
        return left + right if isinstance(left, str) and isinstance(right, str) else None
    if isinstance(node, ast.JoinedStr):
        parts: list[str] = []
        for v in node.values:
            inner = v.value if isinstance(v, ast.FormattedValue) else v
            got = _value(inner, names, depth + 1) if isinstance(inner, ast.expr) else None
            if not isinstance(got, str):
                return None
            parts.append(got)
        return "".join(parts)
    return None


def _literal(text: str, indent: int, first: int) -> str:
    """``text`` as adjacent string literals wrapped at ``WIDTH`` columns."""
    lines, line, room = [], "", WIDTH - first
    for word in text.split(" "):
        candidate = f"{line} {word}" if line else word
        if len(json.dumps(candidate)) + 1 > room and line:
            lines.append(line + " ")
            line, room = word, WIDTH - indent
        else:
            line = candidate
    lines.append(line)
    return ("\n" + " " * indent).join(json.dumps(piece, ensure_ascii=False) for piece in lines)


@dataclass(frozen=True)
class Target:
    """What a citation becomes: a statement id (and the quote of the part it checks, and the
    further statements one check covers), or a described behaviour."""

    req: str | None
    quote: str | None
    number: int = 0
    section: str = ""
    level: str = ""
    also: tuple[str, ...] = ()

    def render(self, column: int) -> str:
        """The call's source, starting at ``column``; a long quote wraps under the call."""
        if self.req is not None:
            head = f"rfc({', '.join(json.dumps(i) for i in (self.req, *self.also))}"
            if self.quote is None:
                return head + ")"
            one_line = f"{head}, quote={json.dumps(self.quote, ensure_ascii=False)})"
            if column + len(one_line) <= WIDTH:
                return one_line
            indent = column + len("rfc(")
            return f"{head},\n{' ' * indent}quote={_literal(self.quote or '', indent + 6, indent + 6)})"
        level = LEVEL_CONSTANTS.get(self.level, json.dumps(self.level))
        head = f"described({self.number}, {json.dumps(self.section)}, {level}, "
        one_line = f"{head}{json.dumps(self.quote, ensure_ascii=False)})"
        if column + len(one_line) <= WIDTH:
            return one_line
        indent = column + len("described(")
        return f"{head.rstrip()}\n{' ' * indent}{_literal(self.quote or '', indent, indent)})"


class Converter:
    """``descriptive``: ids of statements the catalog judges not to be requirements (scope
    "descriptive"); a quote in one of them is a described behaviour, not a citation of it."""

    def __init__(self, index: StatementIndex, descriptive: frozenset[str] = frozenset()) -> None:
        self.index = index
        self.descriptive = descriptive

    def map(self, number: int, section: str, level: str, quote: str) -> tuple[Target, str]:
        """(what the citation becomes, a note for the reviewer); LookupError if not found."""
        finder = self.index.library.finder(number)
        located = finder.locate(section, quote)
        if located.match is None:
            raise LookupError(f"quote not found in RFC {number} §{section}")
        lo, parts = located.match.start, located.match.parts
        statements = self.index.of_rfc(number)
        spanned = [s for s in statements if any(s.start < b and a < s.end for a, b in parts)]
        inside = [s for s in spanned if s.id not in self.descriptive]
        if inside:
            chosen = next((s for s in inside if level in s.keywords), None) or next(
                (s for s in inside if GROUP_OF.get(level) == s.group), inside[0])
            also = tuple(s.id for s in inside if s is not chosen)
            note = f"spans {', '.join(s.id for s in inside)}" if also else ""
            if level not in chosen.keywords:
                note = "; ".join(filter(None, [note, f"cited as {level}, the statement says "
                                                      f"{'/'.join(chosen.keywords)}"]))
            return Target(chosen.id, self._detail(inside, quote), also=also), note
        if spanned:
            return (Target(None, canonical(quote), number, section, level),
                    f"{spanned[0].id} is descriptive, not a requirement")
        lead = self._lead_in([s for s in statements if located.match.section and s.section == located.match.section.name],
                             lo)
        if lead is not None:
            return Target(lead.id, canonical(quote)), ""
        return Target(None, canonical(quote), number, section, level), "no keyword statement holds the quote"

    @staticmethod
    def _lead_in(statements: list[Statement], offset: int) -> Statement | None:
        """The statement whose list holds ``offset``: the last one before it in the same section,
        if it ends with a colon (no other statement can come between)."""
        before = [s for s in statements if s.end <= offset]
        if before and before[-1].text.rstrip().endswith(":"):
            return before[-1]
        return None

    @staticmethod
    def _detail(cited: list[Statement], quote: str) -> str | None:
        """What of the quote to keep beside the ids: the parts outside the statements' words
        (a list item joined by an ellipsis), or the clause quoted from a long sentence."""
        parts = [p for p in ELLIPSIS.split(canonical(quote)) if p]
        own = " ".join(" ".join(s.text.split()) for s in cited)
        outside = [p for p in parts if p not in own and not any(p in " ".join(s.text.split()) for s in cited)]
        # an enumerator left over ("b.") says nothing; a lead-in ("... as follows:") is context
        pieces = [piece for piece in (_outside(p, cited) for p in outside)
                  if len(re.findall(r"\w", piece)) > 3 and not piece.endswith(":")]
        if pieces:
            return " ... ".join(pieces)
        if len(cited) == 1 and sum(len(p) for p in parts) < 0.6 * len(own):
            return " ... ".join(parts)
        return None

    def plan(self, suite: Path) -> list[Change]:
        changes: list[Change] = []
        for path in sorted(suite.rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            tree = ast.parse(source)
            names = _constants(tree)
            offsets = [0]
            for line in source.splitlines(keepends=True):
                offsets.append(offsets[-1] + len(line))
            for call in _calls(tree):
                start = offsets[call.lineno - 1] + call.col_offset
                end = (offsets[call.end_lineno - 1] + call.end_col_offset
                       if call.end_lineno is not None and call.end_col_offset is not None else start)
                old = source[start:end]
                values = [_value(a, names) for a in call.args[:4]]
                number, section, level, quote = (values + [None] * 4)[:4]
                if not (isinstance(number, int) and isinstance(section, str) and isinstance(level, str)
                        and isinstance(quote, str)):
                    changes.append(Change(path, call.lineno, old, None, "the quote is built at run time", start, end))
                    continue
                try:
                    target, note = self.map(number, section, level, quote)
                except LookupError as e:
                    changes.append(Change(path, call.lineno, old, None, str(e), start, end))
                    continue
                column = start - (source.rfind("\n", 0, start) + 1)
                changes.append(Change(path, call.lineno, old, target.render(column), note, start, end))
        return changes


def _outside(part: str, cited: list[Statement]) -> str:
    """The part without the statements' sentences it runs through (a quote of two sentences,
    one of them a statement, keeps the other)."""
    for s in cited:
        text = " ".join(s.text.split())
        part = part.replace(text, " ").strip() if text in part else part
    return re.sub(r"^[-o*] ", "", " ".join(part.split()))  # a list item's bullet is layout


def apply(changes: list[Change]) -> list[Path]:
    """Write the converted citations; returns the files changed."""
    by_path: dict[Path, list[Change]] = {}
    for c in changes:
        if c.new is not None:
            by_path.setdefault(c.path, []).append(c)
    for path, todo in by_path.items():
        source = path.read_text(encoding="utf-8")
        for c in sorted(todo, key=lambda c: c.start, reverse=True):
            source = source[:c.start] + (c.new or "") + source[c.end:]
        if any((c.new or "").startswith("described(") for c in todo) and "described" not in _imported(source):
            source = _import_described(source)
        path.write_text(source, encoding="utf-8")
    return sorted(by_path)


def _imported(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module in ("harness", "harness.rfc"):
            names.update(a.asname or a.name for a in node.names)
    return names


def _import_described(source: str) -> str:
    """Add ``described`` to the file's ``from harness import ...``."""
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and node.module == "harness" and node.end_lineno is not None:
            lines = source.splitlines(keepends=True)
            names = sorted({a.name for a in node.names} | {"described"}, key=lambda n: (not n.isupper(), n))
            stmt = f"from harness import {', '.join(names)}\n"
            if len(stmt) > WIDTH:
                stmt = "from harness import (\n" + "".join(f"    {n},\n" for n in names) + ")\n"
            return "".join(lines[:node.lineno - 1]) + stmt + "".join(lines[node.end_lineno:])
    return "from harness import described\n" + source
