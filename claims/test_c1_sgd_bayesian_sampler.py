"""C1: SGD finds a function about as often as a prior sample that fits the data is that
function (Mingard et al., "Is SGD a Bayesian sampler? Well, almost")."""
import functools

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
                 "vote, combined with rule 'all'. The agreement varies between training sets "
                 "S (one S stayed below 0.7 with BCE over three repeats of its prior sample "
                 "and runs; README, unstable arms), so the units are several S, each with its "
                 "own prior sample and runs, and the Pearson is pooled within S. At the "
                 "default budget (n = 5, |S| = 8, target x1 AND x2, 3 training sets, 6e6 "
                 "prior networks and 1e4 runs per optimizer each) both SGD arms clear "
                 "Pearson >= 0.7 of log-frequencies and have most mass within a decade of P_B. "
                 "Full-batch GD and Adam are the catalogue's 'almost' arms: comparison arms "
                 "that measure how far other optimizers move from P_B, on the same training "
                 "sets, shown beside the claim and not voting (GD's pooled Pearson sits just "
                 "above the 0.7 floor: README, unstable arms). "
                 "The negative control is the catalogue's uniform posterior on the support of "
                 "P_B (over all 2^|T| consistent functions it is 0 by construction): it puts "
                 "well under the 0.6 share within a decade, so P_B's shape, not its support, "
                 "carries the agreement.",
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
SGD_ARMS = ("sgd-mse-b2", "sgd-bce-b2")  # what the claim speaks of; the others compare, on
# the same training sets (one set alone left Adam's pin at 18 of 20 seeds: README)
_HOLDS = ("measured: the Pearson of the log-frequencies clears 0.7 and most of the runs' "
          "mass lies within a decade of P_B (figures in the notes)")
ARM_EXPECTED = {  # measured at the default budget; the figures are formatted in the notes
    "sgd-mse-b2": (Verdict.SUPPORTED, _HOLDS),
    "gd-mse": (Verdict.SUPPORTED, "comparison arm: full batch moves furthest from P_B; "
               "pooled over the three training sets its Pearson sits just above the 0.7 floor, "
               "so some seeds leave it undecided (README, unstable arms)"),
    "adam-mse-b2": (Verdict.SUPPORTED, "comparison arm; " + _HOLDS),
    "sgd-bce-b2": (Verdict.SUPPORTED, _HOLDS),
}
SETTINGS = {
    "smoke": dict(n_bits=5, m_train=8, tasks=2, prior_networks=1_000_000, runs=3_000,
                  slots=1024, min_count=5, batch=20_000),
    "default": dict(n_bits=5, m_train=8, tasks=3, prior_networks=6_000_000, runs=10_000,
                    slots=4096, min_count=10, batch=20_000),
    "paper": dict(n_bits=7, m_train=16, tasks=4, prior_networks=400_000_000, runs=100_000,
                  slots=32768, min_count=20, batch=500_000),
}
SHARE_FLOOR = 0.1   # 'most of the mass': at least 0.6, a clear majority


@pytest.fixture(scope="module")
def boolean_tasks(budget, shared_seeds, device):
    """The training sets S: independent draws, the units between which agreement varies."""
    cfg = budget.select(SETTINGS)
    return cfg, [make_task(cfg["n_bits"], cfg["m_train"], shared_seeds("c1-task").numpy(k),
                           device) for k in range(cfg["tasks"])]


@pytest.fixture(scope="module")
def prior(boolean_tasks, shared_seeds, disk_cache, device):
    """prior(k): P_B of training set k by rejection sampling, drawn when an arm first needs
    it and shared by every arm (cached)."""
    cfg, tasks = boolean_tasks

    @functools.cache
    def of_set(k):
        def sample():
            with single_thread(device):
                return prior_sample(tasks[k], cfg["prior_networks"], cfg["batch"],
                                    shared_seeds("c1-prior").torch(k, device))
        return disk_cache.get_or_compute(f"c1-prior-{k}", cfg, sample)

    return of_set


def _runs(arm, k, cfg, task, shared_seeds, disk_cache, device):
    """P_opt for one optimizer arm on training set k, from its own seed."""
    opt = OPTIMIZERS[arm][1]

    def compute():
        with single_thread(device):
            return sgd_sample(task, opt, cfg["runs"], cfg["slots"],
                              shared_seeds(f"c1-runs-{arm}").torch(k, device))

    return disk_cache.get_or_compute(f"c1-runs-{arm}-{k}", {**cfg, **opt}, compute)


