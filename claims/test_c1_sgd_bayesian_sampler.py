"""C1: SGD finds a function about as often as a prior sample that fits the data is that
function (Mingard et al., "Is SGD a Bayesian sampler? Well, almost")."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from fixtures.boolean import (
    compare_distributions,
    frequencies,
    make_task,
    prior_sample,
    sgd_sample,
    split_half,
)
from harness import Claim, Verdict
from harness.device import single_thread
from harness.stats import correlation_se, proportion_se

CLAIM = Claim(
    id="C1",
    title="SGD as a Bayesian sampler (P_SGD vs P_B on Boolean functions)",
    statement="For a fixed training set S, the probability P_SGD(f|S) that a run of SGD "
              "from a random init ends at function f tracks the Bayesian posterior P_B(f|S) "
              "of the parameter prior: on log-log axes the two agree (Pearson >= 0.7 over "
              "functions both find often) and most of SGD's mass sits within a factor 10 "
              "of P_B. Other optimizers move away from P_B somewhat ('well, almost').",
    source="000_01570736ab035b87.txt (Wentworth's reply: 'SGD training on neural nets does "
           "quite well approximate just-randomly-sampling-an-optimal-point', citing Mingard "
           "et al.)",
    expected=Verdict.SUPPORTED,
    why_expected="The claim is about SGD: its two arms (small-batch SGD with MSE and with BCE) "
                 "vote, combined with rule 'all'. At the default budget (n = 5, |S| = 8, "
                 "target x1 AND x2, 6e6 prior networks, 1e4 runs per optimizer) both clear "
                 "Pearson >= 0.7 of log-frequencies and have most mass within a decade of P_B. "
                 "Full-batch GD and Adam are the catalogue's 'almost' arms: comparison arms "
                 "that measure how far other optimizers move from P_B, shown beside the claim "
                 "and not voting (GD is undecided against 0.7 at this prior sample size). "
                 "The negative control is the catalogue's uniform posterior on the support of "
                 "P_B (over all 2^|T| consistent functions it is 0 by construction): it puts "
                 "well under the 0.6 share within a decade, so P_B's shape, not its support, "
                 "carries the agreement. The SGD Pearson estimates sit close to the floor, "
                 "so the sgd-bce-b2 arm is INCONCLUSIVE under a few calibration seeds (the "
                 "report shows the counts).",
    combine="all",
)

OPTIMIZERS = {  # arm id -> (label, settings); the first is the primary arm of the source
    "sgd-mse-b2": ("SGD, MSE, batch 2",
                   dict(optimizer="sgd", loss="mse", lr=0.05, batch=2, max_steps=2000)),
    "gd-mse": ("full-batch GD, MSE",
               dict(optimizer="sgd", loss="mse", lr=0.05, batch=8, max_steps=2000)),
    "adam-mse-b2": ("Adam, MSE, batch 2",
                    dict(optimizer="adam", loss="mse", lr=0.01, batch=2, max_steps=2000)),
    "sgd-bce-b2": ("SGD, BCE, batch 2",
                   dict(optimizer="sgd", loss="bce", lr=0.1, batch=2, max_steps=2000)),
}
SGD_ARMS = ("sgd-mse-b2", "sgd-bce-b2")  # what the claim speaks of; the others compare
_HOLDS = ("measured: the Pearson of the log-frequencies clears 0.7 and most of the runs' "
          "mass lies within a decade of P_B (figures in the notes)")
ARM_EXPECTED = {  # measured at the default budget; the figures are formatted in the notes
    "sgd-mse-b2": (Verdict.SUPPORTED, _HOLDS),
    "gd-mse": (Verdict.INCONCLUSIVE, "comparison arm: full batch moves furthest from P_B; its "
               "Pearson sits below 0.7 with an interval that reaches 0.7, and a doubled prior "
               "sample and doubled runs did not decide it (README, unstable arms)"),
    "adam-mse-b2": (Verdict.SUPPORTED, "comparison arm; " + _HOLDS),
    "sgd-bce-b2": (Verdict.SUPPORTED, _HOLDS),
}
SETTINGS = {
    "smoke": dict(n_bits=5, m_train=8, prior_networks=1_000_000, runs=3_000, slots=1024,
                  min_count=5, batch=20_000),
    "default": dict(n_bits=5, m_train=8, prior_networks=6_000_000, runs=10_000, slots=4096,
                    min_count=10, batch=20_000),
    "paper": dict(n_bits=7, m_train=16, prior_networks=400_000_000, runs=100_000,
                  slots=32768, min_count=20, batch=500_000),
}
SHARE_FLOOR = 0.1   # 'most of the mass': at least 0.6, a clear majority


@pytest.fixture(scope="module")
def boolean_task(budget, shared_seeds, device):
    cfg = budget.select(SETTINGS)
    return cfg, make_task(cfg["n_bits"], cfg["m_train"], shared_seeds("c1-task").numpy(), device)


@pytest.fixture(scope="module")
def prior(boolean_task, shared_seeds, disk_cache, device):
    """P_B by rejection sampling: one sample shared by every arm (cached)."""
    cfg, task = boolean_task

    def compute():
        with single_thread(device):
            return prior_sample(task, cfg["prior_networks"], cfg["batch"],
                                shared_seeds("c1-prior").torch(0, device))

    return disk_cache.get_or_compute("c1-prior", cfg, compute)


def _runs(arm, cfg, task, shared_seeds, disk_cache, device):
    """P_opt for one optimizer arm, from its own seed (the same alone or with the others)."""
    opt = OPTIMIZERS[arm][1]

    def compute():
        with single_thread(device):
            return sgd_sample(task, opt, cfg["runs"], cfg["slots"],
                              shared_seeds(f"c1-runs-{arm}").torch(0, device))

    return disk_cache.get_or_compute(f"c1-runs-{arm}", {**cfg, **opt}, compute)


def _pearson_check(recorder, comparison, name, meaning=""):
    return recorder(comparison["log_b"], comparison["log_a"], direction="increasing",
                    method="pearson", alpha=0.01, min_effect=0.7, name=name, meaning=meaning)


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_sgd_bayesian_sampler(claim, boolean_task, prior, shared_seeds, disk_cache, device,
                              optimizer):
    cfg, task = boolean_task
    label, opt = OPTIMIZERS[optimizer]
    claim.arm_expects(*ARM_EXPECTED[optimizer], votes=optimizer in SGD_ARMS)
    claim.parameters(**cfg, optimizer=label, settings=opt,
                     architecture=f"{cfg['n_bits']}-40-40-1 ReLU")
    runs = _runs(optimizer, cfg, task, shared_seeds, disk_cache, device)
    rng = shared_seeds(f"c1-analysis-{optimizer}").numpy()
    n_test = len(task["test"])
    p_b = frequencies(prior["functions"])
    mc = cfg["min_count"]
    half_a, half_b = split_half(prior["functions"], shared_seeds("c1-split").numpy())
    ceiling = compare_distributions(half_a, half_b, max(mc // 2, 1))
    counts = frequencies(runs["functions"])
    comp = compare_distributions(counts, p_b, mc)
    total = sum(counts.values())

    _pearson_check(claim.expect_trend, comp,
                   f"{label}: Pearson of log P_opt vs log P_B >= 0.7",
                   f"over functions seen >= {mc} times by both samplers")
    within = int(round(comp["share_within_decade"] * total))
    claim.expect_proportion(within, total, p0=0.5, alternative="greater",
                            min_effect=SHARE_FLOOR, units="runs",
                            name=f"{label}: most of the runs' mass within a factor 10 of P_B "
                                 f"(share >= {0.5 + SHARE_FLOOR:g})",
                            meaning="functions the prior never produced count as outside")
    # Control: a flat posterior on the same support as P_B (every consistent function the
    # prior sample reached, equally likely). Over all 2^|T| consistent functions it would be
    # 0 by construction (every observed function has frequency >= 1 / runs >> 2^-|T|); on
    # the prior's support it holds if P_B's shape adds nothing to its support.
    flat = compare_distributions(counts, dict.fromkeys(p_b, 1), mc)
    near_flat = int(round(flat["share_within_decade"] * total))
    claim.control_proportion(near_flat, total, p0=0.5, alternative="greater",
                             min_effect=SHARE_FLOOR, units="runs",
                             name="flat posterior on P_B's support: share of the runs' mass "
                                  "within a factor 10 (control: could hold, must not)",
                             meaning=f"each of the {len(p_b)} functions the prior sample "
                                     f"reached gets 1/{len(p_b)}; the catalogue's uniform "
                                     "posterior, restricted so that it can hold")
    shuffled = dict(comp, log_b=rng.permutation(comp["log_b"]))
    _pearson_check(claim.placebo_trend, shuffled,
                   "P_B values shuffled across the same functions (placebo)")
    _pearson_check(claim.sensitivity_trend, ceiling,
                   "split-half ceiling: prior half A vs half B, Pearson >= 0.7",
                   f"functions seen >= {max(mc // 2, 1)} times in both halves")

    # speeds are timings, kept out of the evidence (issue 12 item 8)
    claim.timing("prior sampling, CPU seconds (one thread)", prior["cpu_s"])
    claim.timing("prior sampling, networks per CPU-second", prior["rate_per_s"])
    # floors: one standard error of each pooled statistic (see harness.stats.correlation_se)
    acceptance = prior["accepted"] / prior["drawn"]
    claim.measure("prior acceptance rate", acceptance,
                  floor=proportion_se(acceptance, prior["drawn"]))
    r_ceiling = np.corrcoef(ceiling["log_a"], ceiling["log_b"])[0, 1]
    claim.measure("split-half ceiling Pearson", r_ceiling,
                  floor=correlation_se(r_ceiling, ceiling["n_common"]))
    r = np.corrcoef(comp["log_a"], comp["log_b"])[0, 1] if comp["n_common"] > 2 else np.nan
    claim.measure("Pearson log P_opt vs log P_B", r, floor=correlation_se(r, comp["n_common"]))
    claim.measure("share of mass within a decade of P_B", comp["share_within_decade"],
                  floor=proportion_se(comp["share_within_decade"], total))
    gaps = np.abs(comp["log_a"] - comp["log_b"])
    claim.measure("mean |log10 P_opt / P_B| over common functions",
                  comp["mean_abs_log10_ratio"], unit="decades",
                  floor=float(gaps.std(ddof=1) / np.sqrt(gaps.size)) if gaps.size > 1 else None)
    failed = runs["failed"]
    claim.measure(f"runs not fitting S in {opt['max_steps']} steps", failed,
                  floor=cfg["runs"] * proportion_se(failed / cfg["runs"], cfg["runs"]))
    claim.note(f"Prior: {prior['drawn']:.3g} networks drawn, {prior['accepted']} consistent "
               "with S. Layer pre-activations on S are drawn from their exact conditional "
               "Gaussian; accepted networks get weights conditional on those pre-activations "
               "(exact), which gives the outputs on T.")
    claim.note(f"Functions are sign patterns on the {n_test} held-out inputs. Pearson uses the "
               f"{comp['n_common']} functions seen >= {mc} times by both samplers "
               f"({comp['mass_in_common']:.1%} of the runs' mass); the split-half ceiling "
               f"({r_ceiling:.2f} over {ceiling['n_common']} functions) uses >= "
               f"{max(mc // 2, 1)} in each half of the prior sample (same expected count), "
               f"and is what the prior sample's own noise allows. {label}: Pearson {r:.2f}, "
               f"{comp['share_within_decade']:.1%} of the mass within a decade of P_B, mean "
               f"|log10 ratio| {comp['mean_abs_log10_ratio']:.2f} decades; a flat posterior "
               f"on the {len(p_b)} functions the prior reached puts {near_flat / total:.1%} of it "
               f"within a decade (the uniform one over all 2^{n_test} consistent functions: "
               f"0 by construction).")

    fig, axes = plt.subplots(1, 1, figsize=(5.5, 4.2))
    axes.scatter(10 ** comp["log_b"], 10 ** comp["log_a"], s=14, alpha=0.7,
                 label=f"{label} (n={comp['n_common']})")
    lo = 10 ** min(comp["log_b"].min(), comp["log_a"].min()) if comp["n_common"] else 1e-4
    grid = np.array([lo / 2, 1.0])
    axes.plot(grid, grid, "k-", lw=0.8)
    for factor in (0.1, 10):
        axes.plot(grid, grid * factor, "k:", lw=0.6)
    axes.set(xscale="log", yscale="log", xlabel="P_B(f|S) (prior rejection sampling)",
             ylabel="P_opt(f|S)", xlim=(lo / 3, 1), ylim=(lo / 3, 1))
    axes.legend(fontsize=7)
    claim.plot(fig, caption="Frequency of each function under this optimizer against its "
                            "posterior probability under the prior (diagonal: equality; "
                            "dotted: factor 10).")
