"""C4: a width-100 net on data a width-30 net fits uses about as many parameters as it.

Method: one task (fixtures.xor_tasks): 8 Gaussian points in the plane, 0/1 labels. 2-30-1
and 2-100-1 nets (arms: tanh and ReLU) from many inits, trained to exact zero loss (GD at
half its stability limit 2 / lambda_max at init, then a Gauss-Newton polish); P - dim =
rank(J) exact at every converged minimum (B1). Primary: the Hodges-Lehmann shift of
log(P - dim) from width 30 (raised by the claim's 20% tolerance) to width 100 is negative by
>= 0.05 (Mann-Whitney). Control, where the claim's premise fails and
the claim could hold only by accident: 160 points, which a width-30 net (P = 121) cannot fit;
the same comparison of rank(J) at the trained points must not hold. Third arm, the catalogue's
regime near width 30's capacity: 96 points (P_30 = 121), tanh nets fitted from init by
Levenberg-Marquardt (fixtures.levenberg: GD stalls there). The arm is tanh only: a ReLU unit's
rescaling ((w1, b1) * c, w2 / c) is a null direction of J, so rank(J) <= P - h = 91 < 96 at
h = 30 and a ReLU width-30 net cannot fit generic data of 96 points. Fourth arm, ReLU near
that cap: 72 points labelled by a fresh width-30 ReLU teacher per task, so the data are ones
a width-30 net fits by construction and the teacher is the width-30 minimum (no local solver
from init reaches an exact ReLU width-30 minimum there: Levenberg-Marquardt stalls near a loss
of 1e-5, recorded per run); width-100 nets fitted from init by Levenberg-Marquardt, compared
with their own task's teacher (paired Wilcoxon signed-rank over tasks).
"""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fixtures.levenberg import fit_lm, planted_fits
from fixtures.xor import analytic_jacobian, init_params
from fixtures.xor_tasks import fit, random_tasks
from harness import Claim, Verdict

CLAIM = Claim(
    id="C4",
    title="Extra width lands in flat directions (width 100 vs 30)",
    statement="If a width-30 net can fit the data exactly, a width-100 net trained on it uses "
              "about as many effective parameters (P - basin dimension) as the width-30 net: "
              "its extra parameters are free, flat directions of the zero-loss set.",
    source="000_01570736ab035b87.txt (thread: 'a neural network of width 100 ... could be "
           "trained to perfect accuracy on a network of width of only 30 ... a 70-dimensional "
           "space of free parameters')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured: on data both widths fit, rank(J) = n at both widths in the "
                 "converged runs (nearly all runs converge at a step of half GD's stability "
                 "limit at init), so the extra P_100 - P_30 = 280 parameters all add to the "
                 "basin dimension; on data the width-30 net cannot fit (the control) the "
                 "width-100 net's rank(J) exceeds the width-30 net's by more than 20%. At the "
                 "former shared step 0.05 most width-100 ReLU runs diverged or stopped short "
                 "of a minimum, which left the ReLU arm undecided under 2 of 5 calibration "
                 "seeds; at the scaled step both arms are SUPPORTED under the default master "
                 "seed and --claims-seed 1 and 2 (some width-30 ReLU runs stay stuck short "
                 "of zero loss: counted, not used, as the claim speaks of minima). Near width "
                 "30's capacity (96 points, tanh, Levenberg-Marquardt from init) rank(J) = n "
                 "at both widths in the pilot (20 of 20 converged each): the same holds there. "
                 "Near the ReLU cap (72 points per task labelled by its own width-30 teacher, "
                 "the teacher standing for the width-30 minimum) width-100 minima reach "
                 "rank(J) = n while the teachers' rank(J) is 59 to 72: the paired shift was "
                 "-0.11 to -0.14 with upper bounds at or below -0.07 in 10 of 10 pilot seeds.",
    regime="zero-loss minima (polished loss < 1e-26) of data both widths fit (8 points); "
           "control: 160 points, beyond the width-30 net's 121 parameters; arm "
           "tanh-near-capacity: 96 points, fitted by Levenberg-Marquardt; arm relu-near-capacity: "
           "72 points per task labelled by a width-30 ReLU teacher (the width-30 minimum), "
           "width 100 fitted by Levenberg-Marquardt",
)
SETTINGS = {"smoke": {"n_points": 8, "inits": 10, "steps": 8000,
                      "hard_points": 160, "hard_inits": 10, "hard_steps": 200,
                      "near_points": 64, "near_inits": 6, "lm_iters": 2000,
                      "planted_points": 48, "planted_tasks": 8, "planted_iters": 200},
            "default": {"n_points": 8, "inits": 40, "steps": 40000,
                        "hard_points": 160, "hard_inits": 20, "hard_steps": 200,
                        "near_points": 96, "near_inits": 20, "lm_iters": 4000,
                        "planted_points": 72, "planted_tasks": 30, "planted_iters": 400},
            "paper": {"n_points": 32, "inits": 500, "steps": 100000,
                      "hard_points": 160, "hard_inits": 100, "hard_steps": 5000,
                      "near_points": 112, "near_inits": 200, "lm_iters": 10000,
                      "planted_points": 84, "planted_tasks": 200, "planted_iters": 4000}}
