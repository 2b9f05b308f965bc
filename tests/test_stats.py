"""Each statistical check on synthetic data with a known answer; p-values equal scipy's."""
import numpy as np
import pytest
from scipy import stats as sps

from harness import stats


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def test_trend_present_passes_absent_fails_and_p_matches_scipy(rng):
    x = np.linspace(0, 1, 8)
    y = 3 * x[:, None] + rng.normal(0, 0.2, (8, 5))
    ev = stats.trend(x, y, direction="increasing", alpha=0.01, min_effect=0.5)
    rho, p = sps.spearmanr(np.repeat(x, 5), y.ravel(), alternative="greater")
    assert ev.passed and ev.observed == pytest.approx(rho) and ev.p_value == pytest.approx(p)
    noise = stats.trend(x, rng.normal(size=(8, 5)), direction="increasing", alpha=0.01)
    assert noise.passed is False
    wrong_way = stats.trend(x, y, direction="decreasing", alpha=0.01)
    assert wrong_way.passed is False


def test_trend_effect_floor_rejects_tiny_significant_effects(rng):
    x = np.repeat(np.linspace(0, 1, 10), 2000)
    y = 0.2 * x + rng.normal(0, 1, x.size)  # tiny but, with n = 20000, significant
    ev = stats.trend(x, y, direction="increasing", alpha=0.01, min_effect=0.3)
    assert ev.p_value < 0.01 and ev.passed is False and ev.margin < 0


@pytest.mark.parametrize("method", ["kendall", "pearson", "page"])
def test_trend_methods_detect_a_clear_trend(method, rng):
    x = np.arange(6.0)
    y = x[:, None] + rng.normal(0, 0.3, (6, 4))
    assert stats.trend(x, y, direction="increasing", method=method, min_effect=0.3).passed


def test_trend_with_too_few_points_is_unevaluable():
    ev = stats.trend([1.0, 2.0], [1.0, np.nan], direction="increasing")
    assert ev.passed is None


def test_compare_unpaired_matches_mannwhitney(rng):
    a, b = rng.normal(1, 1, 30), rng.normal(0, 1, 30)
    ev = stats.compare(a, b, alternative="greater", alpha=0.01)
    assert ev.p_value == pytest.approx(sps.mannwhitneyu(a, b, alternative="greater").pvalue)
    assert ev.passed
    same = stats.compare(rng.normal(0, 1, 30), rng.normal(0, 1, 30), alternative="greater")
    assert same.passed is False


def test_compare_paired_matches_wilcoxon(rng):
    a = rng.normal(0, 1, 25)
    b = a - 0.5 + rng.normal(0, 0.1, 25)
    ev = stats.compare(a, b, alternative="greater", paired=True, alpha=0.01, min_effect=0.3)
    assert ev.p_value == pytest.approx(sps.wilcoxon(a, b, alternative="greater").pvalue)
    assert ev.passed and ev.observed == pytest.approx(np.median(a - b))
    assert not stats.compare(a, b, alternative="greater", paired=True, min_effect=1.0).passed


def test_proportion_matches_binomtest():
    ev = stats.proportion(30, 40, p0=0.5, alternative="greater", alpha=0.01)
    assert ev.p_value == pytest.approx(sps.binomtest(30, 40, 0.5, alternative="greater").pvalue)
    assert ev.passed
    assert not stats.proportion(22, 40, p0=0.5, alternative="greater", alpha=0.01).passed


def test_compare_proportions_matches_fisher():
    ev = stats.compare_proportions(18, 20, 4, 20, alternative="greater", alpha=0.01)
    p = sps.fisher_exact([[18, 2], [4, 16]], alternative="greater")[1]
    assert ev.p_value == pytest.approx(p) and ev.passed
    assert not stats.compare_proportions(10, 20, 9, 20, alternative="greater").passed


def test_bound_and_margin_signs():
    ok = stats.bound(0.3, upper=0.5)
    bad = stats.bound(0.7, upper=0.5)
    assert ok.passed and ok.margin == pytest.approx(0.2)
    assert bad.passed is False and bad.margin == pytest.approx(-0.2)
    assert stats.bound(2.0, lower=1.0).passed and not stats.bound(0.5, lower=1.0).passed


def test_bound_requires_exactly_one_side():
    with pytest.raises(ValueError):
        stats.bound(1.0)
    with pytest.raises(ValueError):
        stats.bound(1.0, upper=2.0, lower=0.0)


def test_close_within_and_outside_tolerance():
    assert stats.close(1.0 + 1e-9, 1.0, rtol=1e-6).passed
    assert not stats.close(1.1, 1.0, rtol=1e-3).passed
    assert stats.close(0.0, 1e-13, atol=1e-12).passed


def test_nan_observations_are_unevaluable_not_passed():
    assert stats.bound(float("nan"), upper=1.0).passed is None
    assert stats.compare([np.nan] * 3, [1.0, 2.0, 3.0]).passed is None


def test_bad_direction_names_the_valid_ones():
    with pytest.raises(ValueError, match="increasing"):
        stats.trend([1, 2, 3], [1, 2, 3], direction="up")


def test_sampling_errors_used_as_baseline_floors():
    from harness.stats import correlation_se, proportion_se

    assert proportion_se(0.5, 100) == pytest.approx(np.sqrt(0.2525 / 100))
    assert proportion_se(0.0, 40) == pytest.approx(0.5 / 40)  # never zero at p = 0
    assert correlation_se(0.0, 13) == pytest.approx(np.sqrt(1.06 / 10))
    assert correlation_se(1.0, 50) == 0.0
    assert correlation_se(0.5, 3) is None and correlation_se(float("nan"), 50) is None
    # against the spread of Spearman's rho over many samples of a known correlation
    rng = np.random.default_rng(0)
    cov = [[1.0, 0.6], [0.6, 1.0]]
    rhos = [sps.spearmanr(*rng.multivariate_normal([0, 0], cov, 40).T).statistic
            for _ in range(2000)]
    assert np.std(rhos) == pytest.approx(correlation_se(np.mean(rhos), 40), rel=0.15)
