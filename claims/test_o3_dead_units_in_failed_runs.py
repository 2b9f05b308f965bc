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
    why_expected="Pinned from the default-budget run (figures in the notes): the stuck runs "
                 "of O1's sweep end with no dead and no duplicate unit, so 'most failed runs "
                 "have one' is excluded by its interval, while the same anatomy finds the "
                 "dead or copied unit planted in every one of those runs (positive control). "
                 "Dead units appear only in successful wide runs.",
    regime="final weights of O1's converged population-GD sweep (stuck = loss above the "
           "threshold at a critical point or the step cap); one arm: failed runs pooled "
           "over teacher sizes",
)
DEAD_NORM, SAME_COS = 0.05, 0.99


def _anatomy(sweep, runs, w=None, dead_norm=DEAD_NORM, same_cos=SAME_COS):
    """Per run: dead, duplicate and uncovered counts (arrays over all runs of the sweep;
    computed for the selected runs only, zero elsewhere)."""
    w = sweep["w"] if w is None else w
    out = {key: np.zeros(len(sweep["loss"]), dtype=int) for key in
           ("dead", "duplicate", "uncovered")}
    for k in sweep["k"].unique().tolist():
        rows = (sweep["k"] == k).numpy() & runs
        if not rows.any():
            continue
        part = unit_anatomy(w[rows], sweep["w_mask"][rows], k, dead_norm, same_cos)
        for key in out:
            out[key][rows] = part[key].numpy()
    return out


def _planted(sweep, runs, rng):
    """The final weights with, in each listed run, one live unit zeroed (even positions) or
    overwritten by a copy of another live unit (odd positions)."""
    w = sweep["w"].clone()
    for j, r in enumerate(np.flatnonzero(runs)):
        units = np.flatnonzero(sweep["w_mask"][r].numpy() > 0)
        a, b = rng.choice(units, 2, replace=False)
        w[r, a] = 0.0 if j % 2 == 0 else w[r, b]
    return w


# One arm: the claim is about failed runs as a population; stuck runs are pooled over the
# teacher sizes (k = 8 alone has only a handful) and the anatomy does not depend on k.
def test_dead_units_in_failed_runs(claim, teacher_student_sweep, seeds):
    sweep = teacher_student_sweep
    thr = sweep["config"]["threshold"]
    k, n = sweep["k"].numpy(), sweep["n"].numpy()
    stuck = (sweep["loss"] > thr).numpy()
    anatomy = _anatomy(sweep, k >= 8)
    wasted = (anatomy["dead"] + anatomy["duplicate"]) > 0
    ok_square = ~stuck & (n == k) & (k >= 8)
    ok_wide = ~stuck & (n == 2 * k) & (k >= 8)
    claim.parameters(dead_norm=DEAD_NORM, same_cos=SAME_COS, stuck_runs=int(stuck.sum()),
                     successful_square_runs=int(ok_square.sum()),
                     successful_wide_runs=int(ok_wide.sum()))
    if stuck.sum() < 5:
        claim.inconclusive(f"only {stuck.sum()} stuck runs to look at")
        return

    claim.expect_proportion(wasted[stuck].sum(), stuck.sum(), p0=0.0, alternative="greater",
                            min_effect=0.5, units="stuck runs",
                            name="most stuck runs have a dead or duplicate unit (>= 50%)",
                            meaning="the planes picture: failure = units suppressed by others")
    claim.expect_proportion((anatomy["dead"][ok_wide] > 0).sum(), ok_wide.sum(), p0=0.0,
                            alternative="greater", min_effect=0.05, units="runs",
                            name="successful n = 2k runs (k >= 8) with >= 1 dead unit (>= 5%): "
                                 "wide nets succeed despite dead units")
    planted = _anatomy(sweep, stuck, _planted(sweep, stuck, seeds.numpy(0)))
    planted_wasted = (planted["dead"] + planted["duplicate"]) > 0
    claim.positive_proportion(planted_wasted[stuck].sum(), stuck.sum(), p0=0.0,
                              alternative="greater", min_effect=0.5, units="stuck runs",
                              name="planted: one unit of each stuck run zeroed or copied; the "
                                   "anatomy finds it")
    for dead_norm, same_cos in ((0.2, 0.95), (0.01, 0.999)):
        alt = _anatomy(sweep, stuck, None, dead_norm, same_cos)
        alt_wasted = (alt["dead"] + alt["duplicate"]) > 0
        claim.sensitivity_proportion(alt_wasted[stuck].sum(), stuck.sum(), p0=0.0,
                                     alternative="greater", min_effect=0.5, units="stuck runs",
                                     name=f"dead below norm {dead_norm}, duplicate above "
                                          f"cos {same_cos}: most stuck runs have one")
    claim.measure("stuck runs with a dead or duplicate unit", wasted[stuck].astype(float),
                  unit="share")
    claim.measure("stuck runs: teacher units left uncovered", anatomy["uncovered"][stuck],
                  unit="units", meaning=f"no live student unit within cos {SAME_COS}")
    claim.measure("successful n = 2k runs with >= 1 dead unit",
                  (anatomy["dead"][ok_wide] > 0).astype(float), unit="share")
    claim.measure("successful n = 2k runs: dead units per run", anatomy["dead"][ok_wide],
                  unit="units")
    claim.note(f"{int(stuck.sum())} stuck runs (k = {sorted(set(k[stuck].tolist()))}): "
               f"{int(wasted[stuck].sum())} with a dead or duplicate unit; they leave "
               f"{anatomy['uncovered'][stuck].mean():.2f} teacher units uncovered on average. "
               f"Successful n = 2k runs: {int((anatomy['dead'][ok_wide] > 0).sum())} of "
               f"{int(ok_wide.sum())} have a dead unit. Dead = weight norm below {DEAD_NORM} "
               f"(with Gaussian inputs a ReLU unit is zero on every input only at w = 0; live "
               f"teacher-matching units have norm ~1); duplicate = two live units with cosine "
               f"above {SAME_COS}. No negative control: a successful n = k run is a "
               "permutation of the teacher, so it cannot hold a dead or duplicate unit (a "
               "control there would be constant by construction); the verdict rests on the "
               "primary's interval and the planted positive control.")

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
