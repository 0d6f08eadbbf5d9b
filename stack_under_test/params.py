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

# ---- IPv4 options, ICMP errors, forwarding ----------------------------------------------
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

# ---- IGMP / multicast listeners --------------------------------------------------------
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
# RFC 1191 6.3: "The recommended setting for this timer is twice its minimum value (10 minutes)."
IPV4_PMTU_EXPIRY_MS: Final = 600_000
DUP_ADDR_DETECT_TRANSMITS: Final = 1  # RFC 4862 5.1
# RFC 4861 7.1.1/7.1.2: "The IP Hop Limit field has a value of 255, i.e., the packet could not
# possibly have been forwarded by a router." We send every ND message (Redirect too) with it.
NDP_HOP_LIMIT: Final = 255

# ---- Router discovery, DAD, SLAAC ------------------------------------------------------
# RFC 4861 6.3.4: "a host MUST retain at least two router addresses and SHOULD retain more";
# bounded memory for the Default Router List, the Prefix List and Route Information routes.
MAX_DEFAULT_ROUTERS: Final = 16
MAX_RA_PREFIXES: Final = 16
MAX_RA_ROUTES: Final = 16
# RFC 4861 4.6.2 / RFC 4191 2.3: "A value of all one bits (0xffffffff) represents infinity."
INFINITE_LIFETIME_S: Final = 0xFFFFFFFF
# RFC 4861 6.2.1: AdvReachableTime "MUST be no greater than 3,600,000 milliseconds (1 hour)".
MAX_REACHABLE_TIME_MS: Final = 3_600_000
# RFC 4862 5.5.3 e: the two-hour rule against valid lifetimes shortened by unauthenticated RAs.
SLAAC_TWO_HOURS_MS: Final = 7_200_000
# RFC 4862 5.5.3 d: on Ethernet the interface identifier is 64 bits (RFC 2464 4).
INTERFACE_ID_BITS: Final = 64
# Hard cap on autoconfigured addresses when max_addresses is 0 (Linux: "0 = unlimited").
MAX_AUTOCONF_ADDRESSES: Final = 256
# RFC 7217 7: "IDGEN_RETRIES: default value: 3"; RFC 8981 3.8 TEMP_IDGEN_RETRIES: "Default value: 3".
IDGEN_RETRIES: Final = 3
# RFC 7217 7: "IDGEN_DELAY: defaults to 1 second."
IDGEN_DELAY_MS: Final = 1_000
# RFC 8981 3.8: TEMP_VALID_LIFETIME "Default value: 2 days", TEMP_PREFERRED_LIFETIME "Default
# value: 1 day", MAX_DESYNC_FACTOR "0.4 * TEMP_PREFERRED_LIFETIME".
TEMP_VALID_LIFETIME_MS: Final = 2 * 86_400_000
TEMP_PREFERRED_LIFETIME_MS: Final = 86_400_000
MAX_DESYNC_FACTOR_MS: Final = 34_560_000
# RFC 8504 5.3: "the default value SHOULD be set to 8" (non-padding options per Destination or
# Hop-by-Hop Options header; Linux max_dst_opts_number / max_hbh_opts_number).
MAX_EXT_HEADER_OPTIONS: Final = 8
# DAD failures remembered per NIC for diagnostics (RFC 4862 5.4.5: "SHOULD log a system
# management error").
DAD_FAILURE_LOG_LEN: Final = 16

# ---- Fragment reassembly, both families ------------------------------------------------
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
# packet of each set of packets destined to the same unresolved IP address"; RFC 4861 7.2.2 "a small
# queue". Bounded in octets per neighbor like Linux's unres_qlen_bytes (default SK_WMEM_MAX,
# 212992), so all fragments of a 64 KiB datagram wait together; plus a bound over the table.
NEIGHBOR_PENDING_QUEUE_BYTES: Final = 212_992
NEIGHBOR_PENDING_TOTAL_BYTES: Final = 4 * 1024 * 1024
# RFC 4861 10: MIN_RANDOM_FACTOR .5, MAX_RANDOM_FACTOR 1.5 (as percent: ints only); ReachableTime is
# drawn again when BaseReachableTime changes and "at least every few hours" (Linux: every 300 s).
MIN_RANDOM_FACTOR_PERCENT: Final = 50
MAX_RANDOM_FACTOR_PERCENT: Final = 150
REACHABLE_TIME_RECOMPUTE_MS: Final = 300_000
# RFC 4191 3.5: router reachability probes "MUST be rate-limited to no more than one per minute per
# router" (Linux rtr_probe_interval: 60 s).
ROUTER_PROBE_INTERVAL_MS: Final = 60_000
# RFC 4861 10: MAX_NEIGHBOR_ADVERTISEMENT 3 transmissions (unsolicited advertisements, 7.2.6).
MAX_NEIGHBOR_ADVERTISEMENT: Final = 3
# RFC 4861 7.2.6: between the advertisements of a node's several addresses "the node SHOULD
# introduce a small delay"; ours is this many ms per address.
UNSOLICITED_ADVERT_SPACING_MS: Final = 20
# RFC 4861 10: MAX_ANYCAST_DELAY_TIME 1 second; 7.2.7 "the sender SHOULD delay sending a response
# for a random time between 0 and MAX_ANYCAST_DELAY_TIME seconds".
MAX_ANYCAST_DELAY_TIME_MS: Final = 1_000
# Delayed anycast advertisements waiting at once per NIC (Linux proxy_qlen default 64).
ANYCAST_DELAYED_ADVERTS_MAX: Final = 64
# RFC 4861 8.3 leaves the Destination Cache size open; redirect host routes kept (oldest go first).
MAX_REDIRECT_ROUTES: Final = 1024
# How long a neighbour whose resolution or re-validation failed counts as dead when choosing among
# gateways (RFC 1122 3.3.1.4); then it is tried again (Linux: a FAILED entry goes at the next
# garbage collection, gc_stale_time 60 s at most).
FAILED_NEIGHBOR_MEMORY_MS: Final = 60_000
NEIGHBOR_CACHE_SIZE: Final = 512  # bounded memory; Linux gc_thresh3 is 1024

