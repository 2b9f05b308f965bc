"""Slope check: does y grow with x more slowly (or faster) than a stated power? For rank
claims read on log-log axes (G8: rank against width), where a correlation says nothing about
how steep the growth is.

Every (x, y) pair is an independent unit. The estimate is the Theil-Sen slope (the median of
the pairwise slopes), its interval Sen's (1968), two-sided at 1 - 2 alpha as every check's
(``harness.stats``), and the p-value Kendall's tau of x with y - null * x in the claimed
direction: the rank test whose inversion gives that interval.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats as st

from .evidence import Evidence
from .rows import _as_float_array, _check_choice, _degenerate, _row, _unevaluable

_ALTERNATIVES = ("greater", "less")
STATISTIC = "Theil-Sen slope"


def theil_sen(x: np.ndarray, y: np.ndarray, alpha: float = 0.01) -> tuple[float, float, float]:
    """(slope, low, high): the Theil-Sen slope and Sen's two-sided 1 - 2 alpha interval."""
    slope, _, low, high = st.theilslopes(y, x, alpha=1 - 2 * alpha)
    return float(slope), float(low), float(high)


def slope(
    x: Any,
    y: Any,
    *,
    alternative: str,
    min_effect: float,
    null: float = 0.0,
    alpha: float = 0.01,
    units: str | None = None,
    name: str = "slope",
    meaning: str = "",
) -> Evidence:
    """Is the slope of y over x above (``greater``) or below (``less``) ``null`` by at least
    min_effect? E.g. log rank over log width, null 1 (rank proportional to width), less by
    1 - log(1.5) / log(8): the rank grows at most 1.5x while the width grows 8x."""
    _check_choice(alternative, _ALTERNATIVES, "alternative")
    xs, ys = _as_float_array(x, "x").ravel(), _as_float_array(y, "y").ravel()
    if xs.shape != ys.shape:
        raise ValueError(f"slope: x has {xs.size} values and y {ys.size}; pass one y per x")
    keep = np.isfinite(xs) & np.isfinite(ys)
    xs, ys = xs[keep], ys[keep]
    n, units = int(xs.size), units or "units"
    if n < 3 or np.unique(xs).size < 2:
        return _unevaluable(name, "slope", STATISTIC, n, alpha, meaning,
                            "fewer than 3 finite points or a single x value", units)
    if np.ptp(ys) == 0:
        return _degenerate(name, "slope", STATISTIC, n, alpha, meaning,
                           "the response is constant: no slope can show", units)
    estimate, low, high = theil_sen(xs, ys, alpha)
    p = float(st.kendalltau(xs, ys - null * xs, alternative=alternative).pvalue)
    return _row(name=name, check="slope", statistic=STATISTIC, estimate=estimate, null=null,
                low=low, high=high, ci_method="Sen's interval (inverted Kendall test)", p=p,
                sign=1.0 if alternative == "greater" else -1.0, floor=min_effect, alpha=alpha,
                n=n, units=units, meaning=meaning,
                details={"alternative": alternative, "distinct_x": int(np.unique(xs).size)})


CHECKS = {"slope": slope}
