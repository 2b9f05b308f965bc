"""F4: a function-preserving rescaling makes a ReLU minimum as sharp as one likes."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch
from scipy import stats as st

from fixtures.rescaling import (balance, forward_batched, population_errors, rescale,
                                sharpness, teacher_task, train_population)
from harness import Claim, Verdict
from harness.stats import correlation_se

CLAIM = Claim(
    id="F4",
    title="Rescaling moves sharpness, not the function",
    statement="For ReLU networks, the layer rescaling (W1 a, b1 a, W2 / a) leaves the function "
              "unchanged but moves the sharpness of a minimum (largest Hessian eigenvalue, "
              "Hessian trace) over as many decades as one likes; over a population of minima, "
              "such rescalings make naive sharpness correlate with test error with either "
              "sign, while a rescaling-invariant measure does not move.",
    source="Dinh, Pascanu, Bengio & Bengio, ICML 2017, 'Sharp Minima Can Generalize For Deep "
           "Nets' (PMLR 70:1019-1028); catalogue ../shared/CLAIMS.md, F4. Speaks to C2 "
           "(flatness vs compression) and B8 (spectra of minima).",
    expected=Verdict.SUPPORTED,
    why_expected="An identity of positively homogeneous ReLUs: outputs agree to float64 "
                 "rounding while lambda_max moves by more than four decades over a in "
                 "[1e-3, 1e3] (the first grid, [1e-2, 1e2], gave 2.3 in the least-moved net); "
                 "ranking the rescaling factor by test error makes Spearman(naive "
                 "sharpness, test error) near +1 or near -1 at will (measured at the default "
                 "budget), while an error-blind rescaling of the same spread does not reach "
                 "the floor (the population arm's substantive control), and the balanced "
                 "(rescaling-invariant) sharpness stays put. The exact arm is SUPPORTED "
                 "without a substantive control: its control (layer 1 scaled alone) moves "
                 "the outputs by construction and is declared so.",
    speaks_to=("C2", "B8"),
    no_substantive_control="the exact arm checks an identity of positively homogeneous ReLUs: "
                           "its absent cases (layer 1 scaled alone, a = 1) are fixed by the "
                           "same algebra; the population arm has one (error-blind rescaling)",
    regime="ReLU MLP d-12-12-1 (float64) trained by Adam to (near) interpolation of a noisy "
           "tanh-teacher regression, sharpness = Gauss-Newton Hessian of the training loss "
           "at the minimum, one layer rescaling per net with a in [1e-3, 1e3]",
)
SETTINGS = {
    "smoke": {"nets": 16, "d": 4, "h": 12, "n_train": 24, "n_test": 256, "noise": 0.3,
              "steps": 300, "lr": 0.01, "scale_range": [0.5, 2.0], "decades": 2.0},
    "default": {"nets": 64, "d": 4, "h": 12, "n_train": 24, "n_test": 512, "noise": 0.3,
                "steps": 3000, "lr": 0.01, "scale_range": [0.5, 2.0], "decades": 2.0},
    "paper": {"nets": 256, "d": 8, "h": 32, "n_train": 48, "n_test": 2048, "noise": 0.3,
              "steps": 6000, "lr": 0.005, "scale_range": [0.5, 2.0], "decades": 2.0},
}
GRID = np.logspace(-3, 3, 13)  # rescaling factors of the exact arm
# A first run used a in [1e-2, 1e2]: there the least-moved net moved 2.3 decades, because the
# rescaled blocks (layers 1 and 2) are not the ones that dominate lambda_max at a = 1 and each
# moves as a^2 or 1 / a^2 only. "As sharp as one likes" is a statement about the unbounded
# range of a, so the grid was widened to 1e+-3; the narrower grid stays as a sensitivity row.
NARROW = (GRID >= 1e-2 - 1e-12) & (GRID <= 1e2 + 1e-12)
TOL = 1e3 * np.finfo(np.float64).eps  # float64 rounding over a few hundred operations
FLOOR_DECADES = 4.0  # the catalogue's "over >= 4 decades"
FLOOR_RHO = 0.5  # a Spearman correlation of at least 0.5, either sign


def _compute(cfg, seeds):
    task = teacher_task(seeds.child("task").torch(), cfg["nets"], cfg["n_train"],
                        cfg["n_test"], cfg["d"], cfg["noise"])
    lo, hi = np.log(cfg["scale_range"])
    gen = seeds.child("init").torch()
    scales = torch.exp(torch.empty(cfg["nets"], dtype=torch.float64).uniform_(lo, hi,
                                                                               generator=gen))
    params = train_population(task, gen, h=cfg["h"], steps=cfg["steps"], lr=cfg["lr"],
                              scales=scales)
    return {"config": cfg, "task": task, "params": params, "init_scales": scales,
            **population_errors(params, task)}


@pytest.fixture(scope="session")
def f4_population(budget, shared_seeds, disk_cache):
    """A population of trained ReLU nets (float64, CPU: a few small matrices), shared by both
    arms."""
    cfg = budget.select(SETTINGS)
    return disk_cache.get_or_compute("f4-population", cfg,
                                     lambda: _compute(cfg, shared_seeds("f4-population")))


def _common(claim, pop):
    cfg = pop["config"]
    claim.parameters(**cfg, grid=GRID, tol=TOL)
    claim.measure("train MSE of the minima", pop["train_mse"].numpy())
    claim.measure("test MSE of the minima", pop["test_mse"].numpy())


def _exact_arm(claim, pop):
    p, x = pop["params"], pop["task"]["x"]
    nets = p["w1"].shape[0]
    base = forward_batched(p, pop["task"]["x_test"])
    scale = float(base.abs().max())
    moved, moved_bad, lam, tr = [], [], [], []
    for a in GRID:
        af = torch.full((nets,), float(a), dtype=torch.float64)
        q = rescale(p, af)
        moved.append(float((forward_batched(q, pop["task"]["x_test"]) - base).abs().max()) / scale)
        bad = rescale(p, af, preserve=False)
        moved_bad.append(float((forward_batched(bad, pop["task"]["x_test"]) - base).abs().max())
                         / scale)
        s = sharpness(q, x)
        lam.append(s["lambda_max"].numpy())
        tr.append(s["trace"].numpy())
    lam, tr = np.array(lam), np.array(tr)  # (grid, nets)
    span = lambda v: np.log10(v.max(0) / v.min(0))
    n_cases = len(GRID) * nets
    claim.expect_exact(max(moved), upper=0.0, tol=TOL, n=n_cases, units="(a, net) cases",
                       statistic="max |f_a(x) - f_1(x)| / max |f_1(x)| over test inputs",
                       name="outputs unchanged by (W1 a, b1 a, W2 / a), to float64 rounding")
    claim.expect_exact(span(lam).min(), lower=FLOOR_DECADES, n=nets, units="nets",
                       statistic="min over nets of log10(max_a / min_a lambda_max)",
                       name="lambda_max moves over >= 4 decades in every net")
    claim.expect_exact(span(tr).min(), lower=FLOOR_DECADES, n=nets, units="nets",
                       statistic="min over nets of log10(max_a / min_a trace)",
                       name="the Hessian trace moves over >= 4 decades in every net")
    claim.sensitivity_exact(span(lam[NARROW]).min(), lower=FLOOR_DECADES, n=nets,
                            units="nets", statistic="min over nets of log10(max_a / min_a "
                                                    "lambda_max), a in [1e-2, 1e2]",
                            name="the first grid, a in [1e-2, 1e2] (shown: it fell short)")
    claim.control_exact(max(moved_bad), upper=0.0, tol=TOL, n=n_cases,
                        units="(a, net) cases",
                        statistic="max |f_a(x) - f_1(x)| / max |f_1(x)|, layer 1 scaled alone",
                        name="W1 a, b1 a without W2 / a (not function-preserving): outputs "
                             "unchanged (control)",
                        constant_by_construction="by positive homogeneity the outputs become "
                        "b2 + a (f(x) - b2): they move for every a != 1 unless f is constant")
    claim.measure("decades of lambda_max over a in [1e-3, 1e3]", span(lam))
    claim.measure("decades of the Hessian trace over a in [1e-3, 1e3]", span(tr))
    claim.note(f"{nets} minima (train MSE median {np.median(pop['train_mse']):.2g}, max "
               f"{pop['train_mse'].max():.2g}): the largest output change over {len(GRID)} "
               f"rescalings was {max(moved):.2g} of the output scale (tolerance {TOL:.2g}); "
               f"lambda_max moved by {span(lam).min():.2f} to {span(lam).max():.2f} decades "
               f"and the trace by {span(tr).min():.2f} to {span(tr).max():.2f}; scaling layer "
               f"1 alone moved the outputs by up to {max(moved_bad):.3g} of their scale.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for i in range(min(nets, 24)):
        ax.plot(GRID, lam[:, i], color="C0", alpha=0.4, lw=0.8)
    ax.set(xscale="log", yscale="log", xlabel="rescaling a (W1 a, W2 / a)",
           ylabel="lambda_max of the loss Hessian", title="same function, other sharpness")
    claim.plot(fig, caption="lambda_max of each minimum against the rescaling factor (24 "
                            "nets): the function never changes.")


def _population_arm(claim, pop, seeds):
    p, x = pop["params"], pop["task"]["x"]
    err = pop["test_mse"].numpy()
    nets = err.size
    decades = pop["config"]["decades"]
    rank = st.rankdata(err, method="ordinal")
    r01 = (rank - 1) / (nets - 1)
    factors = {  # one rescaling factor per net, a in [1, 10^decades]
        "identity": np.ones(nets),
        "up": 10 ** (decades * r01),  # the worse the net generalizes, the sharper it is made
        "down": 10 ** (decades * (1 - r01)),  # the better it generalizes, the sharper
        "error-blind": 10 ** (decades * seeds.numpy().uniform(0, 1, nets)),  # same spread
    }
    naive, invariant = {}, {}
    for name, a in factors.items():
        q = rescale(p, torch.as_tensor(a))
        s = sharpness(q, x)
        naive[name] = (s["lambda_max"].numpy(), s["trace"].numpy())
        invariant[name] = sharpness(balance(q), x)["lambda_max"].numpy()
    units = "minima"
    claim.expect_trend(err, naive["up"][0], direction="increasing", min_effect=FLOOR_RHO,
                       blocks=False, units=units,
                       name="rescaled 'up': sharper minima generalize worse (rho >= +0.5)",
                       meaning="Spearman(test MSE, lambda_max) after each net is rescaled by "
                               "a factor that grows with its test error")
    claim.expect_trend(err, naive["down"][0], direction="decreasing", min_effect=FLOOR_RHO,
                       blocks=False, units=units,
                       name="rescaled 'down': sharper minima generalize better (rho <= -0.5)",
                       meaning="the same nets, the factor falling with test error")
    inv_change = max(float(np.abs(invariant[k] / invariant["identity"] - 1).max())
                     for k in factors)
    claim.expect_exact(inv_change, upper=0.0, tol=1e-9, n=nets * len(factors), units="cases",
                       statistic="max relative change of the balanced lambda_max",
                       name="a rescaling-invariant measure (lambda_max of the balanced net) "
                            "does not move")
    rho_inv = {k: st.spearmanr(err, v).statistic for k, v in invariant.items()}
    claim.expect_exact(max(abs(rho_inv[k] - rho_inv["identity"]) for k in factors), upper=0.0,
                       tol=1e-12, n=len(factors), units="rescalings",
                       statistic="max |change of Spearman(test MSE, balanced lambda_max)|",
                       name="so its correlation with test error does not move")
    claim.control_trend(err, naive["error-blind"][0], direction="increasing",
                        min_effect=FLOOR_RHO, blocks=False, units=units,
                        name="error-blind rescaling of the same spread: rho >= +0.5 (could "
                             "hold, must not)",
                        meaning="factors drawn log-uniformly over the same decades, "
                                "independently of the test error")
    claim.sensitivity_trend(err, naive["up"][1], direction="increasing", min_effect=FLOOR_RHO,
                            blocks=False, units=units, name="'up' with the Hessian trace")
    claim.sensitivity_trend(err, naive["down"][1], direction="decreasing",
                            min_effect=FLOOR_RHO, blocks=False, units=units,
                            name="'down' with the Hessian trace")
    rho = {k: st.spearmanr(err, v[0]).statistic for k, v in naive.items()}
    for k in factors:
        claim.measure(f"Spearman(test MSE, lambda_max), rescaling {k}", rho[k],
                      floor=correlation_se(rho[k], nets))
    claim.measure("Spearman(test MSE, balanced lambda_max)", rho_inv["identity"],
                  floor=correlation_se(rho_inv["identity"], nets))
    claim.note(f"{nets} minima. Spearman(test MSE, lambda_max): as trained {rho['identity']:+.2f}"
               f", rescaled 'up' {rho['up']:+.2f}, 'down' {rho['down']:+.2f}, error-blind "
               f"{rho['error-blind']:+.2f}; the balanced (invariant) lambda_max gives "
               f"{rho_inv['identity']:+.2f} under every rescaling (largest relative change "
               f"{inv_change:.2g}). The trained population's own correlation is what a "
               f"rescaling-invariant measure sees; the naive one can be set to either sign "
               f"without changing any net's function, which is Dinh et al.'s point.")

    fig, axes = plt.subplots(1, 3, figsize=(9, 3.2), sharey=True)
    for ax, k in zip(axes, ("up", "down", "error-blind")):
        ax.scatter(naive[k][0], err, s=10)
        ax.set(xscale="log", title=f"{k}: rho = {rho[k]:+.2f}", xlabel="lambda_max")
    axes[0].set_ylabel("test MSE")
    claim.plot(fig, caption="The same minima (same functions, same test errors) after three "
                            "rescalings: naive sharpness tracks test error with either sign.")


@pytest.mark.parametrize("arm", ["exact", "population"])
def test_rescaling_moves_sharpness(claim, f4_population, seeds, arm):
    _common(claim, f4_population)
    if arm == "exact":
        _exact_arm(claim, f4_population)
    else:
        _population_arm(claim, f4_population, seeds)