# GD step per (activation, width): half the stability limit 2 / lambda_max of the Gauss-Newton
# Hessian at init (median over PROBE_INITS draws). A shared 0.05 was beyond the limit at width
# 100 (ReLU: about 0.017): runs diverged or stopped short of a minimum (issue 24).
STEP_FRACTION = 0.5
PROBE_INITS = 256
WIDTHS = (30, 100)
RATIO = 1.2
HARD_LR = 0.005  # 160 unnormalized points: lr 0.05 diverged
FLOOR = 0.05  # in log(P - dim): the width-100 count stays >= 5% under 1.2 x width 30's


def _step(x, h, act, gen):
    """STEP_FRACTION x GD's stability limit 2 / lambda_max(Gauss-Newton Hessian of the mean
    squared error) at init, median over PROBE_INITS fresh inits."""
    theta = init_params(PROBE_INITS, h, gen, d=x.shape[-1])
    _, jac = analytic_jacobian(theta, x.expand(PROBE_INITS, -1, -1), h, act)
    lam = torch.linalg.eigvalsh(2 / x.shape[-2] * jac @ jac.transpose(1, 2))[:, -1]
    return STEP_FRACTION * 2 / float(lam.median())


def _fit(x, y, mask, inits, h, act, gen, steps, lr, device):
    return fit(x.expand(inits, -1, -1), y.expand(inits, -1), mask.expand(inits, -1), h, act,
               gen, steps, device=device, lr=lr)


@pytest.fixture(scope="session")
def c4_fits(budget, shared_seeds, device, disk_cache):
    cfg = budget.select(SETTINGS)

    def compute():
        out = {}
        for i, act in enumerate(("tanh", "relu")):
            gen = shared_seeds("c4").torch(replicate=i)
            x, y, mask, _ = random_tasks([cfg["n_points"]], 1, gen)
            xh, yh, mh, _ = random_tasks([cfg["hard_points"]], 1, gen)
            probe = shared_seeds("c4-step").torch(replicate=i)
            for h in WIDTHS:
                out[(act, h, "lr")] = _step(x[0], h, act, probe)
                out[(act, h)] = _fit(x, y, mask, cfg["inits"], h, act, gen, cfg["steps"],
                                     out[(act, h, "lr")], device)
                out[(act, h, "hard")] = _fit(xh, yh, mh, cfg["hard_inits"], h, act, gen,
                                             cfg["hard_steps"], HARD_LR, device)
        return out
    return cfg, disk_cache.get_or_compute("c4-fits", cfg, compute)


@pytest.fixture(scope="session")
def c4_near(budget, shared_seeds, disk_cache):
    """tanh nets at both widths on one task of near_points points (width 30's capacity is
    P = 121), fitted from init by Levenberg-Marquardt."""
    cfg = budget.select(SETTINGS)

    def compute():
        gen = shared_seeds("c4-near").torch()
        x, y, mask, _ = random_tasks([cfg["near_points"]], 1, gen)
        return {h: fit_lm(x[0], y[0], mask[0], cfg["near_inits"], h, "tanh", gen,
                          cfg["lm_iters"]) for h in WIDTHS}
    return cfg, disk_cache.get_or_compute("c4-near", cfg, compute)


