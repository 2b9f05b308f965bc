"""B7: minima in one Rashomon set are joined by stepping in the Hessian's null space.

Method: converged minima of the shared XOR population (fixtures.xor). Same-set pairs: B is
minimum A moved 0.3 along the null-space projection of a random direction, re-projected to
zero loss after every 0.01 step (fixtures.xor_geometry). The walk A -> B projects B - theta
onto null(J) (I - J^+ J, equal to the Hessian's null-space projector at r = 0), steps at most
s, and re-projects by Gauss-Newton; its max loss counts the unprojected intermediate points.
Control: the straight segment A-B. Different-init pairs per width: the same walk with a step
budget of 3 |A - B| / s, reported as a measured finding.
"""
import matplotlib.pyplot as plt
import numpy as np
import torch

from fixtures.xor import mse, xor_data
from fixtures.xor_geometry import (
    converged_minima,
    drift_in_null_space,
    null_space_walk,
    null_step,
    reproject,
    straight_line_barrier,
)
from harness import Claim, Verdict

CLAIM = Claim(
    id="B7",
    title="Null-space walks join minima of one Rashomon set at ~zero loss",
    statement="Two networks in the same connected zero-loss set can be joined by repeatedly "
              "projecting their difference onto the Hessian's zero eigenspace and stepping, "
              "with the loss staying ~0 along the way.",
    source="003_c025dbd4f5c74a9f.txt (post, 'Visualizing the basin': 'a program that finds "
           "paths between connected minima ... steps in the 0-eigenspace of the Hessian')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured: every same-set pair was reached (distance < 1e-3) with max loss "
                 "< 1e-6 at step 0.003, while the straight segment's barrier exceeded 1e-6 in "
                 "most pairs.",
)
SETTINGS = {"smoke": {"pairs": 20, "cross_pairs": 10, "widths": [4]},
            "default": {"pairs": 60, "cross_pairs": 20, "widths": [2, 3, 4, 8, 16]},
            "paper": {"pairs": 500, "cross_pairs": 200, "widths": [2, 3, 4, 8, 16, 32]}}
STEP, DRIFT, DRIFT_STEP, CROSS_STEP, MAX_LOSS, REACH = 0.003, 0.3, 0.01, 0.02, 1e-6, 1e-3


