"""G3: the rank rises with the batch size (fixed lr and lambda > 0, fixed number of epochs)."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats as st

from fixtures.lowrank import (
    SWEEP_SETTINGS,
    draw_lines,
    flag_summary,
    flagged_as_nan,
    grid,
    hidden_rank,
)
from harness import Claim, Verdict

LN = math.log(1e3)  # ln(1/tau), tau = 1e-3
MU = 0.1  # the sweep's central learning rate; the arms are its lambda > 0 values
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%
PLANTED = 1.3  # the positive control's rise, in multiples of the primary's raw floor

CLAIM = Claim(
    id="G3",
    title="Rank rises with batch size (fixed epochs)",
    statement="With learning rate and weight decay fixed and the same number of epochs, "
              "larger SGD batches leave higher-rank hidden weight matrices.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'if we fix the learning rate ... and "
           "increase the batch size, the rank is actually increasing'; bound linear in B)",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Measured at the default budget (3 seeds as blocks, mu = 0.1, 40 epochs): for "
                 "lambda = 5e-3 and 1e-2 the rank rises with B in every seed and by many rank "
                 "units (far past the raw floor of one unit and 10%), while the lambda = 0 "
                 "line does not (the substantive control): SUPPORTED. At lambda = 1e-3, where "
                 "2 mu lambda T is at most 3.2 < ln(1/tau) at every B, the rank still rises in "
                 "order but by only about 1-2 units of about 54 (it starts within two units "
                 "of its initial rank): the rise's upper bound stays far below the raw floor, "
                 "also at alpha / m, and a rise planted at 1.3 x that floor on the same seeds' "
                 "scatter is seen, so that arm is REFUTED. At lambda = 2.5e-3 the rise is "
                 "large but Page's test on 3 seeds holds only when every seed is perfectly "
                 "ordered, and the B = 40 and B = 160 ranks are about one unit apart: the "
                 "arm is INCONCLUSIVE by declaration (see UNDERPOWERED), so the claim over "
                 "every lambda > 0 is INCONCLUSIVE until more seeds are trained. At a fixed "
                 "number of steps the sign reverses (sensitivity rows): the fixed-epoch effect "
                 "is the step count.",
    regime="the paper's protocol: 40 epochs at every B in {10, 40, 160}, so T = 16000, 4000, "
           "1000 steps and 2 mu lambda T falls 16x from B = 10 to B = 160 (converged at small "
           "B, not at large B for most lambda); a fixed-step grid (3000 steps) is the "
           "sensitivity row that removes the step count",
)


# Arms whose decision at the sweep's 3 seeds is a coin toss, declared from the committed
# calibration (reports/calibration: 5 master seeds), never from this run's result.
UNDERPOWERED = {
    2.5e-3: "3 seeds: Page's test holds at alpha only when every seed orders all three B "
            "(p = (1/6)^3 = 0.0046), and at this lambda the B = 40 and B = 160 ranks are "
            "about one unit apart: the arm was SUPPORTED under 4 of the 5 calibration seeds "
            "(a tie in the fifth left it undecided); the cached sweep holds no more seeds",
}


def _lambda_arms():
    return [lam for lam in SWEEP_SETTINGS["default"]["lambdas"] if lam > 0]


def _cell(arm, lam, mu, values_of):
    """(B, seed) array of a per-run value at one (lambda, mu) over the arm's batch sizes."""
    rows = []
    for res in arm.values():
        i, j = res["lambdas"].index(lam), res["mus"].index(mu)
        rows.append(grid(res, flagged_as_nan(res, values_of(res)))[i, j])
    return np.array(rows)


def planted_rise(ranks, primary):
    """The primary's (B, seed) ranks with the B effect removed (each B's seed mean moved to
    the first B's, the seed-to-seed scatter kept) plus a rise linear in the grid index of
    PLANTED x the primary's raw floor from the first to the last B."""
    start = np.nanmean(ranks[0])
    null = ranks - np.nanmean(ranks, axis=1, keepdims=True) + start
    floor = primary.details.get("raw_change", {}).get("floor", np.nan)  # NaN: unevaluable
    return null + PLANTED * floor * np.linspace(0, 1, len(ranks))[:, None]


