"""The HTML claim report: a pure function of the results document."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2

from ..evidence import FAMILIES, fmt

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("harness.report", "templates"),
    autoescape=jinja2.select_autoescape(["html"], default_for_string=True),
    undefined=jinja2.StrictUndefined,
)
_ENV.filters["fmt"] = fmt


def render(document: dict[str, Any]) -> str:
    claims = document["claims"]
    counts: dict[str, int] = {}
    for c in claims:
        counts[c["verdict"]] = counts.get(c["verdict"], 0) + 1
    return _ENV.get_template("index.html.j2").render(
        doc=document, env=document["environment"], claims=claims, counts=counts,
        families=FAMILIES,
        n_mismatch=sum(not c["matches_expected"] for c in claims),
    )


def build(document: dict[str, Any], out_dir: Path | str) -> Path:
    """Write index.html into out_dir and return its path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "index.html"
    tmp = out / ".index.html.tmp"
    tmp.write_text(render(document), encoding="utf-8")
    tmp.replace(path)
    return path
