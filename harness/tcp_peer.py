"""The tester's end of one TCP connection with the DUT, driven by Scapy.

A ``TCPPeer`` holds what a TCP endpoint holds for one connection (sequence and
acknowledgment numbers, the windows, the options both SYNs carried, the timestamps to echo)
so that a test reads as the exchange it checks, like a packetdrill script or packetimpact's
connection helper::

    peer = TCPPeer(dut, dut_port=80, mss=536)          # no other option
    synack = peer.connect()                            # SYN, SYN-ACK, ACK
    assert peer.dut_syn.mss is not None and peer.dut_syn.mss <= 536

Sending (``send``, ``send_data``, ``send_fin``, ``send_rst``) builds a segment from the
peer's state, fields given override it, and the peer advances SND.NXT over what it sent in
sequence. Expecting (``expect``, ``expect_none``) matches only this connection's segments
from the DUT; every criterion left unset matches anything (packetimpact's rule). ``flags``
names the bits that must be set in capitals and those that may be in small letters ("Ra":
RST, with or without ACK); every other bit must be clear, except PSH, which counts only when
named. Segments an expectation skips are held for the next ones. A matched
segment updates the state: RCV.NXT over in-order data and FIN, what the DUT acknowledged
(``acked``), its send window and the TSval to echo. ``segment`` builds without sending, for
tests that damage a segment first.

Sequence arithmetic is modulo 2^32 (RFC 9293 3.4). Times are the DUT's clock (``dut.now()``
and each received frame's ``time``), virtual in-process, so timer tests cost no wall time.
"""

from __future__ import annotations

import itertools
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Final, NoReturn

import pytest
from scapy.layers.inet import ICMP, IP, TCP, IPerror
from scapy.layers.inet6 import ICMPv6DestUnreach, ICMPv6PacketTooBig, IPv6
from scapy.packet import Packet, Raw

from harness.dut import DUT, ExpectationFailed, Family, TCPConn
from harness.frames import l3_bytes
from harness.rfc import TCP_MIN_RTO, TIMER_EARLY

MOD: Final = 2**32
# Default MSS option: what fits a 1500-octet Ethernet link (RFC 9293 3.7.1: MTU minus the
# fixed IP and TCP headers).
DEFAULT_MSS: Final[dict[int, int]] = {4: 1460, 6: 1440}
_PORTS: Final[Iterator[int]] = itertools.count()


def seq_add(seq: int, n: int) -> int:
    """``seq + n`` in sequence space (modulo 2^32)."""
    return (seq + n) % MOD


def seq_diff(a: int, b: int) -> int:
    """``a - b`` in sequence space, as a signed distance in [-2^31, 2^31)."""
    d = (a - b) % MOD
    return d - MOD if d >= 2**31 else d


def seq_lt(a: int, b: int) -> bool:
    """RFC 9293 3.4: ``a < b`` modulo 2^32."""
    return seq_diff(a, b) < 0


def next_port() -> int:
    """A tester port no earlier peer of this process used (so no connection a previous test
    left in the DUT, in TIME-WAIT say, shares its address and port pair)."""
    return 40000 + next(_PORTS) % 20000


def option(segment: Packet, name: str) -> Any:
    """The value of TCP option ``name`` (Scapy's names: MSS, WScale, SAckOK, SAck, Timestamp)
    in ``segment``, None when absent."""
    for key, value in segment[TCP].options:
        if key == name:
            return value if name != "SAckOK" else True
    return None


@dataclass(frozen=True)
class SynOptions:
    """What one side announced in its SYN (RFC 9293 3.7.1, RFC 7323, RFC 2018); None = absent."""

    mss: int | None = None
    wscale: int | None = None
    sack_permitted: bool = False
    timestamp: tuple[int, int] | None = None

    @classmethod
    def of(cls, segment: Packet) -> SynOptions:
        ts = option(segment, "Timestamp")
        return cls(option(segment, "MSS"), option(segment, "WScale"), bool(option(segment, "SAckOK")),
                   None if ts is None else (int(ts[0]), int(ts[1])))

    def encode(self, ts_val: int) -> list[tuple[str, Any]]:
        out: list[tuple[str, Any]] = []
        if self.mss is not None:
            out.append(("MSS", self.mss))
        if self.sack_permitted:
            out.append(("SAckOK", b""))
        if self.timestamp is not None:
            out.append(("Timestamp", (ts_val, 0)))
        if self.wscale is not None:
            out += [("NOP", None), ("WScale", self.wscale)]
        return out


