"""The ``claim`` fixture's object: records evidence for one test and decides its verdict."""
from __future__ import annotations

import io
import time
from typing import Any, Callable

from . import slopes, stats
from .ensemble import judge_move
from .evidence import (COMPARISON_ARMS, Claim, Evidence, Outcome, Role, Verdict, decide,
                       jsonable)
from .sequential import Looks


class ClaimMismatch(AssertionError):
    """The measured verdict differs from the one the claim expects."""


def _recording(check: Callable[..., Evidence], role: Role) -> Callable[..., Evidence]:
    def record(self: "ClaimRecorder", *args: Any, **kwargs: Any) -> Evidence:
        extra = {}
        if role == Role.POSITIVE:
            extra = _pairing(kwargs.pop("backs", None), kwargs.pop("planted", None), check)
        constant = kwargs.pop("constant_by_construction", None) if role == Role.CONTROL else None
        row = check(*args, **kwargs)
        row.details.update(extra)
        if role == Role.CONTROL and row.details.get("zero_spread") and not constant:
            constant = "every unit gave the same value (zero spread): detected"
        if constant:  # the response did not or cannot vary: the control proves nothing
            row.outcome, row.passed = Outcome.DEGENERATE.value, False
            row.details["degenerate"] = f"constant: {constant}"
        if check is not stats.exact:  # to re-judge a FAILS at alpha / m (see _correct)
            row.rerun = lambda a: check(*args, **{**kwargs, "alpha": a})
        return self.record(row, role)

    record.__name__ = f"{role.value.split('_')[0]}_{check.__name__}"
    record.__doc__ = f"Record stats.{check.__name__} as a {role.value} row. " + (
        check.__doc__ or ""
    )
    return record


def _pairing(backs: Any, planted: Any, check: Callable[..., Evidence]) -> dict[str, Any]:
    """A positive control names the primary row it backs and the multiple of that row's
    floor it plants (1 to 1.5: planted far beyond the floor it says nothing about power)."""
    if not isinstance(backs, Evidence) or backs.role != Role.PRIMARY:
        raise ValueError("a positive control needs backs=<the primary row it backs> (the "
                         "Evidence an expect_* call returned), got " + repr(backs)[:80])
    # the multiple is usually a ratio of counts (harness.evidence.planted_successes): allow
    # its float rounding (a count at exactly 1.5 x the floor computes as 1.5000000000000002;
    # stored as 1.5, as the verdict's pairing check reads it)
    if planted is None or not 1 - 1e-9 <= float(planted) <= 1.5 + 1e-9:
        raise ValueError(f"a positive control backing {backs.name!r} needs planted=<multiple "
                         f"of that primary's floor>, between 1 and 1.5; got {planted!r}")
    if backs.check != check.__name__:
        raise ValueError(f"the positive control uses {check.__name__}, its primary "
                         f"{backs.name!r} uses {backs.check}: use the same check")
    return {"backs": backs.name, "planted": min(max(float(planted), 1.0), 1.5)}


