"""G4: without weight decay the rank barely moves and the batch-size effect weakens."""
import matplotlib.pyplot as plt
import numpy as np
from scipy import stats as st

from fixtures.lowrank import flag_summary, hidden_rank, select, usable
from harness import Claim, Verdict
from harness.stats import correlation_se

CLAIM = Claim(
    id="G4",
    title="No weight decay, no rank loss",
    statement="Trained with lambda = 0, the hidden weight matrices keep (nearly) the rank they "
              "had at initialization, and the rank hardly depends on the batch size.",
    source="002_bee57445c622ee0c.txt (Galanti's talk: 'when we train with zero weight decay, "
           "then the rank is not changing'; 'this effect seems to disappear when we don't use "
           "regularization')",
    expected=Verdict.SUPPORTED,
    why_expected="Measured: every lambda = 0 run ended within 1-2% of its initial rank, at every "
                 "B and mu; with lambda = 1e-2 the rank fell to ~35% of it at small B.",
)


def _ratios(sweep, lam):
    """final / initial mean hidden rank of every usable run with this lambda, over all B, mu."""
    out = []
    for res in sweep["epochs"].values():
        mask = select(res, lam=lam) & usable(res)
        out.append(hidden_rank(res)[mask] / hidden_rank(res, checkpoint=0)[mask])
    return np.concatenate(out)


def _batch_rho(sweep, lam, mu):
    b, r = [], []
    for bs, res in sweep["epochs"].items():
        mask = select(res, lam=lam, mu=mu) & usable(res)
        b += [bs] * int(mask.sum())
        r += list(hidden_rank(res)[mask])
    rho = st.spearmanr(b, r).statistic
    return 0.0 if np.isnan(rho) else abs(rho), len(b)  # constant ranks: no batch-size effect


def test_no_decay_no_rank_loss(claim, lowrank_sweep):
    cfg = lowrank_sweep["config"]
    lam_pos, mu = cfg["central"]["lam"], cfg["central"]["mu"]
    lam_max = max(cfg["lambdas"])
    claim.parameters(lambdas=cfg["lambdas"], mus=cfg["mus"], batch_sizes=cfg["batch_sizes"],
                     epochs=cfg["epochs"], flags={int(b): flag_summary(r) for b, r in
                                                  lowrank_sweep["epochs"].items()})
    zero = _ratios(lowrank_sweep, 0.0)
    claim.expect_bound(zero.min(), lower=0.9, n=zero.size,
                       statistic="min over lambda = 0 runs of final / initial rank",
                       name="lambda = 0 keeps >= 90% of the initial rank (every B, mu, seed)")
    (rho0, n0), (rho_pos, n_pos) = (_batch_rho(lowrank_sweep, 0.0, mu),
                                    _batch_rho(lowrank_sweep, lam_pos, mu))
    claim.expect_bound(rho0, upper=rho_pos, statistic="|Spearman(B, rank)| at lambda = 0",
                       name=f"batch-size effect weaker at lambda = 0 than at lambda = "
                            f"{lam_pos:g} (mu = {mu})")
    largest = _ratios(lowrank_sweep, lam_max)
    claim.control_bound(largest.min(), lower=0.9, n=largest.size,
                        statistic=f"min over lambda = {lam_max:g} runs of final / initial rank",
                        name="the same assertion on the lambda > 0 arm (control: it falls)")
    for tau in (1e-2,):
        z = np.concatenate([hidden_rank(r, tau)[select(r, lam=0.0) & usable(r)]
                            / hidden_rank(r, tau, 0)[select(r, lam=0.0) & usable(r)]
                            for r in lowrank_sweep["epochs"].values()])
        claim.sensitivity_bound(z.min(), lower=0.9, n=z.size, name=f"tau = {tau:g}",
                                statistic="min final / initial rank at lambda = 0")
    claim.measure("final / initial rank, lambda = 0", zero)
    claim.measure(f"final / initial rank, lambda = {lam_max:g}", largest)
    claim.measure("|Spearman(B, rank)| lambda = 0 minus lambda > 0", rho0 - rho_pos,
                  floor=float(np.hypot(correlation_se(rho0, n0) or 0.0,
                                       correlation_se(rho_pos, n_pos) or 0.0)))
    claim.note("The comparison of |rho| is a deterministic bound on two Spearman "
               "coefficients over B x seeds at mu = 0.1, not a test with a p-value; the "
               "lambda > 0 value comes from the centre of the grid (as G3).")

    fig, ax = plt.subplots(figsize=(6, 3.6))
    parts = [_ratios(lowrank_sweep, lam) for lam in cfg["lambdas"]]
    ax.boxplot(parts, tick_labels=[f"{lam:g}" for lam in cfg["lambdas"]])
    ax.axhline(0.9, color="red", ls="--", lw=1, label="0.9 x initial rank")
    ax.set(xlabel="lambda", ylabel="final / initial mean hidden rank",
           title="all batch sizes and learning rates")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Final over initial rank per lambda, over every B, mu and seed.")
