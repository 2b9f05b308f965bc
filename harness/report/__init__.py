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


def margin_bar(row: dict[str, Any]) -> float | None:
    """Signed share in [-1, 1] for the margin bar: how far past (or short of) its threshold
    an assertion landed, relative to the threshold's scale."""
    margin, threshold, observed = row.get("margin"), row.get("threshold"), row.get("observed")
    if not isinstance(margin, (int, float)) or not math.isfinite(margin):
        return None
    scale = max(abs(v) for v in (threshold, observed, 1e-12)
                if isinstance(v, (int, float)) and math.isfinite(v))
    return max(-1.0, min(1.0, margin / scale))


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
            row["bar"] = margin_bar(row)
        if comparison:
            c["baseline_rows"] = [f for f in comparison["figures"] if f["claim"] == c["id"]]
            c["baseline_verdict"] = next((v for v in comparison["verdict_changes"]
                                          if v["claim"] == c["id"]), None)
            c["baseline_missing"] = [m for m in comparison["missing"] if m["claim"] == c["id"]]
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