class ClaimRecorder:
    """Evidence, plots and parameters of one test of a claim.

    ``expect_<check>`` records a primary assertion, ``control_<check>`` a substantive
    negative control (the mechanism absent: must NOT hold, and must be able to;
    ``constant_by_construction="why"`` declares one that cannot vary), ``positive_<check>``
    a positive control (``backs=`` the primary row, ``planted=`` 1 to 1.5 x its floor: must
    HOLD for that primary's FAILS to refute), ``placebo_<check>`` a placebo (labels permuted:
    shown, never the control), ``sensitivity_<check>`` the assertion under another analysis
    choice (shown, not part of the verdict). Checks: trend, compare, proportion,
    compare_proportions, exact (see harness.stats), slope (harness.slopes).
    """

    def __init__(self, meta: Claim, nodeid: str, seed: int, code_hash: str = "",
                 n_arms: int = 1):
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
        self.n_arms = max(1, int(n_arms))  # the claim's voting arms, for alpha / m
        self._corrected = False
        # this arm's verdict counts over the calibration seeds that ran this code (or None)
        self.calibrated: dict[str, Any] | None = None
        self.calibrated_flip: dict[str, Any] | None = None

    # -- assertions ---------------------------------------------------------------------
    def record(self, evidence: Evidence, role: Role | str = Role.PRIMARY) -> Evidence:
        evidence.role = Role(role)
        self.evidence.append(evidence)
        return evidence

    for _name, _check in {**stats.CHECKS, **slopes.CHECKS}.items():
        locals()[f"expect_{_name}"] = _recording(_check, Role.PRIMARY)
        locals()[f"control_{_name}"] = _recording(_check, Role.CONTROL)
        locals()[f"positive_{_name}"] = _recording(_check, Role.POSITIVE)
        locals()[f"placebo_{_name}"] = _recording(_check, Role.PLACEBO)
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
        if not votes and self.arm not in COMPARISON_ARMS.get(self.meta.id, ()):
            raise ValueError(
                f"{self.meta.id}[{self.arm}]: votes=False (a comparison arm) is allowed only "
                f"where ../shared/CLAIMS.md names one (harness.evidence.COMPARISON_ARMS: "
                f"{COMPARISON_ARMS}); every other arm votes")
        self.expected, self.why_expected = Verdict(verdict), why
        self.votes = votes  # False: a comparison arm, shown beside the claim, not part of it

    def until_decided(self, looks: Looks, look: Callable[[int, float], Any],
                      alpha: float = 0.01) -> tuple[int, float]:
        """Seeds until decided: call ``look(units, alpha_per_look)`` for each look of the
        plan; it records the arm's primaries on the first ``units`` units. Stop at the first
        look where no primary is UNDECIDED (or at the cap); earlier looks' rows are dropped.
        Returns (units used, the per-look alpha) for the controls, recorded on the same units
        at the same level after."""
        for i, units in enumerate(looks.units):
            start = len(self.evidence)
            look(units, looks.alpha(alpha))
            rows = [e for e in self.evidence[start:] if e.role == Role.PRIMARY]
            if not rows:
                raise ValueError("until_decided: the look recorded no primary (expect_*)")
            open_rows = [e for e in rows if e.outcome not in (Outcome.HOLDS.value,
                                                              Outcome.FAILS.value)]
            if not open_rows or i == len(looks.units) - 1:
                for e in rows:
                    e.details["sequential"] = looks.describe(i)
                return units, looks.alpha(alpha)
            del self.evidence[start:]
        raise AssertionError("unreachable")

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
    def _correct(self) -> None:
        """Multiplicity: a FAILS that refutes must hold at alpha / m, m = the arm's
        statistical primaries times the claim's voting arms (Bonferroni; under the "any"
        rule every arm must be refuted, so arms do not multiply). A row that fails at alpha
        but not at alpha / m becomes UNDECIDED."""
        if self._corrected:
            return
        self._corrected = True
        primaries = [e for e in self.evidence if e.role == Role.PRIMARY and not e.exact]
        m = len(primaries) * (self.n_arms if self.meta.combine == "all" else 1)
        for e in primaries:
            if e.outcome != Outcome.FAILS.value or getattr(e, "rerun", None) is None:
                continue
            level = e.alpha / m
            strict = e.rerun(level) if m > 1 else e
            e.details["refute_alpha"] = {"m": m, "alpha": level,
                                        "low": strict.ci_low, "high": strict.ci_high,
                                        "outcome": strict.outcome}
            if strict.outcome != Outcome.FAILS.value:
                e.outcome, e.passed = Outcome.UNDECIDED.value, False
        for e in self.evidence:  # the re-runs hold the checks' inputs: free them now
            e.rerun = None

    def verdict(self) -> tuple[Verdict, str]:
        self._correct()
        return decide(self.evidence, self._inconclusive, self.meta.no_substantive_control)

    def conclude(self) -> None:
        """Raise ClaimMismatch when the measured verdict is not the expected one. With a
        calibration of this arm's code (``self.calibrated``), a move to or from INCONCLUSIVE
        passes, marked (as an xfail is) with its calibrated rate, "rare" when the arm kept its
        pin in 19 of 20 seeds; an opposite decision still fails (``ensemble.judge_move``)."""
        verdict, reason = self.verdict()
        if verdict != self.expected:
            judged = judge_move(self.expected.value, verdict.value, self.calibrated)
            if not judged["fails"]:
                self.calibrated_flip = {"verdict": verdict.value, **judged}
                return
            raise ClaimMismatch(
                f"{self.meta.id} ({self.meta.title}), {self.nodeid}: measured "
                f"{verdict.value}, expected {self.expected.value}.\n  Why: {reason}\n"
                f"  Expected because: {self.why_expected or self.meta.why_expected}\n"
                f"  Calibration: {judged['kind']}"
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
            "calibrated": self.calibrated,
            "calibrated_flip": self.calibrated_flip,
        }
