"""mutation.json, mutation.md and mutation.html for one campaign.

The score is (killed + timed out) / (every mutant not listed as equivalent); a mutant no test
covers counts as a survivor, flagged "no-coverage". Each survivor is listed with its diff, the
RFC citation nearest its line and the tests that covered it.
"""

from __future__ import annotations

import difflib
import html
import json
import subprocess
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from harness.mutation import areas, run
from harness.mutation.operators import OPERATORS
from harness.mutation.sources import SUPPORT_FILES

SHARED_AREA: Final = "shared: each mutant in the area its line's RFC citation names"

SURVIVING: Final = ("survived", "no-coverage")
COUNTED: Final = ("killed", "timeout", "survived", "no-coverage")
_LISTED_TESTS: Final = 12


def _diff(o: run.Outcome) -> str:
    before = o.source.text.splitlines()
    after = o.mutant.apply(o.source.text).splitlines()
    lines = difflib.unified_diff(before, after, o.mutant.path, o.mutant.path, n=1, lineterm="")
    return "\n".join(list(lines)[2:])


def _score(counts: Counter[str]) -> float | None:
    total = sum(counts[s] for s in COUNTED)
    return None if total == 0 else (counts["killed"] + counts["timeout"]) / total


def _commit(root: Path) -> str:
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root, capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "stack_under_test", "conformance"],
                               cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return f"{head}+changes" if dirty else head


def as_dict(c: run.Campaign) -> dict[str, Any]:
    by_module: dict[str, Counter[str]] = defaultdict(Counter)
    by_area: dict[str, Counter[str]] = defaultdict(Counter)
    module_area: dict[str, str] = {}
    totals: Counter[str] = Counter()
    listed = []
    for o in c.outcomes:
        a = run.area(o)
        by_module[o.mutant.path][o.status] += 1
        by_area[a][o.status] += 1
        # A file every area shares (params.py, wire/numbers.py) files each mutant by the RFC its
        # line cites: no one area is the module's.
        module_area.setdefault(o.mutant.path, SHARED_AREA if areas.SHARED.search(o.mutant.path) else a)
        totals[o.status] += 1
        entry: dict[str, Any] = {
            "id": o.mutant.id, "path": o.mutant.path, "line": o.mutant.line, "operator": o.mutant.operator,
            "description": o.mutant.description, "status": o.status, "area": a,
            "killer": o.killer, "tests_run": o.ran, "covering_tests": len(o.tests), "selection": o.selection,
            "how": o.how, "seconds": round(o.seconds, 3), "cpu": round(o.cpu, 3), "cached": o.cached,
        }
        if o.status in (*SURVIVING, "equivalent", "error"):
            entry |= {"diff": _diff(o), "citation": run.citation(o), "tests": sorted(o.tests),
                      "reason": o.reason or None, "detail": o.detail or None}
        listed.append(entry)

    def rows(groups: dict[str, Counter[str]], label: str) -> list[dict[str, Any]]:
        out = []
        for name in sorted(groups):
            counts = groups[name]
            row: dict[str, Any] = {label: name, **{s: counts[s] for s in (*COUNTED, "equivalent", "not-run")},
                                   "score": _score(counts)}
            if label == "path":
                row["area"] = module_area[name]
            out.append(row)
        return out

    return {
        "version": 1,
        "suite": c.options.suite,
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "commit": _commit(c.options.root),
        "operators": list(OPERATORS),
        "workers": c.options.workers,
        "partial": bool(c.options.only) or totals["not-run"] > 0,
        "totals": {"mutants": len(c.outcomes), **{s: totals[s] for s in (*COUNTED, "equivalent", "error", "not-run")},
                   "score": _score(totals)},
        "seconds": {k: round(v, 1) for k, v in c.seconds.items()},
        "cpu_seconds": {k: round(v, 1) for k, v in c.cpu_seconds.items()},
        "tests_run": sum(o.ran or 0 for o in c.outcomes if not o.cached),
        "coverage_from_cache": c.coverage_cached,
        "cached_results": sum(1 for o in c.outcomes if o.cached),
        "areas": rows(by_area, "area"),
        "modules": rows(by_module, "path"),
        "excluded": [{"path": p, "reason": r} for p, r in sorted((c.reviewed.excluded | SUPPORT_FILES).items())],
        "stale_equivalents": c.stale,
        "baseline_failures": c.baseline_failures,
        "mutants": listed,
    }


