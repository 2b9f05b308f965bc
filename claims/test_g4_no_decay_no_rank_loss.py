"""G4: without weight decay the rank barely moves and the batch-size effect weakens."""
import math

import matplotlib.pyplot as plt
import numpy as np

from fixtures.lowrank import flag_summary, flagged_as_nan, grid, hidden_rank, select
from harness import Claim, Verdict

LN = math.log(1e3)  # ln(1/tau), tau = 1e-3
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%
PLANTED = 1.3  # the positive controls' effects, in multiples of their primary's floor

CLAIM = Claim(
    id="G4",
    title="No weight decay, no rank loss",
    statement="Trained with lambda = 0, the hidden weight matrices keep (nearly) the rank they "
              "had at initialization, and the rank hardly depends on the batch size.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'when we train with zero weight decay, "
           "then the rank is not changing'; 'this effect seems to disappear when we don't use "
           "regularization')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured at the default budget: after 20000 steps without decay every seed "
                 "kept >= 98% of its initial rank (7 seeds, one-sample Wilcoxon against 0.9), "
                 "while the lambda = 1e-2 runs of the same long run fell to about a third (the "
                 "control that could have held); with the paper's fixed epochs the difference "
                 "rank(lambda = 5e-3) - rank(lambda = 0) rises with B in every seed and by many "
                 "rank units (the batch-size effect is a decay effect), while lambda = 0 alone "
                 "does not rise by the raw floor (the control). Each primary's positive "
                 "control (its effect planted at 1.3 x the floor on the same seeds) is seen; "
                 "permuted B labels are a placebo.",
    regime="rank kept: the long run (20000 steps at B = 10, mu in {0.05, 0.1, 0.2}, the longest "
           "horizon in the suite; the fixed-epoch sweep as a sensitivity row); batch-size "
           "effect: the paper's fixed 40 epochs at B in {10, 40, 160}, mu = 0.1",
)


def _long_ratio(long_run, lam):
    """Per seed, the smallest final / initial rank over the long run's cells at lambda."""
    run = long_run["run"]
    ratio = flagged_as_nan(run, hidden_rank(run) / hidden_rank(run, checkpoint=0))
    seed = run["seed"].numpy()
    mask = np.isclose(run["lam"].numpy(), lam)
    return np.array([np.nanmin(ratio[mask & (seed == s)]) for s in range(run["n_seeds"])])


def _over_b(sweep, lam, mu, values_of=hidden_rank):
    """(B, seed) array at one (lambda, mu) over the fixed-epoch sweep's batch sizes."""
    rows = []
    for res in sweep["epochs"].values():
        i, j = res["lambdas"].index(lam), res["mus"].index(mu)
        rows.append(grid(res, flagged_as_nan(res, values_of(res)))[i, j])
    return np.array(rows)


