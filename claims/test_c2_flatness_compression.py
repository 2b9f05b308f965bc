"""C2: flatter minima need fewer bits (Wentworth) vs 'surrounded by good performance is
anti-correlated with compression' (commenter)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats as st

from harness import Claim, Verdict

CLAIM = Claim(
    id="C2",
    title="Flatter minima compress to fewer bits",
    statement="Across minima reached at the same training loss, the flatter the minimum the "
              "fewer bits per weight its network needs: per-tensor quantization to fewer bits "
              "keeps the training loss within a tolerance. Flatness is the Hessian trace or the "
              "radius at which the loss doubles along random directions (the catalogue's two), "
              "or the trace measured in the quantizer's own geometry or at a canonical neuron "
              "scaling; the claim holds for a measure when its partial rank correlation with "
              "the bits needed is >= 0.3. The commenter's opposite view (flat = redundant = "
              "less compressed) is the twin shown beside it.",
    source="000_01570736ab035b87.txt (Wentworth: 'Flat minimum surrounded by areas of "
           "relatively good performance is synonymous with compression'; reply: 'being "
           "surrounded by areas of good performance is anti-correlated with compression')",
    expected=Verdict.INCONCLUSIVE,
    why_expected="Every arm is INCONCLUSIVE at the default budget (240 minima from 30 recipes): "
                 "each measure's partial Spearman with the bits needed clears the 0.3 floor, "
                 "but so does the same statistic with bits permuted among minima of one "
                 "recipe (the control), so the pooled test cannot separate a flatness effect "
                 "from the recipe (the pooled n is pseudo-replicated: the relation lives "
                 "between recipes). The stratified within-recipe rows are sensitivity rows "
                 "only: with 8 Hutchinson probes and 2 dithers the within-recipe measures are "
                 "mostly noise, so their near-zero correlations are no refutation. The "
                 "commenter's twin (flatter -> more bits) fails in every arm.",
    regime="minima at matched training loss (first check with full training cross-entropy "
           "<= 0.05), loss rises small enough for the quadratic model (primary tolerance "
           "0.01 nats)",
    speaks_to=("F4",),
)
PRIMARY_TOL = 0.01   # nats; the quadratic regime (a fifth of the target loss)
FLOOR = 0.3          # fixed before looking (the harness default for correlations)
PLANTED = 1.4        # the positive control's planted rho, as a multiple of FLOOR
MEASURES = {  # arm -> (key in minima, label); larger = sharper
    "trace": ("trace", "Hessian trace"),
    "radius": ("sharpness_radius", "1 / radius where the loss doubles"),
    "matched": ("matched", "quantizer-matched trace sum_t max|w_t|^2 tr(H_tt)"),
    "canonical": ("canonical", "trace at the per-neuron canonical scaling"),
}
_POOLED = ("the pooled partial correlation clears 0.3 but the within-recipe permutation "
           "control holds about as strongly: the pooled test cannot tell flatness -> bits "
           "from recipe -> (flatness, bits)")
ARM_EXPECTED = {  # measured at the default budget (240 minima, 30 recipes)
    "trace": (Verdict.INCONCLUSIVE, _POOLED + "; within recipes the rho is near 0 (about "
              "0.1), its interval below 0.3 (sensitivity row)"),
    "radius": (Verdict.INCONCLUSIVE, _POOLED + "; within recipes the rho is near 0 (about "
               "0.1), its interval below 0.3"),
    "matched": (Verdict.INCONCLUSIVE, _POOLED + "; within recipes the quantizer-matched trace "
                "still gives about 0.5 (sensitivity row, holds)"),
    "canonical": (Verdict.INCONCLUSIVE, _POOLED + "; within recipes the rho is near 0 (about "
                  "0.1)"),
}


def _residual_ranks(values, covariates):
    """Ranks of values with the ranks of the covariates (and an intercept) regressed out."""
    r = st.rankdata(values)
    design = np.column_stack([np.ones_like(r)] + [st.rankdata(c) for c in covariates])
    coef, *_ = np.linalg.lstsq(design, r, rcond=None)
    return r - design @ coef


def _partial(x, y, covariates):
    """Partial Spearman: Pearson of the residual ranks (a check's x and y)."""
    return _residual_ranks(x, covariates), _residual_ranks(y, covariates)


@pytest.fixture(scope="module")
def minima(flat_minima):
    res = flat_minima
    m = res["minima"]
    ok = (res["steps"] > 0) & np.isfinite(m["loss"])
    return res, m, ok


@pytest.mark.parametrize("measure", list(MEASURES))
def test_flatness_vs_bits(claim, minima, seeds, measure):
    res, m, ok = minima
    cfg = res["config"]
    key, label = MEASURES[measure]
    claim.arm_expects(*ARM_EXPECTED[measure])
    claim.parameters(**{k: v for k, v in cfg.items() if not k.startswith("c3_")},
                     n_params=res["n_params"], primary_tolerance=PRIMARY_TOL, floor=FLOOR,
                     measure=label, cells=res["cell_names"],
                     model=f"64-{cfg['hidden']}-10 ReLU, digits ({cfg['n_train']} train)")
    if ok.mean() < 2 / 3:
        claim.inconclusive(f"only {ok.sum()} of {ok.size} runs reached the target loss")
    sharp_all = m[key]
    use = ok & np.isfinite(sharp_all) & (sharp_all > 0)
    for tol in cfg["tolerances"]:
        use &= np.isfinite(m["bits"][tol])
    sharp, bits = np.log(sharp_all[use]), m["bits"][PRIMARY_TOL][use]
    covariates = [m["loss"][use], np.log(m["weight_norm"][use])]
    cells = res["cell"][use]
    rx, ry = _partial(sharp, bits, covariates)
    partial_name = "partial Spearman (training loss, log weight norm partialled out)"
    primary = claim.expect_trend(rx, ry, direction="increasing", method="pearson",
                                 min_effect=FLOOR, units="minima",
                       name=f"sharper ({label}) -> more bits at tolerance {PRIMARY_TOL} nats, "
                            f"{partial_name}",
                       meaning="one minimum per init; 'flatter -> fewer bits' is a positive "
                               "correlation of sharpness with bits")
    rng = seeds.numpy(0)
    within = bits.copy()
    for c in np.unique(cells):
        idx = np.flatnonzero(cells == c)
        within[idx] = bits[rng.permutation(idx)]
    cx, cy = _partial(sharp, within, covariates)
    claim.control_trend(cx, cy, direction="increasing", method="pearson", min_effect=FLOOR,
                        units="minima",
                        name="bits permuted among the minima of one recipe (control)",
                        meaning="keeps every recipe-level confound (lr, batch, modifier); "
                                "holds if flatness relates to bits only through the recipe")
    n = rx.size
    planted_r = PLANTED * FLOOR
    z = st.norm.ppf((st.rankdata(rx) - 0.5) / n)
    planted = planted_r * z + np.sqrt(1 - planted_r ** 2) * rng.standard_normal(n)
    claim.positive_trend(rx, planted, direction="increasing", method="pearson",
                         min_effect=FLOOR, units="minima", backs=primary, planted=PLANTED,
                         name=f"a planted relation of rho {planted_r:.2f} ({PLANTED:g} x the "
                              f"floor) at n = {n} is seen (positive control)")
    claim.sensitivity_trend(rx, ry, direction="decreasing", method="pearson",
                            min_effect=FLOOR, units="minima",
                            name="commenter's twin: flatter -> more bits (partial)")
    claim.sensitivity_trend(sharp, bits, direction="increasing", min_effect=FLOOR,
                            blocks=False, units="minima",
                            name="raw Spearman, nothing partialled out")
    for tol in cfg["tolerances"]:
        if tol != PRIMARY_TOL:
            tx, ty = _partial(sharp, m["bits"][tol][use], covariates)
            claim.sensitivity_trend(tx, ty, direction="increasing", method="pearson",
                                    min_effect=FLOOR, units="minima",
                                    name=f"partial, at loss tolerance {tol} nats")
    per_cell = [st.spearmanr(sharp[cells == c], bits[cells == c]).statistic
                for c in np.unique(cells) if (cells == c).sum() >= 4]
    per_cell = np.array([r for r in per_cell if np.isfinite(r)])
    if per_cell.size >= 3:  # recipes with >= 4 minima (the smoke budget has too few)
        claim.sensitivity_compare(per_cell, 0.0, alternative="greater", min_effect=FLOOR,
                                  units="recipes",
                                  name="stratified: within-recipe Spearman, mean over recipes "
                                       "(Wilcoxon over recipes)")
    claim.sensitivity_trend(np.log(m["weight_norm"][use]), sharp, direction="increasing",
                            min_effect=FLOOR, blocks=False, units="minima",
                            name="confound: weight norm vs sharpness (raw Spearman)")

    trace = m["trace"][use]
    claim.measure("minima used", [n], unit="minima")
    claim.measure("recipes (cells)", [len(np.unique(cells))])
    claim.measure("Hessian trace 95th / 5th percentile", [np.percentile(trace, 95) /
                                                         np.percentile(trace, 5)])
    claim.measure("Hessian trace max / min", [trace.max() / trace.min()])
    claim.measure(f"{label}: 95th / 5th percentile",
                  [np.percentile(sharp_all[use], 95) / np.percentile(sharp_all[use], 5)])
    claim.measure("training loss at the minima", m["loss"][use], unit="nats")
    claim.measure("gradient norm at the minima", m["grad_norm"][use])
    for tol in cfg["tolerances"]:
        claim.measure(f"bits needed at tolerance {tol}", m["bits"][tol][use], unit="bits")
        gap = m["bits"][tol][use] - m["predicted_bits"][tol][use]
        claim.measure(f"measured - quadratic-model bits at tolerance {tol}", gap, unit="bits")
    claim.measure("partial Spearman at the primary tolerance",
                  [np.corrcoef(rx, ry)[0, 1]])
    q = {tol: np.median(m["bits"][tol][use] - m["predicted_bits"][tol][use])
         for tol in cfg["tolerances"]}
    rq = {tol: st.spearmanr(m["bits"][tol][use], m["predicted_bits"][tol][use]).statistic
          for tol in cfg["tolerances"]}
    claim.note(f"{n} minima of {ok.size} inits ({ok.sum()} reached the target loss), "
               f"{len(np.unique(cells))} recipes x {cfg['seeds']} seeds: learning rate "
               f"{cfg['lrs']} x batch {cfg['batches']} x modifier {cfg['modifiers']}. "
               f"Training loss at the minima {m['loss'][use].min():.3g} to "
               f"{m['loss'][use].max():.3g}; Hessian trace {trace.min():.3g} to "
               f"{trace.max():.3g} ({trace.max() / trace.min():.1f}x; 5th-95th percentile "
               f"{np.percentile(trace, 95) / np.percentile(trace, 5):.1f}x).")
    claim.note("Bits: subtractive dithered per-tensor quantization (step max|w_t| / k, "
               "log2(2k + 1) bits), expected loss rise over "
               f"{cfg['dithers']} dithers with the first-order term removed, read where it "
               f"crosses the tolerance on a {cfg['bits_grid'][2]:g}-bit grid and interpolated "
               "in log rise. The quadratic model (rise = sum_t step_t^2 tr(H_tt) / 24) predicts "
               "the bits; median measured - predicted: " +
               ", ".join(f"{q[t]:+.2f} bits at {t}" for t in cfg["tolerances"]) +
               "; Spearman(measured, predicted): " +
               ", ".join(f"{rq[t]:.2f} at {t}" for t in cfg["tolerances"]) + ".")
    claim.note(f"Flatness: {cfg['probes']} Rademacher probes of the Hessian diagonal (autograd "
               "HVPs) give the trace, the block traces and the canonical-scaling trace (sum_i "
               "H_ii / a_i^2 with a_i the factor balancing unit i's in- and out-norms); the "
               f"radius averages the loss over {cfg['radius_dirs']} random unit directions on a "
               "log grid of radii. The primary is the partial Spearman with the training "
               "loss and the log weight norm partialled out; the within-recipe control "
               "permutes bits among minima of one recipe.")

    fig, axes = plt.subplots(1, 2, figsize=(11, 4), constrained_layout=True)
    mods = res["modifier"][use]
    for mod in np.unique(mods):
        sel = mods == mod
        axes[0].scatter(sharp_all[use][sel], bits[sel], s=12, label=mod, alpha=0.7)
        axes[1].scatter(rx[sel], ry[sel], s=12, alpha=0.7)
    axes[0].set(xscale="log", xlabel=label, ylabel=f"bits needed (tolerance {PRIMARY_TOL})")
    axes[0].legend(fontsize=7)
    axes[1].set(xlabel="residual rank of sharpness", ylabel="residual rank of bits")
    claim.plot(fig, caption=f"Left: {label} against the bits needed, one point per minimum "
                            "(colour: training modifier). Right: the same after partialling "
                            "out training loss and log weight norm (ranks).")
