"""The ensemble consistency test: is a run one more member of the calibrated ensemble?

In the spirit of the climate codes' ensemble consistency tests (NCAR's PyCECT, MeteoSwiss'
probtest): K runs under K master seeds define what "the same code" produces. Another
machine's floats, like another seed, draw one more member; a real change draws from
elsewhere. So a run is judged against the ensemble, not against the baseline's one value:

- a **figure** drifts when it lies outside the ensemble's prediction interval for one new
  member (Student t with K - 1 degrees of freedom, scale ``sd * sqrt(1 + 1/K)``) on the
  linear scale and, for a positive figure, on the log scale too: its p-value is the larger
  of the two, which is conservative (a valid p-value for either scale) and keeps a
  multiplicative spread (a loss, an MSE ratio) from passing for a change without choosing
  the scale by looking. Flags are decided by Benjamini-Hochberg at
  ``SUITE_ALPHA`` over every figure compared, and need a move beyond the figure's declared
  floor. A view whose most common value holds half the members or more (a rate of 1, a
  count of 0) is categorical: a value among those seen has p = 1, one never seen a conformal
  p >= 1 / (K + 1), so such a figure cannot flag a build alone. A value equal to the
  baseline's, or within ``ATOL`` (float rounding) of the ensemble's center, is never drift.
- an **arm's verdict** that moved fails when the move is an opposite decision (SUPPORTED <->
  REFUTED), or when no calibration of at least ``MIN_SEEDS`` seeds ran this code (the pin is
  strict). Any other move is reported with its calibrated rate and its conformal p-value
  ``(seen + 1) / (K + 1)``: at K = 20 that is >= 1/21, so no single move to or from
  INCONCLUSIVE can reach a suite-wide level (the leave-one-out over the K = 20 calibration
  found such moves in 3 of 20 seeds). Moves away from a verdict kept in ``STABLE_SHARE`` of
  the seeds are marked "rare".
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats as st

SUITE_ALPHA = 0.01   # the chance that an unchanged build flags any figure of the suite
MIN_SEEDS = 10       # fewer calibrated seeds (for this code) than this: the strict rule
STABLE_SHARE = 0.95  # "keeps its verdict": 19 of 20 seeds
TIED_SHARE = 0.5     # a view whose most common value holds this share of members: categorical
RTOL, ATOL = 1e-6, 1e-9  # the same figure: a last-digits or float-rounding difference
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


def _finite(values: list[float | None]) -> np.ndarray:
    x = np.array([v for v in values if v is not None], dtype=float)
    return x[np.isfinite(x)]


def _tied(x: np.ndarray) -> bool:
    """Most members share one value (to rounding): a spread cannot be estimated."""
    mode = max(x, key=lambda v: int(np.sum(np.abs(x - v) <= ATOL + RTOL * abs(v))))
    return np.sum(np.abs(x - mode) <= ATOL + RTOL * abs(mode)) >= TIED_SHARE * x.size


def figure_model(values: list[float | None]) -> dict[str, Any] | None:
    """One figure's ensemble from its members' values: its views (linear, and log when every
    member is positive: each its center and sd), or, when most members share one value, the
    values seen. None with fewer than MIN_SEEDS finite members."""
    x = _finite(values)
    if x.size < MIN_SEEDS:
        return None
    model = {"mean": float(x.mean()), "sd": float(x.std(ddof=1)), "k": int(x.size),
             "views": []}
    if _tied(x):
        model["seen"] = sorted({float(v) for v in x})
        return model
    model["views"].append({"scale": "linear", "center": model["mean"], "sd": model["sd"]})
    if (x > 0).all():
        lx = np.log(x)
        model["views"].append({"scale": "log", "center": float(lx.mean()),
                               "sd": float(lx.std(ddof=1))})
    return model


def of_claim(runs: list[dict[str, Any]], claim_id: str, code_hash: str) -> dict[str, Any] | None:
    """The claim's ensemble for this code: per figure its model (``figure_model``), and the
    verdict counts of the claim and of each arm. None below MIN_SEEDS members."""
    seen = members(runs, claim_id, code_hash)
    if len(seen) < MIN_SEEDS:
        return None
    figures = {}
    for key in sorted({k for c in seen for k in c.get("figures", {})}):
        model = figure_model([c.get("figures", {}).get(key) for c in seen])
        if model is not None:
            figures[key] = model
    arms = {}
    for arm in sorted({a for c in seen for a in c["arms"]}):
        verdicts = [c["arms"][arm]["verdict"] for c in seen if arm in c["arms"]]
        arms[arm] = {"counts": _counts(verdicts), "k": len(verdicts)}
    return {"k": len(seen), "code_hash": code_hash, "figures": figures,
            "verdicts": {"counts": _counts([c["verdict"] for c in seen]), "k": len(seen)},
            "arms": arms}


# -- judging a run against it -------------------------------------------------------------
def _view_p(value: float, view: dict[str, Any], k: int) -> float:
    """Two-sided p that one more member lies as far from the view's center."""
    if view["scale"] == "log":
        if value <= 0:
            return 0.0
        value = math.log(value)
    if view["sd"] <= 0:
        return 1.0 if abs(value - view["center"]) <= ATOL else 0.0
    t = (value - view["center"]) / (view["sd"] * math.sqrt(1 + 1 / k))
    return float(2 * st.t.sf(abs(t), k - 1))


