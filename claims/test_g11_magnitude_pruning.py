"""G11: under weight decay many weights end near zero, so magnitude pruning keeps the network."""
import matplotlib.pyplot as plt
import numpy as np
import torch

from fixtures.data import mnist1d
from fixtures.lowrank import final_layers, flag_summary, partner_index, select, usable
from fixtures.lowrank_train import accuracy
from harness import Claim, Verdict

CLAIM = Claim(
    id="G11",
    title="Magnitude pruning keeps weight-decayed networks",
    statement="Removing the 50% smallest-magnitude weights of every weight matrix of a network "
              "trained with weight decay costs at most one point of training accuracy, while "
              "removing a random 50% costs more.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: SGD with weight decay 'compresses' the "
           "networks it trains; the catalogue's compressibility reading)",
    expected=Verdict.REFUTED,
    why_expected="Measured (B = 10, lambda = 1e-2, 40 epochs, no retraining): magnitude "
                 "pruning at 50% cost a median ~1.6 and up to ~5 points, above the 1-point "
                 "floor; it is far gentler than random pruning (~30 points) and than the same "
                 "pruning of lambda = 0 models (~16 points), but L2 decay makes matrices low "
                 "rank, not sparse, so 'many weights end near zero' does not hold as stated.",
)
FRACTION = 0.5


def _to(layers, device):
    return [(w.to(device), b.to(device)) for w, b in layers]


def _prune(layers, masks):
    return [(w * m, b) for (w, b), m in zip(layers, masks)]


def _magnitude_masks(layers):
    """Per matrix and model: keep the weights above the matrix's median magnitude."""
    masks = []
    for w, _ in layers:
        flat = w.abs().flatten(1)
        cut = flat.kthvalue(int(FRACTION * flat.shape[1]), dim=1).values
        masks.append((w.abs() > cut.view(-1, 1, 1)).to(w.dtype))
    return masks


def _random_masks(layers, gen):
    masks = []
    for w, _ in layers:
        order = torch.rand(w.shape, generator=gen).flatten(1).argsort(1).argsort(1)  # on CPU
        masks.append((order >= int(FRACTION * order.shape[1])).view(w.shape)
                     .to(w.device, w.dtype))
    return masks


def test_magnitude_pruning(claim, lowrank_sweep, seeds, device):
    cfg = lowrank_sweep["config"]
    bs, lam = min(cfg["batch_sizes"]), max(cfg["lambdas"])
    res = lowrank_sweep["epochs"][bs]
    idx = np.flatnonzero(select(res, lam=lam) & usable(res))
    if len(idx) < 3:
        claim.inconclusive(f"only {len(idx)} usable lambda = {lam:g} runs (see flags)")
        return
    x, y, _, _ = mnist1d().torch(device)
    decayed = _to(final_layers(res, idx), device)
    plain = _to(final_layers(res, partner_index(res, idx, 0.0)), device)
    claim.parameters(batch_size=bs, lam=lam, fraction=FRACTION, models=len(idx),
                     flags=flag_summary(res))

    def drops(layers, masks):
        return 100 * (accuracy(layers, x, y) - accuracy(_prune(layers, masks), x, y)).cpu().numpy()

    magnitude = drops(decayed, _magnitude_masks(decayed))
    random = drops(decayed, _random_masks(decayed, seeds.torch(0)))
    plain_magnitude = drops(plain, _magnitude_masks(plain))
    claim.expect_bound(magnitude.max(), upper=1.0, n=len(magnitude),
                       statistic="max train accuracy drop (points)",
                       name="magnitude pruning 50% of lambda > 0 models costs <= 1 point")
    claim.control_bound(random.max(), upper=1.0, n=len(random),
                        statistic="max train accuracy drop (points)",
                        name="random pruning 50% (control: costs more)")
    claim.sensitivity_bound(plain_magnitude.max(), upper=1.0, n=len(plain_magnitude),
                            statistic="max train accuracy drop (points)",
                            name="the same magnitude pruning on lambda = 0 models")
    claim.sensitivity_compare(plain_magnitude, magnitude, alternative="greater", paired=True,
                              alpha=0.01, min_effect=1.0,
                              name="magnitude pruning hurts lambda = 0 models more")
    claim.measure("accuracy drop, magnitude pruning 50%, lambda > 0", magnitude, unit="points")
    claim.measure("accuracy drop, random pruning 50%, lambda > 0", random, unit="points")
    claim.measure("accuracy drop, magnitude pruning 50%, lambda = 0", plain_magnitude,
                  unit="points")
    claim.note("Pruning is per matrix (every weight matrix including the classifier, biases "
               "kept), with no retraining. The lambda = 0 row shows whether the effect needs "
               f"weight decay at all. The lambda = {lam:g} models underfit (see G9), which "
               "makes them easier to keep.")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    ax.boxplot([magnitude, random, plain_magnitude],
               tick_labels=[f"magnitude, lambda={lam:g}", f"random, lambda={lam:g}",
                            "magnitude, lambda=0"])
    ax.axhline(1.0, color="red", ls="--", lw=0.8)
    ax.set(ylabel="train accuracy lost (points)", title=f"pruning {FRACTION:.0%} of weights")
    claim.plot(fig, caption="Accuracy lost by pruning half of every weight matrix.")
