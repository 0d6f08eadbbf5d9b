"""Run the stack as a real host on a TAP interface: ``python -m stack_under_test --tap NAME ...``.

A poll loop selects on the TAP's descriptor with the next timer deadline as its timeout and runs
until SIGINT/SIGTERM. Bad arguments give one error line and exit status 2.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import random
import select
import signal
import sys

from stack_under_test.clock import MonotonicClock
from stack_under_test.echo import TCPEcho, UDPEcho
from stack_under_test.host import Stack
from stack_under_test.link.endpoint import LinkEndpoint
from stack_under_test.link.lossy import LossyEndpoint
from stack_under_test.link.tap import TapEndpoint, TapError
from stack_under_test.stack.stack import StackError, StackOptions
from stack_under_test.wire.ethernet import parse_mac


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m stack_under_test", description=__doc__.splitlines()[0])
    p.add_argument("--tap", required=True, help="TAP interface name (created if it does not exist)")
    p.add_argument("--mac", required=True, help="our MAC address, e.g. 02:00:00:00:00:01")
    p.add_argument("--ipv4", action="append", default=[], help="IPv4 interface address, e.g. 198.51.100.1/24")
    p.add_argument("--ipv6", action="append", default=[], help="IPv6 interface address, e.g. 2001:db8:1::1/64")
    p.add_argument("--mtu", type=int, default=1500, help="link MTU (default 1500)")
    p.add_argument("--forwarding", action="store_true", help="forward between interfaces (router)")
    p.add_argument("--ipv4-reassembly-timeout", type=float, metavar="S", help="seconds")
    p.add_argument("--ipv6-reassembly-timeout", type=float, metavar="S", help="seconds")
    p.add_argument("--dad-transmits", type=int, metavar="N", help="DupAddrDetectTransmits (RFC 4862)")
    p.add_argument("--udp-echo", type=int, metavar="PORT", help="echo UDP datagrams received on PORT")
    p.add_argument("--tcp-echo", type=int, metavar="PORT",
                   help="echo what arrives on TCP connections to PORT, closing after the peer's FIN")
    p.add_argument("--link-loss", type=float, metavar="P", default=0.0,
                   help="lose this share of the frames each way on the link, e.g. 0.01 (tests of loss "
                        "recovery where the kernel has no netem)")
    p.add_argument("--neighbor", action="append", default=[], metavar="ADDR=MAC",
                   help="static neighbor entry, e.g. 198.51.100.2=02:00:00:00:00:02 (the test harness "
                        "speaks raw frames and answers no ARP or NS)")
    return p


def _check(p: argparse.ArgumentParser, args: argparse.Namespace) -> bytes:
    mac = parse_mac(args.mac)
    if mac is None or mac[0] & 1:
        p.error(f"--mac {args.mac!r} is not a unicast MAC address like 02:00:00:00:00:01")
    if not 68 <= args.mtu <= 65535:
        p.error(f"--mtu must be 68-65535, got {args.mtu}")
    for opt, values, version in (("--ipv4", args.ipv4, 4), ("--ipv6", args.ipv6, 6)):
        for value in values:
            try:
                iface = ipaddress.ip_interface(value)
            except ValueError:
                p.error(f"{opt} {value!r} is not an interface address like 198.51.100.1/24")
            if iface.version != version:
                p.error(f"{opt} {value!r} is not an IPv{version} address")
    for name in ("ipv4_reassembly_timeout", "ipv6_reassembly_timeout"):
        value = getattr(args, name)
        if value is not None and not value > 0:
            p.error(f"--{name.replace('_', '-')} must be positive seconds, got {value}")
    if args.dad_transmits is not None and args.dad_transmits < 0:
        p.error("--dad-transmits must be 0 or more")
    for opt, port in (("--udp-echo", args.udp_echo), ("--tcp-echo", args.tcp_echo)):
        if port is not None and not 0 < port <= 65535:
            p.error(f"{opt} must be a port 1-65535, got {port}")
    if not 0.0 <= args.link_loss < 1.0:
        p.error(f"--link-loss must be at least 0 and below 1, got {args.link_loss}")
    for value in args.neighbor:
        addr, _, hw = value.partition("=")
        try:
            ipaddress.ip_address(addr)
        except ValueError:
            p.error(f"--neighbor {value!r} is not ADDR=MAC like 198.51.100.2=02:00:00:00:00:02")
        if parse_mac(hw) is None:
            p.error(f"--neighbor {value!r}: {hw!r} is not a MAC address like 02:00:00:00:00:02")
    return mac


def main(argv: list[str] | None = None) -> int:
    p = _parser()
    args = p.parse_args(argv)
    mac = _check(p, args)
    clock = MonotonicClock()
    options = StackOptions(clock=clock, rng=random.Random(int.from_bytes(os.urandom(8), "big")))
    if args.ipv4_reassembly_timeout is not None:
        options.ipv4_reassembly_timeout_ms = int(args.ipv4_reassembly_timeout * 1000)
    if args.ipv6_reassembly_timeout is not None:
        options.ipv6_reassembly_timeout_ms = int(args.ipv6_reassembly_timeout * 1000)
    if args.dad_transmits is not None:
        options.dad_transmits = args.dad_transmits
    try:
        link = TapEndpoint(args.tap, mac, args.mtu)
    except TapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    stack = Stack(options)
    nic_link: LinkEndpoint = link
    if args.link_loss:
        nic_link = LossyEndpoint(link, args.link_loss, random.Random(int.from_bytes(os.urandom(8), "big")))
    try:
        stack.create_nic(args.tap, nic_link)
        stack.enable_nic(args.tap)
        for cidr in [*args.ipv4, *args.ipv6]:
            stack.add_address(args.tap, cidr)
        for value in args.neighbor:
            addr, _, hw = value.partition("=")
            stack.add_static_neighbor(args.tap, addr, parse_mac(hw) or b"")  # _check() validated the MAC
        if args.forwarding:
            stack.set_forwarding(4, True)
            stack.set_forwarding(6, True)
        services: list[UDPEcho | TCPEcho] = []
        if args.udp_echo is not None:
            services.append(UDPEcho(stack, args.udp_echo))
        if args.tcp_echo is not None:
            services.append(TCPEcho(stack, args.tcp_echo))
    except StackError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    stopping = False

    def stop(signum: int, frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    _settle(stack, link, clock, args.tap)
    print(f"stack_under_test on {args.tap}: {', '.join(stack.addresses(args.tap))}", flush=True)
    while not stopping:
        timeout = clock.seconds_until_next()
        try:
            ready, _, _ = select.select([link], [], [], 1.0 if timeout is None else min(timeout, 1.0))
        except InterruptedError:
            continue
        if ready:
            link.poll()
        clock.run_due()
        for service in services:
            service.poll()
    link.close()
    return 0


def _settle(stack: Stack, link: TapEndpoint, clock: MonotonicClock, nic: str, limit_s: float = 10.0) -> None:
    """Run until Duplicate Address Detection has ended (RFC 4862 5.4: an address is tentative,
    receiving nothing, until then), so that the ready line means every address is usable."""
    deadline = clock.now_ms + int(limit_s * 1000)
    while "tentative" in stack.address_states(nic).values() and clock.now_ms < deadline:
        timeout = clock.seconds_until_next()
        ready, _, _ = select.select([link], [], [], 0.1 if timeout is None else min(timeout, 0.1))
        if ready:
            link.poll()
        clock.run_due()


if __name__ == "__main__":
    sys.exit(main())
