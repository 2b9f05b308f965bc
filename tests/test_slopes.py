"""harness.slopes: the Theil-Sen slope check on data with known slopes."""
import numpy as np
import pytest

from harness.evidence import Claim, Verdict
from harness.recorder import ClaimRecorder
from harness.slopes import slope

BOUND = 1 - np.log(1.5) / np.log(8)  # G8's floor: rank grows <= 1.5x over 8x width


def _log_width_data(true_slope, noise, per_width=5, seed=0):
    rng = np.random.default_rng(seed)
    x = np.repeat(np.log([64.0, 128.0, 256.0, 512.0]), per_width)
    return x, 3.0 + true_slope * x + noise * rng.standard_normal(x.size)


def test_a_flat_rank_holds_and_a_proportional_one_fails():
    x, y = _log_width_data(0.02, 0.05)
    flat = slope(x, y, alternative="less", null=1.0, min_effect=BOUND)
    assert flat.outcome == "HOLDS" and flat.ci_low < 0.02 < flat.ci_high
    assert flat.threshold == pytest.approx(np.log(1.5) / np.log(8))
    x, y = _log_width_data(1.0, 0.05)
    tracking = slope(x, y, alternative="less", null=1.0, min_effect=BOUND)
    assert tracking.outcome == "FAILS"  # the data exclude a growth as slow as 1.5x over 8x


def test_noise_without_units_enough_is_undecided_and_says_how_many_would_decide():
    x, y = _log_width_data(0.5, 0.8, per_width=3)
    row = slope(x, y, alternative="less", null=1.0, min_effect=BOUND)
    assert row.outcome == "UNDECIDED" and row.n_needed and row.n_needed > row.n


def test_greater_mirrors_less():
    x, y = _log_width_data(0.9, 0.05, seed=3)
    assert slope(x, y, alternative="greater", min_effect=0.5).outcome == "HOLDS"
    assert slope(x, y, alternative="greater", min_effect=1.5).outcome == "FAILS"


def test_sen_interval_covers_the_true_slope_at_its_level():
    """Two-sided 1 - 2 alpha = 98%: over 300 data sets the interval must cover the true
    slope in at least 95% (binomial sd at 98% over 300: 0.8 points)."""
    hits = 0
    for seed in range(300):
        x, y = _log_width_data(0.3, 0.2, per_width=4, seed=seed)
        row = slope(x, y, alternative="less", null=1.0, min_effect=BOUND)
        hits += row.ci_low <= 0.3 <= row.ci_high
    assert hits / 300 >= 0.95


def test_bad_and_degenerate_inputs():
    x = np.log([64.0, 128.0, 256.0, 512.0])
    assert slope(x, np.ones(4), alternative="less", min_effect=0.5).outcome == "DEGENERATE"
    assert slope(np.ones(4), x, alternative="less", min_effect=0.5).outcome == "UNEVALUABLE"
    with pytest.raises(ValueError, match="one y per x"):
        slope(x, x[:3], alternative="less", min_effect=0.5)
    with pytest.raises(ValueError, match="alternative"):
        slope(x, x, alternative="two-sided", min_effect=0.5)
    with pytest.raises(ValueError, match="floor"):
        slope(x, x + np.array([0, 0.1, 0, 0.1]), alternative="less", min_effect=0.0)


def test_the_recorder_offers_every_role_of_the_slope_check():
    meta = Claim(id="G99", title="t", statement="s", source="x", expected=Verdict.SUPPORTED,
                 why_expected="w")
    rec = ClaimRecorder(meta, "test_x.py::test_y[a]", 1)
    x, y = _log_width_data(0.02, 0.05)
    row = rec.expect_slope(x, y, alternative="less", null=1.0, min_effect=BOUND, name="flat")
    assert row.role.value == "primary" and row.check == "slope"
    for role in ("control", "positive", "placebo", "sensitivity"):
        assert callable(getattr(rec, f"{role}_slope"))
