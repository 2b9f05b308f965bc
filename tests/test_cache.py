"""The experiment cache knows the code: editing a fixture module (or the claim module that
defines the computation) gives a new key, so the experiment is computed again."""
import importlib
import os
import sys
import textwrap
import uuid

import pytest

import fixtures
from harness.cache import DiskCache
from harness.codehash import code_hash

FIXTURE = """
import numpy as np


def simulate(n):
    return np.arange(n) * {scale}
"""
CLAIM = """
from fixtures.{fixture} import simulate


def compute():
    return simulate(4)
"""


def _write(path, text):
    """Write and move the modification time on, as an editor would."""
    old = path.stat().st_mtime_ns if path.exists() else 0
    path.write_text(textwrap.dedent(text))
    os.utime(path, ns=(old + 10**9, old + 10**9))


@pytest.fixture
def modules(tmp_path, monkeypatch):
    """A module in the `fixtures` package (from a tmp directory) and a claim-like module
    using it; returns (fixture path, claim module name, load)."""
    fixture = f"tmp_probe_{uuid.uuid4().hex[:8]}"
    claim = f"test_probe_claim_{uuid.uuid4().hex[:8]}"
    extra = tmp_path / "fixtures_ext"
    extra.mkdir()
    monkeypatch.setattr(fixtures, "__path__", [*fixtures.__path__, str(extra)])
    monkeypatch.syspath_prepend(str(tmp_path))
    _write(extra / f"{fixture}.py", FIXTURE.format(scale=1.0))
    _write(tmp_path / f"{claim}.py", CLAIM.format(fixture=fixture))

    def load(reload=False):
        if reload:
            importlib.reload(sys.modules[f"fixtures.{fixture}"])
            return importlib.reload(sys.modules[claim])
        return importlib.import_module(claim)

    yield extra / f"{fixture}.py", claim, load
    for name in (f"fixtures.{fixture}", claim):
        sys.modules.pop(name, None)


def test_a_fixture_edit_invalidates_its_cached_experiment(tmp_path, modules):
    fixture_path, claim, load = modules
    cache = DiskCache(tmp_path / "cache", {"torch": "x", "device": "cpu", "master_seed": 1,
                                           "budget": "default"})
    calls = []

    def run(module):
        def compute():
            calls.append(1)
            return module.compute()
        compute.__module__ = module.__name__  # as a lambda defined in the claim module
        return cache.get_or_compute("probe", {"n": 4}, compute)

    module = load()
    first_hash = code_hash(module)
    assert run(module).tolist() == [0.0, 1.0, 2.0, 3.0] and len(calls) == 1
    assert run(module).tolist() == [0.0, 1.0, 2.0, 3.0] and len(calls) == 1  # cached
    keys = {p.name for p in (tmp_path / "cache").glob("*.pt")}

    _write(fixture_path, FIXTURE.format(scale=2.0))  # edit the fixture
    module = load(reload=True)
    assert code_hash(module) != first_hash
    assert run(module).tolist() == [0.0, 2.0, 4.0, 6.0] and len(calls) == 2  # recomputed
    assert len({p.name for p in (tmp_path / "cache").glob("*.pt")} - keys) == 1  # a new key


def test_the_hash_follows_the_project_modules_reached_and_nothing_else(modules):
    fixture_path, claim, load = modules
    module = load()
    same = code_hash(module)
    assert code_hash(module) == same and len(same) == 16
    # an edit on disk is seen even before the module is reloaded
    _write(fixture_path, FIXTURE.format(scale=3.0))
    assert code_hash(module) != same
    # a fixture module named as an extra (a pytest fixture requested by name) counts too
    fixture_name = "fixtures." + fixture_path.stem
    assert code_hash("harness.stats", fixture_name) != code_hash("harness.stats")


PLUGIN_FIXTURE = """
import pytest


@pytest.fixture(scope="session")
def probe_experiment():
    return {scale}
"""
PROBE_CLAIM = """
from harness import Claim, Verdict

CLAIM = Claim(id="G96", title="t", statement="s", source="tests", expected=Verdict.SUPPORTED,
              why_expected="w")


def test_uses_a_fixture_by_name(claim, probe_experiment):
    claim.note(str(probe_experiment))
"""


def test_a_claims_code_hash_covers_the_fixture_modules_it_requests_by_name(pytester, tmp_path,
                                                                           monkeypatch):
    name = f"tmp_plugin_{uuid.uuid4().hex[:8]}"
    extra = tmp_path / "fixtures_ext"
    extra.mkdir()
    monkeypatch.setattr(fixtures, "__path__", [*fixtures.__path__, str(extra)])
    _write(extra / f"{name}.py", PLUGIN_FIXTURE.format(scale=1))
    pytester.makeini(f"[pytest]\naddopts = -p harness.plugin -p no:cacheprovider "
                     f"-p fixtures.{name}\n")
    pytester.makepyfile(test_probe=PROBE_CLAIM)
    hashes = []
    for scale in (1, 2):
        _write(extra / f"{name}.py", PLUGIN_FIXTURE.format(scale=scale))
        sys.modules.pop(f"fixtures.{name}", None)
        pytester.runpytest("--budget", "smoke", "--report-dir", "out").assert_outcomes(passed=1)
        doc = __import__("json").loads((pytester.path / "out" / "results.json").read_text())
        hashes.append(doc["claims"][0]["code_hash"])
    sys.modules.pop(f"fixtures.{name}", None)
    assert hashes[0] and hashes[0] != hashes[1]
