"""Network protocols: ARP, IPv4 (+ICMP), IPv6 (+ICMPv6, NDP)."""
