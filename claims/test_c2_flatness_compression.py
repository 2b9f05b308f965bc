"""C2: flatter minima need fewer bits (Wentworth) vs 'surrounded by good performance is
anti-correlated with compression' (commenter)."""
import matplotlib.pyplot as plt
import numpy as np

from harness import Claim, Verdict

CLAIM = Claim(
    id="C2",
    title="Flatter minima compress to fewer bits",
    statement="Across minima reached at the same training loss, the flatter the minimum "
              "(smaller Hessian trace) the fewer bits per weight its network needs: uniform "
              "per-tensor quantization to fewer bits keeps the training loss within a "
              "tolerance. The commenter's opposite view (flat = redundant = less compressed) "
              "is the twin this would refute.",
    source="000_01570736ab035b87.txt (Wentworth: 'Flat minimum surrounded by areas of "
           "relatively good performance is synonymous with compression'; reply: 'being "
           "surrounded by areas of good performance is anti-correlated with compression')",
    expected=Verdict.REFUTED,
    why_expected="Measured (digits, 64-64-10 ReLU, plain SGD at lr 0.02-0.4 x batch 8/32 x 6 "
                 "seeds = 60 minima, all stopped at training loss 0.05): the knob works "
                 "(Spearman lr/batch vs trace -0.85) but the bits needed barely follow "
                 "flatness: Spearman(trace, bits) 0.18 (p 0.08), top eigenvalue 0.17, "
                 "scale-invariant tr(D H D) 0.05; tolerances 0.02 / 0.1 give 0.22 / 0.36. In "
                 "exploratory runs with other seeds and grids rho ranged 0.0 to 0.36, never "
                 "clearing 0.4: a weak relation in Wentworth's direction at most. The "
                 "commenter's twin (flatter -> more bits) fails too. The catalogue expected "
                 "SUPPORTED.",
)
PRIMARY_TOL = 0.05


def _reached(res):
    return res["steps"] > 0


