"""O2 (measure): does the risk of ending stuck fall exponentially with the parameter count?

One arm on its own sweep (``teacher_student_within_k``): teacher sizes k in {14, 16}, where
spurious minima are common at n = k, and every width from n = k up by one unit, with over a
hundred inits per cell (the paper budget: 512), so that each k's fall has several cells to
give it a shape. (O1's grid cannot: for k <= 12 each curve has one nonzero cell, n = k,
then none, and any steep enough curve of any shape fits that.)

Model family (binomial likelihood over the cells (k, n) of teacher sizes with stuck runs):
stuck share p = (p_k^lam + lam * b_k * x)_+^(1/lam), x = extra parameters (n - k) k, one p_k
and one slope b_k per k (the shape is a statement within each k: a slope shared across k would
let the comparison of k values decide it). lam = 0 is the exponential p_k exp(b_k x), lam = 1
the linear p_k + b_k x (clipped at 0), lam < 0 a power law. The shape question "exponential or
linear?" is a nested likelihood-ratio test of lam = 1 (chi^2_1) with lam's profile-likelihood
interval; the direction "risk falls" is a shared slope b at lam = 0, with its
profile-likelihood interval and the likelihood-ratio test at b = 0.
"""
import matplotlib.pyplot as plt
import numpy as np
from scipy import optimize, special, stats

from fixtures.teacher_student import clopper_pearson, stuck_counts
from harness import Claim, Verdict
from harness import stats as hstats
from harness.stats import proportion_se

