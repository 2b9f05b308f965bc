"""C3: the low-order bits of trained weights carry little (bits needed after training)."""
import matplotlib.pyplot as plt
import numpy as np

from fixtures.quantize import fewest_passing
from harness import Claim, Verdict

CLAIM = Claim(
    id="C3",
    title="Trained weights survive dropping their low-order bits",
    statement="After training, most of each weight's bits are not needed: the network keeps "
              "its training accuracy (within 1 point) when its float32 weights keep only a "
              "few mantissa bits, or are rounded to a uniform per-tensor grid of a few bits; "
              "the bits needed are far below the 23 mantissa / 32 storage bits.",
    source="000_01570736ab035b87.txt (commenter: 'we should expect to be able to compress by "
           "removing the last bits of weights as these are the easiest to leave free')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured on the 60 minima of C2 (digits, 64-64-10 ReLU, training loss "
                 "0.05): 0 to 2 mantissa bits (sign and exponent alone: weights rounded to "
                 "powers of two, at 0) and 3 to 6 uniform per-tensor bits keep training "
                 "accuracy within 1 point, far below 23 mantissa / 32 storage bits.",
)
ACC_DROP = 0.01


def test_bits_needed_after_training(claim, flat_minima):
    res = flat_minima
    cur = res["curves"]
    ok = res["steps"] > 0
    full_acc = res["minima"]["acc"][ok][:, None]
    full_loss = res["minima"]["loss"][ok][:, None]
    ints, mant = cur["int_bits"], np.arange(24)
    k_int = fewest_passing(ints, cur["acc"][ok] >= full_acc - ACC_DROP)
    k_mant = fewest_passing(mant, cur["mantissa_acc"][ok] >= full_acc - ACC_DROP)
    k_tensor = np.stack([fewest_passing(ints, cur["tensor_acc"][ok][:, t] >= full_acc - ACC_DROP)
                         for t in range(len(res["tensors"]))], 1)
    k_int_loss = fewest_passing(ints, cur["loss"][ok] <= full_loss + 0.05)
    claim.parameters(minima=int(ok.sum()), accuracy_drop=ACC_DROP, float_bits=32,
                     mantissa_bits=23, learning_rates=res["config"]["lrs"])

    claim.expect_bound(k_mant.max(), upper=11.0, n=int(ok.sum()),
                       statistic="most mantissa bits any minimum needs",
                       name="every minimum keeps its accuracy with <= 11 of 23 mantissa bits",
                       meaning="more than half of the mantissa is free")
    claim.expect_bound(k_int.max(), upper=8.0, n=int(ok.sum()),
                       statistic="most uniform per-tensor bits any minimum needs",
                       name="every minimum keeps its accuracy at <= 8 uniform bits (of 32)")
    coarsest_drop = (full_acc[:, 0] - cur["acc"][ok][:, 0]).max()
    claim.control_bound(coarsest_drop, upper=ACC_DROP, n=int(ok.sum()),
                        statistic=f"largest accuracy drop at {ints[0]} uniform bit(s)",
                        name=f"accuracy also kept at {ints[0]} bit(s) (control: must fail)",
                        meaning="the accuracy criterion can fail: coarse enough rounding breaks "
                                "every network")
    claim.sensitivity_bound(k_int_loss.max(), upper=8.0, n=int(ok.sum()),
                            statistic="most uniform bits for loss within 0.05 nats",
                            name="same on training loss (tolerance 0.05 nats)")
    claim.measure("mantissa bits needed", k_mant, unit="bits of 23")
    claim.measure("uniform per-tensor bits needed (all tensors)", k_int, unit="bits")
    claim.measure("uniform bits needed for loss within 0.05", k_int_loss, unit="bits")
    for t, name in enumerate(res["tensors"]):
        claim.measure(f"uniform bits needed, {name} alone", k_tensor[:, t], unit="bits")
    claim.note("Bits per tensor: the other tensors stay at float32. 'Needed' = the fewest bits "
               "from which every larger count keeps training accuracy within 1 point of the "
               "unquantized network's. Mantissa truncation zeroes the low mantissa bits (round "
               "toward zero), keeping sign and exponent.")

    fig, axes = plt.subplots(1, 3, figsize=(13, 3.6))
    for data, label in ((cur["loss"][ok], "all tensors"),
                        *((cur["tensor_loss"][ok][:, t], n) for t, n in enumerate(res["tensors"]))):
        q = np.percentile(data, [25, 50, 75], axis=0)
        axes[0].plot(ints, q[1], "o-", ms=3, label=label)
        axes[0].fill_between(ints, q[0], q[2], alpha=0.2)
    axes[0].axhline(np.median(full_loss), color="k", ls=":", lw=0.8)
    axes[0].set(yscale="log", xlabel="uniform bits per tensor", ylabel="training loss")
    axes[0].legend(fontsize=7)
    q = np.percentile(cur["acc"][ok], [25, 50, 75], axis=0)
    axes[1].plot(ints, q[1], "o-")
    axes[1].fill_between(ints, q[0], q[2], alpha=0.2)
    axes[1].set(xlabel="uniform bits per tensor (all)", ylabel="training accuracy")
    q = np.percentile(cur["mantissa_acc"][ok], [25, 50, 75], axis=0)
    axes[2].plot(mant, q[1], "o-")
    axes[2].fill_between(mant, q[0], q[2], alpha=0.2)
    axes[2].set(xlabel="mantissa bits kept (of 23)", ylabel="training accuracy")
    claim.plot(fig, caption="Training loss (median, IQR over minima) against uniform "
                            "quantization bits, all tensors and one tensor at a time (dotted: "
                            "unquantized), and training accuracy against uniform bits and "
                            "kept mantissa bits.")
