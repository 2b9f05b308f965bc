"""python -m harness.report RESULTS.json [-o OUT_DIR]: rebuild the report from a results file."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .. import results
from . import build


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.report",
                                     description="Build the HTML claim report from results.json")
    parser.add_argument("results", type=Path, help="a results.json written by pytest claims/")
    parser.add_argument("-o", "--out", type=Path, default=None,
                        help="output directory (default: the results file's directory)")
    args = parser.parse_args(argv)
    try:
        document = results.load(args.results)
    except results.ResultsFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    path = build(document, args.out or args.results.parent)
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
