"""--device auto|cpu|cuda|cuda:N, and one GPU per pytest-xdist worker."""
from __future__ import annotations

import contextlib
import re
from typing import Iterator

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


@contextlib.contextmanager
def single_thread(device: torch.device | str = "cpu") -> Iterator[None]:
    """Run a loop of small batched tensor ops on one CPU thread.

    Matrices of tens to hundreds of rows gain nothing from intra-op parallelism, and on a
    loaded 2-core machine the second thread's spin-waits cost more than it saves (G13's loop:
    500 GD steps took 0.37 s CPU on one thread, 3 to 14 s on two while other jobs ran). A GPU
    device leaves the thread count alone; the previous count is restored on exit.
    """
    before = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
