"""Calibration files: how often each claim's verdict survives other master seeds.

A calibration runs the suite under K master seeds (``python -m harness.calibrate``) and keeps,
per seed and claim, the verdict, each arm's verdict and every primary's estimate and interval.
Everything else (counts, the share at the expected verdict with its Clopper-Pearson interval,
opposite decisions) is summarized from those runs, so partial calibrations (a range of seeds
per machine) merge by concatenating their runs.

Schema version 1:
  {"schema": "claims-calibration", "version": 1, "calibration_seed", "budget", "k",
   "pytest_args": [...], "environment": {...},
   "runs": [{"index", "master_seed", "suite_runtime_s", "claims": {id: {"verdict",
             "expected", "title", "code_hash", "arms": {arm: {"verdict", "expected",
             "code_hash"}}, "primaries": {"arm :: name": {"estimate", "low", "high", "outcome",
             "threshold", "comparison", "null", "floor", "statistic"}},
             "figures": {"test :: figure": mean}}}}],
   "claims": {id: summary (see ``summarize``)}}
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scipy import stats as st

from .ensemble import STABLE_SHARE, figure_key
from .results import write
from .seeds import DEFAULT_MASTER_SEED, derive_seed

SCHEMA = "claims-calibration"
VERSION = 1
LEVEL = 0.95  # the Clopper-Pearson interval on the share of seeds at the expected verdict
OPPOSITE = {"SUPPORTED": "REFUTED", "REFUTED": "SUPPORTED"}


class CalibrationError(ValueError):
    """A calibration file that cannot be used, with the file and the fix in the message."""


def master_seeds(calibration_seed: int, k: int) -> list[int]:
    """The K master seeds of a calibration: reproducible from the calibration seed, and
    independent of how the K are split into ranges."""
    def seed(i: int, retry: int = 0) -> int:
        key = "calibration" if retry == 0 else f"calibration-retry-{retry}"
        s = derive_seed(calibration_seed, key, i) % (2 ** 31)
        return s if s != DEFAULT_MASTER_SEED else seed(i, retry + 1)
    return [seed(i) for i in range(k)]


def run_record(index: int, master_seed: int, document: dict[str, Any]) -> dict[str, Any]:
    """What a calibration keeps of one seed's results document."""
    claims = {}
    for c in document["claims"]:
        primaries = {}
        for e in c["evidence"]:
            if e.get("role") != "primary":
                continue
            arm = next((t.get("arm", "") for t in c["tests"] if t["nodeid"] == e.get("nodeid")),
                       "")
            primaries[f"{arm} :: {e['name']}"] = {
                "estimate": e.get("observed"), "low": e.get("ci_low"), "high": e.get("ci_high"),
                "outcome": e.get("outcome"), "threshold": e.get("threshold"),
                "comparison": e.get("comparison"), "null": e.get("null"),
                "floor": e.get("floor"), "statistic": e.get("statistic"),
                "exact": bool(e.get("exact"))}
        claims[c["id"]] = {
            "verdict": c["verdict"], "expected": c["expected"], "title": c["title"],
            "code_hash": c.get("code_hash", ""),
            "arms": {t.get("arm", t["nodeid"]): {"verdict": t["verdict"],
                                                 "expected": t.get("expected", c["expected"]),
                                                 "code_hash": t.get("code_hash", "")}
                     for t in c["tests"]},
            "primaries": primaries,
            # each figure's value in this seed: the ensemble a baseline compares runs with
            "figures": {figure_key(f): f.get("mean") for f in c.get("figures", [])}}
    return {"index": index, "master_seed": master_seed,
            "suite_runtime_s": document.get("suite_runtime_s"), "claims": claims}


def _share(at: int, k: int) -> dict[str, Any]:
    if k == 0:
        return {"at_expected": 0, "k": 0, "share": None, "share_ci": [None, None]}
    ci = st.binomtest(at, k).proportion_ci(confidence_level=LEVEL, method="exact")
    return {"at_expected": at, "k": k, "share": at / k, "share_ci": [ci.low, ci.high]}


