"""stackcheck mutate (harness/mutation/): operators, stable ids, areas, the reviewed file, and
the worker applying mutants to the live stack (in subprocesses: re-executing the stack's
modules must not touch this test process)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from harness.mutation import areas, equivalents, pool
from harness.mutation.operators import mutants
from harness.mutation.sources import repository_root

ROOT = repository_root()

SOURCE = '''\
"""A module."""
LIMIT_MS = 1000
HOPS = 255


def check(a, b, ep):
    # RFC 4861 7.1.1: "The IP Hop Limit field has a value of 255"
    if a.hops != HOPS:
        return "drop"
    if a.length < 8 and b:
        return None
    ep.send(a)
    log.debug("sent %s", a)
    return x if a.flag else y
'''


def _by_operator(source: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for m in mutants(source, "stack_under_test/x.py", "stack_under_test.x"):
        found.setdefault(m.operator, []).append(m.apply(source).splitlines()[m.line - 1].strip())
    return found


def test_each_operator_plants_its_bug_and_keeps_the_line_count() -> None:
    found = _by_operator(SOURCE)
    assert found["negate-compare"] == ["if a.hops == HOPS:"]
    assert found["boundary"] == ["if a.length <= 8 and b:"]
    assert "if a.length < 8 or b:" in found["bool-op"]
    assert found["remove-guard"] == ["pass", "pass"]
    assert found["remove-call"] == ["pass"]  # ep.send, never the logging call
    assert "return x if not (a.flag) else y" in found["negate-condition"]
    # a duration (a *_MS name) by a factor of two; a limit by one
    assert {"LIMIT_MS = 2000", "LIMIT_MS = 500", "HOPS = 256", "HOPS = 254"} <= set(found["constant"])
    for m in mutants(SOURCE, "stack_under_test/x.py", "stack_under_test.x"):
        mutated = m.apply(SOURCE)
        assert mutated.count("\n") == SOURCE.count("\n")
        compile(mutated, "x.py", "exec")


def test_ids_survive_unrelated_edits_and_are_unique() -> None:
    before = {m.id: m.description for m in mutants(SOURCE, "p", "stack_under_test.x")}
    edited = SOURCE.replace('"""A module."""\n', '"""A module."""\nimport os\n\n\nOTHER = 7\n')
    after = {m.id: m.description for m in mutants(edited, "p", "stack_under_test.x")}
    assert len(before) == len(list(mutants(SOURCE, "p", "stack_under_test.x")))
    assert before.items() <= after.items()
    assert all(i.startswith("x:") for i in before)


def test_module_level_mutants_name_what_they_bind() -> None:
    found = {m.description: (m.outer, m.names) for m in mutants(SOURCE, "p", "stack_under_test.x")}
    assert found["constant: 255 -> 256"] == (None, ("HOPS",))
    assert found["remove-call: ep.send(a) -> pass"] == ("check", ())


def test_area_from_the_file_name_or_the_nearest_citation() -> None:
    assert areas.area_of("network/ipv6/ndp.py", None).startswith("NDP")
    assert areas.area_of("network/ipv4/igmp.py", None).startswith("IGMP")
    assert areas.area_of("transport/tcp/connection.py", None).startswith("TCP")
    assert areas.area_of("params.py", "RFC 3810 9.1: robustness").startswith("MLD")
    assert areas.area_of("params.py", None) == areas.CORE
    # Patterns name whole path components: "endpoint" holds "ndp", "autoaddress" no "slaac".
    assert areas.area_of("network/ipv4/endpoint.py", None).startswith("IPv4 header")
    assert areas.area_of("network/ipv6/endpoint.py", None).startswith("IPv6 header")
    assert areas.area_of("link/endpoint.py", None) == areas.CORE
    assert areas.area_of("network/ipv4/redirect_rx.py", None).startswith("ICMPv4")
    assert areas.area_of("network/ipv6/redirect_rx.py", None).startswith("NDP")
    assert areas.area_of("network/ipv6/addrconf/autoaddress.py", None).startswith("Address configuration")
    lines = SOURCE.splitlines()
    assert areas.citation(lines, 8, 9) == 'RFC 4861 7.1.1: "The IP Hop Limit field has a value of 255"'
    assert areas.citation(lines, 2, 2) is None


def test_equivalent_entries_need_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text('[[equivalent]]\nid = "a:b:constant:1234abcd"\nreason = "unobservable"\n'
                    '[[excluded]]\npath = "stack_under_test/link/tap.py"\nreason = "a real device"\n')
    reviewed = equivalents.load(path)
    assert reviewed.equivalent == {"a:b:constant:1234abcd": "unobservable"}
    assert reviewed.excluded == {"stack_under_test/link/tap.py": "a real device"}
    path.write_text('[[equivalent]]\nid = "a:b:constant:1234abcd"\nreason = " "\n')
    with pytest.raises(equivalents.EquivalentsError, match="has no reason"):
        equivalents.load(path)
    assert equivalents.load(tmp_path / "absent.toml") == equivalents.Reviewed()


def test_reexecution_reaches_names_imported_elsewhere_and_is_undone() -> None:
    script = textwrap.dedent('''
        import importlib, json
        from pathlib import Path
        from harness.mutation.reload import Reloader
        import stack_under_test.network.ipv4.icmp as icmp
        wire = Path("stack_under_test/wire/icmpv4.py").read_text()
        mutated = wire.replace("TYPE_ECHO_REPLY: Final = 0", "TYPE_ECHO_REPLY: Final = 1")
        assert mutated != wire
        r = Reloader(Path(".").resolve())
        r.reexec("stack_under_test.wire.icmpv4", compile(mutated, "icmpv4.py", "exec"))
        during = icmp.TYPE_ECHO_REPLY
        r.reexec("stack_under_test.wire.icmpv4", None)
        print(json.dumps([during, icmp.TYPE_ECHO_REPLY]))
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(done.stdout) == [1, 0]


def _replace(text: str, node: ast.AST, new: str) -> str:
    """``text`` with ``node``'s source span replaced by ``new`` (columns are UTF-8 offsets)."""
    data, starts = text.encode(), [0]
    starts += [i + 1 for i, b in enumerate(data) if b == 0x0A]
    begin = starts[node.lineno - 1] + node.col_offset  # type: ignore[attr-defined]
    end = starts[node.end_lineno - 1] + node.end_col_offset  # type: ignore[attr-defined]
    return (data[:begin] + new.encode() + data[end:]).decode()


