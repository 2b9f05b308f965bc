"""G1: the rank of SGD-trained weight matrices falls as weight decay grows, in two regimes:
a fixed number of epochs as in the paper, and converged (the initialization decayed)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.lowrank import (
    draw_lines,
    flag_summary,
    flagged_as_nan,
    grid,
    hidden_rank,
    layer_rank,
    rank_from_singular_values,
    select,
)
from harness import Claim, Verdict

LN = math.log(1e3)  # ln(1/tau), tau = 1e-3
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%
EARLY = 2.0  # the control's checkpoint: the last where 2 mu lambda_max t <= EARLY << ln(1/tau)
CONVERGED_MU = 0.1  # the crossed run's column that holds lambda = 0 and every lambda > 0
PLANTED = 1.3  # the ratio's positive control: a fall of 1.3 x its floor (0.4)

CLAIM = Claim(
    id="G1",
    title="Rank falls as weight decay rises",
    statement="With the learning rate and batch size fixed, MLPs trained by SGD with a larger "
              "L2 coefficient lambda end with lower-rank hidden weight matrices, the largest "
              "lambda keeping at most 60% of the lambda = 0 rank (the catalogue's size).",
    source="002_bee57445c622ee0c.txt (Galanti's talk: the rank-vs-weight-decay experiments "
           "and Theorem, rank <= B*ceil(log(2/eps)/(2 mu lambda)); arXiv 2206.05794)",
    expected=Verdict.REFUTED,
    why_expected="Measured at the default budget. The direction holds in both arms: the "
                 "per-seed rank falls with lambda in every seed (Page's test over seeds) and "
                 "by more than the raw floor (one rank unit and 10%), after the paper's fixed "
                 "40 epochs (B = 40, mu = 0.1) and in the converged run on networks that fit "
                 "(the crossed run's mu = 0.1 column, every lambda > 0 past 2 ln(1/tau)); the "
                 "same runs early in training (2 mu lambda_max t <= 2, the init not yet "
                 "decayed) do not fall by the floor (the substantive control). The size does "
                 "not: in the converged arm the largest lambda at which the networks still "
                 "fit keeps well over 60% of the lambda = 0 rank in every seed, and the "
                 "interval excludes the catalogue's 40% fall, while a fall planted at 1.3 x "
                 "that floor on the same seeds' scatter is seen (the paired positive control): "
                 "REFUTED.",
    regime="two arms: 'paper-epochs' = 40 epochs (4000 steps) at B = 40, mu = 0.1, where "
           "2 mu lambda T = 0.8..8 straddles ln(1/tau) = 6.9 (the paper's protocol, mostly "
           "unconverged); 'converged' = the crossed run (fixtures.lowrank: 1,000 MNIST-1D "
           "samples, B = 10, 70000 steps) at mu = 0.1, lambda = 0, 1e-3, 2e-3, 4e-3, where "
           "2 mu lambda T = 14..56 >= 2 ln(1/tau) and the networks fit (train accuracy in "
           "the notes). The claim is SUPPORTED only if both are",
)
ARMS = ["paper-epochs", "converged"]


def conv_arm(claim, conv) -> None:
    """Paper budget: the same trend for a convnet's kernels (out x in k). The first conv is
    left out, as the first MLP matrix would be if it could: in k = 5 caps its rank."""
    lambdas = np.array(conv["lambdas"])
    ranks = np.mean([rank_from_singular_values(s).double().numpy() for s in conv["sv"][1:]], 0)
    ranks = flagged_as_nan(conv, ranks).reshape(len(lambdas), conv["n_seeds"])
    claim.sensitivity_trend(lambdas, ranks, direction="decreasing", alpha=0.01,
                            min_effect=0.5, **RAW,
                            name="convnet on MNIST-1D: conv-kernel rank falls with lambda "
                                 "(paper budget)")
    claim.measure("convnet: kernel rank at largest lambda / lambda = 0", ranks[-1] / ranks[0])
    claim.parameters(convnet={"steps": conv["steps"], "lambdas": conv["lambdas"],
                              "usable runs": int(np.isfinite(ranks).sum()),
                              "runs": int(ranks.size)})


def _paper_cell(sweep):
    """(lambdas, run, per-config value -> (lambda, seed) array) at the sweep's central B, mu."""
    central = sweep["config"]["central"]
    res = sweep["epochs"][central["batch_size"]]
    j = res["mus"].index(central["mu"])
    return np.array(res["lambdas"]), res, lambda v: grid(res, flagged_as_nan(res, v))[:, j, :]


