"""A real Linux TCP client against our stack: `python -m stack_under_test --tap` on a TAP with a
TCP echo service (`--tcp-echo PORT`, the TCP twin of `--udp-echo`), and a Python socket in the
kernel side's namespace (tcp_bulk_client.py) that sends 10 MiB while reading the echo, so 10 MiB
cross each way; then it half-closes, reads to the end of the stream and closes. The SHA-256 of
what came back must equal that of what went out. Once over a clean link, once over a link that
loses 1 % of the frames each way: this kernel has no netem, so the stack process loses them at
its end of the TAP (`--link-loss 0.01`, stack_under_test/link/lossy.py), every frame in either
direction with probability 1 %, which neither TCP can tell from loss on a wire.

The throughput goes into the test's properties (``throughput_mib_s``, each way) and is printed.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from harness.backends.base import TEST_LINK
from harness.backends.tap import TapHost, check_available

pytestmark = [
    pytest.mark.needs_root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for network namespaces and TAP devices"),
    pytest.mark.skipif(check_available() is not None, reason=str(check_available())),
]

ECHO_PORT = 7
OCTETS = 10 * 2**20
CLIENT = Path(__file__).with_name("tcp_bulk_client.py")
ADDRESSES = [pytest.param(str(TEST_LINK.dut_ipv4.ip), id="ipv4"), pytest.param(str(TEST_LINK.dut_ipv6.ip), id="ipv6")]


def _host(*extra: str) -> Iterator[TapHost]:
    tap_host = TapHost(kernel_addresses=True, extra_args=("--tcp-echo", str(ECHO_PORT), *extra))
    try:
        yield tap_host
    finally:
        tap_host.close()


@pytest.fixture(scope="module")
def host() -> Iterator[TapHost]:
    yield from _host()


@pytest.fixture(scope="module")
def lossy_host() -> Iterator[TapHost]:
    yield from _host("--link-loss", "0.01")


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
        lossy_host: TapHost, address: str, record_property: Callable[[str, object], None]) -> None:
    _transfer(lossy_host, address, record_property)
