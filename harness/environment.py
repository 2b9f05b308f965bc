"""What machine and software produced a run: recorded in every results file."""
from __future__ import annotations

import os
import platform
import re
import subprocess
from pathlib import Path
from typing import Any

import torch

from .device import device_name


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                             text=True, timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def blas_info() -> str:
    """The BLAS/LAPACK torch was built with (the build line lists them as BLAS_INFO=...)."""
    found = dict(re.findall(r"\b(BLAS_INFO|LAPACK_INFO)=([^,\s]+)", torch.__config__.show()))
    parts = [f"BLAS {found['BLAS_INFO']}" if "BLAS_INFO" in found else "BLAS unknown"]
    if found.get("LAPACK_INFO") and found.get("LAPACK_INFO") != found.get("BLAS_INFO"):
        parts.append(f"LAPACK {found['LAPACK_INFO']}")
    if torch.backends.mkldnn.is_available():
        parts.append("oneDNN")
    return ", ".join(parts)


def collect(root: Path, device: torch.device, budget: str, master_seed: int,
            workers: int) -> dict[str, Any]:
    import numpy
    import scipy

    env: dict[str, Any] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "device": str(device),
        "device_name": device_name(device),
        "gpu_count": torch.cuda.device_count() if torch.cuda.is_available() else 0,
        "tf32_matmul": torch.backends.cuda.matmul.allow_tf32,
        "tf32_cudnn": torch.backends.cudnn.allow_tf32,
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
        "torch_threads": torch.get_num_threads(),
        "blas": blas_info(),
        "git_commit": git_commit(root),
        "budget": budget,
        "master_seed": master_seed,
        "xdist_workers": workers,
    }
    return env
