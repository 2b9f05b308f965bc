"""Restamping a calibration over a change that moves no float: the comparison on synthetic
records with known differences, and the whole command on a two-commit git repository of a
synthetic claim (the old code in a worktree, both runs cold under one master seed)."""
import json
import subprocess

import pytest

from harness import calibrate, calibration, restamp


def _record(code_hash, figure=1.5, verdict="SUPPORTED", seed=7, high=float("nan")):
    claim = {"verdict": verdict, "expected": "SUPPORTED", "title": "t", "code_hash": code_hash,
             "arms": {"a": {"verdict": verdict, "expected": "SUPPORTED",
                            "code_hash": code_hash}},
             "primaries": {"a :: p": {"estimate": 0.8, "low": 0.5, "high": high,
                                      "outcome": "HOLDS"}},
             "figures": {"t[a] :: slope": figure, "t[a] :: empty": None}}
    return {"index": 0, "master_seed": seed, "suite_runtime_s": 1.0, "claims": {"G99": claim}}


def _doc(code_hash, seeds=3, high=float("nan")):
    runs = [{**_record(code_hash, seed=s, high=high), "index": i}
            for i, s in enumerate(range(7, 7 + seeds))]
    return calibration.document(runs, calibration_seed=1, budget="default", k=seeds,
                                pytest_args=[], environment={})


def test_identical_records_carry_every_seed_over_with_the_proof_kept():
    doc = _doc("old")
    assert calibration.is_stale(doc["claims"]["G99"], "new")
    out, lines = restamp.restamp(doc, _record("old"), _record("new"), rev="abc")
    assert not calibration.is_stale(out["claims"]["G99"], "new")
    assert {r["claims"]["G99"]["arms"]["a"]["code_hash"] for r in out["runs"]} == {"new"}
    assert out["claims"]["G99"]["counts"] == doc["claims"]["G99"]["counts"]
    (proof,) = out["restamps"]
    assert proof["from"] == "old" and proof["to"] == "new" and proof["revision"] == "abc"
    assert proof["master_seed"] == 7 and proof["figures"] == 2
    assert "bit-identical" in lines[0]
    merged = calibration.merge([out], ["x"])  # a merge keeps the proof while it holds
    assert merged["restamps"] == out["restamps"]
    again, _ = restamp.restamp(out, _record("new"), _record("newer"), rev="def")
    chain = calibration.merge([again], ["x"])["restamps"]  # both links: newer <- new <- old
    assert [(r["from"], r["to"]) for r in chain] == [("old", "new"), ("new", "newer")]
    recalibrated = calibration.merge([again, _doc("other")], ["x", "y"])
    assert "restamps" not in recalibrated  # the claim's runs were replaced: nothing to prove


@pytest.mark.parametrize("new, words", [
    (_record("new", figure=1.5 + 1e-15), "figure t[a] :: slope"),
    (_record("new", verdict="REFUTED"), "verdict SUPPORTED -> REFUTED"),
])
def test_any_difference_refuses_and_names_it(new, words):
    with pytest.raises(restamp.RestampError, match="recalibrate") as err:
        restamp.restamp(_doc("old"), _record("old"), new, rev="abc")
    assert words in str(err.value)


def test_a_revision_the_calibration_did_not_run_is_refused():
    with pytest.raises(restamp.RestampError, match="pick the revision"):
        restamp.restamp(_doc("older"), _record("old"), _record("new"), rev="abc")


def test_the_command_restamps_a_comment_and_refuses_a_changed_slope(
        tmp_path, monkeypatch, synthetic_claim_source):
    git = lambda *a: subprocess.run(["git", *a], cwd=tmp_path, check=True, capture_output=True)
    claim = tmp_path / "test_synthetic.py"
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = -p harness.plugin\n")
    claim.write_text(synthetic_claim_source.format(id="G99", expected="SUPPORTED",
                                                   slopes="2.0"))
    git("init", "-q")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "x", "--allow-empty")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "claim")
    cal = tmp_path / "cal"
    calibrate.calibrate(1, cal, budget="smoke", calibration_seed=3,
                        pytest_args=["test_synthetic.py"], progress=lambda _: None,
                        cwd=tmp_path)
    claim.write_text(claim.read_text() + "\n# a comment: the code hash moves, no float does\n")
    monkeypatch.chdir(tmp_path)
    assert calibrate.main(["restamp", str(cal / "calibration.json"), "--from", "HEAD",
                           "--work", "w1", "test_synthetic.py"]) == 0
    doc = json.loads((cal / "calibration.json").read_text())
    assert doc["restamps"][0]["claim"] == "G99" and doc["restamps"][0]["revision"] == "HEAD"
    assert doc["restamps"][0]["from"] != doc["restamps"][0]["to"]
    assert not (tmp_path / "w1" / "old-tree").exists()  # the worktree is removed
    assert "Restamped" in (cal / "index.html").read_text()  # the page shows the proof
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qam", "comment")
    claim.write_text(claim.read_text().replace("y = slope * x", "y = 1.01 * slope * x"))
    assert calibrate.main(["restamp", str(cal / "calibration.json"), "--from", "HEAD",
                           "--work", "w2", "test_synthetic.py"]) == 2


@pytest.mark.parametrize("argv, words", [
    (["restamp", "CAL", "--from", "HEAD"], "name the claims to carry over"),
    (["restamp", "CAL", "--from", "HEAD", "--seed-index", "7", "t.py"], "has seeds [0, 1, 2]"),
    (["restamp", "missing.json", "--from", "HEAD", "t.py"], "no such file"),
])
def test_bad_restamp_arguments_name_the_problem(tmp_path, capsys, argv, words):
    calibration.save(tmp_path / "cal.json", _doc("old", high=0.9))  # JSON: no NaN
    argv = [str(tmp_path / "cal.json") if a == "CAL" else
            str(tmp_path / a) if a.endswith(".json") else a for a in argv]
    try:
        code = calibrate.main(argv)
    except SystemExit as exit:  # argparse's own refusals
        code = exit.code
    assert code == 2 and words in capsys.readouterr().err
