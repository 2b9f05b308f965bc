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
    PRIMARY = "primary"  # the claim's assertion: all must HOLD for SUPPORTED
    CONTROL = "control"  # negative control: must NOT hold, or the assertion proves nothing
    POSITIVE = "positive_control"  # the effect planted at the floor, paired with the primary
    # it backs (same check, units and n): must HOLD behind that primary's FAILS for REFUTED
    PLACEBO = "placebo"  # labels permuted within units: checks the test's calibration (holds
    # at rate ~alpha whatever the experiment does); shown, never the negative control
    SENSITIVITY = "sensitivity"  # the same assertion under another analysis choice; shown only
    MEASUREMENT = "measurement"  # a figure worth tracking (effect sizes, rates); shown only


class Outcome(str, enum.Enum):
    HOLDS = "HOLDS"          # significant in the claimed direction and beyond the floor
    FAILS = "FAILS"          # the claimed-side confidence bound falls short of the floor
    UNDECIDED = "UNDECIDED"  # neither: underpowered; n_needed says how many units would decide
    DEGENERATE = "DEGENERATE"  # constant or empty response: cannot say anything
    UNEVALUABLE = "UNEVALUABLE"  # too few finite values to compute the check


FAMILIES = {
    "G": "Low-rank bias of SGD with weight decay",
    "B": "Basin dimension and the Rashomon set",
    "C": "Flat minima, compression, SGD as a Bayesian sampler",
    "O": "Overparameterization",
    "F": "Follow-ups that challenge the sources",
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
    # how the arms' verdicts make the claim's: "all" (the claim holds in every arm) or "any"
    # (the claim is about some regime: one supporting arm is enough); see ``combine``
    combine: str = "all"
    # claims this one speaks to (an F claim's source claim, and back): ids, shown as links
    speaks_to: tuple[str, ...] = ()
    # the regime the claim is tested in (converged, fitted, fixed epochs...), in words
    regime: str = ""
    # why no substantive negative control exists (a SUPPORTED verdict is then marked
    # "without a substantive control"); empty: the claim must record one
    no_substantive_control: str = ""

    def __post_init__(self) -> None:
        if not self.id or self.id[0] not in FAMILIES:
            raise ValueError(f"claim id {self.id!r} must start with one of {sorted(FAMILIES)}")
        if not isinstance(self.expected, Verdict):
            raise TypeError(f"claim {self.id}: expected must be a Verdict, got {self.expected!r}")
        if self.combine not in COMBINE_RULES:
            raise ValueError(f"claim {self.id}: combine={self.combine!r} is not one of "
                             f"{sorted(COMBINE_RULES)}")

    @property
    def family(self) -> str:
        return self.id[0]

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["expected"] = self.expected.value
        d["family"] = self.family
        d["speaks_to"] = list(self.speaks_to)
        return d


# Comparison arms (shown beside a claim, not voting) exist only where the catalogue names
# them (../shared/CLAIMS.md, "How a claim is judged"): claim id -> the arms' ids.
COMPARISON_ARMS = {"C1": ("gd-mse", "adam-mse-b2")}  # full-batch GD and Adam

COMBINE_RULES = {
    "all": "SUPPORTED when every arm is; REFUTED when an arm is refuted and none is "
           "inconclusive; otherwise INCONCLUSIVE",
    "any": "the claim is about some regime: SUPPORTED when an arm is; REFUTED when every arm "
           "is; otherwise INCONCLUSIVE",
}


def combine(arm_verdicts: dict[str, Verdict], rule: str = "all") -> tuple[Verdict, str]:
    """The claim's verdict from its arms' verdicts (one per parametrized test), by its rule."""
    if not arm_verdicts:
        return Verdict.INCONCLUSIVE, "no arm ran"
    if len(arm_verdicts) == 1:
        return next(iter(arm_verdicts.values())), ""
    names = lambda v: ", ".join(a for a, x in arm_verdicts.items() if x == v)
    values = list(arm_verdicts.values())
    sup, ref, inc = Verdict.SUPPORTED, Verdict.REFUTED, Verdict.INCONCLUSIVE
    if rule == "any":
        if sup in values:
            return sup, f"supported in arm(s) {names(sup)} (the claim is about some regime)"
        if all(v == ref for v in values):
            return ref, "refuted in every arm"
        return inc, f"no arm supports it; inconclusive in {names(inc)}"
    if all(v == sup for v in values):
        return sup, f"supported in all {len(values)} arms"
    if ref in values and inc not in values:
        return ref, f"refuted in arm(s) {names(ref)}"
    return inc, f"inconclusive in arm(s) {names(inc) or '-'}" + (
        f"; refuted in {names(ref)}" if ref in values else "")


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

    ``observed`` is the effect estimate, [``ci_low``, ``ci_high``] its two-sided 1 - 2 alpha
    interval (each end a one-sided 1 - alpha bound) by ``ci_method``; ``threshold`` is the
    value the estimate must clear (``null`` moved by ``floor`` in the claimed direction).
    ``margin`` is signed in the units of ``observed``: positive means the estimate cleared
    the threshold by that much. ``outcome`` is HOLDS / FAILS / UNDECIDED / DEGENERATE /
    UNEVALUABLE; ``passed`` is True only when it HOLDS (None when unevaluable).
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
    outcome: str = Outcome.UNEVALUABLE.value
    ci_low: float | None = None
    ci_high: float | None = None
    ci_level: float | None = None
    ci_method: str = ""
    null: float | None = None
    floor: float | None = None
    units: str = ""
    n_needed: int | None = None
    exact: bool = False
    meaning: str = ""
    details: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["role"] = Role(self.role).value
        for key in ("observed", "threshold", "margin", "p_value", "alpha", "ci_low", "ci_high",
                    "ci_level", "null", "floor"):
            d[key] = _finite_or_none(d[key])
        d["details"] = _jsonable(self.details)
        return d

    @classmethod
    def from_dict(cls, row: dict[str, Any]) -> "Evidence":
        fields = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in row.items() if k in fields}
        for key in ("ci_low", "ci_high", "observed", "threshold", "margin"):
            if isinstance(kept.get(key), str):  # infinities are stored as strings
                kept[key] = float(kept[key])
        kept["role"] = Role(kept.get("role", Role.PRIMARY))
        return cls(**kept)

    def interval(self) -> str:
        if self.ci_low is None or self.ci_high is None:
            return ""
        return f"[{_fmt(self.ci_low)}, {_fmt(self.ci_high)}]"

    def describe(self) -> str:
        """One line a person can act on: what was tested, the numbers, and the outcome."""
        parts = [f"{self.name}: {self.statistic} = {_fmt(self.observed)} {self.interval()}"
                 .rstrip()]
        if self.threshold is not None:
            parts.append(f"needs {self.comparison} {_fmt(self.threshold)}")
        if self.p_value is not None:
            parts.append(f"p = {_fmt(self.p_value)}")
        parts.append(f"n = {self.n}{' ' + self.units if self.units else ''}")
        parts.append(self.outcome)
        if self.n_needed:
            parts.append(f"~{self.n_needed} {self.units or 'units'} would decide it")
        why = self.details.get("degenerate") or self.details.get("unevaluable")
        if why:
            parts.append(str(why))
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


