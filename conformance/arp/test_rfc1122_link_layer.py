"""RFC 1122 §2.3.3 (Ethernet and IEEE 802 encapsulation): a host receives IP in IEEE 802.3
frames with the RFC 1042 LLC/SNAP header as well as in Ethernet II (RFC 894) frames.
(What the DUT sends is checked for every frame in ipv4/test_rfc1122_sent_datagrams.py.)"""

from __future__ import annotations

from typing import Final

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import LLC, SNAP, Dot3
from scapy.packet import Raw

from harness import DUT, echo4, rfc

DATA: Final = b"stackcheck rfc 1042"


# RFC 1122 2.3.3: "The MTU for an Ethernet is 1500 and for 802.3 is 1492": a full 802.3 frame
# carries 1,492 octets of IP behind the 8 of LLC and SNAP, its length field at 1500, the largest
# value that is still a length (a type/length field of 1536 and more is an EtherType).
FULL_802_3_DATA: Final = 1492 - 20 - 8 - len(DATA)


@rfc("RFC1122-2.3.3-2")
@pytest.mark.parametrize("padding", [0, FULL_802_3_DATA], ids=["short", "802.3-length-1500"])
def test_ip_in_an_rfc_1042_frame_is_received(dut: DUT, padding: int) -> None:
    ip = dut.ipv4()[IP] / ICMP(type=8, id=0xE01, seq=1) / Raw(DATA + bytes(padding))
    # IEEE 802.3: a length instead of an EtherType, then LLC (DSAP, SSAP 0xAA, UI) and SNAP
    # (organization code 0, EtherType 0x0800).
    frame = Dot3(src=dut.info.tester_mac, dst=dut.info.dut_mac) / LLC(dsap=0xAA, ssap=0xAA, ctrl=3) \
        / SNAP(OUI=0, code=0x0800) / ip
    assert padding == 0 or len(frame[LLC]) == 1500
    dut.send(frame)
    # RFC 1122 2.3.3: the DUT MAY answer in either framing; the answer is what is required.
    reply = dut.expect(ICMP(type=0, id=0xE01))
    assert bytes(reply[ICMP].payload)[: len(DATA)] == DATA
    # Ethernet II frames keep working beside them.
    dut.send(echo4(dut, 0xE02))
    dut.expect(ICMP(type=0, id=0xE02))
