"""--device auto|cpu|cuda|cuda:N, and one GPU per pytest-xdist worker."""
from __future__ import annotations

import re

import torch


class DeviceError(ValueError):
    pass


def resolve_device(spec: str, worker_id: str | None = None) -> torch.device:
    """The torch.device for this process.

    'auto' is CUDA when present, else CPU. Under xdist, 'auto' and 'cuda' put worker
    gwI on GPU I mod count, so `-n <number of GPUs>` uses each GPU once. 'cuda:N' pins.
    """
    spec = (spec or "auto").strip().lower()
    if not re.fullmatch(r"auto|cpu|cuda(:\d+)?", spec):
        raise DeviceError(f"unknown device {spec!r}: use auto, cpu, cuda or cuda:N")
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise DeviceError(
            f"--device {spec} asks for a GPU but torch {torch.__version__} sees none "
            f"(CUDA build: {torch.version.cuda or 'no'}); use --device cpu or auto"
        )
    count = torch.cuda.device_count()
    if ":" in spec:
        index = int(spec.split(":")[1])
        if index >= count:
            raise DeviceError(
                f"--device {spec}: no such GPU, this machine has {count} "
                f"(valid: {', '.join(f'cuda:{i}' for i in range(count))})"
            )
        return torch.device("cuda", index)
    index = 0
    if worker_id and worker_id.startswith("gw"):
        index = int(worker_id[2:]) % count
    return torch.device("cuda", index)


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "cpu"
