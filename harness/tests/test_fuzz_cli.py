"""`stackcheck fuzz`: bad input is one line and exit 2; the target list and durations parse.
(A real campaign spawns pytest processes; bench/bench_fuzz.py and the report in the closing
note exercise that, outside the test budget.)"""

from __future__ import annotations

import pytest

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
    real = fuzz_cli.importlib.util.find_spec
    monkeypatch.setattr(fuzz_cli.importlib.util, "find_spec", lambda name: None if name == "redis" else real(name))
    assert cli.main(["fuzz", "--db", "redis://localhost:6379/0", "--duration", "1s"]) == 2
    assert "pip install 'stackcheck[fuzz]'" in capsys.readouterr().err


def test_atheris_missing_is_one_clear_line(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    real = fuzz_cli.importlib.util.find_spec
    monkeypatch.setattr(fuzz_cli.importlib.util, "find_spec", lambda name: None if name == "atheris" else real(name))
    assert cli.main(["fuzz", "--atheris", "--duration", "1s"]) == 2
    assert "--atheris needs atheris" in capsys.readouterr().err


def test_list_names_every_target(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["fuzz", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in fuzz_cli.TARGETS)


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("10m", 600), ("8h", 28800), ("1.5m", 90)])
def test_durations(text: str, seconds: float) -> None:
    assert fuzz_cli.parse_duration(text) == seconds


def test_every_target_exists() -> None:
    from pathlib import Path

    for node in fuzz_cli.TARGETS.values():
        assert (Path(fuzz_cli.REPO) / node.split("::")[0]).exists(), node
