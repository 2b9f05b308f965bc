"""The ensemble consistency test: is a run one more member of the calibrated ensemble?

In the spirit of the climate codes' ensemble consistency tests (NCAR's PyCECT, MeteoSwiss'
probtest): K runs under K master seeds define what "the same code" produces. Another
machine's floats, like another seed, draw one more member; a real change draws from
elsewhere. So a run is judged against the ensemble, not against the baseline's one value:

- a **figure** drifts when it lies outside the ensemble's prediction interval for one new
  member (Student t with K - 1 degrees of freedom, scale ``sd * sqrt(1 + 1/K)``), judged by
  Benjamini-Hochberg at ``SUITE_ALPHA`` over every figure compared (under an unchanged build
  the chance that any figure of the suite is flagged is at most SUITE_ALPHA if the members
  are normal; see ``bh_cutoff``), and by more than the figure's declared floor. A value
  equal to the baseline's is never drift.
- an **arm's verdict** that moved fails when the move is an opposite decision (SUPPORTED <->
  REFUTED), or when the ensemble says the arm keeps its verdict (in at least
  ``STABLE_SHARE`` of the seeds); any other move is reported with its calibrated rate.
  Without an ensemble of at least ``MIN_SEEDS`` seeds for the same code, every move fails.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as st

SUITE_ALPHA = 0.01   # the chance that an unchanged build flags any figure of the suite
MIN_SEEDS = 10       # fewer calibrated seeds (for this code) than this: the strict rule
STABLE_SHARE = 0.95  # "keeps its verdict": 19 of 20 seeds
RTOL, ATOL = 1e-6, 1e-12  # the same figure: a last-digits difference is not a change
OPPOSITE = {"SUPPORTED": "REFUTED", "REFUTED": "SUPPORTED"}


def figure_key(figure: dict[str, Any]) -> str:
    """A figure's name across runs: the test (with its arm) and the figure's name."""
    test = figure.get("nodeid", "").split("::", 1)[-1]
    return f"{test} :: {figure['name']}"


def same_value(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return abs(float(a) - float(b)) <= RTOL * max(abs(float(a)), abs(float(b))) + ATOL


# -- building an ensemble from calibration runs -----------------------------------------
def members(runs: list[dict[str, Any]], claim_id: str, code_hash: str) -> list[dict[str, Any]]:
    """The calibration runs of this claim that ran this code (others say nothing of it)."""
    return [r["claims"][claim_id] for r in runs
            if claim_id in r["claims"] and code_hash
            and r["claims"][claim_id].get("code_hash") == code_hash]


def _counts(verdicts: list[str]) -> dict[str, int]:
    return {v: verdicts.count(v) for v in ("SUPPORTED", "REFUTED", "INCONCLUSIVE")}


def of_claim(runs: list[dict[str, Any]], claim_id: str, code_hash: str) -> dict[str, Any] | None:
    """The claim's ensemble for this code: per figure its members' mean, sd and count, and
    the verdict counts of the claim and of each arm. None below MIN_SEEDS members."""
    seen = members(runs, claim_id, code_hash)
    if len(seen) < MIN_SEEDS:
        return None
    figures = {}
    for key in sorted({k for c in seen for k in c.get("figures", {})}):
        values = np.array([c["figures"][key] for c in seen
                           if c.get("figures", {}).get(key) is not None], dtype=float)
        values = values[np.isfinite(values)]
        if values.size >= MIN_SEEDS:
            figures[key] = {"mean": float(values.mean()), "sd": float(values.std(ddof=1)),
                            "k": int(values.size)}
    arms = {}
    for arm in sorted({a for c in seen for a in c["arms"]}):
        verdicts = [c["arms"][arm]["verdict"] for c in seen if arm in c["arms"]]
        arms[arm] = {"counts": _counts(verdicts), "k": len(verdicts)}
    return {"k": len(seen), "code_hash": code_hash, "figures": figures,
            "verdicts": {"counts": _counts([c["verdict"] for c in seen]), "k": len(seen)},
            "arms": arms}


# -- judging a run against it -------------------------------------------------------------
def prediction_p(value: float, member: dict[str, Any]) -> float:
    """Two-sided p that one more member of the ensemble lies as far from its mean."""
    k, mean, sd = member["k"], member["mean"], member["sd"]
    if sd <= 0:
        return 1.0 if same_value(value, mean) else 0.0
    t = (value - mean) / (sd * math.sqrt(1 + 1 / k))
    return float(2 * st.t.sf(abs(t), k - 1))


def half_width(member: dict[str, Any], level: float) -> float:
    """The distance from the ensemble mean at which ``prediction_p`` reaches ``level``."""
    if member["sd"] <= 0:
        return RTOL * abs(member["mean"]) + ATOL
    k = member["k"]
    return float(st.t.isf(level / 2, k - 1) * member["sd"] * math.sqrt(1 + 1 / k))


def bh_cutoff(pvalues: list[float], alpha: float) -> float:
    """Benjamini-Hochberg over every figure compared: the p-value at or below which a figure
    is flagged. Under an unchanged build (all figures null) flagging any figure then has
    probability at most ``alpha`` (BH controls the family-wise rate under the global null),
    while a change that moves many figures is caught at a less strict level than Bonferroni's
    ``alpha / N``. With no figure flagged the cutoff reported is ``alpha / N``."""
    p = np.sort(np.asarray([x for x in pvalues if math.isfinite(x)], dtype=float))
    if p.size == 0:
        return alpha
    passed = np.nonzero(p <= alpha * np.arange(1, p.size + 1) / p.size)[0]
    return float(p[passed[-1]]) if passed.size else alpha / p.size


def figure_p(value: float | None, base_value: float | None, member: dict[str, Any]) -> float:
    """A run's figure against its ensemble: 1 when it equals the baseline's value (nothing
    changed), NaN when missing on one side."""
    if value is None or base_value is None:
        return math.nan
    if same_value(value, base_value):
        return 1.0
    return prediction_p(float(value), member)


def judge_figure(value: float | None, base_value: float | None, member: dict[str, Any],
                 floor: float | None, cutoff: float) -> dict[str, Any]:
    """One figure against its ensemble, flagged at p <= ``cutoff`` (see ``bh_cutoff``) and
    beyond its declared floor."""
    p = figure_p(value, base_value, member)
    tol = max(half_width(member, cutoff), float(floor or 0.0))
    delta = (float(value) - member["mean"]) if value is not None else math.nan
    if math.isnan(p):
        within = value is None and base_value is None
    else:
        within = p > cutoff or abs(delta) <= float(floor or 0.0)
    return {"within": bool(within), "p": p, "tolerance": tol, "center": member["mean"],
            "delta": delta, "ensemble_k": member["k"], "ensemble_sd": member["sd"],
            "excess": abs(delta) / tol if tol > 0 and math.isfinite(delta) else math.inf}


def judge_move(before: str, after: str, distribution: dict[str, Any] | None) -> dict[str, Any]:
    """Does a verdict that moved from ``before`` to ``after`` fail? ``distribution``: the
    calibrated verdict counts of this arm (or claim) for this code, or None."""
    if before == after:
        return {"fails": False, "kind": "same"}
    if OPPOSITE.get(before) == after:
        return {"fails": True, "kind": "opposite decision"}
    k = (distribution or {}).get("k", 0)
    if k < MIN_SEEDS:
        return {"fails": True, "kind": f"no calibration of this code with at least "
                                        f"{MIN_SEEDS} seeds: the pin is strict"}
    counts = distribution["counts"]
    kept = counts.get(before, 0)
    if kept >= STABLE_SHARE * k:
        return {"fails": True, "kind": f"calibrated-rare: {before} in {kept} of {k} seeds",
                "kept": kept, "k": k}
    seen = counts.get(after, 0)
    return {"fails": False, "kind": f"within its calibrated rate: {after} in {seen} of {k} "
                                    f"seeds, {before} in {kept}", "seen": seen, "kept": kept,
            "k": k}


def leave_one_out(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The false-alarm rate measured on the calibration itself: each seed in turn is the
    "new build", judged against the ensemble of the others (same code), with the suite-wide
    Benjamini-Hochberg rule over every figure compared. Returns per seed the figures flagged and
    the arm verdicts (against their pins) whose move would fail."""
    out = []
    for i, run in enumerate(runs):
        others = runs[:i] + runs[i + 1:]
        checks, moves = [], []
        for cid, claim in run["claims"].items():
            ens = of_claim(others, cid, claim.get("code_hash", ""))
            if ens is None:
                continue
            checks += [(cid, key, value, ens["figures"][key])
                       for key, value in claim.get("figures", {}).items()
                       if key in ens["figures"] and value is not None]
            for arm, a in claim["arms"].items():
                judged = judge_move(a["expected"], a["verdict"], ens["arms"].get(arm))
                if judged["fails"]:
                    moves.append({"claim": cid, "arm": arm, "verdict": a["verdict"], **judged})
        pvalues = [prediction_p(float(value), member) for _, _, value, member in checks]
        cutoff = bh_cutoff(pvalues, SUITE_ALPHA)
        flagged = [{"claim": cid, "figure": key, "value": value, "p": p}
                   for (cid, key, value, _), p in zip(checks, pvalues) if p <= cutoff]
        out.append({"index": run["index"], "master_seed": run["master_seed"],
                    "figures": len(checks), "level": cutoff, "flagged": flagged,
                    "failing_moves": moves})
    return out
