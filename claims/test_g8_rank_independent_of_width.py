"""G8: the rank SGD with weight decay reaches does not grow with the width."""
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.lowrank import draw_lines, flag_summary, flagged_as_nan, layer_rank, select
from harness import Claim, Verdict
from harness.stats import compare

LN = math.log(1e3)  # ln(1/tau), tau = 1e-3
SPREAD = 1.5  # the catalogue's "max/min of final rank <= 1.5"
RAW = {"raw_floor": 1.0, "raw_floor_rel": 0.1}  # a rank trend must also move one unit and 10%
STABLE = 0.95  # a decided primary must keep its outcome in >= 19 of 20 resamples of the nets
RESAMPLES = 200

CLAIM = Claim(
    id="G8",
    title="Learned rank does not grow with width",
    statement="With batch size, learning rate and lambda > 0 fixed, widening the MLP 8x "
              "leaves the rank of its learned square hidden matrices about the same, while "
              "without weight decay the rank tracks the width.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'the ranks are essentially independent "
           "of the width'; the bound does not depend on the width)",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Measured at the default budget (5 independent nets per width, lambda = 1e-2): "
                 "the third hidden matrix keeps the same rank (~7-8) at every width 64-512 "
                 "(SUPPORTED: growth far below 1.5x, while at lambda = 0 the rank tracks the "
                 "width 8x); the second grows slowly with the width (about 1.5-1.6x over 8x, "
                 "Spearman ~0.9), right at the catalogue's 1.5 limit: undecided with 10 nets "
                 "(where another draw decides it by a hair, the bootstrap stability check "
                 "declares it inconclusive). The lambda = 1e-2 nets do not fit (train accuracy "
                 "about 0.35, below the lambda = 0 nets'): the regime the talk describes "
                 "(fitted nets) is not reached here; the note formats the figures.",
    regime="widths 64-512, B = 8, mu = 0.2, 3000 steps: 2 mu lambda T = 12 = 1.7 ln(1/tau) at "
           "lambda = 1e-2 (past the decay horizon); whether those nets fit is reported",
)
LAYERS = {"hidden2": 1, "hidden3": 2}  # the square (width x width) hidden matrices


