"""Conditions on expectation entries: which DUT builds a known deviation applies to.

A deviation of a stack we do not own often belongs to some of its versions or settings only:
one kernel range, one value of a sysctl, one build of a firmware. An entry in
``conformance/expectations/<dut>.toml`` may say so in a ``when`` table, and then applies only
where every part holds::

    [deviation.when]
    kernel = ">=5.10, <6.20"                              # the DUT's kernel release
    sysctl = { "net.ipv4.conf.all.rp_filter" = "0",       # read in the DUT's namespace;
               "net.ipv4.conf.{if}.rp_filter" = "0" }     # {if}: the DUT's test interface
    build = { stack_version = "0.1.0" }                   # fields of the DUT's identity

Where an entry does not apply, its tests run as ordinary tests and the run reports the entry
with the reason it did not apply (results.json "expectations", every report), so a stale
entry is seen rather than silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

KEYS: Final = frozenset({"kernel", "sysctl", "build"})
_CLAUSE: Final = re.compile(r"^\s*(>=|<=|==|!=|>|<)\s*(\d+(?:\.\d+)*)\s*$")
_LEADING_VERSION: Final = re.compile(r"^(\d+(?:\.\d+)*)")
_COMPARE: Final[dict[str, Callable[[tuple[int, ...], tuple[int, ...]], bool]]] = {
    ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b, ">": lambda a, b: a > b, "<": lambda a, b: a < b,
}

SysctlReader = Callable[[str], "str | None"]


def _version(text: str) -> tuple[int, ...] | None:
    m = _LEADING_VERSION.match(text.strip())
    return tuple(int(p) for p in m.group(1).split(".")) if m else None


def _pad(a: tuple[int, ...], b: tuple[int, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    width = max(len(a), len(b))
    return a + (0,) * (width - len(a)), b + (0,) * (width - len(b))


@dataclass(frozen=True)
class Condition:
    kernel: tuple[tuple[str, tuple[int, ...]], ...] = ()  # (operator, version) clauses, all must hold
    kernel_text: str = ""
    sysctl: tuple[tuple[str, str], ...] = ()  # (name, expected value)
    build: tuple[tuple[str, str], ...] = ()  # (identity field, expected value)

    @classmethod
    def parse(cls, raw: Any, where: str) -> Condition:
        """The ``when`` table of an entry; ValueError (one line, naming ``where``) when malformed."""
        if not isinstance(raw, dict) or not raw:
            raise ValueError(f"{where}: 'when' must be a non-empty table with keys {', '.join(sorted(KEYS))}")
        unknown = set(raw) - KEYS
        if unknown:
            raise ValueError(f"{where}: unknown condition {sorted(unknown)} (known: {', '.join(sorted(KEYS))})")
        kernel: list[tuple[str, tuple[int, ...]]] = []
        text = raw.get("kernel", "")
        if "kernel" in raw:
            if not isinstance(text, str) or not text.strip():
                raise ValueError(f"{where}: when.kernel must be a version range like \">=5.10, <6.20\"")
            for clause in text.split(","):
                m = _CLAUSE.match(clause)
                if m is None:
                    raise ValueError(f"{where}: when.kernel clause {clause.strip()!r} is not like \">=6.1\"")
                kernel.append((m.group(1), tuple(int(p) for p in m.group(2).split("."))))
        tables = {}
        for key in ("sysctl", "build"):
            table = raw.get(key, {})
            if not isinstance(table, dict) or not all(isinstance(v, str | int) for v in table.values()):
                raise ValueError(f"{where}: when.{key} must be a table of names to values (strings or integers)")
            tables[key] = tuple((str(k), str(v)) for k, v in table.items())
        return cls(tuple(kernel), text.strip() if kernel else "", tables["sysctl"], tables["build"])

    @property
    def needs_dut(self) -> bool:
        """Whether checking it needs a running DUT (sysctls are read in its namespace)."""
        return bool(self.sysctl)

    def describe(self) -> str:
        parts = [f"kernel {self.kernel_text}"] if self.kernel else []
        parts += [f"{name} = {value}" for name, value in self.sysctl]
        parts += [f"{name} = {value}" for name, value in self.build]
        return "; ".join(parts)

    def check(self, identity: Mapping[str, str], read_sysctl: SysctlReader | None = None) -> tuple[bool, str]:
        """(holds, why): why it does not hold, or what made it hold, in words for the report."""
        seen: list[str] = []
        if self.kernel:
            release = identity.get("kernel")
            version = _version(release) if release else None
            if version is None:
                return False, "the DUT reports no kernel release"
            for op, bound in self.kernel:
                if not _COMPARE[op](*_pad(version, bound)):
                    return False, f"kernel {release} is outside {self.kernel_text}"
            seen.append(f"kernel {release}")
        for name, want in self.build:
            have = identity.get(name)
            if have != want:
                return False, f"{name} is {have if have is not None else 'not reported'}, not {want}"
            seen.append(f"{name} {have}")
        for name, want in self.sysctl:
            have = read_sysctl(name) if read_sysctl is not None else None
            if have is None:
                return False, f"the DUT cannot read sysctl {name}"
            if " ".join(have.split()) != " ".join(want.split()):
                return False, f"{name} is {have.strip()}, not {want}"
            seen.append(f"{name} = {have.strip()}")
        return True, ", ".join(seen)
