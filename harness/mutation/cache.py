"""Results of earlier runs, so a re-run only re-tests mutants of changed code or changed tests.

A mutant's result is keyed by its mutated file's hash, the mutant (id and exact change), the
suite, and the tests selected for it, each with a hash of its file, of the stack files it runs
(from the coverage map), of the harness and of the suite's conftest files (run.py); the
coverage map is keyed by the hashes of every product, suite and harness file. One JSON file per
suite under ``.cache/mutation/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Final

VERSION: Final = 6  # bump when the operators, the coverage map or the result format change


def mutant_key(suite: str, file_digest: str, mutant_id: str, change: str, tests: list[tuple[str, str]]) -> str:
    h = hashlib.sha256(f"{VERSION}\0{suite}\0{file_digest}\0{mutant_id}\0{change}".encode())
    for nodeid, digest in tests:
        h.update(f"\0{nodeid}\0{digest}".encode())
    return h.hexdigest()[:32]


class ResultCache:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if data.get("version") == VERSION:
                    self.entries = data["results"]
            except (OSError, ValueError, KeyError):
                self.entries = {}  # a damaged cache is only a slower run
        self.used: set[str] = set()

    def get(self, key: str) -> dict[str, Any] | None:
        found = self.entries.get(key)
        if found is not None:
            self.used.add(key)
        return found

    def put(self, key: str, result: dict[str, Any]) -> None:
        self.entries[key] = result
        self.used.add(key)

    def save(self, *, prune: bool = True) -> None:
        """With ``prune``, keep only what this run used: results of code that no longer exists
        go (a partial run, which did not look at every mutant, keeps everything)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        kept = {k: v for k, v in self.entries.items() if k in self.used or not prune}
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": VERSION, "results": kept}), encoding="utf-8")
        tmp.replace(self.path)
