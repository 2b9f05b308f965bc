"""Evidence rows, verdicts and claim metadata: the data every claim produces.

Everything here is plain data that round-trips through JSON, because the results file is
the single source for the terminal summary, the HTML report and baseline comparisons.
"""
from __future__ import annotations

import dataclasses
import enum
import math
from typing import Any


class Verdict(str, enum.Enum):
    SUPPORTED = "SUPPORTED"
    REFUTED = "REFUTED"
    INCONCLUSIVE = "INCONCLUSIVE"


class Role(str, enum.Enum):
    PRIMARY = "primary"  # the claim's assertion: all must pass for SUPPORTED
    CONTROL = "control"  # negative control: must NOT pass, or the assertion proves nothing
    SENSITIVITY = "sensitivity"  # the same assertion under another analysis choice; shown only
    MEASUREMENT = "measurement"  # a figure worth tracking (effect sizes, rates); shown only


FAMILIES = {
    "G": "Low-rank bias of SGD with weight decay",
    "B": "Basin dimension and the Rashomon set",
    "C": "Flat minima, compression, SGD as a Bayesian sampler",
    "O": "Overparameterization",
}


@dataclasses.dataclass(frozen=True)
class Claim:
    """A claim's metadata, declared once per claim module as ``CLAIM``."""

    id: str
    title: str
    statement: str
    source: str
    expected: Verdict
    why_expected: str

    def __post_init__(self) -> None:
        if not self.id or self.id[0] not in FAMILIES:
            raise ValueError(f"claim id {self.id!r} must start with one of {sorted(FAMILIES)}")
        if not isinstance(self.expected, Verdict):
            raise TypeError(f"claim {self.id}: expected must be a Verdict, got {self.expected!r}")

    @property
    def family(self) -> str:
        return self.id[0]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["expected"] = self.expected.value
        d["family"] = self.family
        return d


def _finite_or_none(x: Any) -> Any:
    """JSON has no NaN/inf: store them as None (and strings for infinities)."""
    if x is None or isinstance(x, (bool, str)):
        return x
    x = float(x)
    if math.isnan(x):
        return None
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return x


@dataclasses.dataclass
class Evidence:
    """One statistical assertion and its outcome.

    ``margin`` is signed in the units of ``observed``: positive means the criterion held
    with that much room, negative means it missed by that much. ``passed`` is None when the
    assertion could not be evaluated (too few runs, NaN), which makes the verdict
    INCONCLUSIVE rather than silently True or False.
    """

    name: str
    check: str
    statistic: str
    observed: float | None
    threshold: float | None
    comparison: str
    margin: float | None
    p_value: float | None
    alpha: float | None
    n: int
    passed: bool | None
    role: Role = Role.PRIMARY
    meaning: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["role"] = Role(self.role).value
        for key in ("observed", "threshold", "margin", "p_value", "alpha"):
            d[key] = _finite_or_none(d[key])
        d["details"] = _jsonable(self.details)
        return d

    def describe(self) -> str:
        """One line a person can act on: what was tested, the numbers, and the outcome."""
        parts = [f"{self.name}: {self.statistic} = {_fmt(self.observed)}"]
        if self.threshold is not None:
            parts.append(f"needs {self.comparison} {_fmt(self.threshold)}")
        if self.margin is not None:
            parts.append(f"margin {_fmt(self.margin)}")
        if self.p_value is not None:
            parts.append(f"p = {_fmt(self.p_value)} (alpha {self.alpha})")
        parts.append(f"n = {self.n}")
        return ", ".join(parts)


def _fmt(x: Any) -> str:
    if x is None:
        return "n/a"
    if isinstance(x, str):
        return x
    x = float(x)
    if x != 0 and (abs(x) < 1e-3 or abs(x) >= 1e5):
        return f"{x:.3g}"
    return f"{x:.4g}"


def _jsonable(obj: Any) -> Any:
    """Convert numpy/torch scalars and arrays inside evidence details to JSON types."""
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if hasattr(obj, "tolist"):
        return _jsonable(obj.tolist())
    if isinstance(obj, float):
        return _finite_or_none(obj)
    if isinstance(obj, enum.Enum):
        return obj.value
    return obj


jsonable = _jsonable
fmt = _fmt


def decide(evidence: list[Evidence], forced_inconclusive: list[str]) -> tuple[Verdict, str]:
    """The verdict from the evidence, and the reason in words.

    SUPPORTED: every primary assertion holds and every negative control fails.
    REFUTED: some primary assertion fails (and the controls show the test can fail).
    INCONCLUSIVE: an assertion could not be evaluated, a control held (the assertion cannot
    tell effect from no effect), or the claim declared itself so (diverged runs, no power).
    """
    primaries = [e for e in evidence if e.role == Role.PRIMARY]
    controls = [e for e in evidence if e.role == Role.CONTROL]
    if forced_inconclusive:
        return Verdict.INCONCLUSIVE, "; ".join(forced_inconclusive)
    if not primaries:
        return Verdict.INCONCLUSIVE, "no primary assertion was recorded"
    unevaluated = [e for e in primaries + controls if e.passed is None]
    if unevaluated:
        return Verdict.INCONCLUSIVE, "could not evaluate: " + "; ".join(
            e.describe() for e in unevaluated
        )
    held_controls = [e for e in controls if e.passed]
    if held_controls:
        return Verdict.INCONCLUSIVE, "negative control held (the assertion cannot fail here): " + (
            "; ".join(e.describe() for e in held_controls)
        )
    failed = [e for e in primaries if not e.passed]
    if failed:
        return Verdict.REFUTED, "failed: " + "; ".join(e.describe() for e in failed)
    return Verdict.SUPPORTED, f"all {len(primaries)} primary assertion(s) held" + (
        f" and all {len(controls)} control(s) failed as they should" if controls else ""
    )
