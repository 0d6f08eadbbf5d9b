"""Default source address selection, RFC 6724 section 5 (candidate set per section 4).

``select(host, dst)`` returns the packed source for a packet to ``dst`` leaving through ``host``'s NIC,
or None when no candidate exists. Candidates are compared pairwise with the eight rules in order;
the first rule that tells two candidates apart decides. When no rule does, the address that was
assigned first wins (section 5: "some unspecified tie-breaker should be used"), which keeps the
choice stable.

Policy table: the default of section 2.1. Scope: RFC 4007 / RFC 4291 2.7 for multicast, and
section 3.1 for unicast ("loopback address ... link-local scope"; fec0::/10 site-local).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from ipaddress import IPv6Address, IPv6Network
from typing import TYPE_CHECKING, Final

from stack_under_test.stack.addresses import AddressEntry, AddressState
from stack_under_test.wire.ipv6 import LOOPBACK, is_v4mapped

if TYPE_CHECKING:
    from stack_under_test.stack.interfaces import NetworkInterface

    from .contracts import IPv6Host

# RFC 4291 2.7 scope values (RFC 6724 3.1 uses the same numbering).
SCOPE_INTERFACE_LOCAL: Final = 0x1
SCOPE_LINK_LOCAL: Final = 0x2
SCOPE_SITE_LOCAL: Final = 0x5
SCOPE_GLOBAL: Final = 0xE

# RFC 6724 2.1: "the default policy table":
#       Prefix        Precedence Label
#       ::1/128               50     0
#       ::/0                  40     1
#       ::ffff:0:0/96         35     4
#       2002::/16             30     2
#       2001::/32              5     5
#       fc00::/7               3    13
#       ::/96                  1     3
#       fec0::/10              1    11
#       3ffe::/16              1    12
# As (network int, prefix length, precedence, label), longest prefixes first.
_POLICY: Final = tuple(
    sorted(
        (
            (int(IPv6Network(prefix).network_address), IPv6Network(prefix).prefixlen, precedence, label)
            for prefix, precedence, label in (
                ("::1/128", 50, 0),
                ("::/0", 40, 1),
                ("::ffff:0:0/96", 35, 4),
                ("2002::/16", 30, 2),
                ("2001::/32", 5, 5),
                ("fc00::/7", 3, 13),
                ("::/96", 1, 3),
                ("fec0::/10", 1, 11),
                ("3ffe::/16", 1, 12),
            )
        ),
        key=lambda row: -row[1],
    )
)


def policy(addr: bytes) -> tuple[int, int]:
    """(precedence, label) of ``addr``: the longest matching prefix of the policy table (RFC 6724 2.1)."""
    value = int.from_bytes(addr, "big")
    for network, length, precedence, label in _POLICY:
        if value >> (128 - length) == network >> (128 - length):  # ::/0: both shift to 0
            return precedence, label
    return 40, 1  # unreachable: ::/0 matches everything


def label(addr: bytes) -> int:
    return policy(addr)[1]


def scope(addr: bytes) -> int:
    """RFC 6724 3.1 / RFC 4291 2.7: the scope of an address."""
    if addr[0] == 0xFF:
        return addr[1] & 0x0F  # multicast: the scop field
    if (addr[0] == 0xFE and addr[1] & 0xC0 == 0x80) or addr == LOOPBACK:
        return SCOPE_LINK_LOCAL  # fe80::/10; "the loopback address ... treated as having link-local scope"
    if addr[0] == 0xFE and addr[1] & 0xC0 == 0xC0:
        return SCOPE_SITE_LOCAL  # fec0::/10 (deprecated site-local, RFC 3879)
    if is_v4mapped(addr):
        # RFC 6724 3.2: IPv4 "auto-configuration addresses [RFC3927] and loopback addresses" are
        # link-local scope, the rest global.
        v4 = addr[12:]
        if v4[0] == 127 or v4[:2] == b"\xa9\xfe":
            return SCOPE_LINK_LOCAL
    return SCOPE_GLOBAL


def common_prefix_len(source: bytes, source_prefix_len: int, dst: bytes) -> int:
    """RFC 6724 2.2: "CommonPrefixLen(S, D) ... the length of the longest prefix (looking at the
    most significant, or leftmost, bits) that the two addresses have in common, up to the length
    of S's prefix (i.e., the portion of the address not including the interface ID)"."""
    common = 128 - (int.from_bytes(source, "big") ^ int.from_bytes(dst, "big")).bit_length()
    return min(common, source_prefix_len)


@dataclass(frozen=True, slots=True)
class Candidate:
    entry: AddressEntry
    nic: NetworkInterface
    outgoing: bool  # assigned to the interface the packet leaves by

    @property
    def address(self) -> bytes:
        return self.entry.packed


def candidates(host: IPv6Host, dst: bytes) -> list[Candidate]:
    """RFC 6724 4: the candidate set for ``dst`` leaving through ``host``'s NIC."""
    out = host.nic
    found = [Candidate(e, out, True) for e in out.addresses.of_family(6) if _eligible(e)]
    # RFC 6724 4: "For all multicast and link-local destination addresses, the set of candidate
    # source addresses MUST only include addresses assigned to interfaces belonging to the same
    # link as the outgoing interface." Otherwise (weak host model, RFC 1122 3.3.4.2, as Linux) the
    # addresses of other interfaces count too, except their link-local ones, which mean nothing
    # on this link (RFC 4007 6).
    if dst[0] != 0xFF and scope(dst) > SCOPE_LINK_LOCAL:
        for nic in host.stack.nics.values():
            if nic is out or not nic.enabled:
                continue
            found.extend(
                Candidate(e, nic, False)
                for e in nic.addresses.of_family(6)
                if _eligible(e) and scope(e.packed) > SCOPE_LINK_LOCAL
            )
    return found


