"""Baselines: did any verdict or figure move on this hardware / torch / BLAS?

A baseline stores, per claim, the verdict and every figure a claim recorded with
``claim.measure`` (mean, spread across seeds, declared floor), and, when saved with a
calibration of the same code, the claim's calibrated ensemble: each figure's mean and spread
over the K master seeds and each arm's verdict counts. A run is then judged by the ensemble
consistency test of ``harness.ensemble`` (figures by Benjamini-Hochberg at a suite-wide
false-alarm rate, verdict moves by their calibrated rate). A claim without an ensemble falls
back to a tolerance from the run's own seed spread, ``max(k * std, floor, rtol * |mean|,
atol)``, and a strict pin. A figure or claim missing on either side is reported as such; a
claim whose code changed is still compared, and what moved is drift.
"""
from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from . import ensemble
from .ensemble import figure_key
from .results import write

SCHEMA = "claims-baseline"
VERSION = 1
DEFAULT_K = 3.0
RTOL, ATOL = ensemble.RTOL, ensemble.ATOL  # exact figures: a last-digits change is not drift
ENV_KEYS = ("device_name", "cpu_model", "torch", "cuda", "cudnn", "numpy", "scipy", "blas",
            "tf32_matmul", "tf32_cudnn", "deterministic_algorithms", "torch_threads",
            "python", "platform")

# pytest exit statuses (beside pytest's own 0-5)
EXIT_DRIFT = 6    # a verdict changed or a figure drifted beyond tolerance
EXIT_MISSING = 7  # nothing drifted, but a claim or figure is missing on one side


class BaselineError(ValueError):
    """A baseline that cannot be used, with the file and the fix in the message."""


def from_results(document: dict[str, Any],
                 calibration: dict[str, Any] | None = None) -> dict[str, Any]:
    """The baseline of a finished run; with a calibration, each claim calibrated on this
    code keeps its ensemble (figures' spread, verdict counts per arm) to judge runs by."""
    env = document["environment"]
    runs = (calibration or {}).get("runs", [])
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
                **({"ensemble": ens} if (ens := ensemble.of_claim(
                    runs, c["id"], c.get("code_hash", ""))) else {}),
            }
            for c in document["claims"]
        },
    }


