"""The product code under mutation and the suites that can be run against it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal

Suite = Literal["conformance", "unit"]
SUITES: Final[tuple[Suite, ...]] = ("conformance", "unit")
PACKAGE: Final = "stack_under_test"
TESTS_DIR: Final = "tests"
# Files of the package that are test support, not the stack: never mutated, listed in the report.
SUPPORT_FILES: Final = {
    f"{PACKAGE}/testing.py": "the white-box bench the unit tests, the fuzz target and the benchmarks build the "
                             "stack with; test support, not the stack (the conformance suite never runs it)",
}


def repository_root() -> Path:
    """The source checkout holding harness/ (stackcheck is installed editable from it)."""
    return Path(__file__).resolve().parents[2]


def suite_dir(root: Path, suite: Suite) -> Path:
    return root / "conformance" if suite == "conformance" else root / PACKAGE / TESTS_DIR


@dataclass(frozen=True, slots=True)
class SourceFile:
    path: Path      # absolute
    relpath: str    # posix, from the repository root
    module: str     # dotted
    text: str

    @property
    def below_package(self) -> str:
        return self.relpath.removeprefix(f"{PACKAGE}/")

    @property
    def digest(self) -> str:
        return digest(self.text)


def digest(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.sha256(data).hexdigest()[:16]


def module_name(root: Path, path: Path) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def product_files(root: Path, excluded: set[str]) -> list[SourceFile]:
    """Every .py file of the stack outside its white-box tests, its test support (SUPPORT_FILES)
    and the ``excluded`` paths."""
    found = []
    for path in sorted((root / PACKAGE).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if TESTS_DIR in path.relative_to(root / PACKAGE).parts[:-1] or rel in excluded or rel in SUPPORT_FILES:
            continue
        found.append(SourceFile(path, rel, module_name(root, path), path.read_text(encoding="utf-8")))
    return found
