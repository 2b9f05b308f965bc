"""What a run's results fall short of the judging rule, checked on the results file itself:
no zero-width interval from units that could vary, no positive control that is not paired
with the primary it backs, no placebo standing in for the negative control, no proportion
against p0 = 0 or 1, comparison arms only where the catalogue names them. The plugin runs it
on every run; a finding fails the session (exit status 8) so CI keeps the rule."""
from __future__ import annotations

from typing import Any

from .evidence import COMPARISON_ARMS, Evidence, Role, unpaired

EXIT_AUDIT = 8
PLACEBO_WORDS = ("permut", "shuffl", "placebo")


def audit(document: dict[str, Any]) -> list[str]:
    problems = []
    for claim in document.get("claims", []):
        for test in claim.get("tests", []):
            where = f"{claim['id']}[{test.get('arm', test['nodeid'])}]"
            rows = [r for r in claim.get("evidence", []) if r.get("nodeid") == test["nodeid"]]
            problems += [f"{where}: {p}" for p in _rows(rows)]
            if test.get("verdict") == "SUPPORTED":
                problems += [f"{where}: {p}" for p in _supported(rows, claim)]
            if not test.get("votes", True) and test.get("arm") not in COMPARISON_ARMS.get(
                    claim["id"], ()):
                problems.append(f"{where}: a comparison arm (votes=False) the catalogue does "
                                "not name")
    return problems


def _rows(rows: list[dict[str, Any]]) -> list[str]:
    problems = []
    primaries = {r["name"]: Evidence.from_dict(r) for r in rows if r["role"] == "primary"}
    for r in rows:
        low, high = r.get("ci_low"), r.get("ci_high")
        if low is not None and high is not None and low == high and r.get("n", 0) > 1:
            problems.append(f"{r['name']!r}: zero-width interval [{low}, {high}] from "
                            f"{r['n']} units")
        if r["check"] == "proportion" and r.get("null") in (0.0, 1.0):
            problems.append(f"{r['name']!r}: a proportion against p0 = {r['null']}")
        if r["role"] == Role.POSITIVE.value:
            why = unpaired(Evidence.from_dict(r), primaries.get(r["details"].get("backs")))
            if why:
                problems.append(f"positive control {r['name']!r} is not paired: {why}")
    return problems


def _supported(rows: list[dict[str, Any]], claim: dict[str, Any]) -> list[str]:
    controls = [r for r in rows if r["role"] == Role.CONTROL.value
                and r["outcome"] not in ("DEGENERATE", "UNEVALUABLE")]
    if claim.get("no_substantive_control"):
        return []
    if not controls:
        return ["SUPPORTED without a substantive negative control"]
    if all(any(w in r["name"].lower() for w in PLACEBO_WORDS) for r in controls):
        return ["SUPPORTED on a permutation placebo recorded as the negative control: "
                "record it with placebo_<check>"]
    return []