def _echo_reply_statement(text: str) -> ast.stmt:
    """The statement of ``handle_packet`` that answers an Echo Request (the one calling
    ``echo_reply_from_request``), found by its call, not by its wording or line."""
    handler = next(n for n in ast.parse(text).body if isinstance(n, ast.FunctionDef) and n.name == "handle_packet")
    found = [stmt for stmt in ast.walk(handler) if isinstance(stmt, ast.Return | ast.Expr)
             and any(isinstance(c, ast.Call) and isinstance(c.func, ast.Name)
                     and c.func.id == "echo_reply_from_request" for c in ast.walk(stmt))]
    assert len(found) == 1, "handle_packet should answer an Echo Request in one statement"
    return found[0]


def _echo_reply_type(text: str) -> ast.expr:
    """The value bound to TYPE_ECHO_REPLY in wire/icmpv4.py."""
    for node in ast.parse(text).body:
        if isinstance(node, ast.AnnAssign | ast.Assign):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            if any(isinstance(t, ast.Name) and t.id == "TYPE_ECHO_REPLY" for t in targets):
                assert node.value is not None
                return node.value
    raise AssertionError("wire/icmpv4.py binds no TYPE_ECHO_REPLY")


def test_worker_kills_swapped_and_reexecuted_mutants_and_times_out_an_endless_loop(tmp_path: Path) -> None:
    icmp = ROOT / "stack_under_test" / "network" / "ipv4" / "icmp.py"
    wire = ROOT / "stack_under_test" / "wire" / "icmpv4.py"
    fields = ROOT / "stack_under_test" / "wire" / "_fields.py"
    text, wire_text, fields_text = icmp.read_text(), wire.read_text(), fields.read_text()
    answer = _echo_reply_statement(text)
    echo = "conformance/ipv4/test_rfc792_icmp_echo.py::test_echo_reply_returns_identifier_and_sequence_unchanged"
    tests = [echo]
    echo6 = "conformance/ipv6/test_rfc4443_echo.py::test_echo_reply_carries_the_request_identifier"
    jobs: list[dict[str, Any]] = [
        {"id": "swap", "module": "stack_under_test.network.ipv4.icmp", "file": str(icmp),
         "source": _replace(text, answer, "return None"), "outer": "handle_packet", "tests": tests,
         "limits": [5.0], "budget": 30.0},
        {"id": "reexec", "module": "stack_under_test.wire.icmpv4", "file": str(wire),
         "source": _replace(wire_text, _echo_reply_type(wire_text), "1"),
         "outer": None, "tests": tests, "limits": [5.0], "budget": 30.0},
        {"id": "loop", "module": "stack_under_test.network.ipv4.icmp", "file": str(icmp),
         "source": _replace(text, answer, "while True: pass"), "outer": "handle_packet", "tests": tests,
         "limits": [1.0], "budget": 30.0},
        {"id": "unharmed", "module": "stack_under_test.network.ipv4.icmp", "file": str(icmp),
         "source": text, "outer": "handle_packet", "tests": tests, "limits": [5.0], "budget": 30.0},
        # A function that runs at import (the descriptors' __init__, harness.mutation.import_time):
        # run.py hands it over without ``outer``, so the worker re-executes it and its importers.
        {"id": "import-time", "module": "stack_under_test.wire._fields", "file": str(fields),
         "source": fields_text.replace("= offset, size, shift,", "= offset, size, shift + 1,"),  # Bits
         "outer": None, "tests": [echo6], "limits": [5.0], "budget": 30.0},
    ]
    todo = iter(jobs)
    results: dict[str, dict[str, object]] = {}

    def next_job() -> dict[str, Any] | None:
        return next(todo, None)

    pool.run("conformance", 1, tmp_path / "worker.log", next_job,
             lambda job, result: results.__setitem__(job["id"], result))
    assert {k: (v["status"], v["how"]) for k, v in results.items()} == {
        "swap": ("killed", "swap"), "reexec": ("killed", "reexec"), "loop": ("timeout", "swap"),
        "unharmed": ("survived", "swap"), "import-time": ("killed", "reexec")}
    assert results["swap"]["killer"] == echo
    # Each mutant ran in a child of its own: the endless loop cost about its 1 s CPU limit, and
    # the mutants after it ran on an unharmed stack (the last one survives).
    assert 0.5 < float(results["loop"]["cpu"]) < 10  # type: ignore[arg-type]


