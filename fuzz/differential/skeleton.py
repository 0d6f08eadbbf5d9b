"""A conformance test skeleton for a finding, ready to paste into conformance/.

It follows the suite's shape: an ``@rfc`` citation (the RFC guessed from the protocol, the
section and text left for the person triaging to quote from the RFC), the shrunk stimulus as
Scapy expressions (``Packet.command()``, checked to rebuild the exact bytes, else the bytes in
hex), what each DUT answered as comments, one expectation per DUT's behaviour to pick from, and
a positive control, so that a DUT that never answers cannot pass a silence expectation.
"""

from __future__ import annotations

import re
from typing import Final

import scapy.all as scapy_all
from scapy.layers.l2 import Ether
from scapy.packet import Packet, Raw

from fuzz.differential.cluster import Cluster

# The RFC a skeleton cites first, by what the stimulus or the answers carry.
_RFC_BY_WORD: Final = (("fragments4", 791), ("fragments6", 8200), ("param-problem", 8200), ("igmp", 3376),
                       ("mld", 3810), (" ns", 4861), (" na", 4861), (" rs", 4861), (" ra", 4861),
                       ("redirect", 4861), ("arp", 826), ("udp", 768), ("icmpv6", 4443), ("ipv6", 8200),
                       ("icmp", 1122), ("ipv4", 791))
_NAME: Final = re.compile(r"\b([A-Z][A-Za-z0-9_]*)\(")


def skeleton(cluster: Cluster, duts: list[str], number: int) -> str:
    stimulus = cluster.example
    assert stimulus is not None
    names: set[str] = set()
    frames = [_expression(frame, names) for frame in stimulus.frames]
    rfc = next((n for word, n in _RFC_BY_WORD if word in cluster.signature.lower()), 8200)
    others = [f for dut in duts for f in cluster.shrunk_frames.get(dut, [])]
    expectations = {dut: _expectation(cluster.shrunk_frames.get(dut, []), others, names) for dut in duts}
    imports = _imports(names | {"ICMP", "IP", "ICMPv6EchoRequest", "ICMPv6EchoReply", "IPv6"})
    lines = [
        f'"""Found by the differential fuzzer: {cluster.signature}"""',
        "",
        "from __future__ import annotations",
        "",
        *imports,
        "",
        "from harness import DUT, MUST, rfc",
        "",
        "",
        f'@rfc({rfc}, "TODO section", MUST, "TODO: quote the requirement from the RFC text")',
        f"def test_difference_{number}(dut: DUT) -> None:",
        f"    # Shrunk stimulus ({stimulus.kind}, {len(stimulus.frames)} frame(s)):",
        "    stimulus = [",
        *[f"        {frame}," for frame in frames],
        "    ]",
    ]
    for dut in duts:
        answers = cluster.shrunk_answers.get(dut, [])
        lines.append(f"    # {dut} answered: {'; '.join(answers) if answers else 'nothing'}")
    lines += ["    dut.send(*stimulus)",
              "    # Keep the expectation of the behaviour the RFC requires, delete the other:"]
    for dut in duts:
        lines.append(f"    # as {dut} does:")
        lines += [f"    {line}" for line in expectations[dut]]
    lines += [
        "    # Positive control: an echo the DUT answers, so that silence above means something.",
        "    dut.send(dut.ipv4() / ICMP(id=0x5C0, seq=1), dut.ipv6() / ICMPv6EchoRequest(id=0x5C0, seq=1))",
        "    dut.expect(IP(dst=str(dut.info.tester_ipv4)), ICMP(type=0, id=0x5C0))",
        "    dut.expect(IPv6(dst=str(dut.info.tester_ipv6)), ICMPv6EchoReply(id=0x5C0))",
        "",
    ]
    return "\n".join(lines)


def _expression(frame: bytes, names: set[str]) -> str:
    """``Ether(...)/IP(...)/...`` when Scapy's own command() rebuilds the same bytes, else hex."""
    try:
        text = Ether(frame).command()
        used = set(_NAME.findall(text))
        namespace = {name: getattr(scapy_all, name) for name in used if hasattr(scapy_all, name)}
        if len(namespace) == len(used) and bytes(eval(text, {"__builtins__": {}}, namespace)) == frame:
            names |= used
            return text
    except Exception:  # any trouble rebuilding: fall back to the exact bytes
        pass
    names.add("Ether")
    return f'Ether(bytes.fromhex("{frame.hex()}"))'


def _imports(names: set[str]) -> list[str]:
    by_module: dict[str, list[str]] = {}
    for name in sorted(names):
        obj = getattr(scapy_all, name, None)
        if obj is not None:
            by_module.setdefault(obj.__module__, []).append(name)
    return [f"from {module} import {', '.join(sorted(items))}" for module, items in sorted(by_module.items())]


def _expectation(frames: list[bytes], others: list[bytes], names: set[str]) -> list[str]:
    if not frames:
        # Silence: none of the messages another DUT sent (a positive control follows).
        kinds = sorted({type(m).__name__ for m in (_message_layer(Ether(f)) for f in others) if m is not None})
        names.update(kinds)
        return [f"dut.expect_none({kind}, within=2.0)  # TODO: the window the RFC gives" for kind in kinds]
    out = []
    for frame in frames:
        message = _message_layer(Ether(frame))
        if message is None:
            out.append(f"# a frame Scapy cannot name: {frame.hex()}")
            continue
        fields = {k: v for k, v in message.fields.items() if k in ("type", "code", "ptr", "mtu", "tgt", "op", "id")}
        args = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        names.add(type(message).__name__)
        out.append(f"dut.expect({type(message).__name__}({args}))")
    return out


def _message_layer(pkt: Packet) -> Packet | None:
    """The first layer after the IP header(s) and extension headers: what the frame says."""
    layer = pkt.payload
    while layer is not None and not isinstance(layer, Raw) and len(layer.fields_desc):
        name = type(layer).__name__
        if name not in ("IP", "IPv6") and not name.startswith("IPv6ExtHdr"):
            return layer
        layer = layer.payload
    return None
