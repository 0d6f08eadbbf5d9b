"""TapEndpoint: a Linux TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI) as the stack's link.

Reads are non-blocking: the owner's poll loop selects on ``fileno()`` and calls ``poll()``.
Opening needs CAP_NET_ADMIN (or a TAP owned by the user); failures raise ``TapError`` with one
line a user can act on.
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
import struct

from stack_under_test.link.endpoint import NetworkDispatcher
from stack_under_test.params import ETHERNET_MTU

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
SIOCSIFMTU = 0x8922
IFF_UP = 0x1
_MAX_FRAME = 65536
_IFNAMSIZ = 16


class TapError(Exception):
    """The TAP device could not be opened or configured; the message says why."""


class TapEndpoint:
    def __init__(self, name: str, mac: bytes, mtu: int = ETHERNET_MTU) -> None:
        if not name or len(name) >= _IFNAMSIZ or "/" in name or " " in name:
            raise TapError(f"invalid interface name {name!r} (1-15 characters, no '/' or spaces)")
        if len(mac) != 6:
            raise TapError("the MAC address must be 6 octets")
        self.name = name
        self.mac = bytes(mac)
        self.mtu = mtu
        self.write_errors = 0
        self._dispatcher: NetworkDispatcher | None = None
        try:
            self._fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
        except FileNotFoundError:
            raise TapError("/dev/net/tun does not exist (load the tun module: modprobe tun)") from None
        except PermissionError:
            raise TapError("permission denied opening /dev/net/tun (run as root or with CAP_NET_ADMIN)") from None
        try:
            fcntl.ioctl(self._fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
            self._set_up_and_mtu()
        except OSError as exc:
            os.close(self._fd)
            raise TapError(f"cannot attach to TAP device {name}: {exc.strerror or exc}") from None

    def _set_up_and_mtu(self) -> None:
        """Bring the kernel side up and give it our MTU (as `ip link set NAME up mtu N` would)."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            ifreq = fcntl.ioctl(sock, SIOCGIFFLAGS, struct.pack("16sH14x", self.name.encode(), 0))
            flags = struct.unpack_from("16sH", ifreq)[1]
            fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", self.name.encode(), flags | IFF_UP))
            fcntl.ioctl(sock, SIOCSIFMTU, struct.pack("16si12x", self.name.encode(), self.mtu))

    def fileno(self) -> int:
        return self._fd

    def attach(self, dispatcher: NetworkDispatcher | None) -> None:
        self._dispatcher = dispatcher

    def poll(self, budget: int = 64) -> int:
        """Read and deliver up to ``budget`` waiting frames; returns how many were read."""
        count = 0
        while count < budget:
            try:
                frame = os.read(self._fd, _MAX_FRAME)
            except BlockingIOError:
                break
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EINTR):
                    break
                raise
            count += 1
            if self._dispatcher is not None:
                self._dispatcher.deliver(frame)
        return count

    def write_frame(self, frame: bytes) -> bool:
        try:
            os.write(self._fd, frame)
        except OSError:
            # A full kernel queue (EAGAIN) or an interface that went down: the frame is lost,
            # as on a real wire.
            self.write_errors += 1
            return False
        return True

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
