"""The linux backend's verbs on the test link itself, harness side: its MTU and its MAC address,
each one ``ip link set`` inside the DUT namespace (the agent's reset puts both back)."""

from __future__ import annotations

import dataclasses
from typing import Any

from harness.backends.linux.values import _checked_mac, _checked_mtu
from harness.dut import LinkInfo


class LinuxLinkVerbs:
    """Mixed into ``LinuxDUT``, which provides ``_call`` (one agent request), ``names``, ``info``
    and ``_bounce_on_reset``."""

    info: LinkInfo
    names: Any
    _bounce_on_reset: bool

    def _call(self, op: str, **args: object) -> Any:
        raise NotImplementedError

    def set_link_mtu(self, mtu: int) -> None:
        # IPv4 accepts 68 (RFC 791); IPv6 disappears from a link below 1280, which a test of
        # IPv4 behaviour may accept; the kernel refuses values its driver cannot carry.
        self._call("ip", lines=[f"link set {self.names.dut_if} mtu {_checked_mtu(mtu, 4)}"])
        self.info = dataclasses.replace(self.info, mtu=int(mtu))  # the timers dict stays shared

    def set_link_address(self, mac: str) -> None:
        self._call("ip", lines=[f"link set dev {self.names.dut_if} address {_checked_mac(mac)}"])
        self.info = dataclasses.replace(self.info, dut_mac=mac.lower())  # the timers dict stays shared
        # The agent's reset puts the test link's MAC back; the link flap then re-forms the
        # addresses derived from it (the EUI-64 link-local).
        self._bounce_on_reset = True
