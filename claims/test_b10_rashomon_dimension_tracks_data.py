"""B10: P - dim = rank(J) counts what the data needs: it tracks n, not the width.

Method: XOR-like tasks (fixtures.xor_tasks): n = 2..8 Gaussian points in the plane with 0/1
labels, one task per net, all n of a width in one batched computation (masked points); GD then
Gauss-Newton polish to zero loss; exact rank(J) at every converged minimum.
Arms: activation x width, widths 1, 4 and 16; width 1 (P = 5) is drawn and judged on n <= P
only (for n > P the width, not the data, caps rank(J), and such data cannot be fitted), with
many more tasks per n (it is cheap, and its ReLU share sits near the bar). Units: the
converged minima whose rank(J) is unambiguous (the same for relu'(0) = 0 and 1: at a kink
rank(J) depends on the convention). Primaries: rank(J) <= n (exact), rank(J) = n in >= 90%
(exact binomial), and a Spearman trend of rank(J) on n (floor 0.9, and a raw rise of at least
one rank unit and 10%). Placebo: the same trend with n permuted across the runs. Positive
control of a ReLU arm, paired with each statistical primary: the tanh arm of the same width,
drawn to the ReLU primary's n (rank(J) = n there: a rate of 1 is p0 + 1.25 floors, a Spearman
of 1 is 1.11 floors). No substantive control exists (the claim says why).
"""
import matplotlib.pyplot as plt
import numpy as np
import pytest
from scipy import stats

from fixtures.xor import n_params
from fixtures.xor_tasks import fit, random_tasks
from harness import Claim, Verdict

CLAIM = Claim(
    id="B10",
    title="The number of used parameters tracks the data (n), not the width",
    statement="The Rashomon-set codimension P - dim = rank(J) measures the parameters the "
              "data uses: it grows with the number of training points n (and never exceeds "
              "n), not with the width of the network.",
    source="003_c025dbd4f5c74a9f.txt (post, 'Rashomon Set': 'the number of parameters the "
           "network is using to store the data'; with B1's exact count)",
    expected=Verdict.REFUTED,
    why_expected="Measured: on the rank-unambiguous minima rank(J) = n in (nearly) every run "
                 "and tracks n for tanh at widths 1, 4 and 16 (width 1 fits only the smallest "
                 "n) and for ReLU at widths 4 and 16, but not for ReLU at width 1: over "
                 "thousands of minima its Spearman trend of rank(J) on n is excluded at its "
                 "floor (FAILS; the tanh width-1 arm's own measurement at the same count holds "
                 "as the paired positive control), and its share at rank(J) = n sits under "
                 "90% (excluded at alpha, or just undecided at alpha / m). The "
                 "mechanism is algebra, not noise: points on the single unit's inactive side "
                 "all have the same Jacobian row (only the output bias reaches them), so a "
                 "minimum with m >= 2 such points has rank(J) = n - m + 1; at n = 4 and 5 the "
                 "narrow net's minima have such points (per-n ranks in the notes). The "
                 "catalogue expected SUPPORTED 'for every width'; it fails for the narrowest "
                 "ReLU net.",
    regime="zero-loss minima (polished loss < 1e-26), rank-unambiguous; width 1 on n <= P",
    no_substantive_control="rank(J) <= n is algebra and rank(J) = n is what a generic J of a "
                           "fitted net gives: no run of this experiment lacks the mechanism "
                           "and could still show the trend; permuting n is a placebo",
)
# narrow_per_n: tasks per n for a width whose P is below the largest n (width 1, P = 5),
# drawn only at n <= P: its rank-unambiguous ReLU minima have rank(J) = n in about 88%, near
# the 90% bar, so deciding that share takes thousands of minima (width 1 is cheap)
SETTINGS = {"smoke": {"n_values": [2, 4, 6, 8], "per_n": 20, "narrow_per_n": 200,
                      "widths": [1, 4, 16], "steps": 2000},
            "default": {"n_values": [2, 3, 4, 5, 6, 7, 8], "per_n": 50, "narrow_per_n": 4000,
                        "widths": [1, 4, 16], "steps": 4000},
            "paper": {"n_values": list(range(2, 17)), "per_n": 500, "narrow_per_n": 20000,
                      "widths": [1, 4, 16, 64], "steps": 20000}}
ARMS = [(a, h) for a in ("tanh", "relu") for h in SETTINGS["default"]["widths"]]
P0, FLOOR = 0.5, 0.4  # rank(J) = n in >= 90% of the minima
RHO_FLOOR = 0.9
RANK_FLOORS = dict(raw_floor=1.0, raw_floor_rel=0.1)  # a rank trend moves >= 1 and 10%


@pytest.fixture(scope="session")
def b10_fits(budget, shared_seeds, device, disk_cache):
    cfg = budget.select(SETTINGS)

    def compute():
        out = {}
        for i, (act, h) in enumerate(ARMS):
            gen = shared_seeds("b10").torch(replicate=i)
            narrow = n_params(h, 2) < max(cfg["n_values"])
            x, y, mask, n = random_tasks(
                [k for k in cfg["n_values"] if k <= n_params(h, 2)] if narrow
                else cfg["n_values"], cfg["narrow_per_n" if narrow else "per_n"], gen)
            out[(act, h)] = (n.numpy(), fit(x, y, mask, h, act, gen, cfg["steps"],
                                            device=device))
        return out
    return cfg, disk_cache.get_or_compute("b10-fits", cfg, compute)


