"""G8: the rank SGD with weight decay reaches does not grow with the width."""
import matplotlib.pyplot as plt
import numpy as np

from fixtures.lowrank import (
    draw_lines,
    flag_summary,
    flagged_as_nan,
    hidden_rank,
    select,
)
from harness import Claim, Verdict

CLAIM = Claim(
    id="G8",
    title="Learned rank does not grow with width",
    statement="With batch size, learning rate and lambda > 0 fixed, widening the MLP 8x "
              "leaves the rank of its learned hidden matrices about the same, while without "
              "weight decay the rank tracks the width.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'the ranks are essentially independent "
           "of the width'; the bound does not depend on the width)",
    expected=Verdict.SUPPORTED,
    why_expected="Measured (widths 64-512, B = 16, mu = 0.2, lambda = 1e-2, 3000 steps): the "
                 "mean hidden rank stayed within a factor ~1.1 across widths (it still rose slightly, Spearman ~0.8), while at "
                 "lambda = 0 it grew with the width.",
)


def test_rank_independent_of_width(claim, lowrank_width_sweep):
    cfg = lowrank_width_sweep["config"]
    widths = np.array(cfg["widths"])
    lam = max(cfg["lambdas"])
    by_width = lowrank_width_sweep["by_width"]
    claim.parameters(**{k: v for k, v in cfg.items()},
                     flags={int(w): flag_summary(r) for w, r in by_width.items()})

    def ranks(lam_value, **kw):
        return np.array([flagged_as_nan(r, hidden_rank(r, **kw))[select(r, lam=lam_value)]
                         for r in by_width.values()])  # (width, seed)

    decayed, plain = ranks(lam), ranks(0.0)
    spread = np.nanmax(np.nanmedian(decayed, 1)) / np.nanmin(np.nanmedian(decayed, 1))
    claim.expect_bound(spread, upper=1.5, n=decayed.size,
                       statistic="max / min over widths of the median rank",
                       name=f"lambda = {lam:g}: rank within 1.5x across an "
                            f"{widths.max() // widths.min()}x width range")
    spread0 = np.nanmax(np.nanmedian(plain, 1)) / np.nanmin(np.nanmedian(plain, 1))
    claim.control_bound(spread0, upper=1.5, n=plain.size,
                        statistic="max / min over widths of the median rank",
                        name="same assertion at lambda = 0 (control: rank tracks width)")
    claim.sensitivity_trend(widths, plain, direction="increasing", alpha=0.01, min_effect=0.5,
                            name="lambda = 0: rank grows with width")
    claim.sensitivity_trend(widths, decayed, direction="increasing", alpha=0.01,
                            min_effect=0.5, name=f"lambda = {lam:g}: rank grows with width")
    d2 = ranks(lam, tau=1e-2)
    claim.sensitivity_bound(np.nanmax(np.nanmedian(d2, 1)) / np.nanmin(np.nanmedian(d2, 1)),
                            upper=1.5, n=d2.size, name="tau = 1e-2",
                            statistic="max / min over widths of the median rank")
    claim.measure("rank spread across widths (lambda > 0), per seed",
                  np.nanmax(decayed, 0) / np.nanmin(decayed, 0), unit="x")
    claim.measure("rank spread across widths (lambda = 0), per seed",
                  np.nanmax(plain, 0) / np.nanmin(plain, 0), unit="x")
    train_acc = {int(w): float(np.median(r["train_acc"][-1].numpy()[select(r, lam=lam)]))
                 for w, r in by_width.items()}
    claim.note(f"Median train accuracy at lambda = {lam:g} per width: {train_acc}. The first "
               "hidden matrix is width x 40 and capped at 40 at every width; the square "
               "hidden matrices carry the width dependence.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    draw_lines(ax, widths, decayed, "C0", f"lambda = {lam:g}", log_x=True)
    draw_lines(ax, widths, plain, "grey", "lambda = 0", log_x=True)
    ax.set(xlabel="width", ylabel="mean hidden rank (tau = 1e-3)",
           title=f"B = {cfg['batch_size']}, mu = {cfg['mu']}, {cfg['steps']} steps")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Final rank vs width (thin: seeds, thick: median).")