def _opposite(expected: str, verdicts: list[str]) -> bool:
    """A false alarm: the opposite decision of the expected one, or both decisions seen."""
    if expected in OPPOSITE:
        return OPPOSITE[expected] in verdicts
    return "SUPPORTED" in verdicts and "REFUTED" in verdicts


def summarize(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Per claim: verdict counts, share at expected (Clopper-Pearson), opposite decisions,
    per-arm counts and each primary's estimate and interval per seed."""
    runs = sorted(runs, key=lambda r: r["index"])
    ids = sorted({cid for r in runs for cid in r["claims"]},
                 key=lambda c: (c[0], int("".join(ch for ch in c[1:] if ch.isdigit()) or 0), c))
    out = {}
    for cid in ids:
        seen = [(r, r["claims"][cid]) for r in runs if cid in r["claims"]]
        last = seen[-1][1]
        expected = last["expected"]
        verdicts = [c["verdict"] for _, c in seen]
        arms = {}
        for arm in sorted({a for _, c in seen for a in c["arms"]}):
            rows = [c["arms"][arm] for _, c in seen if arm in c["arms"]]
            arm_verdicts = [x["verdict"] for x in rows]
            share = _share(sum(x["verdict"] == x["expected"] for x in rows), len(rows))
            arms[arm] = {"expected": rows[-1]["expected"],
                         "counts": {v: arm_verdicts.count(v) for v in sorted(set(arm_verdicts))},
                         "shares": {v: _share(arm_verdicts.count(v), len(rows))
                                    for v in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")},
                         **share, "stable": share["at_expected"] >= STABLE_SHARE * len(rows),
                         "code_hashes": sorted({x.get("code_hash", "") for x in rows})}
        primaries = {}
        for key in sorted({k for _, c in seen for k in c["primaries"]}):
            points = [{"master_seed": r["master_seed"], "index": r["index"],
                       **{f: c["primaries"][key][f] for f in
                          ("estimate", "low", "high", "outcome")}}
                      for r, c in seen if key in c["primaries"]]
            meta = next(c["primaries"][key] for _, c in reversed(seen) if key in c["primaries"])
            outcomes = [p["outcome"] for p in points]
            primaries[key] = {**{f: meta.get(f) for f in ("threshold", "comparison", "null",
                                                           "floor", "statistic", "exact")},
                              "outcomes": {o: outcomes.count(o) for o in sorted(set(outcomes))},
                              "points": points}
        out[cid] = {
            "title": last["title"], "expected": expected,
            # the claim's code in each seed: a calibration mixing codes, or made for other
            # code than a run's, is stale for that claim (see ``is_stale``)
            "code_hashes": sorted({c.get("code_hash", "") for _, c in seen}),
            "counts": {v: verdicts.count(v) for v in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")},
            **_share(verdicts.count(expected), len(verdicts)),
            "opposite": _opposite(expected, verdicts),
            "per_seed": [{"index": r["index"], "master_seed": r["master_seed"],
                          "verdict": c["verdict"]} for r, c in seen],
            "arms": arms, "primaries": primaries}
    return out


def document(runs: list[dict[str, Any]], *, calibration_seed: int, budget: str, k: int,
             pytest_args: list[str], environment: dict[str, Any] | None) -> dict[str, Any]:
    return {"schema": SCHEMA, "version": VERSION, "calibration_seed": calibration_seed,
            "budget": budget, "k": k, "pytest_args": list(pytest_args),
            "environment": environment or {},
            "runs": sorted(runs, key=lambda r: r["index"]), "claims": summarize(runs)}


def load(path: Path | str) -> dict[str, Any]:
    path = Path(path)
    fix = "make one with `python -m harness.calibrate --seeds K --out DIR`"
    if not path.is_file():
        raise CalibrationError(f"calibration {path}: no such file; {fix}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CalibrationError(f"calibration {path}: not valid JSON ({exc}); the file is "
                               f"corrupt or truncated: {fix}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise CalibrationError(f"calibration {path}: schema {got!r}, expected {SCHEMA!r}")
    if data.get("version") != VERSION:
        raise CalibrationError(f"calibration {path}: version {data.get('version')!r}, this "
                               f"harness reads version {VERSION}; {fix}")
    if not isinstance(data.get("runs"), list):
        raise CalibrationError(f"calibration {path}: no 'runs': truncated or hand-edited; {fix}")
    return data


def merge(documents: list[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    """One calibration from parts run on different machines (ranges of the same K seeds).
    A part may also recalibrate some claims (pytest args naming them) for seeds another part
    has: pass it later, and its runs of a claim whose code changed replace the stale ones."""
    if not documents:
        raise CalibrationError("merge needs at least one calibration file")
    first = documents[0]
    for doc, path in zip(documents[1:], paths[1:]):
        for key, option in (("calibration_seed", "--calibration-seed"), ("budget", "--budget")):
            if doc.get(key) != first.get(key):
                raise CalibrationError(
                    f"cannot merge {path} ({key} {doc.get(key)!r}) with {paths[0]} "
                    f"({key} {first.get(key)!r}): parts must share {option}")
    by_index: dict[int, dict[str, Any]] = {}
    where: dict[tuple[int, str], str] = {}
    for doc, path in zip(documents, paths):
        for run in doc["runs"]:
            merged = by_index.setdefault(run["index"], {**run, "claims": {}})
            for cid, claim in run["claims"].items():
                old = merged["claims"].get(cid)
                if old is not None and old.get("code_hash") == claim.get("code_hash"):
                    raise CalibrationError(
                        f"seed {run['index']} of claim {cid} is in both {where[run['index'], cid]}"
                        f" and {path} for the same code: parts must not overlap (--range)")
                # a later part that recalibrated a claim whose code changed replaces it
                merged["claims"][cid] = claim
                where[run["index"], cid] = path
    runs = list(by_index.values())
    doc = document(runs, calibration_seed=first["calibration_seed"], budget=first["budget"],
                   k=max(d.get("k", 0) for d in documents),
                   pytest_args=first.get("pytest_args", []),
                   environment=first.get("environment"))
    restamps = restamp_chains([r for d in documents for r in d.get("restamps", [])], runs)
    return {**doc, "restamps": restamps} if restamps else doc


def restamp_chains(restamps: list[dict[str, Any]], runs: list[dict[str, Any]]
                   ) -> list[dict[str, Any]]:
    """The restamps (harness.restamp) that still prove something: per claim, the chain of
    links from the code its runs carry now back to the code they ran; a claim recalibrated
    since drops its chain."""
    kept = []
    for cid in dict.fromkeys(r["claim"] for r in restamps):
        hashes = {run["claims"][cid].get("code_hash") for run in runs if cid in run["claims"]}
        code = hashes.pop() if len(hashes) == 1 else None
        while code is not None:
            link = next((r for r in reversed(restamps) if r["claim"] == cid and
                         r["to"] == code and r not in kept), None)
            if link is None:
                break
            kept.append(link)
            code = link["from"]
    return [r for r in restamps if r in kept]


def save(path: Path | str, doc: dict[str, Any]) -> Path:
    return write(Path(path), doc)


def stability(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """What the main report and the baseline keep of a calibration, per claim."""
    return {cid: {k: s.get(k) for k in ("expected", "counts", "at_expected", "k", "share",
                                        "share_ci", "opposite", "code_hashes")}
            for cid, s in doc["claims"].items()}


def is_stale(summary: dict[str, Any], code_hash: str) -> bool:
    """A claim's calibration says nothing about code it was not run on: stale when its seeds
    ran other (or mixed, or unrecorded) code than ``code_hash``."""
    return summary.get("code_hashes") != [code_hash]


def arm_distribution(doc: dict[str, Any] | None, claim_id: str, arm: str,
                     code_hash: str) -> dict[str, Any] | None:
    """This arm's verdict counts over the calibration seeds that ran this very code (the
    arm's test module and fixtures), or None when none did."""
    verdicts = [r["claims"][claim_id]["arms"][arm]["verdict"] for r in (doc or {}).get("runs", [])
                if arm in r["claims"].get(claim_id, {}).get("arms", {}) and code_hash
                and r["claims"][claim_id]["arms"][arm].get("code_hash") == code_hash]
    if not verdicts:
        return None
    return {"counts": {v: verdicts.count(v) for v in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")},
            "k": len(verdicts)}
