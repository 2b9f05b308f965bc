"""G7: unrolling SGD with weight decay k steps back writes W_t as a decayed old iterate plus
a sum of k mini-batch gradients (rank <= k B); once the norm stops changing this gives the
theorem's bound rank_eps(W_t / ||W_t||) <= B * ceil(log(2/eps) / (2 mu lambda))."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from fixtures.gradient_rank import exact_rank
from fixtures.measures import eps_rank
from fixtures.unrolling import (
    init_mlp,
    theorem_k,
    train_unrolled,
    two_class_data,
    unrolling_residual,
)
from harness import Claim, Verdict
from harness.device import single_thread

CLAIM = Claim(
    id="G7",
    title="Unrolled SGD + weight decay: weights within eps of rank B*k",
    statement="Under W_{t+1} = (1 - 2 mu lambda) W_t - mu G_t, W_t equals (1 - 2 mu lambda)^k "
              "W_{t-k} minus mu times a weighted sum of the last k mini-batch gradients, a "
              "matrix of rank <= k B; so when ||W_{t-k}|| / ||W_t|| stays near 1, the eps-rank "
              "of W_t / ||W_t|| is at most B ceil(log(2/eps) / (2 mu lambda)), whatever the "
              "width.",
    source="002_bee57445c622ee0c.txt (Galanti's talk, second half: 'we'll unroll the "
           "optimization process ... we have k times B gradients. So k times B times 1 is "
           "the bound on the rank'); arXiv 2206.05794 Thm 3.4",
    expected=Verdict.SUPPORTED,
    why_expected="Measured: the unrolled identity holds to ~1e-15 relative on real float64 "
                 "training, the k-step gradient sums have exact rank <= kB, and at 2 mu lambda "
                 "in 0.035..0.05 on digits 0-vs-1 (B = 2, width 192) the bound 120..172 is "
                 "below the width while the measured eps-ranks are ~2; lambda -> 0 gives a "
                 "bound of ~6e5, far above the width.",
)
SETTINGS = {
    "smoke": {"width": 192, "seeds": 1, "steps": 300, "decays": [0.035, 0.05]},
    "default": {"width": 192, "seeds": 3, "steps": 800, "decays": [0.035, 0.04, 0.05]},
    "paper": {"width": 512, "seeds": 10, "steps": 3000,
              "decays": [0.02, 0.025, 0.03, 0.04, 0.05]},
}
LR, BATCH, EPS = 0.2, 2, 0.1  # decay = 2 mu lambda, so lambda = decay / (2 mu)
CONTROL = {"lr": 0.05, "decay": 1e-5, "seeds": 2}  # lambda -> 0 (smaller mu: it stays stable)
SMALL_WINDOW = 3  # steps whose gradient sum is checked against rank <= 3 B exactly


def test_unrolled_low_rank_bound(claim, budget, seeds):
    cfg = budget.select(SETTINGS)
    x, y = two_class_data("digits", (0, 1))
    decay = torch.tensor(cfg["decays"], dtype=torch.float64).repeat_interleave(cfg["seeds"])
    decay = torch.cat([decay, torch.full((CONTROL["seeds"],), CONTROL["decay"])])
    lr = torch.where(decay > CONTROL["decay"], LR, CONTROL["lr"]).double()
    lam = decay / (2 * lr)
    k = torch.tensor([theorem_k(EPS, d) for d in decay.tolist()])
    window = k.clamp(max=cfg["steps"])
    dims = [x.shape[1], cfg["width"], cfg["width"], 2]
    gen = seeds.torch()
    weights = init_mlp(gen, len(decay), dims)
    with single_thread():
        res = train_unrolled(x, y, weights, lr, lam, BATCH, cfg["steps"], window, gen)
        short = train_unrolled(x, y, weights, lr, lam, BATCH, SMALL_WINDOW,
                               torch.full_like(window, SMALL_WINDOW), seeds.torch(1))

    runs = torch.arange(len(decay))
    norms = res["norms"]
    ratio = (norms[cfg["steps"] - window, runs] / norms[-1]).numpy()  # (runs, layers)
    eps_ranks = torch.stack([eps_rank(w, EPS) for w in res["weights"]], -1).numpy()
    bound = (BATCH * k).numpy()
    weighted = decay > CONTROL["decay"]
    live = (norms[-1].prod(-1) > 1e-6 * norms[0].prod(-1)) & (res["accuracy"] > 0.75)
    main = (weighted & live).numpy()
    claim.parameters(**cfg, lr=LR, batch=BATCH, eps=EPS, data="digits 0 vs 1 (train)",
                     layers=dims, control=CONTROL, theorem_k=dict(zip(cfg["decays"], map(
                         int, k[:len(cfg["decays"]) * cfg["seeds"]:cfg["seeds"]]))),
                     live_runs=int(main.sum()), decayed_runs=int(weighted.sum()),
                     train_accuracy=res["accuracy"].numpy().round(3).tolist())
    if main.sum() < 0.5 * weighted.sum():
        claim.inconclusive(f"only {int(main.sum())} of {int(weighted.sum())} weight-decay "
                           "runs kept a non-zero, learning network")

    residual = unrolling_residual(res, lr, lam, window)
    claim.expect_bound(residual.max().item(), upper=1e-10, n=residual.numel(),
                       statistic="max rel. Frobenius error of the unrolled identity",
                       name="(a) unrolled identity holds to float64 precision",
                       meaning="every run and layer, over its last k (or all) steps")
    sum_rank = torch.stack([exact_rank(g) for g in short["grad_sum"]], -1)
    dims_cap = torch.tensor([min(w.shape[1:]) for w in short["grad_sum"]])
    claim.expect_bound((sum_rank - torch.minimum(dims_cap, torch.tensor(
        SMALL_WINDOW * BATCH))).max().item(), upper=0, n=sum_rank.numel(),
        statistic=f"max rank - min({SMALL_WINDOW} B, m, n) of {SMALL_WINDOW}-step sums",
        name="(a) a sum of k mini-batch gradients has rank <= k B")
    long_rank = torch.stack([exact_rank(g) for g in res["grad_sum"]], -1).numpy()
    claim.expect_bound((long_rank - bound[:, None])[main].max(), upper=0,
                       n=int(main.sum()) * len(dims[1:]),
                       statistic="max rank - kB of the theorem-window gradient sums",
                       name="(a) the theorem window's gradient sum has rank <= k B")
    claim.expect_bound((eps_ranks - bound[:, None])[main].max(), upper=0,
                       n=int(main.sum()) * len(dims[1:]),
                       statistic="max over live runs and layers of eps-rank - bound",
                       name="(b) measured eps-rank <= B ceil(log(2/eps) / (2 mu lambda))")
    claim.expect_bound(bound[main].max(), upper=cfg["width"] - 1, n=int(main.sum()),
                       statistic="largest bound among the weight-decay runs",
                       name="(b) the bound is non-vacuous (< width)")
    claim.control_bound(bound[~weighted.numpy()].min(), upper=cfg["width"] - 1,
                        n=CONTROL["seeds"], statistic="bound at 2 mu lambda = 1e-5",
                        name="lambda -> 0: bound below the width (control: must fail)",
                        meaning="without weight decay the theorem says nothing")
    premise = ratio[main]
    claim.sensitivity_bound(premise.max(), upper=2.0, n=premise.size,
                            statistic="max ||W_{T-k}|| / ||W_T|| (live runs, layers)",
                            name="norm-ratio premise: ratio <= 2 makes the bound rigorous",
                            meaning="(1 - 2 mu lambda)^k <= eps/2, so ratio <= 2 gives eps")
    claim.sensitivity_bound(np.abs(premise - 1).max(), upper=0.1, n=premise.size,
                            statistic="max |ratio - 1|",
                            name="norm-ratio premise: ratio within 10% of 1")

    claim.measure("eps-rank of the hidden 192x192 layer (live runs)", eps_ranks[main, 1],
                  meaning=f"eps = {EPS}, Frobenius")
    claim.measure("bound / measured eps-rank, hidden layer",
                  bound[main] / np.maximum(eps_ranks[main, 1], 1), meaning="slack")
    claim.measure("|norm ratio - 1| over the theorem window", np.abs(premise - 1),
                  meaning="the premise: norms converge")
    claim.measure("max unrolled-identity error", residual.max().item(), floor=1e-13)
    claim.measure("eps-rank of the hidden layer at lambda -> 0",
                  eps_ranks[~weighted.numpy(), 1], meaning="for contrast with ~2")
    claim.note("Runs are flagged dead when the weights decayed to ~0 or train accuracy stays "
               "<= 0.75; the bound checks use live runs only. In pilot runs 2 mu lambda >= "
               "0.06 collapsed every run of this 3-layer net (lambda = decay / (2 mu) was "
               "too large to sustain a non-zero solution), hence the decays 0.035 to 0.05.")
    claim.note("The bound needs no premise for part (a): the identity is exact algebra and "
               "the rank of a gradient sum is the G6 lemma. Part (b) needs the window's norm "
               "ratio <= eps / (1 - 2 mu lambda)^k ~ 2; the sensitivity rows show how close "
               "to 1 it is. The measured eps-ranks sit ~60x below the bound: a loose bound, as "
               "the talk says.")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    names = ["W_1 (in)", "W_2 (hidden)", "W_3 (out)"]
    for layer, name in enumerate(names):
        axes[0].scatter(bound[main], eps_ranks[main, layer], s=18, label=name)
        axes[0].scatter(bound[~weighted.numpy()], eps_ranks[~weighted.numpy(), layer],
                        marker="x", s=24, label=f"{name}, lambda -> 0")
    grid = np.geomspace(1, bound.max() * 2, 10)
    axes[0].plot(grid, grid, "k--", lw=1, label="eps-rank = bound")
    axes[0].axvline(cfg["width"], c="grey", ls=":", label="width")
    axes[0].set(xscale="log", yscale="log", xlabel="bound B ceil(log(2/eps)/(2 mu lambda))",
                ylabel=f"measured eps-rank (eps = {EPS})", title="bound vs measured")
    axes[0].legend(fontsize=6)
    steps = np.arange(norms.shape[0])
    for d in cfg["decays"]:
        sel = np.flatnonzero(main & np.isclose(decay.numpy(), d))
        if sel.size == 0:
            continue
        kd = theorem_k(EPS, d)
        r = norms[:-kd][:, sel, 1].numpy() / norms[kd:][:, sel, 1].numpy()
        axes[1].plot(steps[kd:], np.median(r, 1), label=f"2 mu lambda = {d}, k = {kd}")
    axes[1].axhline(1, c="k", lw=0.8)
    axes[1].set(yscale="log", xlabel="SGD step t", ylabel="||W_{t-k}|| / ||W_t|| (hidden)",
                title="norm-ratio premise")
    axes[1].legend(fontsize=7)
    claim.plot(fig, caption="Left: the theorem's bound against the measured eps-rank, every "
                            "layer and run (points below the dashed line obey it; crosses: "
                            "lambda -> 0, bound beyond the width). Right: the premise, the "
                            "hidden layer's norm ratio over the theorem's window, median over "
                            "live seeds.")
