"""Read results.json files (``model.ResultsFile``, written by the pytest plugin) into the report model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reports.model import VERDICTS, FrameRecord, MutationSummary, Outcome, Requirement, RunResult


class ResultsError(ValueError):
    """A results file is missing or malformed; the message is one line for the user."""


def load(path: Path) -> RunResult:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"results file {path} does not exist") from None
    except OSError as e:
        raise ResultsError(f"cannot read results file {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"results file {path} is not valid JSON: {e}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), list) or "dut" not in data:
        raise ResultsError(f"{path} is not a stackcheck results file (needs 'dut' and a 'results' list)")
    outcomes = tuple(_outcome(path, n, r) for n, r in enumerate(data["results"], 1))
    identity = data.get("identity")
    expectations = data.get("expectations")
    seed = data.get("randomly_seed")
    return RunResult(str(data["dut"]), str(data.get("started", "")), str(data.get("finished", "")),
                     outcomes, path,
                     identity={str(k): str(v) for k, v in identity.items()} if isinstance(identity, dict) else {},
                     expectations=tuple(e for e in expectations if isinstance(e, dict))
                     if isinstance(expectations, list) else (),
                     seed=seed if isinstance(seed, int) else None)


def _outcome(path: Path, n: int, r: Any) -> Outcome:
    where = f"{path}: result #{n}"
    if not isinstance(r, dict):
        raise ResultsError(f"{where} is not an object")
    for key in ("nodeid", "verdict"):
        if not isinstance(r.get(key), str):
            raise ResultsError(f"{where} lacks {key!r}")
    if r["verdict"] not in VERDICTS:
        raise ResultsError(f"{where} has unknown verdict {r['verdict']!r}")
    try:
        rfc = int(r.get("rfc") or 0)
        duration = float(r.get("duration_s") or 0.0)
    except (TypeError, ValueError):
        raise ResultsError(f"{where} has a non-numeric rfc or duration_s") from None
    also = r.get("also")
    requirement = Requirement(rfc, str(r.get("section") or ""), str(r.get("level") or ""),
                              str(r.get("requirement") or ""), str(r.get("req") or ""),
                              bool(r.get("described")), tuple(str(a) for a in also) if isinstance(also, list) else ())
    pcap = r.get("pcap")
    deviation = r.get("deviation")
    return Outcome(
        nodeid=r["nodeid"],
        test=str(r.get("test") or r["nodeid"].rsplit("::", 1)[-1]),
        requirement=requirement,
        verdict=r["verdict"],
        message=str(r.get("message") or ""),
        pcap=(path.parent / pcap).resolve() if isinstance(pcap, str) and pcap else None,
        duration_s=duration,
        deviation=str(deviation.get("reason", "")) if isinstance(deviation, dict) else None,
        exchange=tuple(_frames(r.get("exchange"))),
        quote=str(r["quote"]) if isinstance(r.get("quote"), str) else None,
        after=str(r["after"]) if isinstance(r.get("after"), str) else None,  # absent before version 3
        dut_state=str(r.get("dut_state") or ""),
    )


def _frames(raw: Any) -> list[FrameRecord]:
    """The dissected exchange of a record (absent in older results files: none)."""
    if not isinstance(raw, list):
        return []
    return [FrameRecord(direction=str(f.get("direction", "")), summary=str(f.get("summary", "")),
                        dissection=str(f.get("dissection", "")))
            for f in raw if isinstance(f, dict)]


def load_mutation(path: Path) -> MutationSummary:
    """The headline of a mutation.json written by ``stackcheck mutate``."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ResultsError(f"mutation results {path} do not exist (run 'stackcheck mutate' first)") from None
    except OSError as e:
        raise ResultsError(f"cannot read mutation results {path}: {e.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ResultsError(f"mutation results {path} are not valid JSON: {e}") from None
    totals = data.get("totals") if isinstance(data, dict) else None
    if not isinstance(totals, dict):
        raise ResultsError(f"{path} is not a stackcheck mutation.json (needs 'totals')")
    try:
        score = totals.get("score")
        return MutationSummary(
            suite=str(data.get("suite", "")), date=str(data.get("date", "")), commit=str(data.get("commit", "")),
            mutants=int(totals["mutants"]) - int(totals.get("not-run", 0)), killed=int(totals["killed"]) + int(totals.get("timeout", 0)),
            survived=int(totals["survived"]) + int(totals.get("no-coverage", 0)),
            equivalent=int(totals.get("equivalent", 0)), score=None if score is None else float(score),
            partial=bool(data.get("partial", False)), source=path)
    except (KeyError, TypeError, ValueError):
        raise ResultsError(f"{path}: 'totals' lacks a count (mutants, killed, survived)") from None