def test_no_decay_no_rank_loss(claim, lowrank_sweep, lowrank_long_run, seeds):
    cfg, long_cfg = lowrank_sweep["config"], lowrank_long_run["config"]
    lam_pos, mu = cfg["central"]["lam"], cfg["central"]["mu"]
    run = lowrank_long_run["run"]
    long_lams = sorted({c[0] for c in long_cfg["cells"]})
    lam_big = max(long_lams)
    zero_mus = sorted(c[1] for c in long_cfg["cells"] if c[0] == 0)
    claim.parameters(long_run={"batch_size": long_cfg["batch_size"], "steps": long_cfg["steps"],
                               "lambda0_mus": zero_mus, "seeds": long_cfg["n_seeds"]},
                     sweep={"lambdas": cfg["lambdas"], "mus": cfg["mus"],
                            "batch_sizes": cfg["batch_sizes"], "epochs": cfg["epochs"],
                            "seeds": cfg["n_seeds"]},
                     flags={"long": flag_summary(run), **{int(b): flag_summary(r) for b, r in
                                                         lowrank_sweep["epochs"].items()}})
    zero = _long_ratio(lowrank_long_run, 0.0)
    kept = claim.expect_compare(zero, 0.9, alternative="greater", min_effect=0.05,
                                units="seeds",
                                name=f"lambda = 0 keeps >= 90% of the initial rank after "
                                     f"{long_cfg['steps']} steps (B = {long_cfg['batch_size']}, "
                                     f"every mu in {zero_mus}; the ratio must clear 0.95)",
                                meaning="per seed the smallest final / initial rank over its "
                                        "lambda = 0 runs; one-sample Wilcoxon against 0.9")
    claim.positive_compare(zero - np.nanmedian(zero) + 0.9 + PLANTED * 0.05, 0.9,
                           alternative="greater", min_effect=0.05, units="seeds",
                           backs=kept, planted=PLANTED,
                           name=f"the same seeds' ratios moved to 0.9 + {PLANTED:g} x 0.05 "
                                "(positive control: a kept share just past the floor is seen)")
    big = _long_ratio(lowrank_long_run, lam_big)
    h = 2 * min(c[1] for c in long_cfg["cells"] if c[0] == lam_big) * lam_big * \
        long_cfg["steps"]
    claim.control_compare(big, 0.9, alternative="greater", min_effect=0.05, units="seeds",
                          name=f"the same on the lambda = {lam_big:g} runs of the long run "
                               f"(control: 2 mu lambda T >= {h:.0f}, they fall)")
    # the batch-size effect, with and without decay: the interaction, as a blocked trend
    pos, plain = _over_b(lowrank_sweep, lam_pos, mu), _over_b(lowrank_sweep, 0.0, mu)
    batch_sizes = np.array(list(lowrank_sweep["epochs"]))
    effect = claim.expect_trend(
        batch_sizes, pos - plain, direction="increasing", min_effect=0.5, **RAW,
        name=f"batch-size effect weaker at lambda = 0 than at lambda = {lam_pos:g} (mu = {mu}, "
             f"{cfg['epochs']} epochs): rank(lambda > 0) - rank(lambda = 0) rises with B",
        meaning="interaction as a trend of the paired difference, Page's test with seeds as "
                "blocks; its mean per-seed rise must also clear one rank unit and 10%")
    claim.control_trend(batch_sizes, plain, direction="increasing", min_effect=0.5, **RAW,
                        name="lambda = 0 alone: rank rises with B (control: no decay, no "
                             "batch-size effect predicted; could hold, must not)")
    claim.placebo_trend(batch_sizes, seeds.numpy(0).permuted(pos - plain, axis=0),
                        direction="increasing", min_effect=0.5, **RAW,
                        name="B labels permuted within each seed (placebo)")
    start = np.nanmean((pos - plain)[0])
    null = pos - plain - np.nanmean(pos - plain, axis=1, keepdims=True) + start
    rise = PLANTED * effect.details.get("raw_change", {}).get("floor", np.nan)
    claim.positive_trend(batch_sizes, null + rise * np.linspace(0, 1, len(null))[:, None],
                         direction="increasing", min_effect=0.5, **RAW, backs=effect,
                         planted=PLANTED,
                         name=f"the difference's seed-to-seed scatter with the B effect "
                              f"removed and a linear rise of {PLANTED:g} x its raw floor "
                              "planted (positive control)")
    sweep_zero = []
    for res in lowrank_sweep["epochs"].values():
        r = flagged_as_nan(res, hidden_rank(res) / hidden_rank(res, checkpoint=0))
        sweep_zero.append(grid(res, r)[res["lambdas"].index(0.0)])  # (mu, seed)
    sweep_zero = np.nanmin(np.concatenate(sweep_zero), axis=0)  # per seed over B and mu
    claim.sensitivity_compare(sweep_zero, 0.9, alternative="greater", min_effect=0.05,
                              units="seeds", name=f"fixed-epoch sweep: lambda = 0 keeps >= 90% "
                              f"(every B, mu; {cfg['n_seeds']} seeds cannot decide a Wilcoxon "
                              "at alpha = 0.01)")
    ratio_tau2 = flagged_as_nan(run, hidden_rank(run, 1e-2) / hidden_rank(run, 1e-2, 0))
    claim.sensitivity_compare(
        np.array([np.nanmin(ratio_tau2[select(run, lam=0.0) & (run["seed"].numpy() == s)])
                  for s in range(run["n_seeds"])]), 0.9, alternative="greater",
        min_effect=0.05, units="seeds", name="tau = 1e-2 (long run, lambda = 0)")
    claim.measure("final / initial rank, lambda = 0, long run (per seed, min)", zero)
    claim.measure(f"final / initial rank, lambda = {lam_big:g}, long run (per seed, min)", big)
    claim.measure("final / initial rank, lambda = 0, fixed-epoch sweep (per seed, min)",
                  sweep_zero)
    claim.note(f"lambda = 0 after {long_cfg['steps']} steps: per-seed smallest final / initial "
               f"rank {np.nanmin(zero):.3f} to {np.nanmax(zero):.3f}; at lambda = {lam_big:g}: "
               f"{np.nanmin(big):.2f} to {np.nanmax(big):.2f}. Fixed-epoch sweep at lambda = 0, "
               f"every B and mu: {np.nanmin(sweep_zero):.3f} to {np.nanmax(sweep_zero):.3f}.")
    claim.note("The second primary tests the interaction (the catalogue's |Spearman(B, rank)| "
               "at lambda = 0 below the same at lambda > 0) as a trend of the per-seed "
               "difference rank(lambda > 0) - rank(lambda = 0) over B: both lines share each "
               "seed's init and data order, so the seed is the block.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    parts = [flagged_as_nan(run, hidden_rank(run) / hidden_rank(run, checkpoint=0))[
        select(run, lam=lam)] for lam in long_lams]
    ax.boxplot(parts, tick_labels=[f"{lam:g}" for lam in long_lams])
    ax.axhline(0.9, color="red", ls="--", lw=1, label="0.9 x initial rank")
    ax.set(xlabel="lambda", ylabel="final / initial mean hidden rank",
           title=f"long run: {long_cfg['steps']} steps, B = {long_cfg['batch_size']}")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Final over initial rank per lambda in the long run (every mu and "
                            "seed).")
