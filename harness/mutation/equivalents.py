"""The reviewed file of equivalent mutants and excluded files (``conformance/mutation-equivalent.toml``).

    [[equivalent]]
    id = "network/ipv6/ndp.py-style mutant id, as the report prints it"
    reason = "why no test can tell this mutant from the original"

    [[excluded]]
    path = "stack_under_test/link/tap.py"
    reason = "why no mutant of this file can be observed by the suite"

An equivalent mutant is not run and not counted in the score, but the report lists it with its
reason; an entry that matches no mutant any more is reported as stale, so the file stays honest.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILE_NAME = "mutation-equivalent.toml"


class EquivalentsError(ValueError):
    """The file is malformed: one line for the user."""


@dataclass(frozen=True, slots=True)
class Reviewed:
    equivalent: dict[str, str] = field(default_factory=dict)   # mutant id -> reason
    excluded: dict[str, str] = field(default_factory=dict)     # path from the root -> reason


def load(path: Path) -> Reviewed:
    if not path.exists():
        return Reviewed()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise EquivalentsError(f"{path}: {e}") from None
    return Reviewed(_entries(path, data, "equivalent", "id"), _entries(path, data, "excluded", "path"))


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