def _informative(control: Evidence, primaries: list[Evidence]) -> str | None:
    """Why a negative control proves nothing, or None when it could have held."""
    if control.outcome == Outcome.DEGENERATE.value:
        return "degenerate: " + str(control.details.get("degenerate", "constant response"))
    if control.outcome == Outcome.UNEVALUABLE.value:
        return "not evaluable"
    smallest = min((p.n for p in primaries if not p.exact), default=0)
    if not control.exact and smallest and control.n * 2 < smallest:
        return f"evaluated on {control.n} units against {smallest} for the primary"
    return None


def planted_successes(n: int, p0: float, floor: float) -> int | None:
    """For a proportion's positive control: the most of n units a rate planted at 1 to 1.5 x
    the floor beyond p0 gives (None when no whole number of units lands in that range)."""
    low, high = math.ceil((p0 + floor) * n), math.floor((p0 + 1.5 * floor) * n)
    return high if high >= low else None


def unpaired(positive: Evidence, primary: Evidence | None) -> str | None:
    """Why a positive control cannot back a primary's FAILS, or None when it is its pair."""
    if primary is None:
        return f"it backs {positive.details.get('backs')!r}, which is not a primary here"
    if positive.check != primary.check:
        return f"a {positive.check} check behind a {primary.check} primary"
    if positive.n != primary.n:
        return f"n = {positive.n} against the primary's {primary.n}"
    planted = positive.details.get("planted")
    if planted is None or not 1 <= planted <= 1.5:
        return f"planted at {planted} x the floor, not 1 to 1.5 x"
    return None


