"""O2 (measure): does the risk of ending stuck fall exponentially with the parameter count?"""
import matplotlib.pyplot as plt
import numpy as np
from scipy import optimize, stats

from fixtures.teacher_student import clopper_pearson, stuck_counts
from harness import Claim, Verdict

CLAIM = Claim(
    id="O2",
    title="Stuck risk falls exponentially with parameter count",
    statement="The chance that training is stranded in a spurious minimum decreases "
              "exponentially with the number of parameters (each added parameter multiplies "
              "the risk by a fixed factor < 1).",
    source="001_2f1459f699633da3.txt (thread: 'the chance of all eigenvalues going "
           "positive/zero exponentially decreases as the parameter count increases'; reply: "
           "'the risk of being stuck at a local minimum decreases exponentially')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured on O1's sweep: within each teacher size k the stuck fraction "
                 "falls with the student's extra parameters (n - k) k; a binomial model "
                 "log p = a_k + b (n - k) k gives b < 0 with its 99% profile-likelihood "
                 "interval below 0, so the pinned assertion holds. The decay is a cliff (from "
                 "~30-50% at n = k to ~0-2% with one more unit), so the rate is poorly "
                 "determined; and across k at n = k the risk RISES with parameter count, so "
                 "parameter count alone does not set the risk (shown, not asserted).",
)
CHI2_99 = stats.chi2.ppf(0.99, 1)


def _nll(p, stuck, runs):
    p = np.clip(p, 1e-12, 1 - 1e-12)
    return -np.sum(stuck * np.log(p) + (runs - stuck) * np.log1p(-p))


def _fit(link, groups, x, stuck, runs, slope=None):
    """Binomial fit of p = exp(a_g + b x) ('log') or a_g + b x ('identity'), one intercept
    per teacher size; with slope given, the intercepts are profiled for that slope."""
    n_groups = groups.max() + 1

    def unpack(theta):
        b = theta[-1] if slope is None else slope
        return theta[:n_groups][groups] + b * x

    def nll(theta):
        eta = unpack(theta)
        return _nll(np.exp(np.minimum(eta, 0.0)) if link == "log" else eta, stuck, runs)

    start_a = [np.log(0.3) if link == "log" else 0.3] * n_groups
    start = np.array(start_a + ([] if slope is not None else [-0.01]))
    res = optimize.minimize(nll, start, method="Nelder-Mead",
                            options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-10})
    return res.fun, (res.x[-1] if slope is None else slope)


def _slope_ci(groups, extra, stuck, runs):
    """MLE slope of log p per extra parameter, its NLL, and the upper end of its 99%
    profile-likelihood interval."""
    nll, slope = _fit("log", groups, extra, stuck, runs)
    grid = np.linspace(1.5 * min(slope, 0.0) - 0.01, max(slope, 0.0) + 0.05, 241)  # spans 0
    profile = np.array([_fit("log", groups, extra, stuck, runs, slope=b)[0] for b in grid])
    return nll, slope, grid[2 * (profile - nll) <= CHI2_99].max()


def _shuffled_outcomes(groups, stuck, runs, rng):
    """Stuck counts after reassigning each teacher size's stuck runs to random inits of any
    of its widths (cell sizes kept): width no longer says anything about the outcome."""
    out = np.zeros_like(stuck)
    for g in np.unique(groups):
        sel = groups == g
        out[sel] = rng.multivariate_hypergeometric(runs[sel], int(stuck[sel].sum()))
    return out


