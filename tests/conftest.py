"""The harness's own tests: pytester runs small synthetic claim suites through the plugin."""
import textwrap

import matplotlib
import pytest

matplotlib.use("Agg")
# pytester's in-process runs drop modules first imported inside them; import pyplot once out
# here so every inner run shares one matplotlib (two copies break isinstance checks)
import matplotlib.pyplot  # noqa: E402,F401

pytest_plugins = ["pytester"]


@pytest.fixture(autouse=True)
def no_claims_environment(monkeypatch):
    """The outer run's CLAIMS_* settings (CI exports CLAIMS_BASELINE) must not leak into the
    synthetic suites these tests run; a test that wants one sets it itself."""
    import os

    for name in [n for n in os.environ if n.startswith("CLAIMS_") and
                 n != "CLAIMS_REQUIRE_BROWSER"]:
        monkeypatch.delenv(name)

@pytest.fixture(autouse=True)
def checkout_on_pythonpath(monkeypatch):
    """Subprocesses these tests start (an xdist run, a calibration seed) import the harness
    from this checkout even where it is not pip-installed (on the GPU machine of the README's
    first GPU run, not pip-installed, the one test that starts pytest in a subprocess
    failed)."""
    import os
    from pathlib import Path

    root = str(Path(__file__).resolve().parents[1])
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (root, os.environ.get("PYTHONPATH", "")) if p))


SYNTHETIC_CLAIM = '''
import numpy as np
import pytest
from harness import Claim, Verdict

CLAIM = Claim(id="{id}", title="synthetic trend <b>bold</b>",
              statement="y rises with x & <script>alert(1)</script>",
              source="tests/conftest.py", expected=Verdict.{expected},
              why_expected="the data are generated with a known slope",
              regime="synthetic data")
SETTINGS = {{"smoke": {{"reps": 8}}, "default": {{"reps": 24}}, "paper": {{"reps": 40}}}}


@pytest.mark.parametrize("slope", [{slopes}])
def test_trend(claim, budget, seeds, slope):
    cfg = budget.select(SETTINGS)
    rng = seeds.numpy()
    x = np.linspace(0, 1, 6)
    y = slope * x[:, None] + rng.normal(0, 0.1, (6, cfg["reps"]))
    claim.parameters(slope=slope, **cfg)
    primary = claim.expect_trend(x, y, direction="increasing", alpha=0.01, min_effect=0.5,
                                 name="y rises with x")
    claim.control_trend(x, rng.normal(0, 0.1, (6, cfg["reps"])), direction="increasing",
                        min_effect=0.5, name="pure noise (control)")
    claim.positive_trend(x, 0.3 * x[:, None] + rng.normal(0, 0.1, (6, cfg["reps"])),
                         direction="increasing", min_effect=0.5, backs=primary, planted=1.5,
                         name="planted slope 0.3: rho ~0.74, 1.5 x the floor")
    claim.measure("fitted slope", np.polyfit(x, y, 1)[0], unit="1")
    claim.note("note with <i>markup</i>")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.plot(x, y.mean(axis=1), "o-")
    claim.plot(fig, caption="mean y against x <em>caption</em>")
'''


@pytest.fixture
def synthetic_suite(pytester):
    """Write claim modules into pytester's directory: make(name, id=, expected=, slopes=)."""

    def make(name="test_synthetic", id="G99", expected="SUPPORTED", slopes="2.0", extra=""):
        body = SYNTHETIC_CLAIM.format(id=id, expected=expected, slopes=slopes)
        pytester.makepyfile(**{name: body + textwrap.dedent(extra)})

    pytester.makeini("[pytest]\naddopts = -p harness.plugin -p no:cacheprovider\n")
    return make


@pytest.fixture(scope="session")
def synthetic_claim_source():
    """SYNTHETIC_CLAIM, for fixtures wider than pytester's (format it with id, expected,
    slopes)."""
    return SYNTHETIC_CLAIM
