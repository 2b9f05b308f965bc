"""The ``claim`` fixture's object: records evidence for one test and decides its verdict."""
from __future__ import annotations

import io
import time
from typing import Any, Callable

from . import stats
from .evidence import Claim, Evidence, Role, Verdict, decide, jsonable


class ClaimMismatch(AssertionError):
    """The measured verdict differs from the one the claim expects."""


def _recording(check: Callable[..., Evidence], role: Role) -> Callable[..., Evidence]:
    def record(self: "ClaimRecorder", *args: Any, **kwargs: Any) -> Evidence:
        return self.record(check(*args, **kwargs), role)

    record.__name__ = f"{role.value}_{check.__name__}"
    record.__doc__ = f"Record stats.{check.__name__} as a {role.value} row. " + (
        check.__doc__ or ""
    )
    return record


class ClaimRecorder:
    """Evidence, plots and parameters of one test of a claim.

    ``expect_<check>`` records a primary assertion, ``control_<check>`` a negative control
    (must NOT hold, and must be able to), ``positive_<check>`` a positive control (the same
    measurement where the effect is planted: must HOLD for a REFUTED verdict to stand),
    ``sensitivity_<check>`` the assertion under another analysis choice (shown, not part of
    the verdict). Checks: trend, compare, proportion, compare_proportions, exact (see
    harness.stats).
    """

    def __init__(self, meta: Claim, nodeid: str, seed: int, code_hash: str = ""):
        self.meta = meta
        self.code_hash = code_hash  # claim module + the fixtures it uses
        self.nodeid = nodeid
        self.seed = seed
        self.evidence: list[Evidence] = []
        self.plots: list[dict[str, str]] = []
        self.params: dict[str, Any] = {}
        self.notes: list[str] = []
        self.figures: list[dict[str, Any]] = []
        self.timings: dict[str, float] = {}
        self.expected = meta.expected  # this arm's; ``arm_expects`` overrides it
        self.votes = True
        self.why_expected = ""
        self._inconclusive: list[str] = []
        self._start = time.perf_counter()

    # -- assertions ---------------------------------------------------------------------
    def record(self, evidence: Evidence, role: Role | str = Role.PRIMARY) -> Evidence:
        evidence.role = Role(role)
        self.evidence.append(evidence)
        return evidence

    for _name, _check in stats.CHECKS.items():
        locals()[f"expect_{_name}"] = _recording(_check, Role.PRIMARY)
        locals()[f"control_{_name}"] = _recording(_check, Role.CONTROL)
        locals()[f"positive_{_name}"] = _recording(_check, Role.POSITIVE)
        locals()[f"sensitivity_{_name}"] = _recording(_check, Role.SENSITIVITY)
    del _name, _check

    def measure(self, name: str, values: Any, *, unit: str = "", meaning: str = "",
                floor: float | None = None) -> dict[str, Any]:
        """A figure worth tracking across runs and hardware: its mean and spread over seeds
        (or one value). ``floor`` is the smallest tolerance a baseline check should use."""
        import numpy as np

        arr = np.asarray(values.detach().cpu() if hasattr(values, "detach") else values,
                         dtype=float).ravel()
        finite = arr[np.isfinite(arr)]
        figure = {
            "name": name, "unit": unit, "meaning": meaning, "n": int(arr.size),
            "n_finite": int(finite.size),
            "mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std(ddof=1)) if finite.size > 1 else 0.0,
            "median": float(np.median(finite)) if finite.size else None,
            "floor": floor,
        }
        self.figures.append(figure)
        return figure

    def arm_expects(self, verdict: Verdict, why: str, votes: bool = True) -> None:
        """This arm's expected verdict, when it differs from the claim's (e.g. one regime of
        a claim about 'some regime' where the effect is not predicted)."""
        self.expected, self.why_expected = Verdict(verdict), why
        self.votes = votes  # False: a comparison arm, shown beside the claim, not part of it

    def timing(self, name: str, seconds: float) -> None:
        """A speed figure (seconds, rates): kept beside runtime_s, out of the evidence, so two
        runs of one seed give identical evidence whatever the load."""
        self.timings[name] = float(seconds)

    def inconclusive(self, reason: str) -> None:
        """Declare the evidence unusable (e.g. most runs diverged); the verdict becomes
        INCONCLUSIVE whatever the assertions say."""
        self._inconclusive.append(reason)

    # -- context for the report ---------------------------------------------------------
    def parameters(self, **params: Any) -> None:
        self.params.update(jsonable(params))

    def note(self, text: str) -> None:
        """A sentence for the report: why a threshold, what a figure means."""
        self.notes.append(str(text))

    def plot(self, fig: Any, caption: str) -> None:
        """Store a matplotlib figure as inline SVG for the report, and close it."""
        import matplotlib.pyplot as plt

        buf = io.StringIO()
        fig.savefig(buf, format="svg", bbox_inches="tight", metadata={"Date": None})
        plt.close(fig)
        self.plots.append({"caption": caption, "svg": buf.getvalue()})

    @property
    def arm(self) -> str:
        """The arm's id: the test's parameters (``relu-h4``), or its name when unparametrized."""
        name = self.nodeid.split("::")[-1]
        return name[name.index("[") + 1:-1] if "[" in name else name

    # -- verdict ------------------------------------------------------------------------
    def verdict(self) -> tuple[Verdict, str]:
        return decide(self.evidence, self._inconclusive)

    def conclude(self) -> None:
        """Raise ClaimMismatch when the measured verdict is not the expected one."""
        verdict, reason = self.verdict()
        if verdict != self.expected:
            raise ClaimMismatch(
                f"{self.meta.id} ({self.meta.title}), {self.nodeid}: measured "
                f"{verdict.value}, expected {self.expected.value}.\n  Why: {reason}\n"
                f"  Expected because: {self.why_expected or self.meta.why_expected}"
            )

    def to_dict(self, outcome: str, error: str | None = None) -> dict[str, Any]:
        verdict, reason = self.verdict()
        if outcome == "error":
            verdict, reason = Verdict.INCONCLUSIVE, f"the test raised before concluding: {error}"
        return {
            "claim": self.meta.to_dict(),
            "nodeid": self.nodeid,
            "seed": self.seed,
            "outcome": outcome,
            "error": error,
            "verdict": verdict.value,
            "reason": reason,
            "arm": self.arm,
            "expected": self.expected.value,
            "votes": self.votes,
            "why_expected": self.why_expected,
            "evidence": [e.to_dict() for e in self.evidence],
            "figures": self.figures,
            "parameters": self.params,
            "notes": self.notes,
            "plots": self.plots,
            "declared_inconclusive": list(self._inconclusive),
            "runtime_s": time.perf_counter() - self._start,
            "timings": self.timings,
            "code_hash": self.code_hash,
        }
