"""The results file: one JSON document per run, the only input of report and baseline.

Schema version 1:
  {"schema": "claims-results", "version": 1, "environment": {...}, "suite_runtime_s": float,
   "claims": [{"id", "title", "family", "statement", "source", "expected", "why_expected",
               "verdict", "reason", "matches_expected", "evidence": [...], "figures": [...],
               "tests": [{"nodeid", "seed", "outcome", "verdict", "reason", "runtime_s",
                          "parameters", "notes", "error"}],
               "plots": [{"caption", "svg", "nodeid"}], "runtime_s"}]}
"""
from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from .evidence import Evidence, Verdict, combine, decide

SCHEMA = "claims-results"
VERSION = 1


class ResultsFileError(ValueError):
    """A results file that cannot be used, with the file and the fix in the message."""


def aggregate(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per-test records -> one entry per claim, in a deterministic order."""
    by_claim: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        by_claim.setdefault(rec["claim"]["id"], []).append(rec)
    claims = []
    for claim_id in sorted(by_claim, key=_claim_sort_key):
        tests = sorted(by_claim[claim_id], key=lambda r: r["nodeid"])
        meta = tests[0]["claim"]
        evidence = []
        for t in tests:
            for row in t["evidence"]:
                evidence.append({**row, "nodeid": t["nodeid"]})
        arms = {}
        for t in tests:  # each test (one arm of the claim) is decided on its own evidence
            forced = [f"raised: {t['error']}"] if t["outcome"] == "error" else []
            forced += list(t.get("declared_inconclusive", []))
            verdict, reason = decide([Evidence.from_dict(e) for e in t["evidence"]], forced,
                                     meta.get("no_substantive_control", ""))
            t["verdict"], t["reason"] = verdict.value, reason
            t.setdefault("arm", t["nodeid"].split("::")[-1])
            t.setdefault("expected", meta["expected"])
            if t.get("votes", True):  # comparison arms are shown, not combined
                arms[t["arm"]] = verdict
        if not arms:  # every arm declared itself a comparison: they all count
            arms = {t["arm"]: Verdict(t["verdict"]) for t in tests}
        verdict, how = combine(arms, meta.get("combine", "all"))
        reason = how if len(arms) > 1 else next(t["reason"] for t in tests if t["arm"] in arms)
        claims.append({
            **meta,
            "verdict": verdict.value,
            "reason": reason,
            "matches_expected": verdict.value == meta["expected"],
            "evidence": evidence,
            "figures": [{**f, "nodeid": t["nodeid"]} for t in tests for f in t["figures"]],
            "plots": [{**p, "nodeid": t["nodeid"]} for t in tests for p in t["plots"]],
            "tests": [{k: t[k] for k in ("nodeid", "arm", "seed", "outcome", "verdict",
                                         "reason", "expected", "why_expected", "votes", "runtime_s",
                                         "parameters", "notes", "error",
                                         "declared_inconclusive", "timings", "code_hash",
                                         "calibrated", "calibrated_flip")
                       if k in t}
                      for t in tests],
            "code_hash": "+".join(sorted({t.get("code_hash", "") for t in tests})),
            "runtime_s": sum(t["runtime_s"] for t in tests),
        })
    return claims


def _claim_sort_key(claim_id: str) -> tuple[str, int, str]:
    digits = "".join(ch for ch in claim_id[1:] if ch.isdigit())
    return claim_id[0], int(digits or 0), claim_id


def write(path: Path, document: dict[str, Any]) -> Path:
    """Write atomically: a reader never sees half a file, a crash never truncates one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".results-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(document, fh, indent=1, sort_keys=True, allow_nan=False)
            fh.write("\n")
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: Path | str) -> dict[str, Any]:
    """Read and validate a results file; errors name the file and what to do."""
    path = Path(path)
    if not path.is_file():
        raise ResultsFileError(f"{path}: no such results file; run `pytest claims/` to make "
                               f"one (it is written to <report dir>/results.json)")
    try:
        document = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsFileError(f"{path}: not valid JSON ({exc}); the file is corrupt or "
                               f"truncated: re-run the suite to write it again") from exc
    if not isinstance(document, dict) or document.get("schema") != SCHEMA:
        raise ResultsFileError(f"{path}: not a claims results file (schema "
                               f"{document.get('schema') if isinstance(document, dict) else None!r},"
                               f" expected {SCHEMA!r})")
    if document.get("version") != VERSION:
        raise ResultsFileError(f"{path}: results schema version {document.get('version')!r}, "
                               f"this harness reads version {VERSION}: re-run the suite")
    for key in ("environment", "claims"):
        if key not in document:
            raise ResultsFileError(f"{path}: missing {key!r}; the file is truncated or was "
                                   f"not written by this harness")
    return document


def merge(documents: list[dict[str, Any]], paths: list[str]) -> dict[str, Any]:
    """One document from shards of a suite run on different machines.

    Shards must share the master seed and budget (else their evidence is not one run), and
    no test may appear in two shards. Each claim's verdict is decided again over all of its
    tests, exactly as for a single run.
    """
    if not documents:
        raise ResultsFileError("merge needs at least one results file")
    first_env = documents[0]["environment"]
    for doc, path in zip(documents[1:], paths[1:]):
        env = doc["environment"]
        for key, option in (("master_seed", "--claims-seed"), ("budget", "--budget")):
            if env.get(key) != first_env.get(key):
                raise ResultsFileError(
                    f"cannot merge {path} ({key} {env.get(key)!r}) with {paths[0]} ({key} "
                    f"{first_env.get(key)!r}): shards must be run with the same {option}")
    records, seen = [], {}
    for doc, path in zip(documents, paths):
        for record in _records(doc):
            if record["nodeid"] in seen:
                raise ResultsFileError(f"test {record['nodeid']} is in both {seen[record['nodeid']]}"
                                       f" and {path}: shards must not overlap")
            seen[record["nodeid"]] = path
            records.append(record)
    return {
        "schema": SCHEMA, "version": VERSION,
        "environment": first_env,
        "suite_runtime_s": max(d["suite_runtime_s"] for d in documents),
        "shards": [{"path": str(p), "environment": d["environment"],
                    "suite_runtime_s": d["suite_runtime_s"]} for d, p in zip(documents, paths)],
        "claims": aggregate(records),
    }


def _records(document: dict[str, Any]) -> list[dict[str, Any]]:
    """Per-test records back from a results document (the inverse of ``aggregate``)."""
    out = []
    meta_keys = ("id", "title", "statement", "source", "expected", "why_expected", "family",
                 "combine", "speaks_to", "regime")
    for claim in document["claims"]:
        meta = {k: claim[k] for k in meta_keys if k in claim}
        for test in claim["tests"]:
            node = test["nodeid"]

            def own(rows):
                return [{k: v for k, v in r.items() if k != "nodeid"} for r in rows
                        if r.get("nodeid") == node]

            out.append({**test, "claim": meta, "evidence": own(claim["evidence"]),
                        "figures": own(claim["figures"]), "plots": own(claim["plots"])})
    return out