class _Named:
    """A predicate for ``DUT.expect`` whose name says what it checks in a mismatch report."""

    def __init__(self, name: str, test: Callable[[Any], bool]) -> None:
        self.__name__ = name
        self._test = test

    def __call__(self, value: Any) -> bool:
        return self._test(value)


Criterion = int | Callable[[Any], bool] | None
DataCriterion = bytes | Callable[[bytes], bool] | None
MAX_LISTED: Final = 20


def payload(segment: Packet) -> bytes:
    """The data octets of a TCP segment, by the IP length (not the frame's Ethernet padding)."""
    tcp = segment[TCP]
    header = tcp.dataofs * 4
    length = segment[IP].len - segment[IP].ihl * 4 - header if IP in segment else segment[IPv6].plen - header
    return bytes(tcp)[header:header + max(0, length)]


def seq_end(segment: Packet) -> int:
    """The sequence number after ``segment``'s data."""
    return seq_add(segment[TCP].seq, len(payload(segment)))


def describe(segment: Packet) -> str:
    """One line: time, flags, seq, ack, window, data length and options of a DUT's segment."""
    tcp = segment[TCP]
    opts = ",".join(f"{k}={v}" if v not in (None, b"") else str(k) for k, v in tcp.options)
    return (f"t={segment.time:.3f} {tcp.flags} seq={tcp.seq} ack={tcp.ack} win={tcp.window} "
            f"len={len(payload(segment))}" + (f" <{opts}>" if opts else ""))


def _field(name: str) -> Callable[[Packet], Any]:
    def read(segment: Packet) -> Any:
        return segment[TCP].getfieldval(name)
    return read


class _Match:
    """Criteria on a segment: (name, how to read the value, wanted value or predicate)."""

    def __init__(self, checks: list[tuple[str, Callable[[Packet], Any], Any]]) -> None:
        self.checks = checks

    def mismatches(self, seg: Packet) -> list[str]:
        out = []
        for name, read, want in self.checks:
            got = read(seg)
            ok = bool(want(got)) if callable(want) else got == want
            if not ok:
                shown = len(got) if name == "data" else got
                out.append(f"{name}={shown}" + ("" if callable(want) else f" not {len(want) if name == 'data' else want}"))
        return out

    def __call__(self, seg: Packet) -> bool:
        return not self.mismatches(seg)

    def __str__(self) -> str:
        parts = [f"{n}={getattr(w, '__name__', None) or (f'{len(w)} octets' if n == 'data' else w)}"
                 for n, w, in ((n, w) for n, _, w in self.checks)]
        return "a segment" + (f" with {', '.join(parts)}" if parts else "")


_FLAG_BITS: Final = {"F": 0x01, "S": 0x02, "R": 0x04, "P": 0x08, "A": 0x10, "U": 0x20, "E": 0x40, "C": 0x80}


def flags_are(flags: str) -> _Named:
    """Control bits: each capital letter must be set, each small one may be, every other bit
    must be clear, except PSH, which only counts when named ("FA": FIN+ACK, "Ra": RST with or
    without ACK, "PA": PSH+ACK)."""
    must = sum(_FLAG_BITS[f] for f in flags if f.isupper())
    may = sum(_FLAG_BITS[f.upper()] for f in flags if f.islower())
    care = 0xFF & ~may & ~(0 if "P" in flags.upper() else _FLAG_BITS["P"])
    return _Named(f"flags_are_{flags or 'none'}", lambda got: int(got) & care == must)