def _within(comparisons):
    """(log P_b, log P_a) of every set's common functions, centred within each set and
    pooled: their Pearson is the pooled within-set correlation (each S has its own
    normalisation, so the sets' means carry no agreement)."""
    kept = [c for c in comparisons if c["n_common"]]
    return (np.concatenate([c["log_b"] - c["log_b"].mean() for c in kept]),
            np.concatenate([c["log_a"] - c["log_a"].mean() for c in kept]))


def _pearson_check(recorder, comparisons, name, meaning=""):
    x, y = _within(comparisons)
    return recorder(x, y, direction="increasing", method="pearson", alpha=0.01,
                    min_effect=0.7, name=name, meaning=meaning)


def _pearson(comparison) -> float:
    if comparison["n_common"] <= 2:
        return float("nan")
    return float(np.corrcoef(comparison["log_a"], comparison["log_b"])[0, 1])


@pytest.mark.parametrize("optimizer", list(OPTIMIZERS))
def test_sgd_bayesian_sampler(claim, boolean_tasks, prior, shared_seeds, disk_cache, device,
                              optimizer):
    cfg, tasks = boolean_tasks
    label, opt = OPTIMIZERS[optimizer]
    claim.arm_expects(*ARM_EXPECTED[optimizer], votes=optimizer in SGD_ARMS)
    n_sets = len(tasks)
    claim.parameters(**{**cfg, "tasks": n_sets}, optimizer=label, settings=opt,
                     architecture=f"{cfg['n_bits']}-40-40-1 ReLU")
    mc = cfg["min_count"]
    split_rng = shared_seeds("c1-split").numpy()
    comps, ceilings, flats, totals, p_bs, failed = [], [], [], [], [], 0
    for k in range(n_sets):
        runs = _runs(optimizer, k, cfg, tasks[k], shared_seeds, disk_cache, device)
        p_b = frequencies(prior(k)["functions"])
        half_a, half_b = split_half(prior(k)["functions"], split_rng)
        counts = frequencies(runs["functions"])
        comps.append(compare_distributions(counts, p_b, mc))
        ceilings.append(compare_distributions(half_a, half_b, max(mc // 2, 1)))
        flats.append(compare_distributions(counts, dict.fromkeys(p_b, 1), mc))
        totals.append(sum(counts.values()))
        p_bs.append(p_b)
        failed += runs["failed"]
    total = sum(totals)
    n_test = len(tasks[0]["test"])
    sets = f"{n_sets} training set{'s' if n_sets > 1 else ''}"

    _pearson_check(claim.expect_trend, comps,
                   f"{label}: Pearson of log P_opt vs log P_B >= 0.7",
                   f"over functions seen >= {mc} times by both samplers, centred and pooled "
                   f"within {sets}")
    within = sum(int(round(c["share_within_decade"] * t)) for c, t in zip(comps, totals))
    claim.expect_proportion(within, total, p0=0.5, alternative="greater",
                            min_effect=SHARE_FLOOR, units="runs",
                            name=f"{label}: most of the runs' mass within a factor 10 of P_B "
                                 f"(share >= {0.5 + SHARE_FLOOR:g})",
                            meaning=f"runs of {sets}; functions the prior never produced "
                                    "count as outside")
    # Control: a flat posterior on the same support as P_B (every consistent function the
    # prior sample reached, equally likely). Over all 2^|T| consistent functions it would be
    # 0 by construction (every observed function has frequency >= 1 / runs >> 2^-|T|); on
    # the prior's support it holds if P_B's shape adds nothing to its support.
    near_flat = sum(int(round(f["share_within_decade"] * t)) for f, t in zip(flats, totals))
    claim.control_proportion(near_flat, total, p0=0.5, alternative="greater",
                             min_effect=SHARE_FLOOR, units="runs",
                             name="flat posterior on P_B's support: share of the runs' mass "
                                  "within a factor 10 (control: could hold, must not)",
                             meaning="each function a set's prior sample reached gets "
                                     "1 / (functions reached); the catalogue's uniform "
                                     "posterior, restricted so that it can hold")
    rng = shared_seeds(f"c1-analysis-{optimizer}").numpy()
    shuffled = [dict(c, log_b=rng.permutation(c["log_b"])) for c in comps]
    _pearson_check(claim.placebo_trend, shuffled,
                   "P_B values shuffled across the same functions within each set (placebo)")
    _pearson_check(claim.sensitivity_trend, ceilings,
                   "split-half ceiling: prior half A vs half B, Pearson >= 0.7",
                   f"functions seen >= {max(mc // 2, 1)} times in both halves, pooled within "
                   "sets")

    # speeds are timings, kept out of the evidence (issue 12 item 8)
    used = [prior(k) for k in range(n_sets)]
    claim.timing("prior sampling, CPU seconds (one thread)", sum(p["cpu_s"] for p in used))
    claim.timing("prior sampling, networks per CPU-second",
                 sum(p["drawn"] for p in used) / sum(p["cpu_s"] for p in used))
    # floors: one standard error of each pooled statistic (see harness.stats.correlation_se)
    drawn = sum(p["drawn"] for p in used)
    acceptance = sum(p["accepted"] for p in used) / drawn
    claim.measure("prior acceptance rate", acceptance, floor=proportion_se(acceptance, drawn))
    r_ceiling = float(np.corrcoef(*_within(ceilings))[0, 1])
    n_ceiling = sum(c["n_common"] for c in ceilings)
    claim.measure("split-half ceiling Pearson", r_ceiling,
                  floor=correlation_se(r_ceiling, n_ceiling))
    n_common = sum(c["n_common"] for c in comps)
    r = float(np.corrcoef(*_within(comps))[0, 1]) if n_common > 2 else np.nan
    claim.measure("Pearson log P_opt vs log P_B", r, floor=correlation_se(r, n_common))
    per_set = [_pearson(c) for c in comps]
    if n_sets > 1 and np.isfinite(per_set).any():
        lowest = int(np.nanargmin(per_set))
        claim.measure("lowest Pearson of one training set", per_set[lowest],
                      floor=correlation_se(per_set[lowest], comps[lowest]["n_common"]))
    share = within / total
    claim.measure("share of mass within a decade of P_B", share,
                  floor=proportion_se(share, total))
    gaps = np.concatenate([np.abs(c["log_a"] - c["log_b"]) for c in comps])
    claim.measure("mean |log10 P_opt / P_B| over common functions", float(gaps.mean()),
                  unit="decades",
                  floor=float(gaps.std(ddof=1) / np.sqrt(gaps.size)) if gaps.size > 1 else None)
    claim.measure(f"runs not fitting S in {opt['max_steps']} steps", failed,
                  floor=total * proportion_se(failed / total, total))
    claim.note(f"Prior: {drawn:.3g} networks drawn over {sets}, "
               f"{sum(p['accepted'] for p in used)} consistent with their S. Layer "
               "pre-activations on S are drawn from their exact conditional Gaussian; accepted "
               "networks get weights conditional on those pre-activations (exact), which "
               "gives the outputs on T.")
    per_set_text = "; ".join(
        f"set {k}: Pearson {p:.2f} over {c['n_common']} functions, {c['share_within_decade']:.1%}"
        f" of the mass within a decade, a flat posterior on its {len(b)} functions "
        f"{f['share_within_decade']:.1%}" for k, (p, c, f, b) in
        enumerate(zip(per_set, comps, flats, p_bs)))
    claim.note(f"Functions are sign patterns on the {n_test} held-out inputs of each S. The "
               f"Pearson uses the {n_common} functions seen >= {mc} times by both samplers "
               f"({sum(c['mass_in_common'] * t for c, t in zip(comps, totals)) / total:.1%} "
               f"of the runs' mass), with log-frequencies centred within each S; the "
               f"split-half ceiling ({r_ceiling:.2f} over {n_ceiling} functions) uses >= "
               f"{max(mc // 2, 1)} in each half of a prior sample (same expected count), "
               f"and is what the prior samples' own noise allows. {label}: pooled Pearson "
               f"{r:.2f}, {share:.1%} of the mass within a decade of P_B, mean |log10 ratio| "
               f"{gaps.mean():.2f} decades; a flat posterior on the functions each prior "
               f"reached puts {near_flat / total:.1%} of it within a decade (the uniform one "
               f"over all 2^{n_test} consistent functions: 0 by construction). Per training "
               f"set: {per_set_text}.")

    fig, axes = plt.subplots(1, 1, figsize=(5.5, 4.2))
    lows = [min(c["log_b"].min(), c["log_a"].min()) for c in comps if c["n_common"]]
    lo = 10 ** min(lows) if lows else 1e-4
    for k, c in enumerate(comps):
        axes.scatter(10 ** c["log_b"], 10 ** c["log_a"], s=14, alpha=0.6,
                     label=f"set {k} (n={c['n_common']}, r={per_set[k]:.2f})")
    grid = np.array([lo / 2, 1.0])
    axes.plot(grid, grid, "k-", lw=0.8)
    for factor in (0.1, 10):
        axes.plot(grid, grid * factor, "k:", lw=0.6)
    axes.set(xscale="log", yscale="log", xlabel="P_B(f|S) (prior rejection sampling)",
             ylabel="P_opt(f|S)", xlim=(lo / 3, 1), ylim=(lo / 3, 1), title=label)
    axes.legend(fontsize=7)
    claim.plot(fig, caption="Frequency of each function under this optimizer against its "
                            "posterior probability under the prior, one colour per training "
                            "set S (diagonal: equality; dotted: factor 10).")