CLAIM = Claim(
    id="O2",
    title="Stuck risk falls exponentially with parameter count",
    statement="The chance that training is stranded in a spurious minimum decreases "
              "exponentially with the number of parameters (each added parameter multiplies "
              "the risk by a fixed factor < 1).",
    source="001_2f1459f699633da3.txt (thread: 'the chance of all eigenvalues going "
           "positive/zero exponentially decreases as the parameter count increases'; reply: "
           "'the risk of being stuck at a local minimum decreases exponentially')",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Pinned from the default-budget run of the within-k sweep (figures in the "
                 "notes): the risk falls steeply with extra parameters (the exponential "
                 "slope's interval lies below 0), and the fall is faster than exponential (the "
                 "pure exponential lam = 0 lies outside lam's interval: the strict reading "
                 "FAILS as a sensitivity row), but the declared question, nearer the "
                 "exponential than the linear shape (lam <= 0.5), stays UNDECIDED: every k's "
                 "share drops from most inits at n = k to a few at n = k + 1 and to none at "
                 "n = k + 2, and every shape steeper than about lam = 0.3-0.5 fits those three "
                 "cells exactly, so no number of inits at these k can place lam above 0.5 "
                 "(the notes give that limit per k from the run). The planted positive "
                 "control (per-k curves of shape 0.25) is not always seen at these cells and "
                 "inits (its row gives the outcome): even a planted shape is hard to place "
                 "from three cells per k, so the shape question has little power here.",
    regime="converged exact population GD (Safran & Shamir's teacher-student, loss threshold "
           "1e-3, step cap twice O1's grid); parameter count varied by widening the student "
           "one unit at a time at fixed teacher size k in {14, 16}, where spurious minima are "
           "common at n = k",
    no_substantive_control="teachers with k < 6 have no stuck run at any width (nothing to "
                           "fit), and reassigning stuck runs across widths is a placebo",
)
ALPHA = 0.01
CRIT = stats.chi2.ppf(1 - 2 * ALPHA, 1)  # two-sided 1 - 2 alpha: each end a 1 - alpha bound
LOGIT_GRID = np.linspace(-14.0, 8.0, 1600)  # inner grid for each k's intercept p_k
LAM_RANGE = (-2.0, 2.0)
SLOPE_FLOOR = np.log(2) / 100  # risk at least halves per 100 extra parameters
SHAPE_FLOOR = 0.5  # lam <= 0.5: nearer the exponential (0) than the linear shape (1)
STRICT_FLOOR = 0.9  # the strict reading, lam <= 0.1: exponential up to a tenth of the way


def _risk(lam, p0, bx):
    if abs(lam) < 1e-9:
        p = p0 * np.exp(np.minimum(bx, 50.0))
    else:
        base = p0 ** lam + lam * bx
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            p = np.where(base > 0, np.abs(base) ** (1.0 / lam), 0.0 if lam > 0 else 1.0)
    return np.clip(p, 1e-12, 1 - 1e-12)


class Fit:
    """Binomial NLL of the family, profiled over each k's intercept on a fine logit grid."""

    def __init__(self, groups, x, stuck, runs):
        self.groups, self.x, self.s, self.m = groups, x, stuck, runs
        self.p0 = special.expit(LOGIT_GRID)[:, None]

    def nll(self, lam, b):
        p = _risk(lam, self.p0, b * self.x[None, :])  # (grid, cells)
        cell = -(self.s * np.log(p) + (self.m - self.s) * np.log1p(-p))
        per_k = np.stack([cell[:, self.groups == g].sum(1) for g in np.unique(self.groups)])
        return float(per_k.min(1).sum())

    def intercepts(self, lam, b):
        """Each k's best p_k at this shape and slope."""
        p = _risk(lam, self.p0, b * self.x[None, :])
        cell = -(self.s * np.log(p) + (self.m - self.s) * np.log1p(-p))
        per_k = np.stack([cell[:, self.groups == g].sum(1) for g in np.unique(self.groups)])
        return self.p0[per_k.argmin(1), 0]

    def best_slope(self, lam):
        """(NLL, b) minimized over the slope: log grid, then a bounded refinement."""
        grid = np.concatenate([-np.logspace(1, -5, 37), [0.0], np.logspace(-5, -1, 5)])
        vals = np.array([self.nll(lam, b) for b in grid])
        i = int(vals.argmin())
        lo, hi = grid[max(i - 1, 0)], grid[min(i + 1, grid.size - 1)]
        if hi > lo:
            res = optimize.minimize_scalar(lambda b: self.nll(lam, b), bounds=(lo, hi),
                                           method="bounded", options={"xatol": 1e-9})
            if res.fun < vals[i]:
                return float(res.fun), float(res.x)
        return float(vals[i]), float(grid[i])

    def profile_lam(self, lam):
        return self.best_slope(lam)[0]


class PerKFit:
    """The family with one slope per teacher size: given lam the likelihood separates over
    k, so lam's profile is the sum of each k's own profile (intercept and slope fitted)."""

    def __init__(self, groups, x, stuck, runs):
        self.m, self.groups = runs, groups
        self.fits = [Fit(np.zeros(int((groups == g).sum()), dtype=int), x[groups == g],
                         stuck[groups == g], runs[groups == g]) for g in np.unique(groups)]

    def profile_lam(self, lam):
        return sum(f.best_slope(lam)[0] for f in self.fits)

    def risk(self, lam):
        """Each cell's fitted stuck share at this shape (each k's intercept and slope)."""
        out = np.zeros(self.m.shape, dtype=float)
        for g, f in zip(np.unique(self.groups), self.fits):
            b = f.best_slope(lam)[1]
            out[self.groups == g] = _risk(lam, f.intercepts(lam, b)[0], b * f.x)
        return out


def _profile_interval(profile, mle, best, lo, hi):
    """Ends of {t : 2 (profile(t) - best) <= CRIT} around mle, by root finding; an end
    that does not cross inside [lo, hi] is reported as that limit (open)."""
    g = lambda t: 2 * (profile(t) - best) - CRIT
    ends = []
    for edge in (lo, hi):
        ends.append(optimize.brentq(g, edge, mle, xtol=1e-6) if g(edge) > 0 else edge)
    return ends


def shape_test(fit, name, meaning, floor=SHAPE_FLOOR):
    """Likelihood-ratio test of the linear shape (lam = 1) against lam < 1, with lam's
    profile-likelihood interval, as an evidence row (estimate lam, null 1, claimed side
    lam <= 1 - floor)."""
    grid = np.linspace(*LAM_RANGE, 17)
    prof = np.array([fit.profile_lam(t) for t in grid])
    i = int(prof.argmin())
    res = optimize.minimize_scalar(fit.profile_lam, method="bounded",
                                   bounds=(grid[max(i - 1, 0)], grid[min(i + 1, 16)]),
                                   options={"xatol": 1e-4})
    lam_hat, best = (res.x, res.fun) if res.fun < prof[i] else (grid[i], prof[i])
    low, high = _profile_interval(fit.profile_lam, lam_hat, best, *LAM_RANGE)
    nll_lin, nll_exp = fit.profile_lam(1.0), fit.profile_lam(0.0)
    lr = max(2 * (nll_lin - best), 0.0)
    p = stats.chi2.sf(lr, 1) / 2 if lam_hat < 1 else 1 - stats.chi2.sf(lr, 1) / 2
    return hstats._row(
        name=name, check="likelihood ratio", statistic="shape lam (0 exponential, 1 linear)",
        estimate=lam_hat, null=1.0, low=low, high=high,
        ci_method=f"profile likelihood over lam in {LAM_RANGE}", p=p, sign=-1.0,
        floor=floor, alpha=ALPHA, n=int(fit.m.sum()), units="inits", meaning=meaning,
        details={"lr_vs_linear": lr, "nll_exponential": nll_exp, "nll_linear": nll_lin,
                 "nll_best": best, "aic_linear_minus_exponential": 2 * (nll_lin - nll_exp),
                 "profile_lam": grid, "profile_nll": prof})


def slope_test(fit, name, meaning):
    """b of the exponential (lam = 0): MLE, profile-likelihood interval, one-sided
    likelihood-ratio test at b = 0."""
    best, b_hat = fit.best_slope(0.0)
    prof = lambda b: fit.nll(0.0, b)
    low, high = _profile_interval(prof, b_hat, best, -10.0, 1.0)
    lr = max(2 * (prof(0.0) - best), 0.0)
    p = stats.chi2.sf(lr, 1) / 2 if b_hat < 0 else 1 - stats.chi2.sf(lr, 1) / 2
    return hstats._row(
        name=name, check="likelihood ratio", statistic="b: log stuck risk per extra parameter",
        estimate=b_hat, null=0.0, low=low, high=high, ci_method="profile likelihood", p=p,
        sign=-1.0, floor=SLOPE_FLOOR, alpha=ALPHA, n=int(fit.m.sum()), units="inits",
        meaning=meaning, details={"lr_vs_zero": lr, "nll": best})


def _ceiling_note(k, n, stuck, runs):
    """Where no init is stuck two units past n = k, a curve of shape lam through the first
    two cells reaches 0 by then only if (p(k+1) / p(k))^lam <= 1/2: lam >= ln 2 / ln(p(k) /
    p(k+1)) fits all three cells exactly, so no number of inits can place lam above that."""
    parts = []
    for kk in np.unique(k):
        share = {nn: ss / mm for nn, ss, mm in zip(n[k == kk], stuck[k == kk], runs[k == kk])}
        if share.get(kk + 2, 1) == 0 and 0 < share.get(kk + 1, 0) < share[kk]:
            parts.append(f"k {kk}: {np.log(2) / np.log(share[kk] / share[kk + 1]):.2f}")
    return ("; a perfect fit needs only lam >= ln 2 / ln(p(k) / p(k + 1)) where no init is "
            "stuck at n = k + 2 (" + ", ".join(parts) + "): more inits cannot raise lam's lower "
            "bound past that" if parts else "")


def _still_moving(sweep, threshold):
    """Per cell: stuck runs whose gradient norm at the step cap is still above 1e-8 (on a
    slow plateau, not yet at a critical point)."""
    moving = ((sweep["loss"] > threshold) & (sweep["grad_norm"] > 1e-8)).numpy()
    return np.array([int(moving[(sweep["cell"] == c).numpy()].sum())
                     for c in range(len(sweep["cells"]))])


def _shuffled_outcomes(groups, stuck, runs, rng):
    """Stuck counts after reassigning each teacher size's stuck runs to random inits of any
    of its widths (cell sizes kept): width no longer says anything about the outcome."""
    out = np.zeros_like(stuck)
    for g in np.unique(groups):
        sel = groups == g
        out[sel] = rng.multivariate_hypergeometric(runs[sel], int(stuck[sel].sum()))
    return out


def test_stuck_risk_exponential(claim, teacher_student_within_k, seeds):
    sweep = teacher_student_within_k
    cfg = sweep["config"]
    table = stuck_counts(sweep)
    k, n, s, m = (np.array(table[key]) for key in ("k", "n", "stuck", "runs"))
    moving = _still_moving(sweep, cfg["threshold"])
    groups = np.unique(k, return_inverse=True)[1]
    extra = ((n - k) * k).astype(float)
    claim.parameters(**cfg, cells=len(k), shape_floor=SHAPE_FLOOR, slope_floor=SLOPE_FLOOR)
    if not (s[n == k] > 0).all():
        claim.inconclusive("a teacher size without stuck runs at n = k: nothing to fit")
        return
    fit, per_k = Fit(groups, extra, s, m), PerKFit(groups, extra, s, m)

    shape = claim.record(shape_test(per_k, "exponential rather than linear: shape lam <= 0.5",
                                    "nested LR test of the linear shape lam = 1 with one "
                                    "intercept and one slope per k; lam's profile-likelihood "
                                    "interval"), "primary")
    slope = claim.record(slope_test(fit, "log stuck risk falls with extra parameters (b < 0)",
                                    "exponential fit log p = log p_k + b (n - k) k"), "primary")
    rng = seeds.numpy(0)
    shuffled = _shuffled_outcomes(groups, s, m, rng)
    claim.record(slope_test(Fit(groups, extra, shuffled, m),
                            "stuck runs reassigned at random across widths: b < 0", "same fit, "
                            "same totals per k, no width effect"), "placebo")
    # positive control: counts drawn, at the same cells and inits, from per-k curves of the
    # shape lam = 1 - 1.5 x the floor (each k's own intercept and slope fitted at that shape)
    planted_lam = 1.0 - 1.5 * SHAPE_FLOOR
    planted = rng.binomial(m, per_k.risk(planted_lam))
    positive = shape_test(PerKFit(groups, extra, planted, m),
                          f"planted: counts drawn from per-k curves of shape lam = "
                          f"{planted_lam:g} are called exponential-like", "the shape test can "
                          "see a planted shape at 1.5 x its floor, at these cells and inits")
    positive.details.update(backs=shape.name, planted=1.5)
    claim.record(positive, "positive_control")
    claim.record(shape_test(per_k, "strict reading: exponential, lam <= 0.1", "the same "
                            "test with the claimed side lam <= 0.1", floor=STRICT_FLOOR),
                 "sensitivity")
    settled = s - moving
    claim.record(shape_test(PerKFit(groups, extra, settled, m),
                            "stuck runs still moving at the step cap counted as escaped",
                            "the same shape test with only runs at a critical point stuck"),
                 "sensitivity")
    at_k = n == k
    claim.sensitivity_trend(np.repeat(k[at_k] ** 2, m[at_k]),
                            np.concatenate([np.r_[np.ones(a), np.zeros(b - a)]
                                            for a, b in zip(s[at_k], m[at_k])]),
                            direction="decreasing", min_effect=0.1, blocks=False, units="inits",
                            name="across k at n = k, risk falls with parameter count k^2",
                            meaning="the thread's reading taken literally")
    b0 = slope.observed
    p0 = fit.intercepts(0.0, b0)
    d = shape.details
    claim.measure("shape lam (0 exponential, 1 linear)", [shape.observed],
                  floor=abs(shape.ci_high - shape.ci_low) / 4)
    claim.measure("slope b of log stuck risk per extra parameter", [slope.observed],
                  floor=abs(slope.ci_high - slope.ci_low) / 4)
    claim.measure("AIC(linear) - AIC(exponential)", [d["aic_linear_minus_exponential"]],
                  floor=2.0)
    for kk, nn, ss, mm in zip(k, n, s, m):
        claim.measure(f"stuck fraction k={kk} n={nn}", [ss / mm], floor=proportion_se(ss / mm, mm))
    claim.note("Cells (stuck / inits; of them still moving at the step cap): "
               + ", ".join(f"(k {kk}, n {nn}) {ss}/{mm}; {mv}"
                           for kk, nn, ss, mm, mv in zip(k, n, s, m, moving))
               + f". Stuck = population loss above {cfg['threshold']:g} after GD (lr "
               f"{cfg['lr']}, <= {cfg['max_steps']} steps). Shape lam = {shape.observed:.2f} "
               f"[{shape.ci_low:.2f}, {shape.ci_high:.2f}] ({1 - 2 * ALPHA:.0%} profile "
               f"likelihood over lam in {LAM_RANGE}, one intercept and slope per k; an end at "
               f"the range's limit is open; LR vs linear {d['lr_vs_linear']:.2f}); "
               f"AIC(linear) - AIC(exponential) = {d['aic_linear_minus_exponential']:.2f} "
               "(equal parameter counts: > 0 favours the exponential); the pure exponential "
               f"lam = 0 {'lies outside' if shape.ci_low > 0 else 'lies inside'} the interval "
               f"(2 dNLL = {2 * (d['nll_exponential'] - d['nll_best']):.2f} vs {CRIT:.2f}). "
               "Per-k exponential slopes (lam = 0; -10 is the search's limit: a cliff): "
               + ", ".join(f"k {kk}: {f.best_slope(0.0)[1]:.3g}"
                           for kk, f in zip(np.unique(k), per_k.fits))
               + _ceiling_note(k, n, s, m)
               + f"; shared exponential slope b = {slope.observed:.3g} [{slope.ci_low:.3g}, "
               f"{slope.ci_high:.3g}] per extra parameter (LR vs b = 0: "
               f"{slope.details['lr_vs_zero']:.1f}); one more unit at k = {k.min()} multiplies "
               f"the risk by ~{np.exp(k.min() * slope.observed):.2g} on that fit.")

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for g, kk in enumerate(np.unique(k)):
        sel = groups == g
        lo, hi = clopper_pearson(s[sel], m[sel])
        frac = s[sel] / m[sel]
        ax.errorbar(extra[sel], np.maximum(frac, 1e-3), marker="o", ls="none", capsize=3,
                    yerr=[np.maximum(frac, 1e-3) - np.maximum(lo, 1e-3),
                          np.array(hi) - np.maximum(frac, 1e-3)], label=f"k = {kk}")
        xs = np.linspace(0, extra[sel].max(), 100)
        ax.plot(xs, np.maximum(p0[g] * np.exp(b0 * xs), 1e-3), lw=0.8)
    ax.set(yscale="log", xlabel="extra parameters (n - k) k",
           ylabel="stuck fraction (floored at 1e-3)", title="stuck risk vs extra parameters")
    ax.legend(fontsize=7)
    ax2.plot(d["profile_lam"], 2 * (d["profile_nll"] - d["nll_best"]), "o-")
    ax2.axhline(CRIT, color="grey", ls="--")
    ax2.set(xlabel="shape lam (0 exponential, 1 linear)", ylabel="2 (NLL - NLL min)",
            title="profile likelihood of the shape", ylim=(0, max(3 * CRIT, 1)))
    claim.plot(fig, caption="Left: stuck fraction (95% CIs) against extra parameters on a log "
                            "scale, with the fitted exponential. Right: profile likelihood "
                            "of the shape parameter (dashed: the interval's cut).")
