"""Allure labels and attachments for conformance tests, when allure-pytest runs (--alluredir).

allure-pytest is a dependency of stackcheck. When the run was given ``--alluredir DIR``, each
conformance test is labelled from its @rfc citation and, after a failure or a known deviation,
its pcap and the dissected exchange are attached. Without --alluredir (or, in an environment
installed without it, without allure-pytest) every function here does nothing.

    epic = "RFC <n>"   feature = "RFC <n> §<section>"   story = the requirement text
    severity: MUST, MUST NOT, REQUIRED, SHALL (NOT) -> critical; SHOULD (NOT), (NOT) RECOMMENDED ->
    normal; MAY, OPTIONAL -> minor
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Final

import pytest

from harness.rfc import requirement_of
from reports.model import FrameRecord

SEVERITY: Final = {**dict.fromkeys(("MUST", "MUST NOT", "REQUIRED", "SHALL", "SHALL NOT"), "critical"),
                   **dict.fromkeys(("SHOULD", "SHOULD NOT", "RECOMMENDED", "NOT RECOMMENDED"), "normal"),
                   **dict.fromkeys(("MAY", "OPTIONAL"), "minor")}
RFC_URL: Final = "https://www.rfc-editor.org/rfc/rfc{n}"


def enabled(config: pytest.Config) -> bool:
    return bool(getattr(config.option, "allure_report_dir", None)) and config.pluginmanager.hasplugin(
        "allure_pytest")


def label(item: pytest.Item) -> None:
    """Label the running test from its @rfc citation (called while the test runs)."""
    if not enabled(item.config):
        return
    req = requirement_of(item)
    if req is None:
        return
    import allure

    allure.dynamic.epic(f"RFC {req.rfc}")
    allure.dynamic.feature(f"RFC {req.rfc} §{req.section}")
    allure.dynamic.story(req.text)
    allure.dynamic.severity(SEVERITY.get(req.level.value, "normal"))
    allure.dynamic.label("level", req.level.value)
    if req.id:
        allure.dynamic.label("requirement", req.id)
    allure.dynamic.link(RFC_URL.format(n=req.rfc), name=f"RFC {req.rfc}")


def attach(item: pytest.Item, pcap: str | None, exchange: list[FrameRecord] | None) -> None:
    """Attach the test's pcap and the dissected frames of its last exchange."""
    if not enabled(item.config):
        return
    import allure

    if pcap and Path(pcap).is_file():
        allure.attach.file(pcap, name="frames.pcap", extension="pcap")
    if exchange:
        text = "\n\n".join(f"--- {f['direction']}: {f['summary']}\n{f['dissection']}" for f in exchange)
        allure.attach(text, name="exchange (dissected)", attachment_type=allure.attachment_type.TEXT)
        allure.attach(json.dumps(exchange, indent=1), name="exchange.json",
                      attachment_type=allure.attachment_type.JSON)
