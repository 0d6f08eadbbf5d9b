"""The linux backend's route verbs, harness side: ``add_route`` and ``remove_route`` as ``ip
route`` lines the agent runs inside the DUT namespace."""

from __future__ import annotations

import ipaddress
from typing import Any

from harness.backends.linux.values import _checked_mtu, _checked_network, _refuse_forbidden


class LinuxRouteVerbs:
    """Mixed into ``LinuxDUT``, which provides ``_call`` (one agent request) and ``names``."""

    names: Any

    def _call(self, op: str, **args: object) -> Any:
        raise NotImplementedError

    def add_route(self, cidr: str, via: str | None = None, mtu: int | None = None) -> None:
        net = _checked_network(cidr)
        gateway = ""
        if via is not None:
            gw = ipaddress.ip_address(via)
            if gw.version != net.version:
                raise ValueError(f"gateway {via} is not of the same family as {cidr}")
            _refuse_forbidden(gw, via)
            gateway = f" via {gw}"
        # "mtu lock": the route's path MTU, which the kernel must not raise or lower from
        # what it learns (RFC 1191 / RFC 8201 updates), so the test sees exactly this value.
        mtu_arg = "" if mtu is None else f" mtu lock {_checked_mtu(mtu, net.version)}"
        dev = self.names.dut_if
        if gateway and any(r.startswith(f"{net} via ") and f"{net}{gateway} " not in f"{r} " for r in self._routes(net)):
            # Another route to this prefix through another gateway: keep both (several default
            # gateways, RFC 1122 3.3.1.2); "replace" would swap one for the other.
            self._call("ip", lines=[f"-{net.version} route append {net}{gateway} dev {dev}{mtu_arg}"])
            return
        self._call("ip", lines=[f"-{net.version} route replace {net}{gateway} dev {dev}{mtu_arg}"])

    def _routes(self, net: ipaddress.IPv4Network | ipaddress.IPv6Network) -> list[str]:
        """The test link's routes to ``net`` as ``ip route`` prints them ("<net> via <gw> ...")."""
        return [str(r) for r in self._call("route_lines", family=net.version, prefix=str(net))]

    def remove_route(self, cidr: str) -> None:
        net = _checked_network(cidr)
        # Every route to the prefix, whatever its gateway (the verb names a route by its prefix).
        lines = [f"-{net.version} route del {net} dev {self.names.dut_if}"] * max(1, len(self._routes(net)))
        self._call("ip", lines=lines)
