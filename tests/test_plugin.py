"""The plugin end to end on synthetic claims: results file, verdicts, determinism, xdist,
options and bad input."""
import json

import pytest

from harness import results


def _results(pytester, report_dir="out"):
    return json.loads((pytester.path / report_dir / "results.json").read_text())


def _without_timings(document):
    """The evidence of a run, minus what legitimately differs between runs."""
    doc = json.loads(json.dumps(document))
    doc.pop("suite_runtime_s")
    for key in ("xdist_workers", "torch_threads", "git_commit"):
        doc["environment"].pop(key)
    for claim in doc["claims"]:
        claim.pop("runtime_s")
        for test in claim["tests"]:
            test.pop("runtime_s")
    return doc


def test_results_file_holds_verdicts_evidence_and_environment(pytester, synthetic_suite):
    synthetic_suite()
    result = pytester.runpytest("--report-dir", "out")
    result.assert_outcomes(passed=1)
    doc = results.load(pytester.path / "out" / "results.json")
    assert doc["schema"] == "claims-results" and doc["version"] == 1
    env = doc["environment"]
    for key in ("torch", "device_name", "cpu_model", "git_commit", "budget", "master_seed"):
        assert key in env
    (claim,) = doc["claims"]
    assert claim["id"] == "G99" and claim["verdict"] == claim["expected"] == "SUPPORTED"
    roles = {e["role"] for e in claim["evidence"]}
    assert roles == {"primary", "control", "positive_control"} and claim["runtime_s"] > 0
    primary = next(e for e in claim["evidence"] if e["role"] == "primary")
    assert primary["outcome"] == "HOLDS" and primary["ci_low"] <= primary["observed"]
    assert primary["floor"] == 0.5 and primary["units"] == "seeds" and primary["n"] == 24
    assert claim["figures"][0]["name"] == "fitted slope"
    assert (pytester.path / "out" / "index.html").is_file()
    result.stdout.fnmatch_lines(["*claim*verdict*expected*interval vs floor*outcome*",
                                 "G99*SUPPORTED*SUPPORTED*[[]*, *[]] vs >= 0.5*HOLDS*"])


def test_verdict_differing_from_expected_fails_with_a_readable_message(pytester,
                                                                        synthetic_suite):
    synthetic_suite(slopes="0.0")  # no effect: the primary fails, the planted one holds
    result = pytester.runpytest("--report-dir", "out")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*G99*measured REFUTED, expected SUPPORTED*",
        "*Why: failed: y rises with x: mean per-seed Spearman rho*[[]*[]], needs >= 0.5*FAILS*"
        "positive control, planted at 1.5 x the floor, held: planted slope 0.3*"])
    assert _results(pytester)["claims"][0]["verdict"] == "REFUTED"


def test_a_crashing_test_is_recorded_and_loses_no_other_evidence(pytester, synthetic_suite):
    synthetic_suite(extra="""
        def test_crash(claim):
            raise RuntimeError("training diverged")
    """)
    synthetic_suite(name="test_other", id="O99")
    result = pytester.runpytest("--report-dir", "out")
    result.assert_outcomes(passed=2, failed=1)
    claims = {c["id"]: c for c in _results(pytester)["claims"]}
    assert claims["G99"]["verdict"] == "INCONCLUSIVE"
    assert "inconclusive in arm(s) test_crash" in claims["G99"]["reason"]
    crash = next(t for t in claims["G99"]["tests"] if t["arm"] == "test_crash")
    assert "training diverged" in crash["reason"] and crash["verdict"] == "INCONCLUSIVE"
    assert len(claims["G99"]["evidence"]) == 3  # the other arm's rows are all there
    assert claims["O99"]["verdict"] == "SUPPORTED"


def test_same_master_seed_same_evidence_and_another_seed_differs(pytester, synthetic_suite):
    synthetic_suite(slopes="1.0, 2.0")
    pytester.runpytest("--report-dir", "a").assert_outcomes(passed=2)
    pytester.runpytest("--report-dir", "b").assert_outcomes(passed=2)
    pytester.runpytest("--report-dir", "c", "--claims-seed", "7").assert_outcomes(passed=2)
    a, b, c = (_without_timings(_results(pytester, d)) for d in "abc")
    assert a == b
    assert a["claims"][0]["evidence"] != c["claims"][0]["evidence"]


def test_xdist_gives_the_same_evidence_as_a_serial_run(pytester, synthetic_suite):
    synthetic_suite(slopes="0.5, 1.0, 2.0, 3.0")
    pytester.runpytest("--report-dir", "serial").assert_outcomes(passed=4)
    pytester.runpytest_subprocess("-n", "2", "--report-dir", "xdist").assert_outcomes(passed=4)
    serial, xdist = (_without_timings(_results(pytester, d)) for d in ("serial", "xdist"))
    assert serial == xdist