@pytest.mark.parametrize("lam", _lambda_arms(), ids=lambda lam: f"lambda{lam:g}")
def test_rank_rises_with_batch_size(claim, lam, lowrank_sweep, budget, seeds):
    cfg = lowrank_sweep["config"]
    if lam not in cfg["lambdas"]:
        pytest.skip(f"lambda = {lam:g} is not in the {budget.name} sweep")
    by_epochs, by_steps = lowrank_sweep["epochs"], lowrank_sweep["fixed_steps"]
    batch_sizes = np.array(list(by_epochs))
    steps = {int(b): int(r["steps"][-1]) for b, r in by_epochs.items()}
    horizon = {b: 2 * MU * lam * t for b, t in steps.items()}
    span = ", ".join(f"B = {b}: {h:.1f}" for b, h in horizon.items())
    claim.parameters(sizes=cfg["sizes"], batch_sizes=cfg["batch_sizes"], lam=lam, mu=MU,
                     epochs=cfg["epochs"], steps=steps, horizon_2_mu_lambda_T=horizon,
                     fixed_steps=cfg["fixed_steps"]["steps"],
                     flags={int(b): flag_summary(r) for b, r in by_epochs.items()})
    if lam in UNDERPOWERED and cfg["n_seeds"] <= 3:
        claim.inconclusive(UNDERPOWERED[lam])
    elif lam >= 5e-3:
        claim.arm_expects(Verdict.SUPPORTED, "Measured: the rank rises with B in every seed "
                          "at this lambda by many rank units, past the raw floor (B = 10 far "
                          "past ln(1/tau), B = 160 not); the lambda = 0 line does not.")
    else:
        claim.arm_expects(Verdict.REFUTED, "Measured: the rank rises with B by about 1-2 "
                          "units, far below the raw floor (one unit and 10% of about 54) at "
                          "alpha / m; the rise planted at 1.3 x that floor is seen. Every B is "
                          "short of ln(1/tau) here: the init has barely decayed at any B.")
    ranks = _cell(by_epochs, lam, MU, hidden_rank)
    primary = claim.expect_trend(
        batch_sizes, ranks, direction="increasing", min_effect=0.5, **RAW,
        name=f"rank rises with B at fixed {cfg['epochs']} epochs, lambda = {lam:g}, mu = {MU} "
             f"(2 mu lambda T: {span}; ln(1/tau) = {LN:.1f})",
        meaning="mean per-seed Spearman over B, Page's test with seeds as blocks (tau = "
                "1e-3); the mean per-seed rise from the first to the last B must also clear "
                "one rank unit and 10% of the first B's rank")
    zero = _cell(by_epochs, 0.0, MU, hidden_rank)
    claim.control_trend(batch_sizes, zero, direction="increasing", min_effect=0.5, **RAW,
                        name="the same trend at lambda = 0 (control: no decay, could hold "
                             "and must not)")
    claim.placebo_trend(batch_sizes, seeds.numpy(0).permuted(ranks, axis=0),
                        direction="increasing", min_effect=0.5, **RAW,
                        name="B labels permuted within each seed (placebo)")
    claim.positive_trend(batch_sizes, planted_rise(ranks, primary), direction="increasing",
                         min_effect=0.5, **RAW, backs=primary, planted=PLANTED,
                         name=f"the primary's seed-to-seed scatter with the B effect removed "
                              f"and a linear rise of {PLANTED:g} x its raw floor planted "
                              "(positive control)")
    claim.sensitivity_trend(batch_sizes, _cell(by_epochs, lam, MU,
                                               lambda r: hidden_rank(r, tau=1e-2)),
                            direction="increasing", min_effect=0.5, **RAW, name="tau = 1e-2")
    claim.sensitivity_trend(batch_sizes, _cell(by_epochs, lam, MU,
                                               lambda r: hidden_rank(r, stable=True)),
                            direction="increasing", min_effect=0.5, **RAW, name="stable rank")
    fixed_mu = cfg["fixed_steps"]["mus"][0]
    fixed_steps = cfg["fixed_steps"]["steps"]
    fixed = {}
    for x in cfg["fixed_steps"]["lambdas"]:
        if x > 0:
            fixed[x] = _cell(by_steps, x, fixed_mu, hidden_rank)
            claim.sensitivity_trend(batch_sizes, fixed[x], direction="increasing",
                                    min_effect=0.5, **RAW,
                                    name=f"fixed {fixed_steps} steps, lambda = {x:g}, mu = "
                                         f"{fixed_mu} (2 mu lambda T = "
                                         f"{2 * fixed_mu * x * fixed_steps:.1f} at every B)")
    claim.measure("mean hidden rank per B", np.nanmedian(ranks, 1))
    claim.measure("rank ratio largest / smallest B", ranks[-1] / ranks[0], meaning="per seed")
    medians = ", ".join(f"B = {b}: {np.nanmedian(r):.1f}" for b, r in zip(batch_sizes, ranks))
    claim.note(f"Median hidden rank at lambda = {lam:g}, mu = {MU}, {cfg['epochs']} epochs: "
               f"{medians}. At fixed epochs a smaller batch takes proportionally more steps, "
               "so more decay (2 mu lambda per step) is applied.")
    raw = primary.details.get("raw_change")
    past = [b for b, h in horizon.items() if h >= LN]
    if raw:
        claim.note(f"Mean per-seed rise from B = {batch_sizes[0]} to B = {batch_sizes[-1]}: "
                   f"{raw['estimate']:+.2f} rank units [{raw['low']:.2f}, {raw['high']:.2f}] "
                   f"against the raw floor {raw['floor']:.2f} (one unit and 10% of the B = "
                   f"{batch_sizes[0]} rank). Past ln(1/tau) at the end of training: "
                   + (", ".join(f"B = {b}" for b in past) if past else "no B") + ".")
    if fixed:
        rho = {x: float(np.nanmean([st.spearmanr(batch_sizes, c).statistic if np.ptp(c) > 0
                                    else 0.0 for c in r.T]))
               for x, r in fixed.items()}
        words = "; ".join(f"lambda = {x:g}: mean per-seed rho {v:+.2f} ("
                          + ("larger B, HIGHER rank" if v > 0 else "larger B, LOWER rank"
                             if v < 0 else "no order") + ")" for x, v in rho.items())
        claim.note(f"With the number of steps equal ({fixed_steps}, mu = {fixed_mu}), "
                   f"Spearman(B, rank): {words}. The theorem's bound grows with B, but it is "
                   "an upper bound; where the fixed-step sign is negative, the fixed-epoch "
                   "effect is the step count (amount of decay), not the batch size itself.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    draw_lines(axes[0], batch_sizes, ranks, "C0", f"lambda = {lam:g}", log_x=True)
    draw_lines(axes[0], batch_sizes, zero, "grey", "lambda = 0", log_x=True)
    axes[0].set(xlabel="batch size B", ylabel="mean hidden rank (tau = 1e-3)",
                title=f"fixed {cfg['epochs']} epochs, mu = {MU}")
    for k, (x, r) in enumerate(fixed.items()):
        draw_lines(axes[1], batch_sizes, r, f"C{k + 1}", f"lambda = {x:g}", log_x=True)
    draw_lines(axes[1], batch_sizes, _cell(by_steps, 0.0, fixed_mu, hidden_rank), "grey",
               "lambda = 0", log_x=True)
    axes[1].set(xlabel="batch size B", title=f"fixed {fixed_steps} steps, mu = {fixed_mu}")
    for ax in axes:
        ax.legend(fontsize=8)
    claim.plot(fig, caption="Rank vs batch size at a fixed number of epochs (the paper's "
                            "protocol, left) and at a fixed number of steps (right).")
