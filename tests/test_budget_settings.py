"""Every experiment's budgets are plain data: each *SETTINGS table in fixtures/ and claims/
declares smoke, default and paper with the same keys, so that `--budget paper` (which CI
never runs) cannot die on a missing entry hours into a GPU run."""
import importlib
from pathlib import Path

import pytest

from harness.budget import BUDGETS

ROOT = Path(__file__).resolve().parents[1]
MODULES = [f"{p.parent.name}.{p.stem}" for folder in ("fixtures", "claims")
           for p in sorted((ROOT / folder).glob("*.py")) if p.stem != "__init__"]


def _settings_tables():
    for name in MODULES:
        module = importlib.import_module(name)
        for attr, value in vars(module).items():
            if attr.endswith("SETTINGS") and isinstance(value, dict):
                yield f"{name}.{attr}", value


TABLES = dict(_settings_tables())


def test_settings_tables_are_found():
    assert len(TABLES) >= 20, sorted(TABLES)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_every_budget_is_declared_with_the_same_keys(name):
    table = TABLES[name]
    assert set(table) == set(BUDGETS), f"{name} declares {sorted(table)}, needs {BUDGETS}"
    entries = [table[b] for b in BUDGETS]
    if all(isinstance(e, dict) for e in entries):
        keys = [set(e) for e in entries]
        assert keys[0] == keys[1] == keys[2], (
            f"{name}: keys differ between budgets: "
            + "; ".join(f"{b}: {sorted(k ^ keys[1])}" for b, k in zip(BUDGETS, keys)))
