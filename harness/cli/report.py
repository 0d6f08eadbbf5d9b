"""`stackcheck report`: results.json files -> report.md, report.json, report.html [+ Allure].

The reports add the requirement catalog (conformance/requirements/): every normative statement
of the RFCs, in scope or not, tested or not, with the reason for the untested ones. ``--allure`` turns the Allure results written next to each
results.json (``stackcheck run --allure`` puts them in ``<report dir>/allure-results``) into one
self-contained ``allure/index.html`` with the npm package ``allure`` (Allure 3), installed on
first use under ``.cache/allure`` in the source tree (or $STACKCHECK_ALLURE_CACHE). That first
use downloads from the npm registry: where Node.js is missing or the download fails, the
other reports are still written and the command only warns (``AllureUnavailable``).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Final

ALLURE_PACKAGE: Final = "allure@3"
ALLURE_RESULTS: Final = "allure-results"  # next to results.json


class ReportError(Exception):
    """One line for the user (the CLI prints it and exits 2)."""


class AllureUnavailable(ReportError):
    """The Allure 3 renderer cannot be had here (no Node.js, or npm cannot download it): the
    other reports are written all the same and the CLI only warns."""


def write(paths: list[Path], out: Path, catalog_dir: Path | None, mutation: Path | None = None) -> list[str]:
    """Render every format into ``out``; returns the summary lines to print. ``mutation``: a
    mutation.json (``stackcheck mutate``) whose score the reports state."""
    from reports import load, to_html, to_json, to_markdown
    from reports.catalog import CatalogError
    from reports.catalog import load as load_catalog
    from reports.model import VERDICTS, Report

    try:
        runs = [load.load(p) for p in paths]
    except load.ResultsError as e:
        raise ReportError(str(e)) from None
    try:
        catalog = load_catalog(catalog_dir) if catalog_dir is not None and catalog_dir.is_dir() else None
    except CatalogError as e:
        raise ReportError(str(e)) from None
    report = Report.of(runs)
    try:
        report.mutation = load.load_mutation(mutation) if mutation is not None else None
    except load.ResultsError as e:
        raise ReportError(str(e)) from None
    try:
        out.mkdir(parents=True, exist_ok=True)
        (out / "report.md").write_text(to_markdown.render(report, out, catalog), encoding="utf-8")
        (out / "report.json").write_text(to_json.render(report, out, catalog), encoding="utf-8")
        (out / "report.html").write_text(to_html.render(report, out, catalog), encoding="utf-8")
    except OSError as e:
        raise ReportError(f"cannot write the report to {out}: {e.strerror}") from None
    lines = []
    for label, run in report.runs:
        counts = run.totals()
        totals = ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts[v]) or "no tests"
        lines.append(f"stackcheck: {label}: {totals}")
    lines.append(f"stackcheck: report written to {out / 'report.html'}, report.md and report.json")
    return lines


def _allure_command(cache: Path) -> list[str]:
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise AllureUnavailable("it needs Node.js (node and npm on PATH; Debian: apt-get install nodejs npm)")
    binary = cache / "node_modules" / ".bin" / "allure"
    if not binary.exists():
        cache.mkdir(parents=True, exist_ok=True)
        print(f"stackcheck: installing the npm package {ALLURE_PACKAGE} into {cache} (once)", flush=True)
        try:
            done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                                   ALLURE_PACKAGE], capture_output=True, text=True, timeout=600)
        except subprocess.TimeoutExpired:
            raise AllureUnavailable(f"npm install {ALLURE_PACKAGE} (a download from the npm registry) "
                                    "did not finish within 600 s") from None
        if done.returncode != 0 or not binary.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise AllureUnavailable(f"npm install {ALLURE_PACKAGE} (a download from the npm registry) failed: {last}")
    return [str(binary)]


def allure(paths: list[Path], out: Path, cache: Path) -> str:
    """Build ``out/allure/index.html`` from the allure-results next to each results file."""
    dirs = [p.parent / ALLURE_RESULTS for p in paths]
    found = [d for d in dirs if d.is_dir() and any(d.glob("*-result.json"))]
    if not found:
        raise ReportError(f"no Allure results in {', '.join(str(d) for d in dirs)}; run "
                          "'stackcheck run --allure' first")
    command = _allure_command(cache)
    target = out / "allure"
    shutil.rmtree(target, ignore_errors=True)
    done = subprocess.run([*command, "awesome", *map(str, found), "--single-file", "--output", str(target),
                           "--report-name", "stackcheck conformance", "--group-by", "epic,feature,story"],
                          capture_output=True, text=True, timeout=600, env={**os.environ, "NO_COLOR": "1"})
    index = target / "index.html"
    if done.returncode != 0 or not index.exists():
        last = ((done.stderr or done.stdout).strip().splitlines() or ["no output"])[-1]
        raise ReportError(f"allure awesome failed (exit {done.returncode}): {last}")
    _offline(index)
    return f"stackcheck: Allure report written to {index}"


# Allure's awesome report embeds a Google Analytics tag (no switch turns it off in 3.x); the
# report must open offline and fetch nothing, so the tag and its inline set-up are removed.
_ANALYTICS: Final = re.compile(
    r'<script async src="https://www\.googletagmanager\.com/gtag/js[^"]*"></script>\s*'
    r"<script>\s*window\.dataLayer.*?</script>", re.DOTALL)


def _offline(index: Path) -> None:
    html = index.read_text(encoding="utf-8")
    cleaned = _ANALYTICS.sub("", html)
    if cleaned != html:
        index.write_text(cleaned, encoding="utf-8")