def save(path: Path | str, document: dict[str, Any],
         calibration: dict[str, Any] | None = None) -> Path:
    return write(Path(path), from_results(document, calibration))


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
                            f"same master seed, save a new baseline, or judge the finished run "
                            f"against the calibrated ensembles with `python -m harness.report "
                            f"compare RESULTS --baseline {path}`")
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
            path: str = "", subset: bool = False) -> dict[str, Any]:
    """Compare a finished run with a baseline: environment diff, verdicts, figures. Claims
    whose baseline holds a calibrated ensemble are judged by the ensemble consistency test
    (``harness.ensemble``); the others by ``tolerance`` (k seed standard deviations).
    ``subset``: the run selected some claims (paths, -k): the others are "not run", not
    missing."""
    run = from_results(document)
    env_diff = [{"key": key, "baseline": baseline["environment"].get(key),
                 "run": run["environment"].get(key)}
                for key in ENV_KEYS
                if baseline["environment"].get(key) != run["environment"].get(key)]
    verdicts, flips, missing, changed, pairs, not_run = [], [], [], [], [], []
    for claim_id in sorted(set(baseline["claims"]) | set(run["claims"])):
        base, now = baseline["claims"].get(claim_id), run["claims"].get(claim_id)
        if now is None and subset:
            not_run.append(claim_id)
            continue
        if base is None or now is None:
            side = "baseline" if base is None else "this run"
            missing.append({"claim": claim_id, "figure": None, "missing_from": side})
            continue
        ens = base.get("ensemble") or {}
        moves = _verdict_moves(claim_id, base, now, ens, missing)
        if base.get("code_hash") and base.get("code_hash") != now.get("code_hash"):
            # the claim's code changed: a refresh is due (exit 7), but a refactor must not hide
            # a result that moved: its figures are still compared, and moved ones are drift
            shared = sorted(set(base["figures"]) & set(now["figures"]))
            entry = {"claim": claim_id, "baseline": base.get("code_hash"),
                     "run": now.get("code_hash"), "baseline_verdict": base["verdict"],
                     "run_verdict": now["verdict"], "compared": len(shared), "moved": [],
                     "verdict_moves": [m for m in moves if m["fails"]]}
            changed.append(entry)
            pairs += [(claim_id, key, base["figures"][key], now["figures"][key], ens, entry)
                      for key in shared]
            continue
        verdicts += [m for m in moves if m["fails"]]
        flips += [m for m in moves if not m["fails"]]
        for key in sorted(set(base["figures"]) | set(now["figures"])):
            b, r = base["figures"].get(key), now["figures"].get(key)
            if b is None or r is None:
                side = "baseline" if b is None else "this run"
                missing.append({"claim": claim_id, "figure": key, "missing_from": side})
                continue
            pairs.append((claim_id, key, b, r, ens, None))
    tested = [ensemble.figure_p(r.get("mean"), b.get("mean"), ens["figures"][key])
              for _, key, b, r, ens, _ in pairs if key in ens.get("figures", {})]
    level = ensemble.bh_cutoff(tested, ensemble.SUITE_ALPHA)
    figures = []
    for claim_id, key, b, r, ens, entry in pairs:
        f = _compare_figure(claim_id, key, b, r, k, ens.get("figures", {}).get(key), level)
        if entry is None:
            figures.append(f)
        elif not f["within"]:
            entry["moved"].append(f)
    drifted = [f for f in figures if not f["within"]]
    changed_drift = any(c["moved"] or c["verdict_moves"] for c in changed)
    status = ("drift" if (verdicts or drifted or changed_drift)
              else "missing" if (missing or changed) else "ok")
    return _json_safe({"path": path, "k": k, "status": status, "environment_diff": env_diff,
            "figure_level": level, "ensemble_figures": len(tested),
            "suite_alpha": ensemble.SUITE_ALPHA,
            "verdict_changes": verdicts, "calibrated_flips": flips, "code_changed": changed,
            "figures": figures, "drifted": drifted, "missing": missing, "not_run": not_run,
            "baseline_git_commit": baseline["environment"].get("git_commit")})


def _json_safe(value: Any) -> Any:
    """NaN and infinite deltas (a figure missing on one side) as null: results are strict
    JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def _verdict_moves(claim_id: str, base: dict[str, Any], now: dict[str, Any],
                   ens: dict[str, Any], missing: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Every arm (and the claim, when all its arms ran) whose verdict moved, judged by the
    calibrated rule (``ensemble.judge_move``)."""
    base_arms, now_arms = base.get("arms") or {}, now.get("arms") or {}
    not_run = sorted(set(base_arms) - set(now_arms))
    missing += [{"claim": claim_id, "figure": None, "arm": arm, "missing_from": "this run"}
                for arm in not_run if now_arms]
    moves = []
    for arm in sorted(set(base_arms) & set(now_arms)):
        if base_arms[arm] != now_arms[arm]:
            judged = ensemble.judge_move(base_arms[arm], now_arms[arm],
                                         ens.get("arms", {}).get(arm))
            moves.append({"claim": claim_id, "arm": arm, "baseline": base_arms[arm],
                          "run": now_arms[arm], **judged})
    if not (not_run and now_arms) and base["verdict"] != now["verdict"]:
        # a subset of the arms ran (-k, --lf): the claim's combined verdict is not comparable
        judged = ensemble.judge_move(base["verdict"], now["verdict"], ens.get("verdicts"))
        moves.append({"claim": claim_id, "baseline": base["verdict"], "run": now["verdict"],
                      "calibration": base.get("calibration") or now.get("calibration"),
                      **judged})
    return moves


