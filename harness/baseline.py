"""Baselines: did any verdict or figure move on this hardware / torch / BLAS?

A baseline stores, per claim, the verdict and every figure a claim recorded with
``claim.measure`` (mean, spread across seeds, declared floor). A run is compared figure by
figure with a tolerance from the baseline's own seed spread, in the spirit of an ensemble
check: ``tolerance = max(k * std, floor, rtol * |mean|, atol)``. A changed verdict always
fails; a figure or claim missing on either side is reported as such.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from .results import write

SCHEMA = "claims-baseline"
VERSION = 1
DEFAULT_K = 3.0
RTOL = 1e-6  # for exact figures (std 0, no floor): a last-digits change is not drift
ATOL = 1e-12
ENV_KEYS = ("device_name", "cpu_model", "torch", "cuda", "cudnn", "numpy", "scipy", "blas",
            "tf32_matmul", "tf32_cudnn", "deterministic_algorithms", "torch_threads",
            "python", "platform")

# pytest exit statuses (beside pytest's own 0-5)
EXIT_DRIFT = 6    # a verdict changed or a figure drifted beyond tolerance
EXIT_MISSING = 7  # nothing drifted, but a claim or figure is missing on one side


class BaselineError(ValueError):
    """A baseline that cannot be used, with the file and the fix in the message."""


def figure_key(figure: dict[str, Any]) -> str:
    test = figure.get("nodeid", "").split("::", 1)[-1]
    return f"{test} :: {figure['name']}"


def from_results(document: dict[str, Any]) -> dict[str, Any]:
    """The baseline of a finished run."""
    env = document["environment"]
    return {
        "schema": SCHEMA, "version": VERSION,
        "budget": env["budget"], "master_seed": env["master_seed"],
        "environment": env,
        "claims": {
            c["id"]: {
                "verdict": c["verdict"],
                "code_hash": c.get("code_hash", ""),
                "calibration": c.get("calibration"),
                "arms": {t.get("arm", t["nodeid"]): t["verdict"] for t in c.get("tests", [])},
                "figures": {figure_key(f): {k: f.get(k) for k in
                                            ("mean", "std", "n", "floor", "unit")}
                            for f in c["figures"]},
            }
            for c in document["claims"]
        },
    }


def save(path: Path | str, document: dict[str, Any]) -> Path:
    return write(Path(path), from_results(document))


def load(path: Path | str, budget: str | None = None,
         master_seed: int | None = None) -> dict[str, Any]:
    """Read and validate a baseline; refuse one from another budget or master seed."""
    path = Path(path)
    fix = f"write a new one with `pytest claims/ --save-baseline {path}`"
    if not path.is_file():
        raise BaselineError(f"baseline {path}: no such file; {fix}")
    try:
        data = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BaselineError(f"baseline {path}: not valid JSON ({exc}): the file is corrupt "
                            f"or truncated; restore it from git or {fix}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else type(data).__name__
        hint = (" (this is a results file: make a baseline from it with "
                "`python -m harness.report baseline RESULTS -o BASELINE`)"
                if got == "claims-results" else "")
        raise BaselineError(f"baseline {path}: schema {got!r}, expected {SCHEMA!r}{hint}")
    if data.get("version") != VERSION:
        raise BaselineError(f"baseline {path}: version {data.get('version')!r}, this harness "
                            f"reads version {VERSION}; {fix}")
    if not isinstance(data.get("claims"), dict) or "environment" not in data:
        raise BaselineError(f"baseline {path}: missing 'claims' or 'environment': the file "
                            f"is truncated or hand-edited; {fix}")
    if budget is not None and data.get("budget") != budget:
        raise BaselineError(f"baseline {path} was recorded with --budget {data.get('budget')}"
                            f", this run uses --budget {budget}: figures of different budgets "
                            f"are not comparable; run with --budget {data.get('budget')} or "
                            f"save a baseline for {budget}")
    if master_seed is not None and data.get("master_seed") != master_seed:
        raise BaselineError(f"baseline {path} was recorded with --claims-seed "
                            f"{data.get('master_seed')}, this run uses {master_seed}; use the "
                            f"same master seed or save a new baseline")
    return data


def tolerance(base: dict[str, Any], k: float) -> float:
    mean = base.get("mean")
    candidates = [k * float(base.get("std") or 0.0), ATOL]
    if base.get("floor") is not None:
        candidates.append(float(base["floor"]))
    if mean is not None:
        candidates.append(RTOL * abs(float(mean)))
    return max(candidates)


def compare(baseline: dict[str, Any], document: dict[str, Any], k: float = DEFAULT_K,
            path: str = "") -> dict[str, Any]:
    """Compare a finished run with a baseline: environment diff, verdicts, figures."""
    run = from_results(document)
    env_diff = [{"key": key, "baseline": baseline["environment"].get(key),
                 "run": run["environment"].get(key)}
                for key in ENV_KEYS
                if baseline["environment"].get(key) != run["environment"].get(key)]
    verdicts, figures, missing, changed = [], [], [], []
    for claim_id in sorted(set(baseline["claims"]) | set(run["claims"])):
        base, now = baseline["claims"].get(claim_id), run["claims"].get(claim_id)
        if base is None or now is None:
            side = "baseline" if base is None else "this run"
            missing.append({"claim": claim_id, "figure": None, "missing_from": side})
            continue
        if base.get("code_hash") and base.get("code_hash") != now.get("code_hash"):
            # the claim's code changed: a refresh is due (exit 7), but a refactor must not hide
            # a result that moved, so its figures are still compared and the moved ones listed
            shared = sorted(set(base["figures"]) & set(now["figures"]))
            moved = [f for f in (_compare_figure(claim_id, key, base["figures"][key],
                                                 now["figures"][key], k) for key in shared)
                     if not f["within"]]
            changed.append({"claim": claim_id, "baseline": base.get("code_hash"),
                            "run": now.get("code_hash"), "baseline_verdict": base["verdict"],
                            "run_verdict": now["verdict"], "compared": len(shared),
                            "moved": moved})
            continue
        base_arms, now_arms = base.get("arms") or {}, now.get("arms") or {}
        not_run = sorted(set(base_arms) - set(now_arms))
        if not_run and now_arms:
            # a subset of the arms ran (-k, --lf): the claim's combined verdict is not
            # comparable; compare the arms that ran, report the others as not run
            for arm in sorted(set(base_arms) & set(now_arms)):
                if base_arms[arm] != now_arms[arm]:
                    verdicts.append({"claim": claim_id, "arm": arm, "baseline": base_arms[arm],
                                     "run": now_arms[arm], "calibration": None})
            missing += [{"claim": claim_id, "figure": None, "arm": arm,
                         "missing_from": "this run"} for arm in not_run]
        elif base["verdict"] != now["verdict"]:
            verdicts.append({"claim": claim_id, "baseline": base["verdict"],
                             "run": now["verdict"],
                             "calibration": base.get("calibration") or now.get("calibration")})
        for key in sorted(set(base["figures"]) | set(now["figures"])):
            b, r = base["figures"].get(key), now["figures"].get(key)
            if b is None or r is None:
                side = "baseline" if b is None else "this run"
                missing.append({"claim": claim_id, "figure": key, "missing_from": side})
                continue
            figures.append(_compare_figure(claim_id, key, b, r, k))
    drifted = [f for f in figures if not f["within"]]
    status = "drift" if (verdicts or drifted) else "missing" if (missing or changed) else "ok"
    return {"path": path, "k": k, "status": status, "environment_diff": env_diff,
            "verdict_changes": verdicts, "code_changed": changed, "figures": figures, "drifted": drifted,
            "missing": missing, "baseline_git_commit": baseline["environment"].get("git_commit")}


def _compare_figure(claim_id: str, key: str, base: dict[str, Any], run: dict[str, Any],
                    k: float) -> dict[str, Any]:
    tol = tolerance(base, k)
    b, r = base.get("mean"), run.get("mean")
    if b is None or r is None:  # all values non-finite on one side
        within, delta = (b is None and r is None), math.nan
    else:
        delta = float(r) - float(b)
        within = abs(delta) <= tol
    return {"claim": claim_id, "figure": key, "baseline": b, "run": r, "delta": delta,
            "tolerance": tol, "excess": (abs(delta) / tol if tol > 0 and math.isfinite(delta)
                                         else math.inf),
            "within": bool(within), "unit": base.get("unit") or ""}


def exit_status(comparison: dict[str, Any]) -> int:
    return {"ok": 0, "drift": EXIT_DRIFT, "missing": EXIT_MISSING}[comparison["status"]]


def _values(f: dict[str, Any]) -> str:
    if f["run"] is None or f["baseline"] is None:
        return f"{f['run']} vs baseline {f['baseline']}"
    return (f"{f['run']:.6g} vs baseline {f['baseline']:.6g} (tolerance "
            f"{f['tolerance']:.3g}, {f['excess']:.1f}x outside)")


def describe(comparison: dict[str, Any], limit: int = 20) -> list[str]:
    """Lines for the terminal: environment first, then what moved, then what is missing."""
    lines = [f"baseline {comparison['path']}: {comparison['status'].upper()} "
             f"(tolerance k = {comparison['k']:g} seed standard deviations)"]
    for d in comparison["environment_diff"]:
        lines.append(f"  env  {d['key']}: {d['baseline']} -> {d['run']}")
    for v in comparison["verdict_changes"]:
        cal = v.get("calibration") or {}
        flips = (f" (calibrated: {cal['at_expected']} of {cal['k']} seeds at "
                 f"{cal['expected']})" if cal.get("k") else "")
        arm = f" arm {v['arm']}" if v.get("arm") else ""
        lines.append(f"  VERDICT {v['claim']}{arm}: {v['baseline']} -> {v['run']}{flips}")
    for c in comparison.get("code_changed", []):
        moved = c.get("moved", [])
        lines.append(f"  CODE {c['claim']}: claim code changed since the baseline "
                     f"({c['baseline_verdict']} -> {c['run_verdict']}; {len(moved)} of "
                     f"{c.get('compared', 0)} figures moved); refresh the baseline")
        lines += [f"    moved {f['figure']}: {_values(f)}" for f in moved[:limit]]
    for f in comparison["drifted"][:limit]:
        lines.append(f"  DRIFT {f['claim']} {f['figure']}: {_values(f)}")
    if len(comparison["drifted"]) > limit:
        lines.append(f"  ... {len(comparison['drifted']) - limit} more drifted figures in the "
                     f"report")
    for m in comparison["missing"][:limit]:
        what = m["claim"] + (f" {m['figure']}" if m["figure"] else
                             f" arm {m['arm']} (not run)" if m.get("arm") else " (whole claim)")
        lines.append(f"  MISSING {what}: not in {m['missing_from']}")
    n_ok = len(comparison["figures"]) - len(comparison["drifted"])
    lines.append(f"  {n_ok} of {len(comparison['figures'])} figures within tolerance")
    return lines

