"""The statements extracted from an RFC, kept on disk between processes.

Extracting one RFC's statements normalises its whole text: about a second of CPU for the 47
RFCs carried, paid again by every process that reads a citation (each pytest-xdist worker
collecting the suite, each catalog or report command). The result depends only on the RFC's
text, the extraction rule for it and the extraction code, so it is stored under a key made of
all three and read back by any later process. A cache that cannot be read or written is
simply not used: the statements are extracted again.

The directory is ``$STACKCHECK_CACHE`` or ``$XDG_CACHE_HOME/stackcheck`` (``~/.cache/stackcheck``).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Final

from reports.rfcs.policy import Policy
from reports.rfcs.statements import Statement

# The modules whose code decides what is extracted: a change to any of them is a new key.
_CODE: Final = tuple(Path(__file__).with_name(name) for name in ("text.py", "statements.py", "policy.py"))
_code_digest: str | None = None


def directory() -> Path:
    explicit = os.environ.get("STACKCHECK_CACHE")
    if explicit:
        return Path(explicit) / "statements"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "stackcheck" / "statements"


def _code() -> str:
    global _code_digest
    if _code_digest is None:
        digest = hashlib.sha256()
        for path in _CODE:
            digest.update(path.read_bytes())
        _code_digest = digest.hexdigest()
    return _code_digest


def key(number: int, text: bytes, policy: Policy) -> str:
    digest = hashlib.sha256(text)
    digest.update(repr((number, policy.rule(number), policy.boilerplate)).encode())
    digest.update(_code().encode())
    return digest.hexdigest()


def cached(number: int, text_path: Path, policy: Policy, compute: Callable[[], list[Statement]]) -> list[Statement]:
    """The statements of RFC ``number`` from the cache, else from ``compute()`` (then stored)."""
    try:
        path = directory() / f"rfc{number}-{key(number, text_path.read_bytes(), policy)}.json"
    except OSError:
        return compute()
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        return [Statement(rfc=r["rfc"], section=r["section"], n=r["n"], keywords=tuple(r["keywords"]),
                          text=r["text"], start=r["start"], end=r["end"]) for r in rows]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    statements = compute()
    _store(path, [{"rfc": s.rfc, "section": s.section, "n": s.n, "keywords": list(s.keywords), "text": s.text,
                   "start": s.start, "end": s.end} for s in statements])
    return statements


def _store(path: Path, rows: list[dict[str, object]]) -> None:
    # Written aside and renamed: workers extracting the same RFC at once never read half a file.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=path.parent, delete=False,
                                         prefix=path.name, suffix=".tmp") as out:
            json.dump(rows, out)
        os.replace(out.name, path)
    except OSError:
        pass
