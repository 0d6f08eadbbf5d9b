"""What the two SYNs settle: the options each side offers and what is in force afterwards (RFC
7323 window scale and timestamps, RFC 2018 SACK-permitted), and the segment sizes (RFC 9293
3.7.1, RFC 6691): the MSS we announce and the effective send MSS."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from stack_under_test import params
from stack_under_test.wire.tcp import HEADER_LEN, TIMESTAMPS_LEN, TCPOptions

IP_HEADER_LEN: Final = {4: 20, 6: 40}
DEFAULT_SEND_MSS: Final = {4: params.TCP_DEFAULT_MSS_IPV4, 6: params.TCP_DEFAULT_MSS_IPV6}
MAX_SHIFT: Final = params.TCP_MAX_WINDOW_SHIFT


@dataclass(frozen=True, slots=True)
class Offer:
    """The options our SYN (or SYN-ACK) carries."""

    mss: int
    window_shift: int | None  # None: no Window Scale option
    sack_permitted: bool
    timestamps: bool


@dataclass(frozen=True, slots=True)
class Agreement:
    """What holds for the connection once both SYNs were seen."""

    send_shift: int  # Snd.Wind.Shift: applied to the peer's windows
    receive_shift: int  # Rcv.Wind.Shift: applied to ours
    sack: bool
    timestamps: bool
    peer_mss: int  # SendMSS: the peer's MSS option, or the default


def announced_mss(mtu: int, family: int, maxseg: int | None) -> int:
    """RFC 9293 3.7.1: "The MSS value to be sent in an MSS Option should be equal to the effective
    MTU minus the fixed IP and TCP headers"; TCP_MAXSEG set before the SYN lowers it (as on Linux)."""
    mss = mtu - IP_HEADER_LEN[family] - HEADER_LEN
    return max(1, min(mss, maxseg) if maxseg is not None else mss)


def window_shift(rcvbuf: int, locked: bool) -> int:
    """The smallest shift that lets the window cover the receive buffer (RFC 7323 2.3: "R is the
    value that the TCP would like to use for its receive window"). Like Linux, the largest buffer
    the socket may grow to decides unless the application fixed the buffer before the SYN."""
    space = rcvbuf if locked else max(rcvbuf, params.TCP_MAX_BUFFER)
    shift = 0
    while space >> shift > 0xFFFF and shift < MAX_SHIFT:
        shift += 1
    return shift


def agree(offer: Offer, peer: TCPOptions, family: int) -> Agreement:
    """Combine our SYN's offer with the options of the peer's SYN."""
    both_scale = offer.window_shift is not None and peer.window_scale is not None
    # RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the
    # TCP SHOULD log the error but MUST use 14 instead of the specified value."
    send_shift = min(peer.window_scale or 0, MAX_SHIFT) if both_scale else 0
    # RFC 7323 2.3: "Upon receiving a <SYN> segment with a Window Scale option containing shift.cnt =
    # S, a TCP MUST set Snd.Wind.Shift to S and MUST set Rcv.Wind.Shift to R; otherwise, it MUST set
    # both Snd.Wind.Shift and Rcv.Wind.Shift to zero."
    receive_shift = (offer.window_shift or 0) if both_scale else 0
    # RFC 9293 3.7.1 (MUST-15): without an MSS option "assume a default send MSS of 536 (576 - 40)
    # for IPv4 or 1220 (1280 - 60) for IPv6". An MSS of 0 is as good as none (Linux does the same).
    peer_mss = peer.mss if peer.mss else DEFAULT_SEND_MSS[family]
    return Agreement(
        send_shift=send_shift,
        receive_shift=receive_shift,
        # RFC 2018 4: "If the data receiver has not received a SACK-Permitted option for a given
        # connection, it MUST NOT send SACK options on that connection."
        sack=offer.sack_permitted and peer.sack_permitted,
        # RFC 7323 3.2: "Once TSopt has been successfully negotiated, that is both <SYN> and
        # <SYN,ACK> contain TSopt, the TSopt MUST be sent in every non-<RST> segment".
        timestamps=offer.timestamps and peer.timestamps is not None,
        peer_mss=peer_mss,
    )


def effective_send_mss(peer_mss: int, path_mtu: int, family: int, timestamps: bool, maxseg: int | None) -> int:
    """RFC 9293 3.7.1: "Eff.snd.MSS = min(SendMSS+20, MMS_S) - TCPhdrsize - IPoptionsize", where
    TCPhdrsize counts "the fixed TCP header and any options" (here the 12 octets of timestamps
    every segment carries) and MMS_S is the path MTU less the IP header. MUST-16 makes it "the
    smaller", so a tiny MSS option is obeyed (Linux raises it to 48 octets; the RFC decides); at
    least one octet of data still fits, or nothing could ever be sent."""
    mms_s = path_mtu - IP_HEADER_LEN[family]
    mss = min(peer_mss + HEADER_LEN, mms_s) - HEADER_LEN - (TIMESTAMPS_LEN if timestamps else 0)
    if maxseg is not None:
        mss = min(mss, maxseg)
    return max(1, mss)