def test_null_space_walks_connect_minima(claim, budget, seeds, xor_population):
    cfg = budget.select(SETTINGS)
    claim.parameters(**cfg, step=STEP, drift=DRIFT, cross_step=CROSS_STEP, max_loss=MAX_LOSS)
    gen = seeds.torch()
    runs = xor_population["runs"]
    profile = None
    for act in ("tanh", "relu"):
        run = runs[f"{act}-3"]
        for subset, mask in (("all", None), ("no kink", ~run["kink"])) if act == "relu" \
                else (("all", None),):
            a, _ = converged_minima(run, cfg["pairs"], mask)
            b = drift_in_null_space(a, DRIFT, DRIFT_STEP, 3, act, gen)
            walk = null_space_walk(a, b, STEP, 3, act, int(3 * DRIFT / STEP) + 10, REACH)
            ok = walk["reached"] & (walk["max_loss"] < MAX_LOSS)
            claim.expect_bound(1 - ok.double().mean(), upper=0.1, n=len(ok),
                               statistic="share of pairs not joined at loss < 1e-6",
                               name=f"null-space walk joins >= 90% of pairs ({act} h=3, "
                                    f"{subset} minima)")
            if subset == "all":
                a_all, b_all, walk_all = a, b, walk
        a, b, walk = a_all, b_all, walk_all
        line = straight_line_barrier(a, b, 3, act)
        claim.control_bound(1 - (line < MAX_LOSS).double().mean(), upper=0.1, n=len(line),
                            statistic="share of pairs whose straight segment exceeds 1e-6",
                            name=f"straight line also joins >= 90% ({act} h=3, control)")
        claim.sensitivity_compare(line.numpy(), walk["max_loss"].numpy(), alternative="greater",
                                  paired=True,
                                  name=f"straight-line barrier > walk max loss ({act})")
        coarse = null_space_walk(a, b, DRIFT_STEP, 3, act, int(3 * DRIFT / DRIFT_STEP) + 10, REACH)
        claim.sensitivity_bound(1 - (coarse["reached"] & (coarse["max_loss"] < MAX_LOSS))
                                .double().mean(), upper=0.1, n=len(a),
                                statistic="share not joined", name=f"step 0.01 ({act})")
        claim.measure(f"walk max loss {act}", walk["max_loss"], unit="loss")
        claim.measure(f"straight-line barrier {act}", line, unit="loss")
        if act == "tanh":
            profile = (a[0], b[0])
    for act in ("tanh", "relu"):
        for h in cfg["widths"]:
            run = runs[f"{act}-{h}"]
            theta, _ = converged_minima(run, 2 * cfg["cross_pairs"])
            a, b = theta[0::2], theta[1::2]
            n = min(len(a), len(b))
            a, b = a[:n], b[:n]
            budget_steps = int(3 * (a - b).norm(dim=-1).max() / CROSS_STEP) + 1
            walk = null_space_walk(a, b, CROSS_STEP, h, act, budget_steps, REACH)
            joined = walk["reached"] & (walk["max_loss_on_set"] < 1e-20)
            claim.measure(f"different-init pairs joined {act} h={h}", joined.double(),
                          unit="fraction", meaning="reached B on the zero-loss set")
            claim.sensitivity_proportion(int(joined.sum()), n, p0=0.5, alternative="greater",
                                         name=f"different inits joined ({act} h={h})")
    claim.note("Different-init pairs: 'joined' = reached B (distance < 1e-3) with every "
               "re-projected point at loss < 1e-20, steps of 0.02, budget 3 |A - B| / 0.02; "
               "the share per width is a finding (measured, pinned as a figure), not assumed.")
    claim.note("Re-projection: 6 Gauss-Newton steps after each step. With 3, ReLU walks that "
               "cross a kink were left at loss ~1e-12 on the set and only ~5% of wide ReLU "
               "different-init pairs counted as joined (95-100% with 6).")
    claim.note("Step 0.003 for the same-set walks: off the zero-loss set the loss grows ~s^2 "
               "at ReLU kinks (~s^4 for tanh), so s^2 ~ 1e-5 keeps it under 1e-6; step 0.01 "
               "is the sensitivity row.")
    _plot(claim, *profile)


def _plot(claim, a, b):
    """Loss along one walk (unprojected points, by distance travelled) vs the straight line."""
    x, y = xor_data()
    theta, travelled, along = a[None], [0.0], [float(mse(a, x, y, 3, "tanh"))]
    for _ in range(int(3 * DRIFT / STEP)):
        if float((b - theta).norm()) < REACH:
            break
        moved, _ = null_step(theta, b[None] - theta, STEP, 3, "tanh")
        along.append(float(mse(moved, x, y, 3, "tanh")))
        travelled.append(travelled[-1] + float((moved - theta).norm()))
        theta = reproject(moved, 3, "tanh")
    t = torch.linspace(0, 1, 101, dtype=a.dtype)[:, None]
    line = mse((1 - t) * a + t * b, x, y, 3, "tanh")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.semilogy(t.squeeze().numpy(), line.numpy() + 1e-32, label="straight line A-B")
    ax.semilogy(np.array(travelled) / travelled[-1], np.array(along) + 1e-32, ".",
                label="null-space walk (before each re-projection)")
    ax.axhline(MAX_LOSS, color="k", ls=":", lw=1, label="1e-6")
    ax.set(xlabel="fraction of the way from A to B", ylabel="loss")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="One tanh h = 3 pair: loss along the straight segment vs along the "
                            "null-space walk (points of ~1e-30 are the floor of float64).")
