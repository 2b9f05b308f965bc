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
    (must NOT hold), ``sensitivity_<check>`` the assertion under another analysis choice
    (shown, not part of the verdict). Checks: trend, compare, proportion,
    compare_proportions, bound, close (see harness.stats).
    """

    def __init__(self, meta: Claim, nodeid: str, seed: int):
        self.meta = meta
        self.nodeid = nodeid
        self.seed = seed
        self.evidence: list[Evidence] = []
        self.plots: list[dict[str, str]] = []
        self.params: dict[str, Any] = {}
        self.notes: list[str] = []
        self.figures: list[dict[str, Any]] = []
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

    # -- verdict ------------------------------------------------------------------------
    def verdict(self) -> tuple[Verdict, str]:
        return decide(self.evidence, self._inconclusive)

    def conclude(self) -> None:
        """Raise ClaimMismatch when the measured verdict is not the expected one."""
        verdict, reason = self.verdict()
        if verdict != self.meta.expected:
            raise ClaimMismatch(
                f"{self.meta.id} ({self.meta.title}): measured {verdict.value}, expected "
                f"{self.meta.expected.value}.\n  Why: {reason}\n  Expected because: "
                f"{self.meta.why_expected}"
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
            "evidence": [e.to_dict() for e in self.evidence],
            "figures": self.figures,
            "parameters": self.params,
            "notes": self.notes,
            "plots": self.plots,
            "declared_inconclusive": list(self._inconclusive),
            "runtime_s": time.perf_counter() - self._start,
        }
