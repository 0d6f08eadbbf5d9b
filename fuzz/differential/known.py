"""The known-differences file: differences between DUTs that are understood, each with the RFC
text that explains it, so that a night's report shows only what is new.

``fuzz/differential/known.toml`` (or ``--known FILE``) holds one table per difference::

    [[difference]]
    id = "icmp-error-tos"
    match = '^IPv4 \\| ICMP error: tos inprocess=0x00 linux=0xc0$'
    triage = "linux-deviation"
    rfc = "RFC 1122 3.2.2: \\"An ICMP error message SHOULD be sent with normal (i.e., zero) TOS bits.\\""
    observed = "Linux sends its ICMP errors with TOS 0xc0 (DSCP CS6)"
    test = "ipv4/test_rfc1122_icmp_errors.py::test_error_is_sent_with_zero_tos"

``match`` is a regular expression searched in a cluster's signature; ``shape`` (optional) one
searched in the shapes of the stimuli that showed it (``shape.py``: ``ipv4 options(ssrr,ssrr)
icmp/9 to=DUT4``), for a behaviour the signature alone cannot tell apart. ``triage`` is
``allowed`` (the RFC leaves the choice; ``rfc`` quotes the text that leaves it) or
``linux-deviation`` (Linux breaks the quoted requirement; ``test`` names the conformance test
that shows it, which must be listed in conformance/expectations/linux.toml). Bad input gives a
ValueError with one readable line, as the expectation files do.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from harness import deviations

DEFAULT: Final = Path(__file__).with_name("known.toml")
TRIAGES: Final = ("allowed", "linux-deviation")
_KEYS: Final = frozenset({"id", "match", "shape", "triage", "rfc", "observed", "test"})
_REQUIRED: Final = frozenset({"id", "match", "triage", "rfc", "observed"})


@dataclass(frozen=True)
class Known:
    id: str
    pattern: re.Pattern[str]
    triage: str
    rfc: str
    observed: str
    test: str = ""
    shape: re.Pattern[str] | None = None  # searched in the shapes of the stimuli that showed it

    def matches(self, signature: str, shapes: list[str]) -> bool:
        if self.pattern.search(signature) is None:
            return False
        return self.shape is None or any(self.shape.search(s) for s in shapes)


def load(path: Path, suite: Path) -> list[Known]:
    """Read and check a known-differences file; ``suite`` is the conformance directory."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ValueError(f"known-differences file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ValueError(f"cannot read known-differences file {path}: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"known-differences file {path} is not valid TOML: {e}") from None
    if set(data) - {"difference"}:
        raise ValueError(f"{path}: unknown top-level key(s) {sorted(set(data) - {'difference'})}; "
                         "expected [[difference]] tables")
    entries = data.get("difference", [])
    if not isinstance(entries, list):
        raise ValueError(f"{path}: 'difference' must be an array of tables ([[difference]])")
    linux = {d.test for d in deviations.load(suite / "expectations" / "linux.toml", suite)}
    out: list[Known] = []
    for n, entry in enumerate(entries, 1):
        out.append(_entry(entry, f"{path}: difference #{n}", suite, linux))
    ids = [k.id for k in out]
    if len(set(ids)) != len(ids):
        raise ValueError(f"{path}: id {next(i for i in ids if ids.count(i) > 1)!r} is listed twice")
    return out


def _entry(entry: object, where: str, suite: Path, linux: set[str]) -> Known:
    if not isinstance(entry, dict):
        raise ValueError(f"{where} is not a table")
    missing, unknown = _REQUIRED - set(entry), set(entry) - _KEYS
    if missing or unknown:
        problems = [f"missing {sorted(missing)}"] if missing else []
        problems += [f"unknown {sorted(unknown)}"] if unknown else []
        raise ValueError(f"{where}: {', '.join(problems)} (keys are {', '.join(sorted(_KEYS))})")
    if not all(isinstance(v, str) and v.strip() for v in entry.values()):
        raise ValueError(f"{where}: every value must be a non-empty string")
    if entry["triage"] not in TRIAGES:
        raise ValueError(f"{where}: triage {entry['triage']!r} is not one of {', '.join(TRIAGES)}")
    try:
        pattern = re.compile(entry["match"])
        shape = re.compile(entry["shape"]) if "shape" in entry else None
    except re.error as e:
        raise ValueError(f"{where}: match or shape is not a regular expression: {e}") from None
    if not re.match(r'^RFC \d+( [^:"]+)?: ".+"', entry["rfc"], re.S):
        raise ValueError(f'{where}: rfc must quote the RFC like \'RFC 1122 3.2.2: "..."\'')
    test = entry.get("test", "")
    if entry["triage"] == "linux-deviation":
        if not test:
            raise ValueError(f"{where}: a linux-deviation names the conformance test that shows it (test = ...)")
        if test not in linux:
            raise ValueError(f"{where}: test {test!r} is not listed in {suite / 'expectations' / 'linux.toml'}")
    return Known(entry["id"], pattern, entry["triage"], entry["rfc"], entry["observed"], test, shape)


def triage(signature: str, shapes: list[str], known: list[Known]) -> Known | None:
    """The first entry that explains ``signature`` seen with stimuli of ``shapes``, or None: new."""
    return next((k for k in known if k.matches(signature, shapes)), None)
