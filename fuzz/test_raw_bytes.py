"""Raw bytes into the whole stack, as fast as Hypothesis can generate them: the throughput
target (bench/bench_fuzz.py) and the input Atheris mutates (fuzz/atheris_main.py).

One stack serves many examples (a fresh one costs ~1 ms, ~30x a frame): the checks are deltas
(exactly one verdict counted per frame) plus the whole-stack invariants, so they hold on a stack
with history too, and the history is itself a test (caches fill, queues age). It is rebuilt
every REBUILD_EVERY frames so memory of old examples stays bounded.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import budget
from fuzz.strategies.mutate import fix_checksums
from fuzz.target import DUT_MAC, FuzzStack

REBUILD_EVERY = 2_000
_shared: list[FuzzStack] = []
_frames = [0]


def shared_stack() -> FuzzStack:
    if not _shared or _frames[0] >= REBUILD_EVERY:
        _shared[:] = [FuzzStack.fresh()]
        _frames[0] = 0
    _frames[0] += 1
    return _shared[0]


def one_raw_input(data: bytes, fixup: bool = False) -> None:
    """The property for one input. ``fixup`` repairs its checksums first and, for three inputs in
    four, addresses the frame to the DUT's MAC, so mutation reaches past the link layer."""
    fs = shared_stack()
    if fixup:
        if data and data[0] < 0xC0:
            data = DUT_MAC + data[6:]
        data = fix_checksums(data)
    fs.inject(data)
    fs.emitted.clear()
    if _frames[0] % 64 == 0:
        fs.advance(1_000)
        fs.check_invariants()


@budget(500)
@given(data=st.binary(max_size=1500))
def test_raw_bytes_into_the_whole_stack(data: bytes) -> None:
    one_raw_input(data)


@budget(300)
@given(data=st.binary(min_size=14, max_size=1500))
def test_raw_bytes_with_checksum_fixup(data: bytes) -> None:
    one_raw_input(data, fixup=True)
