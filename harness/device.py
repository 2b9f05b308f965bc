"""--device auto|cpu|cuda|cuda:N, and one GPU per pytest-xdist worker."""
from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
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


# glibc mallopt parameters (malloc.h) and the values set_cpu_allocator gives them
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 * 2 ** 20   # glibc's largest allowed value on 64-bit
TRIM_THRESHOLD = 2 ** 30
_allocator = ["glibc defaults (or not glibc)"]  # what keep_freed_memory set, for the report


def cpu_allocator() -> str:
    """The allocator setting of this process, as keep_freed_memory left it."""
    return _allocator[0]


def keep_freed_memory() -> str:
    """Let glibc reuse freed tensor memory instead of mapping fresh pages for each one.

    The claims' loops allocate many temporaries of 0.1 to 30 MB per step. By default glibc
    serves each from fresh mmap pages (zeroed by the kernel, one page fault per 4 KiB) and
    returns them on free; with both thresholds raised they come from the heap and stay
    there. It moves no float (same arithmetic, same 64-byte alignment from torch); C1's
    prior sampler ran 1.6x faster, whole claim files 2 to 12%. Returns what it set, or
    why not (not glibc).
    """
    name = ctypes.util.find_library("c")
    try:
        mallopt = ctypes.CDLL(name).mallopt if name else None
    except (OSError, AttributeError):
        mallopt = None
    if mallopt is None:
        _allocator[0] = "unchanged (no glibc mallopt)"
    elif not (mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) and
              mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)):
        _allocator[0] = "unchanged (mallopt refused)"
    else:
        _allocator[0] = (f"glibc mallopt: mmap threshold {MMAP_THRESHOLD >> 20} MiB, trim "
                         f"threshold {TRIM_THRESHOLD >> 20} MiB")
    return _allocator[0]
