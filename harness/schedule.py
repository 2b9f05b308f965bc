"""Heaviest module first under `-n N --dist loadfile`.

xdist hands whole files to workers in order of their test count, so a two-minute claim with
one test can start last and leave the other worker idle for its whole length. Handing out
the longest files first (longest-processing-time scheduling) ends both workers within about
one short module of each other. The costs are a committed table of seconds per test file,
measured on one machine; only the order of files depends on them, never a figure or a seed.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from pathlib import Path
from typing import Any

SCHEMA = "claims-module-costs"
VERSION = 1
DEFAULT_COSTS = Path("reports/baselines/module-costs.json")


class CostsError(ValueError):
    """A module-cost table that cannot be read."""


def load(path: str | Path) -> dict[str, float]:
    """Seconds per test file (path relative to the root), from a table written by save()."""
    try:
        document = json.loads(Path(path).read_text())
        if document.get("schema") != SCHEMA:
            raise ValueError(f"schema {document.get('schema')!r}, expected {SCHEMA!r}")
        return {str(k): float(v) for k, v in document["seconds"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CostsError(f"module costs {path} cannot be read ({exc}); write them again with "
                         f"--save-module-costs {path}, or pass --module-costs '' to schedule "
                         f"without them") from None


def save(path: str | Path, seconds: dict[str, float], environment: dict[str, Any]) -> Path:
    """Write this run's seconds per file over the table at path (files not run keep theirs)."""
    path = Path(path)
    table: dict[str, float] = {}
    if path.is_file():
        try:
            table = load(path)
        except CostsError:  # a corrupt table is replaced, not merged
            table = {}
    table.update({k: round(v, 1) for k, v in seconds.items()})
    document = {"schema": SCHEMA, "version": VERSION,
                "environment": {k: environment.get(k) for k in
                                ("cpu_model", "cpu_count", "device", "budget", "torch")},
                "seconds": dict(sorted(table.items()))}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def heaviest_first(files: list[str], seconds: dict[str, float]) -> list[str]:
    """Files by decreasing cost; a file missing from the table counts as the heaviest known
    one (a new claim may be long), and ties keep the order they came in."""
    unknown = max(seconds.values(), default=0.0)
    return sorted(files, key=lambda f: -seconds.get(f, unknown))


def make_scheduler(config: Any, log: Any, seconds: dict[str, float]) -> Any:
    """xdist's file scheduler with its work queue put heaviest first before the first hand-out."""
    from xdist.scheduler import LoadFileScheduling

    class HeaviestFileFirst(LoadFileScheduling):
        _ordered = False

        def _assign_work_unit(self, node: Any) -> None:
            if not self._ordered:
                order = heaviest_first(list(self.workqueue), seconds)
                self.workqueue = OrderedDict((f, self.workqueue[f]) for f in order)
                self._ordered = True
            super()._assign_work_unit(node)

    return HeaviestFileFirst(config, log)
