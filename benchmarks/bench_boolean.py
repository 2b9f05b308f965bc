"""Prior rejection sampling for C1: whole networks vs the exact conditional-Gaussian sampler.

Run: .venv/bin/python benchmarks/bench_boolean.py [networks]
Both sample the prior of the 5-40-40-1 ReLU net (weights N(0, 1/fan_in), biases N(0, 1)) and
keep networks whose signs match the C1 default task (n = 5, |S| = 8, target x1 AND x2) on S,
one CPU thread, float32, batches of 20,000. Reported: CPU seconds (process time; the machine
is shared, so wall time is noisy), networks per CPU-minute, acceptance rate.
"""
from __future__ import annotations

import sys

import numpy as np
import torch

from fixtures.boolean import make_task, prior_sample


def main(networks: int = 1_000_000) -> None:
    torch.set_num_threads(1)
    task = make_task(5, 8, np.random.default_rng(0))
    print(f"{'sampler':<24}{'CPU s':>8}{'networks/min':>16}{'accepted':>10}{'rate':>10}")
    for name, plain in (("whole networks", True), ("conditional Gaussian", False)):
        res = prior_sample(task, networks, 20_000, torch.Generator().manual_seed(0), plain=plain)
        print(f"{name:<24}{res['cpu_s']:>8.2f}{res['rate_per_s'] * 60:>16.3g}"
              f"{res['accepted']:>10}{res['accepted'] / res['drawn']:>10.2e}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
