"""The CPU allocator setting: applied in every process, reported, and moving no float."""
import platform
import subprocess
import sys

import pytest

from harness import device

_PROBE = """
import sys, torch
from harness.device import keep_freed_memory
if sys.argv[1] == "tuned":
    keep_freed_memory()
gen = torch.Generator().manual_seed(0)
a = torch.randn(512, 24, 24, generator=gen)
k = torch.linalg.cholesky(a @ a.transpose(1, 2) + torch.eye(24))
x = torch.relu(torch.randn(4096, 300, generator=gen) @ torch.randn(300, 200, generator=gen))
sys.stdout.buffer.write(k.numpy().tobytes() + x.sum(0).numpy().tobytes())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_keep_freed_memory_sets_both_thresholds_and_says_so():
    setting = device.keep_freed_memory()
    assert setting.startswith("glibc mallopt") and "32 MiB" in setting
    assert device.keep_freed_memory() == setting == device.cpu_allocator()


def test_the_setting_moves_no_float(tmp_path):
    """The same computation, in fresh processes with and without it, gives the same bits."""
    def run(mode):
        return subprocess.run([sys.executable, "-c", _PROBE, mode], capture_output=True,
                              check=True, cwd=tmp_path,
                              env={"PYTHONPATH": str(device.__file__).rsplit("/harness/", 1)[0],
                                   "PATH": "/usr/bin:/bin"}).stdout
    plain, tuned = run("plain"), run("tuned")
    assert len(plain) > 0 and plain == tuned
