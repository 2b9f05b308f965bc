"""Statistical checks. Each returns an Evidence row; the ``claim`` fixture records it.

Every test statistic and p-value comes from scipy.stats. A check passes only when the
test is significant at ``alpha`` AND the effect clears its floor, so that a tiny but
"significant" effect over many seeds does not count as support.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from scipy import stats as st

from .evidence import Evidence

_DIRECTIONS = ("increasing", "decreasing")
_ALTERNATIVES = ("greater", "less", "two-sided")


def _as_float_array(values: Any, what: str) -> np.ndarray:
    if hasattr(values, "detach"):
        values = values.detach().cpu().numpy()
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError(f"{what} is empty: pass at least one value")
    return arr


def _check_choice(value: str, choices: Sequence[str], what: str) -> None:
    if value not in choices:
        raise ValueError(f"{what}={value!r} is not one of {list(choices)}")


def _grid_pairs(x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
    """Flatten a grid: y has shape (len(x), replicates...) or the shape of x."""
    x = _as_float_array(x, "x")
    y = _as_float_array(y, "y")
    if y.shape != x.shape:
        if y.ndim >= 1 and y.shape[0] == x.shape[0] and x.ndim == 1:
            x = np.broadcast_to(x.reshape((-1,) + (1,) * (y.ndim - 1)), y.shape)
        else:
            raise ValueError(
                f"trend: y has shape {y.shape}; it must equal x's shape {x.shape} or be "
                f"(len(x), replicates)"
            )
    x, y = x.ravel(), y.ravel()
    keep = np.isfinite(x) & np.isfinite(y)
    return x[keep], y[keep]


def trend(
    x: Any,
    y: Any,
    *,
    direction: str,
    alpha: float = 0.01,
    min_effect: float = 0.3,
    method: str = "spearman",
    name: str = "monotone trend",
    meaning: str = "",
) -> Evidence:
    """Monotone trend of y over a grid x (with replicates), one-sided.

    method 'spearman' or 'kendall' correlate all (x, y) pairs; 'page' runs Page's L test
    with replicates as blocks (y of shape (len(x), blocks)) and reports Spearman's rho as
    the effect size. Effect floor: rho in the claimed direction with |rho| >= min_effect.
    """
    _check_choice(direction, _DIRECTIONS, "direction")
    _check_choice(method, ("spearman", "kendall", "page", "pearson"), "method")
    xs, ys = _grid_pairs(x, y)
    n = int(xs.size)
    sign = 1.0 if direction == "increasing" else -1.0
    alternative = "greater" if direction == "increasing" else "less"
    if n < 3 or np.ptp(xs) == 0:
        return _unevaluable(name, "trend", "Spearman rho", n, alpha, meaning,
                            "fewer than 3 finite points or a constant grid")
    details: dict[str, Any] = {"method": method, "direction": direction}
    if np.ptp(ys) == 0:
        rho, p = 0.0, 1.0  # a constant response has no trend
        details["constant_y"] = True
    elif method == "kendall":
        res = st.kendalltau(xs, ys, alternative=alternative)
        rho, p = float(res.statistic), float(res.pvalue)
    elif method == "pearson":
        res = st.pearsonr(xs, ys, alternative=alternative)
        rho, p = float(res.statistic), float(res.pvalue)
    else:
        res = st.spearmanr(xs, ys, alternative=alternative)
        rho, p = float(res.statistic), float(res.pvalue)
    if method == "page" and np.ptp(ys) > 0:
        grid = _as_float_array(y, "y")
        if grid.ndim != 2:
            raise ValueError("trend(method='page') needs y of shape (len(x), blocks)")
        order = np.argsort(_as_float_array(x, "x"))
        blocks = grid[order].T  # (blocks, treatments) in increasing x
        if direction == "decreasing":
            blocks = blocks[:, ::-1]
        page = st.page_trend_test(blocks[np.all(np.isfinite(blocks), axis=1)])
        p = float(page.pvalue)
        details["page_L"] = float(page.statistic)
    statistic = {"kendall": "Kendall tau", "pearson": "Pearson r"}.get(method, "Spearman rho")
    threshold = sign * min_effect
    effect_ok = sign * rho >= min_effect
    return Evidence(
        name=name, check="trend", statistic=statistic, observed=rho, threshold=threshold,
        comparison=">=" if sign > 0 else "<=", margin=sign * rho - min_effect, p_value=p,
        alpha=alpha, n=n, passed=bool(effect_ok and p < alpha), meaning=meaning,
        details=details,
    )


def compare(
    a: Any,
    b: Any,
    *,
    alternative: str = "greater",
    paired: bool = False,
    alpha: float = 0.01,
    min_effect: float = 0.0,
    name: str = "two-group comparison",
    meaning: str = "",
) -> Evidence:
    """Is group a greater (less) than group b? Wilcoxon signed-rank when paired, else
    Mann-Whitney U. Effect: median of a - b (paired) or difference of medians (unpaired),
    which must exceed min_effect in the claimed direction."""
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    a = _as_float_array(a, "a").ravel()
    b = _as_float_array(b, "b").ravel()
    if paired:
        if a.shape != b.shape:
            raise ValueError(f"paired compare needs equal lengths, got {a.size} and {b.size}")
        keep = np.isfinite(a) & np.isfinite(b)
        diff = a[keep] - b[keep]
        n = int(diff.size)
        if n < 3:
            return _unevaluable(name, "compare", "median paired difference", n, alpha, meaning,
                                "fewer than 3 finite pairs")
        effect = float(np.median(diff))
        p = 1.0 if np.all(diff == 0) else float(st.wilcoxon(diff, alternative=alternative).pvalue)
        statistic = "median paired difference (Wilcoxon)"
    else:
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        n = int(a.size + b.size)
        if a.size < 2 or b.size < 2:
            return _unevaluable(name, "compare", "difference of medians", n, alpha, meaning,
                                "fewer than 2 finite values in a group")
        effect = float(np.median(a) - np.median(b))
        p = float(st.mannwhitneyu(a, b, alternative=alternative).pvalue)
        statistic = "difference of medians (Mann-Whitney)"
    if alternative == "two-sided":
        margin = abs(effect) - min_effect
        comparison = "|.| >="
        threshold = min_effect
    else:
        sign = 1.0 if alternative == "greater" else -1.0
        margin = sign * effect - min_effect
        comparison = ">=" if sign > 0 else "<="
        threshold = sign * min_effect
    return Evidence(
        name=name, check="compare", statistic=statistic, observed=effect, threshold=threshold,
        comparison=comparison, margin=margin, p_value=p, alpha=alpha, n=n,
        passed=bool(margin >= 0 and p < alpha), meaning=meaning,
        details={"paired": paired, "alternative": alternative,
                 "median_a": float(np.median(a)), "median_b": float(np.median(b))},
    )


def proportion(
    successes: int,
    n: int,
    *,
    p0: float,
    alternative: str = "greater",
    alpha: float = 0.01,
    name: str = "proportion",
    meaning: str = "",
) -> Evidence:
    """Is the success rate above (below) p0? Exact binomial test, with a Clopper-Pearson
    interval in the details."""
    _check_choice(alternative, ("greater", "less"), "alternative")
    successes, n = int(successes), int(n)
    if not 0 <= successes <= n:
        raise ValueError(f"proportion: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return _unevaluable(name, "proportion", "rate", 0, alpha, meaning, "no trials")
    res = st.binomtest(successes, n, p0, alternative=alternative)
    ci = res.proportion_ci(confidence_level=1 - alpha, method="exact")
    rate = successes / n
    sign = 1.0 if alternative == "greater" else -1.0
    return Evidence(
        name=name, check="proportion", statistic="rate (binomial test)", observed=rate,
        threshold=p0, comparison=">" if sign > 0 else "<", margin=sign * (rate - p0),
        p_value=float(res.pvalue), alpha=alpha, n=n, passed=bool(res.pvalue < alpha),
        meaning=meaning,
        details={"successes": successes, "ci_low": ci.low, "ci_high": ci.high},
    )


def compare_proportions(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    alternative: str = "greater",
    alpha: float = 0.01,
    min_effect: float = 0.0,
    name: str = "two proportions",
    meaning: str = "",
) -> Evidence:
    """Is rate a greater (less) than rate b? Fisher's exact test on the 2x2 table; effect is
    the difference of rates."""
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    if min(n_a, n_b) == 0:
        return _unevaluable(name, "compare_proportions", "difference of rates", n_a + n_b,
                            alpha, meaning, "a group has no trials")
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    p = float(st.fisher_exact(table, alternative=alternative).pvalue)
    effect = successes_a / n_a - successes_b / n_b
    sign = -1.0 if alternative == "less" else 1.0
    margin = (abs(effect) if alternative == "two-sided" else sign * effect) - min_effect
    return Evidence(
        name=name, check="compare_proportions", statistic="difference of rates (Fisher)",
        observed=effect, threshold=sign * min_effect, comparison="<=" if sign < 0 else ">=",
        margin=margin, p_value=p, alpha=alpha, n=int(n_a + n_b),
        passed=bool(margin >= 0 and p < alpha), meaning=meaning,
        details={"rate_a": successes_a / n_a, "rate_b": successes_b / n_b,
                 "n_a": n_a, "n_b": n_b},
    )


def bound(
    value: float,
    *,
    upper: float | None = None,
    lower: float | None = None,
    n: int = 1,
    statistic: str = "value",
    name: str = "bound",
    meaning: str = "",
) -> Evidence:
    """value <= upper (or >= lower). Deterministic: no p-value. Give exactly one bound."""
    if (upper is None) == (lower is None):
        raise ValueError("bound: give exactly one of upper= or lower=")
    value = float(_as_float_array(value, "value"))
    if not np.isfinite(value):
        return _unevaluable(name, "bound", statistic, n, None, meaning, "value is not finite")
    if upper is not None:
        margin, threshold, comparison = upper - value, upper, "<="
    else:
        margin, threshold, comparison = value - lower, lower, ">="
    return Evidence(
        name=name, check="bound", statistic=statistic, observed=value, threshold=threshold,
        comparison=comparison, margin=float(margin), p_value=None, alpha=None, n=int(n),
        passed=bool(margin >= 0), meaning=meaning,
    )


def close(
    observed: float,
    target: float,
    *,
    rtol: float = 0.0,
    atol: float = 0.0,
    n: int = 1,
    statistic: str = "value",
    name: str = "agreement",
    meaning: str = "",
) -> Evidence:
    """|observed - target| <= atol + rtol * |target|: agreement within a tolerance."""
    if rtol < 0 or atol < 0 or rtol == atol == 0:
        raise ValueError("close: give a positive rtol and/or atol")
    observed = float(_as_float_array(observed, "observed"))
    target = float(target)
    if not np.isfinite(observed):
        return _unevaluable(name, "close", statistic, n, None, meaning, "observed is not finite")
    tolerance = atol + rtol * abs(target)
    margin = tolerance - abs(observed - target)
    return Evidence(
        name=name, check="close", statistic=statistic, observed=observed, threshold=target,
        comparison=f"within {tolerance:.3g} of", margin=float(margin), p_value=None,
        alpha=None, n=int(n), passed=bool(margin >= 0), meaning=meaning,
        details={"rtol": rtol, "atol": atol},
    )


def _unevaluable(name: str, check: str, statistic: str, n: int, alpha: float | None,
                 meaning: str, why: str) -> Evidence:
    return Evidence(
        name=name, check=check, statistic=statistic, observed=None, threshold=None,
        comparison="", margin=None, p_value=None, alpha=alpha, n=int(n), passed=None,
        meaning=meaning, details={"unevaluable": why},
    )


# -- sampling errors of pooled statistics, as baseline floors -------------------------------
# A figure with one value per run (no spread over seeds) would get a tolerance of zero: on a
# new CPU its last digits move and every such figure "drifts". These give the smallest change
# of a pooled statistic worth reporting: one standard error of the statistic itself.
def correlation_se(rho: float, n: int) -> float | None:
    """Standard error of a Pearson or Spearman correlation of n pairs on its own scale
    (Fisher z, with Fieller's 1.06 for Spearman, mapped back through 1 - rho^2)."""
    if n is None or n <= 3 or rho is None or not np.isfinite(rho):
        return None
    return float((1 - rho ** 2) * np.sqrt(1.06 / (n - 3)))


def proportion_se(p: float, n: int) -> float | None:
    """Standard error of a proportion of n trials, kept off zero at p = 0 or 1 by Wilson's
    0.25 / n term."""
    if not n or p is None or not np.isfinite(p):
        return None
    return float(np.sqrt((p * (1 - p) + 0.25 / n) / n))


CHECKS = {
    "trend": trend,
    "compare": compare,
    "proportion": proportion,
    "compare_proportions": compare_proportions,
    "bound": bound,
    "close": close,
}