@pytest.mark.parametrize("layer", list(LAYERS))
def test_rank_independent_of_width(claim, layer, lowrank_width_sweep, seeds):
    cfg = lowrank_width_sweep["config"]
    widths = np.array(cfg["widths"])
    lam = max(cfg["lambdas"])
    by_width = lowrank_width_sweep["by_width"]
    li = LAYERS[layer]
    horizon = 2 * cfg["mu"] * lam * cfg["steps"]
    claim.parameters(**{k: v for k, v in cfg.items()}, layer=layer,
                     horizon_2_mu_lambda_T=horizon,
                     flags={int(w): flag_summary(r) for w, r in by_width.items()})

    def ranks(lam_value, tau=1e-3):
        return np.array([flagged_as_nan(r, layer_rank(r, li, tau))[select(r, lam=lam_value)]
                         for r in by_width.values()])  # (width, seed); inits differ by width

    if layer == "hidden3":
        claim.arm_expects(Verdict.SUPPORTED, "Measured: this matrix's rank is flat across "
                          "widths at lambda = 1e-2 and tracks the width at lambda = 0.")
    decayed, plain = ranks(lam), ranks(0.0)
    lo, hi = widths.argmin(), widths.argmax()
    factor = widths[hi] / widths[lo]
    floor = math.log(factor) - math.log(SPREAD)

    def width_test(check, values, name):
        return check(np.log(values[hi]), np.log(values[lo]) + math.log(factor),
                     alternative="less", min_effect=floor, units="runs", name=name,
                     meaning=f"Hodges-Lehmann shift of log rank(width {widths[hi]}) - log "
                             f"rank(width {widths[lo]}) against log {factor:g} (rank tracking "
                             f"width); must sit {floor:.2f} below it, i.e. a ratio <= "
                             f"{SPREAD:g}; Mann-Whitney over independently initialized nets")
    row = width_test(claim.expect_compare, decayed,
                     f"{layer}, lambda = {lam:g}: rank grows < {SPREAD:g}x while the width "
                     f"grows {factor:g}x (2 mu lambda T = {horizon:.0f} vs ln(1/tau) = "
                     f"{LN:.1f})")
    share = _stability(np.log(decayed[hi]), np.log(decayed[lo]) + math.log(factor), floor,
                       seeds)
    claim.note(f"Stability (../shared/STATISTICS.md): the primary keeps its outcome "
               f"({row.outcome}) in {share:.0%} of {RESAMPLES} bootstrap resamples of the nets.")
    if row.outcome in ("HOLDS", "FAILS") and share < STABLE:
        claim.inconclusive(f"decided on a knife edge: the primary's outcome ({row.outcome}, "
                           f"estimate {row.observed:.3g} vs {row.threshold:.3g}) survives only "
                           f"{share:.0%} of bootstrap resamples of the nets (< {STABLE:.0%}): "
                           "another master seed or machine would decide it otherwise")
    width_test(claim.control_compare, plain,
               f"{layer}, lambda = 0: the same (control: rank tracks the width)")
    claim.sensitivity_trend(widths, decayed, direction="increasing", min_effect=0.5, **RAW,
                            blocks=False, name=f"lambda = {lam:g}: rank grows with width "
                                               "(Spearman over independent nets)")
    claim.sensitivity_trend(widths, plain, direction="increasing", min_effect=0.5, **RAW,
                            blocks=False, name="lambda = 0: rank grows with width")
    d2 = ranks(lam, tau=1e-2)
    width_test(claim.sensitivity_compare, d2, "tau = 1e-2")
    spread = np.nanmax(np.nanmedian(decayed, 1)) / np.nanmin(np.nanmedian(decayed, 1))
    claim.measure(f"{layer}: rank per width (lambda = {lam:g}), median of seeds",
                  np.nanmedian(decayed, 1))
    claim.measure(f"{layer}: rank per width (lambda = 0), median of seeds",
                  np.nanmedian(plain, 1))
    claim.measure(f"{layer}: max / min over widths of the median rank (lambda > 0)", spread)
    train_acc = {int(w): float(np.median(r["train_acc"][-1].numpy()[select(r, lam=lam)]))
                 for w, r in by_width.items()}
    train0 = {int(w): float(np.median(r["train_acc"][-1].numpy()[select(r, lam=0.0)]))
              for w, r in by_width.items()}
    claim.measure("train accuracy at lambda > 0 per width (median of seeds)",
                  list(train_acc.values()))
    claim.note(f"Do the lambda = {lam:g} nets fit? Median train accuracy per width: "
               + ", ".join(f"{w}: {a:.2f}" for w, a in train_acc.items())
               + " (lambda = 0: " + ", ".join(f"{w}: {a:.2f}" for w, a in train0.items())
               + "). Median rank per width: " + ", ".join(
                   f"{w}: {np.nanmedian(r):.1f}" for w, r in zip(widths, decayed))
               + f"; max / min {spread:.2f}.")
    claim.note("Per square hidden matrix (the first, width x 40, is capped at 40 at every "
               "width and would damp the width dependence). Each width has its own inits and "
               "data orders, so the nets are independent units (Mann-Whitney, n = both "
               "widths' seeds).")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    draw_lines(ax, widths, decayed, "C0", f"lambda = {lam:g}", log_x=True)
    draw_lines(ax, widths, plain, "grey", "lambda = 0", log_x=True)
    ax.set(xlabel="width", ylabel=f"{layer} rank (tau = 1e-3)",
           title=f"B = {cfg['batch_size']}, mu = {cfg['mu']}, {cfg['steps']} steps")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Final rank vs width (thin: seeds, thick: median).")


def _stability(a, b, floor, seeds):
    """Share of bootstrap resamples of the nets (each width's drawn apart) whose width test
    has the outcome of the full sample (how likely another draw decides it the same way)."""
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]

    def outcome(x, y):
        return compare(x, y, alternative="less", min_effect=floor).outcome

    rng = seeds.numpy(1)
    observed = outcome(a, b)
    return float(np.mean([outcome(rng.choice(a, a.size), rng.choice(b, b.size)) == observed
                          for _ in range(RESAMPLES)]))
