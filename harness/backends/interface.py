"""InterfaceDUT: any stack behind a named interface, spoken to with raw Ethernet frames.

The DUT is configured by hand to match a TOML file (its addresses); the harness only sends
and receives frames on ``interface``, and the control verbs raise Unsupported (tests that need
them skip) — unless a ``[dut]`` table names the DUT's command and control agent, and then the
harness starts it and drives it (``harness.backends.managed``, docs/control-protocol.md).

Example ``dut.toml``::

    interface = "enp3s0"
    dut_mac = "02:00:00:00:00:01"
    tester_mac = "02:00:00:00:00:02"
    dut_ipv4 = "198.51.100.1/24"
    tester_ipv4 = "198.51.100.2"
    other_ipv4 = "198.51.100.3"
    dut_ipv6 = "2001:db8:1::1/64"
    dut_ipv6_ll = "fe80::ff:fe00:1"
    tester_ipv6 = "2001:db8:1::2"
    tester_ipv6_ll = "fe80::ff:fe00:2"
    other_ipv6 = "2001:db8:1::3"
    mtu = 1500                      # optional
    features = ["mldv2", "igmpv3"]  # optional: what it implements of harness.control.protocol.FEATURES
    [timers]                        # optional: the DUT's current values, in seconds
    ipv4_reassembly_timeout = 30
    [dut]                           # optional: the harness starts the DUT and drives its agent
    command = ["./agent", "--tap", "{interface}", "--control", "{control}"]
    ready = "^ready"                # see harness.backends.lifecycle for every key
    [build]                         # optional: what the reports name as the DUT's identity
    firmware = "1.4.2"              # (and what expectation entries' when.build may match)
"""

from __future__ import annotations

import ipaddress
import re
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, NoReturn, get_args

from harness.backends.base import FrameDUT
from harness.backends.lifecycle import DUTCommand, parse_command
from harness.backends.rawsocket import RawSocketPort
from harness.capture import Capture
from harness.control.protocol import FEATURES
from harness.dut import LinkInfo, TimerName, Unsupported
from harness.frames import mac_bytes

_MAC: Final = re.compile(r"^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$")
_REQUIRED: Final = (
    "interface", "dut_mac", "tester_mac", "dut_ipv4", "tester_ipv4", "other_ipv4",
    "dut_ipv6", "dut_ipv6_ll", "tester_ipv6", "tester_ipv6_ll", "other_ipv6",
)  # fmt: skip
_OPTIONAL: Final = ("mtu", "timers", "dut", "features", "build")  # build: the device's identity for the reports


class ConfigError(Exception):
    """The interface backend's TOML file is unusable; the message is one line naming the problem."""


@dataclass(frozen=True)
class InterfaceConfig:
    interface: str
    info: LinkInfo
    command: DUTCommand | None = None  # [dut]: the harness starts and resets the DUT
    # The optional features it implements (harness.features); None: not said here (a control
    # agent's hello says it, else the DUT is taken to implement none of them).
    features: frozenset[str] | None = None


