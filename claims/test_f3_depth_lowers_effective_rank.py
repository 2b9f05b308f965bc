"""F3: deeper (linear) networks have lower effective rank, at init and after training."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fixtures.depth_rank import init_factors, product, ranks, regression_task, train
from harness import Claim, Verdict

CLAIM = Claim(
    id="F3",
    title="Depth lowers effective rank",
    statement="A linear layer over-parameterized as a product of d linear factors maps data "
              "to embeddings of lower effective rank the deeper it is, at initialization and "
              "after training, with the same capacity at every depth.",
    source="Huh, Mobahi, Zhang, Cheung, Agrawal & Isola, TMLR 2023, 'The Low-Rank Simplicity "
           "Bias in Deep Networks' (arXiv:2103.10427); catalogue ../shared/CLAIMS.md, F3. "
           "Speaks to G12 (deep linear layers align, rank 1) and G13 (top layers low rank).",
    expected=Verdict.SUPPORTED,
    why_expected="Measured at the default budget: the effective rank of the end-to-end map and "
                 "of the embedding Gram matrix falls at every step of depth in almost every "
                 "seed, at init (Gaussian factors) and after Adam fits the under-determined "
                 "regression, by more than one rank unit and 10%. After training the "
                 "control is an over-determined regression (n >= D: one solution, which "
                 "every depth fits), where the rank does not fall with depth. At init the "
                 "only control, orthogonal factors, is constant by construction (declared "
                 "so): the init arm is SUPPORTED without a substantive control. The depth "
                 "labels permuted within each seed are a placebo. Caveat, shown as "
                 "sensitivity rows of the trained arm: with n < D the data leave part of the "
                 "map at its init, and the same training from orthogonal factors (no depth "
                 "effect at the start) gives no fall of the map's effective rank with depth "
                 "and a smaller one of the embedding Gram's: most of the trained arm's effect "
                 "is inherited from the Gaussian start (its deepest orthogonal-start nets "
                 "also fit less well; figures in the notes). See the run's notes.",
    speaks_to=("G12", "G13"),
    no_substantive_control="at init the mechanism (a product of Gaussian factors) has no "
                           "variable-response absent case: orthogonal factors, the "
                           "catalogue's control, keep effective rank D at every depth by "
                           "construction",
    regime="products of d in {1, 2, 4, 8} square linear factors (D = 32, N(0, 1/D), nested "
           "per seed), at init and after full-batch Adam fits an under-determined low-rank "
           "regression (n = 16 < D) to train MSE below 1e-3; effective rank = exp(spectral "
           "entropy)",
)
_BASE = {"dim": 32, "depths": [1, 2, 4, 8], "teacher_rank": 4, "n_train": 16, "n_test": 256,
         "n_probe": 64, "lr": 1e-3, "n_determined": 64}  # n_determined >= D: the control
SETTINGS = {
    "smoke": {**_BASE, "seeds": 6, "steps": 200},
    "default": {**_BASE, "seeds": 16, "steps": 2000},
    "paper": {**_BASE, "seeds": 64, "steps": 4000},
}
WIDE = {"dim": 128, "depths": [1, 2, 4, 8, 16], "steps_factor": 2}  # paper-only arms
FLOOR_RHO = 0.5
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%


def _config(cfg, arm):
    if arm.endswith("-wide"):
        return {**cfg, "dim": WIDE["dim"], "depths": WIDE["depths"],
                "steps": cfg["steps"] * WIDE["steps_factor"]}
    return cfg


def _compute(cfg, trained, seeds):
    s, dim, depths = cfg["seeds"], cfg["dim"], cfg["depths"]
    gen = seeds.child("init").torch()
    # nested factors: depth d uses the first d of one stack per seed, so the depths of one
    # seed share their init (a block) and differ only in depth
    gauss = init_factors(gen, s, dim, max(depths), "gaussian")
    orth = init_factors(gen, s, dim, max(depths), "orthogonal")
    task = regression_task(seeds.child("task").torch(), s, dim, cfg["teacher_rank"],
                           cfg["n_train"], cfg["n_test"])
    probe = torch.randn(cfg["n_probe"], dim, generator=seeds.child("probe").torch(),
                        dtype=torch.float64)
    determined = regression_task(seeds.child("task-determined").torch(), s, dim,
                                 cfg["teacher_rank"], cfg["n_determined"], cfg["n_test"])
    out = {"config": cfg, "map": [], "gram": [], "orth_map": [], "orth_gram": [],
           "train_mse": [], "test_mse": [], "determined_map": [], "determined_mse": [],
           "orth_start_map": [], "orth_start_gram": [], "orth_start_mse": []}
    for d in depths:
        if trained:
            fit = train(gauss[:d], task, lr=cfg["lr"], steps=cfg["steps"])
            r = ranks(fit["w"], task["x_test"][0])
            out["train_mse"].append(fit["train_mse"])
            out["test_mse"].append(fit["test_mse"])
            # n >= D: the data determine the map, so depth has no solutions to choose among
            fit_d = train(gauss[:d], determined, lr=cfg["lr"], steps=cfg["steps"])
            out["determined_map"].append(ranks(fit_d["w"], determined["x_test"][0])["map"])
            out["determined_mse"].append(fit_d["train_mse"])
            # the same training from orthogonal factors: a start without a depth effect
            fit_o = train(orth[:d], task, lr=cfg["lr"], steps=cfg["steps"])
            r_o = ranks(fit_o["w"], task["x_test"][0])
            out["orth_start_map"].append(r_o["map"])
            out["orth_start_gram"].append(r_o["gram"])
            out["orth_start_mse"].append(fit_o["train_mse"])
        else:
            r = ranks(product(gauss[:d]), probe)
            ro = ranks(product(orth[:d]), probe)
            out["orth_map"].append(ro["map"])
            out["orth_gram"].append(ro["gram"])
        out["map"].append(r["map"])
        out["gram"].append(r["gram"])
    return {k: (torch.stack(v).numpy() if isinstance(v, list) and v else v)
            for k, v in out.items()}


@pytest.fixture(scope="session")
def f3_runs(budget, shared_seeds, disk_cache):
    """One batched computation per arm (init, trained; wide versions at the paper budget),
    computed when an arm first asks for it. Arrays are (depths, seeds)."""
    cfg = budget.select(SETTINGS)
    done = {}

    def get(arm):
        if arm not in done:
            c = _config(cfg, arm)
            trained = arm.startswith("trained")
            done[arm] = disk_cache.get_or_compute(
                f"f3-{arm}", {**c, "trained": trained},
                lambda: _compute(c, trained, shared_seeds(f"f3-{arm}")))
        return done[arm]
    return get


@pytest.mark.parametrize("arm", ["init", "trained",
                                 pytest.param("init-wide", marks=pytest.mark.paper_only),
                                 pytest.param("trained-wide", marks=pytest.mark.paper_only)])
def test_depth_lowers_effective_rank(claim, f3_runs, seeds, arm):
    res = f3_runs(arm)
    cfg = res["config"]
    depths = np.array(cfg["depths"], dtype=float)
    claim.parameters(**cfg, arm=arm)
    when = "after training" if arm.startswith("trained") else "at init"
    claim.expect_trend(depths, res["map"], direction="decreasing", min_effect=FLOOR_RHO, **RAW,
                       name=f"effective rank of the end-to-end map falls with depth ({when})",
                       meaning="exp(entropy of the normalized singular values) of W_d...W_1, "
                               "Page's test with seeds as blocks")
    claim.expect_trend(depths, res["gram"], direction="decreasing", min_effect=FLOOR_RHO, **RAW,
                       name=f"effective rank of the embedding Gram matrix falls with depth "
                            f"({when})",
                       meaning="the Gram matrix of the embeddings W x of held-out inputs")
    shuffled = seeds.numpy().permuted(res["map"], axis=0)
    claim.placebo_trend(depths, shuffled, direction="decreasing", min_effect=FLOOR_RHO, **RAW,
                        name="depth labels permuted within each seed (placebo)")
    if arm.startswith("trained"):
        claim.control_trend(depths, res["determined_map"], direction="decreasing",
                            min_effect=FLOOR_RHO, **RAW,
                            name=f"n = {cfg['n_determined']} >= D = {cfg['dim']}: the data "
                                 f"determine the map (could hold, must not)",
                            meaning="the same training on an over-determined regression: one "
                                    "solution, so depth can lower its rank only by not "
                                    "fitting it")
        # with n < D the data leave part of the map at its init: the same training from a
        # start without a depth effect tells how much of the effect training itself makes
        for key, what in (("orth_start_map", "end-to-end map"), ("orth_start_gram",
                                                                   "embedding Gram matrix")):
            claim.sensitivity_trend(depths, res[key], direction="decreasing",
                                    min_effect=FLOOR_RHO, **RAW,
                                    name=f"trained from orthogonal factors: effective rank of "
                                         f"the {what} falls with depth")
    else:
        claim.control_trend(depths, res["orth_map"], direction="decreasing",
                            min_effect=FLOOR_RHO, **RAW,
                            name="orthogonal factors: no depth effect at init (control)",
                            constant_by_construction="a product of orthogonal factors is "
                                                     "orthogonal: effective rank D at every "
                                                     "depth")
    med = {k: np.median(res[k], axis=1) for k in ("map", "gram")}
    for i, d in enumerate(cfg["depths"]):
        claim.measure(f"effective rank of the map, depth {d}", res["map"][i])
        claim.measure(f"effective rank of the embedding Gram, depth {d}", res["gram"][i])
    text = (f"{cfg['seeds']} seeds, D = {cfg['dim']}, {when}: median effective rank of the "
            f"map by depth " + ", ".join(f"d={d}: {v:.1f}" for d, v in
                                         zip(cfg["depths"], med["map"]))
            + "; of the embedding Gram " + ", ".join(f"d={d}: {v:.1f}" for d, v in
                                                    zip(cfg["depths"], med["gram"])) + ".")
    if arm.startswith("trained"):
        tr, te = np.asarray(res["train_mse"]), np.asarray(res["test_mse"])
        for i, d in enumerate(cfg["depths"]):
            claim.measure(f"train MSE, depth {d}", tr[i])
            claim.measure(f"test MSE, depth {d}", te[i])
        text += (" Beside it (the catalogue asks for test performance): median train MSE "
                 + ", ".join(f"{v:.2g}" for v in np.median(tr, axis=1)) + "; test MSE "
                 + ", ".join(f"{v:.3g}" for v in np.median(te, axis=1))
                 + f" (teacher of rank {cfg['teacher_rank']}, {cfg['n_train']} samples in "
                 f"D = {cfg['dim']}: what the data leave free keeps its init, which is what "
                 f"the test error mostly measures). Control, n = {cfg['n_determined']}: "
                 f"median effective rank of the map "
                 + ", ".join(f"{v:.2f}" for v in np.median(res["determined_map"], axis=1))
                 + ", train MSE " + ", ".join(f"{v:.2g}" for v in
                                              np.median(res["determined_mse"], axis=1))
                 + " by depth. Trained from orthogonal factors (effective rank D at every "
                 "depth before training): median effective rank of the map "
                 + ", ".join(f"{v:.1f}" for v in np.median(res["orth_start_map"], axis=1))
                 + ", of the embedding Gram "
                 + ", ".join(f"{v:.1f}" for v in np.median(res["orth_start_gram"], axis=1))
                 + ", train MSE " + ", ".join(f"{v:.2g}" for v in
                                              np.median(res["orth_start_mse"], axis=1))
                 + " by depth.")
    else:
        text += (" Orthogonal factors: effective rank "
                 + ", ".join(f"{v:.3g}" for v in np.median(res["orth_map"], axis=1))
                 + " at every depth (the product is orthogonal).")
    claim.note(text)

    fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    for ax, key in zip(axes, ("map", "gram")):
        ax.plot(depths, res[key], color="C0", alpha=0.3, lw=0.8)
        ax.plot(depths, med[key], "o-", color="C3", label="median")
        ax.set(xscale="log", xticks=depths, xticklabels=[str(d) for d in cfg["depths"]],
               xlabel="depth d", ylabel=f"effective rank ({key})")
    axes[0].legend(fontsize=8)
    claim.plot(fig, caption=f"Effective rank against depth, {when} (one line per seed).")