def prediction_p(value: float | None, model: dict[str, Any]) -> float:
    """The p-value of one more member with this value: the larger over the model's views;
    for a tied figure 1 if the value was seen, else the conformal 1 / (K + 1)."""
    if value is None or not math.isfinite(float(value)):
        return math.nan
    value = float(value)
    if abs(value - model["mean"]) <= ATOL:
        return 1.0  # rounding around the center
    # a baseline saved before views existed holds the linear view's numbers only
    views = model.get("views", [{"scale": "linear", "center": model["mean"], "sd": model["sd"]}])
    if not views:
        return 1.0 if any(same_value(value, s) for s in model["seen"]) else 1 / (model["k"] + 1)
    return max(_view_p(value, v, model["k"]) for v in views)


def half_width(model: dict[str, Any], level: float) -> float:
    """Where the linear view's p reaches ``level``: the tolerance shown beside a figure
    (the log view can only widen it)."""
    if not model.get("views", True):
        return ATOL + RTOL * abs(model["mean"])
    k = model["k"]
    return float(st.t.isf(level / 2, k - 1) * model["sd"] * math.sqrt(1 + 1 / k))


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


def figure_p(value: float | None, base_value: float | None, model: dict[str, Any]) -> float:
    """A run's figure against its ensemble: 1 when it equals the baseline's value (nothing
    changed), NaN when missing on one side."""
    if value is None or base_value is None:
        return math.nan
    if same_value(value, base_value):
        return 1.0
    return prediction_p(value, model)


def judge_figure(value: float | None, base_value: float | None, model: dict[str, Any],
                 floor: float | None, cutoff: float) -> dict[str, Any]:
    """One figure against its ensemble, flagged at p <= ``cutoff`` (see ``bh_cutoff``) and
    beyond its declared floor."""
    p = figure_p(value, base_value, model)
    tol = max(half_width(model, cutoff), float(floor or 0.0))
    delta = (float(value) - model["mean"]) if value is not None else math.nan
    if math.isnan(p):
        within = value is None and base_value is None
    else:
        within = p > cutoff or abs(delta) <= float(floor or 0.0)
    return {"within": bool(within), "p": p, "tolerance": tol, "center": model["mean"],
            "delta": delta, "ensemble_k": model["k"], "ensemble_sd": model["sd"],
            "views": [v["scale"] for v in model.get("views", [{"scale": "linear"}])] or ["tied"],
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
    kept, seen = counts.get(before, 0), counts.get(after, 0)
    p = (seen + 1) / (k + 1)
    rate = (f"{after} in {seen} of {k} seeds, {before} in {kept}; conformal p = {p:.2g}")
    kind = (f"rare, not significant alone: {rate}" if kept >= STABLE_SHARE * k
            else f"within its calibrated rate: {rate}")
    return {"fails": False, "kind": kind, "seen": seen, "kept": kept, "k": k, "p": p,
            "rare": kept >= STABLE_SHARE * k}


def leave_one_out(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The false-alarm rate measured on the calibration itself: each seed in turn is the
    "new build", judged against the ensemble of the others (same code), with the suite-wide
    Benjamini-Hochberg rule over every figure compared. Returns per seed the figures flagged,
    the arm verdicts (against their pins) whose move would fail, and the rare moves."""
    out = []
    for i, run in enumerate(runs):
        others = runs[:i] + runs[i + 1:]
        checks, moves, rare = [], [], []
        for cid, claim in run["claims"].items():
            ens = of_claim(others, cid, claim.get("code_hash", ""))
            if ens is None:
                continue
            checks += [(cid, key, value, ens["figures"][key])
                       for key, value in claim.get("figures", {}).items()
                       if key in ens["figures"] and value is not None]
            for arm, a in claim["arms"].items():
                judged = judge_move(a["expected"], a["verdict"], ens["arms"].get(arm))
                entry = {"claim": cid, "arm": arm, "verdict": a["verdict"], **judged}
                if judged["fails"]:
                    moves.append(entry)
                elif judged.get("rare"):
                    rare.append(entry)
        pvalues = [prediction_p(value, model) for _, _, value, model in checks]
        cutoff = bh_cutoff(pvalues, SUITE_ALPHA)
        flagged = [{"claim": cid, "figure": key, "value": value, "p": p}
                   for (cid, key, value, _), p in zip(checks, pvalues) if p <= cutoff]
        out.append({"index": run["index"], "master_seed": run["master_seed"],
                    "figures": len(checks), "level": cutoff, "flagged": flagged,
                    "failing_moves": moves, "rare_moves": rare})
    return out
