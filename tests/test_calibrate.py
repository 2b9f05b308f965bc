"""The calibration command, CI-sized: 2 master seeds x 2 fast synthetic claims at the smoke
budget, one pytest subprocess per seed; resume, ranges and merge, the page, and the main
report's --calibration."""
import json
import shutil

import pytest

from harness import calibrate, calibration
from harness.seeds import DEFAULT_MASTER_SEED

ARGS = ["test_synthetic.py", "test_other.py"]


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory, synthetic_claim_source):
    """One calibration for the whole module (each seed is a pytest subprocess)."""
    where = tmp_path_factory.mktemp("calibration")
    (where / "pytest.ini").write_text("[pytest]\naddopts = -p harness.plugin "
                                      "-p no:cacheprovider\n")
    (where / "test_synthetic.py").write_text(
        synthetic_claim_source.format(id="G99", expected="SUPPORTED", slopes="2.0"))
    (where / "test_other.py").write_text(
        synthetic_claim_source.format(id="O99", expected="INCONCLUSIVE", slopes="0.0, 3.0"))
    lines = []
    doc = calibrate.calibrate(2, where / "cal", budget="smoke", calibration_seed=3,
                              pytest_args=ARGS, progress=lines.append, cwd=where)
    return where / "cal", doc, lines


def test_two_seeds_give_counts_shares_and_a_dot_per_seed(calibrated):
    out, doc, lines = calibrated
    assert calibration.load(out / "calibration.json") == json.loads(json.dumps(doc))
    seeds = [r["master_seed"] for r in doc["runs"]]
    assert seeds == calibration.master_seeds(3, 2) and DEFAULT_MASTER_SEED not in seeds
    assert len(set(seeds)) == 2 and doc["budget"] == "smoke" and doc["k"] == 2
    for run in doc["runs"]:  # each seed ran as its own pytest with its own master seed
        results = json.loads(next((out / "seeds").glob(f"*-{run['master_seed']}"))
                             .joinpath("results.json").read_text())
        assert results["environment"]["master_seed"] == run["master_seed"]
        assert results["environment"]["budget"] == "smoke"
    g99, o99 = doc["claims"]["G99"], doc["claims"]["O99"]
    assert g99["k"] == o99["k"] == 2 and sum(g99["counts"].values()) == 2
    assert g99["at_expected"] == g99["counts"]["SUPPORTED"]
    assert 0 <= g99["share_ci"][0] <= g99["share"] <= g99["share_ci"][1] <= 1
    assert set(o99["arms"]) == {"0.0", "3.0"}
    (key,) = list(g99["primaries"])
    assert key == "2.0 :: y rises with x" and len(g99["primaries"][key]["points"]) == 2
    assert g99["primaries"][key]["threshold"] == 0.5
    html = (out / "index.html").read_text()
    assert 'id="claim-G99"' in html and html.count('<circle class="dot"') == 2 + 2 * 2
    assert any("seed 1 of 2" in line and "running" in line for line in lines)
    assert any("seed 2 of 2" in line and "elapsed" in line for line in lines)
    assert any("remaining" in line for line in lines)
    assert any("test_synthetic" in line for line in lines)  # which claim is running


def test_a_killed_calibration_resumes_and_parts_merge_into_the_whole(calibrated, tmp_path):
    out, doc, _ = calibrated
    lines = []
    again = calibrate.calibrate(2, out, budget="smoke", calibration_seed=3, pytest_args=ARGS,
                                progress=lines.append, cwd=out.parent)
    assert sum("kept from an earlier run" in line for line in lines) == 2
    assert again["claims"] == doc["claims"]
    parts = []
    for i, seed_dir in enumerate(sorted((out / "seeds").iterdir())):
        part = tmp_path / f"part{i}"
        shutil.copytree(seed_dir, part / "seeds" / seed_dir.name)
        calibrate.calibrate(2, part, budget="smoke", calibration_seed=3, pytest_args=ARGS,
                            indices=range(i, i + 1), progress=lambda line: None)
        parts.append(part / "calibration.json")
    assert calibrate.main(["merge", *map(str, parts), "-o", str(tmp_path / "merged")]) == 0
    merged = calibration.load(tmp_path / "merged" / "calibration.json")
    assert merged["claims"] == json.loads(json.dumps(doc["claims"]))
    assert (tmp_path / "merged" / "index.html").is_file()
    assert calibrate.main(["merge", str(parts[0]), str(parts[0]), "-o",
                           str(tmp_path / "m")]) == 2  # overlapping parts


def test_merge_refuses_another_calibration_seed(tmp_path, capsys):
    base = calibration.document([], calibration_seed=1, budget="smoke", k=2, pytest_args=[],
                                environment={})
    other = {**base, "calibration_seed": 2}
    for name, d in (("a.json", base), ("b.json", other)):
        calibration.save(tmp_path / name, d)
    assert calibrate.main(["merge", str(tmp_path / "a.json"), str(tmp_path / "b.json"),
                           "-o", str(tmp_path / "m")]) == 2
    assert "--calibration-seed" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--seeds", "2", "--range", "3:4"], "need 0 <= i < j <= --seeds 2"),
    (["--seeds", "2", "--claims-seed", "5"], "set by the calibration"),
    (["--seeds", "0"], "at least 1"),
])
def test_bad_arguments_are_refused_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit):
        calibrate.main(argv)
    assert message in capsys.readouterr().err


