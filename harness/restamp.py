"""Carry a calibration over a code change that does not change the computation.

A claim's calibration is keyed by the hash of its code: edit a fixture it imports (a new
function beside the one it calls, a faster loop with the same arithmetic) and its 20 seeds
read "stale" although no float moved. Recalibrating costs 20 runs; proving that nothing moved
costs two: the old code and the new code run under one calibration master seed on one
machine, cold. When every verdict, arm verdict, primary (estimate, interval, outcome) and
figure of the claim is bit-identical, the computation is the same on any machine, and the
calibration's runs of that claim are restamped with the new hash, with the proof kept beside
them (``restamps``). Any difference refuses: recalibrate.

    python -m harness.calibrate restamp reports/calibration/calibration.json --from REV \
        [--seed-index I] [--work DIR] claims/test_x.py ...
"""
from __future__ import annotations

import math
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable

from . import calibration


class RestampError(ValueError):
    """Why a calibration cannot be carried over; the message names the fix."""


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def differences(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """Every difference between two calibration records of one claim (``run_record``'s
    per-claim entries) except the code hashes: verdicts, arms, primaries and figures."""
    diffs = []
    if old["verdict"] != new["verdict"]:
        diffs.append(f"verdict {old['verdict']} -> {new['verdict']}")
    for arm in sorted(set(old["arms"]) | set(new["arms"])):
        a, b = old["arms"].get(arm), new["arms"].get(arm)
        if a is None or b is None or a["verdict"] != b["verdict"]:
            diffs.append(f"arm {arm}: {a and a['verdict']} -> {b and b['verdict']}")
    for part in ("primaries", "figures"):
        for key in sorted(set(old[part]) | set(new[part])):
            a, b = old[part].get(key), new[part].get(key)
            if isinstance(a, dict) and isinstance(b, dict):
                moved = [f for f in sorted(set(a) | set(b)) if not _same(a.get(f), b.get(f))]
                if moved:
                    diffs.append(f"{part[:-1]} {key}: " + ", ".join(
                        f"{f} {a.get(f)!r} -> {b.get(f)!r}" for f in moved))
            elif not _same(a, b):
                diffs.append(f"{'figure' if part == 'figures' else 'primary'} {key}: "
                             f"{a!r} -> {b!r}")
    return diffs


def restamp(doc: dict[str, Any], old_run: dict[str, Any], new_run: dict[str, Any], *,
            rev: str) -> tuple[dict[str, Any], list[str]]:
    """A new calibration document whose runs of every claim in ``new_run`` carry the new
    code hash; ``old_run``/``new_run`` are ``run_record``s of the old and new code under the
    same master seed. Raises RestampError naming each claim that cannot be carried over."""
    problems, lines = [], []
    for cid, new in sorted(new_run["claims"].items()):
        old = old_run["claims"].get(cid)
        summary = doc["claims"].get(cid)
        if old is None:
            problems.append(f"{cid}: the old code ({rev}) has no such claim")
            continue
        if summary is None or summary["code_hashes"] != [old["code_hash"]]:
            got = summary["code_hashes"] if summary else "none"
            problems.append(f"{cid}: the calibration ran code {got}, {rev} is "
                            f"{old['code_hash']}: pick the revision it was calibrated on")
            continue
        diffs = differences(old, new)
        if diffs:
            problems.append(f"{cid}: {len(diffs)} differences between {rev} and this code, "
                            f"first: {diffs[0]}; recalibrate it")
            continue
        lines.append(f"{cid}: {old['code_hash']} -> {new['code_hash']} ({len(new['figures'])} "
                     f"figures, {len(new['primaries'])} primaries and {len(new['arms'])} arm "
                     f"verdicts bit-identical)")
    if problems:
        raise RestampError("cannot restamp: " + "; ".join(problems))
    arms_hash = {cid: {arm: a["code_hash"] for arm, a in c["arms"].items()}
                 for cid, c in new_run["claims"].items()}
    runs = []
    for run in doc["runs"]:
        claims = dict(run["claims"])
        for cid, new in new_run["claims"].items():
            if cid in claims:
                c = claims[cid]
                claims[cid] = {**c, "code_hash": new["code_hash"],
                               "arms": {arm: {**a, "code_hash": arms_hash[cid].get(
                                   arm, new["code_hash"])} for arm, a in c["arms"].items()}}
        runs.append({**run, "claims": claims})
    out = calibration.document(runs, calibration_seed=doc["calibration_seed"],
                               budget=doc["budget"], k=doc["k"],
                               pytest_args=doc.get("pytest_args", []),
                               environment=doc.get("environment"))
    proof = [{"claim": cid, "from": old_run["claims"][cid]["code_hash"],
              "to": new["code_hash"], "revision": rev, "master_seed": new_run["master_seed"],
              "figures": len(new["figures"]), "primaries": len(new["primaries"])}
             for cid, new in sorted(new_run["claims"].items())]
    out["restamps"] = doc.get("restamps", []) + proof
    return out, lines


def worktree(rev: str, where: Path) -> Path:
    """A detached checkout of ``rev`` at ``where`` (git worktree; removed after the runs)."""
    if where.exists():
        raise RestampError(f"{where} exists: pass another --work directory or remove it")
    done = subprocess.run(["git", "worktree", "add", "--detach", str(where), rev],
                          capture_output=True, text=True)
    if done.returncode:
        raise RestampError(f"git worktree add {where} {rev}: {done.stderr.strip()}")
    return where


def run_both(rev: str, work: Path, master_seed: int, index: int, budget: str,
             pytest_args: list[str], run_seed: Callable[..., dict[str, Any]],
             progress: Callable[[str], None]) -> tuple[dict[str, Any], dict[str, Any]]:
    """The old code (a worktree of ``rev``) and this code under one master seed, side by
    side, each cold (its own pytest cache) and under the same options; their run records."""
    old_tree = worktree(rev, work / "old-tree")

    def one(label: str, cwd: Path) -> dict[str, Any]:
        # the rootdir pinned to the tree: pytest would otherwise take the common ancestor of
        # the tree and the results folder, and the node ids (and so the seeds) would move
        args = [*pytest_args, "--rootdir", str(cwd),
                "-o", f"cache_dir={(work / (label + '-cache')).resolve()}"]
        document = run_seed(index, master_seed, work / label, budget, args,
                            lambda line: progress(f"[{label}] {line.strip()}"), cwd)
        return calibration.run_record(index, master_seed, document)

    progress(f"old code ({rev}) and this tree, master seed {master_seed}, side by side")
    try:
        with ThreadPoolExecutor(2) as pool:
            old, new = pool.map(one, ("old", "new"), (old_tree, Path.cwd()))
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(old_tree)],
                       capture_output=True)
    return old, new
