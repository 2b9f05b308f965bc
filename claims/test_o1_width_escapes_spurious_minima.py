"""O1: in Safran & Shamir's teacher-student, wider students end in spurious minima less often.

One arm per teacher size k (decided per k, no pooling): the catalogue's k in {8, 10} and
k = 12 from the same sweep (k = 14 has no n = 2k cell; it serves O2's fit).
"""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.teacher_student import clopper_pearson, stuck_counts
from harness import Claim, Verdict
from harness.stats import proportion_se

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
    expected=Verdict.INCONCLUSIVE,
    why_expected="Pinned from the default-budget run, decided per k (figures in the notes): "
                 "at k = 10 and k = 12 the stuck share at n = k clears 15% against the declared "
                 "'rare' rate of 5%, n = 2k has none, the k-vs-2k difference clears 10 points "
                 "and the per-init trend its floor, while at k = 4 and 5 (no spurious minima "
                 "predicted) the same premise does not hold (SUPPORTED); at k = 8 the share at "
                 "n = k (about 8%, Safran & Shamir report 12.6%) is too close to the 15% bar "
                 "for 64 inits to reach or exclude it (UNDECIDED), so the claim, which needs "
                 "every k, is INCONCLUSIVE.",
    regime="converged exact population gradient descent (loss < 1e-4, or gradient norm "
           "< 1e-10 at the final weights, within the step cap); Xavier inits; one arm per "
           "teacher size k",
)
ARMS = (8, 10, 12)
CONTROL_KS = (4, 5)  # no spurious minima expected at n = k (Safran & Shamir: k < 6)
# "a sizeable share" (the catalogue's 15%) tested against a declared rate: a failure mode
# seen in at most 1 init in 20 is rare, so "common" = 10 points above that rate.
RARE, COMMON_FLOOR = 0.05, 0.10
# lr 0.1, not the catalogue's 0.05: GD on the closed-form loss is deterministic, and in a
# paired check (the same 64 inits at k = 8, lr 0.1 vs 0.05 with twice the steps) every init
# ended in the same outcome, so 0.1 halves the cost without moving the stuck share.


def _cell(sweep, k, n, threshold):
    sel = ((sweep["k"] == k) & (sweep["n"] == n)).numpy()
    stuck = (sweep["loss"].numpy() > threshold)[sel]
    return int(stuck.sum()), int(sel.sum())


