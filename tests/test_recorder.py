"""The recorder's part of the judging rule: paired positive controls, declared and detected
constant controls, alpha / m for refutations, comparison arms only where the catalogue names
them, and seeds until decided."""
import numpy as np
import pytest

from harness import Claim, Verdict
from harness.evidence import Outcome
from harness.recorder import ClaimRecorder
from harness.sequential import Looks


def recorder(arm="a", claim_id="G99", n_arms=1, combine="all"):
    meta = Claim(id=claim_id, title="t", statement="s", source="tests", why_expected="w",
                 expected=Verdict.SUPPORTED, combine=combine)
    return ClaimRecorder(meta, f"test_x.py::test_y[{arm}]", 1, n_arms=n_arms)


def test_a_positive_control_must_name_its_primary_and_plant_at_1_to_1_5_x_the_floor():
    rec = recorder()
    primary = rec.expect_compare(np.arange(1.0, 9.0), 0.0, alternative="greater",
                                 min_effect=1.0, name="shift")
    with pytest.raises(ValueError, match="backs=<the primary row"):
        rec.positive_compare(np.arange(8.0), 0.0, alternative="greater", min_effect=1.0)
    with pytest.raises(ValueError, match="between 1 and 1.5; got 4"):
        rec.positive_compare(np.arange(8.0), 0.0, alternative="greater", min_effect=1.0,
                             backs=primary, planted=4)
    with pytest.raises(ValueError, match="use the same check"):
        rec.positive_proportion(5, 8, p0=0.5, alternative="greater", min_effect=0.1,
                                backs=primary, planted=1.2)
    row = rec.positive_compare(np.arange(8.0), 0.0, alternative="greater", min_effect=1.0,
                               backs=primary, planted=1.2)
    assert row.details["backs"] == "shift" and row.details["planted"] == 1.2
    # a count planted at exactly 1.5 x the floor, as planted_successes gives it (O3 raised
    # here under 2 of 20 calibration seeds): (0.65 - 0.5) / 0.1 is 1.5000000000000002
    ratio = (0.65 - 0.5) / 0.1
    assert ratio > 1.5
    edge = rec.positive_compare(np.arange(8.0), 0.0, alternative="greater", min_effect=1.0,
                                backs=primary, planted=ratio)
    assert edge.details["planted"] == 1.5


def test_a_control_declared_or_measured_constant_is_degenerate():
    rec = recorder()
    declared = rec.control_proportion(0, 40, p0=0.05, alternative="greater", min_effect=0.1,
                                      constant_by_construction="every frequency >= 1e-4")
    assert declared.outcome == Outcome.DEGENERATE.value
    assert "every frequency" in declared.details["degenerate"]
    flat = rec.control_compare(np.ones(8), np.ones(8), paired=True, alternative="greater",
                               min_effect=0.5)
    assert flat.outcome == Outcome.DEGENERATE.value and "zero spread" in flat.details["degenerate"]
    # the same all-zero differences as a primary are evidence of no effect: bounded, can FAIL
    primary = rec.expect_compare(np.ones(8), np.ones(8), paired=True, alternative="greater",
                                 min_effect=0.5, support=(-1, 1))
    assert primary.outcome == Outcome.FAILS.value and primary.ci_high < 0.5


def test_a_refutation_needs_its_fails_at_alpha_over_m():
    rng = np.random.default_rng(2)
    # a shift that fails at alpha = 0.01 but not at 0.01 / 6 (3 arms x 2 primaries)
    diffs = rng.normal(0.5, 0.5, 12)
    alone = recorder()
    alone.expect_compare(diffs, 0.0, alternative="greater", min_effect=1.0, name="shift")
    crowded = recorder(n_arms=3)
    crowded.expect_compare(diffs, 0.0, alternative="greater", min_effect=1.0, name="shift")
    crowded.expect_compare(diffs + 2, 0.0, alternative="greater", min_effect=1.0, name="other")
    alone.verdict(), crowded.verdict()
    assert alone.evidence[0].outcome == Outcome.FAILS.value
    strict = crowded.evidence[0].details["refute_alpha"]
    assert strict["m"] == 6 and strict["alpha"] == pytest.approx(0.01 / 6)
    assert crowded.evidence[0].outcome == Outcome.UNDECIDED.value
    # under the "any" rule every arm must be refuted: arms do not multiply
    anyrule = recorder(n_arms=3, combine="any")
    anyrule.expect_compare(diffs, 0.0, alternative="greater", min_effect=1.0, name="shift")
    anyrule.verdict()
    assert anyrule.evidence[0].outcome == Outcome.FAILS.value


def test_comparison_arms_only_where_the_catalogue_names_them():
    with pytest.raises(ValueError, match="votes=False .* is allowed only"):
        recorder(arm="relu-h4").arm_expects(Verdict.INCONCLUSIVE, "why", votes=False)
    gd = recorder(arm="gd-mse", claim_id="C1")
    gd.arm_expects(Verdict.INCONCLUSIVE, "comparison arm", votes=False)
    assert gd.votes is False


def test_until_decided_stops_at_the_first_decided_look_and_uses_alpha_over_looks():
    rng = np.random.default_rng(0)
    data = rng.normal(1.0, 1.0, 64)  # a clear effect: decided early
    rec = recorder()
    looks = Looks.doubling(8, 64)
    seen = []

    def look(units, alpha):
        seen.append((units, alpha))
        rec.expect_compare(data[:units], 0.0, alternative="greater", min_effect=0.2,
                           alpha=alpha, name="shift")

    units, alpha = rec.until_decided(looks, look)
    assert looks.units == (8, 16, 32, 64) and alpha == pytest.approx(0.01 / 4)
    assert seen[-1][0] == units < 64 and all(a == alpha for _, a in seen)
    (row,) = rec.evidence  # earlier looks' rows are dropped
    assert row.outcome == Outcome.HOLDS.value and row.n == units
    assert row.details["sequential"]["look"] == len(seen)

    noise = recorder()  # no effect, floor far away: undecided until the cap
    units, _ = noise.until_decided(Looks((4, 6)), lambda u, a: noise.expect_compare(
        rng.normal(0, 1, u), 0.0, alternative="greater", min_effect=0.05, alpha=a))
    assert units == 6 and noise.evidence[0].details["sequential"]["look"] == 2


def test_looks_are_declared_increasing():
    assert Looks.doubling(3, 20).units == (3, 6, 12, 20)
    assert Looks.fixed(5).alpha(0.01) == 0.01
    with pytest.raises(ValueError, match="increasing"):
        Looks((8, 8))
    with pytest.raises(ValueError, match="below the first look"):
        Looks.doubling(10, 5)


def test_blocks_are_computed_once_and_reused_by_later_looks(tmp_path):
    from harness.cache import DiskCache
    from harness.sequential import cached_blocks

    cache, calls = DiskCache(tmp_path, {"master_seed": 1}), []

    def block(i):
        calls.append(i)
        return np.random.default_rng(i).normal(size=4)

    first = cached_blocks(cache, "toy", {"n": 4}, block, 2)
    later = cached_blocks(cache, "toy", {"n": 4}, block, 3)
    assert calls == [0, 1, 2]  # the third look computed only its new block
    assert all(np.array_equal(a, b) for a, b in zip(first, later))
