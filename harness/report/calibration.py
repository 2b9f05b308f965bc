"""The calibration page: a pure function of a calibration document."""
from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from .. import ensemble
from ..evidence import fmt
from . import _ENV

WIDTH, ROW, PAD = 360, 12, 10
COLOURS = {"HOLDS": "#1a7f37", "FAILS": "#cf222e", "UNDECIDED": "#bf8700"}


def _num(v: Any) -> float | None:
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return None
    return float(v) if isinstance(v, (int, float)) and math.isfinite(v) else None


def strip(primary: dict[str, Any]) -> dict[str, Any] | None:
    """Positions for one primary's dot plot: a row per seed, the estimate as a dot, its
    interval as a line (to the edge when unbounded), the threshold dashed, no effect grey."""
    points = primary["points"]
    values = [_num(p[f]) for p in points for f in ("estimate", "low", "high")]
    values += [_num(primary.get("threshold")), _num(primary.get("null"))]
    values = [v for v in values if v is not None]
    if not values:
        return None
    lo, hi = min(values), max(values)
    pad = 0.06 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    lo, hi = lo - pad, hi + pad

    def x(v: Any, default: float | None = None) -> float | None:
        v = _num(v)
        if v is None:
            return default
        return PAD + (WIDTH - 2 * PAD) * (min(max(v, lo), hi) - lo) / (hi - lo)

    rows = []
    for i, p in enumerate(points):
        y = PAD + ROW * i
        rows.append({"y": y, "est": x(p["estimate"]), "low": x(p["low"], PAD),
                     "high": x(p["high"], WIDTH - PAD), "has_interval": p["low"] is not None,
                     "colour": COLOURS.get(p["outcome"], "#57606a"),
                     "title": f"master seed {p['master_seed']}: {fmt(p['estimate'])} "
                              f"[{fmt(p['low'])}, {fmt(p['high'])}] {p['outcome']}"})
    return {"width": WIDTH, "height": 2 * PAD + ROW * max(len(points) - 1, 0),
            "rows": rows, "thr": x(primary.get("threshold")), "null": x(primary.get("null")),
            "lo": lo, "hi": hi}


def render(doc: dict[str, Any]) -> str:
    doc = copy.deepcopy(doc)
    for summary in doc["claims"].values():
        for primary in summary["primaries"].values():
            primary["strip"] = strip(primary)
    flagged = [cid for cid, s in doc["claims"].items() if s["opposite"]]
    below = [cid for cid, s in doc["claims"].items() if s["k"] and s["at_expected"] < s["k"]]
    loo = [{**r, "bad": bool(r["flagged"] or r["failing_moves"])}
           for r in ensemble.leave_one_out(doc["runs"])]
    return _ENV.get_template("calibration.html.j2").render(
        doc=doc, flagged=flagged, below=below, loo=loo if any(r["figures"] for r in loo)
        else [], min_seeds=ensemble.MIN_SEEDS, suite_alpha=ensemble.SUITE_ALPHA)


def build(doc: dict[str, Any], out_dir: Path | str) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path, tmp = out / "index.html", out / ".index.html.tmp"
    tmp.write_text(render(doc), encoding="utf-8")
    tmp.replace(path)
    return path
