"""Statistical checks. Each returns an Evidence row; the ``claim`` fixture records it.

Every check reports an effect estimate with a confidence interval by a named method, the
p-value against "no effect", n = the number of independent units, and an effect floor the
claim declared before looking (required, > 0). The outcome follows the judging rule
(``../shared/CLAIMS.md``, "How a claim is judged"; ``rows.decide_outcome``):

- HOLDS: p < alpha in the claimed direction and the estimate clears the floor;
- FAILS: the one-sided (1 - alpha) bound on the claimed side falls short of the floor
  (an effect that large is excluded; a significant reversal lands here too);
- UNDECIDED: neither; ``n_needed`` says how many units would decide it;
- DEGENERATE: the response is constant or empty, so the check cannot say anything.

The interval printed is two-sided at 1 - 2 alpha, so each end is a one-sided 1 - alpha bound.
Only ``exact`` decides without an interval: identities computed to float precision.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np
from scipy import stats as st

from .evidence import Evidence, Outcome
from .inference import (
    CI_NAMES, CORRELATIONS, MAX_BREAKS, all_equal_interval, correlation, correlation_p,
    fisher_interval, invert_shift, mean_interval, pseudo_median, signed_rank_p, wilson,
)
from .rows import _as_float_array, _check_choice, _degenerate, _row, _unevaluable

_DIRECTIONS = ("increasing", "decreasing")
_ALTERNATIVES = ("greater", "less")


def trend(
    x: Any,
    y: Any,
    *,
    direction: str,
    min_effect: float,
    raw_floor: float | None = None,
    raw_floor_rel: float | None = None,
    alpha: float = 0.01,
    blocks: bool = True,
    method: str = "spearman",
    units: str | None = None,
    name: str = "monotone trend",
    meaning: str = "",
) -> Evidence:
    """Monotone trend of y over x, one-sided, effect floor |rho| >= min_effect.

    y of shape (len(x), blocks) with ``blocks=True`` (the default): each column is one
    independent unit (a seed whose init and data order every grid point shares). The
    estimate is the mean per-block Spearman rho, the p-value Page's L test with the blocks as
    blocks, the interval a t interval over blocks (BCa bootstrap from 10 blocks; the
    Clopper-Pearson bound on [-1, 1] when every block agrees); n = blocks.
    ``blocks=False``, or y of x's shape: every (x, y) pair is an independent unit; the
    estimate is the correlation, its p-value exact/permutation below n = 30, its interval
    Fisher z with the method's standard error.

    A rank correlation is blind to the size of the change. ``raw_floor`` (and
    ``raw_floor_rel``, a share of |y| at the start of the grid) is a floor on the raw change
    over the grid in the claimed direction (blocked: per-block last minus first grid point,
    averaged; unblocked: Theil-Sen slope times the grid's span): the row HOLDS only when
    that change clears it too, and FAILS when its claimed-side bound falls short of it.
    """
    _check_choice(direction, _DIRECTIONS, "direction")
    _check_choice(method, tuple(CORRELATIONS), "method")
    for what, value in (("raw_floor", raw_floor), ("raw_floor_rel", raw_floor_rel)):
        if value is not None and not value > 0:
            raise ValueError(f"trend: {what} must be > 0 when given, got {value!r}")
    xs = _as_float_array(x, "x").ravel()
    ys = _as_float_array(y, "y")
    sign = 1.0 if direction == "increasing" else -1.0
    raw = (raw_floor, raw_floor_rel)
    if ys.ndim == 2 and ys.shape[0] == xs.size and blocks:
        return _blocked_trend(xs, ys, sign, min_effect, raw, alpha, units or "seeds", name,
                              meaning)
    if ys.shape != xs.shape:
        if ys.ndim >= 1 and ys.shape[0] == xs.size:
            xs = np.broadcast_to(xs.reshape((-1,) + (1,) * (ys.ndim - 1)), ys.shape)
        else:
            raise ValueError(f"trend: y has shape {ys.shape}; it must equal x's shape "
                             f"{xs.shape} or be (len(x), replicates)")
    xs, ys = xs.ravel(), ys.ravel()
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n, units = int(xs.size), units or "pairs"
    statistic = CORRELATIONS[method][0]
    if n < 3 or np.ptp(xs) == 0:
        return _unevaluable(name, "trend", statistic, n, alpha, meaning,
                            "fewer than 3 finite points or a constant grid", units)
    if np.ptp(ys) == 0:
        return _degenerate(name, "trend", statistic, n, alpha, meaning,
                           "the response is constant: no trend can show", units)
    r = correlation(method)(xs, ys)
    p, p_kind = correlation_p(xs, ys, method, "greater" if sign > 0 else "less")
    low, high = fisher_interval(r, n, method, alpha)
    details = {"method": method, "p_method": p_kind, "direction": direction}
    also = None
    if raw_floor is not None or raw_floor_rel is not None:
        slope, _, s_low, s_high = st.theilslopes(ys, xs, alpha=1 - 2 * alpha)
        span = float(np.ptp(xs))
        start = float(np.mean(ys[xs == xs.min()]))
        also, details["raw_change"] = _raw_outcome(
            sign * slope * span, sorted((sign * s_low * span, sign * s_high * span)),
            start, raw, "Theil-Sen slope x grid span")
    return _row(name=name, check="trend", statistic=statistic, estimate=r, null=0.0, low=low,
                high=high, ci_method=CI_NAMES[method], p=p, sign=sign, floor=min_effect,
                alpha=alpha, n=n, units=units, meaning=meaning, details=details, also=also)


def _raw_outcome(change: float, bounds: Sequence[float], start: float,
                 raw: tuple[float | None, float | None], method: str) -> tuple[str, dict]:
    """HOLDS / FAILS / UNDECIDED of the raw change (signed so that the claimed direction is
    positive) against max(raw_floor, raw_floor_rel * |start|)."""
    absolute, relative = raw
    floor = max(absolute or 0.0, (relative or 0.0) * abs(start))
    claimed_bound = bounds[1]
    outcome = (Outcome.HOLDS.value if change >= floor  # significance: the rank test's
               else Outcome.FAILS.value if claimed_bound < floor else Outcome.UNDECIDED.value)
    return outcome, {"estimate": float(change), "low": float(bounds[0]),
                     "high": float(bounds[1]), "floor": float(floor), "start": float(start),
                     "floor_absolute": absolute, "floor_relative": relative,
                     "method": method, "outcome": outcome}


def _blocked_trend(xs, grid, sign, floor, raw, alpha, units, name, meaning) -> Evidence:
    statistic = "mean per-seed Spearman rho (Page's L)"
    rhos = []
    for column in grid.T:
        ok = np.isfinite(column)
        if ok.sum() >= 3 and np.ptp(xs[ok]) > 0:
            rhos.append(0.0 if np.ptp(column[ok]) == 0
                        else float(st.spearmanr(xs[ok], column[ok]).statistic))
    rhos = np.array(rhos)
    if rhos.size < 2:
        return _unevaluable(name, "trend", statistic, rhos.size, alpha, meaning,
                            "fewer than 2 blocks with 3 finite points", units)
    finite_grid = grid[np.isfinite(grid)]
    if np.ptp(finite_grid) == 0 or all(np.ptp(c[np.isfinite(c)]) == 0 for c in grid.T):
        return _degenerate(name, "trend", statistic, rhos.size, alpha, meaning,
                           "the response is constant within every block: no trend can show",
                           units)
    complete = grid[:, np.all(np.isfinite(grid), axis=0)].T[:, np.argsort(xs)]
    if complete.shape[0] < 2:
        return _unevaluable(name, "trend", statistic, rhos.size, alpha, meaning,
                            "fewer than 2 blocks without a missing value", units)
    page = st.page_trend_test(complete if sign > 0 else complete[:, ::-1])
    estimate = float(rhos.mean())
    low, high, ci_method = mean_interval(rhos, alpha, support=(-1.0, 1.0))
    details = {"method": "page", "page_L": float(page.statistic), "per_block_rho": rhos,
               "grid_points": int(xs.size),
               "direction": "increasing" if sign > 0 else "decreasing"}
    also = None
    if raw != (None, None):
        changes = sign * (complete[:, -1] - complete[:, 0])
        c_low, c_high, c_method = mean_interval(changes, alpha)
        also, details["raw_change"] = _raw_outcome(
            float(changes.mean()), (c_low, c_high), float(complete[:, 0].mean()), raw,
            "per-seed change from the first to the last grid point, " + c_method)
    return _row(name=name, check="trend", statistic=statistic, estimate=estimate, null=0.0,
                low=low, high=high, ci_method=ci_method, p=float(page.pvalue), sign=sign,
                floor=floor, alpha=alpha, n=int(rhos.size), units=units, meaning=meaning,
                details=details, also=also)


def compare(
    a: Any,
    b: Any,
    *,
    alternative: str,
    min_effect: float,
    paired: bool = False,
    support: tuple[float, float] = (-math.inf, math.inf),
    alpha: float = 0.01,
    units: str | None = None,
    name: str = "two-group comparison",
    meaning: str = "",
) -> Evidence:
    """Is a greater (less) than b by at least min_effect?

    Paired (or b a number): Wilcoxon signed-rank on a - b, estimate the Hodges-Lehmann
    pseudo-median, interval by inverting the signed-rank test. Unpaired: Mann-Whitney U,
    estimate the Hodges-Lehmann shift (median of all a_i - b_j), interval by inverting U.
    When ties make that interval collapse on one value v, it is bounded instead from the
    units at v (``inference.all_equal_interval``) on ``support``, the range the shift can
    take (unbounded by default, so ties alone can never exclude an effect).
    """
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    a = np.asarray(a.detach().cpu() if hasattr(a, "detach") else a, dtype=float).ravel()
    b = np.asarray(b.detach().cpu() if hasattr(b, "detach") else b, dtype=float).ravel()
    sign = 1.0 if alternative == "greater" else -1.0
    if a.size == 0 or b.size == 0:  # e.g. no run converged under this seed: nothing to compare
        return _unevaluable(name, "compare", "Hodges-Lehmann shift", int(a.size + b.size),
                            alpha, meaning, "a group is empty", units or "units")
    if paired or b.size == 1:
        if b.size == 1:
            b = np.full_like(a, b[0])
        elif a.shape != b.shape:
            raise ValueError(f"paired compare needs equal lengths, got {a.size} and {b.size}")
        keep = np.isfinite(a) & np.isfinite(b)
        diff = a[keep] - b[keep]
        n, units = int(diff.size), units or "pairs"
        statistic = "Hodges-Lehmann paired shift (Wilcoxon)"
        if n < 3:
            return _unevaluable(name, "compare", statistic, n, alpha, meaning,
                                "fewer than 3 finite pairs", units)
        if np.ptp(diff) == 0 and diff[0] == 0:  # no unit moved: evidence of no effect, as
            # wide as the support allows (a control with zero spread is DEGENERATE: recorder)
            estimate, p = 0.0, 1.0
            low, high = all_equal_interval(0.0, n, alpha, support)
        else:
            walsh = (0.5 * (diff[:, None] + diff[None, :])[np.triu_indices(n)]
                     if n * (n + 1) // 2 <= MAX_BREAKS else None)
            estimate = float(np.median(walsh)) if walsh is not None else pseudo_median(diff)
            test = lambda s, alt: signed_rank_p(diff - s, alt)
            p = test(0.0, alternative)
            span = max(np.ptp(diff), abs(diff).max(), 1e-12)
            low, high = invert_shift(test, walsh,
                                     diff.min() - span, diff.max() + span, alpha)
            low, high = _bounded_ties(low, high, diff, n, alpha, support)
        details = {"paired": True, "median_difference": float(np.median(diff)),
                   "zero_spread": bool(np.ptp(diff) == 0)}
    else:
        a, b = a[np.isfinite(a)], b[np.isfinite(b)]
        n, units = int(a.size + b.size), units or "runs"
        statistic = "Hodges-Lehmann shift (Mann-Whitney)"
        if a.size < 2 or b.size < 2:
            return _unevaluable(name, "compare", statistic, n, alpha, meaning,
                                "fewer than 2 finite values in a group", units)
        if np.ptp(np.concatenate([a, b])) == 0:
            return _degenerate(name, "compare", statistic, n, alpha, meaning,
                               "both groups hold one and the same value", units)
        shifts = (a[:, None] - b[None, :]).ravel() if a.size * b.size <= MAX_BREAKS else None
        estimate = (float(np.median(shifts)) if shifts is not None
                    else float(np.median(a) - np.median(b)))
        test = lambda s, alt: float(st.mannwhitneyu(a - s, b, alternative=alt).pvalue)
        p = test(0.0, alternative)
        span = max(np.ptp(a), np.ptp(b), abs(a).max(), abs(b).max(), 1e-12)
        low, high = invert_shift(test, shifts, a.min() - b.max() - span,
                                  a.max() - b.min() + span, alpha)
        low, high = _bounded_ties(low, high, a - np.median(b) if np.ptp(b) == 0 else
                                  np.median(a) - b, min(a.size, b.size), alpha, support)
        details = {"paired": False, "median_a": float(np.median(a)),
                   "median_b": float(np.median(b)), "n_a": int(a.size), "n_b": int(b.size)}
    return _row(name=name, check="compare", statistic=statistic, estimate=estimate, null=0.0,
                low=low, high=high, ci_method="inverted rank test (Hodges-Lehmann)", p=p,
                sign=sign, floor=min_effect, alpha=alpha, n=n, units=units, meaning=meaning,
                details={**details, "alternative": alternative})


def _bounded_ties(low: float, high: float, values: np.ndarray, n: int, alpha: float,
                  support: tuple[float, float]) -> tuple[float, float]:
    """A rank-test interval that ties made collapse on one value: widen it to the
    sign-test (order-statistic) interval of the median, and where that collapses too (most
    units tied at v), to the Clopper-Pearson bound from the k units at v."""
    if high - low > 0:
        return low, high
    xs = np.sort(values)
    k = int(st.binom.ppf(alpha, xs.size, 0.5))  # P(Bin(n, 1/2) <= k - 1) <= alpha
    sign_low = xs[k - 1] if k >= 1 else support[0]
    sign_high = xs[xs.size - k] if k >= 1 else support[1]
    if sign_high - sign_low > 0:
        return min(low, float(sign_low)), max(high, float(sign_high))
    at = max(1, min(n, int(np.sum(np.isclose(values, sign_low, rtol=0, atol=1e-12)))))
    wide_low, wide_high = all_equal_interval(float(sign_low), at, alpha, support)
    return min(low, wide_low), max(high, wide_high)


# -- proportions ----------------------------------------------------------------------------
def proportion(
    successes: int,
    n: int,
    *,
    p0: float,
    alternative: str,
    min_effect: float,
    alpha: float = 0.01,
    units: str = "runs",
    name: str = "proportion",
    meaning: str = "",
) -> Evidence:
    """Is the success rate above (below) p0 by at least min_effect? Exact binomial test
    against p0, Clopper-Pearson interval; the rate must clear p0 +- min_effect."""
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    if not 0 < p0 < 1:
        raise ValueError(f"{name!r}: p0 = {p0!r} must lie strictly between 0 and 1: against "
                         "p0 = 0 (or 1) one event makes p = 0, so HOLDS reduces to the point "
                         "estimate; declare the rate that 'common' or 'rare' means")
    successes, n = int(successes), int(n)
    if not 0 <= successes <= n:
        raise ValueError(f"proportion: need 0 <= successes <= n, got {successes} of {n}")
    if n == 0:
        return _unevaluable(name, "proportion", "rate", 0, alpha, meaning, "no trials", units)
    res = st.binomtest(successes, n, p0, alternative=alternative)
    ci = st.binomtest(successes, n, p0).proportion_ci(confidence_level=1 - 2 * alpha,
                                                      method="exact")
    return _row(name=name, check="proportion", statistic="rate (exact binomial test)",
                estimate=successes / n, null=p0, low=ci.low, high=ci.high,
                ci_method="Clopper-Pearson", p=res.pvalue,
                sign=1.0 if alternative == "greater" else -1.0, floor=min_effect, alpha=alpha,
                n=n, units=units, meaning=meaning, details={"successes": successes})


def compare_proportions(
    successes_a: int,
    n_a: int,
    successes_b: int,
    n_b: int,
    *,
    alternative: str,
    min_effect: float,
    alpha: float = 0.01,
    units: str = "runs",
    name: str = "two proportions",
    meaning: str = "",
) -> Evidence:
    """Is rate a greater (less) than rate b by at least min_effect? Fisher's exact test;
    Newcombe's hybrid-score interval (from Wilson intervals) on the difference."""
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    if min(n_a, n_b) == 0:
        return _degenerate(name, "compare_proportions", "difference of rates", n_a + n_b,
                           alpha, meaning, "a group has no trials", units)
    pa, pb = successes_a / n_a, successes_b / n_b
    if successes_a + successes_b in (0, n_a + n_b):
        return _degenerate(name, "compare_proportions", "difference of rates", n_a + n_b,
                           alpha, meaning, f"every trial has the same outcome ({pa:g})", units)
    table = [[successes_a, n_a - successes_a], [successes_b, n_b - successes_b]]
    p = float(st.fisher_exact(table, alternative=alternative).pvalue)
    (la, ua), (lb, ub) = (wilson(successes_a, n_a, 1 - 2 * alpha),
                          wilson(successes_b, n_b, 1 - 2 * alpha))
    d = pa - pb
    low = d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2)
    high = d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2)
    return _row(name=name, check="compare_proportions",
                statistic="difference of rates (Fisher)", estimate=d, null=0.0, low=low,
                high=high, ci_method="Newcombe hybrid score", p=p,
                sign=1.0 if alternative == "greater" else -1.0, floor=min_effect, alpha=alpha,
                n=int(n_a + n_b), units=units, meaning=meaning,
                details={"rate_a": pa, "rate_b": pb, "n_a": n_a, "n_b": n_b})


