"""The inference behind the checks in ``harness.stats``: exact and permutation p-values,
the intervals that go with them (Fisher z, t / BCa over units, inverted rank tests, Wilson),
each tested against scipy or an exact enumeration in tests/test_stats.py."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Callable

import numpy as np
from scipy import stats as st

PERMUTATIONS = 9999  # resamples for permutation p-values at 7 < n < 30 (fixed generator)


def resampling_rng() -> np.random.Generator:
    """Resampling generator: fixed, so the same data give the same p-value and interval."""
    return np.random.default_rng(20240611)


# -- correlations ---------------------------------------------------------------------------
CORRELATIONS = {  # method -> (statistic name, Fisher-z standard error at n, minimum n for the SE)
    "spearman": ("Spearman rho", lambda r, n: math.sqrt((1 + r * r / 2) / (n - 3)), 4),
    "kendall": ("Kendall tau", lambda r, n: math.sqrt(0.437 / (n - 4)), 5),
    "pearson": ("Pearson r", lambda r, n: 1 / math.sqrt(n - 3), 4),
}
CI_NAMES = {"spearman": "Fisher z, Bonett-Wright SE", "kendall": "Fisher z, Fieller SE",
             "pearson": "Fisher z"}


def correlation(method: str) -> Callable[[np.ndarray, np.ndarray], float]:
    fn = {"spearman": st.spearmanr, "kendall": st.kendalltau, "pearson": st.pearsonr}[method]
    return lambda x, y: float(fn(x, y).statistic)


def correlation_p(x: np.ndarray, y: np.ndarray, method: str, alternative: str) -> tuple[float, str]:
    """One-sided p: exact over all n! pairings for n <= 7 (n! <= 9999), a permutation test
    below 30, scipy's asymptotic test from 30 on."""
    n = x.size
    if n >= 30:
        fn = {"spearman": st.spearmanr, "kendall": st.kendalltau, "pearson": st.pearsonr}[method]
        return float(fn(x, y, alternative=alternative).pvalue), "asymptotic"
    if method == "kendall":
        corr = correlation(method)
        res = st.permutation_test((y,), lambda yy: corr(x, yy), permutation_type="pairings",
                                  alternative=alternative, n_resamples=PERMUTATIONS,
                                  rng=resampling_rng())
    else:  # Pearson (on ranks for Spearman), vectorized: a permutation keeps mean and norm
        xs, ys = (st.rankdata(x), st.rankdata(y)) if method == "spearman" else (x, y)
        xc = (xs - xs.mean()) / np.linalg.norm(xs - xs.mean())
        yc = (ys - ys.mean()) / np.linalg.norm(ys - ys.mean())
        res = st.permutation_test((yc,), lambda yy, axis: yy @ xc, vectorized=True,
                                  permutation_type="pairings", alternative=alternative,
                                  n_resamples=PERMUTATIONS, rng=resampling_rng())
    kind = "exact permutation" if math.factorial(n) <= PERMUTATIONS else "permutation"
    return float(res.pvalue), kind


def fisher_interval(r: float, n: int, method: str, alpha: float) -> tuple[float, float]:
    _, se_fn, n_min = CORRELATIONS[method]
    if n < n_min:
        return -1.0, 1.0
    if abs(r) >= 1 - 1e-12:  # a perfect ordering: atanh is infinite and the interval would
        # collapse on +-1; use the nearest value n points can give short of it (one adjacent
        # swap) for the far side, and +-1 itself on the near side
        closest = 1 - (4 / (n * (n - 1)) if method == "kendall" else 12 / (n ** 3 - n))
        z = math.atanh(math.copysign(closest, r))
        half = st.norm.ppf(1 - alpha) * se_fn(closest, n)
        return (math.tanh(z - half), 1.0) if r > 0 else (-1.0, math.tanh(z + half))
    z = math.atanh(r)
    half = st.norm.ppf(1 - alpha) * se_fn(r, n)
    return math.tanh(z - half), math.tanh(z + half)


def all_equal_interval(value: float, n: int, alpha: float,
                       support: tuple[float, float]) -> tuple[float, float]:
    """Bounds on a mean when all n units gave the same value: 0 of n units fell below (above)
    it, so the share of the population below (above) is at most u = 1 - alpha^(1/n)
    (Clopper-Pearson, one-sided), and the mean is at least value - u * (value - lo) (at most
    value + u * (hi - value)). Never zero width; infinite where the support is unbounded."""
    u = 1.0 - alpha ** (1.0 / n)
    lo, hi = support
    low = value - u * (value - lo) if math.isfinite(lo) else -math.inf
    high = value + u * (hi - value) if math.isfinite(hi) else math.inf
    return float(low), float(high)


def mean_interval(values: np.ndarray, alpha: float,
                  support: tuple[float, float] = (-math.inf, math.inf)
                  ) -> tuple[float, float, str]:
    """Interval for a mean over independent units: t below 10 units, BCa bootstrap above;
    when every unit agrees, the Clopper-Pearson bound of ``all_equal_interval`` on the
    statistic's support (a per-seed Spearman lies in [-1, 1])."""
    n = values.size
    if np.ptp(values) == 0:
        low, high = all_equal_interval(float(values[0]), n, alpha, support)
        return low, high, "all units equal: Clopper-Pearson bound on the support"
    if n >= 10:
        res = st.bootstrap((values,), np.mean, confidence_level=1 - 2 * alpha, method="BCa",
                           n_resamples=4999, rng=resampling_rng())
        low, high = res.confidence_interval
        if np.isfinite(low) and np.isfinite(high):
            return (float(max(low, support[0])), float(min(high, support[1])),
                    "BCa bootstrap over units")
    half = st.t.ppf(1 - alpha, n - 1) * values.std(ddof=1) / math.sqrt(n)
    return (float(max(values.mean() - half, support[0])),
            float(min(values.mean() + half, support[1])), "t interval over units")


