"""Disk cache for experiments several claims share, keyed by a hash of their full config.

Lives under pytest's cache directory, so ``pytest --cache-clear`` retrains. A file lock
makes concurrent pytest-xdist workers compute a shared experiment once: the others wait
and load it.
"""
from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import torch

from .codehash import code_hash


class DiskCache:
    def __init__(self, root: Path, context: dict[str, Any]):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.context = context  # what every key implicitly includes (torch, device, seed)

    def key(self, name: str, config: dict[str, Any], code: str = "") -> str:
        blob = json.dumps({"name": name, "config": config, "context": self.context,
                           "code": code}, sort_keys=True, default=str)
        return f"{name}-{hashlib.sha256(blob.encode()).hexdigest()[:16]}"

    def get_or_compute(self, name: str, config: dict[str, Any],
                       compute: Callable[[], Any]) -> Any:
        """Load ``name`` for this config, or compute it (tensors, arrays, dicts) and store.

        The key includes a hash of the code of the module that defines ``compute`` and of
        the fixtures modules it uses: an edited fixture recomputes its experiments."""
        module = getattr(compute, "__module__", None)
        code = code_hash(module) if module in sys.modules else ""
        path = self.root / f"{self.key(name, config, code)}.pt"
        with open(self.root / f"{path.stem}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                if path.exists():
                    try:
                        return torch.load(path, weights_only=False)
                    except Exception:  # a truncated file from a killed run: recompute
                        path.unlink(missing_ok=True)
                value = compute()
                fd, tmp = tempfile.mkstemp(dir=self.root, suffix=".tmp")
                os.close(fd)
                torch.save(value, tmp)
                os.replace(tmp, path)
                return value
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
