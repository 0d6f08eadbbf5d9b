"""The linux backend's UDP verbs, harness side: each one request to the agent
(``agent_sockets.py`` holds the sockets inside the DUT namespace) and its answer turned back
into the DUT protocol's types (``UDPDatagram``, ``ICMPReport``)."""

from __future__ import annotations

import ipaddress
from typing import Any

from harness.backends.linux.values import _checked_port
from harness.dut import Family, ICMPReport, UDPDatagram


class LinuxUDPVerbs:
    """Mixed into ``LinuxDUT``, which provides ``_call`` (one agent request)."""

    def _call(self, op: str, **args: object) -> Any:
        raise NotImplementedError

    def udp_bind(self, port: int, family: Family = 4) -> None:
        if family not in (4, 6):
            raise ValueError(f"family must be 4 or 6, not {family!r}")
        self._call("udp_bind", port=_checked_port(port), family=family)

    def udp_recv(self, port: int, within: float = 2.0) -> tuple[bytes, str, int] | None:
        got = self._call("udp_recv", port=_checked_port(port), within=float(within))
        if got is None:
            return None
        assert isinstance(got, list)
        data, src, sport = got
        return bytes.fromhex(data), str(src), int(sport)

    def udp_send(self, port: int, data: bytes, dst: str, dport: int) -> None:
        self._call("udp_send", port=_checked_port(port), data=bytes(data).hex(),
                   dst=str(ipaddress.ip_address(dst)), dport=_checked_port(dport))

    def udp_close(self, port: int) -> None:
        self._call("udp_close", port=_checked_port(port))

    def udp_recvmsg(self, port: int, within: float = 2.0) -> UDPDatagram | None:
        got = self._call("udp_recvmsg", port=_checked_port(port), within=float(within))
        if got is None:
            return None
        return UDPDatagram(bytes.fromhex(got["data"]), str(got["src"]), int(got["sport"]), str(got["dst"]),
                           int(got["tos"]), int(got["ttl"]), bytes.fromhex(got["options"]))

    def udp_sendmsg(self, port: int, data: bytes, dst: str, dport: int, *, src: str | None = None,
                    ttl: int | None = None, tos: int | None = None, options: bytes = b"") -> None:
        if ttl is not None and not 1 <= ttl <= 255:
            raise ValueError(f"TTL must be 1-255, got {ttl}")
        if tos is not None and not 0 <= tos <= 255:
            raise ValueError(f"TOS must be 0-255, got {tos}")
        if len(options) > 40:
            raise ValueError(f"{len(options)} octets of options do not fit an IPv4 header (at most 40)")
        self._call("udp_sendmsg", port=_checked_port(port), data=bytes(data).hex(), dst=str(ipaddress.ip_address(dst)),
                   dport=_checked_port(dport), src=None if src is None else str(ipaddress.ip_address(src)),
                   ttl=ttl, tos=tos, options=bytes(options).hex())

    def udp_errors(self, port: int, within: float = 2.0) -> list[ICMPReport]:
        got = self._call("udp_errors", port=_checked_port(port), within=float(within))
        return [ICMPReport(e["family"], int(e["type"]), int(e["code"]), int(e["info"]), str(e["dst"]),
                           int(e["dport"])) for e in got]
