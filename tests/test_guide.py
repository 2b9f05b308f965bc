"""The guide's example claim (claims/README.md) is collected and run, so the guide cannot rot:
its python block, as written, must come out SUPPORTED in every arm."""
import json
import re
from pathlib import Path

GUIDE = Path(__file__).resolve().parents[1] / "claims" / "README.md"


def _example() -> str:
    blocks = re.findall(r"```python\n(.*?)```", GUIDE.read_text(), flags=re.S)
    assert blocks, f"{GUIDE} has no python block"
    return blocks[0]


def test_the_guides_example_claim_runs_and_is_supported(pytester):
    pytester.makeini("[pytest]\naddopts = -p harness.plugin -p no:cacheprovider\n")
    pytester.makepyfile(test_x1_guide_example=_example())
    result = pytester.runpytest("--report-dir", "out")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 1 and not outcomes.get("failed"), result.stdout.str()
    (claim,) = json.loads((pytester.path / "out" / "results.json").read_text())["claims"]
    assert claim["verdict"] == claim["expected"] == "SUPPORTED"
    assert all(t["verdict"] == "SUPPORTED" for t in claim["tests"])
    roles = {e["role"] for e in claim["evidence"]}
    assert roles >= {"primary", "control", "positive_control"}