def _pct(score: float | None) -> str:
    return "n/a" if score is None else f"{100 * score:.1f}%"


def to_markdown(data: dict[str, Any]) -> str:
    t = data["totals"]
    out = [f"# Mutation score of the {data['suite']} suite against stack_under_test", "",
           f"{data['date']} · commit {data['commit']} · {t['mutants']} mutants · "
           f"**score {_pct(t['score'])}** ({t['killed']} killed, {t['timeout']} timed out, {t['survived']} survived, "
           f"{t['no-coverage']} not covered by any test, {t['equivalent']} equivalent) · "
           f"{data['seconds']['total']:.0f} s on {data['workers']} workers"
           + (f" ({data['cpu_seconds']['total']:.0f} s of CPU time)" if data.get("cpu_seconds") else "")
           + (" · partial run" if data["partial"] else "")
           + (f" · {t['not-run']} mutants not run (--max-time)" if t["not-run"] else ""), ""]
    if t["error"]:
        out += [f"{t['error']} mutants could not be run (status `error`, left out of the score): "
                + ", ".join(f"`{m['id']}`" for m in data["mutants"] if m["status"] == "error"), ""]
    if data["baseline_failures"]:
        out += ["Tests failing on the unmutated stack (left out): "
                + ", ".join(f"`{t}`" for t in data["baseline_failures"]), ""]
    if t["not-run"]:
        out += [f"{t['not-run']} mutants were not run (the time box ended first): the score and the tables count "
                "only the mutants that ran or need no run; the \"not run\" column says how much of each row is "
                "still unknown.", ""]
    out += ["## Per RFC area", "",
            "| area | mutants | killed | survived | no coverage | equivalent | not run | score |",
            "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in data["areas"]:
        out.append(f"| {r['area']} | {sum(r[s] for s in COUNTED) + r['equivalent'] + r['not-run']} "
                   f"| {r['killed'] + r['timeout']} | {r['survived']} | {r['no-coverage']} | {r['equivalent']} "
                   f"| {r['not-run']} | {_pct(r['score'])} |")
    out += ["", "## Per module", "", "| module | area | killed | survived | no coverage | not run | score |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for r in data["modules"]:
        out.append(f"| `{r['path']}` | {r['area']} | {r['killed'] + r['timeout']} | {r['survived']} "
                   f"| {r['no-coverage']} | {r['not-run']} | {_pct(r['score'])} |")
    survivors = [m for m in data["mutants"] if m["status"] in SURVIVING]
    out += ["", f"## Surviving mutants ({len(survivors)})", ""]
    for m in sorted(survivors, key=lambda m: (m["area"], m["path"], m["line"])):
        out += [f"### `{m['id']}` ({m['status']})", "",
                f"{m['area']} · `{m['path']}:{m['line']}` · {m['description']}", ""]
        if m.get("detail"):
            out += [f"Not run: {m['detail']}." if m["tests_run"] == 0 else str(m["detail"]), ""]
        if m["citation"]:
            out += [f"> {m['citation']}", ""]
        out += ["```diff", m["diff"], "```", ""]
        if m["tests"]:
            more = f" and {len(m['tests']) - _LISTED_TESTS} more" if len(m["tests"]) > _LISTED_TESTS else ""
            out += ["Covered by: " + ", ".join(f"`{t}`" for t in m["tests"][:_LISTED_TESTS]) + more, ""]
    equivalent = [m for m in data["mutants"] if m["status"] == "equivalent"]
    out += [f"## Equivalent mutants ({len(equivalent)}, reviewed in conformance/mutation-equivalent.toml)", ""]
    for m in equivalent:
        out += [f"- `{m['id']}` `{m['path']}:{m['line']}` {m['description']}: {m['reason']}"]
    if data["stale_equivalents"]:
        out += ["", "Entries matching no mutant any more (remove or update them): "
                + ", ".join(f"`{i}`" for i in data["stale_equivalents"])]
    if data["excluded"]:
        out += ["", "## Files not mutated", ""] + [f"- `{e['path']}`: {e['reason']}" for e in data["excluded"]]
    return "\n".join(out) + "\n"


_CSS: Final = """body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left}
td.n{text-align:right}pre{background:#f6f6f6;padding:.6em;overflow-x:auto}.add{color:#1a7f37}.del{color:#cf222e}
details{margin:.4em 0;border-left:3px solid #cf222e;padding-left:.6em}blockquote{color:#555;margin:.3em 1em}
.bar{display:inline-block;height:.8em;background:#1a7f37}.gap{display:inline-block;height:.8em;background:#cf222e}"""


def _bar(score: float | None) -> str:
    if score is None:
        return ""
    w = round(100 * score)
    return f'<span class="bar" style="width:{w}px"></span><span class="gap" style="width:{100 - w}px"></span>'


def _diff_html(diff: str) -> str:
    lines = []
    for line in diff.splitlines():
        cls = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        lines.append(f'<span class="{cls}">{html.escape(line)}</span>' if cls else html.escape(line))
    return "<pre>" + "\n".join(lines) + "</pre>"


def to_html(data: dict[str, Any]) -> str:
    e = html.escape
    t = data["totals"]
    parts = [f"<!doctype html><meta charset=utf-8><title>Mutation score: {e(data['suite'])}</title>",
             f"<style>{_CSS}</style>", f"<h1>Mutation score of the {e(data['suite'])} suite</h1>",
             f"<p>{e(data['date'])} · commit {e(data['commit'])} · {t['mutants']} mutants · "
             f"<b>score {_pct(t['score'])}</b> · {t['killed']} killed, {t['timeout']} timed out, "
             f"{t['survived']} survived, {t['no-coverage']} not covered, {t['equivalent']} equivalent</p>"]
    for title, rows, key in (("Per RFC area", data["areas"], "area"), ("Per module", data["modules"], "path")):
        parts.append(f"<h2>{title}</h2><table><tr><th>{key}</th><th>killed</th><th>survived</th>"
                     "<th>no coverage</th><th>equivalent</th><th>not run</th><th>score</th><th></th></tr>")
        for r in rows:
            parts.append(f"<tr><td>{e(r[key])}</td><td class=n>{r['killed'] + r['timeout']}</td>"
                         f"<td class=n>{r['survived']}</td><td class=n>{r['no-coverage']}</td>"
                         f"<td class=n>{r['equivalent']}</td><td class=n>{r['not-run']}</td>"
                         f"<td class=n>{_pct(r['score'])}</td>"
                         f"<td>{_bar(r['score'])}</td></tr>")
        parts.append("</table>")
    survivors = sorted((m for m in data["mutants"] if m["status"] in SURVIVING),
                       key=lambda m: (m["area"], m["path"], m["line"]))
    parts.append(f"<h2>Surviving mutants ({len(survivors)})</h2>")
    for m in survivors:
        parts.append(f"<details><summary><code>{e(m['path'])}:{m['line']}</code> {e(m['description'])} "
                     f"<small>({e(m['status'])}, {e(m['area'])})</small></summary>"
                     f"<p><code>{e(m['id'])}</code></p>")
        if m["citation"]:
            parts.append(f"<blockquote>{e(m['citation'])}</blockquote>")
        parts.append(_diff_html(m["diff"]))
        if m["tests"]:
            parts.append("<p>Covered by " + ", ".join(f"<code>{e(x)}</code>" for x in m["tests"][:_LISTED_TESTS])
                         + (f" and {len(m['tests']) - _LISTED_TESTS} more" if len(m["tests"]) > _LISTED_TESTS
                            else "") + "</p>")
        parts.append("</details>")
    equivalent = [m for m in data["mutants"] if m["status"] == "equivalent"]
    parts.append(f"<h2>Equivalent mutants ({len(equivalent)})</h2><ul>")
    parts += [f"<li><code>{e(m['id'])}</code> {e(m['description'])}: {e(m['reason'] or '')}</li>" for m in equivalent]
    parts.append("</ul>")
    return "\n".join(parts) + "\n"


def write(c: run.Campaign, out_dir: Path) -> dict[str, Any]:
    data = as_dict(c)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "mutation.json").write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    (out_dir / "mutation.md").write_text(to_markdown(data), encoding="utf-8")
    (out_dir / "mutation.html").write_text(to_html(data), encoding="utf-8")
    return data
