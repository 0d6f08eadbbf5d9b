"""What conformance tests import: the DUT protocol, the @rfc and @described citations, and frame helpers.

    from harness import DUT, MUST, echo6, fragments6, rfc

Backends live in ``harness.backends`` and are chosen by the pytest plugin (``--dut``); tests
never import them.
"""
# Names are imported when first used (PEP 562): a process that needs one submodule only, such as
# the tap backend's stack agent, which runs our stack and never crafts a frame, does not pay for
# Scapy (about 0.3 s of CPU for each of -n's agents, all starting at once).

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

# Eager: the submodule harness.rfc would otherwise shadow the decorator of the same name.
from harness.rfc import MAY, MUST, MUST_NOT, SHOULD, SHOULD_NOT, Level, Requirement, described, rfc

if TYPE_CHECKING:
    from harness.dut import (
        DUT,
        AddressInfo,
        ExpectationFailed,
        ICMPReport,
        IPv6Option,
        LinkInfo,
        TCPConn,
        TCPError,
        TCPErrorKind,
        TCPOption,
        TCPState,
        UDPDatagram,
        Unsupported,
    )
    from harness.frames import (
        bad_checksum,
        eui64_address,
        eui64_interface_id,
        fragments4,
        fragments6,
        icmp_quote,
        l3_bytes,
        multicast_mac,
        quotes,
        short_icmpv6,
        solicited_node,
        with_icmpv6_checksum,
        with_ipv4_options,
    )
    from harness.icmp import (
        echo4,
        echo6,
        echo_data4,
        echo_request_from,
        expect_echo_reply6,
        expect_echo_reply_to,
        expect_param_problem,
    )

_HOME: Final = {
    "DUT": "harness.dut",
    "AddressInfo": "harness.dut",
    "ExpectationFailed": "harness.dut",
    "ICMPReport": "harness.dut",
    "IPv6Option": "harness.dut",
    "LinkInfo": "harness.dut",
    "TCPConn": "harness.dut",
    "TCPError": "harness.dut",
    "TCPErrorKind": "harness.dut",
    "TCPOption": "harness.dut",
    "TCPState": "harness.dut",
    "UDPDatagram": "harness.dut",
    "Unsupported": "harness.dut",
    "bad_checksum": "harness.frames",
    "eui64_address": "harness.frames",
    "eui64_interface_id": "harness.frames",
    "fragments4": "harness.frames",
    "fragments6": "harness.frames",
    "icmp_quote": "harness.frames",
    "l3_bytes": "harness.frames",
    "multicast_mac": "harness.frames",
    "quotes": "harness.frames",
    "short_icmpv6": "harness.frames",
    "solicited_node": "harness.frames",
    "with_icmpv6_checksum": "harness.frames",
    "with_ipv4_options": "harness.frames",
    "echo4": "harness.icmp",
    "echo6": "harness.icmp",
    "echo_data4": "harness.icmp",
    "echo_request_from": "harness.icmp",
    "expect_echo_reply6": "harness.icmp",
    "expect_echo_reply_to": "harness.icmp",
    "expect_param_problem": "harness.icmp",
}

__all__ = [
    "DUT",
    "MAY",
    "MUST",
    "MUST_NOT",
    "SHOULD",
    "SHOULD_NOT",
    "AddressInfo",
    "ExpectationFailed",
    "ICMPReport",
    "IPv6Option",
    "Level",
    "LinkInfo",
    "Requirement",
    "TCPConn",
    "TCPError",
    "TCPErrorKind",
    "TCPOption",
    "TCPState",
    "UDPDatagram",
    "Unsupported",
    "bad_checksum",
    "described",
    "echo4",
    "echo6",
    "echo_data4",
    "echo_request_from",
    "eui64_address",
    "eui64_interface_id",
    "expect_echo_reply6",
    "expect_echo_reply_to",
    "expect_param_problem",
    "fragments4",
    "fragments6",
    "icmp_quote",
    "l3_bytes",
    "multicast_mac",
    "quotes",
    "rfc",
    "short_icmpv6",
    "solicited_node",
    "with_icmpv6_checksum",
    "with_ipv4_options",
]


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
