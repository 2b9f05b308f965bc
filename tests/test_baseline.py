"""Baselines: save, compare, drift detection with seed-spread tolerances, bad files."""
import json

import pytest

from harness import baseline


@pytest.fixture
def saved(pytester, synthetic_suite):
    """A synthetic suite run once with --save-baseline; returns the baseline's path."""
    synthetic_suite(slopes="1.0, 2.0")
    result = pytester.runpytest("--report-dir", "out", "--save-baseline", "base.json")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["baseline saved: *base.json"])
    return pytester.path / "base.json"


def _edit(path, change):
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


def test_unchanged_run_matches_its_baseline(pytester, saved):
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["baseline *base.json: OK*", "*2 of 2 figures within tolerance"])
    comparison = json.loads((pytester.path / "out" / "results.json").read_text())["baseline"]
    assert comparison["status"] == "ok" and not comparison["drifted"]


def test_perturbed_figure_fails_with_a_readable_diff(pytester, saved):
    def shift(data):
        figure = data["claims"]["G99"]["figures"]["test_trend[2.0] :: fitted slope"]
        figure["mean"] += 10 * max(figure["std"], 1e-3) + 1.0
    _edit(saved, shift)
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_DRIFT
    result.stdout.fnmatch_lines([
        "baseline *base.json: DRIFT*",
        "*DRIFT G99 test_trend[[]2.0[]] :: fitted slope: * vs baseline * (tolerance *, *x outside)",
        "*1 of 2 figures within tolerance"])


def test_changed_verdict_always_fails(pytester, saved):
    _edit(saved, lambda d: d["claims"]["G99"].update(verdict="REFUTED"))
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_DRIFT
    result.stdout.fnmatch_lines(["*VERDICT G99: REFUTED -> SUPPORTED*"])


def test_missing_figure_or_claim_is_reported_not_ignored(pytester, saved):
    def drop(data):
        data["claims"]["G99"]["figures"].pop("test_trend[1.0] :: fitted slope")
        data["claims"]["B98"] = {"verdict": "SUPPORTED", "figures": {}}
    _edit(saved, drop)
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_MISSING
    result.stdout.fnmatch_lines(["*MISSING B98 (whole claim): not in this run*",
                                 "*MISSING G99 test_trend[[]1.0[]] :: fitted slope: not in baseline*"])


def test_environment_differences_are_shown_first(pytester, saved):
    _edit(saved, lambda d: d["environment"].update(torch="1.0.0", blas="OpenBLAS 0.1"))
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == 0
    result.stdout.fnmatch_lines(["baseline *: OK*", "*env  torch: 1.0.0 -> *",
                                 "*env  blas: OpenBLAS 0.1 -> *"])


@pytest.mark.parametrize("content, message", [
    ('{"schema": "claims-baseline", "vers', "*not valid JSON*corrupt or truncated*"),
    ('{"schema": "claims-results", "version": 1}', "*schema 'claims-results'*results file*"),
    ('{"schema": "claims-baseline", "version": 99}', "*version 99*--save-baseline*"),
    ('[1, 2]', "*schema 'list'*"),
])
def test_bad_baseline_files_stop_before_running_with_the_fix(pytester, synthetic_suite,
                                                             content, message):
    synthetic_suite()
    (pytester.path / "bad.json").write_text(content)
    result = pytester.runpytest("--baseline", "bad.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*baseline bad.json:" + message])


def test_baseline_from_another_budget_or_seed_is_refused(pytester, saved):
    result = pytester.runpytest("--budget", "smoke", "--baseline", str(saved))
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*recorded with --budget default*this run uses --budget smoke*"])
    result = pytester.runpytest("--claims-seed", "5", "--baseline", str(saved))
    result.stderr.fnmatch_lines(["*recorded with --claims-seed 20221206, this run uses 5*"])


def test_missing_baseline_file_names_how_to_make_one(pytester, synthetic_suite):
    synthetic_suite()
    result = pytester.runpytest("--baseline", "nope.json")
    result.stderr.fnmatch_lines(["*nope.json: no such file*--save-baseline nope.json*"])


@pytest.mark.parametrize("std, floor, expected", [
    (0.5, None, 1.5),     # k = 3 seed standard deviations
    (0.0, 0.2, 0.2),      # a claim's declared floor
    (0.01, 0.2, 0.2),     # the floor wins over a tiny spread
    (0.0, None, 1e-6 * 4.0),  # an exact figure: relative 1e-6
])
def test_tolerance_from_seed_spread_with_floor(std, floor, expected):
    assert baseline.tolerance({"mean": 4.0, "std": std, "floor": floor}, k=3.0) == \
        pytest.approx(expected)


