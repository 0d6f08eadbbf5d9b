"""RFC 1122 §3.2.1.6-3.2.1.8, §3.4 and §4.1.3-4.1.4 (UDP for hosts): what an application gets
with a received datagram (its TOS, options and specific-destination address), what it may set
on one it sends (TTL, TOS, options, source address), with the DUT's defaults where it sets none.

Received values are read with ``udp_recvmsg``, sent ones on the wire.
"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Packet, Raw

from harness import DUT, UDPDatagram, rfc

PORT: Final = 5010  # the DUT's socket
TESTER_PORT: Final = 40010
SECOND_ADDRESS: Final = "198.51.100.5"  # another address of the DUT on the test link
SMALL_SUBNET: Final = "203.0.113.1/30"  # a second subnet of four addresses for the DUT
SMALL_SUBNET_BROADCAST: Final = "203.0.113.3"  # its directed broadcast {<Network-number>, -1}
# An option no RFC 791 host acts on: unassigned type 26 (IANA "IP Option Numbers"), not copied,
# class 0, four octets of data. A host must ignore it (RFC 1122 3.2.1.8) and pass it up as it came.
UNKNOWN_OPTION: Final = bytes((26, 6, 0xAB, 0xCD, 0xEF, 0x01))
# Record Route (RFC 791 3.1) with room for three addresses, pointer at the first, area zero.
RECORD_ROUTE_3: Final = bytes((7, 15, 4)) + bytes(12)


def _udp(dut: DUT, data: bytes, **ip_fields: object) -> Packet:
    return dut.ipv4(**ip_fields) / UDP(sport=TESTER_PORT, dport=PORT) / Raw(data)


def _received(dut: DUT, data: bytes) -> UDPDatagram:
    got = dut.udp_recvmsg(PORT, within=2.0)
    assert got is not None, f"the DUT's socket received nothing; expected {data!r}"
    assert got.data == data
    return got


def _sent(dut: DUT) -> Packet:
    frame = dut.expect(IP(dst=str(dut.info.tester_ipv4)), UDP(sport=PORT, dport=TESTER_PORT))
    return frame[IP]


def _options(ip: Packet) -> bytes:
    return bytes(ip)[20 : ip.ihl * 4]


# ---- received ---------------------------------------------------------------------------------

@rfc("RFC1122-3.2.1.6-2", "RFC1122-4.1.4-3")
def test_received_tos_is_passed_up(dut: DUT) -> None:
    dut.udp_bind(PORT)
    # DSCP 46 (EF) with ECT(1) in the ECN field: the whole octet, ECN bits included.
    dut.send(_udp(dut, b"tos b9", tos=0xB9))
    got = _received(dut, b"tos b9")
    assert got.tos == 0xB9, f"the application was told TOS 0x{got.tos:02x}; the datagram carried 0xb9"


@rfc("RFC1122-4.1.3.2-1")
def test_received_options_are_passed_up_unchanged(dut: DUT) -> None:
    dut.udp_bind(PORT)
    options = UNKNOWN_OPTION + bytes((1, 0))  # the unknown option, a No Operation, End of List
    dut.send(_udp(dut, b"with options", options=[Raw(options)]))
    got = _received(dut, b"with options")
    assert got.options[: len(options)] == options, (
        f"the application was told options {got.options.hex()}; the datagram carried {options.hex()}")


@pytest.mark.parametrize("dst", ["unicast", "255.255.255.255", "198.51.100.255", "224.0.0.251"],
                         ids=["unicast", "limited-bcast", "directed-bcast", "multicast"])
@rfc("RFC1122-4.1.3.5-1")
def test_specific_destination_address_is_passed_up(dut: DUT, dst: str) -> None:
    address = str(dut.info.dut_ipv4.ip) if dst == "unicast" else dst
    dut.udp_bind(PORT)
    frame = _udp(dut, b"to " + address.encode(), dst=address)
    if dst == "224.0.0.251":
        dut.join_group(dst)
        frame[0].dst = "01:00:5e:00:00:fb"
    elif dst != "unicast":
        frame[0].dst = "ff:ff:ff:ff:ff:ff"
    dut.send(frame)
    got = _received(dut, b"to " + address.encode())
    assert got.dst == address, f"the application was told the datagram was for {got.dst}, not {address}"


@pytest.mark.parametrize("dst", ["255.255.255.255", "198.51.100.255", SMALL_SUBNET_BROADCAST],
                         ids=["limited", "directed", "subnet-directed-30"])
@rfc("RFC1122-3.3.6-1")
def test_datagram_to_a_broadcast_form_reaches_a_bound_socket(dut: DUT, dst: str) -> None:
    # On the test link's 198.51.100.0/24, a class C network without subnets, the Directed, the
    # Subnet Directed and the All-Subnets Directed Broadcast are one address: 198.51.100.255.
    # A /30 of 203.0.113.0/24 given to the DUT has its own, 203.0.113.3 (RFC 950 subnetting).
    if dst == SMALL_SUBNET_BROADCAST:
        dut.add_address(SMALL_SUBNET)
    dut.udp_bind(PORT)
    frame = _udp(dut, b"broadcast", dst=dst)
    frame[0].dst = "ff:ff:ff:ff:ff:ff"
    dut.send(frame)
    _received(dut, b"broadcast")


@rfc("RFC1122-3.2.1.3-10")
def test_broadcast_of_a_subnet_no_longer_configured_is_not_received(dut: DUT) -> None:
    # The DUT had an address on 203.0.113.0/30, then lost it: 203.0.113.3 is no broadcast address
    # valid for its connected network any more. The datagrams are taken in order: the control, to
    # the test link's directed broadcast, must be the first the socket receives.
    dut.add_address(SMALL_SUBNET)
    dut.remove_address(SMALL_SUBNET)
    dut.udp_bind(PORT)
    for dst, data in ((SMALL_SUBNET_BROADCAST, b"to a subnet left"), ("198.51.100.255", b"control")):
        frame = _udp(dut, data, dst=dst)
        frame[0].dst = "ff:ff:ff:ff:ff:ff"
        dut.send(frame)
    _received(dut, b"control")


# ---- sent ---------------------------------------------------------------------------------------

@rfc("RFC1122-3.2.1.7-3", "RFC1122-4.1.4-2")
def test_sent_ttl_is_the_applications(dut: DUT) -> None:
    dut.udp_bind(PORT)
    for ttl in (3, 200):
        dut.udp_sendmsg(PORT, b"ttl", str(dut.info.tester_ipv4), TESTER_PORT, ttl=ttl)
        sent = _sent(dut)
        assert sent.ttl == ttl, f"the application asked for TTL {ttl}, the datagram carried {sent.ttl}"


@rfc("RFC1122-3.2.1.6-1", "RFC1122-4.1.4-2")
def test_sent_tos_is_the_applications(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, b"tos", str(dut.info.tester_ipv4), TESTER_PORT, tos=0xB8)
    sent = _sent(dut)
    assert sent.tos == 0xB8, f"the application asked for TOS 0xb8, the datagram carried 0x{sent.tos:02x}"


@rfc("RFC1122-3.2.1.6-1", quote="the default is all zero bits.")
def test_sent_tos_defaults_to_zero(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_send(PORT, b"default tos", str(dut.info.tester_ipv4), TESTER_PORT)
    sent = _sent(dut)
    assert sent.tos == 0, f"a datagram whose TOS no one set carried 0x{sent.tos:02x}"


@rfc("RFC1122-4.1.3.2-2", "RFC1122-3.2.1.8-1", "RFC1122-4.1.4-2")
def test_sent_options_are_the_applications(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, b"options", str(dut.info.tester_ipv4), TESTER_PORT, options=UNKNOWN_OPTION)
    sent = _sent(dut)
    got = _options(sent)
    assert got[: len(UNKNOWN_OPTION)] == UNKNOWN_OPTION, f"the datagram carried options {got.hex()}"
    assert set(got[len(UNKNOWN_OPTION) :]) <= {0}, f"after the option, {got[len(UNKNOWN_OPTION):].hex()}: not padding"


@rfc("RFC791-3.1-22", "RFC791-3.1-23")
def test_originated_record_route_keeps_its_data_area(dut: DUT) -> None:
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, b"record route", str(dut.info.tester_ipv4), TESTER_PORT, options=RECORD_ROUTE_3)
    option = _options(_sent(dut))[:15]
    assert option[:2] == RECORD_ROUTE_3[:2], f"Record Route sent as {option.hex()}: not type 7 with 12 octets of room"
    # The originating host may record itself as the first hop (RFC 791: each module that routes
    # the datagram "inserts its own internet address"); every slot past the pointer stays zero.
    pointer = option[2]
    assert pointer in (4, 8), f"pointer {pointer}: the DUT recorded neither nothing nor itself alone"
    if pointer == 8:
        assert option[3:7] == dut.info.dut_ipv4.ip.packed, f"recorded {option[3:7].hex()}, not the DUT's address"
    assert set(option[pointer - 1 :]) <= {0}, f"the unused route data area is {option[pointer - 1:].hex()}, not zero"


@rfc("RFC1122-4.1.3.5-2", "RFC1122-3.3.4.2-2")
def test_source_address_is_the_applications_choice(dut: DUT) -> None:
    dut.add_address(f"{SECOND_ADDRESS}/24")
    dut.udp_bind(PORT)
    for src in (SECOND_ADDRESS, str(dut.info.dut_ipv4.ip)):
        dut.udp_sendmsg(PORT, b"from " + src.encode(), str(dut.info.tester_ipv4), TESTER_PORT, src=src)
        sent = _sent(dut)
        assert sent.src == src, f"the application chose source {src}, the datagram came from {sent.src}"


@rfc("RFC1122-4.1.3.5-2", "RFC1122-3.3.4.2-3",
     quote="or to leave it unspecified (in which case the networking software will choose an appropriate "
           "source address).")
def test_unspecified_source_is_chosen_by_the_dut(dut: DUT) -> None:
    dut.add_address(f"{SECOND_ADDRESS}/24")
    dut.udp_bind(PORT)
    dut.udp_sendmsg(PORT, b"you choose", str(dut.info.tester_ipv4), TESTER_PORT)
    sent = _sent(dut)
    assert sent.src in (str(dut.info.dut_ipv4.ip), SECOND_ADDRESS), f"source {sent.src} is not an address of the DUT"
