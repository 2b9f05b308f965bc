"""Each statistical check against known answers: p-values and intervals equal scipy's or an
exact enumeration; planted effects HOLD at about the nominal power; no effect with ample n
FAILS; small n is UNDECIDED and says how many units would decide it."""
import itertools
import math

import numpy as np
import pytest
from scipy import stats as sps

from harness import stats

ALPHA = 0.01
Z = sps.norm.ppf(1 - ALPHA)


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


# -- exact answers --------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["spearman", "kendall"])
def test_a_perfect_ranking_of_5_points_has_exact_p_1_over_120(method):
    x = np.arange(5.0)
    ev = stats.trend(x, x ** 3, direction="increasing", min_effect=0.3, method=method)
    assert ev.observed == pytest.approx(1.0) and ev.p_value == pytest.approx(1 / 120)
    assert ev.details["p_method"] == "exact permutation"
    # scipy's asymptotic t-approximation is what this replaces (issue 12: 7e-25 at rho = -1)
    assert sps.spearmanr(x, -x, alternative="less").pvalue < 1e-20
    down = stats.trend(x, -x, direction="decreasing", min_effect=0.3, method=method)
    assert down.p_value == pytest.approx(1 / 120) and down.outcome == "HOLDS"


def test_correlation_p_below_8_points_equals_an_enumeration_of_all_pairings(rng):
    x, y = np.arange(6.0), rng.normal(size=6)
    ev = stats.trend(x, y, direction="increasing", min_effect=0.3)
    rho = sps.spearmanr(x, y).statistic
    perms = [sps.spearmanr(x, y[list(p)]).statistic for p in itertools.permutations(range(6))]
    assert ev.p_value == pytest.approx(np.mean(np.array(perms) >= rho - 1e-12))


def test_correlation_from_30_points_matches_scipy_and_the_fisher_interval_by_hand(rng):
    x = rng.normal(size=40)
    y = 0.5 * x + rng.normal(size=40)
    ev = stats.trend(x, y, direction="increasing", min_effect=0.2)
    ref = sps.spearmanr(x, y, alternative="greater")
    assert ev.observed == pytest.approx(ref.statistic) and ev.p_value == pytest.approx(ref.pvalue)
    r, n = ref.statistic, 40
    se = math.sqrt((1 + r * r / 2) / (n - 3))  # Bonett-Wright
    assert (ev.ci_low, ev.ci_high) == pytest.approx((math.tanh(math.atanh(r) - Z * se),
                                                     math.tanh(math.atanh(r) + Z * se)))
    assert ev.ci_level == pytest.approx(1 - 2 * ALPHA) and ev.n == 40 and ev.units == "pairs"


def test_blocked_trend_is_the_mean_per_seed_rho_with_pages_p_and_a_t_interval(rng):
    x = np.linspace(0, 1, 6)
    y = x[:, None] + rng.normal(0, 0.4, (6, 7))
    ev = stats.trend(x, y, direction="increasing", min_effect=0.3)
    rhos = np.array([sps.spearmanr(x, col).statistic for col in y.T])
    assert ev.observed == pytest.approx(rhos.mean()) and ev.n == 7 and ev.units == "seeds"
    assert ev.p_value == pytest.approx(sps.page_trend_test(y.T).pvalue)
    half = sps.t.ppf(1 - ALPHA, 6) * rhos.std(ddof=1) / math.sqrt(7)
    assert (ev.ci_low, ev.ci_high) == pytest.approx((rhos.mean() - half, rhos.mean() + half))
    # from 10 seeds on: scipy's BCa bootstrap over the per-seed rhos
    y = x[:, None] + rng.normal(0, 0.4, (6, 12))
    ev = stats.trend(x, y, direction="increasing", min_effect=0.3)
    rhos = np.array([sps.spearmanr(x, col).statistic for col in y.T])
    ref = sps.bootstrap((rhos,), np.mean, confidence_level=0.98, method="BCa",
                        n_resamples=4999, rng=np.random.default_rng(20240611))
    assert (ev.ci_low, ev.ci_high) == pytest.approx(tuple(ref.confidence_interval))
    # a decreasing claim reverses the grid for Page's test
    down = stats.trend(x, -y, direction="decreasing", min_effect=0.3)
    assert down.observed == pytest.approx(-rhos.mean()) and down.outcome == "HOLDS"


