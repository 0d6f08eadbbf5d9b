"""Real Linux clients against our stack: `python -m stack_under_test --tap` as a host on a TAP.

The kernel side of the TAP, in a namespace of our own, carries the tester's addresses; the
kernel's own tools then talk to our stack: ping and ping -6 across ARP and Neighbor Discovery
(stack_under_test/tests/test_tap_real_host.py), 4,000-octet pings that the kernel fragments
and we reassemble and whose replies we fragment and the kernel reassembles, ndisc6 resolving
our address (RFC 4861 7.2), and a UDP exchange with a Python socket (RFC 768).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Iterator

import pytest

from harness.backends.base import TEST_LINK
from harness.backends.tap import TapHost, check_available

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(check_available() is not None, reason=str(check_available())),
]

STACK_IPV4, STACK_IPV6 = str(TEST_LINK.dut_ipv4.ip), str(TEST_LINK.dut_ipv6.ip)
ECHO_PORT = 7


def _needs(tool: str, package: str) -> pytest.MarkDecorator:
    return pytest.mark.skipif(shutil.which(tool) is None,
                              reason=f"needs `{tool}` (Debian package {package}; `make test` installs it as root)")


@pytest.fixture(scope="module")
def host() -> Iterator[TapHost]:
    """One stack process for the module's tests: they only read what the stack answers."""
    tap_host = TapHost(kernel_addresses=True, extra_args=("--udp-echo", str(ECHO_PORT)))
    try:
        yield tap_host
    finally:
        tap_host.close()


def _ok(host: TapHost, *argv: str) -> str:
    result = host.in_ns(*argv)
    problem = host.exited()
    assert problem is None, problem
    assert result.returncode == 0, f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
    return result.stdout


def _ping(host: TapHost, *argv: str) -> str:
    # With both -c and -w, ping exits 0 only when every reply came back.
    return _ok(host, "ping", "-c", "2", "-i", "0.2", "-w", "10", *argv)


@_needs("ping", "iputils-ping")
def test_ping_is_answered(host: TapHost) -> None:
    out = _ping(host, STACK_IPV4)
    assert "2 received" in out, out


@_needs("ping", "iputils-ping")
def test_ping6_is_answered(host: TapHost) -> None:
    out = _ping(host, "-6", STACK_IPV6)
    assert "2 received" in out, out


@_needs("ping", "iputils-ping")
@pytest.mark.parametrize("family", ["-4", "-6"])
def test_4000_octet_ping_is_reassembled_and_the_reply_fragmented(host: TapHost, family: str) -> None:
    # 4,000 data octets exceed the TAP's 1,500-octet MTU: the kernel sends fragments, our stack
    # must reassemble them (RFC 791 3.2 / RFC 8200 4.5) and fragment its equally long reply,
    # which the kernel reassembles before ping sees it; ping checks the echoed data too.
    target = STACK_IPV4 if family == "-4" else STACK_IPV6
    before = _reassembled(host, family)
    out = _ping(host, family, "-s", "4000", target)
    assert "4008 bytes from" in out, out
    # The kernel counted our replies as reassembled datagrams: we did fragment them.
    assert _reassembled(host, family) - before >= 2


def _reassembled(host: TapHost, family: str) -> int:
    """The namespace kernel's count of datagrams it reassembled (ReasmOKs / Ip6ReasmOKs)."""
    if family == "-4":
        lines = [line.split() for line in _ok(host, "cat", "/proc/net/snmp").splitlines() if line.startswith("Ip:")]
        return int(dict(zip(lines[0], lines[1], strict=True))["ReasmOKs"])
    table = dict(line.split() for line in _ok(host, "cat", "/proc/net/snmp6").splitlines() if line.strip())
    return int(table["Ip6ReasmOKs"])


@_needs("ndisc6", "ndisc6")
def test_ndisc6_resolves_our_address(host: TapHost) -> None:
    # RFC 4861 7.2.4: a solicited Neighbor Advertisement with our link-layer address.
    out = _ok(host, "ndisc6", "-n", "-r", "3", "-w", "1000", STACK_IPV6, host.tap)
    found = re.search(r"Target link-layer address:\s*([0-9A-Fa-f:]{17})", out)
    assert found is not None, out
    assert found.group(1).lower() == TEST_LINK.dut_mac


UDP_CLIENT = """
import socket, sys
family = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
with socket.socket(family, socket.SOCK_DGRAM) as s:
    s.settimeout(2.0)
    for attempt in range(3):  # the first datagram may wait for address resolution
        s.sendto(b"stackcheck %d" % attempt, (sys.argv[1], int(sys.argv[2])))
        try:
            data, peer = s.recvfrom(2048)
        except TimeoutError:
            continue
        print(data.decode(), peer[0], peer[1])
        break
    else:
        sys.exit("no answer")
"""


@pytest.mark.parametrize("address", [STACK_IPV4, STACK_IPV6], ids=["ipv4", "ipv6"])
def test_udp_exchange_with_a_python_socket(host: TapHost, address: str) -> None:
    out = _ok(host, sys.executable, "-c", UDP_CLIENT, address, str(ECHO_PORT))
    data, peer, port = out.split()[:2], out.split()[2], out.split()[3]
    assert " ".join(data).startswith("stackcheck"), out
    assert (peer, int(port)) == (address, ECHO_PORT), out
