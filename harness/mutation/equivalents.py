"""The reviewed file of equivalent mutants and excluded files (``conformance/mutation-equivalent.toml``).

    [[equivalent]]
    id = "network/ipv6/ndp.py-style mutant id, as the report prints it"
    reason = "why no test can tell this mutant from the original"

    [[excluded]]
    path = "stack_under_test/link/tap.py"
    reason = "why no mutant of this file can be observed by the suite"

    [[unobservable]]              # a rule: every mutant of this kind, for the suites named
    operator = "remove-call"
    pattern = "\\.stats\\."     # a regular expression searched in the mutated text
    suites = ["conformance"]
    reason = "why no test of these suites can observe it"

An equivalent mutant is not run and not counted in the score, but the report lists it with its
reason; an entry that matches no mutant any more is reported as stale, so the file stays honest.
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
    operator: str
    pattern: re.Pattern[str]
    suites: tuple[str, ...]
    reason: str

    def matches(self, suite: str, operator: str, text: str) -> bool:
        return suite in self.suites and operator == self.operator and self.pattern.search(text) is not None


@dataclass(frozen=True, slots=True)
class Reviewed:
    equivalent: dict[str, str] = field(default_factory=dict)   # mutant id -> reason
    excluded: dict[str, str] = field(default_factory=dict)     # path from the root -> reason
    unobservable: tuple[Rule, ...] = ()

    def reason_for(self, suite: str, mutant_id: str, operator: str, text: str) -> str | None:
        if mutant_id in self.equivalent:
            return self.equivalent[mutant_id]
        for rule in self.unobservable:
            if rule.matches(suite, operator, text):
                return f"unobservable to the {suite} suite: {rule.reason}"
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
        operator, pattern, suites, reason = (entry.get(k) for k in ("operator", "pattern", "suites", "reason"))
        if operator not in OPERATORS:
            raise EquivalentsError(f"{where}: operator must be one of {', '.join(OPERATORS)}")
        if not isinstance(suites, list) or not suites or not all(s in SUITES for s in suites):
            raise EquivalentsError(f"{where}: suites must list some of {', '.join(SUITES)}")
        if not isinstance(reason, str) or not reason.strip():
            raise EquivalentsError(f"{where} has no reason")
        try:
            compiled = re.compile(str(pattern))
        except re.error as e:
            raise EquivalentsError(f"{where}: bad pattern: {e}") from None
        rules.append(Rule(operator, compiled, tuple(suites), reason.strip()))
    return rules


def _entries(path: Path, data: dict[str, Any], table: str, key: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for i, entry in enumerate(data.get(table, [])):
        if not isinstance(entry, dict):
            raise EquivalentsError(f"{path}: [[{table}]] entry {i + 1} is not a table")
        name, reason = entry.get(key), entry.get("reason")
        if not isinstance(name, str) or not name:
            raise EquivalentsError(f"{path}: [[{table}]] entry {i + 1} has no {key}")
        if not isinstance(reason, str) or not reason.strip():
            raise EquivalentsError(f"{path}: [[{table}]] {name!r} has no reason")
        if name in found:
            raise EquivalentsError(f"{path}: [[{table}]] {name!r} is listed twice")
        found[name] = reason.strip()
    return found
