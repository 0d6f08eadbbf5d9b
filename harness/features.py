"""Optional features and protocol versions: the DUT's profile, and how the tests of them run.

Where an RFC makes a feature optional (RFC 1122 §3.2.1.8: "Implementation of originating and
processing the Record Route option is OPTIONAL"), leaves a choice (echo to a broadcast address
"MAY be silently discarded", RFC 1122 §3.2.2.6), or binds only routers (RFC 1812), a DUT
declares what it implements in ``DUT.features``, named from ``harness.control.protocol.FEATURES``
(the control protocol's ``hello`` carries the same names). A test of such a feature says so::

    @optional_feature("ipv4-record-route")
    @rfc(1122, "3.2.2.6", SHOULD, "If a Record Route ... option is received in an ICMP Echo Request ...")
    def test_echo_reply_carries_record_route_with_the_dut_address(dut: DUT) -> None: ...

and runs only on DUTs that declare it. On the others it is reported "not implemented
(optional)" — its own verdict, never a failure — and what the RFCs require of a node *without*
the feature (the option silently ignored) is checked by tests that run on every DUT.

A protocol version is declared the same way ("mldv1", "mldv2", "igmpv1"...). A version the RFCs
require is not optional: MLDv2 (RFC 8504 §5.11, "Nodes that need to join multicast groups MUST
support MLDv2") is judged once, by the test of that requirement, and the tests of MLDv2's details
are reported "not implemented" on a DUT without it, pointing there; the version the DUT does
speak is tested by its own RFC.
"""

from __future__ import annotations

from typing import Any, Final

import pytest

from harness.control.protocol import FEATURES
from harness.dut import DUT, FeatureAbsent

__all__ = ["FEATURES", "FeatureAbsent", "has_feature", "missing_feature", "optional_feature", "require_feature"]

MARKER: Final = "optional_feature"

# Features the RFCs do not leave optional: their absence is one failure of the requirement
# named here, so the tests of their details say where that verdict is instead of failing too.
REQUIRED_BY: Final[dict[str, str]] = {
    "mldv2": "RFC 8504 §5.11 requires MLDv2 of every node that joins multicast groups; that one requirement "
             "is judged by ipv6/test_rfc8504_node_requirements.py",
    "route-information": "RFC 8504 §5.9 requires RFC 4191 of every IPv6 node (\"IPv6 nodes MUST implement "
                         "[RFC4191]\"); that one requirement is judged by ipv6/test_rfc8504_node_requirements.py",
}


def optional_feature(*names: str, any_of: bool = False) -> pytest.MarkDecorator:
    """Mark a test as a test of optional ``names``: it runs only on a DUT declaring all of them
    (with ``any_of=True``: at least one). Unknown names fail at import time."""
    if not names:
        raise TypeError("@optional_feature needs at least one feature name")
    unknown = [n for n in names if n not in FEATURES]
    if unknown:
        raise ValueError(f"@optional_feature: unknown feature {unknown[0]!r} (known: {', '.join(FEATURES)})")
    return pytest.mark.optional_feature(names=tuple(names), any_of=any_of)


def has_feature(dut: DUT, name: str) -> bool:
    if name not in FEATURES:
        raise ValueError(f"unknown feature {name!r} (known: {', '.join(FEATURES)})")
    # A DUT object written before profiles existed declares nothing: no optional feature.
    return name in getattr(dut, "features", frozenset())


def _absent(names: tuple[str, ...], *, any_of: bool = False) -> FeatureAbsent:
    shown = " or ".join(names) if any_of else ", ".join(names)
    what = "; ".join(f"{n}: {FEATURES[n]}" for n in names)
    required = [REQUIRED_BY[n] for n in names if n in REQUIRED_BY]
    if required:
        return FeatureAbsent(names, f"not implemented: the DUT does not declare {shown} ({what}); "
                                    + " ".join(required))
    return FeatureAbsent(names, f"not implemented (optional): the DUT does not declare {shown} ({what})")


def require_feature(dut: DUT, *names: str, any_of: bool = False) -> None:
    """Raise FeatureAbsent (the test is reported "not implemented") unless the DUT declares
    ``names`` (all of them, or one with ``any_of``). For tests that find out mid-way."""
    found = [has_feature(dut, n) for n in names]
    if not (any(found) if any_of else all(found)):
        raise _absent(names, any_of=any_of)


def missing_feature(item: Any, dut: DUT) -> FeatureAbsent | None:
    """The FeatureAbsent a test item's ``optional_feature`` markers call for on ``dut``, or None."""
    for marker in item.iter_markers(MARKER):
        names = tuple(marker.kwargs.get("names", marker.args))
        any_of = bool(marker.kwargs.get("any_of", False))
        try:
            require_feature(dut, *names, any_of=any_of)
        except FeatureAbsent as absent:
            return absent
    return None


def become_router(dut: DUT, family: int) -> None:
    """Switch IPv``family`` forwarding on for a test of router behaviour: "not implemented" on a
    DUT that does not declare ``ipv4-forwarding``/``ipv6-forwarding`` (a host need not forward)."""
    require_feature(dut, f"ipv{family}-forwarding")
    dut.set_forwarding(4 if family == 4 else 6, True)