@pytest.mark.parametrize("args, message", [
    (["--budget", "bogus"], "*invalid choice: 'bogus'*smoke*default*paper*"),
    (["--device", "cuda:7"], "*cuda:7*"),
    (["--device", "tpu"], "*auto, cpu, cuda or cuda:N*"),
    (["--claims-seed", "abc"], "*--claims-seed must be an integer*"),
    (["--baseline-k", "lots"], "*--baseline-k must be a number*"),
])
def test_bad_options_stop_with_a_usage_error_naming_valid_values(pytester, synthetic_suite,
                                                                  args, message):
    synthetic_suite()
    result = pytester.runpytest(*args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])


def test_bad_budget_from_the_environment_is_a_usage_error(pytester, synthetic_suite,
                                                          monkeypatch):
    synthetic_suite()
    monkeypatch.setenv("CLAIMS_BUDGET", "huge")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*huge*smoke*default*paper*"])


def test_unwritable_report_dir_is_a_clear_error(pytester, synthetic_suite):
    synthetic_suite()
    (pytester.path / "blocked").write_text("a file where the report dir should be")
    result = pytester.runpytest("--report-dir", "blocked/out")
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["*could not write results to*--report-dir PATH*"])


def test_budget_selects_the_declared_settings(pytester, synthetic_suite):
    synthetic_suite()
    pytester.runpytest("--budget", "smoke", "--report-dir", "out").assert_outcomes(passed=1)
    doc = _results(pytester)
    assert doc["environment"]["budget"] == "smoke"
    assert doc["claims"][0]["tests"][0]["parameters"]["reps"] == 8


def test_smoke_budget_reports_but_does_not_pin_verdicts(pytester, synthetic_suite):
    synthetic_suite(slopes="0.0")  # not SUPPORTED, yet expected SUPPORTED
    result = pytester.runpytest("--budget", "smoke", "--report-dir", "out")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["G99*SUPPORTED*smoke verdicts are not pinned*"])
    assert _results(pytester)["claims"][0]["matches_expected"] is False
    pytester.runpytest("--report-dir", "out").assert_outcomes(failed=1)


ARMS = '''
import numpy as np
import pytest
from harness import Claim, Verdict

CLAIM = Claim(id="G97", title="two arms over one batched experiment", statement="y rises",
              source="tests/test_plugin.py", expected=Verdict.SUPPORTED,
              why_expected="planted slopes", combine="all", regime="synthetic")


@pytest.fixture(scope="session")
def experiment(shared_seeds, disk_cache):
    gen = shared_seeds("g97-experiment").numpy()
    x = np.linspace(0, 1, 6)
    return disk_cache.get_or_compute("g97", {"seeds": 12}, lambda: {
        "x": x, "y": {arm: slope * x[:, None] + gen.normal(0, 0.2, (6, 12))
                      for arm, slope in (("relu-h4", 1.0), ("tanh-h8", 2.0))}})


@pytest.mark.parametrize("arm", ["relu-h4", "tanh-h8"])
def test_rises(claim, experiment, seeds, arm):
    x, y = experiment["x"], experiment["y"][arm]
    claim.expect_trend(x, y, direction="increasing", min_effect=0.3, name="y rises")
    claim.control_trend(x, seeds.numpy().normal(0, 0.2, y.shape), direction="increasing",
                        min_effect=0.3, name="no slope (control)")
    claim.placebo_trend(x, seeds.numpy(1).permuted(y, axis=0), direction="increasing",
                        min_effect=0.3, name="x permuted within each seed")
    claim.measure("mean y", y.mean(axis=0))
    claim.note(f"arm {arm}: mean y {y.mean():.3f}")
'''


def test_an_arm_run_alone_gives_the_same_record_as_in_the_full_run(pytester, synthetic_suite):
    synthetic_suite()
    pytester.makepyfile(test_arms=ARMS)
    pytester.runpytest("test_arms.py", "--report-dir", "full").assert_outcomes(passed=2)
    pytester.runpytest("test_arms.py", "-k", "tanh and h8",
                       "--report-dir", "alone").assert_outcomes(passed=1, deselected=1)
    full, alone = (_without_timings(_results(pytester, d)) for d in ("full", "alone"))
    (claim_full,), (claim_alone,) = full["claims"], alone["claims"]
    assert [t["arm"] for t in claim_full["tests"]] == ["relu-h4", "tanh-h8"]
    assert claim_full["verdict"] == "SUPPORTED" and "all 2 arms" in claim_full["reason"]
    (test_alone,) = claim_alone["tests"]
    test_full = next(t for t in claim_full["tests"] if t["arm"] == "tanh-h8")
    assert test_alone == test_full
    node = test_alone["nodeid"]
    for key in ("evidence", "figures", "plots"):
        assert claim_alone[key] == [r for r in claim_full[key] if r["nodeid"] == node]
    assert claim_alone["verdict"] == test_full["verdict"] == "SUPPORTED"
