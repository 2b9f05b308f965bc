"""The power check: a change applied to a temporary copy is caught (exit 6) by the claim
that uses the code; a harmless edit is not; a stale perturbation is a clear error."""
import json
import subprocess

import pytest

from harness import power

CHANGES = '''
[[change]]
name = "slope-x1.5"
what = "the generated slope x 1.5"
file = "test_synthetic.py"
find = "y = slope * x[:, None]"
replace = "y = 1.5 * slope * x[:, None]"
claims = ["test_synthetic.py"]

[[change]]
name = "slope-zero"
what = "the generated slope set to 0"
file = "test_synthetic.py"
find = "y = slope * x[:, None]"
replace = "y = 0 * slope * x[:, None]"
claims = ["test_synthetic.py"]

[[change]]
name = "comment"
what = "a comment added"
file = "test_synthetic.py"
find = "import numpy as np"
replace = "import numpy as np  # harmless"
claims = ["test_synthetic.py"]
'''


@pytest.fixture
def repo(pytester, synthetic_suite):
    synthetic_suite(slopes="2.0")
    pytester.runpytest("--report-dir", "out", "--save-baseline", "base.json").assert_outcomes(
        passed=1)
    (pytester.path / "changes.toml").write_text(CHANGES)
    for cmd in (["git", "init", "-q"], ["git", "add", "-A"]):
        subprocess.run(cmd, cwd=pytester.path, check=True)
    return pytester.path


def test_a_real_change_is_caught_and_a_harmless_edit_is_not(repo, capsys):
    code = power.main(["--changes", "changes.toml", "--baseline", "base.json", "--out", "pw",
                       "-n", "0"])
    rows = {r["name"]: r for r in json.loads((repo / "pw" / "power.json").read_text())}
    assert rows["slope-x1.5"]["caught"] and rows["slope-x1.5"]["exit"] == 6
    # a change that also fails the claim's own test: pytest reports exit 1 first
    assert rows["slope-zero"]["caught"] and rows["slope-zero"]["exit"] == 1
    assert "test_trend[2.0] :: fitted slope" in rows["slope-x1.5"]["by"]["G99"]
    assert not rows["comment"]["caught"] and rows["comment"]["exit"] == 7  # refresh due only
    assert code == 1  # not every change was caught
    out = capsys.readouterr().out
    assert "| the generated slope x 1.5 |" in out and "caught | G99 (1)" in out
    assert "MISSED" in out


def test_a_perturbation_that_no_longer_applies_names_the_change(repo, capsys):
    (repo / "changes.toml").write_text(CHANGES.replace("y = slope * x", "y = slope * z"))
    assert power.main(["--changes", "changes.toml", "--baseline", "base.json", "--out", "pw",
                       "--only", "slope-x1.5", "-n", "0"]) == 2
    assert "change 'slope-x1.5': test_synthetic.py no longer contains" in \
        capsys.readouterr().err
    with pytest.raises(SystemExit):
        power.main(["--changes", "changes.toml", "--only", "nope"])
