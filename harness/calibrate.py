"""How often does each verdict survive another master seed? Runs the suite under K seeds.

    python -m harness.calibrate --seeds K [--budget B] [--calibration-seed S] [--range i:j]
                                [--out DIR] [pytest args, e.g. claims/ -n 2 -k g1]
    python -m harness.calibrate merge A/calibration.json B/calibration.json -o DIR
    python -m harness.calibrate check DIR/calibration.json   # leave-one-out false alarms
    python -m harness.calibrate restamp DIR/calibration.json --from REV claims/test_x.py
                                # carry it over a change that moves no float (restamp.py)

Each seed is one ordinary pytest run (a subprocess: same plugin, options, cache and results
file) with ``--claims-seed`` set to the seed's master seed and ``--report-dir`` to
``DIR/seeds/<i>-<seed>``. The K master seeds derive from the calibration seed, so a
calibration is reproducible and can be split over machines with ``--range i:j`` (seeds i to
j - 1) and merged. A killed calibration resumes: seeds whose results.json exists are kept.
Writes ``DIR/calibration.json`` and ``DIR/index.html`` (per claim: verdict counts, the share
of seeds at the expected verdict with its Clopper-Pearson interval, claims that ever reached
the opposite decision, and each primary's estimate and interval per seed against its floor).
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable

from . import calibration, ensemble, results
from .budget import BUDGETS

DEFAULT_CALIBRATION_SEED = 16
DEFAULT_ARGS = ["claims/"]
# the outer environment must not steer the per-seed runs: the seed, report dir and budget
# come from the calibration, and a baseline of the default seed would refuse every other one
_STRIPPED_ENV = ("CLAIMS_SEED", "CLAIMS_REPORT_DIR", "CLAIMS_BUDGET", "CLAIMS_BASELINE",
                 "CLAIMS_SAVE_BASELINE", "CLAIMS_CALIBRATION")
_FILE_LINE = re.compile(r"(?:^|\s)([\w./-]+\.py)(?:::|\s)")  # a test file in pytest -v output


def _range(text: str, k: int) -> range:
    match = re.fullmatch(r"(\d*):(\d*)", text or ":")
    if not match:
        raise argparse.ArgumentTypeError(f"--range {text!r}: write i:j (seeds i to j - 1)")
    lo = int(match.group(1) or 0)
    hi = int(match.group(2) or k)
    if not 0 <= lo < hi <= k:
        raise argparse.ArgumentTypeError(f"--range {text!r}: need 0 <= i < j <= --seeds {k}")
    return range(lo, hi)


def _fmt_s(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m" if seconds >= 3600 else \
        f"{seconds // 60}m{seconds % 60:02d}s"


def seed_dir(out: Path, index: int, master_seed: int) -> Path:
    return out / "seeds" / f"{index:03d}-{master_seed}"


def run_seed(index: int, master_seed: int, out: Path, budget: str, pytest_args: list[str],
             progress: Callable[[str], None], cwd: Path | None = None) -> dict[str, Any]:
    """One pytest run under this master seed; its results document."""
    where = seed_dir(out, index, master_seed)
    where.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "pytest", *pytest_args, "-v", "--claims-seed", str(master_seed),
           "--report-dir", str(where.resolve()), "--budget", budget, "--no-report"]
    env = {k: v for k, v in os.environ.items() if k not in _STRIPPED_ENV}
    started = time.perf_counter()
    with open(where / "pytest.log", "w") as log:
        log.write("$ " + " ".join(cmd) + "\n")
        log.flush()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, env=env, cwd=cwd)
        current = None
        for line in proc.stdout:
            log.write(line)
            match = _FILE_LINE.search(line)
            if match and match.group(1) != current:
                current = match.group(1)
                progress(f"  {Path(current).stem} ({_fmt_s(time.perf_counter() - started)} "
                         f"into this seed)")
        code = proc.wait()
    path = where / "results.json"
    if not path.is_file():
        raise RuntimeError(f"seed {index} (master seed {master_seed}): pytest exited {code} "
                           f"without writing {path}; see {where / 'pytest.log'}")
    return results.load(path)


def calibrate(k: int, out: Path, *, budget: str = "default",
              calibration_seed: int = DEFAULT_CALIBRATION_SEED, indices: range | None = None,
              pytest_args: list[str] | None = None,
              progress: Callable[[str], None] = print,
              cwd: Path | None = None) -> dict[str, Any]:
    """Run (or resume) the seeds in ``indices`` of a K-seed calibration; write and return
    its calibration document. ``cwd``: where pytest runs (default: here)."""
    out = Path(out).resolve()
    pytest_args = list(pytest_args or DEFAULT_ARGS)
    seeds = calibration.master_seeds(calibration_seed, k)
    indices = indices if indices is not None else range(k)
    runs, env, spent, fresh = [], None, 0.0, 0
    started = time.perf_counter()
    for done, i in enumerate(indices):
        master = seeds[i]
        path = seed_dir(out, i, master) / "results.json"
        label = f"seed {i + 1} of {k} (index {i}, master seed {master})"
        document = None
        if path.is_file():
            try:
                document = results.load(path)
                progress(f"{label}: kept from an earlier run")
            except results.ResultsFileError:
                document = None  # a half-written file of a killed run: run it again
        if document is None:
            progress(f"{label}: running")
            t0 = time.perf_counter()
            document = run_seed(i, master, out, budget, pytest_args, progress, cwd)
            spent += time.perf_counter() - t0
            fresh += 1
        env = env or document["environment"]
        runs.append(calibration.run_record(i, master, document))
        left = len(indices) - done - 1
        eta = f", ~{_fmt_s(spent / fresh * left)} remaining" if fresh and left else ""
        progress(f"{label}: done; elapsed {_fmt_s(time.perf_counter() - started)}{eta}")
    doc = calibration.document(runs, calibration_seed=calibration_seed, budget=budget, k=k,
                               pytest_args=pytest_args, environment=env)
    write_outputs(doc, out)
    return doc


def write_outputs(doc: dict[str, Any], out: Path) -> tuple[Path, Path]:
    from .report.calibration import build

    path = calibration.save(Path(out) / "calibration.json", doc)
    return path, build(doc, out)


def summary_lines(doc: dict[str, Any]) -> list[str]:
    lines = [f"{'claim':<6} {'expected':<13} {'at expected':>12}  {'95% interval':<15} "
             f"{'S/R/I':<8} opposite"]
    for cid, s in doc["claims"].items():
        lo, hi = s["share_ci"]
        counts = s["counts"]
        interval = f"[{lo:.2f}, {hi:.2f}]" if lo is not None else "-"
        lines.append(f"{cid:<6} {s['expected']:<13} {s['at_expected']:>5} of {s['k']:<4} "
                     f"{interval:<15} {counts['SUPPORTED']}/{counts['REFUTED']}/"
                     f"{counts['INCONCLUSIVE']:<4} {'YES' if s['opposite'] else '-'}")
    return lines


def unstable_lines(doc: dict[str, Any]) -> list[str]:
    """Arms whose pin holds in fewer than 95% of the seeds (19 of 20): a markdown table."""
    lines = ["| claim | arm | expected | at expected | SUPPORTED / REFUTED / INCONCLUSIVE |",
             "|---|---|---|---|---|"]
    for cid, s in doc["claims"].items():
        for arm, a in s["arms"].items():
            if not a.get("stable", a["at_expected"] == a["k"]):
                c = a["counts"]
                lines.append(f"| {cid} | `{arm}` | {a['expected']} | {a['at_expected']} of "
                             f"{a['k']} | {c.get('SUPPORTED', 0)} / {c.get('REFUTED', 0)} / "
                             f"{c.get('INCONCLUSIVE', 0)} |")
    return lines


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m harness.calibrate", description=__doc__.split("\n")[0],
        allow_abbrev=False,
        epilog="Arguments it does not know go to pytest (default: claims/).")
    parser.add_argument("--seeds", type=int, required=True, metavar="K",
                        help="number of master seeds in the whole calibration")
    parser.add_argument("--budget", default="default", choices=BUDGETS)
    parser.add_argument("--calibration-seed", type=int, default=DEFAULT_CALIBRATION_SEED,
                        metavar="S", help="the K master seeds derive from it (default "
                                          f"{DEFAULT_CALIBRATION_SEED})")
    parser.add_argument("--range", default=None, metavar="i:j",
                        help="run only seeds i to j - 1 of the K (a part, to merge later)")
    parser.add_argument("--out", type=Path, default=Path("reports/calibration"),
                        help="output directory (default reports/calibration)")
    return parser


def false_alarm_lines(doc: dict[str, Any]) -> list[str]:
    """Leave-one-out over the calibration: each seed judged as a new build against the rest."""
    rows = ensemble.leave_one_out(doc["runs"])
    lines = [f"{'seed':<12} {'figures':>8} {'level':>9} {'flagged':>8} {'failing verdicts':>17} "
             f"{'rare moves':>11}"]
    for r in rows:
        lines.append(f"{r['master_seed']:<12} {r['figures']:>8} {r['level']:>9.2g} "
                     f"{len(r['flagged']):>8} {len(r['failing_moves']):>17} "
                     f"{len(r['rare_moves']):>11}")
        lines += [f"    flagged {f['claim']} {f['figure']} (p = {f['p']:.2g})"
                  for f in r["flagged"]]
        lines += [f"    verdict {m['claim']} arm {m['arm']}: {m['verdict']} ({m['kind']})"
                  for m in r["failing_moves"]]
        lines += [f"    rare move {m['claim']} arm {m['arm']}: {m['verdict']} ({m['kind']})"
                  for m in r["rare_moves"]]
    bad = sum(bool(r["flagged"] or r["failing_moves"]) for r in rows)
    lines.append(f"{bad} of {len(rows)} seeds would fail against the others' ensemble")
    return lines


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["check"]:
        check = argparse.ArgumentParser(prog="python -m harness.calibrate check",
                                        description=false_alarm_lines.__doc__)
        check.add_argument("file", type=Path)
        args = check.parse_args(argv[1:])
        try:
            doc = calibration.load(args.file)
            print("\n".join(false_alarm_lines(doc) + ["", "arms below 95% of seeds at their "
                                                          "pin:"] + unstable_lines(doc)))
        except calibration.CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if argv[:1] == ["merge"]:
        merge = argparse.ArgumentParser(prog="python -m harness.calibrate merge")
        merge.add_argument("files", type=Path, nargs="+")
        merge.add_argument("-o", "--out", type=Path, required=True)
        args = merge.parse_args(argv[1:])
        try:
            doc = calibration.merge([calibration.load(p) for p in args.files],
                                    [str(p) for p in args.files])
            print("\n".join(summary_lines(doc)))
            for path in write_outputs(doc, args.out):
                print(path)
        except calibration.CalibrationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        return 0
    if argv[:1] == ["restamp"]:
        return _restamp_main(argv[1:])
    parser = _parser()
    args, pytest_args = parser.parse_known_args(argv)
    if args.seeds < 1:
        parser.error("--seeds must be at least 1")
    try:
        indices = _range(args.range, args.seeds) if args.range else range(args.seeds)
    except argparse.ArgumentTypeError as exc:
        parser.error(str(exc))
    blocked = [a for a in pytest_args if a.split("=")[0] in
               ("--claims-seed", "--report-dir", "--budget", "--baseline", "--save-baseline")]
    if blocked:
        parser.error(f"{', '.join(blocked)}: set by the calibration for each seed")
    try:
        doc = calibrate(args.seeds, args.out, budget=args.budget,
                        calibration_seed=args.calibration_seed, indices=indices,
                        pytest_args=pytest_args or None,
                        progress=lambda line: print(line, flush=True))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("\n".join(summary_lines(doc)))
    print(f"calibration: {args.out / 'calibration.json'}\nreport:      "
          f"{args.out / 'index.html'}")
    return 0


def _restamp_main(argv: list[str]) -> int:
    from . import restamp

    parser = argparse.ArgumentParser(prog="python -m harness.calibrate restamp",
                                     description=restamp.__doc__.split("\n")[0],
                                     allow_abbrev=False,
                                     epilog="Arguments it does not know go to pytest: name "
                                            "the claims to carry over.")
    parser.add_argument("file", type=Path, help="the calibration.json to carry over")
    parser.add_argument("--from", dest="rev", required=True,
                        help="the git revision the calibration's runs of these claims ran")
    parser.add_argument("--seed-index", type=int, default=0, metavar="I",
                        help="the calibration seed both codes run under (default 0)")
    parser.add_argument("--work", type=Path, default=Path("reports/restamp"),
                        help="where the two runs and the old worktree go")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output directory (default: the calibration's own)")
    args, pytest_args = parser.parse_known_args(argv)
    if not pytest_args:
        parser.error("name the claims to carry over (test files or -k), e.g. "
                     "claims/test_g3_rank_rises_with_batch_size.py")
    try:
        doc = calibration.load(args.file)
        runs = {r["index"]: r for r in doc["runs"]}
        if args.seed_index not in runs:
            parser.error(f"--seed-index {args.seed_index}: the calibration has seeds "
                         f"{sorted(runs)}")
        old, new = restamp.run_both(args.rev, args.work.resolve(),
                                    runs[args.seed_index]["master_seed"], args.seed_index,
                                    doc["budget"], pytest_args, run_seed,
                                    lambda line: print(line, flush=True))
        out, lines = restamp.restamp(doc, old, new, rev=args.rev)
    except (calibration.CalibrationError, restamp.RestampError, RuntimeError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print("\n".join(lines))
    for path in write_outputs(out, args.out or args.file.parent):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
