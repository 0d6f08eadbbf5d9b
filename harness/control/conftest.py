"""``--agent ADDRESS`` for ``pytest harness/control/agent_check.py`` (the agent to check)."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--agent", dest="stackcheck_agent", metavar="ADDRESS",
                     help="DUT control agent to check: unix:PATH or tcp:HOST:PORT")