def test_opposite_decisions_are_flagged():
    run = lambda i, v: {"index": i, "master_seed": i, "claims": {"G1": {
        "verdict": v, "expected": "SUPPORTED", "title": "t",
        "arms": {"a": {"verdict": v, "expected": "SUPPORTED"}}, "primaries": {}}}}
    summary = calibration.summarize([run(0, "SUPPORTED"), run(1, "INCONCLUSIVE")])["G1"]
    assert not summary["opposite"] and summary["at_expected"] == 1 and summary["k"] == 2
    summary = calibration.summarize([run(0, "SUPPORTED"), run(1, "REFUTED")])["G1"]
    assert summary["opposite"]


def test_the_main_report_and_the_baseline_show_the_calibrated_stability(pytester, calibrated,
                                                                         synthetic_suite):
    out, doc, _ = calibrated
    synthetic_suite()  # writes the ini; then G99 exactly as calibrated
    shutil.copy(out.parent / "test_synthetic.py", pytester.path / "test_synthetic.py")
    # O99's code changed since its calibration (another arm): its calibration is stale
    synthetic_suite(name="test_other", id="O99", slopes="0.0, 2.5", expected="INCONCLUSIVE")
    result = pytester.runpytest(*ARGS[:2], "--budget", "smoke", "--report-dir", "r",
                                "--calibration", str(out / "calibration.json"),
                                "--save-baseline", "base.json")
    g99 = doc["claims"]["G99"]
    result.stdout.fnmatch_lines([f"G99*[[]calibrated: {g99['at_expected']}/2 seeds at "
                                 f"SUPPORTED*",
                                 "O99*[[]calibrated: STALE: calibrated on other code*"])
    html = (pytester.path / "r" / "index.html").read_text()
    assert f"{g99['at_expected']}/2 seeds at SUPPORTED" in html
    stored = json.loads((pytester.path / "base.json").read_text())["claims"]["G99"]
    assert stored["calibration"]["k"] == 2
    bad = pytester.runpytest(*ARGS[:2], "--calibration", "nope.json")
    assert bad.ret == pytest.ExitCode.USAGE_ERROR
    bad.stderr.fnmatch_lines(["*calibration nope.json: no such file*harness.calibrate*"])


def test_the_committed_calibration_is_read_by_default_and_can_be_turned_off(
        pytester, calibrated, synthetic_suite):
    out, doc, _ = calibrated
    synthetic_suite()
    shutil.copy(out.parent / "test_synthetic.py", pytester.path / "test_synthetic.py")
    (pytester.path / "reports" / "calibration").mkdir(parents=True)
    shutil.copy(out / "calibration.json", pytester.path / "reports/calibration/calibration.json")
    result = pytester.runpytest("test_synthetic.py", "--budget", "smoke", "--report-dir", "r")
    result.stdout.fnmatch_lines(["G99*[[]calibrated: *seeds at SUPPORTED*"])
    off = pytester.runpytest("test_synthetic.py", "--budget", "smoke", "--report-dir", "r",
                             "--calibration", "")
    assert "[calibrated:" not in off.stdout.str()


def _calibration_of(document, verdicts):
    """A calibration whose seeds ran this very code, with these arm verdicts."""
    runs = []
    for i, verdict in enumerate(verdicts):
        record = calibration.run_record(i, 1000 + i, document)
        for claim in record["claims"].values():
            claim["verdict"] = verdict
            for arm in claim["arms"].values():
                arm["verdict"] = verdict
        runs.append(record)
    return calibration.document(runs, calibration_seed=1, budget="default", k=len(runs),
                                pytest_args=[], environment={})


def test_an_arm_flipping_to_or_from_inconclusive_passes_marked_with_its_calibrated_rate(
        pytester, synthetic_suite):
    synthetic_suite(expected="INCONCLUSIVE")  # measures SUPPORTED: a flip from the pin
    strict = pytester.runpytest("--report-dir", "r", "--calibration", "")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["*pin is strict*"])
    document = json.loads((pytester.path / "r" / "results.json").read_text())
    for name, verdicts, outcome in (
            ("mixed.json", ["INCONCLUSIVE"] * 14 + ["SUPPORTED"] * 6, "passed"),
            ("stable.json", ["INCONCLUSIVE"] * 20, "passed")):
        calibration.save(pytester.path / name, _calibration_of(document, verdicts))
        result = pytester.runpytest("--report-dir", "r", "--calibration", name)
        result.assert_outcomes(**{outcome: 1})
        if name == "mixed.json":
            result.stdout.fnmatch_lines([
                "G99 *SUPPORTED*INCONCLUSIVE*~ differs within the calibrated rate*"])
            html = (pytester.path / "r" / "index.html").read_text()
            test = json.loads((pytester.path / "r" / "results.json").read_text())[
                "claims"][0]["tests"][0]
            assert "SUPPORTED in 6 of 20" in test["calibrated_flip"]["kind"]
            assert "~ calibrated flip: within its calibrated rate" in html
        else:  # never seen in 20 seeds: p = 1/21, reported, not a failure alone
            result.stdout.fnmatch_lines(["G99 *~ differs: a rare move, not significant alone*"])
