"""TCP knobs: the stack-wide ones (``TCPConfig``, Linux's net.ipv4.tcp_* sysctls) and the ones an
application sets per socket (``SocketOptions``, Linux's setsockopt options). Times in int ms."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Final

from stack_under_test import params
from stack_under_test.stack.stack import StackError


@dataclass
class TCPConfig:
    """Stack-wide behaviour; white-box tests and benches change fields on ``TCPProtocol.config``."""

    # RFC 7323 and RFC 2018 options offered in our SYNs and accepted in the peer's (Linux
    # tcp_timestamps, tcp_window_scaling, tcp_sack: all on by default).
    timestamps: bool = True
    window_scaling: bool = True
    sack: bool = True
    initial_rto_ms: int = params.TCP_INITIAL_RTO_MS
    min_rto_ms: int = params.TCP_MIN_RTO_MS
    max_rto_ms: int = params.TCP_MAX_RTO_MS
    retries1: int = params.TCP_RETRIES1
    retries2: int = params.TCP_RETRIES2
    syn_retries: int = params.TCP_SYN_RETRIES
    synack_retries: int = params.TCP_SYNACK_RETRIES
    msl_ms: int = params.TCP_MSL_MS
    delayed_ack_ms: int = params.TCP_DELAYED_ACK_MS
    fin_timeout_ms: int = params.TCP_FIN_TIMEOUT_MS
    syn_queue_len: int = params.TCP_SYN_QUEUE_LEN
    max_time_wait: int = params.TCP_MAX_TIME_WAIT
    max_connections: int = params.TCP_MAX_CONNECTIONS
    out_of_order_segments: int = params.TCP_OUT_OF_ORDER_SEGMENTS
    challenge_ack_limit: int = params.TCP_CHALLENGE_ACK_LIMIT
    challenge_ack_interval_ms: int = params.TCP_CHALLENGE_ACK_INTERVAL_MS
    # RFC 5961 5.2: "All TCP stacks MAY implement the following mitigation" (blind data injection);
    # Linux does (tcp_ack(): "If the ack is older than previous acks then we can probably ignore it").
    ack_range_check: bool = True


@dataclass
class SocketOptions:
    """What an application may set on one socket; a listener's are copied to the connections it
    accepts. Names follow Linux's options (TCP_NODELAY, SO_KEEPALIVE, TCP_KEEPIDLE, ...)."""

    nodelay: bool = False
    keepalive: bool = False  # RFC 1122 4.2.3.6: keep-alives "MUST default to off"
    keepidle_ms: int = params.TCP_KEEPALIVE_IDLE_MS
    keepintvl_ms: int = params.TCP_KEEPALIVE_INTERVAL_MS
    keepcnt: int = params.TCP_KEEPALIVE_COUNT
    maxseg: int | None = None  # TCP_MAXSEG: caps our send MSS and the MSS option we announce
    rcvbuf: int = params.TCP_RECEIVE_BUFFER
    rcvbuf_locked: bool = False  # the application set rcvbuf (it then decides the window scale)
    sndbuf: int = params.TCP_SEND_BUFFER
    user_timeout_ms: int = 0  # RFC 9293 3.8.3 R2 in time; 0 = R2 counted in retransmissions
    # RFC 9293 3.9.1.9: "The application layer MUST be able to specify the Differentiated Services
    # field for segments that are sent on a connection (MUST-48)" (IP_TOS / IPV6_TCLASS).
    tos: int = 0
    # RFC 9293 3.9.2: "The TTL value used to send TCP segments MUST be configurable (MUST-49)"
    # (IP_TTL / IPV6_UNICAST_HOPS); None = the IP layer's default.
    ttl: int | None = None

    def copy(self) -> SocketOptions:
        return dataclasses.replace(self)

    def set(self, name: str, value: int | bool) -> None:
        """Set one option by its Linux-style name (``OPTION_NAMES``); StackError if out of range."""
        if name not in OPTION_NAMES:
            raise StackError(f"unknown TCP option {name!r} (known: {', '.join(sorted(OPTION_NAMES))})")
        if name in ("nodelay", "keepalive"):
            setattr(self, name, bool(value))
            return
        low, high = _BOUNDS[name]
        number = int(value)
        if not low <= number <= high:
            raise StackError(f"TCP option {name} must be within {low}..{high}, got {value}")
        if name == "maxseg":
            self.maxseg = number
        elif name == "tos":
            # The ECN field belongs to the transport (RFC 3168 5); Linux keeps it for a stream socket.
            self.tos = number & ~0x03
        else:
            if name == "rcvbuf":
                self.rcvbuf_locked = True
            setattr(self, name, number)


# Bounds as Linux enforces them: TCP_MAXSEG 88..32767 (TCP_MIN_MSS), keep-alive idle and interval
# 1..32767 s, count 1..127; buffers from our minimum to our maximum.
_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "keepidle_ms": (1_000, 32_767_000),
    "keepintvl_ms": (1_000, 32_767_000),
    "keepcnt": (1, 127),
    "maxseg": (88, 32_767),
    "rcvbuf": (params.TCP_MIN_BUFFER, params.TCP_MAX_BUFFER),
    "sndbuf": (params.TCP_MIN_BUFFER, params.TCP_MAX_BUFFER),
    "user_timeout_ms": (0, 2**31 - 1),
    "tos": (0, 255),
    "ttl": (1, 255),
}
OPTION_NAMES: Final = frozenset({"nodelay", "keepalive", *_BOUNDS})
