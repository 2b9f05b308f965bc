"""A hash of the code behind an experiment or a claim: its module and every ``fixtures``
module it reaches through its globals, so that editing a fixture invalidates the cached
experiments it computed and marks the claims that use it as changed in a baseline diff."""
from __future__ import annotations

import hashlib
import inspect
import os
import sys
import types
from functools import lru_cache

OWN_PACKAGES = ("fixtures", "claims", "harness.stats", "harness.inference", "harness.rows",
                "harness.slopes")


def _own(module_name: str | None) -> bool:
    return bool(module_name) and any(module_name == p or module_name.startswith(p + ".")
                                     or module_name.split(".")[-1].startswith("test_")
                                     for p in OWN_PACKAGES)


def _reached(module: types.ModuleType) -> set[str]:
    """Names of this project's modules that ``module`` uses through its globals."""
    seen, todo = set(), [module.__name__]
    while todo:
        name = todo.pop()
        if name in seen or name not in sys.modules:
            continue
        seen.add(name)
        for value in vars(sys.modules[name]).values():
            target = value.__name__ if isinstance(value, types.ModuleType) else \
                getattr(value, "__module__", None)
            if _own(target) and target not in seen:
                todo.append(target)
    return seen


def _source_digest(module_name: str) -> str:
    """Digest of the module's source file as it is on disk now (an edited file, even one
    already imported, gives a new digest)."""
    module = sys.modules[module_name]
    path = getattr(module, "__file__", None)
    try:
        stat = os.stat(path)
    except (OSError, TypeError):
        try:
            source = inspect.getsource(module)
        except (OSError, TypeError):
            source = module_name
        return hashlib.sha256(source.encode()).hexdigest()
    return _file_digest(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=None)
def _file_digest(path: str, mtime_ns: int, size: int) -> str:
    with open(path, "rb") as fh:
        return hashlib.sha256(fh.read()).hexdigest()


def code_hash(module: types.ModuleType | str, *also: types.ModuleType | str) -> str:
    """16 hex digits over the sources of ``module`` (and of ``also``: e.g. the modules
    defining the pytest fixtures a test requests) and the project modules they reach."""
    names: set[str] = set()
    for m in (module, *also):
        if isinstance(m, str):
            if m not in sys.modules:
                continue
            m = sys.modules[m]
        names |= _reached(m)
    digest = hashlib.sha256()
    for name in sorted(names):
        digest.update(name.encode() + b"\0" + _source_digest(name).encode())
    return digest.hexdigest()[:16]
