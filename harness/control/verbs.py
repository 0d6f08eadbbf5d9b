"""The DUT verbs as protocol messages: derived from ``harness.dut.DUT``, so any verb added there
travels with no change to the protocol.

A *control verb* is every method of the DUT protocol except the frame verbs (builders, send,
expect, wait, close) and ``now`` (the backend's clock), which never cross to the agent. Its arguments go by parameter name, with
the defaults filled in (so an agent needs no copy of them), ``bytes`` as lowercase hex and
addresses as text. Its result comes back as JSON and is turned into the annotated return type
(``bytes`` from hex, tuples from arrays, dataclasses such as ``AddressInfo`` from objects).
"""

from __future__ import annotations

import dataclasses
import inspect
import ipaddress
import types
import typing
from collections.abc import Mapping
from functools import cache
from typing import Any, Final, Literal, Union, get_args, get_origin

from harness import dut as dut_module

FRAME_VERBS: Final = frozenset({"ether", "ipv4", "ipv6", "send", "expect", "expect_none", "wait", "barrier", "close"})
# Methods of the DUT protocol that the harness answers itself: the DUT's clock is the backend's
# (the one frames are timed with), never a question for the agent.
LOCAL_VERBS: Final = frozenset({"now"})


@dataclasses.dataclass(frozen=True)
class Verb:
    name: str
    signature: inspect.Signature  # without ``self``
    hints: dict[str, Any]  # parameter name (and "return") -> resolved annotation

    def encode_args(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """Bind a call's arguments (TypeError as Python would raise it) and encode them as JSON."""
        bound = self.signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return {name: to_json(value) for name, value in bound.arguments.items()}

    def decode_result(self, value: Any) -> Any:
        return from_json(value, self.hints.get("return", Any))


@cache
def control_verbs() -> dict[str, Verb]:
    """Every control verb of ``harness.dut.DUT``, by name."""
    out: dict[str, Verb] = {}
    for name, member in inspect.getmembers(dut_module.DUT, inspect.isfunction):
        if name.startswith("_") or name in FRAME_VERBS or name in LOCAL_VERBS:
            continue
        sig = inspect.signature(member)
        params = list(sig.parameters.values())[1:]  # drop self
        hints = typing.get_type_hints(member, vars(dut_module))
        out[name] = Verb(name, sig.replace(parameters=params), hints)
    return out


def to_json(value: Any) -> Any:
    """A verb argument as JSON: bytes as hex, addresses as text, containers element-wise."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address | ipaddress.IPv4Interface
                  | ipaddress.IPv6Interface | ipaddress.IPv4Network | ipaddress.IPv6Network):
        return str(value)
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, Mapping):  # TCP options, ...
        return {str(k): to_json(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    raise TypeError(f"cannot send a {type(value).__name__} to a control agent")


def from_json(value: Any, kind: Any) -> Any:
    """Turn a JSON result into ``kind`` (a resolved annotation). ValueError when it does not fit."""
    if kind is Any or kind is object:
        return value
    origin = get_origin(kind)
    if origin in (Union, types.UnionType):
        options = get_args(kind)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return from_json(value, option)
            except (ValueError, TypeError) as e:
                errors.append(str(e))
        raise ValueError("; ".join(errors) or f"{value!r} fits none of {kind}")
    if kind is type(None):
        if value is not None:
            raise ValueError(f"expected no result (null), got {value!r}")
        return None
    if origin is Literal:
        if value not in get_args(kind):
            raise ValueError(f"{value!r} is not one of {get_args(kind)}")
        return value
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise ValueError(f"expected a JSON array, got {value!r}")
        args = get_args(kind)
        if origin is list:
            return [from_json(v, args[0] if args else Any) for v in value]
        if args and args[-1] is not Ellipsis and len(args) != len(value):
            raise ValueError(f"expected {len(args)} elements, got {len(value)}")
        elems = args[:1] * len(value) if args[-1:] == (Ellipsis,) else args
        return tuple(from_json(v, t) for v, t in zip(value, elems or [Any] * len(value), strict=False))
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"expected a JSON object, got {value!r}")
        return {k: from_json(v, get_args(kind)[1]) for k, v in value.items()}
    if kind is bytes:
        if not isinstance(value, str):
            raise ValueError(f"expected hex text for bytes, got {value!r}")
        return bytes.fromhex(value)
    if kind is bool:
        if not isinstance(value, bool):
            raise ValueError(f"expected true or false, got {value!r}")
        return value
    if kind in (int, float):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"expected a number, got {value!r}")
        return kind(value)
    if kind is str:
        if not isinstance(value, str):
            raise ValueError(f"expected text, got {value!r}")
        return value
    if isinstance(kind, type) and dataclasses.is_dataclass(kind):
        return _dataclass(value, kind)
    if isinstance(kind, type):
        return kind(value)  # IPv6Interface and friends from their text
    return value


def _dataclass(value: Any, kind: type) -> Any:
    if not isinstance(value, dict):
        raise ValueError(f"expected a JSON object for {kind.__name__}, got {value!r}")
    hints = typing.get_type_hints(kind, vars(dut_module))
    known = {f.name for f in dataclasses.fields(kind)}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"{kind.__name__} has no field {sorted(unknown)[0]!r}")
    return kind(**{name: from_json(v, hints[name]) for name, v in value.items()})
