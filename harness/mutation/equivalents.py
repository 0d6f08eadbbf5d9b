"""The reviewed file of equivalent mutants and excluded files (``conformance/mutation-equivalent.toml``).

    [[equivalent]]
    id = "network/ipv6/ndp.py-style mutant id, as the report prints it"
    reason = "why no test can tell this mutant from the original"

    [[equivalent]]                # several mutants with one reason (both changes of one constant)
    ids = ["params:<module>:constant:0591f739", "params:<module>:constant:3c8f9d86"]
    reason = "..."

    [[excluded]]
    path = "stack_under_test/link/tap.py"
    reason = "why no mutant of this file can be observed by the suite"

    [[unobservable]]              # a rule: every mutant of this kind, for the suites named
    operator = "remove-call"      # optional: any operator
    pattern = "\\.stats\\."     # optional: a regular expression searched in the mutated text
    path = "stats\\.py$"          # optional: searched in the file's path from the repository root
    scope = "^NIC\\.counters$"    # optional: searched in the qualified name of the enclosing def
    name = '^OPTION_BOUNDS\\["hop_limit"\\]'  # optional: searched in where a module- or class-level
                                  # change sits in what it binds: the name, then the keys and
                                  # indexes, OPTION_BOUNDS["hop_limit"][1] (never in a function)
    replacement = '^65$'          # optional: searched in the replacement text, for a rule that
                                  # holds for one direction of a change only (64 -> 65, not -> 63)
    suites = ["conformance"]
    reason = "why no test of these suites can observe it"

A rule needs at least one of pattern, path, scope and name (replacement only narrows one); every one it gives must match. A
module-level constant's id counts its occurrence among equal changes in the module, so it shifts
when a constant is added above it; a rule by name keeps matching it.

An equivalent mutant is not run and not counted in the score, but the report lists it with its
reason; an entry or rule that matches no mutant any more is reported as stale, so the file stays
honest.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.mutation.operators import OPERATORS
from harness.mutation.sources import SUITES

FILE_NAME = "mutation-equivalent.toml"


class EquivalentsError(ValueError):
    """The file is malformed: one line for the user."""


@dataclass(frozen=True, slots=True)
class Rule:
    operator: str | None               # None: any operator
    pattern: re.Pattern[str] | None    # on the mutated text
    suites: tuple[str, ...]
    reason: str
    path: re.Pattern[str] | None = None   # on the file's path from the repository root
    scope: re.Pattern[str] | None = None  # on the enclosing def's qualified name
    name: re.Pattern[str] | None = None   # on a module- or class-level change's binding (operators.py)
    replacement: re.Pattern[str] | None = None  # on the replacement text

    def matches(self, suite: str, operator: str, text: str, path: str = "", scope: str = "",
                binding: str = "", replacement: str = "") -> bool:
        return (suite in self.suites and self.operator in (None, operator)
                and all(p is None or p.search(value) is not None
                        for p, value in ((self.pattern, text), (self.path, path), (self.scope, scope),
                                         (self.replacement, replacement)))
                and (self.name is None or (binding != "" and self.name.search(binding) is not None)))

    def describe(self) -> str:
        given = [f"{k} '{p.pattern}'" for k, p in (("path", self.path), ("scope", self.scope),
                                                    ("name", self.name), ("pattern", self.pattern),
                                                    ("replacement", self.replacement)) if p]
        return f"[[unobservable]] {', '.join(given)}"


@dataclass(frozen=True, slots=True)
class Reviewed:
    equivalent: dict[str, str] = field(default_factory=dict)   # mutant id -> reason
    excluded: dict[str, str] = field(default_factory=dict)     # path from the root -> reason
    unobservable: tuple[Rule, ...] = ()

    def reason_for(self, suite: str, mutant_id: str, operator: str, text: str, path: str = "",
                   scope: str = "", binding: str = "", replacement: str = "") -> str | None:
        if mutant_id in self.equivalent:
            return self.equivalent[mutant_id]
        rule = self.rule_for(suite, operator, text, path, scope, binding, replacement)
        return None if rule is None else f"unobservable to the {suite} suite: {rule.reason}"

    def rule_for(self, suite: str, operator: str, text: str, path: str = "", scope: str = "",
                 binding: str = "", replacement: str = "") -> Rule | None:
        for rule in self.unobservable:
            if rule.matches(suite, operator, text, path, scope, binding, replacement):
                return rule
        return None


def load(path: Path) -> Reviewed:
    if not path.exists():
        return Reviewed()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EquivalentsError(f"{path}: {e}") from None
    return Reviewed(_entries(path, data, "equivalent", "id"), _entries(path, data, "excluded", "path"),
                    tuple(_rules(path, data)))


def _rules(path: Path, data: dict[str, Any]) -> list[Rule]:
    rules = []
    for i, entry in enumerate(data.get("unobservable", [])):
        where = f"{path}: [[unobservable]] entry {i + 1}"
        if not isinstance(entry, dict):
            raise EquivalentsError(f"{where} is not a table")
        operator, suites, reason = (entry.get(k) for k in ("operator", "suites", "reason"))
        if operator is not None and operator not in OPERATORS:
            raise EquivalentsError(f"{where}: operator must be one of {', '.join(OPERATORS)}")
        if not isinstance(suites, list) or not suites or not all(s in SUITES for s in suites):
            raise EquivalentsError(f"{where}: suites must list some of {', '.join(SUITES)}")
        if not isinstance(reason, str) or not reason.strip():
            raise EquivalentsError(f"{where} has no reason")
        patterns = {k: _pattern(where, k, entry.get(k)) for k in ("pattern", "path", "scope", "name", "replacement")}
        if all(patterns[k] is None for k in ("pattern", "path", "scope", "name")):
            raise EquivalentsError(f"{where}: give a pattern, a path, a scope or a name")
        rules.append(Rule(operator, patterns["pattern"], tuple(suites), reason.strip(), patterns["path"],
                          patterns["scope"], patterns["name"], patterns["replacement"]))
    return rules


def _pattern(where: str, key: str, value: object) -> re.Pattern[str] | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise EquivalentsError(f"{where}: {key} must be a non-empty regular expression")
    try:
        return re.compile(value)
    except re.error as e:
        raise EquivalentsError(f"{where}: bad {key}: {e}") from None


def _entries(path: Path, data: dict[str, Any], table: str, key: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, entry in enumerate(data.get(table, [])):
        if not isinstance(entry, dict):
            raise EquivalentsError(f"{path}: [[{table}]] entry {i + 1} is not a table")
        names, reason = entry.get(f"{key}s", [entry.get(key)]), entry.get("reason")
        if (not isinstance(names, list) or not names or (f"{key}s" in entry and key in entry)
                or not all(isinstance(n, str) and n for n in names)):
            raise EquivalentsError(f"{path}: [[{table}]] entry {i + 1} has no {key} (or both {key} and {key}s)")
        if not isinstance(reason, str) or not reason.strip():
            raise EquivalentsError(f"{path}: [[{table}]] {names[0]!r} has no reason")
        for name in names:
            if name in found:
                raise EquivalentsError(f"{path}: [[{table}]] {name!r} is listed twice")
            found[name] = reason.strip()
    return found