def load_config(path: str | Path) -> InterfaceConfig:
    """Read and validate an interface-backend TOML file; raise ConfigError on any problem."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: not valid TOML: {e}") from None
    return parse_config(data, source=str(path))


def parse_config(data: dict[str, Any], source: str = "config") -> InterfaceConfig:
    def fail(message: str) -> NoReturn:
        raise ConfigError(f"{source}: {message}")

    unknown = sorted(set(data) - set(_REQUIRED) - set(_OPTIONAL))
    if unknown:
        fail(f"unknown key {unknown[0]!r} (known keys: {', '.join(_REQUIRED + _OPTIONAL)})")
    missing = [k for k in _REQUIRED if k not in data]
    if missing:
        fail(f"missing key {missing[0]!r}")

    def text(key: str) -> str:
        value = data[key]
        if not isinstance(value, str) or not value:
            fail(f"{key} must be a non-empty string, got {value!r}")
        return value

    def mac(key: str) -> str:
        value = text(key)
        if not _MAC.match(value):
            fail(f"{key} = {value!r} is not a MAC address like 02:00:00:00:00:01")
        return value.lower()

    def address(key: str, version: int, *, prefix: bool = False) -> Any:
        value = text(key)
        try:
            parsed: Any = ipaddress.ip_interface(value) if prefix else ipaddress.ip_address(value)
        except ValueError:
            kind = f"IPv{version} address" + (" with prefix length (e.g. 198.51.100.1/24)" if prefix else "")
            fail(f"{key} = {value!r} is not an {kind}")
        if parsed.version != version:
            fail(f"{key} = {value!r} is not an IPv{version} address")
        if prefix and "/" not in value:
            fail(f"{key} = {value!r} needs a prefix length, e.g. {value}/{24 if version == 4 else 64}")
        return parsed

    interface = text("interface")
    if len(interface) > 15 or "/" in interface or " " in interface:
        fail(f"interface = {interface!r} is not a valid Linux interface name")
    mtu = data.get("mtu", 1500)
    if isinstance(mtu, bool) or not isinstance(mtu, int) or not 576 <= mtu <= 65535:
        fail(f"mtu = {mtu!r} must be an integer between 576 and 65535")
    timers_table = data.get("timers", {})
    if not isinstance(timers_table, dict):
        fail("timers must be a table: [timers]")
    timers: dict[str, float] = {}
    for name, seconds in timers_table.items():
        if name not in get_args(TimerName):
            fail(f"unknown timer {name!r} in [timers] (known: {', '.join(get_args(TimerName))})")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds <= 0:
            fail(f"timers.{name} = {seconds!r} must be a positive number of seconds")
        timers[name] = float(seconds)
    ll = address("dut_ipv6_ll", 6)
    tester_ll = address("tester_ipv6_ll", 6)
    for key, value in (("dut_ipv6_ll", ll), ("tester_ipv6_ll", tester_ll)):
        if not value.is_link_local:
            fail(f"{key} = {str(value)!r} is not a link-local (fe80::/10) address")
    info = LinkInfo(
        dut_mac=mac("dut_mac"),
        tester_mac=mac("tester_mac"),
        dut_ipv4=address("dut_ipv4", 4, prefix=True),
        tester_ipv4=address("tester_ipv4", 4),
        other_ipv4=address("other_ipv4", 4),
        dut_ipv6=address("dut_ipv6", 6, prefix=True),
        dut_ipv6_ll=ll,
        tester_ipv6=address("tester_ipv6", 6),
        tester_ipv6_ll=tester_ll,
        other_ipv6=address("other_ipv6", 6),
        mtu=mtu,
        timers=timers,
    )
    if info.dut_mac == info.tester_mac:
        fail("dut_mac and tester_mac must differ")
    command = parse_command(data["dut"], fail) if "dut" in data else None
    features = None
    if "features" in data:
        listed = data["features"]
        if not isinstance(listed, list) or not all(isinstance(f, str) for f in listed):
            fail("features must be a list of names, e.g. features = [\"mldv2\", \"igmpv3\"]")
        unknown = [f for f in listed if f not in FEATURES and not f.startswith("x-")]
        if unknown:
            fail(f"unknown feature {unknown[0]!r} in features (known: {', '.join(FEATURES)})")
        features = frozenset(listed)
    return InterfaceConfig(interface, info, command, features)


class InterfaceDUT(FrameDUT):
    """Frames over an AF_PACKET socket on ``config.interface``; needs CAP_NET_RAW.

    Only frames whose Ethernet source is ``dut_mac`` count as emitted by the DUT, so other
    hosts' traffic on a shared segment does not confuse expect/expect_none.
    """

    def __init__(
        self, config: InterfaceConfig, capture: Capture | None = None, *, port: RawSocketPort | None = None
    ) -> None:
        """``port``: an already-open port (tests open one inside a namespace); else one is opened."""
        super().__init__("interface", config.info, capture, config.features or frozenset())
        self.interface = config.interface
        try:
            self.port = port if port is not None else RawSocketPort(config.interface)
        except PermissionError:
            raise Unsupported(
                f"the interface backend needs root (CAP_NET_RAW) to open a raw socket on {config.interface}"
            ) from None
        except OSError as e:
            raise Unsupported(f"cannot open a raw socket on interface {config.interface!r}: {e.strerror}") from None
        self._dut_mac = mac_bytes(config.info.dut_mac)

    def _transmit(self, frame: bytes) -> None:
        self.port.send(frame)

    def _receive(self, deadline: float) -> bytes | None:
        while (frame := self.port.recv(deadline)) is not None:
            if frame[6:12] == self._dut_mac:
                return frame
        return None

    def _now(self) -> float:
        return time.monotonic()

    def _arrival_time(self) -> float:
        return self.port.last_arrival

    def _cannot(self, verb: str) -> NoReturn:
        raise Unsupported(
            f"the interface backend has no control channel to the DUT; it cannot {verb} "
            "(configure the device by hand, or name its control agent in a [dut] table: docs/control-protocol.md)"
        )

    def close(self) -> None:
        super().close()
        self.port.close()