@pytest.fixture(scope="session")
def c4_planted(budget, shared_seeds, disk_cache):
    """ReLU, planted_points points per task labelled by its own width-30 teacher; widths 30
    and 100 fitted from init by Levenberg-Marquardt, one net per task."""
    cfg = budget.select(SETTINGS)

    def compute():
        return planted_fits(cfg["planted_tasks"], cfg["planted_points"], 30, WIDTHS, "relu",
                            shared_seeds("c4-planted").torch(), cfg["planted_iters"])
    return cfg, disk_cache.get_or_compute("c4-planted", cfg, compute)


def _beyond_capacity_control(claim, fits, act, hard_points):
    """The control every arm shares: the same comparison on data width 30 cannot fit."""
    hn, hw = fits[(act, 30, "hard")], fits[(act, 100, "hard")]
    claim.control_compare(np.log(hw["rank_j"].numpy().astype(float)),
                          np.log(RATIO * hn["rank_j"].numpy().astype(float)),
                          alternative="less", min_effect=FLOOR, units="trained nets",
                          name=f"{hard_points} points, beyond width 30's capacity (control)",
                          meaning="must NOT hold: the premise (width 30 fits) fails there; "
                                  "not constant by construction: below the caps min(n, P) "
                                  "(ReLU: P - h, one rescaling direction per unit) the ranks "
                                  "vary with dead or saturated units (see the note)")
    return hn, hw


@pytest.mark.parametrize("act", ["tanh", "relu"])
def test_extra_width_lands_in_flat_directions(claim, c4_fits, act):
    cfg, fits = c4_fits
    claim.parameters(**cfg, widths=WIDTHS, max_ratio=RATIO, floor=FLOOR, activation=act,
                     step_fraction=STEP_FRACTION,
                     lr={h: fits[(act, h, "lr")] for h in WIDTHS})
    n = cfg["n_points"]
    support = (np.log(1 / (RATIO * n)), np.log(n / RATIO))  # ranks in [1, n] at both widths
    narrow, wide = fits[(act, 30)], fits[(act, 100)]
    rk = {h: f["rank_j"][f["converged"]].numpy().astype(float) for h, f in
          ((30, narrow), (100, wide))}
    for h, f in ((30, narrow), (100, wide)):
        claim.measure(f"convergence rate h={h}", f["converged"].double(), unit="fraction")
    claim.expect_compare(np.log(rk[100]), np.log(RATIO * rk[30]), alternative="less",
                         min_effect=FLOOR, units="minima", support=support,
                         name="log(P - dim) at h=100 below log(1.2 x P - dim at h=30)",
                         meaning="width 100 uses at most ~1.2x the parameters of width 30")
    claim.expect_exact(max(rk[30].max(), rk[100].max()), upper=cfg["n_points"],
                       n=rk[30].size + rk[100].size, units="minima", statistic="max rank(J)",
                       name="rank(J) <= n at both widths")
    if act == "relu":
        un = {h: f["rank_j"][f["converged"] & ~f["rank_ambiguous"]].numpy().astype(float)
              for h, f in ((30, narrow), (100, wide))}
        if min(u.size for u in un.values()) >= 2:
            claim.sensitivity_compare(np.log(un[100]), np.log(RATIO * un[30]),
                                      alternative="less", min_effect=FLOOR, units="minima",
                                      support=support,
                                      name="same on rank-unambiguous runs")
    hn, hw = _beyond_capacity_control(claim, fits, act, cfg["hard_points"])
    # a ReLU unit's rescaling is a null direction of J: rank(J) <= P - h for ReLU, P for tanh
    cap_name, cap = ("P - h", hn["P"] - hn["h"]) if act == "relu" else ("P", hn["P"])
    grow = ((wide["P"] - np.median(rk[100])) - (narrow["P"] - np.median(rk[30]))
            if rk[30].size and rk[100].size else float("nan"))
    claim.note(f"{act}, n = {cfg['n_points']} points: converged {int(narrow['converged'].sum())}"
               f"/{narrow['converged'].numel()} (h=30, P = {narrow['P']}) and "
               f"{int(wide['converged'].sum())}/{wide['converged'].numel()} (h=100, P = "
               f"{wide['P']}) at GD steps {fits[(act, 30, 'lr')]:.3g} and "
               f"{fits[(act, 100, 'lr')]:.3g}; median rank(J) "
               f"{np.median(rk[30]) if rk[30].size else float('nan'):g}"
               f" vs {np.median(rk[100]) if rk[100].size else float('nan'):g}, so the basin "
               f"dimension grows by {grow:g} of the {wide['P'] - narrow['P']} extra "
               f"parameters (medians). Control, {cfg['hard_points']} "
               f"points after {cfg['hard_steps']} GD steps: median rank(J) "
               f"{np.median(hn['rank_j'].numpy()):g} (h=30, capped by {cap_name} = {cap}) vs "
               f"{np.median(hw['rank_j'].numpy()):g} (h=100); median training loss "
               f"{float(hn['loss'].median()):.2g} vs {float(hw['loss'].median()):.2g}.")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    vals = [rk[30], rk[100], hn["rank_j"].numpy(), hw["rank_j"].numpy()]
    labels = ["h=30\n8 pts", "h=100\n8 pts", f"h=30\n{cfg['hard_points']} pts",
              f"h=100\n{cfg['hard_points']} pts"]
    ax.boxplot([v if len(v) else [np.nan] for v in vals])
    ax.set_xticks(np.arange(1, 5), labels)
    ax.set(yscale="log", ylabel="P - dim = rank(J)", title=act)
    claim.plot(fig, caption="Effective parameters rank(J): the same ~n for width 30 and 100 on "
                            "data both fit; on data beyond width 30's capacity the counts "
                            "part.")


