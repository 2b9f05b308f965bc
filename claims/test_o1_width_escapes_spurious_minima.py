"""O1: in Safran & Shamir's teacher-student, wider students end in spurious minima less often."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from fixtures.teacher_student import clopper_pearson, stuck_counts
from harness import Claim, Verdict

CLAIM = Claim(
    id="O1",
    title="Overparameterization escapes spurious minima",
    statement="Gradient descent on the population loss of a two-layer ReLU student fitting a "
              "ReLU teacher with k orthonormal units ends in a spurious (non-global) local "
              "minimum in a sizeable share of inits when the student has n = k units, and this "
              "share falls as the student widens, to about zero at n = 2k.",
    source="001_2f1459f699633da3.txt (thread: 'overparametrization is good because the model "
           "is stranded when the Hessian has all positive eigenvalues'; 'escape dimensions'; "
           "setting of Safran & Shamir 2018)",
    expected=Verdict.SUPPORTED,
    why_expected="Measured (exact population GD, lr 0.1, 64 Xavier inits per cell): stuck "
                 "fractions at n = k were 5-14% (k = 8), 27-39% (k = 10), 48-55% (k = 12) "
                 "across two master seeds, close to Safran & Shamir's table (pooled k in "
                 "{8, 10}: 20-22% >= 15%), and 0 of 64 at n = 2k for every k; k <= 5 never "
                 "got stuck, so the control fails as it should.",
)
PRIMARY_KS = (8, 10)
CONTROL_KS = (4, 5)


def _pooled(table, ks, which):
    """Stuck and runs over the cells of ks at n = k ('k') or n = 2k ('2k')."""
    sel = [i for i, (k, n) in enumerate(zip(table["k"], table["n"]))
           if k in ks and n == (k if which == "k" else 2 * k)]
    return sum(table["stuck"][i] for i in sel), sum(table["runs"][i] for i in sel)


def _per_run(sweep, ks, threshold):
    keep = torch.isin(sweep["k"], torch.tensor(ks))
    ratio = (sweep["n"][keep].double() / sweep["k"][keep].double()).numpy()
    return ratio, (sweep["loss"][keep] > threshold).double().numpy()


def test_width_escapes_spurious_minima(claim, teacher_student_sweep):
    sweep = teacher_student_sweep
    cfg = sweep["config"]
    thr = cfg["threshold"]
    table = stuck_counts(sweep)
    claim.parameters(**cfg, primary_ks=PRIMARY_KS, control_ks=CONTROL_KS)

    ratio, stuck = _per_run(sweep, PRIMARY_KS, thr)
    claim.expect_trend(ratio, stuck, direction="decreasing", alpha=0.01, min_effect=0.2,
                       name=f"stuck falls with width n/k (k in {PRIMARY_KS})",
                       meaning="rank correlation of width with the per-run stuck indicator")
    s_k, m_k = _pooled(table, PRIMARY_KS, "k")
    s_2k, m_2k = _pooled(table, PRIMARY_KS, "2k")
    claim.expect_bound(s_k / m_k, lower=0.15, n=m_k, statistic="stuck fraction at n = k",
                       name="spurious minima are common at n = k (>= 15%)")
    claim.expect_bound(s_2k / m_2k, upper=0.02, n=m_2k, statistic="stuck fraction at n = 2k",
                       name="doubling the width all but removes them (<= 2%)")
    claim.expect_compare_proportions(s_k, m_k, s_2k, m_2k, alternative="greater", alpha=0.01,
                                     min_effect=0.1, name="stuck at n = k vs n = 2k (Fisher)")

    c_k, cm_k = _pooled(table, CONTROL_KS, "k")
    c_2k, cm_2k = _pooled(table, CONTROL_KS, "2k")
    claim.control_bound(c_k / cm_k, lower=0.15, n=cm_k, statistic="stuck fraction at n = k",
                        name=f"k in {CONTROL_KS}: spurious minima common at n = k (control)")
    claim.control_compare_proportions(c_k, cm_k, c_2k, cm_2k, alternative="greater",
                                      alpha=0.01, min_effect=0.1,
                                      name=f"k in {CONTROL_KS}: stuck n = k vs 2k (control)")

    for k in (k for k in PRIMARY_KS if k in table["k"]):
        s, m = _pooled(table, (k,), "k")
        claim.sensitivity_bound(s / m, lower=0.15, n=m, statistic="stuck fraction at n = k",
                                name=f"k = {k} alone: stuck at n = k >= 15%")
    for alt in (1e-2, 1e-4):
        ratio_alt, stuck_alt = _per_run(sweep, PRIMARY_KS, alt)
        claim.sensitivity_trend(ratio_alt, stuck_alt, direction="decreasing", alpha=0.01,
                                min_effect=0.2, name=f"stuck threshold {alt:g} instead of {thr:g}")
    for k, n, s, m in zip(table["k"], table["n"], table["stuck"], table["runs"]):
        claim.measure(f"stuck fraction k={k} n={n}", [s / m], meaning=f"{s} of {m} inits")
    capped = ((sweep["loss"] > thr) & (sweep["grad_norm"] > 1e-8)).sum().item()
    claim.measure("stuck runs still moving at the step cap", [capped],
                  meaning="stuck only because the cap was hit, not at a critical point")
    claim.note(f"Stuck = population loss above {thr:g} after GD (lr {cfg['lr']}, <= "
               f"{cfg['max_steps']} steps; runs stop early once the loss is below "
               f"{thr / 10:g} or the gradient norm below 1e-10). Spurious minima sit at one loss "
               "value per k (~0.016 to 0.07), far above the threshold, so 1e-2 and 1e-4 give "
               "the same split. The 15% and 2% bounds pool the catalogue's k in {8, 10}: at "
               "k = 8 alone the rate (~12 to 14%, Safran & Shamir report 12.6%) is below 15% "
               "(see the sensitivity rows).")

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    for k in sorted(set(table["k"])):
        idx = [i for i, kk in enumerate(table["k"]) if kk == k]
        x = np.array([table["n"][i] / k for i in idx])
        s = np.array([table["stuck"][i] for i in idx])
        m = np.array([table["runs"][i] for i in idx])
        lo, hi = clopper_pearson(s, m)
        ax.errorbar(x, s / m, yerr=[s / m - lo, np.array(hi) - s / m], marker="o", capsize=3,
                    label=f"k = {k}")
        pos = s > 0
        ax2.plot(np.array([table["n"][i] * k for i in idx])[pos], (s / m)[pos], "o-",
                 label=f"k = {k}")
    ax.set(xlabel="student width n / k", ylabel="stuck fraction (95% CI)",
           title="spurious minima vs width")
    ax.legend(fontsize=7)
    ax2.set(yscale="log", xlabel="parameter count n k", ylabel="stuck fraction (> 0 only)",
            title="log stuck fraction vs parameters")
    claim.plot(fig, caption="Share of inits ending in a spurious minimum, per teacher size k, "
                            "with Clopper-Pearson intervals; right: on a log scale against "
                            "the parameter count (cells with no stuck run omitted).")