def test_flatness_vs_bits(claim, flat_minima):
    res = flat_minima
    cfg = res["config"]
    m, r = res["minima"], res["rescaled"]
    ok = _reached(res)
    claim.parameters(**cfg, n_params=res["n_params"], primary_tolerance=PRIMARY_TOL,
                     model=f"64-{cfg['hidden']}-10 ReLU, digits (1343 train), plain SGD")
    if ok.mean() < 2 / 3:
        claim.inconclusive(f"only {ok.sum()} of {ok.size} runs reached the target loss")
    trace, bits = m["trace"][ok], m["bits"][PRIMARY_TOL][ok]
    claim.expect_trend(trace, bits, direction="increasing", alpha=0.01, min_effect=0.4,
                       name=f"sharper (Hessian trace) -> more bits (loss tolerance "
                            f"{PRIMARY_TOL} nats)",
                       meaning="Spearman over minima at matched training loss; 'flatter -> "
                               "fewer bits' is a positive rho here")
    rng = np.random.default_rng(int(res["steps"].sum()))
    claim.control_trend(trace, rng.permutation(bits), direction="increasing", alpha=0.01,
                        min_effect=0.4, name="shuffled pairing of minima and bits (control)")
    claim.control_trend(r["trace"], r["bits"][PRIMARY_TOL], direction="increasing", alpha=0.01,
                        min_effect=0.4,
                        name="Dinh rescaled copies of one minimum: trace vs bits (control)",
                        meaning="the same function at traces spanning decades")
    claim.sensitivity_trend(trace, bits, direction="decreasing", alpha=0.01, min_effect=0.4,
                            name="commenter's twin: flatter -> more bits")
    for tol in cfg["tolerances"]:
        if tol != PRIMARY_TOL:
            claim.sensitivity_trend(trace, m["bits"][tol][ok], direction="increasing",
                                    alpha=0.01, min_effect=0.4,
                                    name=f"trace vs bits at loss tolerance {tol}")
    for key, label in (("top_eig", "Lanczos top eigenvalue"),
                       ("invariant", "scale-invariant tr(D H D)")):
        claim.sensitivity_trend(m[key][ok], bits, direction="increasing", alpha=0.01,
                                min_effect=0.4, name=f"{label} vs bits")
    noise = res["lr"][ok] / res["batch"][ok]
    claim.sensitivity_trend(noise, trace, direction="decreasing", alpha=0.01, min_effect=0.4,
                            name="the knob works: larger lr / batch -> smaller trace")
    claim.sensitivity_bound(r["trace"].max() / r["trace"].min(), lower=10.0,
                            statistic="max / min Hessian trace over rescaled copies",
                            name="Dinh: rescaling changes the naive trace >= 10x")
    claim.sensitivity_bound(np.ptp(r["bits"][PRIMARY_TOL]), upper=0.0,
                            statistic="spread of bits over rescaled copies",
                            name="Dinh: rescaling leaves the bits unchanged")
    claim.measure("Spearman(trace, bits)", [_rho(trace, bits)])
    claim.measure("Spearman(scale-invariant, bits)", [_rho(m["invariant"][ok], bits)])
    claim.measure("training loss at the minima", m["loss"][ok], unit="nats")
    claim.measure("bits needed (tolerance 0.05)", bits, unit="bits")
    claim.measure("Hessian trace at the minima", trace)
    claim.measure("trace spread over rescaled copies", [r["trace"].max() / r["trace"].min()])
    claim.measure("scale-invariant spread over rescaled copies",
                  [r["invariant"].max() / r["invariant"].min()])
    claim.measure("runs reaching the target loss", [ok.mean()], unit="fraction")
    claim.note(f"Minima: plain SGD at learning rates {cfg['lrs']} x batch sizes "
               f"{cfg['batches']} x {cfg['seeds']} seeds, each stopped at the first check "
               f"with full training loss <= {cfg['target_loss']} (matched loss). Trace: "
               f"Hutchinson, {cfg['probes']} Rademacher probes of autograd HVPs; top "
               f"eigenvalue: {cfg['lanczos_iters']} Lanczos steps (both checked against dense "
               "Hessians in tests/test_curvature.py).")
    claim.note("Bits: per-tensor uniform grid with step max|w| / k, ~log2(2k + 1) bits, searched "
               "in 1/8-bit steps; the fewest bits from which every finer grid keeps the training "
               "loss within the tolerance (asserted on loss, not accuracy).")
    claim.note("Dinh et al.: multiplying layer 1 (W1, b1) by a and W2 by 1/a keeps the ReLU "
               "net's function and its per-tensor quantization, so its bits, while the Hessian "
               "trace changes by orders of magnitude; tr(D H D) with D = per-tensor RMS weight "
               "is invariant (as a matrix) and is the scale-invariant measure shown beside it.")

    fig, axes = plt.subplots(1, 3, figsize=(14, 3.8), constrained_layout=True)
    sc = axes[0].scatter(trace, bits, c=np.log10(noise), cmap="viridis", s=25)
    fig.colorbar(sc, ax=axes[:2], label="log10 lr / batch", pad=0.01)
    axes[0].set(xlabel="Hessian trace (Hutchinson)", ylabel=f"bits needed (tol {PRIMARY_TOL})")
    axes[1].scatter(m["invariant"][ok], bits, c=np.log10(noise), cmap="viridis", s=25)
    axes[1].set(xlabel="scale-invariant tr(D H D)", ylabel="bits needed")
    alphas = np.asarray(cfg["rescale"])
    axes[2].plot(alphas, r["trace"] / r["trace"][alphas == 1], "o-", label="Hessian trace")
    axes[2].plot(alphas, r["invariant"] / r["invariant"][alphas == 1], "s-",
                 label="tr(D H D)")
    axes[2].plot(alphas, r["bits"][PRIMARY_TOL] / r["bits"][PRIMARY_TOL][alphas == 1], "^-",
                 label="bits")
    axes[2].set(xscale="log", yscale="log", xlabel="rescaling a (layer 1 x a, W2 / a)",
                ylabel="relative to a = 1")
    axes[2].set_xticks(alphas, [f"{a:g}" for a in alphas])
    axes[2].tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    axes[2].legend(fontsize=8)
    claim.plot(fig, caption="Left: flatness vs bits over minima at matched training loss "
                            "(colour: SGD noise scale lr / batch). Middle: the same "
                            "with the scale-invariant measure. Right: Dinh rescaling of "
                            "one minimum: the naive trace moves, bits and tr(D H D) do not.")


def _rho(a, b):
    from scipy.stats import spearmanr

    return float(spearmanr(a, b).statistic)
