"""The differential report: JSON for scripts, one self-contained HTML page for people, and beside
them a pcap per DUT and a conformance test skeleton for every cluster.

    <out>/report.json   everything: campaign figures, clusters, liveness failures
    <out>/report.html   new findings first, then the known ones, then liveness
    <out>/pcaps/cluster-<n>-<dut>.pcap       the shrunk stimulus and that DUT's answers
    <out>/skeletons/test_difference_<n>.py   a conformance test to start from
``--json PATH`` writes the short summary (``summary()``) scripts read.
"""

from __future__ import annotations

import json
from html import escape
from pathlib import Path
from typing import Any

from scapy.layers.l2 import Ether

from fuzz.differential.campaign import Result
from fuzz.differential.cluster import Cluster
from fuzz.differential.liveness import LivenessFailure
from fuzz.differential.skeleton import skeleton
from fuzz.differential.stimulus import Stimulus
from harness.capture import Capture
from reports.to_html import CSS


def write(result: Result, out: Path) -> dict[str, Any]:
    """Write every file of the report under ``out``; return the full JSON document."""
    (out / "pcaps").mkdir(parents=True, exist_ok=True)
    (out / "skeletons").mkdir(parents=True, exist_ok=True)
    for n, cluster in enumerate(result.clusters, 1):
        _artifacts(cluster, n, result.duts, out)
    document = full(result)
    (out / "report.json").write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    (out / "report.html").write_text(html(result, out), encoding="utf-8")
    return document


def summary(result: Result) -> dict[str, Any]:
    return {
        "duts": result.duts,
        "stimuli": result.stimuli,
        "duration_s": round(result.duration_s, 1),
        "stimuli_per_s": round(result.stimuli / result.generating_s, 1) if result.generating_s else 0.0,
        "differing": result.differing,
        "clusters": [{"signature": c.signature, "count": c.count, "triage": c.triage, "known": c.known_id or None}
                     for c in result.clusters],
        "new_clusters": sum(1 for c in result.clusters if c.triage == "new"),
        "liveness_failures": len(result.liveness),
    }


def full(result: Result) -> dict[str, Any]:
    document = summary(result)
    document.update({
        "seconds": {"generating": round(result.generating_s, 1), "probing": round(result.probing_s, 1),
                    "shrinking": round(result.shrinking_s, 1)},
        "lanes": result.lanes,
        "rebaselines": result.rebaselines,
        "clusters": [_cluster_json(c) for c in result.clusters],
        "liveness": [_liveness_json(f) for f in result.liveness],
        "kernel_log": result.kernel_log,
    })
    return document


def _cluster_json(c: Cluster) -> dict[str, Any]:
    example = c.example
    return {
        "signature": c.signature, "count": c.count, "triage": c.triage, "known": c.known_id or None,
        "known_reason": c.known_reason or None, "rfc": c.known_rfc or None,
        "stimulus": {"kind": example.kind, "frames": example.hex()} if example else None,
        "shrunk": c.shrunk is not None, "shrink_note": c.shrink_note,
        "answers": c.shrunk_answers, "pcaps": c.pcaps, "test_skeleton": c.skeleton,
        "shapes": dict(c.shapes.most_common(10)),
    }


def _liveness_json(f: LivenessFailure) -> dict[str, Any]:
    return {"dut": f.dut, "lane": f.lane, "problems": f.problems,
            "preceding": [{"kind": s.kind, "frames": s.hex()} for s in f.preceding],
            "culprit": {"kind": f.culprit.kind, "frames": f.culprit.hex()} if f.culprit else None,
            "culprit_note": f.culprit_note}


def _artifacts(cluster: Cluster, n: int, duts: list[str], out: Path) -> None:
    example = cluster.example
    if example is None:
        return
    for dut in duts:
        capture = Capture()
        path = out / "pcaps" / f"cluster-{n:03d}-{dut}.pcap"
        capture.start(path)
        for frame in example.frames:
            capture.record(frame, "to_dut", 0.0)
        for frame in cluster.shrunk_frames.get(dut, []):
            capture.record(frame, "from_dut", 0.001)
        capture.stop(keep=True)
        cluster.pcaps[dut] = str(path.relative_to(out))
    path = out / "skeletons" / f"test_difference_{n:03d}.py"
    path.write_text(skeleton(cluster, duts, n), encoding="utf-8")
    cluster.skeleton = str(path.relative_to(out))


# ---- HTML ------------------------------------------------------------------------------------
_EXTRA_CSS = """
pre{background:#f6f8f9;padding:8px;overflow-x:auto;font-size:12px;margin:4px 0}
.sig{font-family:ui-monospace,monospace;font-size:13px}.tri{font-weight:600;white-space:nowrap}
.tri-new{color:#c62828}.tri-allowed{color:#2e7d32}.tri-linux-deviation{color:#ef8f00}.tri-unreproduced{color:#5f6b73}
details{margin:2px 0 10px}summary{cursor:pointer}
"""


