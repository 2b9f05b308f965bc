"""O8 (measure): do a class's decision regions merge after the training set is fitted?"""
import matplotlib.pyplot as plt
import numpy as np

from fixtures.decision_regions import run_regions
from harness import Claim, Verdict
from harness.device import single_thread

CLAIM = Claim(
    id="O8",
    title="Generalization as merging of decision regions",
    statement="Early in training, when the training set is first fitted, a class occupies "
              "many disconnected decision regions; with further training on consistently "
              "labelled data they merge into fewer, larger regions.",
    source="001_2f1459f699633da3.txt (thread: 'gerrymandered' regions of output space early "
           "in training, merged later 'if the data permits ... consistently labelled', a "
           "'ratcheting up process from smaller to larger regions')",
    expected=Verdict.REFUTED,
    why_expected="Measured (two moons, noise 0.1, n = 100, MLP 2-128-128-2, Adam, 6 seeds, "
                 "two master seeds): every clean-label network had exactly 2 regions (one per "
                 "class) at every checkpoint, from the first epoch through first 100% fit "
                 "(~epoch 14) to the end: there was no fragmented phase to merge from. "
                 "Fragmentation appeared only with 15% flipped labels, and it grew with "
                 "training (2 -> ~5 regions) as the flipped points were memorized, the "
                 "opposite of merging.",
)
SETTINGS = {
    "smoke": {"seeds": 3, "n_train": 100, "noise": 0.1, "flip": 0.15, "sizes": [2, 64, 64, 2],
              "grid": 80, "epochs": 60, "batch_size": 20, "lr": 3e-3, "n_checkpoints": 10},
    "default": {"seeds": 6, "n_train": 100, "noise": 0.1, "flip": 0.15,
                "sizes": [2, 128, 128, 2], "grid": 120, "epochs": 600, "batch_size": 20,
                "lr": 3e-3, "n_checkpoints": 40},
    "paper": {"seeds": 20, "n_train": 300, "noise": 0.1, "flip": 0.15,
              "sizes": [2, 512, 512, 512, 2], "grid": 400, "epochs": 5000, "batch_size": 20,
              "lr": 1e-3, "n_checkpoints": 80},
}


def _fit_index(train_acc):
    """Per model: the first checkpoint at its best training accuracy (the first 100% for
    models that fit)."""
    return np.argmax(train_acc >= train_acc.max(0, keepdims=True) - 1e-12, axis=0)


def test_decision_regions_merge(claim, budget, seeds, device):
    cfg = budget.select(SETTINGS)
    claim.parameters(**cfg)
    with single_thread(device):
        res = run_regions(cfg, seeds.torch(0), seeds.numpy(1))
    s = cfg["seeds"]
    regions, acc, epochs = res["regions"], res["train_acc"], res["epoch"]
    fit = _fit_index(acc)
    at_fit = regions[fit, np.arange(2 * s)]
    at_end = regions[-1]
    fitted = acc[:, :s].max(0) >= 1.0  # clean-label models that reached 100% at some point
    clean, noisy = np.flatnonzero(fitted), np.arange(s, 2 * s)
    claim.parameters(clean_models_fitted=int(fitted.sum()))
    if fitted.sum() < 3:
        claim.inconclusive(f"only {fitted.sum()} of {s} clean-label models fit 100%")
        return

    claim.expect_bound((at_fit[clean] - at_end[clean]).min(), lower=1.0, n=len(clean),
                       statistic="min over seeds of regions at first fit - at the end",
                       name="clean labels: fewer regions at the end than at first 100% fit",
                       meaning="regions summed over both classes, every seed")
    claim.control_bound((at_fit[noisy] - at_end[noisy]).min(), lower=1.0, n=s,
                        statistic="min over seeds of regions at fit - at the end",
                        name="15% flipped labels: regions merge too (control)")
    claim.sensitivity_bound(at_fit[clean].max(), lower=3.0, n=len(clean),
                            statistic="max over seeds of regions at first fit",
                            name="clean labels are fragmented at first fit (> 2 regions)")
    claim.sensitivity_compare(at_end[noisy], at_end[clean], alternative="greater", alpha=0.05,
                              min_effect=1.0, name="label noise leaves more regions at the end")
    claim.measure("regions at first fit, clean", at_fit[clean], unit="regions")
    claim.measure("regions at the end, clean", at_end[clean], unit="regions")
    claim.measure("max regions along training, clean", regions[:, clean].max(0), unit="regions")
    claim.measure("regions at the end, 15% flipped", at_end[noisy], unit="regions")
    claim.measure("train accuracy at the end, 15% flipped", acc[-1, noisy])
    claim.measure("epoch of first fit, clean", epochs[fit[clean]], unit="epochs")
    claim.note(f"Regions: connected components (4-connectivity) of each predicted class on a "
               f"{cfg['grid']}x{cfg['grid']} grid covering the data +-0.5, summed over both "
               "classes, at log-spaced checkpoints. 'Fit' = first checkpoint reaching the "
               "model's best training accuracy (the first 100% when it fits; the noisy models "
               "may not fit within the budget). Only clean models that reached 100% enter the "
               "primary check. The two moons are consistently labelled; the "
               f"noisy arm flips {cfg['flip']:.0%} of labels.")

    fig, (ax, *maps) = plt.subplots(1, 4, figsize=(13, 3.4))
    for m, color in ((clean, "C0"), (noisy, "C3")):
        ax.plot(epochs, regions[:, m].mean(1), color=color,
                label="clean" if m is clean else f"{cfg['flip']:.0%} flipped")
        ax.fill_between(epochs, regions[:, m].min(1), regions[:, m].max(1), color=color,
                        alpha=0.2)
    ax.set(xscale="log", xlabel="epoch", ylabel="decision regions (mean, range)",
           title="regions along training")
    ax.legend(fontsize=7)
    _draw_maps(maps, res, 1, [0, int(fit[s]), len(epochs) - 1], epochs, regions[:, s],
               "15% flipped")  # noisy seed 0: start, first fit, end
    claim.plot(fig, caption="Left: number of decision regions along training, clean vs noisy "
                            "labels (clean models stay at 2). Right: decision regions of one "
                            "noisy-label network at its first checkpoint, at fit and at the end.")
    fig, maps = plt.subplots(1, 3, figsize=(10, 3.4))
    _draw_maps(maps, res, 0, [0, int(fit[0]), len(epochs) - 1], epochs, regions[:, 0], "clean")
    claim.plot(fig, caption="Decision regions of one clean-label network at its first "
                            "checkpoint, at first 100% training accuracy and at the end.")


def _draw_maps(axes, res, which, picks, epochs, regions, label):
    """Decision-region maps of the first clean (which=0) or noisy (1) network at checkpoints."""
    x, y = res["x"], res["y_noisy" if which else "y_clean"]
    for ax, i in zip(axes, picks):
        ax.imshow(res["maps"][i][which], origin="lower", extent=res["extent"], cmap="coolwarm",
                  alpha=0.35, aspect="auto")
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6)
        ax.set_title(f"{label}, epoch {epochs[i]}\n{regions[i]} regions", fontsize=9)
        ax.set(xticks=[], yticks=[])