@pytest.mark.parametrize("k", ARMS, ids=[f"k{k}" for k in ARMS])
def test_width_escapes_spurious_minima(claim, teacher_student_sweep, seeds, k):
    sweep = teacher_student_sweep
    cfg = sweep["config"]
    thr = cfg["threshold"]
    claim.parameters(**cfg, teacher_k=k)
    if (k, 2 * k) not in [tuple(c) for c in sweep["cells"]]:
        pytest.skip(f"k = {k} (with n = 2k) is not in this budget's sweep")
    if k == 8:
        claim.arm_expects(Verdict.INCONCLUSIVE,
                          "k = 8 sits at the catalogue's 15% bar (Safran & Shamir report "
                          "12.6% at n = k = 8): 64 inits neither reach nor exclude it, and a "
                          "rate that low cannot show a 10-point drop to n = 2k either (the "
                          "premise and the drop stay UNDECIDED). Not stable across master "
                          "seeds: the share at n = k lands between about 6% and 20% of 64 "
                          "inits, on either side of the bar, so other seeds measure SUPPORTED; "
                          "deciding it needs about 1,000 inits at k = 8 (a sweep change)")
    else:
        claim.arm_expects(Verdict.SUPPORTED,
                          f"k = {k}: spurious minima are common at n = k and gone at n = 2k, "
                          "while k = 4 and 5 show none at n = k (the substantive control; "
                          "pinned from the default-budget run; figures in the notes)")
    in_k = (sweep["k"] == k).numpy()
    width = sweep["n"].numpy()[in_k]
    stuck = (sweep["loss"].numpy()[in_k] > thr).astype(float)
    s_k, m_k = _cell(sweep, k, k, thr)
    s_2k, m_2k = _cell(sweep, k, 2 * k, thr)

    premise = dict(p0=RARE, alternative="greater", min_effect=COMMON_FLOOR, units="inits")
    common = claim.expect_proportion(
        s_k, m_k, **premise, name=f"spurious minima are common at n = k = {k} (>= 15%)",
        meaning=f"any stuck run is a non-global critical point (its loss sits far above the "
                f"threshold); tested against the declared 'rare' rate {RARE:.0%}, floor "
                f"{COMMON_FLOOR:.0%} above it (the catalogue's 15%)")
    gone = claim.expect_proportion(s_2k, m_2k, p0=0.15, alternative="less", min_effect=0.13,
                                   units="inits",
                                   name=f"doubling the width all but removes them (n = {2 * k}: "
                                        "<= 2%)",
                                   meaning="tested against the 15% that makes them common at "
                                           "n = k")
    drop = claim.expect_compare_proportions(s_k, m_k, s_2k, m_2k, alternative="greater",
                                            min_effect=0.1, units="inits",
                                            name=f"stuck at n = k exceeds n = 2k by >= 10 points")
    claim.expect_trend(width, stuck, direction="decreasing", blocks=False, min_effect=0.1,
                       units="inits", name=f"stuck falls with width n in {sorted(set(width.tolist()))}",
                       meaning="Spearman of width with the per-init stuck indicator; every "
                               "init is independent (no shared seed across widths)")

    # substantive negative control: teachers with k < 6, where GD at n = k finds no spurious
    # minimum (Safran & Shamir); the same premise on the same number of inits could hold
    # (a loose stuck threshold or runs cut off at the step cap would make it) and must not
    for kc in CONTROL_KS:
        c, m = _cell(sweep, kc, kc, thr)
        if m:
            claim.control_proportion(c, m, **premise,
                                     name=f"k = {kc} (no spurious minima predicted): common at "
                                          f"n = k (could hold, must not)")
    # placebos: the same outcomes reassigned at random across this k's widths
    rng = seeds.numpy(0)
    shuffled = rng.permutation(stuck)
    at_k, at_2k = width == k, width == 2 * k
    claim.placebo_compare_proportions(int(shuffled[at_k].sum()), int(at_k.sum()),
                                      int(shuffled[at_2k].sum()), int(at_2k.sum()),
                                      alternative="greater", min_effect=0.1, units="inits",
                                      name="outcomes shuffled across widths: n = k vs 2k")
    claim.placebo_trend(width, shuffled, direction="decreasing", blocks=False, min_effect=0.1,
                        units="inits", name="outcomes shuffled across widths: trend")
    # positive controls, paired with the primaries that can fail: the count a rate planted
    # at (up to) 1.5 x the floor beyond the null gives on the primary's own inits (1 x where
    # 1.5 x would leave [0, 1])
    planted_k = int(np.floor((RARE + 1.5 * COMMON_FLOOR) * m_k))
    claim.positive_proportion(planted_k, m_k, **premise, backs=common,
                              planted=(planted_k / m_k - RARE) / COMMON_FLOOR,
                              name=f"planted: {planted_k} of {m_k} inits stuck at n = k")
    planted_2k = int(np.floor((0.15 - 0.13) * m_2k))
    claim.positive_proportion(planted_2k, m_2k, p0=0.15, alternative="less", min_effect=0.13,
                              units="inits", backs=gone,
                              planted=(0.15 - planted_2k / m_2k) / 0.13,
                              name=f"planted: {planted_2k} of {m_2k} inits stuck at n = 2k")
    planted_drop = int(np.floor(0.15 * m_k))
    claim.positive_compare_proportions(planted_drop, m_k, 0, m_2k, alternative="greater",
                                       min_effect=0.1, units="inits", backs=drop,
                                       planted=planted_drop / m_k / 0.1,
                                       name=f"planted: {planted_drop} of {m_k} stuck at n = k, "
                                            "none at 2k")

    for alt in (1e-2, 1e-4):
        a_k, _ = _cell(sweep, k, k, alt)
        a_2k, _ = _cell(sweep, k, 2 * k, alt)
        claim.sensitivity_compare_proportions(a_k, m_k, a_2k, m_2k, alternative="greater",
                                              min_effect=0.1, units="inits",
                                              name=f"stuck threshold {alt:g} instead of {thr:g}")
    table = stuck_counts(sweep)
    for kk, n, s, m in zip(table["k"], table["n"], table["stuck"], table["runs"]):
        if kk == k:
            claim.measure(f"stuck fraction n={n}", [s / m], meaning=f"{s} of {m} inits",
                          floor=proportion_se(s / m, m))
    capped = ((sweep["loss"] > thr) & (sweep["grad_norm"] > 1e-8)).numpy()[in_k].sum()
    claim.measure("stuck runs still moving at the step cap", [capped],
                  meaning="stuck only because the cap was hit, not at a critical point")
    spurious = sweep["loss"].numpy()[in_k][stuck > 0]
    claim.note(f"k = {k}: stuck {s_k}/{m_k} at n = k, {s_2k}/{m_2k} at n = 2k; per width "
               + ", ".join(f"n = {n}: {int(stuck[width == n].sum())}/{int((width == n).sum())}"
                           for n in sorted(set(width)))
               + (f"; spurious losses {spurious.min():.3g} to {spurious.max():.3g}"
                  if spurious.size else "")
               + f". Stuck = population loss above {thr:g} after GD (lr {cfg['lr']}, <= "
               f"{cfg['max_steps']} steps; a run stops once its loss is below {thr / 10:g} or "
               f"the gradient norm at its final weights is below 1e-10). {capped} stuck runs "
               "were still moving at the cap.")

    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ns = np.array(sorted(set(width)))
    s = np.array([stuck[width == n].sum() for n in ns])
    m = np.array([(width == n).sum() for n in ns])
    lo, hi = clopper_pearson(s, m)
    ax.errorbar(ns / k, s / m, yerr=[s / m - lo, np.array(hi) - s / m], marker="o", capsize=3)
    ax.set(xlabel="student width n / k", ylabel="stuck fraction (95% CI)",
           title=f"spurious minima vs width, k = {k}")
    claim.plot(fig, caption=f"Share of inits ending in a spurious minimum at teacher size "
                            f"k = {k}, with Clopper-Pearson intervals.")