def test_max_time_ends_the_mutant_in_flight(tmp_path: Path) -> None:
    icmp = ROOT / "stack_under_test" / "network" / "ipv4" / "icmp.py"
    text = icmp.read_text()
    echo = "conformance/ipv4/test_rfc792_icmp_echo.py::test_echo_reply_returns_identifier_and_sequence_unchanged"
    loop = {"id": "loop", "module": "stack_under_test.network.ipv4.icmp", "file": str(icmp),
            "source": _replace(text, _echo_reply_statement(text), "while True: pass"), "outer": "handle_packet",
            "tests": [echo], "limits": [600.0], "budget": 600.0}
    todo = iter([loop])
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    # The worker takes a few seconds to collect the suite; the deadline falls while the endless
    # loop (600 s of CPU allowed) runs.
    deadline = started + 45.0
    unfinished = pool.run("conformance", 1, tmp_path / "worker.log", lambda: next(todo, None),
                          lambda job, result: results.append(result), deadline=deadline)
    assert results == [] and [job["id"] for job in unfinished] == ["loop"]
    assert time.perf_counter() - deadline < 30.0


def test_an_unobservable_rule_applies_to_its_suites_only(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text('[[unobservable]]\noperator = "remove-call"\npattern = \'\\bstats\\.count\'\n'
                    'suites = ["conformance"]\nreason = "white-box counters"\n')
    reviewed = equivalents.load(path)
    call = 'nic.stats.count_event("arp_reply_sent")'
    assert reviewed.reason_for("conformance", "x", "remove-call", call) == \
        "unobservable to the conformance suite: white-box counters"
    assert reviewed.reason_for("unit", "x", "remove-call", call) is None
    assert reviewed.reason_for("conformance", "x", "remove-call", "ep.send(frame)") is None
    path.write_text('[[unobservable]]\noperator = "delete"\npattern = "x"\nsuites = ["conformance"]\nreason = "r"\n')
    with pytest.raises(equivalents.EquivalentsError, match="operator must be one of"):
        equivalents.load(path)


def test_reports_state_the_mutation_score(tmp_path: Path) -> None:
    from harness.cli import report as report_cli

    results = tmp_path / "results.json"
    results.write_text(json.dumps({"dut": "inprocess", "results": [
        {"nodeid": "conformance/x.py::test_a", "verdict": "pass", "rfc": 792, "section": "3",
         "level": "MUST", "requirement": "echo"}]}))
    mutation = tmp_path / "mutation" / "mutation.json"
    mutation.parent.mkdir()
    mutation.write_text(json.dumps({"suite": "conformance", "date": "2026-12-06T04:00:00+00:00",
                                    "commit": "abc123", "partial": False, "totals": {
                                        "mutants": 100, "killed": 90, "timeout": 2, "survived": 3,
                                        "no-coverage": 1, "equivalent": 4, "score": 92 / 96}}))
    out = tmp_path / "report"
    report_cli.write([results], out, None, mutation)
    headline = ("Mutation score of the conformance suite against stack_under_test: 95.8% (92 of 96 mutants "
                "caught, 4 survived, 4 equivalent; 100 mutants; commit abc123, 2026-12-06T04:00:00+00:00)")
    assert headline in (out / "report.md").read_text()
    assert headline in (out / "report.html").read_text()
    assert json.loads((out / "report.json").read_text())["mutation"]["score"] == pytest.approx(0.958, abs=1e-3)
    mutation.write_text("{}")
    with pytest.raises(report_cli.ReportError, match=r"not a stackcheck mutation\.json"):
        report_cli.write([results], out, None, mutation)


def test_an_equivalent_entry_may_name_several_mutants_and_a_rule_a_file_or_scope(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text('[[equivalent]]\nids = ["a:b:constant:1", "a:b:constant:2"]\nreason = "both halves"\n'
                    '[[unobservable]]\npath = \'stats\\.py$\'\nsuites = ["conformance"]\nreason = "counters"\n'
                    '[[unobservable]]\noperator = "boundary"\nscope = "^UDPSocket\\\\.sendto$"\n'
                    'suites = ["conformance"]\nreason = "no verb"\n')
    reviewed = equivalents.load(path)
    assert reviewed.equivalent == {"a:b:constant:1": "both halves", "a:b:constant:2": "both halves"}
    assert reviewed.reason_for("conformance", "x", "constant", "1", "stack_under_test/stats.py", "f") == \
        "unobservable to the conformance suite: counters"
    assert reviewed.reason_for("conformance", "x", "constant", "1", "stack_under_test/nic.py", "f") is None
    assert reviewed.reason_for("conformance", "x", "boundary", "<", "p.py", "UDPSocket.sendto") is not None
    assert reviewed.reason_for("conformance", "x", "constant", "1", "p.py", "UDPSocket.sendto") is None
    path.write_text('[[unobservable]]\noperator = "boundary"\nsuites = ["conformance"]\nreason = "r"\n')
    with pytest.raises(equivalents.EquivalentsError, match="give a pattern, a path, a scope or a name"):
        equivalents.load(path)
    path.write_text('[[equivalent]]\nids = ["a", "a"]\nreason = "r"\n')
    with pytest.raises(equivalents.EquivalentsError, match="listed twice"):
        equivalents.load(path)


def test_a_rule_by_name_matches_a_module_constant_whatever_its_occurrence_number(tmp_path: Path) -> None:
    source = ('LIMIT = 3\nBOUNDS = {"a": (0, 3), "b": (1, 3)}\n\n\ndef f(x):\n'
              "    BOUNDS = 3\n    return x < 3\n")
    path = tmp_path / "eq.toml"
    path.write_text('[[unobservable]]\npath = \'cfg\\.py$\'\nname = \'^BOUNDS\\["b"\\]\\[1\\]$\'\n'
                    'suites = ["conformance"]\nreason = "a bound of a setting"\n')
    reviewed = equivalents.load(path)

    def judged(text: str) -> dict[str, str | None]:
        return {m.id: reviewed.reason_for("conformance", m.id, m.operator, m.original, "p/cfg.py", m.scope,
                                          m.binding) for m in mutants(text, "p/cfg.py", "p.cfg")}

    found = list(mutants(source, "p/cfg.py", "p.cfg"))
    assert [m.binding for m in found if m.outer is None] == \
        ["LIMIT", "LIMIT", 'BOUNDS["a"][0]', 'BOUNDS["a"][1]', 'BOUNDS["a"][1]', 'BOUNDS["b"][0]', 'BOUNDS["b"][0]',
         'BOUNDS["b"][1]', 'BOUNDS["b"][1]']
    before = judged(source)
    matched = {m.id for m in found if before[m.id] is not None}
    assert {m.binding for m in found if m.id in matched} == {'BOUNDS["b"][1]'} and len(matched) == 2
    # A constant 3 added above: the ids of the 3s below shift (occurrence numbers), the rule holds.
    after = judged("EXTRA = 3\n" + source)
    assert set(after) - set(before) and sum(r is not None for r in after.values()) == 2
    # Inside a function a statement binds no module-level name: never matched.
    assert all(m.binding == "" for m in found if m.outer is not None)
    # A rule that matches nothing any more is named in the report's stale list by what it gives.
    assert reviewed.unobservable[0].describe() == \
        "[[unobservable]] path 'cfg\\.py$', name '^BOUNDS\\[\"b\"\\]\\[1\\]$'"


PROBED = '''\
def check(buf, a, b):
    if len(buf) < 8:
        return "short"
    return a <= b
'''


def test_the_coverage_run_sees_which_tests_infect_a_boundary_a_constant_or_a_guard(tmp_path: Path) -> None:
    package = tmp_path / "stack_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "probed.py").write_text(PROBED)
    script = textwrap.dedent('''
        import json, sys
        from pathlib import Path
        from harness.mutation.infection import Probes
        from harness.mutation.sources import SourceFile
        root = Path(".").resolve()
        source = SourceFile(root / "stack_under_test/probed.py", "stack_under_test/probed.py",
                            "stack_under_test.probed", Path("stack_under_test/probed.py").read_text())
        probes = Probes([source])
        probes.install(root / "stack_under_test", root)
        sys.path.insert(0, str(root))
        from stack_under_test.probed import check
        seen = {}
        for name, args in {"short": (b"1234", 1, 2), "at8": (b"12345678", 1, 2), "equal": (b"123456789", 3, 3),
                           "apart": (b"123456789", 1, 2)}.items():
            probes.infected = set()
            result = check(*args)
            seen[name] = [result, sorted(probes.infected)]
        print(json.dumps({"seen": seen, "loaded": sorted(probes.loaded)}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT)}, check=True)
    answer = json.loads(done.stdout)
    by_change = {f"{m.operator} {m.replacement.strip()}": m.id for m in mutants(PROBED, "stack_under_test/probed.py",
                                                                             "stack_under_test.probed")}
    guard, length8, length9 = by_change["remove-guard pass"], by_change["constant 9"], by_change["constant 7"]
    boundary_len, boundary_ab = by_change["boundary <="], by_change["boundary <"]
    assert {guard, length8, length9, boundary_len, boundary_ab} <= set(answer["loaded"])
    seen = {name: (result, set(ids)) for name, (result, ids) in answer["seen"].items()}
    # The probed run computes what the original does.
    assert {name: result for name, (result, _) in seen.items()} == {
        "short": "short", "at8": True, "equal": True, "apart": True}
    # A 4-octet buffer: the guard fires (removing it changes the run), len < 9 and < 7 agree with < 8.
    assert seen["short"][1] == {guard}
    # Exactly 8 octets: `< 9` and `<= 8` decide otherwise; the guard does not fire.
    assert seen["at8"][1] == {length8, boundary_len}
    # Equal a and b: only `a < b` decides otherwise; 9 octets: `< 9` does not fire either.
    assert seen["equal"][1] == {boundary_ab}
    assert seen["apart"][1] == set()


ARITHMETIC = '''\
def fields(octet, count):
    return (octet & 0x0F, octet >> 4, 7 % count, label(octet) * 1)


def label(octet):
    return octet
'''


def test_the_coverage_run_sees_which_tests_infect_a_constant_operand_of_arithmetic(tmp_path: Path) -> None:
    package = tmp_path / "stack_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "arith.py").write_text(ARITHMETIC)
    script = textwrap.dedent('''
        import json, sys
        from pathlib import Path
        from harness.mutation.infection import Probes
        from harness.mutation.sources import SourceFile
        root = Path(".").resolve()
        source = SourceFile(root / "stack_under_test/arith.py", "stack_under_test/arith.py",
                            "stack_under_test.arith", Path("stack_under_test/arith.py").read_text())
        probes = Probes([source])
        probes.install(root / "stack_under_test", root)
        sys.path.insert(0, str(root))
        from stack_under_test.arith import fields
        seen = {}
        for name, args in {"zero": (0, 8), "low_bit": (0x01, 8), "high": (0x20, 8), "mod_zero": (0x20, 0)}.items():
            probes.infected = set()
            try:
                result = list(fields(*args))
            except ZeroDivisionError as e:
                result = type(e).__name__
            seen[name] = [result, sorted(probes.infected)]
        print(json.dumps({"seen": seen, "loaded": sorted(probes.loaded)}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT)}, check=True)
    answer = json.loads(done.stdout)
    by_change = {(m.line, m.original, m.replacement): m.id
                 for m in mutants(ARITHMETIC, "stack_under_test/arith.py", "stack_under_test.arith")}
    mask_e, mask_10 = by_change[(2, "0x0F", "0xe")], by_change[(2, "0x0F", "0x10")]
    shift_5, shift_3 = by_change[(2, "4", "5")], by_change[(2, "4", "3")]
    seven_8, seven_6 = by_change[(2, "7", "8")], by_change[(2, "7", "6")]
    times_0, times_2 = by_change[(2, "1", "0")], by_change[(2, "1", "2")]
    probed = {mask_e, mask_10, shift_5, shift_3, seven_8, seven_6, times_0, times_2}
    assert probed <= set(answer["loaded"])
    seen = {name: (result, set(ids)) for name, (result, ids) in answer["seen"].items()}
    # The probed run computes what the original does, and raises where it raises.
    assert {name: result for name, (result, _) in seen.items()} == {
        "zero": [0, 0, 7, 0], "low_bit": [1, 0, 7, 1], "high": [0, 2, 7, 0x20], "mod_zero": "ZeroDivisionError"}
    # Octet 0: every mask and shift gives 0 and `0 * 1 == 0 * 0`; 7 % 8 and 8 % 8 / 6 % 8 differ.
    assert seen["zero"][1] == {seven_8, seven_6}
    # Bit 0 set: `& 0x0E` clears it, `& 0x10` too; `1 * 0` and `1 * 2` differ.
    assert seen["low_bit"][1] == {mask_e, mask_10, seven_8, seven_6, times_0, times_2}
    # 0x20: `& 0x10` still 0; shifts by 3 and 5 differ from 4; the mask and 0x0E agree (0).
    assert seen["high"][1] == {shift_5, shift_3, seven_8, seven_6, times_0, times_2}
    # Modulo 0 raises with 7, 8 and 6 alike: the same outcome, not an infection by those mutants.
    assert not {seven_8, seven_6} & seen["mod_zero"][1]


SUBSCRIPTS = '''\
def header(buf, table):
    head = buf[0:4]
    table[2] += 1
    return head, buf[1], table[0]
'''


def test_the_coverage_run_sees_which_tests_infect_a_constant_index_or_slice_bound(tmp_path: Path) -> None:
    package = tmp_path / "stack_under_test"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "subs.py").write_text(SUBSCRIPTS)
    script = textwrap.dedent('''
        import json, sys
        from pathlib import Path
        from harness.mutation.infection import Probes
        from harness.mutation.sources import SourceFile
        root = Path(".").resolve()
        source = SourceFile(root / "stack_under_test/subs.py", "stack_under_test/subs.py",
                            "stack_under_test.subs", Path("stack_under_test/subs.py").read_text())
        probes = Probes([source])
        probes.install(root / "stack_under_test", root)
        sys.path.insert(0, str(root))
        from stack_under_test.subs import header
        seen = {}
        for name, buf in {"short": b"ab", "same": b"aab", "long": b"abcdefgh", "empty": b""}.items():
            probes.infected = set()
            try:
                result = list(header(buf, [7, 7, 7]))
            except IndexError as e:
                result = type(e).__name__
            seen[name] = [repr(result), sorted(probes.infected)]
        print(json.dumps({"seen": seen, "loaded": sorted(probes.loaded)}))
    ''')
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True,
                          env={"PYTHONPATH": str(ROOT)}, check=True)
    answer = json.loads(done.stdout)
    by_change = {(m.line, m.original, m.replacement): m for m in mutants(SUBSCRIPTS, "stack_under_test/subs.py",
                                                                         "stack_under_test.subs")}
    lower, upper5, upper3 = (by_change[k].id for k in ((2, "0", "1"), (2, "4", "5"), (2, "4", "3")))
    index0, index2 = by_change[(4, "1", "0")].id, by_change[(4, "1", "2")].id
    table1 = by_change[(4, "0", "1")].id
    assert by_change[(3, "2", "3")].probe is None  # a write is never probed
    assert {lower, upper5, upper3, index0, index2, table1} <= set(answer["loaded"])
    seen = {name: (result, set(ids)) for name, (result, ids) in answer["seen"].items()}
    assert {name: result for name, (result, _) in seen.items()} == {
        "short": "[b'ab', 98, 7]", "same": "[b'aab', 97, 7]", "long": "[b'abcd', 98, 7]", "empty": "'IndexError'"}
    # Two octets: cutting at 3, 4 or 5 reads the same; from 1 does not; buf[0] and buf[2] differ
    # (the second raises); equal table entries read the same at 0 and 1.
    assert seen["short"][1] == {lower, index0, index2}
    # b"aab": buf[0] == buf[1], buf[2] does not; a cut at 3 is the whole buffer too.
    assert seen["same"][1] == {lower, index2}
    assert seen["long"][1] == {lower, upper5, upper3, index0, index2}
    # Empty: every cut reads b"", and every index raises as the original does.
    assert seen["empty"][1] == set()


