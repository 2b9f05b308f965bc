"""The claims harness: a pytest plugin that turns statistical assertions into verdicts."""
from .budget import BUDGETS, Budget
from .evidence import Claim, Evidence, Role, Verdict
from .seeds import Seeds, derive_seed

__all__ = ["BUDGETS", "Budget", "Claim", "Evidence", "Role", "Seeds", "Verdict", "derive_seed"]
