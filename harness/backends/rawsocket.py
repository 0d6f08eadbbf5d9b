"""One raw Ethernet port: an AF_PACKET socket bound to a named interface.

Used by the interface backend and the linux backend. It sends prebuilt frames and returns the
frames other hosts put on the link; frames this socket (or anything else on this host) sent out
of the interface come back from the kernel with ``sll_pkttype == PACKET_OUTGOING`` and are
dropped here, so the tester never mistakes its own frames for the DUT's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import socket
import struct
import time
from typing import Final

ETH_P_ALL: Final = 0x0003
PACKET_OUTGOING: Final = 4  # linux/if_packet.h: "outgoing of any type"
# Large enough for any frame on a 1500- or 9000-MTU link plus VLAN tags; GRO/TSO would
# hand us bigger "frames", which is why backends turn offloads off on their test links.
MAX_FRAME: Final = 65535
# A socket buffer big enough that a burst of DUT replies is not lost while a test builds packets.
RCVBUF: Final = 4 * 1024 * 1024
# A send waits this long for room in the socket's buffer before it gives up (RawSocketPort.send).
SEND_WAIT_S: Final = 1.0
# asm-generic/socket.h: SO_TIMESTAMPNS (the old, 32/64-bit-time one), control message SCM_TIMESTAMPNS
# carrying a struct timespec of CLOCK_REALTIME at which the kernel received the frame.
SO_TIMESTAMPNS: Final = 35
# linux/if_packet.h: hand frames straight to the driver instead of the interface's queueing
# discipline. A loaded kernel runs a busy qdisc later, from ksoftirqd: a frame a test sent last
# could then reach a TAP after the DUT behind it was restarted for the next test (an lwIP SYN-ACK
# announced an MSS for a 1280-octet MTU no frame of its own test had told it).
SOL_PACKET: Final = 263
PACKET_QDISC_BYPASS: Final = 20
_TIMESPEC: Final = struct.Struct("@qq")


class RawSocketPort:
    """Send and receive whole Ethernet frames on ``interface``.

    ``recv(deadline)`` takes an absolute ``time.monotonic()`` deadline and returns the next
    frame not sent from this host, or None once the deadline passes. Frames queued in the
    socket before the call are returned first. Raises OSError (e.g. PermissionError without
    CAP_NET_RAW, or no such interface) from the constructor.

    ``netns_fd``: optional open fd of a network namespace (``/var/run/netns/<name>``); the
    socket is created inside it (the calling thread switches namespace briefly and back).

    ``last_arrival`` is the ``time.monotonic()`` instant at which the kernel received the frame
    ``recv`` returned last, from the socket's receive timestamp: a test measuring a DUT's timer
    gets the time the frame crossed the link, not the later time the test got round to read it.
    """

    def __init__(self, interface: str, *, netns_fd: int | None = None) -> None:
        self.interface = interface
        self._sock = _open_in_netns(netns_fd) if netns_fd is not None else _open()
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, RCVBUF)
            self._sock.bind((interface, ETH_P_ALL))
            self._sock.setblocking(False)
        except OSError:
            self._sock.close()
            raise
        with contextlib.suppress(OSError):  # before Linux 3.14 frames go through the qdisc
            self._sock.setsockopt(SOL_PACKET, PACKET_QDISC_BYPASS, 1)
        try:
            self._sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            self._timestamps = True
        except OSError:  # no receive timestamps: fall back to the time recv() returns
            self._timestamps = False
        self.last_arrival = time.monotonic()

    def fileno(self) -> int:
        return self._sock.fileno()

    def send(self, frame: bytes) -> None:
        """Transmit one complete Ethernet frame (no FCS) out of the interface. The socket does not
        block: while the frames sent before still fill its send buffer (the other end has not
        taken them in yet: a test sending a hundred frames on a loaded machine, found by a linux
        soak run), wait until there is room, ``SEND_WAIT_S`` at most."""
        deadline = time.monotonic() + SEND_WAIT_S
        while True:
            try:
                self._sock.send(frame)
                return
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise
                select.select([], [self._sock], [], remaining)

    def recv(self, deadline: float) -> bytes | None:
        """Next inbound frame, waiting until monotonic ``deadline`` at most; None on timeout."""
        while True:
            try:
                data, ancillary, _flags, addr = self._sock.recvmsg(MAX_FRAME, socket.CMSG_SPACE(_TIMESPEC.size))
            except BlockingIOError:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                select.select([self._sock], [], [], remaining)
                continue
            # addr = (ifname, proto, pkttype, hatype, hwaddr)
            if addr[2] == PACKET_OUTGOING:
                continue
            self.last_arrival = self._arrival(ancillary)
            return data

    def _arrival(self, ancillary: list[tuple[int, int, bytes]]) -> float:
        """The frame's kernel receive time on the monotonic clock (now, without a timestamp)."""
        now_mono, now_real = time.monotonic(), time.time()
        for level, kind, data in ancillary:
            if self._timestamps and level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
                sec, nsec = _TIMESPEC.unpack_from(data)
                # Never later than now: the two clocks are read a few microseconds apart.
                received = float(sec) + float(nsec) / 1e9
                return min(now_mono, now_mono - (now_real - received))
        return now_mono

    def drain(self) -> int:
        """Discard every frame already queued on the socket; return how many."""
        n = 0
        while True:
            try:
                self._sock.recvfrom(MAX_FRAME)
            except BlockingIOError:
                return n
            n += 1

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RawSocketPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _open() -> socket.socket:
    return socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))


CLONE_NEWNET: Final = 0x40000000


def _setns(fd: int) -> None:
    # os.setns arrived in Python 3.12; we support 3.11, so call libc directly.
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"setns into network namespace failed: {os.strerror(err)}")


def _open_in_netns(netns_fd: int) -> socket.socket:
    # A socket stays in the namespace it was created in, so switch, create, switch back.
    original = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        _setns(netns_fd)
        try:
            return _open()
        finally:
            _setns(original)
    finally:
        os.close(original)
