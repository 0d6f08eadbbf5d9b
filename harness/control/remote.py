"""A DUT whose control verbs are carried to its agent: every ``harness.dut.DUT`` verb, generically.

``RemoteVerbs.call`` sends one verb with its arguments encoded by ``harness.control.verbs`` and
decodes the result; ``serve_verbs_remotely(cls)`` gives ``cls`` a method for every DUT verb it
does not define itself, so verbs added to the DUT protocol later reach the agent with no change
here. A verb the agent does not list in its ``hello`` is skipped with the agent's own reason.
Used by the managed DUTs (``harness.backends.managed``) and the Linux namespace backend.
"""

from __future__ import annotations

from typing import Any, NoReturn

from harness.control.client import AgentFailed, ControlClient, Hello
from harness.control.verbs import Verb, control_verbs
from harness.dut import Unsupported


class RemoteVerbs:
    """Mixin: ``control`` (the connection) and ``hello`` (what the agent said) are set by the DUT."""

    name: str
    control: ControlClient | None
    hello: Hello | None

    def _cannot(self, verb: str) -> NoReturn:
        raise Unsupported(f"the {self.name} DUT has no control agent; it cannot {verb}")

    def call(self, verb: Verb, *args: Any, **kwargs: Any) -> Any:
        """Carry one DUT verb to the agent and return its decoded result."""
        if self.control is None or self.hello is None:
            self._cannot(f"perform {verb.name}")
        encoded = verb.encode_args(*args, **kwargs)
        if verb.name not in self.hello.verbs:
            reason = self.hello.lacks.get(verb.name)
            raise Unsupported(reason or f"the {self.hello.agent} agent does not implement {verb.name}")
        wait = encoded.get("within")
        result = self.control.call(verb.name, encoded, wait=float(wait) if isinstance(wait, int | float) else 0.0)
        try:
            return verb.decode_result(result)
        except (ValueError, TypeError) as e:
            raise AgentFailed(f"{verb.name}: the agent's result does not fit: {e}") from None


def _remote(verb: Verb) -> Any:
    def method(self: RemoteVerbs, *args: Any, **kwargs: Any) -> Any:
        return self.call(verb, *args, **kwargs)

    method.__name__ = method.__qualname__ = verb.name
    method.__doc__ = f"``{verb.name}`` carried to the DUT's control agent."
    return method


def serve_verbs_remotely(cls: type[RemoteVerbs]) -> None:
    """Give ``cls`` a method calling the agent for every DUT verb ``cls`` itself does not define."""
    for verb in control_verbs().values():
        if verb.name not in vars(cls):
            setattr(cls, verb.name, _remote(verb))
