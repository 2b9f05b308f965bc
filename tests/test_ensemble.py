"""The ensemble consistency test: known false-alarm rates on synthetic ensembles, the
verdict-move rule, ensembles built from calibration runs, and the baseline compare."""
import numpy as np
import pytest
from scipy import stats as st

from harness import baseline, calibration, ensemble
from harness.evidence import Claim, Verdict
from harness.recorder import ClaimMismatch, ClaimRecorder


def _model(values):
    return ensemble.figure_model(list(values))


def _p(value, model):
    return ensemble.prediction_p(value, model)


@pytest.mark.parametrize("k", [10, 20])
def test_one_more_member_is_flagged_at_the_nominal_rate(k):
    """A new draw from the ensemble's own distribution leaves the prediction interval at
    rate ``level`` (Student t with k - 1 degrees of freedom is exact for normal members;
    members of both signs have only the linear view)."""
    rng = np.random.default_rng(0)
    draws = rng.normal(0.0, 0.7, size=(20000, k + 1))
    p = np.array([_p(row[-1], _model(row[:-1])) for row in draws])
    for level in (0.05, 0.01):
        rate = (p < level).mean()
        assert abs(rate - level) < 4 * np.sqrt(level * (1 - level) / p.size), (level, rate)


def test_the_log_view_keeps_a_multiplicative_spread_from_flagging():
    """Positive figures are seen on the linear and the log scale; the larger p decides. On
    log-normal members (a loss, an MSE ratio) the linear view alone over-flags the upper
    tail; the pair stays at or below the nominal rate (conservative: valid for either)."""
    rng = np.random.default_rng(3)
    draws = np.exp(rng.normal(0.0, 1.0, size=(20000, 21)))
    models = [_model(row[:-1]) for row in draws]
    linear = np.array([_p(row[-1], {**m, "views": m["views"][:1]})
                       for row, m in zip(draws, models)])
    both = np.array([_p(row[-1], m) for row, m in zip(draws, models)])
    assert [v["scale"] for v in models[0]["views"]] == ["linear", "log"]
    assert (linear < 0.01).mean() > 0.02
    assert (both < 0.01).mean() <= 0.01 + 4 * np.sqrt(0.01 / both.size)
    m = models[0]  # a value <= 0 has no log: the linear view decides alone
    assert _p(-1.0, m) == pytest.approx(_p(-1.0, {**m, "views": m["views"][:1]}))


def test_a_tied_figure_is_categorical_and_rounding_is_never_drift():
    tied = _model([0.0] * 19 + [1 / 64])           # a count of 0 in 19 of 20 seeds
    assert not tied["views"] and tied["seen"] == [0.0, 1 / 64]
    assert ensemble.half_width(tied, 1e-4) < 1e-8
    assert _p(1 / 64, tied) == 1.0 and _p(0.5, tied) == pytest.approx(1 / 21)
    noise = _model(6.2e-17 + 1e-19 * np.arange(20))  # an identity that holds to rounding
    assert _p(8e-17, noise) == 1.0


def test_a_shift_of_many_spreads_is_caught_and_the_floor_is_respected():
    model = _model(np.linspace(-1, 1, 20))  # sd ~0.62
    far = ensemble.judge_figure(10.0, 0.1, model, floor=None, cutoff=1e-4)
    assert not far["within"] and far["p"] < 1e-4 and far["excess"] > 1
    near = ensemble.judge_figure(1.0, 0.1, model, floor=None, cutoff=1e-4)
    assert near["within"]
    assert ensemble.judge_figure(10.0, 0.1, model, floor=20.0, cutoff=1e-4)["within"]
    width = ensemble.half_width(model, 1e-4)
    assert _p(model["mean"] + width, model) == pytest.approx(1e-4)


def test_the_baselines_own_value_is_never_drift():
    outlier = _model(np.linspace(0, 1, 12))  # the default seed can sit outside the others
    assert ensemble.judge_figure(9.0, 9.0, outlier, None, 1e-4)["within"]
    assert not ensemble.judge_figure(9.0, 0.5, outlier, None, 1e-4)["within"]