class TCPPeer:
    """The tester's end of one connection to ``dut_port`` on the DUT (see the module docstring).

    ``mss``, ``wscale``, ``sack_permitted`` and ``timestamps`` are the options of the peer's SYN
    or SYN-ACK (``mss=None``: no MSS option; default what fits the link). ``window`` is the
    receive window offered, in octets (scaled down by ``wscale`` once both sides agreed to it).
    ``dut_addr``/``addr`` default to the DUT's and the tester's addresses on the test link.
    """

    def __init__(self, dut: DUT, family: Family = 4, *, dut_port: int, port: int | None = None,
                 isn: int | None = None, mss: int | None = -1, wscale: int | None = None,
                 sack_permitted: bool = False, timestamps: bool = False, window: int = 65535,
                 dut_addr: str | None = None, addr: str | None = None, ts_val: int = 1_000_000) -> None:
        info = dut.info
        self.dut, self.family, self.dut_port = dut, family, dut_port
        self.port = next_port() if port is None else port
        self.addr = addr or str(info.tester_ipv4 if family == 4 else info.tester_ipv6)
        self.dut_addr = dut_addr or str(info.dut_ipv4.ip if family == 4 else info.dut_ipv6.ip)
        self.syn_options = SynOptions(DEFAULT_MSS[family] if mss == -1 else mss, wscale, sack_permitted,
                                      (ts_val, 0) if timestamps else None)
        self.iss = (self.port * 0x9E3779B1) % MOD if isn is None else isn % MOD
        self.snd_nxt = self.iss  # next sequence number the peer sends
        self.acked = self.iss  # highest acknowledgment the DUT sent (SND.UNA as the DUT sees it)
        self.window = window
        self.ts_val = ts_val  # the next TSval the peer sends; one more per segment
        self.irs: int | None = None  # the DUT's initial sequence number
        self.rcv_nxt = 0  # next sequence number expected from the DUT
        self.dut_syn = SynOptions()  # what the DUT's SYN or SYN-ACK carried
        self.dut_window = 0  # the DUT's last send window to us, in octets
        self.ts_recent: int | None = None  # the DUT's last TSval, echoed in TSecr
        self.received = bytearray()  # the DUT's data, in order
        self.fin_received = False
        self.last_sent = 0.0  # DUT time just before the peer's last segment left
        self._held: deque[Packet] = deque(maxlen=10_000)  # the DUT's segments no expect took yet

    @classmethod
    def for_connection(cls, dut: DUT, conn: TCPConn, **kwargs: Any) -> TCPPeer:
        """The peer of a connection the DUT opened (``tcp_connect``) or accepted."""
        return cls(dut, conn.family, dut_port=conn.local_port, port=conn.remote_port, dut_addr=conn.local,
                   addr=conn.remote, **kwargs)

    # ---- what both SYNs agreed (RFC 7323 1.3, 2.2, 3.2; RFC 2018 2) ----------------------------
    @property
    def ws_ok(self) -> bool:
        return self.syn_options.wscale is not None and self.dut_syn.wscale is not None

    @property
    def ts_ok(self) -> bool:
        return self.syn_options.timestamp is not None and self.dut_syn.timestamp is not None

    @property
    def sack_ok(self) -> bool:
        return self.syn_options.sack_permitted and self.dut_syn.sack_permitted

    @property
    def mss(self) -> int:
        """The largest segment the peer may send (RFC 9293 3.7.1: the DUT's MSS option, else
        the default: 536 octets over IPv4, 1220 over IPv6)."""
        return self.dut_syn.mss or (536 if self.family == 4 else 1220)

    # ---- building and sending ------------------------------------------------------------------
    def ip(self, **fields: Any) -> Packet:
        """Ether/IP (or IPv6) from the peer to the DUT's end of the connection."""
        if self.family == 4:
            return self.dut.ipv4(src=self.addr, dst=self.dut_addr, **fields)
        return self.dut.ipv6(src=self.addr, dst=self.dut_addr, **fields)

    def segment(self, flags: str = "A", data: bytes = b"", *, seq: int | None = None, ack: int | None = None,
                window: int | None = None, options: list[tuple[str, Any]] | None = None, **tcp: Any) -> Packet:
        """A segment from the peer's state; every argument given overrides it. ``window`` is
        in octets (scaled down as agreed); ``options`` None = the peer's usual ones."""
        syn = "S" in flags
        if options is None:
            options = self.syn_options.encode(self.ts_val) if syn else []
            if self.ts_ok and not syn and "R" not in flags:
                # RFC 7323 3.2: once negotiated, "the TSopt MUST be sent in every non-<RST> segment".
                options = [("NOP", None), ("NOP", None), ("Timestamp", (self.ts_val, self.ts_recent or 0))]
            elif syn and self.syn_options.timestamp is not None and self.ts_recent is not None:
                options = [(k, (self.ts_val, self.ts_recent) if k == "Timestamp" else v) for k, v in options]
        octets = self.window if window is None else window
        shift = self.syn_options.wscale if self.ws_ok and not syn else 0
        fields: dict[str, Any] = {
            "sport": self.port, "dport": self.dut_port, "flags": flags,
            "seq": self.snd_nxt if seq is None else seq % MOD,
            "ack": (self.rcv_nxt if "A" in flags else 0) if ack is None else ack % MOD,
            "window": min(0xFFFF, octets >> (shift or 0)), "options": options, **tcp,
        }
        seg = self.ip() / TCP(**fields)
        return seg / Raw(data) if data else seg

    def send(self, flags: str = "A", data: bytes = b"", *, advance: bool | None = None, **kwargs: Any) -> Packet:
        """Send ``segment(flags, data, **kwargs)``; SND.NXT moves over it when it starts there
        (or ``advance`` says so)."""
        seg = self.segment(flags, data, **kwargs)
        self.send_segment(seg, advance=advance)
        return seg

    def send_segment(self, seg: Packet, *, advance: bool | None = None) -> None:
        """Send a segment built (and perhaps altered) by the test, keeping the state in step."""
        self.send_segments([seg], advance=advance)

    def send_segments(self, segments: list[Packet], *, advance: bool | None = None) -> None:
        """Send segments built by the test back to back in one write to the DUT (a loaded tester
        is not descheduled between them), keeping the state in step; ``last_sent`` is the time
        just before the write."""
        raws = []
        for seg in segments:
            tcp = seg[TCP]
            data = bytes(tcp.payload.load) if isinstance(tcp.payload, Raw) else b""
            length = len(data) + int("S" in tcp.flags) + int("F" in tcp.flags)  # SYN and FIN take one each
            moves = tcp.seq == self.snd_nxt if advance is None else advance
            if moves:
                self.snd_nxt = seq_add(tcp.seq, length)
            raws.append(bytes(seg))  # built first: on a loaded tester a build takes milliseconds
            self.ts_val += 1
        self.last_sent = self.dut.now()
        self.dut.send(*raws)

    def send_data(self, data: bytes, flags: str = "PA", **kwargs: Any) -> Packet:
        return self.send(flags, data, **kwargs)

    def send_ack(self, **kwargs: Any) -> Packet:
        return self.send("A", **kwargs)

    def send_fin(self, data: bytes = b"", **kwargs: Any) -> Packet:
        return self.send("FA", data, **kwargs)

    def send_rst(self, *, seq: int | None = None, ack: int | None = None, flags: str = "R") -> Packet:
        """A RST (RFC 9293 3.5.2), at SND.NXT unless ``seq`` says otherwise; it never moves SND.NXT."""
        return self.send(flags, seq=seq, ack=ack, advance=False)

    # ---- expecting -----------------------------------------------------------------------------
    def template(self, **tcp: Any) -> Packet:
        """IP/TCP template of this connection's segments from the DUT, with ``tcp`` fields."""
        l3 = IP(src=self.dut_addr, dst=self.addr) if self.family == 4 else IPv6(src=self.dut_addr, dst=self.addr)
        return l3 / TCP(sport=self.dut_port, dport=self.port, **tcp)

    def _matcher(self, flags: str | None, seq: Criterion, ack: Criterion, window: Criterion, data: DataCriterion,
                 tcp: dict[str, Any]) -> _Match:
        checks: list[tuple[str, Callable[[Packet], Any], Any]] = []
        if flags is not None:
            checks.append(("flags", _field("flags"), flags_are(flags)))
        for name, value in (("seq", seq), ("ack", ack), ("window", window), *tcp.items()):
            if value is not None:
                want = value % MOD if isinstance(value, int) and name in ("seq", "ack") else value
                checks.append((name, _field(name), want))
        if data is not None:
            checks.append(("data", payload, data))
        return _Match(checks)

    def _take(self, match: _Match, within: float) -> Packet | None:
        """The first segment of this connection (held, or arriving within ``within``) that
        ``match``es, taken out; segments that do not match are held for later expectations."""
        for seg in self._held:
            if match(seg):
                self._held.remove(seg)
                return seg
        deadline = self.dut.now() + within
        while True:
            try:
                seg = self.dut.expect(self.template(), within=max(0.0, deadline - self.dut.now()))
            except ExpectationFailed:
                return None
            if match(seg):
                return seg
            self._held.append(seg)

    def expect(self, flags: str | None = None, *, seq: Criterion = None, ack: Criterion = None,
               window: Criterion = None, data: DataCriterion = None, within: float = 2.0, update: bool = True,
               **tcp: Any) -> Packet:
        """The next segment of this connection from the DUT matching every criterion given
        (``seq``/``ack``/``window`` and other TCP fields: a value or a predicate; ``window`` as
        on the wire; ``data``: exactly these octets, b"" for none, or a predicate on them). Segments that do not match
        are held for later expectations. ``update=False`` leaves the peer's state alone."""
        match = self._matcher(flags, seq, ack, window, data, tcp)
        seg = self._take(match, within)
        if seg is None:
            raise ExpectationFailed(self._report(f"expected {match} within {within:g} s", match))
        if update:
            self.update(seg)
        return seg

    def expect_none(self, flags: str | None = None, *, seq: Criterion = None, ack: Criterion = None,
                    window: Criterion = None, data: DataCriterion = None, within: float = 2.0,
                    since: float | None = None, **tcp: Any) -> None:
        """No segment of this connection matching the criteria within ``within`` seconds, from
        now or from ``since`` (a DUT time already past, as in ``DUT.expect_none``); a segment
        that came after the window closed is held for later, however late it is read."""
        match = self._matcher(flags, seq, ack, window, data, tcp)
        opens = self.dut.now() if since is None else float(since)
        deadline = opens + within
        for seg in self._held:
            if match(seg) and (since is None or opens <= float(seg.time) <= deadline):
                self._fail_unwanted(match, within, seg)
        while True:
            try:
                seg = self.dut.expect(self.template(), within=max(0.0, deadline - self.dut.now()))
            except ExpectationFailed:
                return
            self._held.append(seg)
            if float(seg.time) > deadline:
                return
            if since is not None and float(seg.time) < opens:
                continue  # read only now, but it came before the window opened
            if match(seg):
                self._held.remove(seg)
                self._held.appendleft(seg)
                self._fail_unwanted(match, within, seg)

    def _fail_unwanted(self, match: _Match, within: float, seg: Packet) -> NoReturn:
        raise ExpectationFailed(self._report(f"expected no {match} within {within:g} s, got {describe(seg)}", match))

    def _report(self, head: str, match: _Match) -> str:
        held = list(self._held)[-MAX_LISTED:]
        if not held:
            return f"{head}; the DUT sent no other segment on this connection"
        lines = [f"{head}; the DUT's other segments on this connection:"]
        lines += [f"  {describe(s)}  [{'; '.join(match.mismatches(s))}]" for s in held]
        return "\n".join(lines)

    def put_back(self, seg: Packet) -> None:
        """Return a segment an expectation took, so the next expectation sees it first."""
        self._held.appendleft(seg)

    def take_all(self) -> list[Packet]:
        """Take in every segment of this connection the DUT sent so far (held ones too), without
        waiting, and forget them: a later expectation sees only what comes after."""
        taken = list(self._held)
        self._held.clear()
        while True:
            try:
                taken.append(self.dut.expect(self.template(), within=0.0))
            except ExpectationFailed:
                break
        for seg in taken:
            self.update(seg)
        return taken

    def update(self, seg: Packet) -> None:
        """Take in a segment from the DUT: its SYN and options, in-order data and FIN, its
        acknowledgment, window and TSval."""
        tcp = seg[TCP]
        flags = tcp.flags
        start = tcp.seq
        if "S" in flags:
            self.irs, self.dut_syn = tcp.seq, SynOptions.of(seg)
            self.rcv_nxt = start = seq_add(tcp.seq, 1)
        data = payload(seg)
        overlap = seq_diff(self.rcv_nxt, start)
        if 0 <= overlap < len(data) or (overlap == len(data) and "F" in flags):
            self.received += data[overlap:]
            self.rcv_nxt = seq_add(start, len(data))
            if "F" in flags:
                self.rcv_nxt = seq_add(self.rcv_nxt, 1)
                self.fin_received = True
        if "A" in flags and seq_lt(self.acked, tcp.ack):
            self.acked = tcp.ack
        if "R" not in flags:
            shift = self.dut_syn.wscale if self.ws_ok and "S" not in flags else 0
            self.dut_window = tcp.window << (shift or 0)
        ts = option(seg, "Timestamp")
        if ts is not None:
            self.ts_recent = int(ts[0])

    # ---- opening -------------------------------------------------------------------------------
    def send_syn(self, **kwargs: Any) -> Packet:
        return self.send("S", seq=self.iss, **kwargs)

    def connect(self, *, within: float = 2.0, rtt: float = 0.0) -> Packet:
        """Open a connection to the DUT's listener (RFC 9293 3.5, figure 6): SYN, the DUT's
        SYN-ACK acknowledging it, ACK. Returns the SYN-ACK. The ACK waits ``rtt`` seconds: a
        path that long, so the DUT's first round-trip sample, and with it its retransmission
        timeout (RFC 6298 2.2: about three times the sample), gives a loaded tester time to
        answer its segments before that timer runs out."""
        self.send_syn()
        synack = self.expect("SA", ack=seq_add(self.iss, 1), within=within)
        if rtt:
            self.dut.wait(rtt)
        self.send_ack()
        return synack

    def connect_accepted(self, *, within: float = 2.0, rtt: float = 0.0) -> TCPConn:
        """``connect``, then the DUT application's ``tcp_accept`` of the connection."""
        self.connect(within=within, rtt=rtt)
        conn = self.dut.tcp_accept(self.dut_port, self.family, within=within)
        assert conn is not None, f"the DUT's listener on port {self.dut_port} accepted no connection"
        assert conn.remote_port == self.port, f"accepted {conn}, not the peer's connection from port {self.port}"
        return conn

    def accept(self, *, within: float = 2.0) -> Packet:
        """Answer the DUT's active open (``tcp_connect``): its SYN, the peer's SYN-ACK, and the
        DUT's ACK completing the handshake. Returns the DUT's SYN."""
        syn = self.expect("S", within=within)
        self.send("SA", seq=self.iss)
        self.expect("A", ack=self.snd_nxt, within=within)
        return syn

    # ---- data from the DUT ---------------------------------------------------------------------
    def receive(self, octets: int, *, within: float = 5.0, ack: bool = True) -> bytes:
        """The DUT's next ``octets`` of data in order, acknowledging each segment (unless
        ``ack`` is False); retransmissions of data already held are taken in and acknowledged."""
        start = len(self.received)
        deadline = self.dut.now() + within
        while len(self.received) - start < octets:
            remaining = max(0.0, deadline - self.dut.now())
            self.expect(within=remaining)
            if ack:
                self.send_ack()
        return bytes(self.received[start:start + octets])

    # ---- ICMP errors about the connection (RFC 5927, RFC 1122 4.2.3.9) -------------------------
    def icmp_error(self, about: Packet, *, type: int = 3, code: int = 1, mtu: int | None = None,
                   src: str | None = None) -> Packet:
        """An ICMP(v6) error from ``src`` (the tester) about the DUT's segment ``about``, quoting
        as much of it as RFC 792 / RFC 4443 allow. ``type`` and ``code`` are ICMPv4's; over
        IPv6 Destination Unreachable (3) maps to ICMPv6 type 1 with ``code`` as given, and
        ``mtu`` with type 3 code 4 (Fragmentation Needed) to Packet Too Big."""
        quote = l3_bytes(about)
        origin = src or self.addr
        if self.family == 4:
            icmp = ICMP(type=type, code=code, nexthopmtu=mtu or 0) if mtu else ICMP(type=type, code=code)
            return self.dut.ipv4(src=origin, dst=self.dut_addr) / icmp / IPerror(quote[:576 - 28])
        if mtu is not None:
            msg: Packet = ICMPv6PacketTooBig(mtu=mtu)
        else:
            msg = ICMPv6DestUnreach(code=code)
        return self.dut.ipv6(src=origin, dst=self.dut_addr) / msg / Raw(quote[:1280 - 48])


