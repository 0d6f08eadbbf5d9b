"""The tap backend's clock rate: its default, a --dut-config override, and a bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.backends import get
from harness.backends.tap import CLOCK_RATE, clock_rate


def test_default_and_configured_rates(tmp_path: Path) -> None:
    assert clock_rate(None) == CLOCK_RATE
    config = tmp_path / "tap.toml"
    config.write_text("clock_rate = 2\n")
    assert clock_rate(config) == 2.0
    assert get("tap").identity(config)["clock"] == "2 x real time"
    config.write_text("")
    assert clock_rate(config) == CLOCK_RATE
    assert get("tap").identity(None)["clock"] == ("real time" if CLOCK_RATE == 1 else f"{CLOCK_RATE:g} x real time")


@pytest.mark.parametrize("value", ["0.5", "9", "true", '"fast"'])
def test_a_bad_rate_is_one_line_naming_the_file(tmp_path: Path, value: str) -> None:
    config = tmp_path / "tap.toml"
    config.write_text(f"clock_rate = {value}\n")
    with pytest.raises(ValueError) as caught:
        clock_rate(config)
    assert str(config) in str(caught.value) and "\n" not in str(caught.value)
    assert get("tap").check_available(config) == str(caught.value)
