"""G5: the epoch-to-epoch ratio of each layer's weight norm converges to 1 (the theorem's
premise), tested where the talk speaks of it: once the initialization has decayed."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats as st

from fixtures.lowrank import decay_horizon, flag_summary, select, usable
from harness import Claim, Verdict

TAU = 1e-3
LN = math.log(1 / TAU)  # ln(1/tau): the decay horizon 2 mu lambda T the rank needs
WINDOW = 2.0  # converged window: every lambda > 0 run has 2 mu lambda t >= 2 ln(1/tau)
PLANTED = 1.3  # the positive controls' shift, in multiples of the 0.5 floor

CLAIM = Claim(
    id="G5",
    title="Per-layer weight-norm ratio converges to 1",
    statement="Under SGD with weight decay, ||W_{e+1}|| / ||W_e|| between consecutive epochs "
              "tends to 1 for every layer (the premise of the low-rank theorem): once the "
              "initialization has decayed, the norm stops drifting and fluctuates around an "
              "equilibrium, unlike the steady growth without weight decay.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'we plot the ratio between the norm of "
           "the weights ... it converges to something very close to 1')",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Measured in the converged run (B = 10, 20000 steps, 7 seeds, every lambda > 0 "
                 "cell past 2 ln(1/tau) in the last 16 epochs), decided per cell as the "
                 "catalogue asks for every run: in most cells the late log norm shows no "
                 "steady drift in any layer (|Pearson(epoch, log norm)| well below 1), while "
                 "the lambda = 0 runs keep growing (the substantive control, which does not "
                 "hold). But the weakest decay (lambda = 2.5e-3, mu = 0.2, at 2-2.9 ln(1/tau) "
                 "in the window) still drifts up steadily in nearly every seed of every "
                 "layer (and lambda = 1e-2, mu = 0.05 in hidden1 is undecided): that cell "
                 "falls short of the floor at alpha, but a refutation needs alpha / m over "
                 "the cells and layers, which the exact signed-rank test on 7 seeds cannot "
                 "reach, so each arm is INCONCLUSIVE: the norm settles once the init has "
                 "decayed well past 2 ln(1/tau), not at it. The old SUPPORTED averaged the "
                 "cells within each seed, so the drifting cell passed inside the mean; the "
                 "late-vs-early |ratio - 1| comparison holds at lambda = 0 too and is now a "
                 "sensitivity row, as is the catalogue's median |ratio - 1| < 1e-2.",
    regime="converged: 2 mu lambda t >= 2 ln(1/tau) for every lambda > 0 run over the tested "
           "window (B = 10, mu in {0.05, 0.1, 0.2}, lambda in 2.5e-3..1e-2, 50 epochs); the "
           "fixed-epoch sweep's unconverged cells are a sensitivity row",
)
LAYERS = ["hidden1", "hidden2", "hidden3", "classifier"]


def _late_window(run) -> np.ndarray:
    """Checkpoint indices (one per epoch) where every lambda > 0 run is past WINDOW ln(1/tau)."""
    pos = run["lam"].numpy() > 0
    rate = (2 * run["mu"] * run["lam"]).numpy()[pos].min()
    steps = run["steps"].numpy()
    return np.flatnonzero(rate * steps >= WINDOW * LN)


def _per_seed(run, values, lam_pos: bool) -> np.ndarray:
    """Mean over the lambda > 0 (or lambda = 0) cells of a per-run value, per seed (seeds,)."""
    keep = usable(run) & ((run["lam"].numpy() > 0) if lam_pos else (run["lam"].numpy() == 0))
    seed = run["seed"].numpy()
    return np.array([np.mean(values[keep & (seed == s)]) if (keep & (seed == s)).any()
                     else np.nan for s in range(run["n_seeds"])])


def _drift(norms: np.ndarray, window: np.ndarray):
    """Per run over the window: |Pearson(epoch, log norm)| (1 = a steady linear drift, ~0.2
    = noise around a level) and the OLS slope of log norm per epoch (= the mean ratio - 1
    the drift leaves). Pearson, not Spearman: a rank correlation saturates at exactly 1 for
    every steadily growing run, which makes the lambda = 0 control a constant."""
    w = np.log(norms[window])  # (K, C)
    epochs = np.arange(len(window), dtype=float)
    rho = np.array([abs(st.pearsonr(epochs, w[:, c]).statistic) if np.ptp(w[:, c]) > 0
                    else 0.0 for c in range(w.shape[1])])
    slope = np.polyfit(epochs, w, 1)[0]
    return rho, slope


@pytest.mark.parametrize("layer", LAYERS)
def test_norm_ratio_converges(claim, lowrank_long_run, lowrank_sweep, layer):
    cfg, run = lowrank_long_run["config"], lowrank_long_run["run"]
    li = LAYERS.index(layer)
    norms = run["norms"].double().numpy()[:, :, li]  # (epochs + 1, C)
    window = _late_window(run)
    if len(window) < 8:
        claim.parameters(steps=cfg["steps"], cells=cfg["cells"], flags=flag_summary(run))
        claim.inconclusive(f"only {len(window)} epochs past {WINDOW:g} ln(1/tau): train longer")
        return
    horizon_start = decay_horizon(run, int(window[0]))
    pos = run["lam"].numpy() > 0
    claim.parameters(sizes=cfg["sizes"], batch_size=cfg["batch_size"], steps=cfg["steps"],
                     cells=cfg["cells"], seeds=cfg["n_seeds"], layer=layer,
                     window_epochs=[int(window[0]), int(window[-1])],
                     min_horizon_at_window_start=float(horizon_start[pos].min()),
                     ln_1_over_tau=LN, flags=flag_summary(run))
    rho, slope = _drift(norms, window)
    ratio_dev = np.abs(norms[1:] / norms[:-1] - 1)  # (epochs, C)
    k = max(1, ratio_dev.shape[0] // 10)
    late_dev = np.median(ratio_dev[window[1:] - 1], axis=0)
    early_dev = np.median(ratio_dev[:k], axis=0)
    a_pos, a_zero = _per_seed(run, rho, True), _per_seed(run, rho, False)
    span = f"epochs {int(window[0])}-{int(window[-1])}, 2 mu lambda t >= " \
           f"{horizon_start[pos].min():.1f} = {horizon_start[pos].min() / LN:.1f} ln(1/tau)"
    cell_rho = {}
    for lam, mu in cfg["cells"]:  # the catalogue asks for every run: each cell decides
        if lam == 0:
            continue
        m = select(run, lam=lam, mu=mu) & usable(run)
        h0 = 2 * mu * lam * float(run["steps"][window[0]])
        cell_rho[(lam, mu)] = (rho[m], slope[m], h0)
        row = claim.expect_compare(
            rho[m], 1.0, alternative="less", min_effect=0.5, support=(-1.0, 0.0),
            units="seeds", name=f"{layer}: no drift once converged, cell lambda = {lam:g}, "
                                f"mu = {mu:g} ({span}; this cell >= {h0:.0f})",
            meaning="per seed |Pearson(epoch, log ||W||)| over the window; 1 = steady "
                    "drift; must sit >= 0.5 below it")
        planted = np.clip(rho[m] - np.median(rho[m]) + 1.0 - PLANTED * 0.5, 0.0, 1.0)
        claim.positive_compare(planted, 1.0, alternative="less", min_effect=0.5,
                               support=(-1.0, 0.0), units="seeds", backs=row,
                               planted=PLANTED,
                               name=f"{layer}, cell lambda = {lam:g}, mu = {mu:g}: its seeds' "
                                    f"|r| moved to a median {PLANTED:g} x 0.5 below 1 "
                                    "(positive control)")
    claim.control_compare(a_zero, 1.0, alternative="less", min_effect=0.5, support=(-1.0, 0.0),
                          name=f"{layer}: lambda = 0 runs, same window (control: they keep "
                               "growing)", units="seeds",
                          meaning="per seed the mean |r| over the lambda = 0 cells; could hold "
                                  "if the norms without decay had stalled")
    claim.sensitivity_compare(a_pos, 1.0, alternative="less", min_effect=0.5, units="seeds",
                              name=f"{layer}: the former primary, |r| averaged over the lambda "
                                   "> 0 cells per seed (a drifting cell passes inside the mean)")
    late_pos = _per_seed(run, late_dev, True)
    claim.sensitivity_compare(late_pos, _per_seed(run, early_dev, True), alternative="less",
                              paired=True, min_effect=5e-3, units="seeds",
                              name=f"{layer}: median |ratio - 1| smaller in the window than in "
                                   "the first 10% of epochs (lambda > 0)")
    claim.sensitivity_compare(_per_seed(run, late_dev, False), _per_seed(run, early_dev, False),
                              alternative="less", paired=True, min_effect=5e-3, units="seeds",
                              name="... the same at lambda = 0 (no decay: where it holds "
                                   "too, it cannot tell decay from no decay)")
    claim.sensitivity_compare(late_pos, 1e-2, alternative="less", min_effect=5e-3,
                              name="catalogue's figure: window median |ratio - 1| < 1e-2 "
                                   "(lambda > 0, per seed)", units="seeds")
    claim.sensitivity_compare(_per_seed(run, late_dev, False), 1e-2, alternative="less",
                              min_effect=5e-3, units="seeds",
                              name="... the same figure at lambda = 0 (it cannot tell decay "
                                   "from no decay)")
    claim.sensitivity_compare(_per_seed(run, np.abs(slope), True), 1e-2, alternative="less",
                              min_effect=5e-3, units="seeds",
                              name="|drift of log norm| per epoch < 1e-2 (lambda > 0)")
    claim.note(f"{layer}, per cell (mean |r| over seeds, median drift of log norm per epoch, "
               "2 mu lambda t at the window's start): " + "; ".join(
                   f"lambda = {lam:g}, mu = {mu:g}: {np.mean(r):.2f}, {np.median(d):+.1e}, "
                   f"{h0:.0f}" for (lam, mu), (r, d, h0) in cell_rho.items())
               + ". The primary averages the cells within each seed; the per-cell rows show "
               "whether any one cell still drifts.")
    # the fixed-epoch sweep's cells, most of them unconverged: the approach, per cell
    for bs, res in lowrank_sweep["epochs"].items():
        if res["steps"].numel() < 12:
            continue
        n = res["norms"].double().numpy()[:, :, li]
        win = np.arange(n.shape[0] - max(8, n.shape[0] // 4), n.shape[0])
        r, _ = _drift(n, win)
        h = decay_horizon(res)
        for lo, hi, label in ((0, LN, "unconverged"), (LN, np.inf, "past ln(1/tau)")):
            cell = usable(res) & (res["lam"].numpy() > 0) & (h >= lo) & (h < hi)
            seeds = [r[cell & (res["seed"].numpy() == s)].mean()
                     for s in range(res["n_seeds"]) if (cell & (res["seed"].numpy() == s)).any()]
            if len(seeds) >= 2:
                claim.sensitivity_compare(
                    np.array(seeds), 1.0, alternative="less", min_effect=0.5, units="seeds",
                    name=f"fixed 40 epochs, B = {bs}, {label} cells ({int(cell.sum())} runs): "
                         "no drift over the last epochs")
    claim.measure(f"{layer}: |Pearson(epoch, log norm)| in window, lambda > 0", a_pos)
    claim.measure(f"{layer}: |Pearson(epoch, log norm)| in window, lambda = 0", a_zero)
    claim.measure(f"{layer}: drift of log norm per epoch, lambda > 0", slope[usable(run) & pos])
    claim.measure(f"{layer}: drift of log norm per epoch, lambda = 0", slope[usable(run) & ~pos])
    claim.measure(f"{layer}: window median |ratio - 1|, lambda > 0", late_pos)
    up = (norms[1:] > norms[:-1])[window[1:] - 1]
    frac_up = {"lambda>0": float(up[:, usable(run) & pos].mean()),
               "lambda=0": float(up[:, usable(run) & ~pos].mean())}
    claim.note(f"{layer}: in the window ({span}) the norm rose from one epoch to the next in "
               f"{100 * frac_up['lambda>0']:.0f}% of the lambda > 0 epochs and "
               f"{100 * frac_up['lambda=0']:.0f}% of the lambda = 0 ones; median drift of "
               f"log norm per epoch {np.median(slope[usable(run) & pos]):+.1e} (lambda > 0) "
               f"vs {np.median(slope[usable(run) & ~pos]):+.1e} (lambda = 0).")
    claim.note(f"Units are seeds (n = {run['n_seeds']}): in each cell one run per seed; the "
               "cells of a seed share its init (decayed by exp(-2 mu lambda t) < 1e-6 in the "
               "window) but not its data order. The floors (0.5 below steady drift; 5e-3 for "
               "|ratio - 1| figures, half the catalogue's 1e-2) were set before the run. A "
               f"cell's FAILS refutes only at alpha / m (m = cells x layers): at "
               f"{run['n_seeds']} seeds the exact signed-rank test cannot reach that level, so "
               "a drifting cell leaves the arm INCONCLUSIVE, not REFUTED.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    ratios = norms[1:] / norms[:-1]
    epochs = np.arange(1, ratios.shape[0] + 1)
    for ax, cells in zip(axes, ([c for c in cfg["cells"] if c[0] > 0],
                                [c for c in cfg["cells"] if c[0] == 0])):
        for k, (lam, mu) in enumerate(cells):
            mask = select(run, lam=lam, mu=mu)
            ax.plot(epochs, np.median(ratios[:, mask], 1), color=f"C{k}", lw=1,
                    label=f"lambda = {lam:g}, mu = {mu:g}")
        ax.axhline(1, color="black", lw=0.8)
        ax.axvspan(window[0], window[-1], color="green", alpha=0.08)
        ax.set(xlabel="epoch e", title=f"{layer}, B = {cfg['batch_size']}")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("||W_e|| / ||W_(e-1)|| (median of seeds)")
    claim.plot(fig, caption="Norm ratio over epochs; green: the converged window (every "
                            "lambda > 0 run past 2 ln(1/tau)). With decay (left) the ratio "
                            "fluctuates around 1; without (right) it stays above 1.")
