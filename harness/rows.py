"""Evidence rows: the three-way decision from one interval and the row builders the checks
in ``harness.stats`` share (kept apart so each module stays short)."""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .evidence import Evidence, Outcome


# -- the decision ---------------------------------------------------------------------------
def decide_outcome(estimate: float, null: float, low: float, high: float, p: float,
                   sign: float, floor: float, alpha: float) -> str:
    """HOLDS / FAILS / UNDECIDED for 'sign * (effect - null) >= floor'."""
    claimed_bound = high if sign > 0 else low
    if p < alpha and sign * (estimate - null) >= floor:
        return Outcome.HOLDS.value
    if sign * (claimed_bound - null) < floor:
        return Outcome.FAILS.value
    return Outcome.UNDECIDED.value


def units_to_decide(n: int, estimate: float, null: float, low: float, high: float,
                    sign: float, floor: float) -> int | None:
    """Units that would decide an UNDECIDED check if the spread stays as observed: the
    interval's half-width shrinks as 1/sqrt(n) until it separates the estimate from the floor
    (when the estimate falls short of it) or from 'no effect' (when it clears it)."""
    threshold = null + sign * floor
    if sign * (estimate - threshold) < 0:  # short of the floor: the claimed bound must cross it
        gap, half = abs(estimate - threshold), abs((high if sign > 0 else low) - estimate)
    else:  # beyond the floor: the other bound must exclude no effect
        gap, half = abs(estimate - null), abs(estimate - (low if sign > 0 else high))
    if not (np.isfinite(half) and gap > 0):
        return None
    return int(math.ceil(n * (half / gap) ** 2)) + 1


def _row(*, name: str, check: str, statistic: str, estimate: float, null: float, low: float,
         high: float, ci_method: str, p: float, sign: float, floor: float, alpha: float, n: int,
         units: str, meaning: str, details: dict[str, Any], also: str | None = None) -> Evidence:
    """``also``: the outcome of a second condition the row must meet (a trend's raw-change
    floor): FAILS if either fails, HOLDS only if both hold."""
    if not floor > 0:
        raise ValueError(f"{name!r}: the effect floor min_effect must be > 0 and declared "
                         f"before looking (got {floor!r}); 'any effect' proves nothing")
    if not high - low > 0:  # safety net: the checks bound ties themselves (inference.py)
        low, high, ci_method = -math.inf, math.inf, ci_method + " (zero width: unbounded)"
    outcome = decide_outcome(estimate, null, low, high, p, sign, floor, alpha)
    if also is not None and outcome != also:
        outcome = (Outcome.FAILS.value if Outcome.FAILS.value in (outcome, also)
                   else Outcome.UNDECIDED.value)
    needed = (units_to_decide(n, estimate, null, low, high, sign, floor)
              if outcome == Outcome.UNDECIDED.value else None)
    threshold = null + sign * floor
    return Evidence(
        name=name, check=check, statistic=statistic, observed=float(estimate),
        threshold=float(threshold), comparison=">=" if sign > 0 else "<=",
        margin=float(sign * (estimate - threshold)), p_value=float(p), alpha=alpha, n=int(n),
        passed=outcome == Outcome.HOLDS.value, outcome=outcome, ci_low=float(low),
        ci_high=float(high), ci_level=1 - 2 * alpha, ci_method=ci_method, null=float(null),
        floor=float(floor), units=units, n_needed=needed, meaning=meaning, details=details)


def _special(name: str, check: str, statistic: str, n: int, alpha: float | None, meaning: str,
             why: str, outcome: Outcome, units: str = "", floor: float | None = None) -> Evidence:
    return Evidence(
        name=name, check=check, statistic=statistic, observed=None, threshold=None,
        comparison="", margin=None, p_value=None, alpha=alpha, n=int(n),
        passed=None if outcome == Outcome.UNEVALUABLE else False, outcome=outcome.value,
        units=units, floor=floor, meaning=meaning, details={outcome.value.lower(): why})


def _unevaluable(name, check, statistic, n, alpha, meaning, why, units="") -> Evidence:
    return _special(name, check, statistic, n, alpha, meaning, why, Outcome.UNEVALUABLE, units)


def _degenerate(name, check, statistic, n, alpha, meaning, why, units="") -> Evidence:
    return _special(name, check, statistic, n, alpha, meaning, why, Outcome.DEGENERATE, units)


# -- input handling -------------------------------------------------------------------------
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
