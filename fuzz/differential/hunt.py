"""Hypothesis drives the fuzzer twice: as the generator of stimuli, and as the shrinker of each
new finding.

Generating: a ``@given`` function hands every stimulus to the engine and returns at once, so
the next one is drawn while the last one's window runs (the engine parks real-time lanes). It
never fails: a difference is not an error of the generator. Each observation comes back with
the stimulus's *choice sequence* (the draws Hypothesis made for it), saved for shrinking.

Shrinking: ``hypothesis.find`` with a database holding that choice sequence under the test's
secondary key (where Hypothesis keeps interesting examples it has not shrunk yet; under the
primary key it would take them as already shrunk) replays it and shrinks it with the condition
"this stimulus still shows the same signature", each candidate run synchronously on fresh
baselines. The smallest stimulus that kept the signature is the cluster's example. A time limit
bounds a shrink (windows of a second make some candidates slow); the best so far is kept.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, Phase, Verbosity, find, given, settings
from hypothesis import strategies as st
from hypothesis.control import current_build_context
from hypothesis.database import InMemoryExampleDatabase, choices_to_bytes
from hypothesis.errors import NoSuchExample

from fuzz.differential.engine import Engine, Observation
from fuzz.differential.stimulus import Stimulus

_KEY = b"stackcheck-differential"


class _Stop(BaseException):
    """Ends a generation run; a BaseException, so Hypothesis lets it through without shrinking."""


def generate(engine: Engine, strategy: st.SearchStrategy[Stimulus], *, until: Callable[[], bool],
             on_observation: Callable[[Observation, Any], None]) -> int:
    """Draw stimuli and run them until ``until()`` is true; return how many were drawn."""
    drawn = 0

    @settings(max_examples=10**9, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet)
    @given(strategy)
    def body(stimulus: Stimulus) -> None:
        nonlocal drawn
        if until():
            raise _Stop
        choices = current_build_context().data.choices
        drawn += 1
        engine.submit(stimulus, lambda obs: on_observation(obs, choices))

    try:
        with contextlib.suppress(_Stop):
            body()
    finally:
        engine.drain()
    return drawn


@dataclass
class Shrunk:
    stimulus: Stimulus
    observation: Observation
    runs: int
    note: str


def shrink(engine: Engine, strategy: st.SearchStrategy[Stimulus], choices: Any,
           keeps: Callable[[Observation], bool], *, budget_s: float) -> Shrunk | None:
    """The smallest stimulus drawn from ``strategy`` that ``keeps`` the finding, starting from
    ``choices``; None when the finding did not show again on replay."""
    database = InMemoryExampleDatabase()
    database.save(_KEY + b".secondary", choices_to_bytes(choices))
    best: list[tuple[Stimulus, Observation]] = []
    runs = 0
    deadline = time.monotonic() + budget_s

    def condition(stimulus: Stimulus) -> bool:
        nonlocal runs
        if time.monotonic() > deadline:
            raise _Stop
        runs += 1
        obs = engine.run(stimulus)
        if keeps(obs):
            best[:] = [(stimulus, obs)]
            return True
        return False

    note = ""
    try:
        find(strategy, condition, database_key=_KEY,
             settings=settings(database=database, phases=[Phase.reuse, Phase.shrink], max_examples=10**6,
                               deadline=None, verbosity=Verbosity.quiet))
    except _Stop:
        note = f"shrinking stopped after {budget_s:g} s; the smallest stimulus so far is shown"
    except NoSuchExample:
        pass
    if not best:
        return None
    return Shrunk(best[0][0], best[0][1], runs, note)