def test_a_cached_result_is_redone_when_a_stack_file_its_tests_run_changes(tmp_path: Path) -> None:
    from harness.mutation import coverage_map, run

    cov = coverage_map.CoverageMap({"t1": 0.1, "t2": 0.1}, [], {
        "stack_under_test/a.py": {3: ["t1", "t2"]}, "stack_under_test/b.py": {7: ["t2"]}}, True)
    suite = {"conformance/x.py": "s1", "conformance/conftest.py": "c1"}
    before = run._test_digests(tmp_path, cov, suite, {"stack_under_test/a.py": "a1", "stack_under_test/b.py": "b1"})
    after = run._test_digests(tmp_path, cov, suite, {"stack_under_test/a.py": "a1", "stack_under_test/b.py": "b2"})
    assert before["t1"] == after["t1"] and before["t2"] != after["t2"]  # only t2 runs b.py
    conftest = run._test_digests(tmp_path, cov, suite | {"conformance/conftest.py": "c2"},
                                 {"stack_under_test/a.py": "a1", "stack_under_test/b.py": "b1"})
    assert conftest["t1"] != before["t1"]


def test_a_rule_with_a_replacement_holds_for_one_direction_of_a_change_only(tmp_path: Path) -> None:
    path = tmp_path / "eq.toml"
    path.write_text("[[unobservable]]\nname = '^TTL$'\nreplacement = '^65$'\n"
                    'suites = ["conformance"]\nreason = "a larger TTL conforms"\n')
    reviewed = equivalents.load(path)
    judged = {m.replacement: reviewed.reason_for("conformance", m.id, m.operator, m.original, "p/cfg.py", m.scope,
                                                 m.binding, m.replacement)
              for m in mutants("TTL = 64\n", "p/cfg.py", "p.cfg")}
    assert judged == {"65": "unobservable to the conformance suite: a larger TTL conforms", "63": None}
    path.write_text("[[unobservable]]\nreplacement = '^65$'\nsuites = [\"conformance\"]\nreason = \"r\"\n")
    with pytest.raises(equivalents.EquivalentsError, match="give a pattern, a path, a scope or a name"):
        equivalents.load(path)


