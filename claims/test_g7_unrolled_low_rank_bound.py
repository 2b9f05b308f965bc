"""G7: unrolling SGD with weight decay k steps back writes W_t as a decayed old iterate plus
a sum of k mini-batch gradients (rank <= k B); once the norm stops changing this gives the
theorem's bound rank_eps(W_t / ||W_t||) <= B * ceil(log(2/eps) / (2 mu lambda)).

Arms: (a) the identity and the rank of the gradient sums (exact algebra, every run); (b) the
bound, one arm per regime (B, 2 mu lambda), tested on the square hidden layer where the bound
is below the eps-rank that layer has at initialization (elsewhere it says nothing). One
batched float64 training run serves every arm."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest
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
    why_expected="Measured at the default budget: the unrolled identity holds to float64 "
                 "round-off on real training and the gradient sums have exact rank <= kB "
                 "(a); in each regime (B = 1 or 2, 2 mu lambda = 0.035 or 0.05, digits 0 vs 1, "
                 "width 192) the bound is below the hidden layer's eps-rank at init and every "
                 "live run's eps-rank is below the bound, while the lambda -> 0 runs' eps-rank "
                 "stays above it (b). Some runs, most at B = 1 and 2 mu lambda = 0.05, decay "
                 "to a dead network: they are counted (in the notes), not tested, and "
                 "12 seeds per regime leave at least 3 live runs in each.",
    regime="SGD with large mu lambda (2 mu lambda = 0.035 to 0.05, T = 400 steps, so "
           "2 mu lambda T = 14 to 20 >> ln(2 / eps) = 3), norms at equilibrium over the "
           "theorem's window; bias-free ReLU MLP 64-192-192-2, float64",
)
SETTINGS = {
    "smoke": {"width": 192, "seeds": 1, "steps": 150, "control_seeds": 1},
    "default": {"width": 192, "seeds": 12, "steps": 400, "control_seeds": 3},
    "paper": {"width": 512, "seeds": 16, "steps": 3000, "control_seeds": 5},
}
REGIMES = [(1, 0.035), (1, 0.05), (2, 0.05)]  # (B, 2 mu lambda): bound 86, 60, 120 < 148
LR, EPS = 0.2, 0.1  # decay = 2 mu lambda, so lambda = decay / (2 mu)
CONTROL = {"lr": 0.05, "decay": 1e-5, "batch": 1}  # lambda -> 0 (smaller mu: it stays stable)
SMALL_WINDOW = 3  # steps whose gradient sum is checked against rank <= 3 B exactly
IDENTITY_TOL = 1e-10  # relative; round-off measured ~1e-15 over hundreds of float64 steps
MIN_LIVE = 3  # live runs a regime needs for its bound to be tested
HIDDEN = 1  # index of the square hidden layer (W_2); W_1 (h x 64) and W_3 (2 x h) see below


@pytest.fixture(scope="session")
def g7_runs(budget, shared_seeds, disk_cache):
    cfg = budget.select(SETTINGS)
    seeds = shared_seeds("g7-unrolled")

    def compute():
        x, y = two_class_data("digits", (0, 1))
        s, c = cfg["seeds"], cfg["control_seeds"]
        decay = torch.tensor([d for _, d in REGIMES for _ in range(s)] + [CONTROL["decay"]] * c,
                             dtype=torch.float64)
        batch = torch.tensor([b for b, _ in REGIMES for _ in range(s)] + [CONTROL["batch"]] * c)
        weighted = decay > CONTROL["decay"]
        lr = torch.where(weighted, LR, CONTROL["lr"]).double()
        lam = decay / (2 * lr)
        k = torch.tensor([theorem_k(EPS, d) for d in decay.tolist()])
        window = k.clamp(max=cfg["steps"])
        dims = [x.shape[1], cfg["width"], cfg["width"], 2]
        init = init_mlp(seeds.torch(0), len(decay), dims)
        with single_thread():
            res = train_unrolled(x, y, init, lr, lam, batch, cfg["steps"], window,
                                 seeds.torch(1))
            short = train_unrolled(x, y, init, lr, lam, batch, SMALL_WINDOW,
                                   torch.full_like(window, SMALL_WINDOW), seeds.torch(2))
        runs = torch.arange(len(decay))
        norms = res["norms"]
        wrong = (1 - lr * lam).pow(window).view(-1, 1, 1)  # (1 - mu lambda): PyTorch's wd
        return {
            "dims": dims, "decay": decay, "batch": batch, "lr": lr, "k": k, "window": window,
            "weighted": weighted, "accuracy": res["accuracy"],
            "eps_rank": torch.stack([eps_rank(w, EPS) for w in res["weights"]], -1),
            "init_eps_rank": torch.stack([eps_rank(w, EPS) for w in init], -1),
            "residual": unrolling_residual(res, lr, lam, window),
            "residual_wrong_decay": torch.stack(
                [(w - (wrong * w0 - lr.view(-1, 1, 1) * g)).flatten(1).norm(dim=1)
                 / w.flatten(1).norm(dim=1)
                 for w, w0, g in zip(res["weights"], res["start"], res["grad_sum"])], -1),
            "window_sum_rank": torch.stack([exact_rank(g) for g in res["grad_sum"]], -1),
            "short_sum_rank": torch.stack([exact_rank(g) for g in short["grad_sum"]], -1),
            "ratio": norms[cfg["steps"] - window, runs] / norms[-1],
            "norm_collapse": norms[-1].prod(-1) / norms[0].prod(-1),
            "hidden_norms": norms[:, :, HIDDEN],
        }

    return cfg, disk_cache.get_or_compute("g7-unrolled", cfg, compute)


def _live(r):
    return (r["norm_collapse"] > 1e-6) & (r["accuracy"] > 0.75)


def test_unrolled_identity(claim, g7_runs):
    """(a): exact algebra on every run and layer."""
    cfg, r = g7_runs
    bsz = r["batch"].view(-1, 1)
    dims_cap = torch.tensor([min(r["dims"][i], r["dims"][i + 1]) for i in range(3)])
    claim.parameters(**cfg, lr=LR, eps=EPS, layers=r["dims"], regimes=REGIMES,
                     control=CONTROL, identity_tol=IDENTITY_TOL, small_window=SMALL_WINDOW,
                     runs=len(r["decay"]))
    n_cells = r["residual"].numel()
    claim.expect_exact(r["residual"].max(), upper=IDENTITY_TOL, n=n_cells,
                       units="(run, layer)",
                       statistic="max rel. Frobenius error of the unrolled identity",
                       name="(a) W_T = (1 - 2 mu lambda)^k W_(T-k) - mu sum_j (1 - 2 mu "
                            "lambda)^(j-1) G_(T-j)",
                       meaning="every run (lambda -> 0 included) and layer, over its last k "
                               "steps (or all of them)")
    cap3 = torch.minimum(dims_cap.view(1, -1), SMALL_WINDOW * bsz)
    claim.expect_exact((r["short_sum_rank"] - cap3).max(), upper=0, n=n_cells,
                       units="(run, layer)",
                       statistic=f"max exact rank - min({SMALL_WINDOW} B, m, n)",
                       name=f"(a) a sum of {SMALL_WINDOW} mini-batch gradients has rank <= "
                            f"{SMALL_WINDOW} B")
    w = r["weighted"]
    kb = (r["k"] * r["batch"]).view(-1, 1)
    claim.expect_exact((r["window_sum_rank"] - kb)[w].max(), upper=0,
                       n=int(w.sum()) * 3, units="(run, layer)",
                       statistic="max exact rank - kB of the theorem window's gradient sum",
                       name="(a) the theorem window's gradient sum has rank <= k B",
                       meaning="k = ceil(log(2/eps) / (2 mu lambda)); kB below the 192 "
                               "width in every regime")
    claim.control_exact(r["residual_wrong_decay"].max(), upper=IDENTITY_TOL, n=n_cells,
                        units="(run, layer)",
                        statistic="max rel. error with (1 - mu lambda)^k in place of "
                                  "(1 - 2 mu lambda)^k",
                        name="the identity with PyTorch's weight-decay convention mistaken "
                             "for the paper's (control: could hold, must not)",
                        meaning="if the decayed old iterate did not matter, it would hold")
    claim.control_exact((r["short_sum_rank"][:, HIDDEN] - (SMALL_WINDOW * bsz[:, 0] - 1)).max(),
                        upper=0, n=len(r["decay"]), units="runs",
                        statistic=f"max rank - ({SMALL_WINDOW} B - 1), hidden layer",
                        name=f"the {SMALL_WINDOW}-step sum has rank <= {SMALL_WINDOW} B - 1 "
                             "(control: the bound is attained, so this must not hold)")
    claim.measure("max unrolled-identity error", r["residual"].max().item(), floor=1e-13)
    claim.measure(f"share of (run, layer) {SMALL_WINDOW}-step sums attaining min(3B, m, n)",
                  float((r["short_sum_rank"] == cap3).double().mean()), floor=0.05)
    claim.note(f"Largest relative error of the unrolled identity over {n_cells} (run, layer) "
               f"cells: {r['residual'].max().item():.2e} (tolerance {IDENTITY_TOL:g}); with "
               f"(1 - mu lambda)^k in its place the smallest error is "
               f"{r['residual_wrong_decay'].min().item():.2e}. Ranks are exact float64 SVD "
               "ranks at a relative tolerance of 1e-10 (the G6 counter).")


@pytest.mark.parametrize("regime", REGIMES, ids=[f"B{b}-decay{d}" for b, d in REGIMES])
def test_eps_rank_bound(claim, g7_runs, regime):
    """(b): eps-rank of the square hidden layer <= B ceil(log(2/eps) / (2 mu lambda))."""
    cfg, r = g7_runs
    b, d = regime
    sel = (r["batch"] == b) & torch.isclose(r["decay"], torch.tensor(d, dtype=torch.float64))
    live = sel & _live(r)
    ctrl = ~r["weighted"]
    k = theorem_k(EPS, d)
    bound = b * k
    eps_h = r["eps_rank"][:, HIDDEN]
    init_h = r["init_eps_rank"][:, HIDDEN]
    ratio = r["ratio"][live].numpy()
    claim.parameters(**cfg, batch=b, decay_2_mu_lambda=d, lr=LR, lam=d / (2 * LR), eps=EPS,
                     theorem_k=k, bound=bound, layers=r["dims"],
                     layer_tested=f"W_{HIDDEN + 1} ({cfg['width']} x {cfg['width']})",
                     two_mu_lambda_T=d * cfg["steps"], ln_2_over_eps=math.log(2 / EPS),
                     runs=int(sel.sum()), live_runs=int(live.sum()), control=CONTROL,
                     train_accuracy=r["accuracy"][sel].numpy().round(3).tolist())
    # the bound speaks of networks that train: the runs whose weights decay away (about half
    # at B = 1, 2 mu lambda = 0.05) are counted (parameters, notes), not tested; enough live
    # runs must remain. Not a tracked figure: a share of 12 runs near 1 is too coarse for
    # a drift test (7 of 12 under one calibration seed, 10-12 under the rest).
    if live.sum() < MIN_LIVE:
        claim.inconclusive(f"only {int(live.sum())} of {int(sel.sum())} runs kept a non-zero, "
                           f"learning network (at least {MIN_LIVE} are needed)")
    claim.expect_exact(bound, upper=int(init_h.min()) - 1, n=len(init_h), units="inits",
                       statistic="bound B k",
                       name="(b) the bound is below the hidden layer's eps-rank at "
                            "initialization (non-vacuous)",
                       meaning=f"min eps-rank at init over every run: {int(init_h.min())}")
    claim.expect_exact((eps_h[live] - bound).max(), upper=0, n=int(live.sum()), units="runs",
                       statistic="max over live runs of eps-rank - B k",
                       name="(b) trained eps-rank <= B ceil(log(2/eps) / (2 mu lambda))",
                       meaning=f"eps = {EPS}, Frobenius, hidden layer")
    claim.control_exact((eps_h[ctrl] - bound).max(), upper=0, n=int(ctrl.sum()), units="runs",
                        statistic="max over lambda -> 0 runs of eps-rank - this regime's B k",
                        name="lambda -> 0 runs (2 mu lambda = 1e-5, same steps) against this "
                             "regime's bound (control: could hold, must not)",
                        meaning="their trained eps-rank, measured: training alone would pass "
                                "if it lowered the rank below the bound")
    claim.sensitivity_exact(ratio.max() if ratio.size else np.nan, upper=2.0,
                            n=int(ratio.size), units="(run, layer)",
                            statistic="max ||W_(T-k)|| / ||W_T||",
                            name="premise: norm ratio over the window <= 2 (then (1 - 2 mu "
                                 "lambda)^k ratio <= eps exactly)")
    claim.measure("eps-rank of the hidden layer, live runs", eps_h[live].double())
    claim.measure("bound / eps-rank, hidden layer", bound / eps_h[live].clamp(min=1).double(),
                  meaning="slack")
    claim.measure("|norm ratio - 1| over the window", np.abs(ratio - 1))
    claim.measure("eps-rank of the hidden layer at lambda -> 0", eps_h[ctrl].double())
    claim.note(f"Regime B = {b}, 2 mu lambda = {d}: k = {k}, bound {bound}; "
               f"{int(live.sum())} of {int(sel.sum())} runs live (train accuracy > 0.75, "
               f"weights not collapsed). Hidden-layer eps-rank: trained "
               f"{eps_h[live].min().item() if live.any() else float('nan'):.0f} to "
               f"{eps_h[live].max().item() if live.any() else float('nan'):.0f}, at init "
               f"{init_h.min().item():.0f} to {init_h.max().item():.0f}, lambda -> 0 runs "
               f"{eps_h[ctrl].min().item():.0f} to {eps_h[ctrl].max().item():.0f}. Norm ratio "
               f"over the window {ratio.min():.3f} to {ratio.max():.3f}.")
    w1_init = int(r["init_eps_rank"][:, 0].min())
    claim.note(f"Only the square hidden layer is tested. W_1 ({cfg['width']} x 64) starts at "
               f"eps-rank {w1_init}, capped by the 64 input pixels: "
               + ("at or below this regime's bound, so the bound says nothing there"
                  if w1_init <= bound else f"only {w1_init - bound} above this regime's bound")
               + f"; W_3 (2 x {cfg['width']}) has rank <= 2 by shape (issue 13, item 6).")

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    axes[0].scatter(np.full(int(live.sum()), bound), eps_h[live], s=18, label="trained")
    axes[0].scatter(np.full(len(init_h), bound), init_h, marker="^", s=18, label="at init")
    axes[0].scatter(np.full(int(ctrl.sum()), bound), eps_h[ctrl], marker="x", s=24,
                    label="lambda -> 0")
    axes[0].axhline(bound, c="k", ls="--", lw=1, label="bound B k")
    axes[0].set(yscale="log", xlabel="bound", ylabel=f"eps-rank (eps = {EPS}), hidden layer",
                title=f"B = {b}, 2 mu lambda = {d}")
    axes[0].legend(fontsize=7)
    steps = np.arange(r["hidden_norms"].shape[0])
    hn = r["hidden_norms"][:, live].numpy()
    if hn.size:
        axes[1].plot(steps[k:], np.median(hn[:-k] / hn[k:], 1))
    axes[1].axhline(1, c="k", lw=0.8)
    axes[1].set(yscale="log", xlabel="SGD step t", ylabel="||W_(t-k)|| / ||W_t|| (hidden)",
                title="norm-ratio premise (median over live runs)")
    claim.plot(fig, caption="Left: the hidden layer's eps-rank trained with weight decay, at "
                            "initialization and trained with lambda -> 0, against the bound. "
                            "Right: the premise, the norm ratio over the theorem's window.")