def _eligible(entry: AddressEntry) -> bool:
    # RFC 6724 4: "multicast addresses and the unspecified address MUST NOT be included in a
    # candidate set"; a tentative address "is not considered assigned to an interface in the usual
    # sense" (RFC 4862 2). An anycast address is never a source either (RFC 4291 2.6, Linux): ours
    # are kept apart from the address table (anycast.py), so none is a candidate.
    addr = entry.packed
    return entry.usable and addr[0] != 0xFF and any(addr)


def select(host: IPv6Host, dst: bytes) -> bytes | None:
    best = choose(candidates(host, dst), dst, prefer_temporary=host.nic.ipv6_config.use_tempaddr >= 2,
                  next_hop_prefixes=host.next_hop_prefixes(dst))
    return None if best is None else best.address


def choose(found: Iterable[Candidate], dst: bytes, *, prefer_temporary: bool = False,
           next_hop_prefixes: frozenset[IPv6Network] = frozenset()) -> Candidate | None:
    best: Candidate | None = None
    for cand in found:
        if best is None or compare(cand, best, dst, prefer_temporary=prefer_temporary,
                                   next_hop_prefixes=next_hop_prefixes) > 0:
            best = cand
    return best


def compare(sa: Candidate, sb: Candidate, d: bytes, *, prefer_temporary: bool = False,
            next_hop_prefixes: frozenset[IPv6Network] = frozenset()) -> int:
    """RFC 6724 5: > 0 when SA is preferred, < 0 when SB is, 0 when no rule tells them apart."""
    a, b = sa.address, sb.address
    # Rule 1: "Prefer same address. If SA = D, then prefer SA. Similarly, if SB = D, then prefer SB."
    if a == d or b == d:
        return (a == d) - (b == d)
    # Rule 2: "Prefer appropriate scope. If Scope(SA) < Scope(SB): If Scope(SA) < Scope(D), then
    # prefer SB and otherwise prefer SA. Similarly, if Scope(SB) < Scope(SA): If Scope(SB) <
    # Scope(D), then prefer SA and otherwise prefer SB."
    scope_a, scope_b, scope_d = scope(a), scope(b), scope(d)
    if scope_a < scope_b:
        return -1 if scope_a < scope_d else 1
    if scope_b < scope_a:
        return 1 if scope_b < scope_d else -1
    # Rule 3: "Avoid deprecated addresses. If one of the two source addresses is "preferred" and
    # one of them is "deprecated" (in the RFC 4862 sense), then prefer the one that is "preferred"."
    dep_a = sa.entry.state is AddressState.DEPRECATED
    dep_b = sb.entry.state is AddressState.DEPRECATED
    if dep_a != dep_b:
        return -1 if dep_a else 1
    # Rule 4: "Prefer home addresses." We implement no Mobile IPv6 (RFC 6275): no address is a
    # home or care-of address, so every pair ties here.
    # Rule 5: "Prefer outgoing interface. If SA is assigned to the interface that will be used to
    # send to D and SB is assigned to a different interface, then prefer SA."
    if sa.outgoing != sb.outgoing:
        return 1 if sa.outgoing else -1
    # Rule 5.5: "Prefer addresses in a prefix advertised by the next-hop. If SA is in a prefix
    # advertised by the next-hop used to send to D and SB is not, then prefer SA." RFC 8504 6.6
    # (RFC 8028 updates it): "implementations SHOULD implement this rule". (Linux does not.)
    by_hop_a = any(IPv6Address(a) in net for net in next_hop_prefixes)
    by_hop_b = any(IPv6Address(b) in net for net in next_hop_prefixes)
    if by_hop_a != by_hop_b:
        return 1 if by_hop_a else -1
    # Rule 6: "Prefer matching label. If Label(SA) = Label(D) and Label(SA) <> Label(SB), then
    # prefer SA. Similarly, if Label(SB) = Label(D) and Label(SB) <> Label(SA), then prefer SB."
    label_a, label_b, label_d = label(a), label(b), label(d)
    if label_a != label_b:
        if label_a == label_d:
            return 1
        if label_b == label_d:
            return -1
    # Rule 7: "Prefer temporary addresses. If SA is a temporary address and SB is a public address,
    # then prefer SA." ... "implementations MUST provide a mechanism to allow an application to
    # reverse the sense of this preference": use_tempaddr 2 prefers temporary addresses, 0 and 1
    # public ones (RFC 8981 3.6; Linux's use_tempaddr semantics).
    temp_a, temp_b = sa.entry.temporary, sb.entry.temporary
    if temp_a != temp_b:
        return 1 if temp_a == prefer_temporary else -1
    # Rule 8: "Use longest matching prefix. If CommonPrefixLen(SA, D) > CommonPrefixLen(SB, D),
    # then prefer SA. Similarly, if CommonPrefixLen(SB, D) > CommonPrefixLen(SA, D), then prefer SB."
    common_a = common_prefix_len(a, sa.entry.interface.network.prefixlen, d)
    common_b = common_prefix_len(b, sb.entry.interface.network.prefixlen, d)
    return (common_a > common_b) - (common_b > common_a)
