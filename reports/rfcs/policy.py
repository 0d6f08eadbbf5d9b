"""The extraction decisions of conformance/requirements/extraction.toml, read and checked.

For each RFC: whether its requirement keywords are the upper-case BCP 14 ones or lower-case
"must/should/may", and why; which sections and which labelled notes carry no requirements,
and why. For all RFCs: the boilerplate sections (by heading title) that carry none.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reports.rfcs.text import Section


class PolicyError(ValueError):
    """extraction.toml is malformed or lacks an RFC; one line naming the problem."""


@dataclass(frozen=True)
class Skip:
    sections: tuple[str, ...]
    why: str


@dataclass(frozen=True)
class Rule:
    rfc: int
    upper: bool  # BCP 14 keywords in capitals; else lower-case must/should/may
    why: str
    skip: tuple[Skip, ...] = ()
    skip_labels: tuple[str, ...] = ()  # notes such as "DISCUSSION" that are not requirements
    labels_why: str = ""


@dataclass(frozen=True)
class Policy:
    rules: dict[int, Rule]
    boilerplate: tuple[str, ...]  # heading titles, lower case; "*references" ends with it
    boilerplate_why: str

    def rule(self, rfc: int) -> Rule:
        try:
            return self.rules[rfc]
        except KeyError:
            raise PolicyError(f"extraction.toml has no decision for RFC {rfc}") from None

    def skips(self, rfc: int, section: Section) -> bool:
        """Does ``section`` itself (not counting its parents) carry no statements?"""
        title = " ".join(section.title.lower().split()).rstrip(":.")
        if any(title == b or (b.startswith("*") and title.endswith(b[1:])) for b in self.boilerplate):
            return True
        return any(section.name in s.sections for s in self.rule(rfc).skip)


def _str(where: str, raw: Any, key: str) -> str:
    value = raw.get(key) if isinstance(raw, dict) else None
    if not isinstance(value, str) or not value.strip():
        raise PolicyError(f"{where}: {key!r} must be a non-empty string")
    return value


def load(path: Path) -> Policy:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise PolicyError(f"{path}: cannot read the extraction policy: {e}") from None
    boiler = data.get("boilerplate", {})
    titles = boiler.get("titles") if isinstance(boiler, dict) else None
    if not isinstance(titles, list) or not all(isinstance(t, str) for t in titles):
        raise PolicyError(f"{path}: [boilerplate] needs titles = [...] (strings)")
    rules: dict[int, Rule] = {}
    for key, raw in (data.get("rfc") or {}).items():
        where = f"{path}: [rfc.{key}]"
        if not re.fullmatch(r"\d+", key) or not isinstance(raw, dict):
            raise PolicyError(f"{where}: expected a table keyed by the RFC number")
        style = _str(where, raw, "keywords")
        if style not in ("upper", "lower"):
            raise PolicyError(f"{where}: keywords must be 'upper' or 'lower', got {style!r}")
        skips = []
        for n, s in enumerate(raw.get("skip", []), 1):
            sections = s.get("sections") if isinstance(s, dict) else None
            if not isinstance(sections, list) or not all(isinstance(x, str) for x in sections):
                raise PolicyError(f"{where} skip #{n}: sections must be a list of section names")
            skips.append(Skip(tuple(sections), _str(f"{where} skip #{n}", s, "why")))
        labels = raw.get("skip_labels", [])
        if not isinstance(labels, list) or not all(isinstance(x, str) for x in labels):
            raise PolicyError(f"{where}: skip_labels must be a list of strings")
        rules[int(key)] = Rule(int(key), style == "upper", _str(where, raw, "why"), tuple(skips), tuple(labels),
                               _str(where, raw, "labels_why") if labels else "")
    return Policy(rules, tuple(" ".join(t.lower().split()) for t in titles), _str(f"{path}: [boilerplate]", boiler,
                                                                                   "why"))
