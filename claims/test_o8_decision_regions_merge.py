"""O8 (measure): do a class's decision regions merge after the training set is fitted?"""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import ndimage

from fixtures.decision_regions import count_regions as _count, experiment
from harness import Claim, Verdict
from harness.evidence import planted_successes

CLAIM = Claim(
    id="O8",
    title="Generalization as merging of decision regions",
    statement="Early in training, when the training set is first fitted, a class occupies "
              "many disconnected decision regions; with further training on consistently "
              "labelled data they merge into fewer, larger regions.",
    source="001_2f1459f699633da3.txt (thread: 'gerrymandered' regions of output space early "
           "in training, merged later 'if the data permits ... consistently labelled', a "
           "'ratcheting up process from smaller to larger regions')",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Pinned from the default-budget run (figures and trajectories in the notes; "
                 "per-arm reasons in ARM_EXPECTED). In no arm was a clean-label network "
                 "fragmented when it first fitted the training set: each class was one region "
                 "at first fit and at the end in every seed, so there was nothing to merge. "
                 "The large-init SGD arm, where a fit could leave init-driven islands, is "
                 "REFUTED: its premise row FAILS (0 of 80, excluded at alpha / m) and, with 80 "
                 "seeds, its positive control holds. The two Adam arms (the source's small-init "
                 "setting, 8 seeds) stay INCONCLUSIVE: their premise rows FAIL too, but at 8 "
                 "seeds a planted rate of 0.65 is not significant against half, so their "
                 "positive controls cannot hold; and no arm's merge row can FAIL: with every "
                 "paired difference 0, the harness bounds the shift from the tied units by a "
                 "mean on the declared range of a region-count difference (+-grid^2), which "
                 "excludes a 1-region merge only from tens of thousands of seeds. Under the "
                 "'all' rule an inconclusive arm keeps the claim INCONCLUSIVE. Fragmentation "
                 "appeared only with flipped labels, late in training, as the flipped points "
                 "were memorized: the opposite of merging.",
    regime="trained well past the first 100% fit, region counts at the first checkpoint with "
           "100% training accuracy vs the end. Arms moons and spirals (the source's setting): "
           "Adam (lr 3e-3, batch 20) from PyTorch's default init, 600 / 400 epochs, 8 seeds. "
           "Arm moons-large-init-sgd: plain SGD (no momentum, no weight decay, lr 0.1, batch "
           "20) from 4 x PyTorch's default init (uniform +-4/sqrt(fan_in), weights and "
           "biases), 200 epochs (first fits at epochs 3-37), 80 seeds (flipped labels on 40)",
)
ARM_EXPECTED = {  # measured at the default budget
    "moons": (Verdict.INCONCLUSIVE,
              "measured: 2 regions at first fit and at the end in all 8 seeds; the premise "
              "FAILS (0 of 8), but its positive control (5 of 8 planted) cannot hold at 8 "
              "seeds; the merge row (all differences 0) is UNDECIDED on the +-grid^2 range"),
    "spirals": (Verdict.INCONCLUSIVE,
                "measured: as on moons (2 regions at first fit and at the end in all 8 seeds; "
                "premise FAILS without a holding positive control; merge row UNDECIDED)"),
    "moons-large-init-sgd": (Verdict.REFUTED,
                             "measured: 2 regions at first fit and at the end in all 80 "
                             "seeds; the premise FAILS (0 of 80, upper bound 0.06 against "
                             "0.6, 0.08 at alpha / m) and its positive control holds (52 of "
                             "80 planted islands counted, p = 0.005)"),
}
SETTINGS = {
    "smoke": {"moons": {"data": "moons", "seeds": 3, "n_train": 100, "noise": 0.1,
                        "flip": 0.15, "sizes": [2, 64, 64, 2], "grid": 80, "epochs": 60,
                        "batch_size": 20, "lr": 3e-3, "n_checkpoints": 10},
              "spirals": {"data": "spirals", "turns": 1.25, "seeds": 3, "n_train": 200,
                          "noise": 0.03, "flip": 0.15, "sizes": [2, 64, 64, 2], "grid": 80,
                          "epochs": 60, "batch_size": 20, "lr": 3e-3, "n_checkpoints": 10},
              "moons-large-init-sgd": {"data": "moons", "seeds": 8, "noisy_seeds": 4,
                                       "n_train": 100, "noise": 0.1, "flip": 0.15,
                                       "sizes": [2, 64, 64, 2], "grid": 80, "epochs": 30,
                                       "batch_size": 20, "lr": 0.1, "n_checkpoints": 10,
                                       "optimizer": "sgd", "init_scale": 4.0}},
    "default": {"moons": {"data": "moons", "seeds": 8, "n_train": 100, "noise": 0.1,
                          "flip": 0.15, "sizes": [2, 128, 128, 2], "grid": 100, "epochs": 600,
                          "batch_size": 20, "lr": 3e-3, "n_checkpoints": 30},
                "spirals": {"data": "spirals", "turns": 1.25, "seeds": 8, "n_train": 200,
                            "noise": 0.03, "flip": 0.15, "sizes": [2, 128, 128, 2],
                            "grid": 100, "epochs": 400, "batch_size": 20, "lr": 3e-3,
                            "n_checkpoints": 30},
                # 80 seeds: the premise's positive control (52 of 80 planted, 0.65) can hold
                # (p = 0.005); flipped labels on the first 40 (a control needs >= half the
                # primary's units)
                "moons-large-init-sgd": {"data": "moons", "seeds": 80, "noisy_seeds": 40,
                                         "n_train": 100, "noise": 0.1, "flip": 0.15,
                                         "sizes": [2, 128, 128, 2], "grid": 100,
                                         "epochs": 200, "batch_size": 20, "lr": 0.1,
                                         "n_checkpoints": 20, "optimizer": "sgd",
                                         "init_scale": 4.0}},
    "paper": {"moons": {"data": "moons", "seeds": 20, "n_train": 300, "noise": 0.1,
                        "flip": 0.15, "sizes": [2, 512, 512, 512, 2], "grid": 400,
                        "epochs": 5000, "batch_size": 20, "lr": 1e-3, "n_checkpoints": 80},
              "spirals": {"data": "spirals", "turns": 1.25, "seeds": 20, "n_train": 400,
                          "noise": 0.03, "flip": 0.15, "sizes": [2, 512, 512, 512, 2],
                          "grid": 400, "epochs": 5000, "batch_size": 20, "lr": 1e-3,
                          "n_checkpoints": 80},
              # lr 0.01: at this depth and width, 4 x init diverged at lr 0.1 in a 3-seed check
              "moons-large-init-sgd": {"data": "moons", "seeds": 160, "noisy_seeds": 80,
                                       "n_train": 300, "noise": 0.1, "flip": 0.15,
                                       "sizes": [2, 512, 512, 512, 2], "grid": 400,
                                       "epochs": 2000, "batch_size": 20, "lr": 0.01,
                                       "n_checkpoints": 80, "optimizer": "sgd",
                                       "init_scale": 4.0}},
}
ARMS = ("moons", "spirals", "moons-large-init-sgd")
# "most seeds": above half (p0 = 0.5) by a floor of 10 points
MOST = dict(p0=0.5, alternative="greater", min_effect=0.1)


def _first_fit(train_acc):
    """Per model: the first checkpoint at 100% training accuracy (-1 if never)."""
    hit = train_acc >= 1.0
    return np.where(hit.any(0), hit.argmax(0), -1)


@pytest.fixture(scope="session")
def regions(budget, shared_seeds, disk_cache):
    settings = budget.select(SETTINGS)
    out = {}
    for name in ARMS:
        cfg, seeds = settings[name], shared_seeds(f"o8-regions-{name}")
        out[name] = (cfg, disk_cache.get_or_compute(f"o8-regions-{name}", cfg,
                                                    experiment(cfg, seeds.torch(0),
                                                               seeds.numpy(1))))
    return out


def _plant_island(m, rng, size=5, margin=2):
    """A copy of the map with a size x size island of the other class, at a spot drawn
    uniformly among those whose surroundings (margin pixels on every side) are one class: the
    island is one new region and its host stays connected around it (the measurement must
    count exactly one more region)."""
    w = size + 2 * margin
    windows = np.lib.stride_tricks.sliding_window_view(m, (w, w))
    spots = np.argwhere(windows.min((2, 3)) == windows.max((2, 3)))
    i, j = spots[rng.integers(len(spots))] + margin
    out = m.copy()
    out[i:i + size, j:j + size] = 1 - m[i, j]
    return out


def _one_region_per_class(m):
    """The map with each class reduced to its largest region, every other pixel taking the
    class of the nearest pixel kept: an unfragmented base to plant islands in."""
    keep = np.zeros(m.shape, dtype=bool)
    for c in np.unique(m):
        labels, _ = ndimage.label(m == c)
        keep |= labels == np.bincount(labels.ravel())[1:].argmax() + 1
    nearest = ndimage.distance_transform_edt(~keep, return_distances=False,
                                             return_indices=True)
    return m[tuple(nearest)]


@pytest.mark.parametrize("dataset", ARMS)
def test_decision_regions_merge(claim, regions, dataset, seeds):
    cfg, res = regions[dataset]
    claim.arm_expects(*ARM_EXPECTED[dataset])
    claim.parameters(**cfg)
    s = cfg["seeds"]
    reg, acc, epochs = res["regions"], res["train_acc"], res["epoch"]
    fit = _first_fit(acc[:, :s])
    clean = np.flatnonzero(fit >= 0)  # clean-label models that reached 100%
    claim.parameters(clean_models_fitted=int(clean.size))
    if clean.size < 3:
        claim.inconclusive(f"only {clean.size} of {s} clean-label models fit 100%")
        return
    at_fit, at_end = reg[fit[clean], clean], reg[-1, clean]
    paired = clean[clean < cfg.get("noisy_seeds", s)]  # seeds also trained on flipped labels
    noisy = paired + s  # the same seed's data with flipped labels, at the clean fit epoch
    noisy_at_fit, noisy_at_end = reg[fit[paired], noisy], reg[-1, noisy]
    classes = 2
    premise = claim.expect_proportion(int((at_fit > classes).sum()), clean.size, **MOST,
                                      units="seeds",
                                      name="a class is fragmented at first fit (> 1 region per "
                                           "class) in most seeds (>= 60%)",
                                      meaning="the premise: many disconnected regions early")
    grid = cfg["grid"] ** 2  # a map holds at most grid^2 regions, at least the 2 classes
    support = (classes - grid, grid - classes)
    merge = claim.expect_compare(at_fit, at_end, paired=True, alternative="greater",
                                 min_effect=1.0, units="seeds", support=support,
                                 name="clean labels: fewer regions at the end than at first "
                                      "100% fit (>= 1 region, paired)",
                                 meaning="a per-seed difference of region counts can take any "
                                         f"value in {support}")
    claim.control_compare(noisy_at_fit, noisy_at_end, paired=True, alternative="greater",
                          min_effect=1.0, units="seeds",
                          name=f"{cfg['flip']:.0%} flipped labels, at the clean model's fit "
                               "epoch vs the end: regions merge too (could hold, must not)")
    # positive controls, on the same seeds' clean maps at first fit. The premise's: each map
    # reduced to one region per class, then islands planted in as many maps as a rate 1 to
    # 1.5 x the floor above half gives; the count must find them and the test call it "most"
    count = planted_successes(clean.size, MOST["p0"], MOST["min_effect"])
    if count is None:
        claim.note(f"No positive control for the premise: no whole number of {clean.size} "
                   "seeds plants a rate at 1 to 1.5 x the floor.")
    else:
        rng = seeds.numpy(0)
        base = [_one_region_per_class(m) for m in res["fit_maps"][clean]]
        planted = np.array([_count(_plant_island(m, rng) if i < count else m)
                            for i, m in enumerate(base)])
        claim.positive_proportion(int((planted > classes).sum()), clean.size, **MOST,
                                  units="seeds", backs=premise,
                                  planted=round((count / clean.size - MOST["p0"])
                                                / MOST["min_effect"], 9),
                                  name=f"planted: an island of the other class in {count} of "
                                       f"the {clean.size} clean maps at first fit (each first "
                                       "reduced to one region per class) is counted as "
                                       "fragmentation")
    # the merge's: one island added to every clean map at first fit, a merge of exactly one
    # region (1 x the floor) on top of each seed's own change; the test must call it a merge
    rng = seeds.numpy(1)
    planted_fit = np.array([_count(_plant_island(m, rng)) for m in res["fit_maps"][clean]])
    claim.positive_compare(planted_fit, at_end, paired=True, alternative="greater",
                           min_effect=1.0, units="seeds", support=support, backs=merge,
                           planted=1.0,
                           name="planted: one island of the other class added to every clean "
                                "map at first fit (each seed's change + 1 region) is seen as "
                                "merging")
    claim.sensitivity_compare(reg[:, clean].max(0), at_end, paired=True,
                              alternative="greater", min_effect=1.0, units="seeds",
                              name="fewer regions at the end than at the most fragmented "
                                   "checkpoint")
    claim.measure("regions at first fit, clean", at_fit, unit="regions")
    claim.measure("regions at the end, clean", at_end, unit="regions")
    claim.measure("max regions along training, clean", reg[:, clean].max(0), unit="regions")
    claim.measure("regions at the clean fit epoch, flipped labels", noisy_at_fit,
                  unit="regions")
    claim.measure("regions at the end, flipped labels", noisy_at_end, unit="regions")
    claim.measure("epoch of first fit, clean", epochs[fit[clean]], unit="epochs")
    traj = lambda cols: "; ".join(
        f"epoch {epochs[i]}: {np.median(reg[i, cols]):.0f}" for i in
        sorted(set(np.linspace(0, len(epochs) - 1, 6).astype(int).tolist())))
    claim.note(f"{dataset}: median regions at first fit {np.median(at_fit):.0f} (range "
               f"{at_fit.min()}-{at_fit.max()}), at the end {np.median(at_end):.0f} (range "
               f"{at_end.min()}-{at_end.max()}); first fit at epochs "
               f"{', '.join(str(e) for e in epochs[fit[clean]])}. Flipped labels at the same "
               f"epochs: {np.median(noisy_at_fit):.0f}, at the end {np.median(noisy_at_end):.0f}. "
               f"Trajectory (median over seeds), clean: {traj(clean)}; flipped: {traj(noisy)}. "
               f"Regions: connected components (4-connectivity) of each predicted class on a "
               f"{cfg['grid']}x{cfg['grid']} grid covering the data +-0.5, summed over both "
               "classes, at log-spaced checkpoints.")

    if cfg.get("optimizer") == "sgd":
        claim.note(f"{dataset}: plain SGD (no momentum, no weight decay, lr {cfg['lr']:g}, batch "
                   f"{cfg['batch_size']}) from {cfg['init_scale']:g} x PyTorch's default init "
                   "(every weight and bias): logits at init up to "
                   f"{cfg['init_scale'] ** (len(cfg['sizes']) - 1):.0f} x the default's, so "
                   "training stays near its init (the lazy regime), where a fit could leave "
                   "the init's own regions as islands. The scale was fixed before any region "
                   "count was seen (mid-range of the 3-5 x proposed), the learning rate from "
                   "a pilot on other seeds that looked only at stability and fit epochs (lr 1 "
                   "diverged, 0.3 spiked). The Adam arms keep the source's small-init setting.")
    fig, (ax, *maps) = plt.subplots(1, 4, figsize=(13, 3.4))
    for cols, color, label in ((clean, "C0", "clean"), (noisy, "C3",
                                                        f"{cfg['flip']:.0%} flipped")):
        ax.plot(epochs, np.median(reg[:, cols], 1), color=color, label=label)
        ax.fill_between(epochs, reg[:, cols].min(1), reg[:, cols].max(1), color=color,
                        alpha=0.2)
    ax.set(xscale="log", xlabel="epoch", ylabel="decision regions (median, range)",
           title=f"regions along training ({dataset})")
    ax.legend(fontsize=7)
    f0 = int(fit[0]) if fit[0] >= 0 else len(epochs) - 1
    _draw_maps(maps, res, 0, [0, f0, len(epochs) - 1], epochs, reg[:, 0], "clean")
    claim.plot(fig, caption="Left: decision regions along training, clean vs flipped labels "
                            "(median and range over seeds). Right: one clean-label network at "
                            "its first checkpoint, at first 100% fit and at the end.")
    fig, maps = plt.subplots(1, 3, figsize=(10, 3.4))
    _draw_maps(maps, res, 1, [0, f0, len(epochs) - 1], epochs, reg[:, s], "flipped")
    claim.plot(fig, caption="The same seed with flipped labels at the same checkpoints (the "
                            "middle one is the clean model's fit epoch).")


def _draw_maps(axes, res, which, picks, epochs, regions, label):
    """Decision-region maps of the first clean (which=0) or noisy (1) network at checkpoints."""
    x, y = res["x"], res["y_noisy" if which else "y_clean"]
    for ax, i in zip(axes, picks):
        ax.imshow(res["maps"][i][which], origin="lower", extent=res["extent"], cmap="coolwarm",
                  alpha=0.35, aspect="auto")
        ax.scatter(x[:, 0], x[:, 1], c=y, cmap="coolwarm", s=6)
        ax.set_title(f"{label}, epoch {epochs[i]}\n{regions[i]} regions", fontsize=9)
        ax.set(xticks=[], yticks=[])