def test_changed_claim_code_is_still_compared_and_what_moved_is_drift(pytester, saved):
    def change(data):
        claim = data["claims"]["G99"]
        assert claim["code_hash"]  # the run recorded the claim module's hash
        claim["code_hash"] = "0123456789abcdef"
        figure = claim["figures"]["test_trend[2.0] :: fitted slope"]
        figure["mean"] += 100.0  # would be drift, were the code the same
        claim["verdict"] = "REFUTED"  # and a verdict change
    _edit(saved, change)
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_DRIFT  # a code change does not hide a moved result
    result.stdout.fnmatch_lines(["*CODE G99: claim code changed since the baseline "
                                 "(REFUTED -> SUPPORTED; 1 of * figures moved); refresh the "
                                 "baseline*", "*moved test_trend[[]2.0[]] :: fitted slope: *",
                                 "*verdict G99: REFUTED -> SUPPORTED (opposite decision)*"])
    assert "DRIFT G99" not in result.stdout.str() and "VERDICT G99" not in result.stdout.str()
    comparison = json.loads((pytester.path / "out" / "results.json").read_text())["baseline"]
    (changed,) = comparison["code_changed"]
    assert changed["claim"] == "G99" and [f["figure"] for f in changed["moved"]] == [
        "test_trend[2.0] :: fitted slope"]
    assert not comparison["drifted"] and not comparison["verdict_changes"]


def test_editing_the_claim_module_changes_its_code_hash(pytester, saved):
    before = json.loads(saved.read_text())["claims"]["G99"]["code_hash"]
    path = pytester.path / "test_synthetic.py"
    path.write_text(path.read_text() + "\n# an edit\n")
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    result.stdout.fnmatch_lines(["*CODE G99: claim code changed since the baseline*"])
    assert result.ret == baseline.EXIT_MISSING  # nothing moved: only a refresh is due
    after = json.loads((pytester.path / "out" / "results.json").read_text())
    assert after["claims"][0]["code_hash"] != before


def test_a_subset_of_arms_reports_the_others_as_not_run_not_as_drift(pytester, saved):
    def arms_differ(data):
        claim = data["claims"]["G99"]
        claim["verdict"] = "INCONCLUSIVE"  # the combined verdict, from both arms
        claim["arms"]["1.0"] = "INCONCLUSIVE"
    _edit(saved, arms_differ)
    result = pytester.runpytest("-k", "2.0", "--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_MISSING
    result.stdout.fnmatch_lines(["*MISSING G99 arm 1.0 (not run): not in this run*"])
    assert "VERDICT" not in result.stdout.str()
    _edit(saved, lambda d: d["claims"]["G99"]["arms"].update({"2.0": "REFUTED"}))
    result = pytester.runpytest("-k", "2.0", "--report-dir", "out", "--baseline", str(saved))
    assert result.ret == baseline.EXIT_DRIFT
    result.stdout.fnmatch_lines(["*VERDICT G99 arm 2.0: REFUTED -> SUPPORTED*"])


def test_the_report_names_arms_not_run_and_changed(pytester, saved):
    _edit(saved, lambda d: d["claims"]["G99"]["arms"].update({"2.0": "REFUTED"}))
    pytester.runpytest("-k", "2.0", "--report-dir", "out", "--baseline", str(saved))
    html = (pytester.path / "out" / "index.html").read_text()
    assert "G99 arm 1.0 (not run): not in this run" in html
    assert "Verdict of arm 2.0 changed from the baseline: REFUTED" in html


def test_a_run_of_some_claim_modules_reports_the_others_as_not_selected(pytester,
                                                                          synthetic_suite):
    synthetic_suite(slopes="2.0")
    synthetic_suite(name="test_other", id="O99", slopes="2.0")
    pytester.runpytest("--report-dir", "out", "--save-baseline", "base.json")
    result = pytester.runpytest("test_synthetic.py", "--report-dir", "out", "--baseline",
                                "base.json")
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*not selected in this run: 1 claims*"])
    whole = pytester.runpytest("--report-dir", "out", "--baseline", "base.json",
                               "--deselect", "test_other.py::test_trend[2.0]")
    assert whole.ret == baseline.EXIT_MISSING  # run as a tree, a claim gone is missing


def test_a_baseline_the_compare_cannot_read_keeps_the_evidence_and_says_why(pytester, saved):
    data = json.loads(saved.read_text())
    for claim in data["claims"].values():
        del claim["verdict"]  # hand-edited
    saved.write_text(json.dumps(data))
    result = pytester.runpytest("--report-dir", "out", "--baseline", str(saved))
    assert result.ret == pytest.ExitCode.INTERNAL_ERROR
    result.stdout.fnmatch_lines(["BASELINE ERROR: *could not be compared*--save-baseline*"])
    document = json.loads((pytester.path / "out" / "results.json").read_text())
    assert document["claims"] and "could not be compared" in document["baseline_error"]