@pytest.mark.parametrize("before, after, dist, fails, kind", [
    ("SUPPORTED", "SUPPORTED", None, False, "same"),
    ("SUPPORTED", "REFUTED", {"counts": {"SUPPORTED": 10, "REFUTED": 10}, "k": 20}, True,
     "opposite"),
    ("SUPPORTED", "INCONCLUSIVE", None, True, "no calibration"),
    ("SUPPORTED", "INCONCLUSIVE", {"counts": {"SUPPORTED": 4, "INCONCLUSIVE": 1}, "k": 5},
     True, "no calibration"),  # too few seeds to calibrate
    ("SUPPORTED", "INCONCLUSIVE", {"counts": {"SUPPORTED": 20}, "k": 20},
     False, "rare, not significant alone: INCONCLUSIVE in 0 of 20 seeds, SUPPORTED in 20; "
            "conformal p = 0.048"),
    ("SUPPORTED", "INCONCLUSIVE", {"counts": {"SUPPORTED": 17, "INCONCLUSIVE": 3}, "k": 20},
     False, "within its calibrated rate: INCONCLUSIVE in 3 of 20"),
    ("INCONCLUSIVE", "REFUTED", {"counts": {"INCONCLUSIVE": 14, "REFUTED": 6}, "k": 20},
     False, "within"),
])
def test_a_verdict_move_fails_when_opposite_or_uncalibrated(before, after, dist, fails, kind):
    judged = ensemble.judge_move(before, after, dist)
    assert judged["fails"] is fails and kind in judged["kind"]


def _run(index, verdict="SUPPORTED", value=1.0, code="c1"):
    return {"index": index, "master_seed": index, "claims": {"G1": {
        "verdict": verdict, "expected": "SUPPORTED", "title": "t", "code_hash": code,
        "arms": {"a": {"verdict": verdict, "expected": "SUPPORTED", "code_hash": "arm-" + code}},
        "primaries": {}, "figures": {"test[a] :: slope": value}}}}


def test_an_ensemble_counts_only_runs_of_the_same_code_and_needs_enough_of_them():
    runs = [_run(i, value=float(i)) for i in range(12)] + [_run(12 + i, code="old")
                                                            for i in range(5)]
    ens = ensemble.of_claim(runs, "G1", "c1")
    assert ens["k"] == 12 and ens["figures"]["test[a] :: slope"]["mean"] == pytest.approx(5.5)
    assert ens["arms"]["a"] == {"counts": {"SUPPORTED": 12, "REFUTED": 0, "INCONCLUSIVE": 0},
                                "k": 12}
    assert ensemble.of_claim(runs, "G1", "old") is None  # 5 < MIN_SEEDS
    doc = {"runs": runs}
    assert calibration.arm_distribution(doc, "G1", "a", "arm-old")["k"] == 5
    assert calibration.arm_distribution(doc, "G1", "a", "arm-new") is None


def test_merge_lets_a_recalibrated_claim_replace_its_stale_runs_but_not_double_count():
    meta = {"calibration_seed": 1, "budget": "default", "k": 2}
    old = calibration.document([_run(0), _run(1)], pytest_args=[], environment={}, **meta)
    new = calibration.document([_run(0, code="c2"), _run(1, code="c2")], pytest_args=[],
                               environment={}, **meta)
    merged = calibration.merge([old, new], ["old.json", "new.json"])
    assert {r["claims"]["G1"]["code_hash"] for r in merged["runs"]} == {"c2"}
    with pytest.raises(calibration.CalibrationError, match="same code"):
        calibration.merge([old, old], ["a.json", "b.json"])


def _document(verdict, value, code="c1"):
    return {"environment": {"budget": "default", "master_seed": 1}, "claims": [{
        "id": "G1", "verdict": verdict, "code_hash": code,
        "tests": [{"nodeid": "t.py::test[a]", "arm": "a", "verdict": verdict}],
        "figures": [{"nodeid": "t.py::test[a]", "name": "slope", "mean": value, "std": 0.0,
                     "n": 1, "floor": None, "unit": ""}]}]}


def _baseline_with_ensemble(arm_verdicts):
    runs = [_run(i, verdict=v, value=1.0 + 0.01 * i) for i, v in enumerate(arm_verdicts)]
    return baseline.from_results(_document("SUPPORTED", 1.05), {"runs": runs})


def test_the_compare_uses_the_ensemble_and_reports_calibrated_flips():
    base = _baseline_with_ensemble(["SUPPORTED"] * 16 + ["INCONCLUSIVE"] * 4)
    assert base["claims"]["G1"]["ensemble"]["k"] == 20
    ok = baseline.compare(base, _document("SUPPORTED", 1.07))  # another member's value
    assert ok["status"] == "ok" and ok["figures"][0]["rule"] == "ensemble"
    assert ok["figure_level"] == pytest.approx(ensemble.SUITE_ALPHA)  # one figure, none flagged
    moved = baseline.compare(base, _document("SUPPORTED", 3.0))
    assert moved["status"] == "drift" and moved["drifted"][0]["p"] < ensemble.SUITE_ALPHA
    flip = baseline.compare(base, _document("INCONCLUSIVE", 1.07))
    assert flip["status"] == "ok" and not flip["verdict_changes"]
    assert "within its calibrated rate" in flip["calibrated_flips"][0]["kind"]
    assert any("flip G1 arm a" in line for line in baseline.describe(flip))
    stable = _baseline_with_ensemble(["SUPPORTED"] * 20)
    rare = baseline.compare(stable, _document("INCONCLUSIVE", 1.07))
    assert rare["status"] == "ok" and rare["calibrated_flips"][0]["rare"]
    assert baseline.compare(stable, _document("REFUTED", 1.07))["verdict_changes"]


