"""O4: a fixed-shape model slides into place only from nearby; a many-bump model does not
need to slide."""
import matplotlib.pyplot as plt

from fixtures.gaussian_sliding import run_sliding
from harness import Claim, Verdict
from harness.device import single_thread

CLAIM = Claim(
    id="O4",
    title="Sliding vs spawning a Gaussian bump",
    statement="Fitting a Gaussian bump with a model that can only slide one bump succeeds "
              "when it starts close to the target and fails from far away (no useful "
              "gradient), while an overparameterized sum of many fixed bumps with learnable "
              "amplitudes fits it from any start.",
    source="001_2f1459f699633da3.txt (thread: 'a stupid simple model where you can slide your "
           "gaussian left and right ... If you're too far, too bad, no meaningful gradient. "
           "Instead, neural nets give you the option to spawn a gaussian anywhere')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured (width 1, 2000 GD steps): the sliding bump reached the target from "
                 "every start up to D = 5 widths and from none at D >= 6 (the gradient decays "
                 "like exp(-D^2/4)); 40 bumps at random centres fitted >= 96% of runs at every "
                 "D. At D = 0 both always succeed, so the comparison fails there as the control "
                 "requires.",
)
SETTINGS = {
    "smoke": {"distances": [0, 2, 4, 8], "inits": 10, "width": 1.0, "half_range": 10.0,
              "grid": 101, "bumps": 40, "steps": 500, "lr_centre": 1.0, "success_rmse": 0.05},
    "default": {"distances": [0, 1, 2, 3, 4, 5, 6, 7, 8], "inits": 80, "width": 1.0,
                "half_range": 10.0, "grid": 201, "bumps": 40, "steps": 2000, "lr_centre": 1.0,
                "success_rmse": 0.05},
    "paper": {"distances": [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4, 4.5, 5, 5.5, 6, 7, 8],
              "inits": 500, "width": 1.0, "half_range": 10.0, "grid": 401, "bumps": 40,
              "steps": 20000, "lr_centre": 1.0, "success_rmse": 0.05},
}


def test_gaussian_sliding(claim, budget, seeds, device):
    cfg = budget.select(SETTINGS)
    claim.parameters(**cfg)
    with single_thread(device):
        res = run_sliding(cfg, seeds.torch(0))
    dist, ok_a, ok_b = res["distances"], res["success_a"], res["success_b"]
    inits = ok_a.shape[1]
    far = -1
    claim.expect_trend(dist, ok_a.astype(float), direction="decreasing", alpha=0.01,
                       min_effect=0.5, name="sliding bump: success falls with start distance")
    claim.expect_bound(ok_a[far].mean(), upper=0.05, n=inits,
                       statistic=f"sliding success at D = {dist[far]:g}",
                       name="sliding bump fails from far away (<= 5%)")
    claim.expect_bound(ok_b.mean(1).min(), lower=0.95, n=ok_b.size,
                       statistic="many-bump success, worst D",
                       name="many bumps succeed at every D (>= 95%)")
    claim.expect_compare_proportions(ok_b[far].sum(), inits, ok_a[far].sum(), inits,
                                     alternative="greater", alpha=0.01, min_effect=0.5,
                                     name=f"many bumps beat sliding at D = {dist[far]:g}")
    claim.control_compare_proportions(ok_b[0].sum(), inits, ok_a[0].sum(), inits,
                                      alternative="greater", alpha=0.01, min_effect=0.5,
                                      name="many bumps beat sliding at D = 0 (control)")
    for thr in (0.01, 0.2):
        claim.sensitivity_bound((res["rel_b"] < thr).mean(1).min(), lower=0.95, n=ok_b.size,
                                statistic="many-bump success, worst D",
                                name=f"success = relative MSE < {thr} instead of "
                                     f"{cfg['success_rmse']}")
    for d, a, b in zip(dist, ok_a.mean(1), ok_b.mean(1)):
        claim.measure(f"success D={d:g}: sliding", [a])
        claim.measure(f"success D={d:g}: many bumps", [b])
    claim.note(f"Target: a unit bump of width {cfg['width']} at 0 on {cfg['grid']} points in "
               f"+-{cfg['half_range']}. Both models start as one unit bump at distance D "
               f"(random side, jitter +-0.1 width); {cfg['steps']} GD steps each (the sliding "
               f"centre with lr {cfg['lr_centre']}, amplitudes with lr 1/lambda_max of their "
               f"Gram matrix). Success = squared error below {cfg['success_rmse']:g} of the "
               "target's energy. Where the sliding model's cliff falls depends on the step "
               "budget (its gradient is ~exp(-D^2/4)); that it falls does not.")

    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6))
    ax.plot(dist, ok_a.mean(1), "o-", label="slide one bump (A)")
    ax.plot(dist, ok_b.mean(1), "s-", label=f"{cfg['bumps']} fixed bumps, learn amplitudes (B)")
    ax.set(xlabel="initial distance D (bump widths)", ylabel="success rate",
           title="success map over init distance")
    ax.legend(fontsize=7)
    ax2.plot(res["t"], res["target"], "k", label="target")
    ax2.plot(res["t"], res["example_b_start"], "C1:", label=f"start (D = {dist[far]:g})")
    ax2.plot(res["t"], res["example_b"], "C1", label="B after training")
    ax2.set(xlabel="t", title="B spawns a bump where needed")
    ax2.legend(fontsize=7)
    claim.plot(fig, caption="Success rate of both models against the start distance; right: "
                            "one far start of the many-bump model before and after training.")
