"""The HTML claim report: a pure function of the results document (one run or merged shards)."""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import jinja2

from ..evidence import FAMILIES, Verdict, fmt

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(["html", "j2"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["fmt"] = fmt
VERDICTS = [v.value for v in Verdict]


def interval_bar(row: dict[str, Any]) -> dict[str, float] | None:
    """Positions in percent for the interval bar: the estimate and its interval drawn against
    the floor's threshold and 'no effect'. Unbounded ends run to the edge."""
    def num(v):
        if isinstance(v, str):
            v = float(v)
        return v if isinstance(v, (int, float)) and math.isfinite(v) else None

    est, thr, null = num(row.get("observed")), num(row.get("threshold")), num(row.get("null"))
    low, high = row.get("ci_low"), row.get("ci_high")
    if est is None or thr is None or low is None or high is None:
        return None
    low, high = float(low), float(high)
    anchors = [v for v in (est, thr, null, num(low), num(high)) if v is not None]
    lo, hi = min(anchors), max(anchors)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    lo, hi = lo - pad, hi + pad

    def pos(v: float) -> float:
        return 100.0 * (min(max(v, lo), hi) - lo) / (hi - lo)

    return {"low": pos(low), "high": pos(high), "est": pos(est), "thr": pos(thr),
            "null": pos(null) if null is not None else None}


def key_row(claim: dict[str, Any]) -> dict[str, Any] | None:
    """The assertion that decided: the first primary that does not hold, else the first."""
    primaries = [e for e in claim["evidence"] if e["role"] == "primary"]
    return next((e for e in primaries if e.get("outcome") != "HOLDS"),
                primaries[0] if primaries else None)


def _summary(claims: list[dict[str, Any]]) -> dict[str, Any]:
    by_verdict = {v: sum(c["verdict"] == v for c in claims) for v in VERDICTS}
    by_family = {}
    for fam in sorted({c["family"] for c in claims}):
        members = [c for c in claims if c["family"] == fam]
        by_family[fam] = {v: sum(c["verdict"] == v for c in members) for v in VERDICTS}
        by_family[fam]["total"] = len(members)
    return {"by_verdict": by_verdict, "by_family": by_family,
            "mismatches": [c["id"] for c in claims if not c["matches_expected"]]}


def render(document: dict[str, Any]) -> str:
    document = copy.deepcopy(document)  # the view adds fields; the caller's data stays as is
    claims = document["claims"]
    comparison = document.get("baseline")
    for c in claims:
        for row in c["evidence"]:
            row["iv"] = interval_bar(row)
        c["key"] = key_row(c)
        if comparison:
            c["baseline_rows"] = [f for f in comparison["figures"] if f["claim"] == c["id"]]
            c["baseline_verdict"] = next((v for v in comparison["verdict_changes"]
                                          if v["claim"] == c["id"]), None)
            c["baseline_missing"] = [m for m in comparison["missing"] if m["claim"] == c["id"]]
            c["baseline_code"] = next((m for m in comparison.get("code_changed", [])
                                       if m["claim"] == c["id"]), None)
    return _ENV.get_template("index.html.j2").render(
        doc=document, env=document["environment"], claims=claims, families=FAMILIES,
        verdicts=VERDICTS, summary=_summary(claims), baseline=comparison,
        shards=document.get("shards", []),
    )


def build(document: dict[str, Any], out_dir: Path | str) -> Path:
    """Write index.html into out_dir (atomically) and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(render(document), encoding="utf-8")
    tmp.replace(path)
    return path