def _compare_figure(claim_id: str, key: str, base: dict[str, Any], run: dict[str, Any],
                    k: float, member: dict[str, Any] | None = None,
                    level: float = 0.0) -> dict[str, Any]:
    b, r = base.get("mean"), run.get("mean")
    head = {"claim": claim_id, "figure": key, "baseline": b, "run": r,
            "unit": base.get("unit") or ""}
    if member is not None:
        return {**head, **ensemble.judge_figure(r, b, member, base.get("floor"), level),
                "rule": "ensemble"}
    tol = tolerance(base, k)
    if b is None or r is None:  # all values non-finite on one side
        within, delta = (b is None and r is None), math.nan
    else:
        delta = float(r) - float(b)
        within = abs(delta) <= tol
    return {**head, "delta": delta, "tolerance": tol, "rule": "seed spread",
            "excess": (abs(delta) / tol if tol > 0 and math.isfinite(delta) else math.inf),
            "within": bool(within)}


def exit_status(comparison: dict[str, Any]) -> int:
    return {"ok": 0, "drift": EXIT_DRIFT, "missing": EXIT_MISSING}[comparison["status"]]


def _values(f: dict[str, Any]) -> str:
    if f["run"] is None or f["baseline"] is None:
        return f"{f['run']} vs baseline {f['baseline']}"
    if f.get("rule") == "ensemble":
        return (f"{f['run']:.6g} vs ensemble {f['center']:.6g} +- {f['tolerance']:.3g} "
                f"(K = {f['ensemble_k']}, sd {f['ensemble_sd']:.3g}, p = {f['p']:.2g}; "
                f"baseline {f['baseline']:.6g})")
    return (f"{f['run']:.6g} vs baseline {f['baseline']:.6g} (tolerance "
            f"{f['tolerance']:.3g}, {f['excess']:.1f}x outside)")


def _move(v: dict[str, Any]) -> str:
    arm = f" arm {v['arm']}" if v.get("arm") else ""
    return f"{v['claim']}{arm}: {v['baseline']} -> {v['run']} ({v['kind']})"


def describe(comparison: dict[str, Any], limit: int = 20) -> list[str]:
    """Lines for the terminal: environment first, then what moved, then what is missing."""
    rule = (f"ensemble test for {comparison['ensemble_figures']} figures, Benjamini-Hochberg "
            f"at {comparison['suite_alpha']:g} over the suite (cutoff p <= "
            f"{comparison['figure_level']:.2g}), k = {comparison['k']:g} seed sd for the rest"
            if comparison.get("ensemble_figures") else
            f"tolerance k = {comparison['k']:g} seed standard deviations")
    lines = [f"baseline {comparison['path']}: {comparison['status'].upper()} ({rule})"]
    for d in comparison["environment_diff"]:
        lines.append(f"  env  {d['key']}: {d['baseline']} -> {d['run']}")
    lines += [f"  VERDICT {_move(v)}" for v in comparison["verdict_changes"]]
    lines += [f"  flip {_move(v)}: not a failure"
              for v in comparison.get("calibrated_flips", [])]
    for c in comparison.get("code_changed", []):
        moved = c.get("moved", [])
        lines.append(f"  CODE {c['claim']}: claim code changed since the baseline "
                     f"({c['baseline_verdict']} -> {c['run_verdict']}; {len(moved)} of "
                     f"{c.get('compared', 0)} figures moved); refresh the baseline")
        lines += [f"    moved {f['figure']}: {_values(f)}" for f in moved[:limit]]
        lines += [f"    verdict {_move(v)}" for v in c.get("verdict_moves", [])]
    for f in comparison["drifted"][:limit]:
        lines.append(f"  DRIFT {f['claim']} {f['figure']}: {_values(f)}")
    if len(comparison["drifted"]) > limit:
        lines.append(f"  ... {len(comparison['drifted']) - limit} more drifted figures in the "
                     f"report")
    for m in comparison["missing"][:limit]:
        what = m["claim"] + (f" {m['figure']}" if m["figure"] else
                             f" arm {m['arm']} (not run)" if m.get("arm") else " (whole claim)")
        lines.append(f"  MISSING {what}: not in {m['missing_from']}")
    if comparison.get("not_run"):
        lines.append(f"  not selected in this run: {len(comparison['not_run'])} claims")
    changed = comparison.get("code_changed", [])
    n_all = len(comparison["figures"]) + sum(c.get("compared", 0) for c in changed)
    n_moved = len(comparison["drifted"]) + sum(len(c.get("moved", [])) for c in changed)
    lines.append(f"  {n_all - n_moved} of {n_all} figures within tolerance")
    return lines
