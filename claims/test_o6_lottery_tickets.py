"""O6: iterative magnitude pruning with rewinding finds trainable sparse subnetworks whose
advantage depends on their original init (lottery tickets)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.lottery import ARMS, EVAL_SAMPLES, experiment
from harness import Claim, Verdict

CLAIM = Claim(
    id="O6",
    title="Lottery tickets from iterative magnitude pruning",
    statement="Pruning the smallest-magnitude weights of a trained network and retraining the "
              "survivors from their original initial values, repeated, finds a sparse "
              "subnetwork (~21% of the weights) that tests as well as the dense network; the "
              "same mask with a fresh init, or a random mask, trains worse.",
    source="001_2f1459f699633da3.txt (thread title 'Lottery Tickets or Escape Dimensions?' and "
           "'IIRC the original author of the Lottery Ticket Hypothesis now disavows that "
           "idea'; Frankle & Carbin 2019)",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Pinned from the default-budget run with every arm trained until it fits "
                 "(figures in the notes), accuracy on 20,000 held-out samples: the ticket at "
                 "~21% left tests as well as the dense net (ticket - dense about +0.3 points) "
                 "and beats a random mask by more than a point (about +3.7), but its lead over "
                 "the same mask with a fresh init is about +0.1 point with an interval from "
                 "about -1 to +1.4: 8 seeds neither show nor exclude a 1-point advantage of "
                 "the original init (the per-seed differences scatter by about 1.5 points, "
                 "between inits, not test samples; about 50 seeds would decide it). A reinit "
                 "rescaled to the ticket's init norms gains nothing over the plain reinit (the "
                 "init-scale control does not hold). The former protocol, 8 epochs a round (short "
                 "of fitting; 1,000 test samples), gave ticket - dense +3.9, ticket - reinit "
                 "+15.2 and ticket - random mask +19.0 points under the same master seed: the "
                 "sparse controls fit more slowly (about 50 epochs to 98% against the "
                 "ticket's 25), so an undertrained comparison measures training speed.",
    regime="every arm trained until it fits the training set (train accuracy >= 98%, epoch "
           "cap), accuracy read at each model's fit epoch; MNIST-1D, LeNet-300-100-style MLP, "
           "Adam, 7 rounds of 20% (output layer 10%)",
    no_substantive_control="for beats-random-mask: the dense net's original init against a "
                           "fresh one compares two interchangeable random inits (a placebo, "
                           "shown as such)",
)
SETTINGS = {
    "smoke": {"sizes": [40, 100, 50, 10], "seeds": 3, "rounds": 2, "prune_rate": 0.5,
              "epochs": 3, "max_epochs": 6, "fit": 0.98, "batch_size": 250, "lr": 6e-3,
              "report_rounds": []},
    "default": {"sizes": [40, 300, 100, 10], "seeds": 8, "rounds": 7, "prune_rate": 0.2,
                "epochs": 16, "max_epochs": 80, "fit": 0.98, "batch_size": 250, "lr": 6e-3,
                "report_rounds": []},
    "paper": {"sizes": [40, 300, 100, 10], "seeds": 48, "rounds": 15, "prune_rate": 0.2,
              "epochs": 30, "max_epochs": 200, "fit": 0.98, "batch_size": 60, "lr": 1.2e-3,
              "report_rounds": list(range(1, 15))},
}
TESTS = ("matches-dense", "beats-reinit", "beats-random-mask")
ARM_EXPECTED = {
    "matches-dense": (Verdict.SUPPORTED, "measured: ticket - dense + 1 point clears half a "
                                         "point; a random mask at the same sparsity does not"),
    "beats-random-mask": (Verdict.SUPPORTED, "measured: about +3.7 points, interval above the "
                                             "1-point floor"),
}
PLANTED = 1.5  # positive controls: the primary's seed-to-seed scatter, a shift of 1.5 floors


def _planted(diffs, floor):
    """The paired differences with their median removed and PLANTED x floor added."""
    return diffs - np.median(diffs) + PLANTED * floor


@pytest.fixture(scope="session")
def imp(budget, shared_seeds, device, disk_cache):
    cfg = budget.select(SETTINGS)
    gen = shared_seeds("o6-lottery").torch(0, device)

    return cfg, disk_cache.get_or_compute("o6-lottery", cfg, experiment(cfg, gen, device))


@pytest.mark.parametrize("comparison", TESTS)
def test_lottery_tickets(claim, imp, comparison):
    cfg, res = imp
    claim.parameters(**cfg, comparison=comparison)
    if comparison in ARM_EXPECTED:
        claim.arm_expects(*ARM_EXPECTED[comparison])
    acc, left = 100 * res["test"], np.array(res["left"])  # acc: (rounds + 1, arm, seed)
    ticket, reinit, rescaled, random = (acc[-1, ARMS.index(a)] for a in ARMS)
    dense, dense_fresh = acc[0, 0], acc[0, 1]
    share = f"{left[-1]:.0%}"
    kw = dict(paired=True, units="seeds")
    if comparison == "matches-dense":
        floor, primary = 0.5, claim.expect_compare(
            ticket, dense - 1.0, alternative="greater", min_effect=0.5,
            name=f"ticket at {share} left >= dense - 1 point",
            meaning="paired over seeds: (ticket - dense) + 1 point, Wilcoxon; must clear half "
                    "a point", **kw)
        diffs = ticket - dense + 1.0
        claim.control_compare(random, dense - 1.0, alternative="greater", min_effect=0.5,
                              name=f"random mask at {share} left >= dense - 1 point (could "
                                   "hold, must not)", **kw)
    elif comparison == "beats-reinit":
        floor, primary = 1.0, claim.expect_compare(
            ticket, reinit, alternative="greater", min_effect=1.0,
            name=f"ticket beats its reinit at {share} left by >= 1 point", **kw)
        diffs = ticket - reinit
        claim.control_compare(rescaled, reinit, alternative="greater", min_effect=1.0,
                              name="a reinit rescaled to the ticket's per-layer init norms "
                                   "beats the plain reinit by >= 1 point (init scale alone: "
                                   "could hold, must not)", **kw)
        claim.sensitivity_compare(ticket, rescaled, alternative="greater", min_effect=1.0,
                                  name="ticket beats the rescaled reinit by >= 1 point", **kw)
    else:
        floor, primary = 1.0, claim.expect_compare(
            ticket, random, alternative="greater", min_effect=1.0,
            name=f"ticket beats a random mask at {share} left by >= 1 point", **kw)
        diffs = ticket - random
    claim.positive_compare(_planted(diffs, floor), 0.0, alternative="greater",
                           min_effect=floor, units="seeds", backs=primary, planted=PLANTED,
                           name=f"the primary's per-seed differences with their median "
                                f"removed and a {PLANTED:g} x floor shift planted (positive "
                                "control)")
    if comparison != "matches-dense":
        claim.placebo_compare(dense, dense_fresh, alternative="greater", min_effect=1.0,
                              name="dense net: original init beats a fresh one by >= 1 point "
                                   "(no mask: two interchangeable random inits)", **kw)
    _figures(claim, res, cfg, acc, left)
    if comparison == TESTS[-1]:
        _plot(claim, acc, left)


def _figures(claim, res, cfg, acc, left):
    share, epochs = f"{left[-1]:.0%}", res["fit_epoch"]
    for j, name in enumerate(ARMS):
        claim.measure(f"test accuracy at {share} left: {name}", acc[-1, j], unit="%")
        claim.measure(f"fit epoch at {share} left: {name}", epochs[-1, j], unit="epochs")
    claim.measure("dense test accuracy", acc[0, 0], unit="%")
    never = int(np.isnan(epochs[-1]).sum() + np.isnan(epochs[:, 0]).sum())
    ticket = acc[-1, 0]
    diffs = {"ticket - dense": ticket - acc[0, 0]} | {
        f"ticket - {name}": ticket - acc[-1, j] for j, name in enumerate(ARMS) if j}
    claim.note(f"Medians over {acc.shape[2]} seeds at {share} left: "
               + ", ".join(f"{k} {np.median(v):+.2f} points (range {v.min():+.1f} to "
                           f"{v.max():+.1f})" for k, v in diffs.items())
               + f"; dense {np.median(acc[0, 0]):.1f}%. Train accuracy at the fit epoch, "
               "median per arm at the last round: " + ", ".join(
                   f"{name} {np.median(res['train'][-1, j]):.3f} (epoch "
                   f"{np.nanmedian(epochs[-1, j]):.0f})" for j, name in enumerate(ARMS))
               + f"; {never} models never reached {cfg['fit']:.0%} within {cfg['max_epochs']} "
               f"epochs (read at the cap). Each model trains until its train accuracy reaches "
               f"{cfg['fit']:.0%} (checked every epoch from epoch {cfg['epochs']}; Adam "
               f"{cfg['lr']}, batch {cfg['batch_size']}) and its test accuracy is read there, on "
               f"{EVAL_SAMPLES} held-out MNIST-1D samples (a fresh draw of the generator); then {cfg['prune_rate']:.0%} of each hidden "
               f"weight matrix's remaining weights (the output layer "
               f"{cfg['prune_rate'] / 2:.0%}) are pruned by the ticket's trained magnitudes. "
               "The arms of a seed share its data order (paired).")


def _plot(claim, acc, left):
    fig, ax = plt.subplots(figsize=(6, 3.6))
    for j, (name, mark) in enumerate(zip(ARMS, "osd^")):
        rows = ~np.isnan(acc[:, j, 0])
        ax.errorbar(100 * left[rows], acc[rows, j].mean(1), yerr=acc[rows, j].std(1),
                    marker=mark, capsize=3, label=name, ls="-" if j == 0 else "none")
    ax.set(xscale="log", xlabel="weights left (%)", ylabel="test accuracy at fit (%)",
           title="IMP on MNIST-1D, every arm trained to fit")
    ax.invert_xaxis()
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Test accuracy at each model's fit epoch against the fraction of "
                            "weights left (mean +- sd over seeds); at 100% the reinit point is "
                            "the dense net from a fresh init.")