def _backing(failed: Evidence, positives: list[Evidence]) -> tuple[Evidence | None, str]:
    """The failing primary's own positive control that holds, or why there is none."""
    own = [e for e in positives if e.details.get("backs") == failed.name]
    if not own:
        return None, f"no positive control backs {failed.name!r}"
    for e in own:
        why = unpaired(e, failed)
        if why is None and e.outcome == Outcome.HOLDS.value:
            return e, ""
    return None, "its positive control " + "; ".join(
        unpaired(e, failed) or f"did not hold ({e.describe()})" for e in own)


def decide(evidence: list[Evidence], forced_inconclusive: list[str],
           no_substantive_control: str = "") -> tuple[Verdict, str]:
    """The verdict from the evidence, and the reason in words (CLAIMS.md, "How a claim is
    judged").

    SUPPORTED: every primary HOLDS, and a substantive negative control exists that could have
    held and did not (placebos never count; a claim that declares why it has none gets a
    SUPPORTED marked "without a substantive control").
    REFUTED: a primary FAILS (at alpha / m: the recorder applies the correction) and its own
    positive control (same check and n, planted at 1 to 1.5 x the floor) HOLDS.
    INCONCLUSIVE: anything else, with the reason: an undecided primary and the units it needs,
    a degenerate or missing control, a missing or unpaired positive control.
    """
    primaries = [e for e in evidence if e.role == Role.PRIMARY]
    controls = [e for e in evidence if e.role == Role.CONTROL]
    positives = [e for e in evidence if e.role == Role.POSITIVE]
    if forced_inconclusive:
        return Verdict.INCONCLUSIVE, "; ".join(forced_inconclusive)
    if not primaries:
        return Verdict.INCONCLUSIVE, "no primary assertion was recorded"
    failed = [e for e in primaries if e.outcome == Outcome.FAILS.value]
    if failed:
        for e in failed:
            held, why = _backing(e, positives)
            if held is not None:
                return Verdict.REFUTED, (
                    f"failed: {e.describe()}; its positive control, planted at "
                    f"{held.details['planted']:g} x the floor, held: {held.describe()}")
        return Verdict.INCONCLUSIVE, (
            "a primary fails, but the measurement is not shown able to see the effect ("
            + "; ".join(_backing(e, positives)[1] for e in failed) + "): "
            + "; ".join(e.describe() for e in failed))
    open_rows = [e for e in primaries if e.outcome != Outcome.HOLDS.value]
    if open_rows:
        return Verdict.INCONCLUSIVE, "not decided: " + "; ".join(e.describe() for e in open_rows)
    informative = [c for c in controls if _informative(c, primaries) is None]
    held = [c for c in informative if c.outcome == Outcome.HOLDS.value]
    if held:
        return Verdict.INCONCLUSIVE, "negative control held (the assertion cannot tell effect " \
            "from no effect): " + "; ".join(e.describe() for e in held)
    if not informative:
        if no_substantive_control:
            return Verdict.SUPPORTED, (
                f"all {len(primaries)} primary assertion(s) hold; without a substantive "
                f"control: {no_substantive_control}")
        why = "; ".join(f"{c.name}: {_informative(c, primaries)}" for c in controls)
        return Verdict.INCONCLUSIVE, (
            f"all {len(primaries)} primary assertion(s) hold, but no substantive negative "
            f"control could have held" + (f" ({why})" if why else " (none recorded; "
                                          "placebos do not count)"))
    return Verdict.SUPPORTED, (
        f"all {len(primaries)} primary assertion(s) hold and {len(informative)} substantive "
        f"negative control(s) did not hold")