def test_a_code_change_that_moves_a_figure_is_drift_not_only_a_refresh():
    base = _baseline_with_ensemble(["SUPPORTED"] * 20)
    refactor = baseline.compare(base, _document("SUPPORTED", 1.07, code="c2"))
    assert refactor["status"] == "missing" and refactor["code_changed"][0]["compared"] == 1
    edited = baseline.compare(base, _document("SUPPORTED", 1.3, code="c2"))  # lr x 1.15
    assert edited["status"] == "drift" and edited["code_changed"][0]["moved"]


def test_an_arm_within_its_calibrated_rate_passes_its_own_test_marked():
    meta = Claim(id="G98", title="t", statement="s", source="x",
                 expected=Verdict.SUPPORTED, why_expected="w")
    rec = ClaimRecorder(meta, "t.py::test[a]", 0)
    rec.inconclusive("nothing measured here")
    with pytest.raises(ClaimMismatch, match="pin is strict"):
        rec.conclude()  # no calibration
    rec.calibrated = {"counts": {"SUPPORTED": 17, "INCONCLUSIVE": 3, "REFUTED": 0}, "k": 20}
    rec.conclude()
    assert rec.calibrated_flip["verdict"] == "INCONCLUSIVE"
    assert rec.to_dict("passed")["calibrated_flip"]["seen"] == 3
    rec.calibrated = {"counts": {"SUPPORTED": 20, "INCONCLUSIVE": 0, "REFUTED": 0}, "k": 20}
    rec.conclude()
    assert rec.calibrated_flip["rare"] and rec.calibrated_flip["p"] == pytest.approx(1 / 21)



def test_leave_one_out_flags_only_the_seed_that_differs():
    rng = np.random.default_rng(1)
    runs = [_run(i, value=float(rng.normal(1.0, 0.05))) for i in range(15)]
    runs[7]["claims"]["G1"]["figures"]["test[a] :: slope"] = 5.0  # a broken seed
    rows = ensemble.leave_one_out(runs)
    assert [bool(r["flagged"]) for r in rows] == [i == 7 for i in range(15)]
    assert all(not r["failing_moves"] for r in rows)
    runs[3]["claims"]["G1"]["arms"]["a"]["verdict"] = "REFUTED"  # an opposite decision
    assert ensemble.leave_one_out(runs)[3]["failing_moves"][0]["kind"] == "opposite decision"


def test_benjamini_hochberg_cutoff_known_answers():
    alpha = 0.01
    assert ensemble.bh_cutoff([0.5] * 100, alpha) == pytest.approx(alpha / 100)  # nothing
    # 10 small p-values among 100: each i-th smallest must be <= i * alpha / 100
    ps = [1e-6 * (i + 1) for i in range(10)] + [0.5] * 90
    assert ensemble.bh_cutoff(ps, alpha) == pytest.approx(1e-5)
    assert ensemble.bh_cutoff([2e-4, 0.5, 0.5], alpha) == pytest.approx(2e-4)  # <= 0.01 / 3
    assert ensemble.bh_cutoff([], alpha) == alpha


def test_an_unchanged_build_flags_any_of_many_figures_at_most_at_the_suite_rate():
    """500 normal figures per simulated build, K = 12 members each: the share of builds
    with any figure flagged stays at or below SUITE_ALPHA."""
    rng = np.random.default_rng(2)
    builds, n_fig, k = 400, 500, 12
    members = rng.normal(size=(builds, n_fig, k))
    new = rng.normal(size=(builds, n_fig))
    mean, sd = members.mean(-1), members.std(-1, ddof=1)
    t = (new - mean) / (sd * np.sqrt(1 + 1 / k))
    p = 2 * st.t.sf(np.abs(t), k - 1)  # what prediction_p computes, vectorized
    alarms = np.mean([(row <= ensemble.bh_cutoff(list(row), ensemble.SUITE_ALPHA)).any()
                      for row in p])
    assert alarms <= ensemble.SUITE_ALPHA + 3 * np.sqrt(ensemble.SUITE_ALPHA / builds)


def test_a_model_saved_before_views_existed_is_read_as_its_linear_view():
    model = _model(np.linspace(-1, 1, 20))
    old = {k: model[k] for k in ("mean", "sd", "k")}
    for value in (0.3, 2.0, 10.0):
        assert _p(value, old) == pytest.approx(_p(value, model))
    assert ensemble.half_width(old, 1e-4) == pytest.approx(ensemble.half_width(model, 1e-4))
