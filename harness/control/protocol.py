"""The DUT control protocol, version 1: the wire format both ends share (standard library only).

A control agent runs beside the stack under test and carries the ``harness.dut.DUT`` control
verbs to it. The harness connects to the agent's stream socket (``unix:/path`` or
``tcp:HOST:PORT``) and speaks UTF-8 JSON, one object per line, strictly request then answer::

    -> {"id": 1, "verb": "hello", "args": {"versions": [1]}}
    <- {"id": 1, "ok": true, "result": {"protocol": 1, "agent": {...}, "verbs": [...], ...}}
    -> {"id": 2, "verb": "join_group", "args": {"group": "ff02::1:3"}}
    <- {"id": 2, "ok": false, "error": {"code": "unsupported", "message": "..."}}

Every DUT verb travels the same way: its name, its arguments by the parameter names of
``harness.dut.DUT`` (bytes as lowercase hex), its result as JSON. So a verb added to the DUT
protocol needs no change here. ``docs/control-protocol.md`` is the specification; this module
holds its constants and the line codec. It imports nothing of the harness, so agents written
in Python (and ``harness.control.server``) can use it without Scapy.
"""

from __future__ import annotations

import json
from typing import Any, Final

PROTOCOL_VERSION: Final = 1
SUPPORTED_VERSIONS: Final = (1,)
# A request or answer line longer than this is refused (an agent must not be made to buffer
# without bound by a broken peer).
MAX_LINE: Final = 1 << 20

# Error codes. The message beside the code is one line a user can act on.
UNSUPPORTED: Final = "unsupported"  # the DUT cannot do this (the test is skipped with the message)
UNKNOWN_VERB: Final = "unknown-verb"  # the agent has no such verb (skipped too)
BAD_ARGUMENTS: Final = "bad-arguments"  # missing, unknown or ill-typed arguments, bad values
BAD_REQUEST: Final = "bad-request"  # not a JSON object with "verb" (a string) and "args" (an object)
VERSION: Final = "version"  # hello: no protocol version in common
FAILED: Final = "failed"  # the verb was understood and tried, and the DUT refused or broke
# A TCP verb failed the way a socket call fails (a reset, a refused connect, ...): the error
# object carries "kind", one of harness.dut.TCPErrorKind, which the harness raises as TCPError.
TCP_ERROR: Final = "tcp-error"
ERROR_CODES: Final = (UNSUPPORTED, UNKNOWN_VERB, BAD_ARGUMENTS, BAD_REQUEST, VERSION, FAILED, TCP_ERROR)
# Fields an error code adds to the error object beside "code" and "message".
ERROR_FIELDS: Final[dict[str, tuple[str, ...]]] = {TCP_ERROR: ("kind",)}

# Verbs of the protocol itself (every agent has them); every other verb is a DUT verb.
PROTOCOL_VERBS: Final = ("hello", "reset")

