"""stack_under_test: an independent IPv4/IPv6 host stack in pure standard-library Python.

Public surface (used by the in-process harness backend, ``__main__``, white-box tests and benches):
``Stack``, ``StackOptions``, ``StackError``, ``ChannelEndpoint``, ``TapEndpoint``, ``VirtualClock``,
``MonotonicClock``, ``Drop``.
"""

from __future__ import annotations

from stack_under_test.clock import MonotonicClock, VirtualClock
from stack_under_test.drops import Drop
from stack_under_test.host import Stack
from stack_under_test.link.channel import ChannelEndpoint
from stack_under_test.link.tap import TapEndpoint
from stack_under_test.stack.stack import StackError, StackOptions

__all__ = [
    "ChannelEndpoint",
    "Drop",
    "MonotonicClock",
    "Stack",
    "StackError",
    "StackOptions",
    "TapEndpoint",
    "VirtualClock",
]