# -- location shifts ------------------------------------------------------------------------
def invert_shift(pvalue: Callable[[float, str], float], breaks: np.ndarray, lo: float,
                  hi: float, alpha: float) -> tuple[float, float]:
    """The shifts s the one-sided tests do not reject at alpha: the interval that goes with
    the rank test's p-value (Hodges-Lehmann / Moses).

    A rank test's statistic, hence its p-value, only changes where the shifted data tie:
    at ``breaks`` (the Walsh averages, or the pairwise differences a_i - b_j). The test is
    evaluated between consecutive breaks (no ties, no zeros there, so scipy's exact null
    distribution applies where it would) and each bound is the break where rejection stops,
    found by bisection over the breaks (p of 'greater than s' rises with s, p of 'less than
    s' falls). Without breaks (too many to list), bisection over [lo, hi] instead."""
    if breaks is None:
        return invert_shift_bisect(pvalue, lo, hi, alpha)
    breaks = np.unique(breaks)
    m = breaks.size
    mids = np.concatenate([[breaks[0] - 1.0 - abs(breaks[0])],
                           0.5 * (breaks[1:] + breaks[:-1]),
                           [breaks[-1] + 1.0 + abs(breaks[-1])]])  # m + 1 cells
    # lower bound: the first cell the 'greater' test no longer rejects
    rej_g = lambda k: pvalue(float(mids[k]), "greater") < alpha
    if not rej_g(0):  # too few units to exclude even the extreme shift
        low = -math.inf
    else:
        a, b = 0, m  # rej_g(a) True; find the first k in (a, b] with rej_g(k) False
        if rej_g(b):
            low = float(breaks[-1])
        else:
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (mid, b) if rej_g(mid) else (a, mid)
            low = float(breaks[b - 1])
    rej_l = lambda k: pvalue(float(mids[k]), "less") < alpha
    if not rej_l(m):
        high = math.inf
    else:
        a, b = 0, m  # rej_l(b) True; find the last k in [a, b) with rej_l(k) False
        if rej_l(a):
            high = float(breaks[0])
        else:
            while b - a > 1:
                mid = (a + b) // 2
                a, b = (a, mid) if rej_l(mid) else (mid, b)
            high = float(breaks[a])
    return low, high


def invert_shift_bisect(pvalue: Callable[[float, str], float], lo: float, hi: float,
                         alpha: float) -> tuple[float, float]:
    """As ``invert_shift``, by bisection over shifts in [lo, hi] (for very many units)."""
    def boundary(alternative: str) -> float:
        rejects = lambda s: pvalue(s, alternative) < alpha
        a, b = (lo, hi) if alternative == "greater" else (hi, lo)
        if not rejects(a):  # too few units to exclude even the extreme shift
            return -math.inf if alternative == "greater" else math.inf
        for _ in range(60):
            mid = 0.5 * (a + b)
            a, b = (mid, b) if rejects(mid) else (a, mid)
        return b
    return boundary("greater"), boundary("less")


MAX_BREAKS = 2_000_000  # above this many Walsh averages / differences: bisect over shifts


def pseudo_median(diff: np.ndarray) -> float:
    """Hodges-Lehmann pseudo-median of many values: the median of a fixed random sample of
    Walsh averages (the full set would not fit in memory)."""
    rng = resampling_rng()
    i, j = rng.integers(0, diff.size, (2, MAX_BREAKS))
    return float(np.median(0.5 * (diff[i] + diff[j])))


ENUMERATE_UP_TO = 16  # nonzero differences: the signed-rank null by all 2^n sign flips


@lru_cache(maxsize=None)
def sign_flips(n: int) -> np.ndarray:
    return ((np.arange(2 ** n)[:, None] >> np.arange(n)) & 1).astype(float)


def signed_rank_p(d: np.ndarray, alternative: str) -> float:
    """One-sided Wilcoxon signed-rank p (Pratt: zeros ranked, then dropped). Up to 16 nonzero
    differences the null is enumerated over all sign flips with the midranks as they are, which
    is exact with ties (scipy falls back to a slow permutation test there); beyond, scipy."""
    nonzero = d != 0
    if not nonzero.any():
        return 1.0
    if nonzero.sum() > ENUMERATE_UP_TO:
        return float(st.wilcoxon(d, alternative=alternative, zero_method="pratt").pvalue)
    ranks = st.rankdata(np.abs(d))[nonzero]
    observed = ranks[d[nonzero] > 0].sum()
    null = sign_flips(ranks.size) @ ranks
    tol = 1e-9 * ranks.sum()
    return float(np.mean(null >= observed - tol) if alternative == "greater"
                 else np.mean(null <= observed + tol))


def wilson(k: int, n: int, level: float) -> tuple[float, float]:
    ci = st.binomtest(k, n).proportion_ci(confidence_level=level, method="wilson")
    return float(ci.low), float(ci.high)
