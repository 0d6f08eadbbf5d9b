"""`stackcheck fuzz`: bad input is one line and exit 2; the target list and durations parse.
(A real campaign spawns pytest processes; bench/bench_fuzz.py and the report in the closing
note exercise that, outside the test budget.)"""

from __future__ import annotations

import importlib
import importlib.util

import pytest

from fuzz.campaign import TARGETS
from harness.cli import fuzz as fuzz_cli
from harness.cli import main as cli


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["fuzz", "--duration", "5x"], "--duration: expected a positive time"),
        (["fuzz", "--duration", "0"], "--duration: expected a positive time"),
        (["fuzz", "--workers", "0"], "--workers: expected a positive number"),
        (["fuzz", "--target", "nope"], "--target: unknown nope"),
        (["fuzz", "--bogus"], "unrecognized arguments"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(argv: list[str], message: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert message in err
    assert len(err.strip().splitlines()) == 1


def test_redis_database_without_the_package_is_a_usage_error(monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "redis" else real(name))
    assert cli.main(["fuzz", "--db", "redis://localhost:6379/0", "--duration", "1s"]) == 2
    assert "pip install 'stackcheck[fuzz]'" in capsys.readouterr().err


def test_atheris_missing_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None if name == "atheris" else real(name))
    assert cli.main(["fuzz", "--atheris", "--duration", "1s"]) == 2
    assert "--atheris needs atheris" in capsys.readouterr().err


def test_list_names_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fuzz", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(f"{name} " in out and target.node_id in out for name, target in TARGETS.items())


def test_atheris_list_leaves_out_the_targets_without_an_atheris_mode(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fuzz", "--atheris", "--list"]) == 0
    listed = {line.split()[0] for line in capsys.readouterr().out.splitlines()}
    assert listed == {name for name, target in TARGETS.items() if target.atheris is not None}
    assert "reassembly" not in listed


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("8h", 28800), ("1.5m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert fuzz_cli.parse_duration(text) == seconds


def test_every_target_names_a_test_that_exists() -> None:
    for name, target in TARGETS.items():
        assert (fuzz_cli.REPO / target.path).exists(), name
        test = getattr(importlib.import_module(target.module), target.test)
        if target.atheris == "hypothesis":  # fuzz/atheris_main.py drives it through this hook
            assert callable(test.hypothesis.fuzz_one_input), name
