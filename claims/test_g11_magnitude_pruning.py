"""G11: under weight decay many weights end near zero, so magnitude pruning keeps the network
(and random pruning of the same size does not), among models that fit their training data."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.compression import COMPRESSION_SETTINGS, FIT_GAP, PRUNE_FRACTION, regime
from harness import Claim, Verdict
from harness.stats import compare

_D = COMPRESSION_SETTINGS["default"]
CLAIM = Claim(
    id="G11",
    title="Magnitude pruning keeps weight-decayed networks",
    statement="Removing the 50% smallest-magnitude weights of every weight matrix of a network "
              "trained with weight decay that fits its training data costs less than one "
              "point of training accuracy (no retraining), while removing a random 50% costs "
              "more.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: SGD with weight decay 'compresses' the "
           "networks it trains; the catalogue's compressibility reading)",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Measured at the default budget (18 seeds): at lambda = 4e-3, where most "
                 "models fit, magnitude pruning of half of every matrix costs nothing (the "
                 "1-point limit is cleared) while random pruning of the same half costs tens "
                 "of points (the control that could hold does not): SUPPORTED. At lambda = "
                 "8e-3, where the models are at the edge of fitting, a minority of fitted seeds "
                 "lose about a point and the limit is decided on a knife edge (it holds under "
                 "some master seeds and machines, not others), so that arm is pinned "
                 "INCONCLUSIVE and the claim over both arms with it (more seeds at that "
                 "lambda, or the paper budget's larger training set, would decide it; a "
                 "failure there could not refute: see the arm's reason). Caveat shown "
                 "as sensitivity rows: the lambda = 0 partners survive the same magnitude "
                 "pruning too, so at this scale the robustness does not need weight decay.",
    regime=(f"fixed steps; fitted models (final train accuracy within {FIT_GAP:g} of the "
            f"lambda = 0 partner's, which fits: 100%) on the first "
            f"{_D['n_train']} MNIST-1D training samples; MLP "
            f"{'-'.join(map(str, _D['sizes']))}, plain SGD B = {_D['batch_size']}, "
            f"mu = {_D['mu']:g}, {_D['steps']} steps, paper-convention L2; one arm per "
            "lambda > 0, each paired by seed (init, data order) with lambda = 0"),
)
# arms: the lambdas whose models fit (the regime); the grid's largest lambda underfits
ARMS = {"lam4e-3": 4e-3, "lam8e-3": 8e-3}
EXPECTED = {
    "lam4e-3": (Verdict.SUPPORTED, "fits; magnitude pruning costs nothing, random costs "
                                   "tens of points"),
    "lam8e-3": (Verdict.INCONCLUSIVE, "at the edge of fitting (the note counts the models that "
                                      "fit): the median cost of magnitude pruning stays under "
                                      "a point, but a minority of fitted seeds lose about a "
                                      "point, so the 1-point limit is decided by a hair (held "
                                      "under master seeds 0, 1 and 2 on one machine, "
                                      "undecided on others): its outcome survives too few "
                                      "bootstrap resamples of the seeds (the note), which "
                                      "declares the arm inconclusive; its positive control, "
                                      "these seeds' drops re-centred at 1.3 x the floor, is "
                                      "shown (at this n it is itself near its edge)"),
}
DROP_LIMIT, DROP_FLOOR = 1.0, 0.5   # drop < 1 point, with an estimate at least 0.5 below it
RANDOM_FLOOR = 1.0                   # random pruning costs >= 1 point more
PLANT = 1.3  # the positive control plants a median drop 1.3 x the floor below the limit
STABLE = 0.95  # a decided primary must keep its outcome in >= 19 of 20 resamples of the seeds
RESAMPLES = 200


@pytest.mark.parametrize("arm", list(ARMS))
def test_magnitude_pruning(claim, compression_experiment, arm, seeds):
    res, lam = compression_experiment, ARMS[arm]
    claim.arm_expects(*EXPECTED[arm])
    reg = regime(res, lam)
    cfg = res["config"]
    claim.parameters(lam=lam, fraction=PRUNE_FRACTION, mu=cfg["mu"],
                     batch_size=cfg["batch_size"], steps=cfg["steps"], sizes=cfg["sizes"],
                     n_train=cfg["n_train"], seeds=cfg["n_seeds"], fit_gap=FIT_GAP,
                     fitted=reg["fitted"], models=reg["models"],
                     two_mu_lambda_T=reg["decay_exponent"])
    claim.note(f"Regime: 2 mu lambda T = {reg['decay_exponent']:.1f}; {reg['fitted']} of "
               f"{reg['models']} models fit (train accuracy within {FIT_GAP:g} of the lambda = 0 "
               f"partner's; median "
               f"{reg['median_train_acc']:.3f}).")
    fitted = reg["fitted"] >= max(3, (reg["models"] + 1) // 2)
    index = reg["index"] if fitted else reg["all_index"]
    p, acc = res["pruning"], res["train_acc"][index]
    magnitude = 100 * (acc - p["acc_magnitude"][index])
    random = 100 * (acc - p["acc_random"][index])
    plain = 100 * (res["train_acc_plain"][index] - p["acc_plain_magnitude"][index])
    check = claim.expect_compare if fitted else claim.sensitivity_compare
    magnitude_row = check(magnitude, DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR,
                          units="seeds", name=f"magnitude pruning {PRUNE_FRACTION:.0%} costs "
                                              "< 1 point of train accuracy")
    check(random, magnitude, alternative="greater", paired=True, min_effect=RANDOM_FLOOR,
          units="seeds", name=f"random pruning {PRUNE_FRACTION:.0%} costs >= 1 point more")
    control = claim.control_compare if fitted else claim.sensitivity_compare
    control(random, DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR, units="seeds",
            name=f"random pruning {PRUNE_FRACTION:.0%} also costs < 1 point "
                 "(could hold, must not)")
    if not fitted:
        claim.inconclusive(f"only {reg['fitted']} of {reg['models']} lambda = {lam:g} models "
                           f"fit their training data (within {FIT_GAP:g} of lambda = 0): "
                           "outside the regime; the rows above are shown for the trade-off")
    else:  # positive control, synthetic: the primary's own per-seed drops (their spread
        # kept) re-centred so that their median sits PLANT x the floor below the limit
        planted = magnitude - np.median(magnitude) + DROP_LIMIT - PLANT * DROP_FLOOR
        claim.positive_compare(planted, DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR,
                               units="seeds", backs=magnitude_row, planted=PLANT,
                               name=f"planted: these seeds' drops re-centred at a median of "
                                    f"{DROP_LIMIT - PLANT * DROP_FLOOR:g} points (does the "
                                    "test see an effect at the floor with this spread?)")
        share = _stability(magnitude, seeds)
        claim.note(f"Stability (../shared/STATISTICS.md): the magnitude-pruning row keeps its "
                   f"outcome ({magnitude_row.outcome}) in {share:.0%} of {RESAMPLES} bootstrap "
                   f"resamples of the {magnitude.size} fitted seeds.")
        if magnitude_row.outcome in ("HOLDS", "FAILS") and share < STABLE:
            claim.inconclusive(f"the 1-point limit is decided on a knife edge: its outcome "
                               f"({magnitude_row.outcome}, estimate {magnitude_row.observed:.3g} "
                               f"vs {magnitude_row.threshold:g}) survives only {share:.0%} of "
                               f"bootstrap resamples of the seeds (< {STABLE:.0%}): another "
                               "master seed or machine would decide it otherwise")
    sparse = res["planted_sparse"]
    claim.sensitivity_compare(100 * (sparse["acc"] - sparse["acc_magnitude"])[index],
                              DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR,
                              units="seeds", name="planted sparse network (half of each "
                                                  "matrix at 1e-4 of its scale): magnitude "
                                                  "pruning costs < 1 point (the pipeline)")
    claim.sensitivity_compare(plain, magnitude, alternative="greater", paired=True,
                              min_effect=RANDOM_FLOOR, units="seeds",
                              name="the same pruning costs the lambda = 0 partner >= 1 point "
                                   "more (does it need decay?)")
    claim.sensitivity_compare(plain, DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR,
                              units="seeds", name="lambda = 0 partner: magnitude pruning "
                                                  "costs < 1 point")
    zero = p["zero_share"][:, index]
    claim.measure("accuracy drop, magnitude pruning, lambda > 0", magnitude, unit="points")
    claim.measure("accuracy drop, random pruning, lambda > 0", random, unit="points")
    claim.measure("accuracy drop, magnitude pruning, lambda = 0 partner", plain, unit="points")
    claim.measure("share of weights with |w| <= 1e-3 max|w| (all matrices)", zero.mean(0))
    claim.note("Pruning is per matrix (every weight matrix including the classifier, biases "
               "kept), with no retraining. Median drops: magnitude "
               f"{np.median(magnitude):.1f}, random {np.median(random):.1f}, lambda = 0 "
               f"partner {np.median(plain):.1f} points. Median share of weights below 1e-3 "
               "of their matrix's largest, per matrix: "
               + ", ".join(f"{np.median(z):.3f}" for z in zero) + ".")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.boxplot([magnitude, random, plain],
               tick_labels=[f"magnitude, lambda={lam:g}", f"random, lambda={lam:g}",
                            "magnitude, lambda=0"])
    ax.axhline(DROP_LIMIT, color="red", ls="--", lw=0.8)
    ax.set(ylabel="train accuracy lost (points)", title=f"pruning {PRUNE_FRACTION:.0%} of weights")
    claim.plot(fig, caption="Accuracy lost by pruning half of every weight matrix (one value "
                            "a seed).")


def _stability(drops, seeds):
    """Share of bootstrap resamples of the seeds whose magnitude-pruning row has the outcome
    the full sample has (how likely another draw of seeds decides it the same way)."""
    def outcome(d):
        return compare(d, DROP_LIMIT, alternative="less", min_effect=DROP_FLOOR).outcome

    rng = seeds.numpy(1)
    observed = outcome(drops)
    return float(np.mean([outcome(drops[rng.integers(0, drops.size, drops.size)]) == observed
                          for _ in range(RESAMPLES)]))
