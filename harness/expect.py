"""Match frames the DUT emitted against layer templates, and explain a mismatch readably.

A template is a Scapy layer class (``ICMPv6EchoReply``: the layer must be present) or a
layer instance (``ICMP(type=3, code=3)``: present, and every field *set* in it equals the
frame's value; unset fields match anything — packetimpact's rule). An instance may be a chain
(``IP(src=a)/ICMP(type=0)``); each of its layers is a template. Keyword ``fields`` apply to
the innermost (last) template; a field value may also be a predicate
(``ttl=lambda t: t < 64``). Templates must appear in the frame in the given order, each in a
deeper layer than the one before. Layer classes match exactly, as Scapy's ``haslayer`` does,
so ``UDP`` does not match the ``UDPerror`` quoted inside an ICMP error.

Frames are dissected once by the caller (``Ether(raw)`` costs ~180 µs); this module only
walks the dissected layers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from scapy.packet import NoPayload, Packet

Spec = type[Packet] | Packet
MAX_LISTED = 30  # frames listed in a mismatch report


@cache
def _implicit_fields(cls: type[Packet]) -> dict[str, Any]:
    # Some layers set fields in __init__ (IP sets options=[]): those were not "set" by the test.
    try:
        return dict(cls().fields)
    except Exception:  # a layer that cannot be built bare sets nothing implicitly we can know of
        return {}


@dataclass(frozen=True)
class LayerTemplate:
    """One layer to find: its class, the field values it must carry, and field predicates."""

    cls: type[Packet]
    values: Mapping[str, Any]
    predicates: Mapping[str, Callable[[Any], bool]]
    example: Packet  # an instance carrying ``values``, for displaying them with Scapy's i2repr

    @classmethod
    def of(cls, spec: Packet | type[Packet], extra: Mapping[str, Any]) -> LayerTemplate:
        layer_cls = spec if isinstance(spec, type) else type(spec)
        names = {f.name for f in layer_cls.fields_desc}
        unknown = sorted(set(extra) - names)
        if unknown:
            raise TypeError(
                f"{layer_cls.__name__} has no field {unknown[0]!r}; its fields are {', '.join(sorted(names))}"
            )
        predicates = {k: v for k, v in extra.items() if callable(v)}
        plain = {k: v for k, v in extra.items() if not callable(v)}
        if isinstance(spec, type):
            example = layer_cls(**plain)
            implicit = _implicit_fields(layer_cls)
            values = {k: v for k, v in example.fields.items() if k in plain or implicit.get(k, _NOTHING) != v}
        else:
            example = spec.copy()
            example.remove_payload()
            for k, v in plain.items():
                setattr(example, k, v)
            implicit = _implicit_fields(layer_cls)
            values = {
                k: v for k, v in example.fields.items() if k in plain or k not in implicit or implicit[k] != v
            }
        return cls(layer_cls, values, predicates, example)

    def mismatches(self, layer: Packet) -> list[str]:
        """Readable differences between this template and a layer of the same class."""
        out = []
        name = self.cls.__name__
        for field, want in self.values.items():
            got = layer.getfieldval(field)
            if not _equal(want, got):
                fld = layer.get_field(field)
                out.append(
                    f"{name}.{field}: expected {fld.i2repr(self.example, want)}, got {fld.i2repr(layer, got)}"
                )
        for field, pred in self.predicates.items():
            got = layer.getfieldval(field)
            ok = _holds(pred, got)
            if not ok:
                fld = layer.get_field(field)
                out.append(f"{name}.{field}: {_pred_name(pred)} rejected {fld.i2repr(layer, got)}")
        return out

    def describe(self) -> str:
        parts = [f"{k}={self.example.get_field(k).i2repr(self.example, v)}" for k, v in self.values.items()]
        parts += [f"{k}={_pred_name(p)}" for k, p in self.predicates.items()]
        return f"{self.cls.__name__}({', '.join(parts)})" if parts else self.cls.__name__


class _Nothing:
    pass


_NOTHING = _Nothing()


def _equal(want: Any, got: Any) -> bool:
    try:
        if want == got:
            return True
    except Exception:  # a Scapy value whose __eq__ cannot compare with this type
        return False
    if isinstance(want, str) and isinstance(got, str):
        # Addresses: "2001:DB8:1::0:2" and "2001:db8:1::2", "AA:BB:…" and "aa:bb:…" are equal.
        try:
            return ipaddress.ip_address(want) == ipaddress.ip_address(got)
        except ValueError:
            return want.lower() == got.lower()
    return False


def _holds(pred: Callable[[Any], bool], value: Any) -> bool:
    try:
        return bool(pred(value))
    except Exception:
        return False


def _pred_name(pred: Callable[..., Any]) -> str:
    return getattr(pred, "__name__", None) or repr(pred)


def layers_of(frame: Packet) -> list[Packet]:
    """The frame's layers, outermost first (quoted packets inside ICMP errors included)."""
    out = []
    layer: Packet = frame
    while not isinstance(layer, NoPayload):
        out.append(layer)
        layer = layer.payload
    return out


