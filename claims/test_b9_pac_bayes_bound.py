"""B9: a non-vacuous PAC-Bayes-kl bound for an overparameterized MLP on true labels, and a
vacuous one on random labels (Dziugaite & Roy 2017)."""
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from fixtures.data import digits
from fixtures.pac_bayes import evaluate, init_flat, optimize_bound, train_sgd
from harness import Claim, Verdict
from harness.device import single_thread

CLAIM = Claim(
    id="B9",
    title="Non-vacuous PAC-Bayes bound on true labels, not on random labels",
    statement="Optimizing a Gaussian posterior around the SGD solution of an overparameterized "
              "MLP, against a Gaussian prior centred at the random initialization, gives a "
              "PAC-Bayes-kl bound on the test error that is non-vacuous (< 0.5 for a balanced "
              "binary task) when the labels are real; the same procedure on random labels "
              "gives a bound at least 0.1 higher. The KL term measures how much of the "
              "parameters the data pins down.",
    source="003_c025dbd4f5c74a9f.txt (post, section 'PAC-Bayes inspired operationalization': "
           "KL(posterior||prior) as the information stored, citing the non-vacuous bounds of "
           "Dziugaite & Roy 2017)",
    expected=Verdict.SUPPORTED,
    why_expected="Measured at the default budget (digits 0-4 vs 5-9, 64-50-1 ReLU, 3301 "
                 "parameters for 1343 training points, 7 seeds): bounds ~0.40-0.46 on true "
                 "labels (posterior test error ~0.04, KL ~520 nats), all 7 below 0.5 (the "
                 "fewest seeds at which a one-sided Wilcoxon can reach p < 0.01), and ~0.75-0.90 "
                 "on random labels, where the optimisation trades training error (~0.46) for "
                 "KL; the random-label control is far from non-vacuous.",
    regime="SGD solution at the first epoch that fits the labels; posterior optimised by "
           "minibatch Adam on the surrogate bound",
)

SETTINGS = {
    "smoke": dict(hidden=50, seeds=3, max_epochs=1500, bound_steps=2500, n_mc=1000,
                  n_mc_test=200, bound_batch=256),
    "default": dict(hidden=50, seeds=7, max_epochs=1500, bound_steps=6000, n_mc=2000,
                    n_mc_test=1000, bound_batch=256),
    "paper": dict(hidden=600, seeds=10, max_epochs=2000, bound_steps=40000, n_mc=100000,
                  n_mc_test=10000, bound_batch=0),
}
COMMON = dict(lr=0.05, batch=64, init_std_ratio=0.3, init_lambda=1e-2, lr_bound=0.01,
              surrogate_samples=1, grid_size=100, delta=0.025, delta_mc=0.01, chunk=250)


VACUOUS_MARGIN = 0.05  # 'non-vacuous': the bound at least 0.05 below 0.5 (chance)
GAP = 0.1             # random labels: bound at least 0.1 higher (the catalogue's figure)


@pytest.fixture(scope="module")
def pac_bayes(budget, shared_seeds, device, disk_cache):
    """k true-label and k random-label models, trained and bounded in one batch (cached)."""
    cfg = dict(COMMON, **budget.select(SETTINGS))
    cfg["shape"] = (64, cfg["hidden"])

    def compute():
        x, y, x_test, y_test = digits().torch(device)
        signs, signs_test = 2.0 * (y >= 5) - 1, 2.0 * (y_test >= 5) - 1
        k, gen = cfg["seeds"], shared_seeds("b9-pac-bayes").torch(0, device)
        shuffled = [signs[torch.randperm(len(signs), generator=gen, device=device)]
                    for _ in range(k)]
        labels = torch.stack([signs] * k + shuffled)          # rows: k true, then k random
        w0 = init_flat(2 * k, *cfg["shape"], gen, device)
        with single_thread(device):
            w, epochs = train_sgd(w0, x, labels, cfg, gen)
            mean, log_std, lam = optimize_bound(w, w0, x, labels, cfg, gen)
            res = evaluate(mean, log_std, lam, w0,
                           (x, labels, x_test, signs_test.expand(2 * k, -1)), cfg, gen)
        return {"res": res, "epochs": np.asarray(epochs.cpu() if hasattr(epochs, "cpu")
                                                 else epochs),
                "m": int(x.shape[0]), "n_params": int(w0.shape[1])}

    return cfg, disk_cache.get_or_compute("b9-pac-bayes", cfg, compute)


