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

# ---- IPv4 options, ICMP errors, forwarding (ipv4 helper) ----------------------------------
# RFC 1812 4.3.2.8: ICMP errors SHOULD be rate limited; Linux icmp_msgs_per_sec / icmp_msgs_burst.
ICMP_RATE_PER_SECOND: Final = 1000
ICMP_RATE_BURST: Final = 50
# RFC 791 3.1 timestamps are "milliseconds since midnight UT".
MS_PER_DAY: Final = 86_400_000
# RFC 6864 4.2 / Linux ip_idents: IDs come from one of this many counters, chosen by a keyed hash
# of (source, destination, protocol), each starting at a random value.
IPV4_IDENT_BUCKETS: Final = 2048
# Redirect back-off per source, as Linux ip_rt_send_redirect(): the n-th redirect waits
# REDIRECT_LOAD_MS << n after the previous one, at most REDIRECT_NUMBER are sent, and the count
# resets after REDIRECT_SILENCE_MS without redirects (ip_rt_redirect_load/number/silence, HZ/50 based).
REDIRECT_LOAD_MS: Final = 20
REDIRECT_NUMBER: Final = 9
REDIRECT_SILENCE_MS: Final = 20 << 10

# ---- IGMP / multicast listeners (igmp helper) -------------------------------------------
# RFC 3376 8.1: "The Robustness Variable ... MUST NOT be zero, and SHOULD NOT be one. Default: 2"
# (Linux igmp_qrv 2). Unsolicited and state-change reports are sent this many times in total.
MULTICAST_ROBUSTNESS: Final = 2
# RFC 3376 8.2 "Query Interval ... Default: 125 seconds"; 8.3 "Query Response Interval ... 10 seconds".
MULTICAST_QUERY_INTERVAL_MS: Final = 125_000
MULTICAST_QUERY_RESPONSE_INTERVAL_MS: Final = 10_000
# RFC 3376 8.11 "Unsolicited Report Interval ... Default: 1 second" (Linux igmpv3_unsolicited_report_interval
# 1000 ms); RFC 2236 8.10 "Default: 10 seconds" for v1/v2 (Linux igmpv2_unsolicited_report_interval).
IGMPV3_UNSOLICITED_REPORT_INTERVAL_MS: Final = 1_000
IGMPV2_UNSOLICITED_REPORT_INTERVAL_MS: Final = 10_000
# RFC 1112 appendix I: a v1 query has no Max Resp Time; "a random value between 0 and D seconds ... 10".
IGMPV1_MAX_RESPONSE_MS: Final = 10_000
# The version a host speaks until it hears an older querier (Linux force_igmp_version=0 -> 3).
IGMP_DEFAULT_VERSION: Final = 3

# ---- IPv6 -------------------------------------------------------------------------------
IPV6_DEFAULT_HOP_LIMIT: Final = 64  # RFC 4861 10: CurHopLimit, Linux 64
IPV6_MIN_MTU: Final = 1280  # RFC 8200 5
IPV6_REASSEMBLY_TIMEOUT_MS: Final = 60_000  # RFC 8200 4.5: "within 60 seconds"
# RFC 8201 4: "The recommended setting for this timer is twice its minimum value (10 minutes)."
IPV6_PMTU_EXPIRY_MS: Final = 600_000
DUP_ADDR_DETECT_TRANSMITS: Final = 1  # RFC 4862 5.1
# RFC 4861 7.1.1/7.1.2: "The IP Hop Limit field has a value of 255, i.e., the packet could not
# possibly have been forwarded by a router." We send every ND message (Redirect too) with it.
NDP_HOP_LIMIT: Final = 255

# ---- Fragment reassembly, both families (frag helper) -----------------------------------
# RFC 1122 3.3.2 / RFC 8200 4.5 leave the resources open; Linux ipfrag_high_thresh 4 MiB and
# ipfrag_low_thresh 3 MiB: above high, the oldest datagrams are evicted until under low.
REASSEMBLY_HIGH_THRESH: Final = 4 * 1024 * 1024
REASSEMBLY_LOW_THRESH: Final = 3 * 1024 * 1024
# Fragments one datagram may have. 2048 covers the worst legitimate case, a 65,535-octet datagram
# at the IPv4 minimum MTU of 68 (RFC 791: 1,365 fragments of 48 octets); Linux has no such cap.
MAX_FRAGMENTS_PER_DATAGRAM: Final = 2048

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