class Expectation:
    """Templates built from ``expect(*layers, **fields)`` arguments; see the module docstring."""

    def __init__(self, layers: Sequence[Spec], fields: Mapping[str, Any]) -> None:
        flat: list[Packet | type[Packet]] = []
        for spec in layers:
            if isinstance(spec, type) and issubclass(spec, Packet):
                flat.append(spec)
            elif isinstance(spec, Packet):
                flat.extend(layers_of(spec))
            else:
                raise TypeError(f"expect: a layer must be a Scapy layer class or instance, got {spec!r}")
        if fields and not flat:
            raise TypeError("expect: keyword fields need a layer to apply to, e.g. expect(ICMP, type=0)")
        self.templates = tuple(
            LayerTemplate.of(spec, fields if i == len(flat) - 1 else {}) for i, spec in enumerate(flat)
        )

    def matches(self, frame: Packet) -> bool:
        layers = layers_of(frame)
        pos = 0
        for tpl in self.templates:
            # Greedy earliest match is complete for an ordered sequence of per-layer tests.
            for i in range(pos, len(layers)):
                if type(layers[i]) is tpl.cls and not tpl.mismatches(layers[i]):
                    pos = i + 1
                    break
            else:
                return False
        return True

    def explain(self, frame: Packet) -> tuple[int, list[str]]:
        """(distance, reasons): how far the frame is from matching, and why it does not."""
        layers = layers_of(frame)
        pos, distance, reasons = 0, 0, []
        for tpl in self.templates:
            best: tuple[int, list[str]] | None = None
            for i in range(pos, len(layers)):
                if type(layers[i]) is tpl.cls:
                    diff = tpl.mismatches(layers[i])
                    if best is None or len(diff) < len(best[1]):
                        best = (i, diff)
                    if not diff:
                        break
            if best is None:
                distance += 100
                reasons.append(f"no {tpl.cls.__name__} layer" + (" after the previous one" if pos else ""))
                continue
            pos = best[0] + 1
            distance += len(best[1])
            reasons.extend(best[1])
        return distance, reasons

    def describe(self) -> str:
        return " / ".join(t.describe() for t in self.templates) or "any frame"


@dataclass(frozen=True, eq=False)  # identity: two equal frames are still two frames
class Seen:
    """A frame the DUT emitted, dissected once."""

    raw: bytes
    pkt: Packet
    ts: float


def summary(seen: Seen) -> str:
    try:
        text = seen.pkt.summary()
    except Exception:  # a half-dissected frame: show its bytes rather than fail the report
        text = seen.raw[:64].hex()
    return f"t={seen.ts:.3f}s {len(seen.raw)}B {text}"


def no_match_report(exp: Expectation, within: float, seen: Sequence[Seen]) -> str:
    """ExpectationFailed message for expect(): what was wanted, what came, the nearest miss."""
    head = f"expected {exp.describe()} within {within:g} s"
    if not seen:
        return f"{head}; the DUT emitted no frames"
    lines = [f"{head}; the DUT emitted {len(seen)} frame(s), none matched:"]
    lines += [f"  [{i}] {summary(s)}" for i, s in enumerate(seen[:MAX_LISTED])]
    if len(seen) > MAX_LISTED:
        lines.append(f"  ... and {len(seen) - MAX_LISTED} more")
    scored = [(exp.explain(s.pkt), i) for i, s in enumerate(seen)]
    (_, reasons), idx = min(scored, key=lambda t: (t[0][0], t[1]))
    lines.append(f"closest: [{idx}] differs in:")
    lines += [f"    {r}" for r in reasons]
    return "\n".join(lines)


def unwanted_report(exp: Expectation, within: float, frame: Seen) -> str:
    """ExpectationFailed message for expect_none(): the frame that should not have come."""
    return (
        f"expected no {exp.describe()} within {within:g} s, but the DUT emitted:\n"
        f"  {summary(frame)}\n{_show(frame.pkt)}"
    )


def _show(pkt: Packet) -> str:
    try:
        return "\n".join("    " + line for line in str(pkt.show(dump=True)).splitlines())
    except Exception:
        return ""