def test_pac_bayes_bound(claim, pac_bayes):
    cfg, out = pac_bayes
    res, epochs, k = out["res"], out["epochs"], cfg["seeds"]
    claim.parameters(**cfg, task="digits 0-4 (-1) vs 5-9 (+1)", vacuous_margin=VACUOUS_MARGIN,
                     gap=GAP)
    true, rand = slice(0, k), slice(k, 2 * k)
    bound = np.asarray(res["bound"], float)
    if (epochs > cfg["max_epochs"]).any():
        claim.inconclusive(f"SGD did not fit the training set in {cfg['max_epochs']} epochs "
                           f"for {(epochs > cfg['max_epochs']).sum()} model(s)")

    claim.expect_compare(bound[true], 0.5, alternative="less", min_effect=VACUOUS_MARGIN,
                         units="seeds",
                         name=f"true labels: PAC-Bayes-kl bound below 0.5 by >= "
                              f"{VACUOUS_MARGIN} (non-vacuous)",
                         meaning="each bound holds with probability >= 1 - delta - delta_mc; "
                                 "one-sample Wilcoxon over seeds")
    claim.expect_compare(bound[rand], bound[true], paired=True, alternative="greater",
                         min_effect=GAP, units="seeds",
                         name=f"random labels: bound at least {GAP} above the true-label "
                              "bound (paired by seed)")
    claim.control_compare(bound[rand], 0.5, alternative="less", min_effect=VACUOUS_MARGIN,
                          units="seeds",
                          name="random labels: bound below 0.5 by the same margin (control)")
    claim.sensitivity_compare(bound, np.asarray(res["test_error"], float), paired=True,
                              alternative="greater", min_effect=0.01, units="models",
                              name="the bound lies above the posterior's test error")
    for group, sl in (("true labels", true), ("random labels", rand)):
        claim.measure(f"{group}: PAC-Bayes-kl bound", bound[sl])
        claim.measure(f"{group}: posterior test error (MC)", res["test_error"][sl])
        claim.measure(f"{group}: posterior train error (MC)", res["mc_train_error"][sl])
        claim.measure(f"{group}: KL(Q||P)", res["kl"][sl], unit="nats")
        claim.measure(f"{group}: prior variance lambda", res["lambda"][sl])
        claim.measure(f"{group}: SGD epochs to fit", epochs[sl])
    claim.note(f"m = {out['m']} training points, {out['n_params']} parameters, {k} seeds; "
               f"bound on true labels {bound[true].min():.3f} to {bound[true].max():.3f} "
               f"(posterior test error {res['test_error'][true].mean():.3f} on average, KL "
               f"{res['kl'][true].mean():.0f} nats), on random labels {bound[rand].min():.3f} "
               f"to {bound[rand].max():.3f} (MC train error "
               f"{res['mc_train_error'][rand].mean():.3f}).")
    claim.note(f"Bound = kl^-1 of "
               f"the Monte Carlo training error ({cfg['n_mc']} posterior samples, its own "
               f"kl bound at delta_mc = {cfg['delta_mc']}) against (KL + log {cfg['grid_size']} "
               f"+ log(m / {cfg['delta']})) / (m - 1); lambda is optimised continuously and "
               "rounded to the better of its two grid neighbours (grid exp(-j/10), "
               "j < 100, paid for by the log-grid-size term).")
    claim.note("The SGD solution is taken at the first epoch each model fits its labels "
               "(random labels need several times more epochs); the surrogate "
               "E_Q[logistic]/log 2 + sqrt(B_RE / 2) is minimised with one reparameterised "
               f"sample per step on minibatches of {cfg['bound_batch'] or 'all'} points.")

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for sl, label, color in ((true, "true labels", "C0"), (rand, "random labels", "C3")):
        axes[0].scatter(res["test_error"][sl], bound[sl], color=color, label=label, s=30)
        axes[0].scatter(res["mc_train_error"][sl], bound[sl], color=color, marker="x", s=30)
    axes[0].plot([0, 1], [0, 1], "k-", lw=0.8)
    axes[0].axhline(0.5, color="grey", ls="--", lw=0.8)
    axes[0].set(xlim=(0, 1), ylim=(0, 1.02), xlabel="posterior test error (o) / train error (x)",
                ylabel="PAC-Bayes-kl bound")
    axes[0].legend(fontsize=8)
    index = np.arange(2 * k)
    axes[1].bar(index - 0.2, res["complexity"], 0.4, label="(KL + log terms)/(m-1)")
    axes[1].bar(index + 0.2, bound, 0.4, label="bound")
    axes[1].set_xticks(index, [f"{'true' if i < k else 'rand'} {i % k}" for i in index])
    axes[1].axhline(0.5, color="grey", ls="--", lw=0.8)
    axes[1].set(ylim=(0, 1.05), ylabel="value")
    axes[1].legend(fontsize=8)
    claim.plot(fig, caption="Left: bound against the stochastic network's test error (dots) and "
                            "MC train error (crosses), true vs random labels; dashed: 0.5. "
                            "Right: the complexity term and the final bound per model.")
