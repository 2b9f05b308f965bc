"""The baseline check's power: does it catch small deliberate changes to the code?

    python -m harness.power [--changes .ci/perturbations.toml] [--only NAME ...]
                            [--baseline PATH] [--out DIR] [-n N]

Each change in the file (``[[change]]``: ``name``, ``what``, ``file``, ``find``, ``replace``,
``claims``: the claim modules that use that code) is applied to a temporary copy of the
working tree, and those claims run there, cold (``-p no:cacheprovider``), against the
baseline. A change is caught when the comparison finds drift (exit 6; exit 1 when the change
also fails a claim's own test, which pytest's exit status reports first); the table names the
claims that caught it and how (figures moved, verdicts changed). A ``find`` that no longer matches is an
error naming the change: the perturbation file must follow the code it perturbs.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

from .baseline import EXIT_DRIFT

DEFAULT_CHANGES = Path(".ci/perturbations.toml")
DEFAULT_BASELINE = Path("reports/baselines/cpu-2core-default.json")


class ChangeError(ValueError):
    """A perturbation that cannot be applied, with the change and the fix in the message."""


def load_changes(path: Path) -> list[dict[str, Any]]:
    try:
        changes = tomllib.loads(Path(path).read_text())["change"]
    except (OSError, KeyError, tomllib.TOMLDecodeError) as exc:
        raise ChangeError(f"{path}: cannot read its [[change]] tables ({exc})") from exc
    for c in changes:
        missing = {"name", "what", "file", "find", "replace", "claims"} - set(c)
        if missing:
            raise ChangeError(f"{path}: change {c.get('name', '?')!r} lacks {sorted(missing)}")
    return changes


def copy_tree(root: Path, to: Path) -> None:
    """The working tree as git sees it (tracked and untracked, not ignored files)."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        src = root / name
        if src.is_file():
            (to / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, to / name)


def apply(change: dict[str, Any], tree: Path) -> int:
    path = tree / change["file"]
    text = path.read_text() if path.is_file() else ""
    count = text.count(change["find"])
    if count == 0:
        raise ChangeError(f"change {change['name']!r}: {change['file']} no longer contains "
                          f"{change['find']!r}; update it in the perturbation file")
    path.write_text(text.replace(change["find"], change["replace"]))
    return count


def caught_by(comparison: dict[str, Any]) -> dict[str, list[str]]:
    """Per claim, what moved: figures, verdicts (same code or changed code)."""
    out: dict[str, list[str]] = {}
    for f in comparison.get("drifted", []):
        out.setdefault(f["claim"], []).append(f["figure"])
    for v in comparison.get("verdict_changes", []):
        out.setdefault(v["claim"], []).append(f"verdict {v['baseline']} -> {v['run']}")
    for c in comparison.get("code_changed", []):
        out.setdefault(c["claim"], [])
        out[c["claim"]] += [f["figure"] for f in c.get("moved", [])]
        out[c["claim"]] += [f"verdict {v['baseline']} -> {v['run']}"
                            for v in c.get("verdict_moves", [])]
    return {k: v for k, v in out.items() if v}


def run_change(change: dict[str, Any], root: Path, baseline: Path, workers: int,
               out: Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix=f"power-{change['name']}-") as tmp:
        tree = Path(tmp)
        copy_tree(root, tree)
        replaced = apply(change, tree)
        report = tree / "power-report"
        cmd = [sys.executable, "-m", "pytest", *change["claims"], "-n", str(workers),
               "-p", "no:cacheprovider", "--baseline", str(baseline.resolve()),
               "--report-dir", str(report), "--no-report", "-q"]
        started = time.perf_counter()
        # the copy's packages, not an editable install's
        env = {**os.environ, "PYTHONPATH": str(tree)}
        env = {k: v for k, v in env.items() if k not in ("CLAIMS_BASELINE", "CLAIMS_SEED")}
        proc = subprocess.run(cmd, cwd=tree, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        (out / f"{change['name']}.log").write_text(proc.stdout + proc.stderr)
        results = report / "results.json"
        comparison = {}
        if results.is_file():  # kept: the run can be judged again under another rule
            shutil.copy2(results, out / f"{change['name']}.results.json")
            comparison = json.loads(results.read_text()).get("baseline", {})
    caught = caught_by(comparison)
    return {"name": change["name"], "what": change["what"], "file": change["file"],
            "replaced": replaced, "claims": change["claims"], "exit": proc.returncode,
            "caught": proc.returncode == EXIT_DRIFT or comparison.get("status") == "drift",
            "by": caught, "wall_s": wall}


def table(rows: list[dict[str, Any]]) -> list[str]:
    lines = ["| change | code | claims run | exit | caught by (figures or verdicts moved) | "
             "wall |", "|---|---|---|---|---|---|"]
    for r in rows:
        ran = ", ".join(Path(c).stem.split("_")[1].upper() for c in r["claims"])
        by = "; ".join(f"{cid} ({len(what)})" for cid, what in sorted(r["by"].items())) or "-"
        lines.append(f"| {r['what']} | `{r['file']}` | {ran} | {r['exit']}"
                     f"{' caught' if r['caught'] else ' MISSED'} | {by} | "
                     f"{r['wall_s'] / 60:.1f} min |")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.power",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--changes", type=Path, default=DEFAULT_CHANGES)
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME")
    parser.add_argument("--baseline", type=Path, default=DEFAULT_BASELINE)
    parser.add_argument("--out", type=Path, default=Path("reports/power"))
    parser.add_argument("-n", type=int, default=2, dest="workers")
    args = parser.parse_args(argv)
    try:
        changes = load_changes(args.changes)
    except ChangeError as exc:
        parser.error(str(exc))
    unknown = set(args.only or ()) - {c["name"] for c in changes}
    if unknown:
        parser.error(f"--only {sorted(unknown)}: not in {args.changes} "
                     f"({', '.join(c['name'] for c in changes)})")
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    for change in changes:
        if args.only is not None and change["name"] not in args.only:
            continue
        print(f"{change['name']}: {change['what']} ...", flush=True)
        try:
            rows.append(run_change(change, Path.cwd(), args.baseline, args.workers, args.out))
        except ChangeError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"  exit {rows[-1]['exit']}, caught by {sorted(rows[-1]['by'])}", flush=True)
    (args.out / "power.json").write_text(json.dumps(rows, indent=1))
    print("\n".join(table(rows)))
    return 0 if all(r["caught"] for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
