"""Named budgets. A budget is a name; what it means is plain data that each claim declares.

    SETTINGS = {"smoke": {...}, "default": {...}, "paper": {...}}
    cfg = budget.select(SETTINGS)
"""
from __future__ import annotations

from typing import Any, Mapping

BUDGETS = ("smoke", "default", "paper")
BUDGET_HELP = {
    "smoke": "seconds per claim: checks the code paths, not the science (verdicts are "
             "reported but a verdict that differs from the expected one does not fail)",
    "default": "minutes for the whole suite on a 2-core CPU: the verdicts CI pins",
    "paper": "the sources' scale (more seeds, wider nets, bigger grids): meant for a GPU",
}


class Budget:
    def __init__(self, name: str):
        if name not in BUDGETS:
            raise ValueError(f"unknown budget {name!r}: choose one of {', '.join(BUDGETS)}")
        self.name = name

    def select(self, settings: Mapping[str, Any]) -> Any:
        """The entry of ``settings`` for this budget; every budget must be declared."""
        missing = [b for b in BUDGETS if b not in settings]
        if missing:
            raise KeyError(f"settings declare no entry for budget(s) {missing}; "
                           f"declare all of {list(BUDGETS)}")
        return settings[self.name]

    def __repr__(self) -> str:
        return f"Budget({self.name!r})"
