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
    voting = {t["nodeid"] for t in claim.get("tests", []) if t.get("votes", True)}
    primaries = [e for e in claim["evidence"] if e["role"] == "primary"
                 and (not voting or e.get("nodeid") in voting)]
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


CRITIC_FAMILIES = ("F",)  # families whose claims are critics of the claims they speak to


def _regime(claim: dict[str, Any] | None) -> str:
    return " ".join(str((claim or {}).get("regime") or "").split())


def pair_sentence(critic: dict[str, Any], target: dict[str, Any] | None,
                  target_id: str = "") -> str:
    """One sentence from two claims' results: do the critic and the claim it speaks to
    conflict, or are they about different regimes? A critic challenges its target, so both
    SUPPORTED in one regime is a conflict; both SUPPORTED in different regimes is a
    difference of regime; one refuted is an agreement on which side stands."""
    f = critic["id"]
    g = target["id"] if target else target_id
    if target is None:
        return f"{g} is not in this run, so there is nothing to set {f} against here."
    vf, vg = critic["verdict"], target["verdict"]
    rf, rg = _regime(critic), _regime(target)
    inconclusive = [c for c, v in ((f, vf), (g, vg)) if v == Verdict.INCONCLUSIVE.value]
    if inconclusive:
        who = " and ".join(inconclusive)
        return (f"{who} {'is' if len(inconclusive) == 1 else 'are'} inconclusive here, so "
                f"these runs show neither a conflict nor a difference of regime between {f} "
                f"and {g}.")
    sup, ref = Verdict.SUPPORTED.value, Verdict.REFUTED.value
    if vf == sup and vg == sup:
        if not (rf and rg):
            missing = [c for c, r in ((f, rf), (g, rg)) if not r]
            verb = "states" if len(missing) == 1 else "state"
            return (f"Both are supported, but {' and '.join(missing)} {verb} no regime, so "
                    f"whether they conflict or speak of different regimes cannot be read "
                    f"from the results.")
        if rf.casefold() == rg.casefold():
            return (f"They conflict: {f} and {g} are both supported in the same regime, "
                    f"though {f} challenges {g}.")
        return (f"No conflict in these runs: both are supported, in different regimes (set "
                f"side by side above), so {f} qualifies {g} rather than contradicts it.")
    if vf == sup and vg == ref:
        return (f"No conflict: {f} is supported and {g} is refuted, so only the critic's "
                f"side holds in these runs.")
    if vf == ref and vg == sup:
        return (f"No conflict: {f} is refuted and {g} is supported, so only the side of the "
                f"claim it speaks to holds in these runs.")
    return (f"Neither holds: {f} and {g} are both refuted in their own regimes, so there is "
            f"no conflict to settle.")


def critics(claims: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each critic claim (family F) paired with each claim in its ``speaks_to``: both
    verdicts, both regimes, arms, and the sentence that says how they relate."""
    by_id = {c["id"]: c for c in claims}

    def side(c: dict[str, Any] | None, cid: str) -> dict[str, Any]:
        if c is None:
            return {"id": cid, "present": False, "title": "", "verdict": "not run",
                    "expected": "", "regime": "", "arms": []}
        return {"id": c["id"], "present": True, "title": c.get("title", ""),
                "verdict": c["verdict"], "expected": c.get("expected", ""),
                "regime": _regime(c),
                "arms": [(t.get("arm") or t["nodeid"], t.get("verdict", ""))
                         for t in c.get("tests", [])]}

    pairs = []
    for c in claims:
        if c.get("family", c["id"][0]) not in CRITIC_FAMILIES:
            continue
        for target_id in c.get("speaks_to") or []:
            target = by_id.get(target_id)
            pairs.append({"critic": side(c, c["id"]), "target": side(target, target_id),
                          "sentence": pair_sentence(c, target, target_id)})
    return pairs


def spoken_to_by(claims: list[dict[str, Any]], claim_id: str) -> list[str]:
    """Back-links: the claims whose ``speaks_to`` names ``claim_id`` (derived here, so the
    claim spoken to need not list its critics)."""
    return [c["id"] for c in claims
            if claim_id in (c.get("speaks_to") or []) and c["id"] != claim_id]


def render(document: dict[str, Any]) -> str:
    document = copy.deepcopy(document)  # the view adds fields; the caller's data stays as is
    claims = document["claims"]
    comparison = document.get("baseline")
    for c in claims:
        for row in c["evidence"]:
            row["iv"] = interval_bar(row)
        c["key"] = key_row(c)
        c["spoken_to_by"] = spoken_to_by(claims, c["id"])
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
        audit=document.get("audit", []),
        shards=document.get("shards", []), critics=critics(claims),
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
