"""`python -m stack_under_test` rejects bad arguments with one line and exit status 2."""

from __future__ import annotations

import pytest

from stack_under_test.__main__ import main

BASE = ["--tap", "sctest0", "--mac", "02:00:00:00:00:01"]


@pytest.mark.parametrize(("value", "message"), [
    ("198.51.100.2", "is not a MAC address like 02:00:00:00:00:02"),
    ("198.51.100.2=02:00", "is not a MAC address like 02:00:00:00:00:02"),
    ("not-an-address=02:00:00:00:00:02", "is not ADDR=MAC like 198.51.100.2=02:00:00:00:00:02"),
])
def test_bad_neighbor_is_one_line_and_exit_2(value: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*BASE, "--neighbor", value])
    assert info.value.code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in last and value in last


@pytest.mark.parametrize(("args", "message"), [
    (["--tcp-echo", "0"], "--tcp-echo must be a port 1-65535, got 0"),
    (["--udp-echo", "70000"], "--udp-echo must be a port 1-65535, got 70000"),
    (["--link-loss", "1.5"], "--link-loss must be at least 0 and below 1, got 1.5"),
])
def test_bad_service_or_loss_is_one_line_and_exit_2(args: list[str], message: str,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main([*BASE, *args])
    assert info.value.code == 2
    assert message in capsys.readouterr().err.strip().splitlines()[-1]