def _units(n, r):
    """(n, rank(J)) of the converged, rank-unambiguous minima (width 1: n <= P only)."""
    keep = r["converged"].numpy() & ~r["rank_ambiguous"].numpy() & (n <= r["P"])
    return n[keep], r["rank_j"].numpy()[keep]


def _tanh_positive_controls(claim, fits, h, size, at_n, tracks, rng):
    """The tanh arm of the same width, drawn to the ReLU primaries' n, behind each of them."""
    nn, rank = _units(*fits[("tanh", h)])
    if nn.size < size:
        claim.note(f"no positive control: the tanh h={h} arm has {nn.size} minima, fewer than "
                   f"the {size} of this arm")
        return
    pick = rng.choice(nn.size, size, replace=False)
    nn, rank = nn[pick], rank[pick]
    rate = float((rank == nn).mean())
    if 1 <= (rate - P0) / FLOOR <= 1.5:
        claim.positive_proportion(int((rank == nn).sum()), size, p0=P0, alternative="greater",
                                  min_effect=FLOOR, units="minima", backs=at_n,
                                  planted=(rate - P0) / FLOOR,
                                  name=f"tanh h={h}, {size} minima: rank(J) = n in >= 90% "
                                       "(positive control)")
    rho = float(stats.spearmanr(nn, rank)[0]) if np.ptp(rank) else 0.0
    if 1 <= rho / RHO_FLOOR <= 1.5:
        claim.positive_trend(nn, rank, direction="increasing", min_effect=RHO_FLOOR,
                             blocks=False, units="minima", **RANK_FLOORS, backs=tracks,
                             planted=rho / RHO_FLOOR,
                             name=f"tanh h={h}, {size} minima: rank(J) tracks n (positive "
                                  "control)")


@pytest.mark.parametrize("act,h", ARMS, ids=[f"{a}-h{h}" for a, h in ARMS])
def test_rashomon_codimension_tracks_data(claim, b10_fits, seeds, act, h):
    cfg, fits = b10_fits
    claim.parameters(**cfg, activation=act, width=h)
    if (act, h) == ("relu", 1):
        claim.arm_expects(Verdict.REFUTED, "measured on thousands of width-1 ReLU minima "
                          "(n <= P = 5): the Spearman trend of rank(J) on n is excluded at "
                          "its floor and the share at rank(J) = n sits under 90% (points on "
                          "the unit's inactive side share one Jacobian row), while the tanh "
                          "width-1 arm's measurement at the same count holds (notes)")
    else:
        claim.arm_expects(Verdict.SUPPORTED, "measured: rank(J) = n in (nearly) every "
                          "rank-unambiguous minimum, tracking n (notes)")
    n, r = fits[(act, h)]
    c = r["converged"].numpy()
    claim.measure("convergence rate", c, unit="fraction")
    nn, rank = _units(n, r)
    claim.expect_exact((rank - nn).max() if rank.size else np.nan, upper=0, n=len(rank),
                       units="minima", statistic="max rank(J) - n", name="rank(J) <= n")
    at_n = claim.expect_proportion(int((rank == nn).sum()), len(rank), p0=P0,
                                   alternative="greater", min_effect=FLOOR, units="minima",
                                   name="rank(J) = n in >= 90% of the minima")
    tracks = claim.expect_trend(nn, rank, direction="increasing", min_effect=RHO_FLOOR,
                                blocks=False, units="minima", **RANK_FLOORS,
                                name="rank(J) tracks n (Spearman)")
    rng = seeds.numpy()
    claim.placebo_trend(rng.permutation(nn), rank, direction="increasing",
                        min_effect=RHO_FLOOR, blocks=False, units="minima", **RANK_FLOORS,
                        name="n permuted across the runs (placebo)")
    all_n, all_rank = n[c], r["rank_j"].numpy()[c]
    claim.sensitivity_proportion(int((all_rank == all_n).sum()), int(c.sum()), p0=P0,
                                 alternative="greater", min_effect=FLOOR, units="minima",
                                 name="rank(J) = n, every converged run (kinks included)")
    if act == "relu":
        _tanh_positive_controls(claim, fits, h, len(rank), at_n, tracks, rng)
    ns = sorted(set(n.tolist()))
    claim.note(f"{act} h={h}: rank(J) of the rank-unambiguous minima per n: "
               + "; ".join(f"n={k}: " + ", ".join(f"rank {v} x{int((rank[nn == k] == v).sum())}"
                                                   for v in sorted(set(rank[nn == k].tolist())))
                           for k in ns if (nn == k).any()) + ".")
    claim.note(f"{act} h={h} (P = {r['P']}): converged per n "
               + ", ".join(f"n={k}: {int(c[n == k].sum())}/{int((n == k).sum())}" for k in ns)
               + f"; rank(J) = n in {int((rank == nn).sum())} of the {len(rank)} "
               f"rank-unambiguous minima judged ({int((all_rank == all_n).sum())} of "
               f"{int(c.sum())} converged runs, kinks included)"
               + (f"; at n > P = {r['P']} no run can reach zero loss (rank(J) <= P < n)."
                  if r["P"] < max(ns) else "."))
    fig, ax = plt.subplots(figsize=(5, 3.6))
    ax.plot(ns, [rank[nn == k].mean() if (nn == k).any() else np.nan for k in ns], "o-",
            label=f"mean rank(J), converged (P = {r['P']})")
    ax.plot(ns, ns, "k:", label="n")
    ax.set(title=f"{act} h={h}", xlabel="training points n", ylabel="rank(J) = P - dim")
    ax.legend(fontsize=8)
    claim.plot(fig, caption="Exact P - dim at zero-loss minima vs the number of points.")