def test_stuck_risk_exponential(claim, teacher_student_sweep, seeds):
    table = stuck_counts(teacher_student_sweep)
    k, n, s, m = (np.array(table[key]) for key in ("k", "n", "stuck", "runs"))
    has_stuck = np.isin(k, np.unique(k[(s > 0) & (n == k)]))  # ks where spurious minima occur
    k, n, s, m = k[has_stuck], n[has_stuck], s[has_stuck], m[has_stuck]
    groups = np.unique(k, return_inverse=True)[1]
    extra = ((n - k) * k).astype(float)
    claim.parameters(ks=np.unique(k), cells=len(k), inits_per_cell=int(m[0]))
    if len(np.unique(k)) < 2:
        claim.inconclusive("fewer than two teacher sizes with any stuck run")
        return

    nll_exp, slope, ci_high = _slope_ci(groups, extra, s, m)
    nll_lin, lin_slope = _fit("identity", groups, extra, s, m)
    claim.expect_bound(ci_high, upper=0.0, n=int(m.sum()),
                       statistic="upper end of the 99% CI of b (log p per extra parameter)",
                       name="log stuck risk falls with extra parameters (slope CI below 0)",
                       meaning="binomial fit log p = a_k + b (n - k) k, profile likelihood")
    shuffled = _shuffled_outcomes(groups, s, m, seeds.numpy(0))
    claim.control_bound(_slope_ci(groups, extra, shuffled, m)[2], upper=0.0, n=int(m.sum()),
                        statistic="upper end of the 99% CI of b, outcomes shuffled",
                        name="stuck runs reassigned at random across widths (control)",
                        meaning="same fit, same totals per k, no width effect: must fail")
    claim.sensitivity_bound(nll_lin - nll_exp, lower=0.0, n=int(m.sum()),
                            statistic="log-likelihood gain of exponential over linear",
                            name="exponential fits at least as well as linear (same # params)")
    at_k = n == k
    rho, p_rho = stats.spearmanr(k[at_k] ** 2, s[at_k] / m[at_k])
    claim.sensitivity_trend(np.repeat(k[at_k] ** 2, m[at_k]),
                            np.concatenate([np.r_[np.ones(a), np.zeros(b - a)]
                                            for a, b in zip(s[at_k], m[at_k])]),
                            direction="decreasing", alpha=0.01, min_effect=0.1,
                            name="across k at n = k, risk falls with parameter count k^2",
                            meaning="the thread's reading taken literally: it rises instead")
    claim.measure("slope b of log stuck risk per extra parameter", [slope],
                  meaning="MLE; e-fold per 1/|b| extra parameters")
    claim.measure("upper end of 99% CI of b", [ci_high])
    claim.measure("exponential minus linear log-likelihood", [nll_lin - nll_exp])
    claim.measure("risk factor from one extra unit (k = 10)", [np.exp(10 * slope)])
    claim.note(f"Only teacher sizes with stuck runs at n = k enter the fit ({np.unique(k)}). "
               f"MLE slope {slope:.3g} per extra parameter (one more unit multiplies the risk by "
               f"~{np.exp(10 * slope):.2g} at k = 10); linear-probability slope {lin_slope:.3g}. "
               f"At n = k the stuck fraction rises with k (Spearman over cells {rho:.2f}): more "
               "parameters do not mean less risk unless they are extra width for a fixed "
               "task.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for g, kk in enumerate(np.unique(k)):
        sel = groups == g
        lo, hi = clopper_pearson(s[sel], m[sel])
        frac = s[sel] / m[sel]
        ax.errorbar(extra[sel], np.maximum(frac, 1e-3), marker="o", ls="none", capsize=3,
                    yerr=[np.maximum(frac, 1e-3) - np.maximum(lo, 1e-3),
                          np.array(hi) - np.maximum(frac, 1e-3)], label=f"k = {kk}")
        xs = np.linspace(0, extra[sel].max(), 100)
        a_k = np.log(max(frac[extra[sel] == 0][0], 1e-3))
        ax.plot(xs, np.maximum(np.exp(a_k + slope * xs), 1e-3), lw=0.8)
    ax.set(yscale="log", xlabel="extra parameters (n - k) k",
           ylabel="stuck fraction (floored at 1e-3)", title="stuck risk vs extra parameters")
    ax.legend(fontsize=7)
    claim.plot(fig, caption="Stuck fraction (95% CIs) against extra parameters on a log scale, "
                            "with the fitted common exponential slope (lines start at each "
                            "k's n = k rate).")