@pytest.mark.parametrize("act", ["tanh"], ids=["tanh-near-capacity"])
def test_near_width_30_capacity(claim, c4_near, c4_fits, act):
    cfg, near = c4_near
    n = cfg["near_points"]
    claim.parameters(near_points=n, near_inits=cfg["near_inits"], lm_iters=cfg["lm_iters"],
                     widths=WIDTHS, max_ratio=RATIO, floor=FLOOR, activation=act,
                     solver="Levenberg-Marquardt from init")
    support = (np.log(1 / (RATIO * n)), np.log(n / RATIO))
    rk = {h: f["rank_j"][f["converged"]].numpy().astype(float) for h, f in near.items()}
    for h, f in near.items():
        claim.measure(f"convergence rate h={h}, n={n}", f["converged"].double(),
                      unit="fraction")
    claim.expect_compare(np.log(rk[100]), np.log(RATIO * rk[30]), alternative="less",
                         min_effect=FLOOR, units="minima", support=support,
                         name=f"n = {n}: log(P - dim) at h=100 below log(1.2 x P - dim at h=30)",
                         meaning="near width 30's capacity, width 100 still uses at most "
                                 "~1.2x the parameters of width 30")
    claim.expect_exact(max(rk[30].max(initial=0), rk[100].max(initial=0)), upper=n,
                       n=rk[30].size + rk[100].size, units="minima", statistic="max rank(J)",
                       name=f"rank(J) <= n = {n} at both widths")
    hard_cfg, fits = c4_fits
    _beyond_capacity_control(claim, fits, act, hard_cfg["hard_points"])
    claim.note(f"tanh, n = {n} points (P = {near[30]['P']} at h=30, {near[100]['P']} at "
               f"h=100), Levenberg-Marquardt from init for up to {cfg['lm_iters']} steps: "
               f"converged {int(near[30]['converged'].sum())}/{near[30]['converged'].numel()} "
               f"and {int(near[100]['converged'].sum())}/{near[100]['converged'].numel()}; "
               f"median rank(J) {np.median(rk[30]) if rk[30].size else float('nan'):g} vs "
               f"{np.median(rk[100]) if rk[100].size else float('nan'):g}. Gradient descent "
               f"at half its stability limit stalls at this n (issue 24's pilot). A ReLU "
               f"width-30 net cannot fit it: one rescaling null direction of J per unit "
               f"leaves rank(J) <= P - h = {near[30]['P'] - 30} < {n}.")


