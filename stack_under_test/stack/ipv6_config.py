"""Per-NIC IPv6 host configuration: the knobs of RFC 4861 §6.3.2/§10, RFC 4862 §5.1, RFC 3810 and
RFC 8981, named after their Linux sysctls so a harness maps one onto the other directly.

Defaults are the RFCs' (and Linux's) defaults. The network layer reads ``nic.ipv6_config`` when it
needs a value and caches none, so a change (``Stack.set_ipv6_option`` validates it) takes effect at
the next use.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final

from stack_under_test import params

# addr_gen_mode values (Linux IN6_ADDR_GEN_MODE_*): EUI-64 (RFC 4291 App. A) or the stable,
# semantically opaque interface identifiers of RFC 7217.
ADDR_GEN_EUI64: Final = 0
ADDR_GEN_STABLE_PRIVACY: Final = 2


@dataclass(slots=True)
class IPv6Config:
    # RFC 4861 §6.3.4: process Router Advertisements for host configuration (Linux accept_ra).
    # A NIC with forwarding on ignores them whatever this says (RFC 4861 §6.2.8).
    accept_ra: bool = True
    # RFC 4862 §5.5.3: form addresses from Prefix Information options with A=1 (Linux autoconf).
    autoconf: bool = True
    # RFC 4862 §5.4: run Duplicate Address Detection (Linux accept_dad): 0 off, 1 and 2 on. A
    # duplicate hardware-based (EUI-64) link-local address disables IPv6 on the interface until it
    # is brought up again with 1 and 2 alike (§5.4.5: "IP operation on the interface SHOULD be
    # disabled"): our 1 behaves like Linux's 2 here, as the RFC says SHOULD (Linux's 1 does not).
    accept_dad: int = 1
    # RFC 4862 §5.1 DupAddrDetectTransmits; 0 disables DAD (Linux dad_transmits).
    dad_transmits: int = params.DUP_ADDR_DETECT_TRANSMITS
    # RFC 4861 §10 MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL, MAX_RTR_SOLICITATION_DELAY.
    router_solicitations: int = 3
    rtr_solicit_interval_ms: int = 4_000
    rtr_solicit_delay_ms: int = 1_000
    # RFC 8981 temporary addresses: 0 off (the default: "optional"), 1 generate, 2 generate and prefer.
    use_tempaddr: int = 0
    addr_gen_mode: int = ADDR_GEN_EUI64
    # RFC 7217 §5 secret_key; None means one is drawn from the stack's rng when first needed.
    stable_secret: bytes | None = None
    # RFC 3810 §8: 0 = MLDv2 with MLDv1 compatibility, 1 = MLDv1 only, 2 = MLDv2 only.
    force_mld_version: int = 0
    # RFC 3810 §9.11 / RFC 2710 §7.10 Unsolicited Report Interval (Linux defaults: 1 s and 10 s).
    mldv2_unsolicited_report_interval_ms: int = 1_000
    mldv1_unsolicited_report_interval_ms: int = 10_000
    # RFC 4861 §10 / §6.3.2 BaseReachableTime, RetransTimer, DELAY_FIRST_PROBE_TIME,
    # MAX_MULTICAST_SOLICIT, MAX_UNICAST_SOLICIT. An RA may change the first two.
    base_reachable_time_ms: int = params.REACHABLE_TIME_MS
    retrans_time_ms: int = params.RETRANS_TIMER_MS
    delay_first_probe_time_ms: int = params.DELAY_FIRST_PROBE_TIME_MS
    mcast_solicit: int = params.MAX_MULTICAST_SOLICIT
    ucast_solicit: int = params.MAX_UNICAST_SOLICIT
    # Bound on autoconfigured addresses per NIC (Linux max_addresses, 16).
    max_addresses: int = 16
    # RFC 4191 §3.1: longest Route Information prefix accepted (Linux default 0: only ::/0).
    accept_ra_rt_info_max_plen: int = 0
    # RFC 4861 §7.2.6: announce a new link-layer address with unsolicited Neighbor Advertisements
    # ("a node MAY send up to MAX_NEIGHBOR_ADVERTISEMENT"); off by default, as Linux ndisc_notify.
    ndisc_notify: bool = False
    # RFC 2710 §4: after a suppressed Report a node "MAY send nothing" when it stops listening;
    # "If this optimization is implemented, it MUST be able to be turned off but SHOULD default
    # to on." On (True): a Done only as the last reporter (as Linux, which has no switch).
    mldv1_done_suppression: bool = True
    # RFC 4443 §3.1: "For security reasons, it is recommended that implementations SHOULD allow
    # sending of ICMP destination unreachable messages to be disabled, preferably on a
    # per-interface basis." On (True) by default: the errors RFC 4443 and RFC 1122 ask for.
    send_dest_unreachable: bool = True
    # RFC 4861 §6.3.4 CurHopLimit: the default Hop Limit, which an RA may change.
    hop_limit: int = params.IPV6_DEFAULT_HOP_LIMIT
    # RFC 8981 3.6: "implementations SHOULD provide end users with the ability to override both of
    # these default values" (TEMP_VALID_LIFETIME, TEMP_PREFERRED_LIFETIME; Linux temp_valid_lft,
    # temp_prefered_lft).
    temp_valid_lft_ms: int = params.TEMP_VALID_LIFETIME_MS
    temp_prefered_lft_ms: int = params.TEMP_PREFERRED_LIFETIME_MS
    # RFC 8504 5.3 limits on received Destination and Hop-by-Hop Options headers, as Linux's
    # net.ipv6 sysctls: the most non-padding options per header ("the default value SHOULD be set
    # to 8"; negative -n: n options and unknown ones disallowed) and the longest header in octets
    # ("the default is to accept options of any length": 0 = no limit).
    max_dst_opts_number: int = params.MAX_EXT_HEADER_OPTIONS
    max_hbh_opts_number: int = params.MAX_EXT_HEADER_OPTIONS
    max_dst_opts_length: int = 0
    max_hbh_length: int = 0


OPTION_NAMES: Final = frozenset(f.name for f in fields(IPv6Config))

# Inclusive bounds of the integer knobs (bools are 0/1); a value outside is refused.
OPTION_BOUNDS: Final[dict[str, tuple[int, int]]] = {
    "accept_dad": (0, 2),
    "dad_transmits": (0, 100),
    "router_solicitations": (0, 100),
    "rtr_solicit_interval_ms": (1, 3_600_000),
    "rtr_solicit_delay_ms": (0, 3_600_000),
    "use_tempaddr": (0, 2),
    "addr_gen_mode": (0, 3),
    "force_mld_version": (0, 2),
    "mldv2_unsolicited_report_interval_ms": (1, 3_600_000),
    "mldv1_unsolicited_report_interval_ms": (1, 3_600_000),
    "base_reachable_time_ms": (1, 3_600_000),
    "retrans_time_ms": (1, 3_600_000),
    "delay_first_probe_time_ms": (1, 3_600_000),
    "mcast_solicit": (0, 100),
    "ucast_solicit": (0, 100),
    "max_addresses": (0, 1_000),
    "accept_ra_rt_info_max_plen": (0, 128),
    "hop_limit": (1, 255),
    "temp_valid_lft_ms": (1_000, 0xFFFFFFFF * 1000),
    "temp_prefered_lft_ms": (1_000, 0xFFFFFFFF * 1000),
    "max_dst_opts_number": (-255, 255),
    "max_hbh_opts_number": (-255, 255),
    "max_dst_opts_length": (0, 0x7FFFFFFF),
    "max_hbh_length": (0, 0x7FFFFFFF),
}
