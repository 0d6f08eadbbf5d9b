"""scripts/import_loops.py finds the loops of a small package, and the stack has none."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def import_loops() -> ModuleType:
    spec = importlib.util.spec_from_file_location("import_loops", ROOT / "scripts" / "import_loops.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def _package(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root / "pkg"


LOOPY = {
    "pkg/__init__.py": "",
    # a -> b at import time; b -> a only when f() first runs: still a loop at run time.
    "pkg/a.py": "from pkg import b\n",
    "pkg/b.py": "def f():\n    from . import a\n    return a\n",
    # c -> d only for the type checker; d -> c at import time.
    "pkg/c.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.sub.d import D\n",
    "pkg/sub/__init__.py": "",
    "pkg/sub/d.py": "from ..c import TYPE_CHECKING\nclass D: ...\n",
    # e imports the package's __init__ names and the standard library: no loop.
    "pkg/e.py": "import os\nfrom pkg import sub\nfrom pkg.sub import d\n",
}


def test_a_deferred_import_closing_a_loop_is_a_runtime_loop(import_loops: ModuleType, tmp_path: Path) -> None:
    lines, count = import_loops.report(_package(tmp_path, LOOPY), typing=False)
    assert count == 1
    assert lines[0] == "runtime import loops (top-level and deferred imports): 1"
    assert lines[1] == "  2 modules: pkg.a, pkg.b"
    assert "    pkg.a -> pkg.b  (line 1, top)" in lines
    assert "    pkg.b -> pkg.a  (line 2, deferred)" in lines


def test_type_checking_loops_are_listed_apart(import_loops: ModuleType, tmp_path: Path) -> None:
    lines, count = import_loops.report(_package(tmp_path, LOOPY), typing=True)
    assert count == 3  # the runtime loop, then it again and c <-> d with TYPE_CHECKING edges
    typing_at = lines.index("import loops counting TYPE_CHECKING imports: 2")
    assert "  2 modules: pkg.c, pkg.sub.d" in lines[typing_at:]
    assert "    pkg.c -> pkg.sub.d  (line 3, typing)" in lines[typing_at:]


def test_a_package_without_loops_prints_none_and_exits_0(
    import_loops: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = _package(tmp_path, {k: v for k, v in LOOPY.items() if k not in ("pkg/b.py", "pkg/c.py")})
    assert import_loops.main([str(package), "--typing"]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "runtime import loops (top-level and deferred imports): none",
        "import loops counting TYPE_CHECKING imports: none",
    ]
    assert import_loops.main([str(_package(tmp_path / "loopy", LOOPY))]) == 1


def test_not_a_package_is_one_line_and_exit_2(
    import_loops: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert import_loops.main([str(tmp_path)]) == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_the_stack_has_no_import_loop_not_even_through_type_checking_imports(import_loops: ModuleType) -> None:
    lines, count = import_loops.report(ROOT / "stack_under_test", typing=True)
    assert count == 0, "\n".join(lines)