def _brute_force_inversion(test, breaks):
    """The shifts the two one-sided tests do not reject: the rank tests' p-values only change
    at ``breaks``, so test once inside every cell between them, and keep the accepted cells."""
    breaks = np.unique(breaks)
    cells = np.concatenate([[breaks[0] - 1], (breaks[1:] + breaks[:-1]) / 2, [breaks[-1] + 1]])
    accepted = [k for k, s in enumerate(cells)
                if test(s, "greater") >= ALPHA and test(s, "less") >= ALPHA]
    low = -np.inf if accepted[0] == 0 else breaks[accepted[0] - 1]
    high = np.inf if accepted[-1] == len(cells) - 1 else breaks[accepted[-1]]
    return low, high


def test_paired_compare_is_wilcoxon_with_the_hodges_lehmann_interval_by_test_inversion(rng):
    a = rng.normal(0, 1, 14)
    b = a - 0.8 + rng.normal(0, 0.5, 14)
    ev = stats.compare(a, b, alternative="greater", paired=True, min_effect=0.3)
    d = a - b
    assert ev.p_value == pytest.approx(sps.wilcoxon(d, alternative="greater").pvalue)
    walsh = [(d[i] + d[j]) / 2 for i in range(14) for j in range(i, 14)]
    assert ev.observed == pytest.approx(np.median(walsh))
    test = lambda s, alt: sps.wilcoxon(d - s, alternative=alt).pvalue
    assert (ev.ci_low, ev.ci_high) == pytest.approx(_brute_force_inversion(test, walsh))
    # b a number: the one-sample signed-rank test against it
    one = stats.compare(a, 0.25, alternative="less", min_effect=0.1)
    assert one.p_value == pytest.approx(sps.wilcoxon(a - 0.25, alternative="less").pvalue)


def test_unpaired_compare_is_mann_whitney_with_the_hodges_lehmann_interval(rng):
    a, b = rng.normal(1, 1, 9), rng.normal(0, 1, 11)
    ev = stats.compare(a, b, alternative="greater", min_effect=0.3)
    assert ev.p_value == pytest.approx(sps.mannwhitneyu(a, b, alternative="greater").pvalue)
    shifts = (a[:, None] - b[None, :]).ravel()
    assert ev.observed == pytest.approx(np.median(shifts)) and ev.n == 20
    test = lambda s, alt: sps.mannwhitneyu(a - s, b, alternative=alt).pvalue
    assert (ev.ci_low, ev.ci_high) == pytest.approx(_brute_force_inversion(test, shifts))


def test_proportion_is_the_exact_binomial_test_with_the_clopper_pearson_interval():
    ev = stats.proportion(30, 40, p0=0.5, alternative="greater", min_effect=0.1)
    assert ev.p_value == pytest.approx(sps.binomtest(30, 40, 0.5, alternative="greater").pvalue)
    ci = sps.binomtest(30, 40).proportion_ci(confidence_level=1 - 2 * ALPHA, method="exact")
    assert (ev.ci_low, ev.ci_high) == pytest.approx((ci.low, ci.high))
    # Clopper-Pearson by hand: beta quantiles
    assert ev.ci_low == pytest.approx(sps.beta.ppf(ALPHA, 30, 11))
    assert ev.ci_high == pytest.approx(sps.beta.ppf(1 - ALPHA, 31, 10))
    assert ev.threshold == pytest.approx(0.6) and ev.outcome == "HOLDS"


def _wilson(k, n, z=Z):
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return centre - half, centre + half


def test_compare_proportions_is_fisher_with_newcombes_interval_by_hand():
    ev = stats.compare_proportions(18, 25, 7, 30, alternative="greater", min_effect=0.1)
    p = sps.fisher_exact([[18, 7], [7, 23]], alternative="greater").pvalue
    assert ev.p_value == pytest.approx(p)
    pa, pb = 18 / 25, 7 / 30
    (la, ua), (lb, ub) = _wilson(18, 25), _wilson(7, 30)
    d = pa - pb
    assert ev.observed == pytest.approx(d)
    assert ev.ci_low == pytest.approx(d - math.sqrt((pa - la) ** 2 + (ub - pb) ** 2))
    assert ev.ci_high == pytest.approx(d + math.sqrt((ua - pa) ** 2 + (pb - lb) ** 2))
    assert ev.outcome == "HOLDS"