# ---- UDP --------------------------------------------------------------------------------
UDP_RECEIVE_QUEUE_LEN: Final = 256  # datagrams per socket before new ones are dropped
# ICMP errors a UDP socket keeps for its application (RFC 1122 4.1.3.3); the oldest go first.
UDP_ERROR_QUEUE_LEN: Final = 16
EPHEMERAL_PORT_FIRST: Final = 32768  # Linux ip_local_port_range
EPHEMERAL_PORT_LAST: Final = 60999

# ---- TCP (RFC 9293 and the RFCs it names; transport/tcp/) ---------------------------------
# RFC 9293 3.7.1: "If an MSS Option is not received at connection setup, TCP implementations MUST
# assume a default send MSS of 536 (576 - 40) for IPv4 or 1220 (1280 - 60) for IPv6 (MUST-15)."
TCP_DEFAULT_MSS_IPV4: Final = 536
TCP_DEFAULT_MSS_IPV6: Final = 1220
# RFC 6298 2.1: "the sender SHOULD set RTO <- 1 second"; 2.4: "if it is less than 1 second, then
# the RTO SHOULD be rounded up to 1 second" (Linux uses 200 ms; the RFC decides); 2.5: a maximum
# "at least 60 seconds" (Linux TCP_RTO_MAX 120 s); 5.7: 3 s once the SYN had to be retransmitted.
TCP_INITIAL_RTO_MS: Final = 1_000
TCP_MIN_RTO_MS: Final = 1_000
TCP_MAX_RTO_MS: Final = 120_000
TCP_SYN_FALLBACK_RTO_MS: Final = 3_000
# RFC 9293 3.8.3: "The value of R1 SHOULD correspond to at least 3 retransmissions"; R2 "at least
# 100 seconds" (Linux tcp_retries2 15, about 15 minutes); for a SYN "at least 3 minutes (MUST-23)":
# 8 retransmissions of a SYN span 247 s with the back-off capped at 120 s (Linux's 6 span 63 s).
TCP_RETRIES1: Final = 3
TCP_RETRIES2: Final = 15
TCP_SYN_RETRIES: Final = 8
TCP_SYNACK_RETRIES: Final = 5  # Linux tcp_synack_retries: a half-open connection lives ~63 s
# RFC 9293 3.4.2: "For this specification the MSL is taken to be 2 minutes" (Linux: 60 s TIME-WAIT).
TCP_MSL_MS: Final = 120_000
# RFC 1122 4.2.3.2: an ACK "MUST NOT be excessively delayed; in particular, the delay MUST be less
# than 0.5 seconds"; Linux's TCP_DELACK_MAX is 200 ms.
TCP_DELAYED_ACK_MS: Final = 200
# RFC 1122 4.2.3.6: the keep-alive interval "MUST default to no less than two hours"; Linux
# tcp_keepalive_time 7200 s, tcp_keepalive_intvl 75 s, tcp_keepalive_probes 9.
TCP_KEEPALIVE_IDLE_MS: Final = 7_200_000
TCP_KEEPALIVE_INTERVAL_MS: Final = 75_000
TCP_KEEPALIVE_COUNT: Final = 9
# An orphaned connection (closed by the application) waiting in FIN-WAIT-2 for the peer's FIN is
# dropped after this long (Linux tcp_fin_timeout 60 s): otherwise a silent peer keeps it forever.
TCP_FIN_TIMEOUT_MS: Final = 60_000
# Buffers (octets): Linux tcp_rmem[1] is 131072; settable up to TCP_MAX_BUFFER.
TCP_RECEIVE_BUFFER: Final = 131_072
TCP_SEND_BUFFER: Final = 131_072
TCP_MIN_BUFFER: Final = 2_048
TCP_MAX_BUFFER: Final = 4 * 1024 * 1024
# RFC 7323 2.3: "the shift count MUST be limited to 14"; we offer the shift the largest buffer
# needs (Linux derives its shift from tcp_rmem[2], 6 MiB, which gives 7).
TCP_MAX_WINDOW_SHIFT: Final = 14
# Bounded memory: segments held out of order per connection (RFC 9293 3.10.7.4 SHLD-31 "held for
# later processing"), half-open connections per listener (Linux tcp_max_syn_backlog), the largest
# listen backlog, connections in TIME-WAIT (Linux tcp_max_tw_buckets), connections in all.
TCP_OUT_OF_ORDER_SEGMENTS: Final = 256
TCP_SYN_QUEUE_LEN: Final = 256
TCP_MAX_BACKLOG: Final = 4_096
TCP_MAX_TIME_WAIT: Final = 4_096
TCP_MAX_CONNECTIONS: Final = 16_384
# RFC 5961 7: "in any 5 second window, no more than 10 challenge ACKs should be sent".
TCP_CHALLENGE_ACK_LIMIT: Final = 10
TCP_CHALLENGE_ACK_INTERVAL_MS: Final = 5_000
# RFC 7323 5.5: TS.Recent is invalidated "when a connection is idle for more than 24 days".
TCP_PAWS_IDLE_MS: Final = 24 * 24 * 3600 * 1000
# RFC 6528 3: "M is the 4 microsecond timer": 250 ticks per millisecond of the stack's clock.
TCP_ISN_TICKS_PER_MS: Final = 250
