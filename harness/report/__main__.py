"""Command line for results files.

    python -m harness.report RESULTS.json [-o DIR]          rebuild the HTML report
    python -m harness.report merge A.json B.json ... -o DIR  one report from several shards
    python -m harness.report baseline RESULTS.json -o FILE [--calibration CAL]
                                                            a baseline from a finished run
    python -m harness.report compare RESULTS.json --baseline FILE
                                                            judge a finished run (any master
                                                            seed) by the baseline's ensembles
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import baseline, calibration, results
from . import build

DEFAULT_CALIBRATION = Path("reports/calibration/calibration.json")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m harness.report",
                                     description="Build the HTML claim report from results files")
    sub = parser.add_subparsers(dest="command")
    merge = sub.add_parser("merge", help="merge results files of shards into one report")
    merge.add_argument("results", type=Path, nargs="+")
    merge.add_argument("-o", "--out", type=Path, required=True,
                       help="directory for the merged results.json and index.html")
    base = sub.add_parser("baseline", help="write a baseline from a results file")
    base.add_argument("results", type=Path)
    base.add_argument("-o", "--out", type=Path, required=True, help="baseline file to write")
    base.add_argument("--calibration", type=Path, default=DEFAULT_CALIBRATION,
                      help=f"the calibration whose ensembles the baseline keeps (default "
                           f"{DEFAULT_CALIBRATION}; '' for none)")
    comp = sub.add_parser("compare", help="judge a finished run against a baseline; a run "
                                          "under another master seed is one more ensemble "
                                          "member (exit 6 drift, 7 missing)")
    comp.add_argument("results", type=Path)
    comp.add_argument("--baseline", type=Path, required=True)
    comp.add_argument("--selected", action="store_true",
                      help="the run selected some claims: the others are not run, not missing")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = _parser()
    if argv and argv[0] not in ("merge", "baseline", "compare", "-h", "--help"):  # plain rebuild
        plain = argparse.ArgumentParser(prog="python -m harness.report")
        plain.add_argument("results", type=Path, help="a results.json written by pytest claims/")
        plain.add_argument("-o", "--out", type=Path, default=None,
                           help="output directory (default: the results file's directory)")
        args = plain.parse_args(argv)
        args.command = None
    else:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
    try:
        if args.command == "merge":
            paths = [str(p) for p in args.results]
            document = results.merge([results.load(p) for p in args.results], paths)
            results.write(args.out / "results.json", document)
            print(build(document, args.out))
        elif args.command == "baseline":
            cal = (calibration.load(args.calibration)
                   if str(args.calibration) and args.calibration.is_file() else None)
            print(baseline.save(args.out, results.load(args.results), cal))
        elif args.command == "compare":
            comparison = baseline.compare(baseline.load(args.baseline), results.load(
                args.results), path=str(args.baseline), subset=args.selected)
            print("\n".join(baseline.describe(comparison)))
            return baseline.exit_status(comparison)
        else:
            print(build(results.load(args.results), args.out or args.results.parent))
    except (results.ResultsFileError, baseline.BaselineError,
            calibration.CalibrationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"error: cannot write {exc.filename or args.out}: {exc.strerror}; choose a "
              f"writable output path with -o", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