def html(result: Result, out: Path) -> str:
    r = result
    rate = r.stimuli / r.generating_s if r.generating_s else 0.0
    new = [c for c in r.clusters if c.triage == "new"]
    parts = [
        "<!doctype html><html><head><meta charset='utf-8'><title>stackcheck differential fuzzing</title>",
        f"<style>{CSS}{_EXTRA_CSS}</style></head><body>",
        f"<h1>Differential fuzzing: {escape(' vs '.join(r.duts))}</h1>",
        f"<p class='muted'>{r.stimuli} stimuli in {r.duration_s:.0f} s ({rate:.0f} stimuli/s while generating; "
        f"{r.probing_s:.0f} s probing, {r.shrinking_s:.0f} s shrinking). {r.differing} stimuli drew different "
        f"answers, in {len(r.clusters)} clusters: <b>{len(new)} new</b>. Liveness failures: "
        f"<b>{len(r.liveness)}</b>. Lanes: {escape(', '.join(f'{d} {n}' for d, n in r.lanes.items()))}.</p>",
        "<h2>Clusters</h2><table><tr><th>#</th><th>triage</th><th>count</th><th>signature</th></tr>",
    ]
    for n, c in enumerate(r.clusters, 1):
        parts.append(f"<tr><td><a href='#c{n}'>{n}</a></td><td class='tri tri-{escape(c.triage)}'>{escape(c.triage)}"
                     f"</td><td>{c.count}</td><td class='sig'>{escape(c.signature)}</td></tr>")
    parts.append("</table>")
    for n, c in enumerate(r.clusters, 1):
        parts.append(_cluster_html(c, n, r.duts, out))
    parts.append("<h2>Liveness</h2>")
    if not r.liveness:
        parts.append("<p>Every DUT answered every probe between batches.</p>")
    for f in r.liveness:
        parts.append(_liveness_html(f))
    if r.kernel_log:
        parts.append("<h3>Kernel log (the whole host's, during the campaign)</h3><pre>"
                     + escape("\n".join(r.kernel_log)) + "</pre>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _cluster_html(c: Cluster, n: int, duts: list[str], out: Path) -> str:
    parts = [f"<h3 id='c{n}'>{n}. <span class='tri tri-{escape(c.triage)}'>{escape(c.triage)}</span> "
             f"({c.count}×)</h3><p class='sig'>{escape(c.signature)}</p>"]
    if c.known_id:
        parts.append(f"<p><b>{escape(c.known_id)}</b>: {escape(c.known_reason)}<br>{escape(c.known_rfc)}</p>")
    if c.shapes:
        seen = ", ".join(f"{escape(shape)} ({n}×)" for shape, n in c.shapes.most_common(5))
        parts.append(f"<p class='muted'>seen with: {seen}</p>")
    example = c.example
    if example is not None:
        what = "shrunk stimulus" if c.shrunk else "stimulus (not shrunk)"
        parts.append(f"<p class='muted'>{escape(what)}: {escape(c.shrink_note)}</p>")
        parts.append("<pre>" + escape(_show(example)) + "</pre>")
    parts.append("<table><tr><th>DUT</th><th>answers (normalised)</th><th>pcap</th></tr>")
    for dut in duts:
        answers = c.shrunk_answers.get(dut) or ["(nothing)"]
        pcap = c.pcaps.get(dut)
        link = f"<a href='{escape(pcap)}'>{escape(Path(pcap).name)}</a>" if pcap else ""
        parts.append(f"<tr><td>{escape(dut)}</td><td class='sig'>{'<br>'.join(escape(a) for a in answers)}</td>"
                     f"<td>{link}</td></tr>")
    parts.append("</table>")
    if c.skeleton:
        code = (out / c.skeleton).read_text(encoding="utf-8")
        parts.append(f"<details><summary>conformance test skeleton ({escape(c.skeleton)})</summary>"
                     f"<pre>{escape(code)}</pre></details>")
    return "\n".join(parts)


def _liveness_html(f: LivenessFailure) -> str:
    parts = [f"<h3>{escape(f.lane)}: {escape('; '.join(f.problems))}</h3>",
             f"<p>{len(f.preceding)} stimuli ran on it since its last good probe. {escape(f.culprit_note)}</p>"]
    if f.culprit is not None:
        parts.append("<p>Culprit:</p><pre>" + escape(_show(f.culprit)) + "</pre>")
    if f.preceding:
        listing = "\n".join(f"{s.kind}: {' '.join(s.hex())}" for s in f.preceding[-20:])
        parts.append(f"<details><summary>the last {min(20, len(f.preceding))} preceding stimuli</summary>"
                     f"<pre>{escape(listing)}</pre></details>")
    return "\n".join(parts)


def _show(stimulus: Stimulus) -> str:
    """Scapy's dissection of each frame; a long fragment plan as one line a piece after the first two."""
    lines = []
    for n, frame in enumerate(stimulus.frames):
        try:
            pkt = Ether(frame)
            lines.append((pkt.show(dump=True) or "") if n < 2 else pkt.summary())
        except Exception:
            lines.append(frame.hex())
    return "\n".join(lines)
