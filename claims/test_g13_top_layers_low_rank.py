"""G13: in a deep ReLU network fit to interpolation with a small weight decay, are the top
layers low rank (<= 2) and lower-rank than the bottom ones, as Timor et al. prove for
minimum-norm interpolators? One arm per depth; the control is the same network trained to
interpolation without weight decay (lambda = 0), paired by initialization."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fixtures.deep_relu import digits_binary_subset, train_square_loss_gd
from fixtures.measures import normalized_rank, stable_rank
from fixtures.unrolling import init_mlp
from harness import Claim, Verdict
from harness.device import single_thread

CLAIM = Claim(
    id="G13",
    title="Top layers of a deep min-norm ReLU interpolator have rank <= 2",
    statement="If the bottom layers of a deep ReLU network can already fit the data, the "
              "minimum-norm interpolator's top layers have rank at most 2; trained with a "
              "small weight decay to interpolation, the top hidden layer should come out at "
              "most rank 2 and lower-rank than the bottom layer.",
    source="002_bee57445c622ee0c.txt (Galanti's talk, first half: 'the Timor et al. paper "
           "from 2023 ... all of the top layers above the kth layer are of rank at most 2')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured at the default budget (digits 0-4 vs 5-9, 50 points, width 32, "
                 "depths 4 and 8, lambda = 0.02, square loss, GD until the init decayed by "
                 "e^-8): in both arms the interpolating decayed runs' top hidden layer has "
                 "tau-rank 2 in (nearly) every run, far below the input layer, while the "
                 "lambda = 0 interpolators from the same inits keep a near-full-rank top layer.",
    regime="fitted models: 100% sign accuracy on the training points, trained by full-batch "
           "GD with lambda = 0.02 until 2 mu lambda T = 8 (a near-min-norm interpolator); the "
           "control fits the same points with lambda = 0",
)
SETTINGS = {
    "smoke": {"n": 50, "width": 32, "seeds": 3, "steps": 400,
              "lam": 0.02, "lr": 0.1},
    "default": {"n": 50, "width": 32, "seeds": 16, "steps": 2000,
                "lam": 0.02, "lr": 0.1},
    "paper": {"n": 200, "width": 64, "seeds": 20, "steps": 40000,
              "lam": 0.005, "lr": 0.05},
}
TAU, TAU_SENS = 1e-3, 1e-2
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%
DEPTHS = (4, 8)  # the arms, at every budget (the paper budget widens the net and the data)


@pytest.fixture(scope="session")
def g13_runs(budget, shared_seeds, disk_cache):
    """Per depth (computed when an arm asks for it): lambda > 0 and lambda = 0 runs from the
    same inits, trained in one batch."""
    cfg = budget.select(SETTINGS)
    done = {}

    def run(depth):
        if depth not in done:
            seeds = shared_seeds(f"g13-depth{depth}")

            def compute():
                x, y = digits_binary_subset(seeds.numpy(0), cfg["n"])
                dims = [x.shape[1]] + [cfg["width"]] * (depth - 1) + [1]
                init = init_mlp(seeds.torch(1), cfg["seeds"], dims)
                init = [torch.cat([w, w]) for w in init]  # the lambda = 0 twin of every run
                lam = torch.tensor([cfg["lam"]] * cfg["seeds"] + [0.0] * cfg["seeds"],
                                   dtype=torch.float64)
                with single_thread():
                    res = train_square_loss_gd(x, y, init, cfg["lr"], lam, cfg["steps"])
                # a run whose weights left the finite numbers diverged: recorded as such (its
                # measures are computed on zeros and never read: it does not interpolate)
                diverged = ~torch.stack([w.isfinite().flatten(1).all(1)
                                         for w in res["weights"]]).all(0)
                hidden = [torch.where(diverged[:, None, None], 0.0, w)
                          for w in res["weights"][:-1]]  # the 1 x h output layer: rank 1
                return {
                    "dims": dims, "lam": lam, "diverged": diverged,
                    "ranks": torch.stack([normalized_rank(w, TAU) for w in hidden], -1),
                    "ranks_sens": torch.stack([normalized_rank(w, TAU_SENS) for w in hidden],
                                              -1),
                    "stable": torch.stack([stable_rank(w) for w in hidden], -1),
                    "accuracy": res["accuracy"], "mse": res["mse"]}

            done[depth] = disk_cache.get_or_compute(f"g13-depth{depth}",
                                                    {**cfg, "depth": depth}, compute)
        return done[depth]

    return cfg, run


@pytest.mark.parametrize("depth", DEPTHS, ids=[f"depth{d}" for d in DEPTHS])
def test_top_layers_low_rank(claim, g13_runs, depth):
    cfg, run = g13_runs
    res = run(depth)
    ranks, sens, stable = (res[k].numpy() for k in ("ranks", "ranks_sens", "stable"))
    decayed = (res["lam"] > 0).numpy()
    diverged = res["diverged"].numpy()
    fits = (res["accuracy"] == 1).numpy() & ~diverged
    main, zero = decayed & fits, ~decayed & fits
    n_main, n_zero = int(main.sum()), int(zero.sum())
    hidden = ranks.shape[1]
    exponent = 2 * cfg["lr"] * cfg["lam"] * cfg["steps"]
    claim.parameters(**cfg, depth=depth,
                     layers=res["dims"], tau=TAU, loss="square, labels +-1",
                     data="digits 0-4 vs 5-9, random training subset",
                     init_decay_exponent=exponent,
                     interpolating_runs={"lambda > 0": n_main, "lambda = 0": n_zero},
                     diverged_runs={"lambda > 0": int((diverged & decayed).sum()),
                                    "lambda = 0": int((diverged & ~decayed).sum())},
                     train_mse=[round(float(v), 4) if np.isfinite(v) else None
                                for v in res["mse"].numpy()])
    if n_main < max(3, decayed.sum() // 2):
        claim.inconclusive(f"only {n_main} of {int(decayed.sum())} weight-decay runs "
                           "interpolate the training set")
    if n_zero < max(3, (~decayed).sum() // 2):
        claim.inconclusive(f"only {n_zero} of {int((~decayed).sum())} lambda = 0 runs "
                           "interpolate: no control interpolator")
    top, bottom = ranks[:, -1], ranks[:, 0]
    layer = f"W_{hidden}"

    claim.expect_proportion(int((top[main] <= 2).sum()), n_main, p0=0.5,
                            alternative="greater", min_effect=0.3,
                            name=f"top hidden layer {layer} has tau-rank <= 2 (lambda > 0 "
                                 "interpolators)",
                            meaning=f"Timor et al.'s bound; tau = {TAU} on Frobenius-"
                                    "normalized weights; a clear majority (>= 80%) of runs")
    claim.control_proportion(int((top[zero] <= 2).sum()), n_zero, p0=0.5,
                             alternative="greater", min_effect=0.3,
                             name=f"lambda = 0 interpolators from the same inits: {layer} "
                                  "tau-rank <= 2 (control: could hold, must not)",
                             meaning="plain GD also has a low-rank bias in deep nets; if it "
                                     "reached rank 2 here, weight decay would not be needed")
    support = (-cfg["width"], cfg["width"])  # a rank difference of two width-capped layers
    claim.expect_compare(bottom[main], top[main], alternative="greater", paired=True,
                         min_effect=1, support=support, units="runs",
                         name=f"top hidden layer lower-rank than the input layer "
                              f"(rank W_1 - rank {layer}, lambda > 0)")
    claim.control_compare(bottom[zero], top[zero], alternative="greater", paired=True,
                          min_effect=1, support=support, units="runs",
                          name=f"lambda = 0 interpolators: rank W_1 - rank {layer} "
                               "(control: could hold, must not)")
    claim.sensitivity_proportion(int((sens[main, -1] <= 2).sum()), n_main, p0=0.5,
                                 alternative="greater", min_effect=0.3,
                                 name=f"top layer tau-rank <= 2 at tau = {TAU_SENS}")
    upper = ranks[main][:, hidden // 2:]
    claim.sensitivity_proportion(int((upper <= 2).all(1).sum()), n_main, p0=0.5,
                                 alternative="greater", min_effect=0.3,
                                 name="every upper-half hidden layer has tau-rank <= 2")
    if hidden >= 3:
        claim.sensitivity_trend(np.arange(1, hidden + 1), ranks[main].T,
                                direction="decreasing", min_effect=0.5, **RAW,
                                name="tau-rank falls with layer index (runs as blocks)")

    claim.measure("tau-rank of the top hidden layer (lambda > 0)", top[main],
                  meaning=f"tau = {TAU}")
    claim.measure("tau-rank of the input layer (lambda > 0)", bottom[main])
    claim.measure("tau-rank of the top hidden layer (lambda = 0)", top[zero])
    claim.measure("stable rank, top hidden layer (lambda > 0)", stable[main, -1])
    claim.measure("train MSE (lambda > 0)", res["mse"].numpy()[decayed],
                  meaning="interpolation up to the decay's residual")
    claim.note(f"Depth {depth}: {n_main} of {int(decayed.sum())} decayed runs and {n_zero} of "
               f"{int((~decayed).sum())} lambda = 0 runs reach 100% sign accuracy on the "
               f"{cfg['n']} training points (the rest are set aside; "
               f"{int(diverged.sum())} diverged). 2 mu lambda T = "
               f"{exponent:.1f}: the initialization has decayed by e^-{exponent:.0f}.")
    claim.note(f"Top hidden layer tau-rank, decayed interpolators: median "
               f"{np.median(top[main]):.0f} (max {top[main].max():.0f}); input layer median "
               f"{np.median(bottom[main]):.0f}; lambda = 0 interpolators' top layer median "
               f"{np.median(top[zero]):.0f} of {cfg['width']}. Stable rank of the top layer "
               f"(threshold-free): median {np.median(stable[main, -1]):.2f}.")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    idx = np.arange(1, hidden + 1)
    for r in np.flatnonzero(main):
        axes[0].plot(idx, ranks[r], "o-", c="C0", alpha=0.5, ms=3)
        axes[1].plot(idx, stable[r], "o-", c="C2", alpha=0.5, ms=3)
    for r in np.flatnonzero(zero):
        axes[0].plot(idx, ranks[r], "x--", c="C3", alpha=0.5, ms=3)
    axes[0].plot([], [], "o-", c="C0", label=f"lambda = {cfg['lam']}")
    axes[0].plot([], [], "x--", c="C3", label="lambda = 0 (control)")
    axes[0].axhline(2, c="k", lw=0.8, ls=":", label="rank 2")
    axes[0].set(xlabel="layer (1 = input side)", ylabel=f"tau-rank (tau = {TAU})",
                yscale="log", title=f"depth {depth}: rank per layer, one line per run")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="layer (1 = input side)", ylabel="stable rank",
                title="stable rank (lambda > 0)")
    claim.plot(fig, caption="Deep ReLU interpolators: tau-rank of each hidden weight matrix "
                            "from the input (left) to the top (right), with weight decay "
                            "(circles) and without (crosses, same inits); the 1 x h output "
                            "layer is left out.")