# -- exact identities -----------------------------------------------------------------------
def exact(
    value: Any,
    *,
    upper: float | None = None,
    lower: float | None = None,
    target: float | None = None,
    tol: float = 0.0,
    n: int = 1,
    units: str = "cases",
    statistic: str = "value",
    name: str = "exact identity",
    meaning: str = "",
) -> Evidence:
    """An identity computed to floating-point precision: value <= upper, >= lower, or within
    tol of target. No interval: one counterexample beyond ``tol`` (from the float type) refutes.
    Use it only for identities and bounds that hold by mathematics, never for a noisy figure."""
    if sum(v is not None for v in (upper, lower, target)) != 1:
        raise ValueError("exact: give exactly one of upper=, lower= or target=")
    if tol < 0:
        raise ValueError(f"exact: tol must be >= 0, got {tol}")
    value = float(_as_float_array(value, "value"))
    if not np.isfinite(value):
        return _unevaluable(name, "exact", statistic, n, None, meaning, "value is not finite",
                            units)
    if upper is not None:
        margin, threshold, comparison = upper + tol - value, upper, "<="
    elif lower is not None:
        margin, threshold, comparison = value - (lower - tol), lower, ">="
    else:
        margin, threshold, comparison = tol - abs(value - target), target, f"within {tol:.3g} of"
    outcome = Outcome.HOLDS if margin >= 0 else Outcome.FAILS
    return Evidence(
        name=name, check="exact", statistic=statistic, observed=value, threshold=threshold,
        comparison=comparison, margin=float(margin), p_value=None, alpha=None, n=int(n),
        passed=outcome == Outcome.HOLDS, outcome=outcome.value, units=units, exact=True,
        meaning=meaning, details={"tol": tol},
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
    "exact": exact,
}
