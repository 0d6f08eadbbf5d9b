"""Interface identifiers: modified EUI-64 (RFC 4291 App. A) and the stable, semantically opaque
identifiers of RFC 7217, plus the reserved-identifier check both RFC 7217 and RFC 8981 ask for.
"""

from __future__ import annotations

import hashlib
from ipaddress import IPv6Network

from stack_under_test.wire.ipv6 import eui64_link_local

IID_LEN = 8  # octets: 64 bits on Ethernet (RFC 2464 4)


def eui64_iid(mac: bytes) -> bytes:
    """RFC 4291 Appendix A / RFC 2464 4: the modified EUI-64 identifier of an Ethernet MAC."""
    return eui64_link_local(mac).packed[8:]


def stable_iid(prefix: IPv6Network, net_iface: bytes, dad_counter: int, secret: bytes, network_id: bytes = b"") -> bytes:
    """RFC 7217 5: "RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key)".

    F() is a keyed pseudorandom function; we use SHA-256 over the inputs concatenated in the
    RFC's order (Prefix: the 64-bit prefix as advertised; Net_Iface: the interface name;
    Network_ID: empty, it is optional; DAD_Counter: one octet) and take 64 bits of the digest
    (its first eight octets) as the identifier. The value is opaque: only its stability per
    (prefix, interface, secret) and its change with DAD_Counter matter.
    """
    data = prefix.network_address.packed[:IID_LEN] + net_iface + network_id + bytes([dad_counter & 0xFF]) + secret
    return hashlib.sha256(data).digest()[:IID_LEN]


def is_reserved_iid(iid: bytes) -> bool:
    """RFC 7217 5: "The resulting Interface Identifier SHOULD be compared against the reserved
    IPv6 Interface Identifiers [RFC5453]"; RFC 8981 3.3.1 asks the same of temporary ones."""
    value = int.from_bytes(iid, "big")
    # RFC 5453: the Subnet-Router Anycast identifier (all zeros) ...
    if value == 0:
        return True
    # ... "0200:5EFF:FE00:0000-0200:5EFF:FEFF:FFFF" (IANA Ethernet Block and Proxy Mobile IPv6) ...
    if 0x02005EFFFE000000 <= value <= 0x02005EFFFEFFFFFF:
        return True
    # ... and the Reserved Subnet Anycast identifiers "FDFF:FFFF:FFFF:FF80-FDFF:FFFF:FFFF:FFFF".
    return 0xFDFFFFFFFFFFFF80 <= value <= 0xFDFFFFFFFFFFFFFF
