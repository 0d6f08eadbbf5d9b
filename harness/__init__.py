"""What conformance tests import: the DUT protocol, the @rfc and @described citations, and frame helpers.

    from harness import DUT, MUST, echo6, fragments6, rfc

Backends live in ``harness.backends`` and are chosen by the pytest plugin (``--dut``); tests
never import them.
"""

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
from harness.rfc import MAY, MUST, MUST_NOT, SHOULD, SHOULD_NOT, Level, Requirement, described, rfc

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