def test_an_enum_member_selects_the_tests_that_read_the_enum_or_what_is_built_from_it() -> None:
    from harness.mutation.coverage_map import CoverageMap, NameIndex
    from harness.mutation.sources import SourceFile

    numbers = ("import enum\n\n\nclass Kind(enum.IntEnum):\n    ECHO = 8\n    REPLY = 0\n\n\n"
               "class Options:\n    ttl = 64\n")
    icmp = ("from numbers_mod import Kind\n\nKNOWN = frozenset(int(k) for k in Kind)\n\n\n"
            "def known(kind):\n    return kind in KNOWN\n\n\ndef other():\n    return Options()\n")
    sources = [SourceFile(Path("/n.py"), "stack_under_test/n.py", "stack_under_test.n", numbers),
               SourceFile(Path("/i.py"), "stack_under_test/i.py", "stack_under_test.i", icmp)]
    coverage = CoverageMap(durations={"t_known": 0.1, "t_other": 0.1}, failed=[], from_cache=False,
                           lines={"stack_under_test/i.py": {7: ["t_known"], 11: ["t_other"]}})
    # ECHO is never read as an attribute: only through the class, by the set built from it.
    index = NameIndex(sources)
    assert index.tests_of(("ECHO",), coverage) == {"t_known"}
    # A plain class's attribute is read where the attribute is (nowhere here), not by every
    # place that builds the class.
    assert index.tests_of(("ttl",), coverage) == set()