def test_exact_checks_decide_by_one_counterexample_beyond_the_tolerance():
    assert stats.exact(3, upper=3).outcome == "HOLDS"
    assert stats.exact(3.0 + 1e-12, upper=3, tol=1e-9).outcome == "HOLDS"
    bad = stats.exact(4, upper=3, tol=1e-9)
    assert bad.outcome == "FAILS" and bad.margin == pytest.approx(-1 + 1e-9)
    assert stats.exact(2.0, lower=1.0).outcome == "HOLDS"
    assert stats.exact(0.5, lower=1.0).outcome == "FAILS"
    assert stats.exact(1.0 + 1e-9, target=1.0, tol=1e-6).outcome == "HOLDS"
    assert stats.exact(1.1, target=1.0, tol=1e-6).outcome == "FAILS"
    assert stats.exact(float("nan"), upper=1.0).outcome == "UNEVALUABLE"
    assert stats.exact(1.0, upper=1.0).ci_low is None  # no interval: identities only
    with pytest.raises(ValueError):
        stats.exact(1.0)
    with pytest.raises(ValueError):
        stats.exact(1.0, upper=2.0, lower=0.0)


# -- the three-way decision -----------------------------------------------------------------
def test_no_effect_with_ample_n_fails_in_every_check(rng):
    x = np.linspace(0, 1, 8)
    assert stats.trend(x, rng.normal(size=(8, 40)), direction="increasing",
                       min_effect=0.3).outcome == "FAILS"
    xs = rng.normal(size=400)
    assert stats.trend(xs, rng.normal(size=400), direction="increasing",
                       min_effect=0.2).outcome == "FAILS"
    assert stats.compare(rng.normal(size=200), 0.0, alternative="greater",
                         min_effect=0.3).outcome == "FAILS"
    assert stats.compare(rng.normal(size=200), rng.normal(size=200), alternative="greater",
                         min_effect=0.3).outcome == "FAILS"
    assert stats.proportion(250, 500, p0=0.5, alternative="greater",
                            min_effect=0.1).outcome == "FAILS"
    assert stats.compare_proportions(150, 500, 150, 500, alternative="greater",
                                     min_effect=0.1).outcome == "FAILS"


def test_a_significant_effect_smaller_than_the_floor_fails(rng):
    x = np.repeat(np.linspace(0, 1, 10), 2000)
    y = 0.2 * x + rng.normal(0, 1, x.size)  # tiny but, with n = 20000, significant
    ev = stats.trend(x, y, direction="increasing", min_effect=0.3)
    assert ev.p_value < ALPHA and ev.outcome == "FAILS" and ev.margin < 0
    # 0.53 vs 0.50 over 10^4 runs (issue 12): significant, far below a floor of 0.1
    ev = stats.proportion(5300, 10000, p0=0.5, alternative="greater", min_effect=0.1)
    assert ev.p_value < ALPHA and ev.outcome == "FAILS"


def test_a_significant_reversal_fails(rng):
    x = np.linspace(0, 1, 6)
    y = -x[:, None] + rng.normal(0, 0.2, (6, 8))
    assert stats.trend(x, y, direction="increasing", min_effect=0.3).outcome == "FAILS"


