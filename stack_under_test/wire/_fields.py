"""Declarative big-endian field descriptors over a view's ``buf`` (declarative, like a packet library's field lists).

A view class declares ``src_port = U16(0)`` and reads ``view.src_port``. Reads are only safe once
the view's ``check()`` has returned None; the descriptors do not bounds-check on their own.
"""

from __future__ import annotations

import struct
from typing import Any, ClassVar


class U8:
    __slots__ = ("offset",)

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return obj.buf[self.offset]


class _Packed:
    """An unsigned big-endian integer of the width ``_struct`` reads, at ``offset``."""

    __slots__ = ("offset",)
    _struct: ClassVar[struct.Struct]

    def __init__(self, offset: int) -> None:
        self.offset = offset

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return self._struct.unpack_from(obj.buf, self.offset)[0]


class U16(_Packed):
    __slots__ = ()
    _struct = struct.Struct("!H")


class U32(_Packed):
    __slots__ = ()
    _struct = struct.Struct("!I")


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
