"""The requirement catalog: format checks, coverage rules, and the real catalog against the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from harness.rfc import MUST, rfc
from reports.catalog import CatalogError, Citation, check, letters, load, slug

REPO = Path(__file__).resolve().parents[2]
ENTRY = """
[[requirement]]
id = "RFC792-Echo-a"
section = "Echo"
level = "MUST"
role = "host"
text = "echo data is returned"
"""


def _catalog(tmp_path: Path, body: str, head: str = "rfc = 792\n") -> Path:
    (tmp_path / "rfc792.toml").write_text(head + body)
    return tmp_path


def _cite(test: str = "icmp/test_rfc792.py::test_echo", text: str = "echo data is returned",
          req: str | None = None) -> Citation:
    return Citation(test, 792, "Echo", "MUST", text, req)


def test_a_test_covers_its_entry_by_id_by_citation_or_by_name(tmp_path: Path) -> None:
    catalog = load(_catalog(tmp_path, ENTRY))
    assert check(catalog, [_cite(req="RFC792-Echo-a", text="reworded")]) == ([], [])
    assert check(catalog, [_cite()]) == ([], [])
    named = load(_catalog(tmp_path, ENTRY + 'tests = ["icmp/test_rfc792.py::test_echo"]\n'))
    assert check(named, [_cite(text="reworded")]) == ([], [])


def test_a_listed_test_covers_an_entry_besides_the_one_it_cites(tmp_path: Path) -> None:
    # The test cites RFC792-Echo-a by its text and is also listed by RFC792-Echo-b, a broader
    # requirement it checks too: both are covered (README: "or is listed in `tests`").
    broader = ENTRY.replace("Echo-a", "Echo-b").replace("echo data is returned", "echo is answered")
    catalog = load(_catalog(tmp_path, ENTRY + broader + 'tests = ["icmp/test_rfc792.py::test_echo"]\n'))
    assert check(catalog, [_cite()]) == ([], [])
    # A listed test that was not collected covers nothing.
    problems, _ = check(catalog, [_cite(test="icmp/test_rfc792.py::test_other")])
    assert problems == ["RFC792-Echo-b (RFC 792 §Echo) has no test and no 'untested' reason"]


def test_unknown_id_and_entry_without_test_or_reason_are_problems(tmp_path: Path) -> None:
    catalog = load(_catalog(tmp_path, ENTRY))
    problems, notes = check(catalog, [_cite(req="RFC792-Echo-b")])
    assert problems == [
        "icmp/test_rfc792.py::test_echo cites requirement id RFC792-Echo-b, which is not in the catalog",
        "RFC792-Echo-a (RFC 792 §Echo) has no test and no 'untested' reason",
    ]
    assert notes == []


def test_untested_reason_excuses_an_entry_and_uncatalogued_tests_are_notes(tmp_path: Path) -> None:
    catalog = load(_catalog(tmp_path, ENTRY + 'untested = "later issue"\n'))
    problems, notes = check(catalog, [_cite(text="something else")])
    assert problems == []
    assert notes == ["icmp/test_rfc792.py::test_echo (RFC 792 §Echo: something else) has no catalog entry"]


@pytest.mark.parametrize(("body", "message"), [
    (ENTRY.replace('level = "MUST"', 'level = "MUSTN\'T"'), "level \"MUSTN'T\" is not one of"),
    (ENTRY.replace('role = "host"', 'role = "switch"'), "role 'switch' is not one of host, router, both"),
    (ENTRY.replace('RFC792-Echo-a', 'RFC791-Echo-a'), "id 'RFC791-Echo-a' is not like 'RFC792-<section>-a'"),
    (ENTRY + "colour = 1\n", "unknown key 'colour'"),
    (ENTRY + ENTRY, "requirement id RFC792-Echo-a is also defined in"),
])
def test_malformed_entries_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        load(_catalog(tmp_path, body))
    assert message in str(info.value) and "\n" not in str(info.value)


def test_ids_slugs_and_the_rfc_keyword() -> None:
    assert slug("3.2.1.3") == "3.2.1.3" and slug("Packet Reception") == "PacketReception"
    assert [letters(n) for n in (0, 1, 25, 26)] == ["a", "b", "z", "aa"]
    mark = rfc(1122, "3.2.1.3", MUST, "x", req="RFC1122-3.2.1.3-a")
    assert mark.kwargs["req"] == "RFC1122-3.2.1.3-a"
    assert "req" not in rfc(1122, "3.2.1.3", MUST, "x").kwargs
    with pytest.raises(ValueError, match=r"catalog id like 'RFC1122-3\.2\.1\.3-a'"):
        rfc(1122, "3.2.1.3", MUST, "x", req="RFC792-3.2.1.3-a")


def test_the_catalog_matches_the_conformance_suite() -> None:
    # `stackcheck catalog check` over the real suite: every cited id exists, every entry has a
    # test or a stated reason. Tests without an entry yet are listed, not failed.
    done = subprocess.run([sys.executable, "-m", "harness", "catalog", "check"], cwd=REPO,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 problems" in done.stdout
