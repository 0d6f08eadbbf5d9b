"""``stackcheck catalog sync``: an entry for every statement the catalog lacks, proposed by rules.

conformance/requirements/rules.toml proposes a role and a status for a statement by its RFC,
its section and the words it uses; the first rule that sets a field sets it::

    [[rule]]
    rfc = [1122]
    sections = ["4.2"]                  # the section and its subsections
    text = "(?i)\\\\bTCP\\\\b"              # a regular expression searched in the statement
    role = "host"                       # and any of: scope, untested + needs, note
    scope = "tcp"

A proposal is where a reviewer starts: sync writes it, a person reads the statement and
corrects the entry, and sync never touches an entry that exists. Entries whose statement is
gone (the RFC text or the extractor changed) are listed, and removed only with ``prune``.
"""

from __future__ import annotations

import json
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from reports.catalog import Catalog, CatalogError, digest
from reports.rfcs.statements import Statement

FIELDS: Final = ("role", "scope", "untested", "needs", "note")


@dataclass(frozen=True)
class Rule:
    rfcs: tuple[int, ...]
    sections: tuple[str, ...]
    text: re.Pattern[str] | None
    fields: dict[str, str]

    def matches(self, s: Statement) -> bool:
        if self.rfcs and s.rfc not in self.rfcs:
            return False
        if self.sections and not any(s.section == x or s.section.startswith(x + ".") for x in self.sections):
            return False
        return self.text is None or self.text.search(" ".join(s.text.split())) is not None


def load_rules(path: Path) -> list[Rule]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise CatalogError(f"{path}: cannot read the proposal rules: {e}") from None
    rules = []
    for n, raw in enumerate(data.get("rule", []), 1):
        where = f"{path}: rule #{n}"
        if not isinstance(raw, dict) or set(raw) - {"rfc", "sections", "text", *FIELDS}:
            raise CatalogError(f"{where}: keys are rfc, sections, text, {', '.join(FIELDS)}")
        try:
            pattern = re.compile(raw["text"]) if "text" in raw else None
        except re.error as e:
            raise CatalogError(f"{where}: text is not a regular expression: {e}") from None
        rules.append(Rule(tuple(raw.get("rfc", ())), tuple(raw.get("sections", ())), pattern,
                          {k: str(raw[k]) for k in FIELDS if k in raw}))
    return rules


def propose(s: Statement, rules: list[Rule], tested: bool) -> dict[str, str]:
    """The fields the first matching rules give the statement (no reason when it is tested)."""
    fields: dict[str, str] = {}
    for rule in rules:
        if rule.matches(s):
            for key, value in rule.fields.items():
                fields.setdefault(key, value)
    fields.setdefault("role", "both")
    if tested:  # a cited statement is in scope and needs no reason
        for key in ("scope", "untested", "needs"):
            fields.pop(key, None)
    if fields["role"] == "router" and "scope" not in fields:
        fields.pop("untested", None)
        fields.pop("needs", None)
    if "scope" in fields:
        fields.pop("untested", None)
        fields.pop("needs", None)
    elif "untested" in fields:
        fields.setdefault("needs", "a conformance test of this statement")
    return fields


def render(s: Statement, fields: dict[str, Any]) -> str:
    """One ``[[statement]]`` table."""
    lines = ["[[statement]]", f"id = {json.dumps(s.id)}", f"digest = {json.dumps(digest(s.text))}"]
    lines += [f"{key} = {json.dumps(fields[key], ensure_ascii=False)}" for key in FIELDS if fields.get(key)]
    return "\n".join(lines) + "\n"


def write(path: Path, number: int, title: str, blocks: list[str]) -> None:
    head = f"rfc = {number}\ntitle = {json.dumps(title, ensure_ascii=False)}\n"
    path.write_text(head + "".join("\n" + b for b in blocks), encoding="utf-8")


def sync(catalog: Catalog, directory: Path, rules: list[Rule], tested: set[str],
         numbers: list[int], titles: dict[int, str], prune: bool = False) -> tuple[int, list[str]]:
    """Append proposed entries for the statements of ``numbers`` the catalog lacks (a file per
    RFC, created if missing); returns (how many were added, the ids of entries without a
    statement, which ``prune`` removes)."""
    added = 0
    orphans: list[str] = []
    for number in numbers:
        path = directory / f"rfc{number}.toml"
        statements = catalog.index.of_rfc(number)
        ids = {s.id for s in statements}
        stale = [e for e in catalog.entries.values() if e.rfc == number and e.id not in ids]
        orphans += [e.id for e in stale]
        new = [render(s, propose(s, rules, s.id in tested)) for s in statements if s.id not in catalog.entries]
        if not path.exists():
            write(path, number, titles.get(number, catalog.titles.get(number, "")), new)
        elif new:
            with path.open("a", encoding="utf-8") as f:
                f.write("".join("\n" + b for b in new))
        if prune and stale:
            _prune(path, {e.id for e in stale})
        added += len(new)
    return added, orphans


def _prune(path: Path, ids: set[str]) -> None:
    text = path.read_text(encoding="utf-8")
    head, *tables = re.split(r"\n(?=\[\[statement\]\]\n)", text)
    kept = [t for t in tables if not any(f'id = "{i}"' in t.split("\n", 2)[1] for i in ids)]
    path.write_text("\n".join([head, *kept]), encoding="utf-8")