def test_functions_that_run_at_import_are_found_through_imports_and_inherited_hooks() -> None:
    from harness.mutation.import_time import import_time_functions
    from harness.mutation.sources import SourceFile

    fields = ("class Base:\n    def __init__(self, offset):\n        self.offset = offset\n\n\n"
              "class U16(Base):\n    pass\n\n\nclass Unused:\n    def __init__(self):\n        pass\n\n\n"
              "def build(n):\n    return bytes(n)\n\n\ndef runtime(n):\n    return n\n")
    view = ("from stack_under_test import fields\nfrom stack_under_test.fields import U16\n\n"
            "TABLE = fields.build(4)\nLATER = lambda: fields.runtime(1)\n\n\n"
            "class View:\n    length = U16(2)\n\n    def read(self):\n        return fields.runtime(self)\n\n\n"
            "if __name__ == '__main__':\n    fields.runtime(0)\n")
    sources = [SourceFile(Path("/f.py"), "stack_under_test/fields.py", "stack_under_test.fields", fields),
               SourceFile(Path("/v.py"), "stack_under_test/view.py", "stack_under_test.view", view)]
    # U16(2) in a class body runs the __init__ U16 inherits; fields.build(4) runs at import; the
    # calls in a lambda, a method and under the __main__ guard do not.
    assert import_time_functions(sources) == {("stack_under_test.fields", "Base.__init__"),
                                              ("stack_under_test.fields", "build")}