def test_small_n_is_undecided_and_names_the_units_that_would_decide_it():
    ev = stats.proportion(6, 10, p0=0.5, alternative="greater", min_effect=0.05)
    assert ev.outcome == "UNDECIDED" and ev.n_needed > 10 and "would decide" in ev.describe()
    # n_needed is where the interval, shrinking as 1/sqrt(n), just separates: the same rate
    # is still undecided at half of it and decided at one and a half times it
    rate_at = lambda n: stats.proportion(round(0.6 * n), n, p0=0.5, alternative="greater",
                                         min_effect=0.05).outcome
    assert rate_at(ev.n_needed // 2) == "UNDECIDED" and rate_at(3 * ev.n_needed // 2) == "HOLDS"
    ev = stats.compare([0.4, 0.9, 0.1, 0.7], 0.0, alternative="greater", min_effect=0.2)
    assert ev.outcome == "UNDECIDED" and ev.n_needed is None or ev.n_needed > 4


def test_every_check_needs_a_declared_floor_above_zero(rng):
    x = np.arange(6.0)
    with pytest.raises(ValueError, match="min_effect"):
        stats.trend(x, x, direction="increasing", min_effect=0)
    with pytest.raises(TypeError):
        stats.compare([1.0, 2.0, 3.0], 0.0, alternative="greater")
    with pytest.raises(ValueError, match="min_effect"):
        stats.proportion(3, 10, p0=0.5, alternative="less", min_effect=0.0)
    with pytest.raises(ValueError, match="increasing"):
        stats.trend(x, x, direction="up", min_effect=0.3)
    with pytest.raises(ValueError, match="greater"):
        stats.compare(x, x, alternative="two-sided", min_effect=0.3)


def test_constant_responses_are_degenerate_and_too_few_values_unevaluable():
    x = np.arange(5.0)
    assert stats.trend(x, np.ones((5, 4)), direction="increasing",
                       min_effect=0.3).outcome == "DEGENERATE"
    assert stats.trend(x, np.ones(5), direction="increasing", min_effect=0.3,
                       blocks=False).outcome == "DEGENERATE"
    assert stats.compare([1.0, 1.0, 1.0], [1.0, 1.0], alternative="greater",
                         min_effect=0.1).outcome == "DEGENERATE"
    # a paired (or one-sample) compare where no unit moved is evidence of no effect, bounded
    # by the declared support; as a control the recorder marks it DEGENERATE (zero spread)
    flat = stats.compare([2.0] * 8, 2.0, alternative="greater", min_effect=0.5,
                         support=(-1, 1))  # 0 of 8 moved: the mean is below 1 - 0.01^(1/8)
    assert flat.outcome == "FAILS" and flat.details["zero_spread"]
    assert flat.ci_high == pytest.approx(1 - 0.01 ** (1 / 8))
    assert stats.compare_proportions(0, 10, 0, 10, alternative="greater",
                                     min_effect=0.1).outcome == "DEGENERATE"
    short = stats.trend([1.0, 2.0], [1.0, np.nan], direction="increasing", min_effect=0.3)
    assert short.outcome == "UNEVALUABLE" and short.passed is None
    assert stats.compare([np.nan] * 3, [1.0, 2.0, 3.0], alternative="greater",
                         min_effect=0.1).outcome == "UNEVALUABLE"


# -- error rates and power by simulation (a few hundred datasets each) ----------------------
SIMS = 300


def _rates(evidence):
    outcomes = [e.outcome for e in evidence]
    return {o: outcomes.count(o) / len(outcomes) for o in ("HOLDS", "FAILS", "UNDECIDED")}


def _near(rate, nominal, sims=SIMS):
    """Within 4 binomial standard errors plus the normal approximation's slack."""
    return abs(rate - nominal) <= 4 * math.sqrt(nominal * (1 - nominal) / sims) + 0.04


def test_one_sample_compare_holds_at_its_nominal_power_and_never_fails_at_the_floor():
    rng = np.random.default_rng(7)
    n, floor, sims = 60, 0.4, 150
    se = math.sqrt(math.pi / (3 * n))  # the Hodges-Lehmann estimator's SE for N(delta, 1)
    delta = floor + sps.norm.ppf(0.8) * se  # nominal power 0.8: P(estimate >= floor)
    assert Z * se < floor  # the floor, not significance, is what the estimate must clear
    planted = _rates([stats.compare(rng.normal(delta, 1, n), 0.0, alternative="greater",
                                    min_effect=floor) for _ in range(sims)])
    assert _near(planted["HOLDS"], 0.8, sims)
    at_floor = _rates([stats.compare(rng.normal(floor, 1, n), 0.0, alternative="greater",
                                     min_effect=floor) for _ in range(sims)])
    assert at_floor["FAILS"] <= ALPHA + 4 * math.sqrt(ALPHA / sims)


def test_correlation_holds_at_its_nominal_power_and_noise_never_holds():
    rng = np.random.default_rng(8)
    n, floor = 200, 0.3
    se_z = math.sqrt((1 + floor ** 2 / 2) / (n - 3))
    rho_s = math.tanh(math.atanh(floor) + sps.norm.ppf(0.8) * se_z)
    rho = 2 * math.sin(math.pi * rho_s / 6)  # Pearson rho giving that Spearman rho
    cov = [[1, rho], [rho, 1]]
    draws = [rng.multivariate_normal([0, 0], cov, n).T for _ in range(SIMS)]
    planted = _rates([stats.trend(x, y, direction="increasing", min_effect=floor)
                      for x, y in draws])
    assert _near(planted["HOLDS"], 0.8)
    noise = _rates([stats.trend(rng.normal(size=n), rng.normal(size=n),
                                direction="increasing", min_effect=floor) for _ in range(SIMS)])
    assert noise["HOLDS"] == 0 and noise["FAILS"] > 0.95


def test_blocked_trend_holds_a_planted_trend_and_noise_fails_or_stays_undecided():
    rng = np.random.default_rng(9)
    x = np.linspace(0, 1, 6)
    # per-seed rho of y = b x + N(0, 1): b chosen so its mean is ~0.55 against a floor of 0.3
    planted = _rates([stats.trend(x, 1.5 * x[:, None] + rng.normal(0, 0.5, (6, 8)),
                                  direction="increasing", min_effect=0.3) for _ in range(SIMS)])
    assert planted["HOLDS"] > 0.9
    null = _rates([stats.trend(x, rng.normal(size=(6, 8)), direction="increasing",
                               min_effect=0.3) for _ in range(SIMS)])
    assert null["HOLDS"] <= ALPHA + 4 * math.sqrt(ALPHA / SIMS)
    assert null["FAILS"] + null["UNDECIDED"] == pytest.approx(1.0)


def test_proportion_holds_at_its_exact_power():
    rng = np.random.default_rng(10)
    n, p0, floor = 200, 0.5, 0.1
    p = p0 + floor + sps.norm.ppf(0.8) * math.sqrt(0.6 * 0.4 / n)
    holds = [stats.proportion(k, n, p0=p0, alternative="greater", min_effect=floor).outcome
             == "HOLDS" for k in range(n + 1)]
    exact_power = float(sum(sps.binom.pmf(k, n, p) for k in range(n + 1) if holds[k]))
    assert 0.7 < exact_power < 0.9  # the nominal 0.8, up to the binomial's discreteness
    simulated = np.mean([holds[k] for k in rng.binomial(n, p, SIMS)])
    assert _near(simulated, exact_power)
    # at the floor exactly, FAILS (the one-sided Clopper-Pearson bound) at most alpha
    fails = sum(sps.binom.pmf(k, n, p0 + floor) for k in range(n + 1)
                if stats.proportion(k, n, p0=p0, alternative="greater",
                                    min_effect=floor).outcome == "FAILS")
    assert fails <= ALPHA


def test_compare_proportions_holds_at_its_nominal_power():
    rng = np.random.default_rng(11)
    n, pb, floor = 300, 0.3, 0.1
    se = math.sqrt((0.43 * 0.57 + pb * (1 - pb)) / n)
    pa = pb + floor + sps.norm.ppf(0.8) * se
    planted = _rates([stats.compare_proportions(rng.binomial(n, pa), n, rng.binomial(n, pb),
                                                n, alternative="greater", min_effect=floor)
                      for _ in range(SIMS)])
    assert _near(planted["HOLDS"], 0.8, SIMS) or planted["HOLDS"] > 0.7


# -- pooled sampling errors (baseline floors) -----------------------------------------------
def test_sampling_errors_used_as_baseline_floors():
    from harness.stats import correlation_se, proportion_se

    assert proportion_se(0.5, 100) == pytest.approx(np.sqrt(0.2525 / 100))
    assert proportion_se(0.0, 40) == pytest.approx(0.5 / 40)  # never zero at p = 0
    assert correlation_se(0.0, 13) == pytest.approx(np.sqrt(1.06 / 10))
    assert correlation_se(1.0, 50) == 0.0
    assert correlation_se(0.5, 3) is None and correlation_se(float("nan"), 50) is None
    rng = np.random.default_rng(0)
    cov = [[1.0, 0.6], [0.6, 1.0]]
    xy = rng.multivariate_normal([0, 0], cov, (2000, 40))
    ranks = sps.rankdata(xy, axis=1)
    rhos = [np.corrcoef(r.T)[0, 1] for r in ranks]
    assert np.std(rhos) == pytest.approx(correlation_se(np.mean(rhos), 40), rel=0.15)


def test_compare_with_an_empty_group_is_unevaluable_not_a_crash():
    """Under another master seed no run may converge in one group: the row says so."""
    ev = stats.compare([], [1.0, 2.0, 3.0], alternative="less", min_effect=0.1)
    assert ev.outcome == "UNEVALUABLE" and "empty" in ev.describe()
    ev = stats.compare(np.array([]), 0.0, alternative="less", min_effect=0.1)
    assert ev.outcome == "UNEVALUABLE"
