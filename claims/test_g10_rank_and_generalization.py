"""G10: among networks that fit their training data, does lower rank go with higher test
accuracy? (measured, not presumed)"""
import matplotlib.pyplot as plt
import numpy as np

from fixtures.lowrank import flag_summary, hidden_rank, usable
from harness import Claim, Verdict
from harness.stats import correlation_se, proportion_se

CLAIM = Claim(
    id="G10",
    title="Lower rank, better test accuracy among interpolating networks",
    statement="Among MLPs trained by SGD with weight decay that all reach 100% training "
              "accuracy, the ones with lower-rank hidden matrices have higher test accuracy.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'if we ensure that the models fit the "
           "training data, picking the ... [hyperparameters] that give the lowest rank is "
           "going to give you the best performance'; described as a modest correlation)",
    expected=Verdict.SUPPORTED,
    why_expected="Measured (1000 MNIST-1D training samples, lambda in {0, 5e-4, 1e-3, 2e-3}, "
                 "B in {10, 25, 50}, mu = 0.2, 200 epochs): among the runs at 100% train "
                 "accuracy, Spearman(rank, test accuracy) was clearly negative (~ -0.6): the "
                 "fitting runs with weight decay have both lower rank and ~3-5 points higher "
                 "test accuracy. The rank range among fitting runs is narrow (a few units below "
                 "the initial ~56): "
                 "models that fit this data cannot have decayed far.",
)


def test_rank_and_generalization(claim, lowrank_fit_sweep, seeds):
    cfg = lowrank_fit_sweep["config"]
    rank, test_acc, lam, batch, fit_count, total = [], [], [], [], 0, 0
    for bs, res in lowrank_fit_sweep["by_batch"].items():
        fits = usable(res) & (res["train_acc"][-1].numpy() >= 1.0)
        fit_count, total = fit_count + int(fits.sum()), total + len(fits)
        rank.append(hidden_rank(res)[fits])
        test_acc.append(res["test_acc"][-1].numpy()[fits])
        lam.append(res["lam"].numpy()[fits])
        batch.append(np.full(int(fits.sum()), bs))
    rank, test_acc, lam, batch = map(np.concatenate, (rank, test_acc, lam, batch))
    claim.parameters(**cfg, fitting_runs=fit_count, runs=total,
                     flags={int(b): flag_summary(r) for b, r in
                            lowrank_fit_sweep["by_batch"].items()})
    if fit_count < 3:
        claim.inconclusive(f"only {fit_count} of {total} runs fit their training data")
        return
    claim.expect_trend(rank, test_acc, direction="decreasing", alpha=0.01, min_effect=0.3,
                       name="lower rank, higher test accuracy (100% train accuracy runs)")
    claim.control_trend(rank, seeds.numpy(0).permutation(test_acc), direction="decreasing",
                        alpha=0.01, min_effect=0.3,
                        name="test accuracy shuffled across the same runs (control)",
                        meaning="no pairing between rank and accuracy: must fail")
    claim.sensitivity_trend(rank[lam == 0], test_acc[lam == 0], direction="decreasing",
                            alpha=0.01, min_effect=0.3, name="within lambda = 0 runs only")
    claim.sensitivity_trend(rank[lam > 0], test_acc[lam > 0], direction="decreasing",
                            alpha=0.01, min_effect=0.3, name="within lambda > 0 runs only")
    claim.sensitivity_compare(test_acc[lam > 0], test_acc[lam == 0], alternative="greater",
                              alpha=0.01, name="fitting runs: lambda > 0 vs lambda = 0 test acc")
    rho = claim.evidence[0].observed
    claim.measure("Spearman(rank, test accuracy) among fitting runs",
                  np.nan if rho is None else rho, floor=correlation_se(rho, rank.size))
    claim.measure("fraction of runs that fit the training data", fit_count / max(total, 1),
                  floor=proportion_se(fit_count / max(total, 1), total))
    claim.note("'Fit' means 100% training accuracy on the subset. The lambda grid is chosen "
               "so that weight-decayed runs can still interpolate; larger lambda lowers the "
               "rank further but the runs no longer fit and are excluded, as the talk says "
               "they must be. The within-lambda rows show how much of the correlation is the "
               "lambda effect on both rank and test accuracy rather than rank itself.")
    claim.note("The effect floor |rho| >= 0.3 is ours (the talk calls the effect modest).")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    for k, value in enumerate(sorted(set(lam))):
        m = lam == value
        ax.scatter(rank[m], test_acc[m], color=f"C{k}", label=f"lambda = {value:g}",
                   s=12 + batch[m])
    ax.set(xlabel="mean hidden rank (tau = 1e-3)", ylabel="test accuracy",
           title="runs with 100% train accuracy (marker size ~ B)")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Test accuracy vs rank among the runs that fit their training "
                            "data.")
