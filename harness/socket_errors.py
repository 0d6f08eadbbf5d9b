"""What a DUT's UDP socket was told of the ICMP and ICMPv6 errors about its datagrams.

RFC 1122 3.2.2 and RFC 4443 2.4 both ask that an error reach the upper layer; the tests of the
two families read the socket's reports the same way, through ``DUT.udp_errors``."""

from __future__ import annotations

from harness.dut import DUT, Family, ICMPReport


def socket_reports(dut: DUT, port: int, count: int = 1, within: float = 2.0) -> list[ICMPReport]:
    """Up to ``count`` reports of the socket bound to ``port``: fewer if none more comes within
    ``within`` seconds of the last."""
    got: list[ICMPReport] = []
    while len(got) < count:
        more = dut.udp_errors(port, within=within)
        if not more:
            break
        got += more
    return got


def assert_socket_told(dut: DUT, port: int, family: Family, icmp_type: int, code: int, dst: str,
                       dport: int) -> ICMPReport:
    """The first report of the socket on ``port``, which must be of this error about a datagram to
    ``dst``, ``dport``."""
    name = "ICMP" if family == 4 else "ICMPv6"
    reports = socket_reports(dut, port)
    assert reports, f"the socket was not told of the {name} error (type {icmp_type}, code {code}) about its datagram"
    report = reports[0]
    assert (report.family, report.type, report.code) == (family, icmp_type, code), f"the socket was told {report}"
    assert (report.dst, report.dport) == (dst, dport), f"the report names {report}"
    return report
