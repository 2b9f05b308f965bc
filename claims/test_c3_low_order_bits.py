"""C3: the low-order bits of trained weights carry little (bits needed after training), set
beside untrained and random-label networks of the same architecture."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.bit_references import TOP_MANTISSA
from fixtures.quantize import fewest_passing
from harness import Claim, Verdict

CLAIM = Claim(
    id="C3",
    title="Trained weights survive dropping their low-order bits",
    statement="After training, most of each weight's bits are not needed: the network keeps "
              "its training accuracy (within 1 point) when its float32 weights keep only a "
              "few mantissa bits, or are rounded to a uniform per-tensor grid of a few bits; "
              "more than half of the 23 mantissa / 32 storage bits are free. Removing the "
              "high-order bits instead breaks the network.",
    source="000_01570736ab035b87.txt (commenter: 'we should expect to be able to compress by "
           "removing the last bits of weights as these are the easiest to leave free')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured on the 240 minima of the C2 sweep. That the bits needed sit far "
                 "below the format's width holds for any network, so the primaries that carry "
                 "the content compare with references of the same architecture: trained "
                 "minima need clearly fewer bits than random-label networks at the same "
                 "accuracy criterion, and than untrained networks to keep 99% of their own "
                 "predictions (each by well over the half-bit floor); the high-order bits "
                 "cannot be dropped instead (the control: it could hold, and does not).",
    regime="minima of the C2 sweep (matched training loss 0.05, many recipes); references: "
           "untrained networks and networks trained on random labels, same architecture",
)
ACC_DROP = 0.01
FORMATS = {  # arm -> (width in bits, label)
    "uniform": (32, "uniform per-tensor grid (bits of 32 storage bits)"),
    "mantissa": (23, "float32 mantissa bits kept (of 23)"),
}
ARM_EXPECTED = {
    "uniform": (Verdict.SUPPORTED, "trained minima need about 4 uniform bits, random-label "
                "networks about 7 (accuracy) and untrained ones about 8 (own predictions): "
                "both comparisons hold; no minimum survives losing the ternary part"),
    "mantissa": (Verdict.SUPPORTED, "trained minima need about 1 mantissa bit, random-label "
                 "networks about 3-4 (accuracy) and untrained ones about 5 (own "
                 "predictions): both comparisons hold; only about 1 in 5 minima survive "
                 "zeroing the top mantissa bits (the control does not hold)"),
}


def _needed(curves, fmt, criterion):
    """Fewest bits from which every finer setting keeps the criterion, per network."""
    if criterion == "accuracy":
        full = curves["full_acc"][:, None]
        ok = (curves["acc" if fmt == "uniform" else "mantissa_acc"] >= full - ACC_DROP)
    else:  # agreement with the network's own unquantized predictions
        ok = curves["agree" if fmt == "uniform" else "mantissa_agree"] >= 1 - ACC_DROP
    grid = curves["int_bits"] if fmt == "uniform" else np.arange(24)
    return fewest_passing(grid, ok)


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_bits_needed_after_training(claim, c3_curves, fmt):
    width, label = FORMATS[fmt]
    claim.arm_expects(*ARM_EXPECTED[fmt])
    trained, rand, untrained = c3_curves["trained"], c3_curves["random_label"], \
        c3_curves["untrained"]
    n = len(trained["full_acc"])
    claim.parameters(minima=n, references=len(rand["full_acc"]), accuracy_drop=ACC_DROP,
                     width=width, format=label, top_mantissa_bits_zeroed=TOP_MANTISSA)
    k = _needed(trained, fmt, "accuracy")
    claim.expect_compare(k, float(width), alternative="less", min_effect=width / 2,
                         units="minima", support=(-width, 0),
                         name=f"trained: bits needed for training accuracy within 1 point, "
                              f"more than half of {width} free",
                         meaning="one-sample Wilcoxon over minima of (bits needed - width)")
    low = trained["low_uniform_acc" if fmt == "uniform" else "low_mantissa_acc"]
    kept = int((low >= trained["full_acc"] - ACC_DROP).sum())
    removed = ("the ternary grid (top ~1.6 bits) subtracted" if fmt == "uniform"
               else f"the top {TOP_MANTISSA} mantissa bits zeroed")
    claim.control_proportion(kept, n, p0=0.5, alternative="greater", min_effect=0.25,
                             units="minima",
                             name=f"high-order bits removed instead ({removed}): most minima "
                                  "keep their accuracy (control)",
                             meaning="the claim says the high-order bits carry the function: "
                                     "this could hold, and must not")
    k_rand = _needed(rand, fmt, "accuracy")
    claim.expect_compare(k, k_rand, alternative="less", min_effect=0.5, units="networks",
                         support=(-width, width),
                         name="real-label minima need >= 0.5 bits fewer than random-label "
                              "networks at the same accuracy criterion",
                         meaning="Hodges-Lehmann shift, trained minima vs random-label "
                                 "networks of the same architecture (Mann-Whitney)")
    k_agree = _needed(trained, fmt, "agreement")
    k_untrained = _needed(untrained, fmt, "agreement")
    claim.expect_compare(k_agree, k_untrained, alternative="less", min_effect=0.5,
                         units="networks", support=(-width, width),
                         name="trained minima need >= 0.5 bits fewer than untrained networks "
                              "to keep 99% of their own predictions")
    claim.measure("bits needed, trained (accuracy within 1 point)", k, unit="bits")
    claim.measure("bits needed, random-label networks (accuracy within 1 point)", k_rand,
                  unit="bits")
    claim.measure("bits needed, untrained networks (accuracy within 1 point)",
                  _needed(untrained, fmt, "accuracy"), unit="bits")
    claim.measure("bits needed, trained (99% of predictions kept)", k_agree, unit="bits")
    claim.measure("bits needed, untrained (99% of predictions kept)", k_untrained, unit="bits")
    claim.measure("training accuracy, random-label networks (own labels)", rand["full_acc"])
    claim.measure("share of minima keeping accuracy with the high-order bits removed",
                  [kept / n])
    q = lambda a: f"median {np.median(a):g} (range {np.min(a):g} to {np.max(a):g})"
    claim.note(f"{label}, bits needed to keep training accuracy within 1 point: trained "
               f"minima {q(k)}; random-label networks {q(k_rand)} (their own training "
               f"accuracy {np.mean(rand['full_acc']):.2f} on random labels); untrained "
               f"networks {q(_needed(untrained, fmt, 'accuracy'))} (accuracy "
               f"{np.mean(untrained['full_acc']):.2f}: chance). To keep 99% of their own "
               f"predictions: trained {q(k_agree)}, untrained {q(k_untrained)}. With "
               f"{removed}, {kept} of {n} minima keep their accuracy.")
    claim.note("Uniform: per-tensor grid of 2^(b-1) - 1 half-levels (step max|w| / k), all "
               "tensors at once. Mantissa: the low mantissa bits zeroed (round toward zero), "
               "sign and exponent kept. 'Needed' = the fewest bits from which every larger "
               "count keeps the criterion.")

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    grid = trained["int_bits"] if fmt == "uniform" else np.arange(24)
    key = "acc" if fmt == "uniform" else "mantissa_acc"
    for curves, name in ((trained, "trained"), (rand, "random labels"),
                         (untrained, "untrained")):
        drop = curves["full_acc"][:, None] - curves[key]
        qs = np.percentile(drop, [25, 50, 75], axis=0)
        ax.plot(grid, qs[1], "o-", ms=3, label=name)
        ax.fill_between(grid, qs[0], qs[2], alpha=0.2)
    ax.axhline(ACC_DROP, color="k", ls=":", lw=0.8)
    ax.set(xlabel=label, ylabel="training accuracy lost", yscale="symlog",
           ylim=(-0.01, 1))
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Training accuracy lost (median, IQR) against the bits kept, for "
                            "trained minima, random-label networks and untrained networks "
                            "(dotted: the 1-point criterion).")
