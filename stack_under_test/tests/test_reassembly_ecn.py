"""RFC 3168 5.3: the ECN codepoint of a reassembled datagram from its fragments' codepoints."""

from __future__ import annotations

import pytest

from stack_under_test.network.fragmentation import reassembled_ecn

NOT_ECT, ECT1, ECT0, CE = 0, 1, 2, 3


def seen(*codepoints: int) -> int:
    mask = 0
    for c in codepoints:
        mask |= 1 << c
    return mask


@pytest.mark.parametrize("codepoint", [NOT_ECT, ECT1, ECT0, CE])
def test_one_codepoint_throughout_is_kept(codepoint: int) -> None:
    assert reassembled_ecn(seen(codepoint), codepoint) == codepoint


@pytest.mark.parametrize("others", [(ECT0,), (ECT1,), (ECT0, ECT1)])
def test_ce_beside_ect_marks_the_datagram_ce(others: tuple[int, ...]) -> None:
    assert reassembled_ecn(seen(CE, *others), others[0]) == CE


@pytest.mark.parametrize("others", [(CE,), (ECT0,), (ECT1,), (CE, ECT0)])
def test_not_ect_beside_anything_else_drops_the_datagram(others: tuple[int, ...]) -> None:
    assert reassembled_ecn(seen(NOT_ECT, *others), NOT_ECT) is None


def test_ect0_and_ect1_keep_the_first_fragments() -> None:
    assert reassembled_ecn(seen(ECT0, ECT1), ECT1) == ECT1
