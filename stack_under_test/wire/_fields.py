"""Declarative big-endian field descriptors over a view's ``buf`` (declarative, like a packet library's field lists).

A view class declares ``src_port = U16(0)`` and reads ``view.src_port``. Reads are only safe once
the view's ``check()`` has returned None; the descriptors do not bounds-check on their own.
"""

from __future__ import annotations

import struct
from typing import Any

_U16 = struct.Struct("!H")
_U32 = struct.Struct("!I")


class U8:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.buf[self.offset]


class U16:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return _U16.unpack_from(obj.buf, self.offset)[0]


class U32:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return _U32.unpack_from(obj.buf, self.offset)[0]


class Bits:
    """``width`` bits of the big-endian integer stored in ``size`` octets at ``offset``, ``shift`` up."""

    __slots__ = ("mask", "offset", "shift", "size")

    def __init__(self, offset: int, size: int, shift: int, width: int) -> None:
        self.offset, self.size, self.shift, self.mask = offset, size, shift, (1 << width) - 1

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        raw = int.from_bytes(obj.buf[self.offset : self.offset + self.size], "big")
        return (raw >> self.shift) & self.mask


class Addr:
    """``size`` raw octets (an IPv4/IPv6/MAC address) as bytes."""

    __slots__ = ("offset", "size")

    def __init__(self, offset: int, size: int) -> None:
        self.offset, self.size = offset, size

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return bytes(obj.buf[self.offset : self.offset + self.size])