def _converged_cell(crossed):
    """The crossed run's mu = CONVERGED_MU column over lambda (lambda, seed)."""
    run, mu = crossed["run"], CONVERGED_MU
    lambdas = np.array(sorted({c[0] for c in crossed["config"]["cells"] if c[1] == mu}))

    def cell(values):
        values = flagged_as_nan(run, values)
        return np.array([values[select(run, lam=lam, mu=mu)] for lam in lambdas])
    return lambdas, run, cell, mu


@pytest.mark.parametrize("regime", ARMS)
def test_rank_falls_with_weight_decay(claim, regime, lowrank_sweep, lowrank_crossed_run,
                                      lowrank_conv_sweep, seeds):
    if regime == "paper-epochs":
        claim.arm_expects(Verdict.SUPPORTED, "Measured: after 40 epochs at B = 40, mu = 0.1 "
                          "the rank falls with lambda in every seed by more than the raw "
                          "floor; the size criterion is a sensitivity row here (3 seeds).")
        lambdas, res, cell = _paper_cell(lowrank_sweep)
        central = lowrank_sweep["config"]["central"]
        bs, mu = central["batch_size"], central["mu"]
        where = f"B = {bs}, mu = {mu}, {lowrank_sweep['config']['epochs']} epochs"
    else:
        lambdas, res, cell, mu = _converged_cell(lowrank_crossed_run)
        bs = res["batch_size"]
        where = f"B = {bs}, mu = {mu}, {int(res['steps'][-1])} steps, " \
                f"{lowrank_crossed_run['config']['n_train']} samples"
    steps = int(res["steps"][-1])
    horizon = {f"{lam:g}": 2 * mu * lam * steps for lam in lambdas}
    pos = [h for h in horizon.values() if h > 0]
    span = f"2 mu lambda T = {min(pos):.1f}..{max(pos):.1f} vs ln(1/tau) = {LN:.1f}"
    claim.parameters(regime=regime, cell=where, lambdas=list(lambdas), steps=steps,
                     seeds=res["n_seeds"], horizon_2_mu_lambda_T=horizon,
                     flags=flag_summary(res))
    ranks = cell(hidden_rank(res))
    claim.expect_trend(lambdas, ranks, direction="decreasing", min_effect=0.5, **RAW,
                       name=f"rank falls with lambda, {regime} ({where}; {span})",
                       meaning="mean per-seed Spearman over lambdas, Page's test with seeds "
                               "as blocks (tau = 1e-3); the mean per-seed fall from lambda = "
                               "0 to the largest lambda must also clear one rank unit and 10%")
    early = int(np.flatnonzero(2 * mu * max(lambdas) * res["steps"].numpy() <= EARLY)[-1])
    t_early = int(res["steps"][early])
    claim.control_trend(lambdas, cell(hidden_rank(res, checkpoint=early)),
                        direction="decreasing", min_effect=0.5, **RAW,
                        name=f"the same runs at step {t_early} (control: 2 mu lambda t <= "
                             f"{2 * mu * max(lambdas) * t_early:.1f} << ln(1/tau), the init "
                             "not yet decayed; could hold, must not)",
                        meaning="the decay has shrunk the init by at most exp(-2): the "
                                "mechanism has not acted, the ranks are free to differ")
    claim.placebo_trend(lambdas, seeds.numpy(0).permuted(ranks, axis=0),
                        direction="decreasing", min_effect=0.5, **RAW,
                        name="lambda labels permuted within each seed (placebo)")
    ratio = ranks[-1] / ranks[0]
    if regime == "converged":
        kept = claim.expect_compare(
            ratio, 1.0, alternative="less", min_effect=0.4, units="seeds",
            name=f"largest lambda keeps <= 60% of the lambda = 0 rank ({regime}, lambda = "
                 f"{lambdas[-1]:g}, 2 mu lambda T = {max(pos):.0f})",
            meaning="per-seed rank ratio, one-sample Wilcoxon against 1")
        square = cell(np.mean([layer_rank(res, i) for i in (1, 2)], 0))
        claim.sensitivity_compare(square[-1] / square[0], 1.0, alternative="less",
                                  min_effect=0.4, units="seeds",
                                  name="the same over the two square hidden matrices only (the "
                                       "first, 64 x 40, is capped at 40 and dilutes the fall)")
        claim.positive_compare(ratio - np.nanmedian(ratio) + 1 - PLANTED * 0.4, 1.0,
                               alternative="less", min_effect=0.4, units="seeds", backs=kept,
                               planted=PLANTED,
                               name=f"the same seeds' ratios moved to 1 - {PLANTED:g} x 0.4 "
                                    "(positive control: a fall just past the floor is seen)")
    else:
        claim.sensitivity_compare(ratio, 1.0, alternative="less", min_effect=0.4,
                                  units="seeds", name="largest lambda keeps <= 60% of the "
                                                      "lambda = 0 rank (3 seeds cannot "
                                                      "decide a Wilcoxon at alpha = 0.01)")
    claim.measure("rank ratio largest lambda / lambda = 0", ratio,
                  meaning="per seed; 1 = no rank loss")
    claim.measure("mean hidden rank per lambda", np.nanmedian(ranks, 1))
    claim.sensitivity_trend(lambdas, cell(hidden_rank(res, tau=1e-2)), direction="decreasing",
                            min_effect=0.5, **RAW, name="tau = 1e-2")
    claim.sensitivity_trend(lambdas, cell(hidden_rank(res, stable=True)),
                            direction="decreasing", min_effect=0.5, **RAW, name="stable rank")
    if regime == "converged":
        # settled: the rank 20% of the run earlier equals the final one
        k = int(round(0.8 * (len(res["steps"]) - 1)))
        earlier = cell(hidden_rank(res, checkpoint=k))
        change = np.abs(ranks[1:] - earlier[1:]).mean(0)
        claim.sensitivity_compare(change, 1.0, alternative="less", min_effect=0.5,
                                  units="seeds", name=f"settled: |rank change| over the last "
                                  f"20% of steps (from step {int(res['steps'][k])}) < 1")
        claim.measure("|rank change| over the last 20% of steps, lambda > 0", change)
        acc = cell(res["train_acc"][-1].numpy())
        claim.note("Train accuracy (median of seeds) per lambda in the converged arm: "
                   + ", ".join(f"{lam:g}: {np.nanmedian(a):.2f}" for lam, a in
                               zip(lambdas, acc)) + ".")
        r2, sr = cell(hidden_rank(res, tau=1e-2)), cell(hidden_rank(res, stable=True))
        claim.note(f"Converged: the largest lambda ({lambdas[-1]:g}) keeps a median "
                   f"{np.nanmedian(ratio):.2f} of the lambda = 0 rank at tau = 1e-3, "
                   f"{np.nanmedian(r2[-1] / r2[0]):.2f} at tau = 1e-2 and "
                   f"{np.nanmedian(sr[-1] / sr[0]):.2f} in stable rank. A larger lambda "
                   "would fall further, on networks that no longer fit their training data.")
    else:
        for other_bs, other in lowrank_sweep["epochs"].items():
            for j, other_mu in enumerate(other["mus"]):
                if (other_bs, other_mu) == (bs, mu):
                    continue
                y = grid(other, flagged_as_nan(other, hidden_rank(other)))[:, j, :]
                h = 2 * other_mu * max(lambdas) * int(other["steps"][-1])
                claim.sensitivity_trend(lambdas, y, direction="decreasing", min_effect=0.5,
                                        **RAW, name=f"B = {other_bs}, mu = {other_mu} (2 mu "
                                             f"lambda_max T = {h:.1f})")
        if lowrank_conv_sweep is not None:
            conv_arm(claim, lowrank_conv_sweep)
    claim.note("The floor |rho| >= 0.5 is ours; the catalogue asks only rho < 0 with "
               "p < 0.01. Units are seeds (each seed's init and data order shared across "
               "lambda: blocks). The rank is the paper's (Frobenius-normalized, sigma > tau, "
               "mean over the three hidden matrices, classifier excluded); the first matrix "
               "(64 x 40) is capped at 40, the drop happens in the square ones.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
    x_plot = np.where(lambdas > 0, lambdas, lambdas[lambdas > 0].min() / 3)
    draw_lines(axes[0], x_plot, ranks, "C0", "final", log_x=True)
    axes[0].set(xlabel="lambda (lambda = 0 drawn at the left end)",
                ylabel="mean hidden rank (tau = 1e-3)", title=f"{regime}: {where}")
    over_time = hidden_rank(res, checkpoint=slice(None))  # (K, C)
    colors = plt.cm.plasma(np.linspace(0, 0.85, len(lambdas)))
    for i, lam in enumerate(lambdas):
        mask = select(res, lam=lam, mu=mu)
        axes[1].plot(res["steps"].numpy(), np.median(over_time[:, mask], axis=1),
                     color=colors[i], label=f"lambda = {lam:g}")
    axes[1].set(xlabel="step", ylabel="mean hidden rank (median of seeds)",
                title="rank during training")
    axes[1].legend(fontsize=8)
    claim.plot(fig, caption="Left: final rank vs lambda (thin: seeds, thick: median). Right: "
                            "rank during training; lambda = 0 stays at the initial rank.")