# Optional features and protocol versions an agent may declare in hello's "features": where an
# RFC makes a feature optional or leaves a choice, the suite tests the feature only on DUTs that
# declare it. Names an agent does not know it leaves out; "x-" names are free for private use.
FEATURES: Final[dict[str, str]] = {
    "ipv4-record-route": "IPv4 Record Route option processed (RFC 791; OPTIONAL per RFC 1122 3.2.1.8)",
    "ipv4-timestamp": "IPv4 Timestamp option processed (RFC 791; OPTIONAL per RFC 1122 3.2.1.8)",
    "ipv4-source-route": "IPv4 LSRR/SSRR followed when accepted (RFC 791, RFC 1122 3.2.1.8)",
    "ipv6-jumbograms": "IPv6 Jumbo Payload option (RFC 2675)",
    "echo-broadcast": "ICMPv4 echo requests to a broadcast address answered (RFC 1122 3.2.2.6 MAY)",
    "icmp-timestamp": "ICMP Timestamp requests answered (RFC 792; a host MAY implement them, RFC 1122 3.2.2.8)",
    "echo-multicast": "ICMP/ICMPv6 echo requests to a multicast group answered (RFC 1122 3.2.2.6, RFC 4443 4.2)",
    "ipv4-forwarding": "forwards IPv4 between routes on the test link when switched on (RFC 1812)",
    "ipv6-forwarding": "forwards IPv6 between routes on the test link when switched on (RFC 8200)",
    "mldv1": "MLDv1 listener (RFC 2710)",
    "mldv2": "MLDv2 listener (RFC 3810)",
    "igmpv1": "IGMPv1 host (RFC 1112)",
    "igmpv2": "IGMPv2 host (RFC 2236)",
    "igmpv3": "IGMPv3 host (RFC 3376)",
    "slaac": "stateless address autoconfiguration (RFC 4862)",
    "temporary-addresses": "temporary addresses (RFC 8981)",
    "stable-addresses": "stable interface identifiers (RFC 7217)",
    "route-information": "Route Information options in Router Advertisements (RFC 4191)",
    "redirect-send": "sends Redirects when forwarding (RFC 4861 8.2; IPv4: RFC 1812 5.2.7.2)",
}


class ProtocolError(Exception):
    """A line is not a valid message of this protocol; ``code`` is one of ERROR_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def one_line(text: str) -> str:
    """Messages travel as single lines: collapse all whitespace (a traceback is not a message)."""
    return " ".join(str(text).split())


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line: compact JSON, UTF-8, newline-terminated, nothing else."""
    return (json.dumps(message, separators=(",", ":"), allow_nan=False) + "\n").encode()


def decode(line: bytes | str) -> dict[str, Any]:
    """Parse one line into a JSON object; ProtocolError(BAD_REQUEST) for anything else."""
    if len(line) > MAX_LINE:
        raise ProtocolError(BAD_REQUEST, f"line longer than {MAX_LINE} octets")
    try:
        message = json.loads(line)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(BAD_REQUEST, f"not JSON: {one_line(str(e))}") from None
    if not isinstance(message, dict):
        raise ProtocolError(BAD_REQUEST, f"a message is a JSON object, not {type(message).__name__}")
    return message


def parse_request(message: dict[str, Any]) -> tuple[Any, str, dict[str, Any]]:
    """(id, verb, args) of a request; ProtocolError(BAD_REQUEST) when it has not that shape."""
    verb, args = message.get("verb"), message.get("args", {})
    if not isinstance(verb, str) or not verb:
        raise ProtocolError(BAD_REQUEST, 'a request needs "verb", a non-empty string')
    if not isinstance(args, dict):
        raise ProtocolError(BAD_REQUEST, '"args" must be a JSON object of named arguments')
    return message.get("id"), verb, args


def answer(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error(request_id: Any, code: str, message: str, details: dict[str, Any] | None = None) -> dict[str, Any]:
    """An error answer; ``details`` are the code's own fields (ERROR_FIELDS), others are dropped."""
    extra = {k: v for k, v in (details or {}).items() if k in ERROR_FIELDS.get(code, ())}
    return {"id": request_id, "ok": False, "error": {**extra, "code": code, "message": one_line(message)}}


def parse_address(address: str) -> tuple[str, str | tuple[str, int]]:
    """``unix:/run/agent.sock`` -> ("unix", path); ``tcp:127.0.0.1:7000`` -> ("tcp", (host, port)).

    ValueError with one readable line otherwise. ``tcp:[::1]:7000`` takes an IPv6 host.
    """
    kind, _, rest = address.partition(":")
    if kind == "unix" and rest:
        return "unix", rest
    if kind == "tcp":
        host, _, port = rest.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")
        if host and port.isdigit() and 0 < int(port) < 65536:
            return "tcp", (host, int(port))
    raise ValueError(f"agent address {address!r} is neither unix:PATH nor tcp:HOST:PORT")
