"""A real Linux TCP client against our stack: `python -m stack_under_test --tap` on a TAP with a
TCP echo service (`--tcp-echo PORT`, the TCP twin of `--udp-echo`), and a Python socket in the
kernel side's namespace (tcp_bulk_client.py) that sends 10 MiB while reading the echo, so 10 MiB
cross each way; then it half-closes, reads to the end of the stream and closes. The SHA-256 of
what came back must equal that of what went out. Once over a clean link, once with the kernel
dropping 1 % of the frames it sends to our stack (netem).

The throughput goes into the test's properties (``throughput_mib_s``, each way) and is printed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.backends.base import TEST_LINK
from harness.backends.tap import REPO, TapHost, check_available

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(check_available() is not None, reason=str(check_available())),
]

ECHO_PORT = 7
OCTETS = 10 * 2**20
CLIENT = Path(__file__).with_name("tcp_bulk_client.py")
ADDRESSES = [pytest.param(str(TEST_LINK.dut_ipv4.ip), id="ipv4"), pytest.param(str(TEST_LINK.dut_ipv6.ip), id="ipv6")]


def _has_tcp_echo() -> bool:
    result = subprocess.run([sys.executable, "-m", "stack_under_test", "--help"], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    return "--tcp-echo" in result.stdout


@pytest.fixture(scope="module")
def host() -> Iterator[TapHost]:
    if not _has_tcp_echo():
        pytest.skip("python -m stack_under_test has no --tcp-echo PORT option yet (the TCP twin of --udp-echo: "
                    "accept on both families, send back what arrives, close after the peer's FIN); these "
                    "tests run once it has")
    tap_host = TapHost(kernel_addresses=True, extra_args=("--tcp-echo", str(ECHO_PORT)))
    try:
        yield tap_host
    finally:
        tap_host.close()


def _transfer(host: TapHost, address: str, record_property: Callable[[str, object], None]) -> None:
    result = host.in_ns(sys.executable, str(CLIENT), address, str(ECHO_PORT), str(OCTETS), timeout=900)
    problem = host.exited()
    assert problem is None, problem
    assert result.returncode == 0, f"the client failed:\n{result.stdout}{result.stderr[-2000:]}"
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["sent"] == OCTETS and report["received"] == OCTETS, report
    assert report["sha256_received"] == report["sha256_sent"], "the echoed data differs from what was sent"
    throughput = OCTETS / 2**20 / report["seconds"]
    record_property("throughput_mib_s", round(throughput, 2))
    print(f"{address}: 10 MiB each way in {report['seconds']:.2f} s, {throughput:.2f} MiB/s each way")


@pytest.mark.parametrize("address", ADDRESSES)
def test_ten_mebibytes_each_way_arrive_intact(host: TapHost, address: str,
                                              record_property: Callable[[str, object], None]) -> None:
    _transfer(host, address, record_property)


@pytest.mark.parametrize("address", ADDRESSES)
def test_ten_mebibytes_each_way_arrive_intact_across_one_percent_loss(
        host: TapHost, address: str, record_property: Callable[[str, object], None]) -> None:
    added = host.in_ns("tc", "qdisc", "add", "dev", host.tap, "root", "netem", "loss", "1%")
    if added.returncode != 0:
        pytest.skip(f"cannot make a lossy link: tc qdisc add ... netem loss 1% says {added.stderr.strip()!r} "
                    "(this kernel has no netem queueing discipline, CONFIG_NET_SCH_NETEM)")
    try:
        _transfer(host, address, record_property)
    finally:
        host.in_ns("tc", "qdisc", "del", "dev", host.tap, "root")
