"""O3 (measure): do failed runs end with dead or redundant units, and do wide ones succeed
despite them? Read off the final weights of O1's teacher-student sweep."""
import matplotlib.pyplot as plt
import numpy as np

from fixtures.teacher_student import unit_anatomy
from harness import Claim, Verdict

CLAIM = Claim(
    id="O3",
    title="Units that lose the race die",
    statement="When training fails, some hidden units have been suppressed (dead) or made "
              "redundant by others; wider networks succeed although some of their units die.",
    source="001_2f1459f699633da3.txt (thread: the 'planes' picture: a plane that loses to "
           "a better placed one 'becomes pretty much dead'; 'if too much of them become "
           "useless ... you're stuck')",
    expected=Verdict.REFUTED,
    why_expected="Measured on O1's sweep: not one stuck run (~60 of them, k = 8 to 12, "
                 "n = k) had a dead unit or a duplicate pair; stuck students are 'mixtures' "
                 "in which no unit lines up with any teacher unit. Dead units appear only in "
                 "SUCCESSFUL wide runs (40-80% of n = 2k runs): wider nets do succeed despite "
                 "dead units, but failure is not caused by units dying.",
)
DEAD_NORM, SAME_COS = 0.05, 0.99


def _anatomy(sweep, dead_norm=DEAD_NORM, same_cos=SAME_COS):
    """Per run: dead, duplicate and uncovered counts (arrays over all runs of the sweep)."""
    out = {key: np.zeros(len(sweep["loss"]), dtype=int) for key in
           ("dead", "duplicate", "uncovered")}
    for k in sweep["k"].unique().tolist():
        rows = (sweep["k"] == k).numpy()
        part = unit_anatomy(sweep["w"][rows], sweep["w_mask"][rows], k, dead_norm, same_cos)
        for key in out:
            out[key][rows] = part[key].numpy()
    return out


def test_dead_units_in_failed_runs(claim, teacher_student_sweep):
    sweep = teacher_student_sweep
    thr = sweep["config"]["threshold"]
    k, n = sweep["k"].numpy(), sweep["n"].numpy()
    stuck = (sweep["loss"] > thr).numpy()
    anatomy = _anatomy(sweep)
    wasted = (anatomy["dead"] + anatomy["duplicate"]) > 0
    stuck_runs = stuck & (n == k)
    ok_square = ~stuck & (n == k) & np.isin(k, np.unique(k[stuck_runs]))
    ok_wide = ~stuck & (n == 2 * k) & (k >= 8)
    claim.parameters(dead_norm=DEAD_NORM, same_cos=SAME_COS, stuck_runs=int(stuck_runs.sum()),
                     successful_square_runs=int(ok_square.sum()),
                     successful_wide_runs=int(ok_wide.sum()))
    if stuck_runs.sum() < 5:
        claim.inconclusive(f"only {stuck_runs.sum()} stuck runs to look at")
        return

    claim.expect_proportion(wasted[stuck_runs].sum(), stuck_runs.sum(), p0=0.5,
                            alternative="greater", alpha=0.01,
                            name="most stuck runs have a dead or duplicate unit",
                            meaning="the planes picture: failure = units suppressed by others")
    claim.expect_compare_proportions(wasted[stuck_runs].sum(), stuck_runs.sum(),
                                     wasted[ok_square].sum(), ok_square.sum(),
                                     alternative="greater", alpha=0.01, min_effect=0.1,
                                     name="dead/duplicate units more common in stuck than in "
                                          "successful runs at n = k")
    claim.control_proportion(wasted[ok_square].sum(), ok_square.sum(), p0=0.5,
                             alternative="greater", alpha=0.01,
                             name="most successful n = k runs have a dead or duplicate unit "
                                  "(control)",
                             meaning="the picture predicts none in runs that succeed: must fail")
    claim.sensitivity_proportion((anatomy["dead"][ok_wide] > 0).sum(), ok_wide.sum(), p0=0.05,
                                 alternative="greater", alpha=0.01,
                                 name="successful n = 2k runs (k >= 8) with >= 1 dead unit "
                                      "(> 5%: wide nets succeed despite dead units)")
    for dead_norm, same_cos in ((0.2, 0.95), (0.01, 0.999)):
        alt = _anatomy(sweep, dead_norm, same_cos)
        alt_wasted = (alt["dead"] + alt["duplicate"]) > 0
        claim.sensitivity_proportion(alt_wasted[stuck_runs].sum(), stuck_runs.sum(), p0=0.5,
                                     alternative="greater", alpha=0.01,
                                     name=f"dead below norm {dead_norm}, duplicate above "
                                          f"cos {same_cos}: most stuck runs have one")
    claim.measure("stuck runs with a dead or duplicate unit", wasted[stuck_runs].astype(float),
                  unit="share")
    claim.measure("stuck runs: teacher units left uncovered", anatomy["uncovered"][stuck_runs],
                  unit="units", meaning=f"no live student unit within cos {SAME_COS}")
    claim.measure("successful n = 2k runs with >= 1 dead unit",
                  (anatomy["dead"][ok_wide] > 0).astype(float), unit="share")
    claim.measure("successful n = 2k runs: dead units per run", anatomy["dead"][ok_wide],
                  unit="units")
    claim.note(f"Dead = weight norm below {DEAD_NORM} (with Gaussian inputs a ReLU unit is zero "
               f"on every input only at w = 0; live teacher-matching units have norm ~1); "
               f"duplicate = two live units with cosine above {SAME_COS}. A successful run with "
               "n > k must kill or split its extra units; a stuck one does neither.")

    cells = sorted({(kk, nn) for kk, nn in zip(k, n) if kk >= 8})
    labels, dead_share, dup_share = [], [], []
    for kk, nn in cells:
        for tag, sel in (("stuck", stuck), ("ok", ~stuck)):
            rows = (k == kk) & (n == nn) & sel
            if rows.sum() >= 3:
                labels.append(f"{kk},{nn} {tag}")
                dead_share.append((anatomy["dead"][rows] > 0).mean())
                dup_share.append((anatomy["duplicate"][rows] > 0).mean())
    fig, ax = plt.subplots(figsize=(9, 3.6))
    pos = np.arange(len(labels))
    ax.bar(pos - 0.2, dead_share, 0.4, label=">= 1 dead unit")
    ax.bar(pos + 0.2, dup_share, 0.4, label=">= 1 duplicate pair")
    ax.set_xticks(pos, labels, rotation=70, fontsize=7)
    ax.set(ylabel="share of runs", title="dead and duplicate units by (k, n) and outcome")
    ax.legend(fontsize=7)
    claim.plot(fig, caption="Share of runs with a dead unit or a duplicate pair, by cell and "
                            "by outcome (stuck vs successful): stuck runs have neither; "
                            "successful wide runs often have both.")