def datagram_size(segment: Packet) -> int:
    """The size of the IP datagram carrying ``segment``."""
    return len(bytes(segment[IP] if IP in segment else segment[IPv6]))


def resent_smaller(peer: TCPPeer, big: Packet, *, size: Callable[[Packet], int] = datagram_size,
                   within: float = 3.0) -> tuple[Packet, int]:
    """After an ICMP error about ``big`` (RFC 1191 / RFC 8201): the first copy of its data in a
    datagram smaller than it (by ``size``) within ``within`` seconds, and how many copies as large
    came before. Those are the retransmission timer's, run out before the error message was taken
    in (Linux's floor is 200 ms: a loaded tester sends the message later than that); a DUT that
    never sends the data smaller fails."""
    deadline = peer.dut.now() + within
    same = 0
    while True:
        try:
            copy = peer.expect(seq=big[TCP].seq, data=lambda d: len(d) > 0,
                               within=max(0.0, deadline - peer.dut.now()), update=False)
        except AssertionError:
            raise AssertionError(f"after the error message about a {size(big)}-octet datagram the data went "
                                 f"again {same} time(s) in {size(big)} octets, never smaller") from None
        if size(copy) < size(big):
            return copy, same
        same += 1


def skip_unless_tiny_rtt_sample(peer: TCPPeer, synack: Packet) -> None:
    """Skip where the tester acknowledged the DUT's SYN,ACK ``synack`` so late that the DUT's RTO is
    above the 1-s floor a test times: RFC 6298 2.2 makes the first RTO "SRTT + max (G, K*RTTVAR)",
    the sample plus four times half of it, and 2.4 rounds up only the ones under 1 second."""
    sample = peer.last_sent - float(synack.time)
    if 3 * sample > TCP_MIN_RTO - TIMER_EARLY:
        pytest.skip(f"the tester acknowledged the DUT's SYN,ACK {sample:.3f} s after it came: from that RTT sample "
                    f"RFC 6298 2.2 gives an RTO of {3 * sample:.2f} s, not the 1-s one this test times (a loaded tester)")


def established(dut: DUT, port: int, family: Family = 4, *, listen_options: dict[str, Any] | None = None,
                rtt: float = 0.0, **peer: Any) -> tuple[TCPPeer, TCPConn]:
    """A connection the peer opened to a new DUT listener on ``port`` and the DUT accepted (its
    handshake taking ``rtt`` seconds, see ``TCPPeer.connect``)."""
    dut.tcp_listen(port, family, options=listen_options)  # type: ignore[arg-type]
    tester = TCPPeer(dut, family, dut_port=port, **peer)
    return tester, tester.connect_accepted(rtt=rtt)


def opened_by_dut(dut: DUT, port: int, family: Family = 4, *, options: dict[str, Any] | None = None,
                  **peer: Any) -> tuple[TCPPeer, TCPConn]:
    """A connection the DUT opened (``tcp_connect``) to the peer's ``port``, handshake done."""
    info = dut.info
    conn = dut.tcp_connect(str(info.tester_ipv4 if family == 4 else info.tester_ipv6), port,
                           options=options)  # type: ignore[arg-type]
    tester = TCPPeer.for_connection(dut, conn, **peer)
    tester.accept()
    return tester, conn
