"""The requirement catalog: one entry per extracted statement, statuses derived from the tests,
coverage, sync, and the real catalog against the real suite."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from reports import catalog_sync, coverage
from reports.catalog import Catalog, CatalogError, Citation, Status, check, digest, load
from reports.rfcs.index import StatementIndex

REPO = Path(__file__).resolve().parents[2]
INDEX = StatementIndex.of(REPO / "conformance")
SCOPES = (REPO / "conformance" / "requirements" / "scopes.toml").read_text()
# RFC 5722 holds three statements: 4-1 (MUST NOT create overlapping fragments), 4-2 (MUST
# discard a datagram with overlapping fragments), 4-3 (MAY count them).
DIGESTS = {s.id: digest(s.text) for s in INDEX.of_rfc(5722)}


def _entry(sid: str, role: str = "both", **fields: str) -> str:
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in fields.items())
    return f'\n[[statement]]\nid = "{sid}"\ndigest = "{DIGESTS.get(sid, "00000000")}"\nrole = "{role}"\n{extra}'


FULL = (_entry("RFC5722-4-1", untested="no test yet", needs="fragments of a large echo reply")
        + _entry("RFC5722-4-2") + _entry("RFC5722-4-3", scope="management"))


def _catalog(tmp_path: Path, body: str = FULL, scopes: str = SCOPES) -> Catalog:
    (tmp_path / "rfc5722.toml").write_text('rfc = 5722\ntitle = "Overlapping fragments"\n' + body)
    (tmp_path / "scopes.toml").write_text(scopes)
    return load(tmp_path, INDEX)


def _cite(req: str | None = "RFC5722-4-2", legacy: bool = False) -> Citation:
    return Citation("ipv6/test_x.py::test_overlap", 5722, "4", "MUST", "x", req, legacy=legacy)


def test_a_complete_catalog_with_its_test_has_no_problems(tmp_path: Path) -> None:
    assert check(_catalog(tmp_path), [_cite()]) == []


@pytest.mark.parametrize(("body", "cites", "problem"), [
    (FULL, [], "RFC5722-4-2 (§4 MUST) has no test, no 'untested' reason and no scope"),
    (FULL.replace('role = "both"\n\n[[statement]]\nid = "RFC5722-4-3"', 'role = "both"\nuntested = "x"\n'
                  'needs = "y"\n\n[[statement]]\nid = "RFC5722-4-3"'), [_cite()],
     "RFC5722-4-2 is tested, but its entry still says untested: x"),
    (FULL, [_cite(), _cite("RFC5722-4-3")], "RFC5722-4-3 is tested, but its entry puts it out of scope (management)"),
    (_entry("RFC5722-4-2") + _entry("RFC5722-4-3", scope="management"), [_cite()],
     "RFC5722-4-1 (§4 MUST NOT) has no catalog entry (stackcheck catalog sync adds it)"),
    (FULL + _entry("RFC5722-4-9", untested="x", needs="y"), [_cite()],
     "RFC5722-4-9 is in the catalog but the RFC text has no such statement"),
    (FULL.replace(DIGESTS["RFC5722-4-2"], "12345678"), [_cite()],
     "RFC5722-4-2: the statement's text changed since its entry was written (digest 12345678"),
    (FULL, [_cite(), _cite("RFC5722-4-7")], "ipv6/test_x.py::test_overlap: cites RFC5722-4-7, which is not a "
                                            "statement of the catalog"),
    (FULL, [_cite(), _cite(None, legacy=True)], "ipv6/test_x.py::test_overlap: cites RFC 5722 §4 by its text"),
])
def test_each_problem_is_one_line(tmp_path: Path, body: str, cites: list[Citation], problem: str) -> None:
    problems = check(_catalog(tmp_path, body), cites)
    assert any(p.startswith(problem) for p in problems), problems


def test_router_statements_need_no_reason_and_are_out_of_scope_for_a_host(tmp_path: Path) -> None:
    body = FULL.replace(_entry("RFC5722-4-1", untested="no test yet", needs="fragments of a large echo reply"),
                        _entry("RFC5722-4-1", role="router"))
    catalog = _catalog(tmp_path, body)
    assert check(catalog, [_cite()]) == []
    s = INDEX.get("RFC5722-4-1")
    assert catalog.status(s, False, "host") == Status("out-of-scope", "router-only: the DUT is a host")
    assert catalog.status(s, False, "router") == Status("untested", "", "")


def test_a_scope_switched_into_scope_turns_its_statements_untested(tmp_path: Path) -> None:
    body = FULL.replace('scope = "management"', 'scope = "tcp"')
    # The real [tcp] table is in scope since the TCP suite exists: both forms are written here.
    start = SCOPES.index("\n[tcp]\n") + 1
    real_tcp = SCOPES[start:SCOPES.index("\n\n", start)]
    out_of_scope = SCOPES.replace(real_tcp, '[tcp]\nreason = "transport: TCP; the suite has no TCP tests yet"')
    out = _catalog(tmp_path, body, out_of_scope)
    s = INDEX.get("RFC5722-4-3")
    assert out.status(s, False).kind == "out-of-scope"
    (tmp_path / "flipped").mkdir()
    flipped = _catalog(tmp_path / "flipped", body,
                       SCOPES.replace(real_tcp, '[tcp]\nuntested = "transport: TCP, not tested yet"\nneeds = "a TCP test"'))
    assert flipped.status(s, False) == Status("untested", "transport: TCP, not tested yet", "a TCP test")
    assert flipped.status(s, True) == Status("tested")


@pytest.mark.parametrize(("body", "message"), [
    (FULL.replace('role = "both"', 'role = "switch"', 1), "role 'switch' is not one of host, router, both"),
    (FULL + _entry("RFC791-4-1"), "id 'RFC791-4-1' is not like 'RFC5722-<section>-<n>'"),
    (FULL + '\n[[statement]]\nid = "RFC5722-4-4"\ndigest = "x"\nrole = "both"\ncolour = "red"\n', "unknown key 'colour'"),
    (FULL + _entry("RFC5722-4-2"), "statement RFC5722-4-2 is also listed in"),
    (FULL.replace('scope = "management"', 'scope = "teleportation"'), "scope 'teleportation' is not in scopes.toml"),
    (FULL.replace('needs = "fragments of a large echo reply"\n', ""), "'untested' (why) and 'needs'"),
    (FULL.replace('scope = "management"', 'scope = "management"\nuntested = "x"\nneeds = "y"'),
     "either out of scope or untested, not both"),
])
def test_malformed_entries_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(CatalogError) as info:
        _catalog(tmp_path, body)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_coverage_counts_per_level_group_in_the_json_shape(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path)
    data = coverage.as_json(catalog, {"RFC5722-4-2"})
    expected = {"statements": 3, "in_scope": 2, "tested": 1, "by_level": {
        "MUST": {"in_scope": 2, "tested": 1}, "SHOULD": {"in_scope": 0, "tested": 0},
        "MAY": {"in_scope": 0, "tested": 0}}}
    assert data == {"rfcs": {"5722": expected}, "total": expected}


def test_sync_proposes_entries_by_rules_and_keeps_the_ones_written(tmp_path: Path) -> None:
    catalog = _catalog(tmp_path, _entry("RFC5722-4-2", note="kept as written"))
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nrfc = [5722]\ntext = "(?i)counters"\nscope = "management"\n\n'
                     '[[rule]]\nrfc = [5722]\nrole = "both"\nuntested = "proposed: no test yet"\n')
    added, orphans = catalog_sync.sync(catalog, tmp_path, catalog_sync.load_rules(rules), {"RFC5722-4-2"}, [5722], {})
    assert (added, orphans) == (2, [])
    again = load(tmp_path, INDEX)
    assert again.entries["RFC5722-4-2"].note == "kept as written"
    assert again.entries["RFC5722-4-3"].scope == "management"
    assert again.entries["RFC5722-4-1"].untested == "proposed: no test yet"
    assert again.entries["RFC5722-4-1"].needs == "a conformance test of this statement"


def test_the_catalog_matches_the_conformance_suite() -> None:
    # `stackcheck catalog check` over the real suite: every statement has an entry and a status
    # that agrees with the tests, every id and quote is in the RFC text.
    done = subprocess.run([sys.executable, "-m", "harness", "catalog", "check"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.rstrip().endswith("0 problems")


def test_catalog_coverage_json_has_the_shape_scripts_read() -> None:
    done = subprocess.run([sys.executable, "-m", "harness", "catalog", "coverage", "--json"], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"rfcs", "total"}
    assert {"4861", "1122", "3168", "6564"} <= set(data["rfcs"])
    for counts in (*data["rfcs"].values(), data["total"]):
        assert set(counts) == {"statements", "in_scope", "tested", "by_level"}
        assert set(counts["by_level"]) == {"MUST", "SHOULD", "MAY"}
        assert counts["tested"] <= counts["in_scope"] <= counts["statements"]
        assert sum(g["in_scope"] for g in counts["by_level"].values()) == counts["in_scope"]
