"""Every silence needs a witness: a conformance test that proves silence must also show the
DUT answering.

A test that asserts the DUT sends nothing (``expect_none``, or a ``udp_recv`` that returns
nothing) passes against a DUT that is dead, misconfigured or dropping the stimulus for an
unrelated reason. So such a test must also make a positive observation in the same run: an
``expect`` that matched a frame, or a ``udp_recv`` that returned data. The plugin wraps the
``dut`` of every conformance test in ``WitnessedDUT``, which counts both, and fails a test that
passed with silences and no witness, unless it carries ``@pytest.mark.silence_ok("reason")``
where silence really is all the requirement says.

Why at run time rather than as a lint over the test sources: the observations a test makes go
through helpers (``harness.frames``), loops and parametrized branches a lint cannot follow, and
an ``expect`` in the source proves nothing if it is not reached on this parameter set; counting
the calls that actually succeeded holds every backend to the same rule.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import pytest

MARKER: Final = "silence_ok"
MARKER_HELP: Final = ("silence_ok(reason): the test proves silence with no positive control, because "
                      "silence is all the requirement says; the reason says why")


@dataclass(slots=True)
class Ledger:
    silences: int = 0     # expect_none calls that passed, udp_recv calls that returned nothing
    witnesses: int = 0    # expect calls that matched, udp_recv calls that returned data


class WitnessedDUT:
    """The DUT, forwarded verb for verb; notes what the test saw and what it did not."""

    def __init__(self, dut: Any, ledger: Ledger) -> None:
        self._dut = dut
        self._ledger = ledger

    def __getattr__(self, name: str) -> Any:
        return getattr(self._dut, name)

    def expect(self, *layers: Any, **kwargs: Any) -> Any:
        frame = self._dut.expect(*layers, **kwargs)
        self._ledger.witnesses += 1
        return frame

    def expect_none(self, *layers: Any, **kwargs: Any) -> None:
        self._dut.expect_none(*layers, **kwargs)
        self._ledger.silences += 1

    def udp_recv(self, *args: Any, **kwargs: Any) -> Any:
        got = self._dut.udp_recv(*args, **kwargs)
        if got is None:
            self._ledger.silences += 1
        else:
            self._ledger.witnesses += 1
        return got


def problem(item: pytest.Item, ledger: Ledger | None) -> str | None:
    """Why this passed test breaks the rule, or None."""
    marker = item.get_closest_marker(MARKER)
    if marker is not None:
        reason = marker.args[0] if marker.args else marker.kwargs.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            return f"@pytest.mark.{MARKER} needs a reason: why silence is all this requirement says"
        return None
    if ledger is None or ledger.silences == 0 or ledger.witnesses > 0:
        return None
    return (f"silence without a witness: this test proves silence ({ledger.silences} time(s): expect_none, "
            "or udp_recv returning nothing) but never shows the DUT answering (no expect matched, no "
            "udp_recv returned data), so a DUT that drops everything passes it. Add a positive control "
            f"(the same stimulus made valid draws the answer), or mark it @pytest.mark.{MARKER}(\"reason\") "
            "where silence is all the requirement says")
