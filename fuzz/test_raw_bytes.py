"""Raw bytes into the whole stack, as fast as Hypothesis can generate them.

One stack serves many examples (a fresh one costs ~1 ms, ~30x a frame): the checks are deltas
(exactly one verdict counted per frame) plus the whole-stack invariants, so they hold on a stack
with history too, and the history is itself a test (caches fill, queues age). The property for
one input, ``one_raw_input``, lives in fuzz/target.py with the shared stack; the throughput bench
(bench/bench_fuzz.py) and Atheris (fuzz/atheris_main.py) run it too.
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from fuzz.profiles import budget
from fuzz.target import one_raw_input


@budget(500)
@given(data=st.binary(max_size=1500))
def test_raw_bytes_into_the_whole_stack(data: bytes) -> None:
    one_raw_input(data)


@budget(300)
@given(data=st.binary(min_size=14, max_size=1500))
def test_raw_bytes_with_checksum_fixup(data: bytes) -> None:
    one_raw_input(data, fixup=True)