@pytest.mark.parametrize("act", ["relu"], ids=["relu-near-capacity"])
def test_relu_near_capacity_planted(claim, c4_planted, c4_fits, act):
    cfg, fits = c4_planted
    n, teacher, wide = cfg["planted_points"], fits["teacher"], fits[100]
    claim.parameters(planted_points=n, planted_tasks=cfg["planted_tasks"],
                     lm_iters=cfg["planted_iters"], widths=WIDTHS, max_ratio=RATIO,
                     floor=FLOOR, activation=act,
                     width_30_minimum="the task's teacher (fan-in init)",
                     solver="Levenberg-Marquardt from init")
    for h in WIDTHS:
        claim.measure(f"convergence rate from init h={h}, n={n}", fits[h]["converged"].double(),
                      unit="fraction")
    used = wide["converged"] & ~wide["rank_ambiguous"] & ~teacher["rank_ambiguous"]
    rk_wide, rk_teacher = (f["rank_j"][used].numpy().astype(float) for f in (wide, teacher))
    claim.expect_compare(np.log(rk_wide), np.log(RATIO * rk_teacher), alternative="less",
                         paired=True, min_effect=FLOOR, units="tasks",
                         support=(np.log(1 / (RATIO * n)), np.log(n / RATIO)),
                         name=f"n = {n}: log(P - dim) at h=100 below log(1.2 x P - dim of the "
                              f"task's width-30 teacher)",
                         meaning="near the ReLU width-30 cap P - h = 91, width 100 still uses "
                                 "at most ~1.2x the parameters of a width-30 net that fits "
                                 "the same data")
    claim.expect_exact(rk_wide.max(initial=0), upper=n, n=rk_wide.size, units="minima",
                       statistic="max rank(J)", name=f"rank(J) <= n = {n} at h=100")
    hard_cfg, hard = c4_fits
    _beyond_capacity_control(claim, hard, act, hard_cfg["hard_points"])
    student = fits[30]
    claim.note(f"relu, n = {n} points per task, {cfg['planted_tasks']} tasks, each labelled by "
               f"its own width-30 teacher (P = {teacher['P']}, rank(J) <= P - h = "
               f"{teacher['P'] - 30}): teacher rank(J) median "
               f"{np.median(teacher['rank_j'].numpy()):g}, range "
               f"{int(teacher['rank_j'].min())} to {int(teacher['rank_j'].max())} (units dead or "
               f"linear on every point add no rank). Levenberg-Marquardt from init, up to "
               f"{cfg['planted_iters']} steps: width 100 converged "
               f"{int(wide['converged'].sum())}/{wide['converged'].numel()} (median rank(J) "
               f"{np.median(rk_wide) if rk_wide.size else float('nan'):g}; "
               f"{int((wide['converged'] & wide['rank_ambiguous']).sum())} on a kink, not "
               f"used); width 30 converged {int(student['converged'].sum())}/"
               f"{student['converged'].numel()} (median loss {float(student['loss'].median()):.2g}"
               f"), which is why the teacher stands for the width-30 minimum.")
    fig, ax = plt.subplots(figsize=(6, 3.6))
    pairs, count = np.unique(np.stack([rk_teacher, rk_wide], 1), axis=0, return_counts=True)
    ax.scatter(pairs[:, 0], pairs[:, 1], s=20 * count, alpha=0.7, label="tasks (area: count)")
    xs = np.array([min(rk_teacher.min(initial=n), n) - 2, n + 2])
    ax.plot(xs, xs, "k:", lw=1, label="equal")
    ax.plot(xs, RATIO * xs, "r--", lw=1, label=f"{RATIO} x the teacher's (the claim's bound)")
    ax.axhline(n, color="grey", lw=0.8, label=f"n = {n}")
    ax.set(xlabel="rank(J) of the width-30 teacher", ylabel="rank(J) at h=100",
           title=f"relu, {n} planted points", xlim=xs, ylim=(xs[0], RATIO * xs[1]))
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    claim.plot(fig, caption="Per task: the width-100 minimum's effective parameters against "
                            "those of the width-30 teacher that fits the same data.")
