"""Every protocol constant and default of the stack, with the RFC section that sets it.

Times are int milliseconds; sizes are octets. The harness keeps its own copies
(harness/rfc.py) on purpose: one wrong constant must not make both sides agree.
"""

from __future__ import annotations

from typing import Final

# ---- Link -------------------------------------------------------------------------------
ETHERNET_MTU: Final = 1500  # RFC 894: "the maximum length of the data field is 1500 octets"
CHANNEL_OUTBOUND_LIMIT: Final = 4096  # frames a ChannelEndpoint holds before it drops (bounded memory)

# ---- IPv4 -------------------------------------------------------------------------------
# RFC 1700 / RFC 1122 3.2.1.7: a fixed TTL; Linux uses 64 (net.ipv4.ip_default_ttl).
IPV4_DEFAULT_TTL: Final = 64
# RFC 791: "Every internet module must be able to forward a datagram of 68 octets"
IPV4_MIN_MTU: Final = 68
# RFC 1122 3.2.2: an ICMP error quotes "the Internet header and at least the first 8 data octets";
# RFC 1812 4.3.2.3 lets it grow while "the ICMP datagram does not exceed 576 bytes".
ICMPV4_ERROR_QUOTE_MIN: Final = 8
ICMPV4_ERROR_MAX_LEN: Final = 576
# RFC 791 3.2 / RFC 1122 3.3.2: "the recommended timer setting is 15 seconds"; Linux uses 30 s.
IPV4_REASSEMBLY_TIMEOUT_MS: Final = 30_000

# ---- IPv6 -------------------------------------------------------------------------------
IPV6_DEFAULT_HOP_LIMIT: Final = 64  # RFC 4861 10: CurHopLimit, Linux 64
IPV6_MIN_MTU: Final = 1280  # RFC 8200 5
IPV6_REASSEMBLY_TIMEOUT_MS: Final = 60_000  # RFC 8200 4.5: "within 60 seconds"
DUP_ADDR_DETECT_TRANSMITS: Final = 1  # RFC 4862 5.1

# ---- Neighbor resolution (ARP, RFC 826 / RFC 1122 2.3.2; NDP, RFC 4861 10) --------------
# RFC 4861 10: MAX_MULTICAST_SOLICIT 3 transmissions, RETRANS_TIMER 1,000 milliseconds.
MAX_MULTICAST_SOLICIT: Final = 3
MAX_UNICAST_SOLICIT: Final = 3
RETRANS_TIMER_MS: Final = 1_000
REACHABLE_TIME_MS: Final = 30_000  # RFC 4861 10
DELAY_FIRST_PROBE_TIME_MS: Final = 5_000  # RFC 4861 10
# RFC 1122 2.3.2.2: "The link layer SHOULD save (rather than discard) at least one (the latest)
# packet of each set of packets destined to the same unresolved IP address"; Linux keeps 3.
NEIGHBOR_PENDING_QUEUE_LEN: Final = 3
NEIGHBOR_CACHE_SIZE: Final = 512  # bounded memory; Linux gc_thresh3 is 1024

# ---- UDP --------------------------------------------------------------------------------
UDP_RECEIVE_QUEUE_LEN: Final = 256  # datagrams per socket before new ones are dropped
EPHEMERAL_PORT_FIRST: Final = 32768  # Linux ip_local_port_range
EPHEMERAL_PORT_LAST: Final = 60999
