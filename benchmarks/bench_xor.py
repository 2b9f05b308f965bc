"""XOR trainer speed: batched stack vs the notebook loop, the B1 experiment, minima per minute.

Run: .venv/bin/python benchmarks/bench_xor.py [loop_seeds]
1. 150 XOR nets (h = 3, ReLU, lr 0.05) for 2000 full-batch steps: fixtures.xor.gd_train on the
   stacked (150, P) parameters vs a loop of nn.Module + torch.optim.SGD, one net at a time
   (loop_seeds of them, default 150; fewer are extrapolated linearly). Same inits, checked equal.
2. The whole B1 experiment (default budget: 1000 inits x widths 2-16 x ReLU/tanh, training,
   polish, Jacobians, exact Hessians at the minimum and at step 150):
   fixtures.xor_population.run_population.
3. Throughput through train + polish + rank(J): converged minima per CPU minute.
Times are CPU seconds (user+sys of this process), one thread: the machine is shared.
"""
from __future__ import annotations

import sys
import time

import torch

from fixtures.xor import (
    LEARNING_RATES,
    gauss_newton_polish,
    gd_train,
    init_params,
    jacobians,
    mse,
    svd_rank,
    train_module_sgd,
    xor_data,
)
from fixtures.xor_population import POPULATION_SETTINGS, run_population
from harness.seeds import Seeds


def cpu_time(fn):
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def main(loop_seeds: int = 150) -> None:
    torch.set_num_threads(1)
    x, y = xor_data()
    h, act, steps, n = 3, "relu", 2000, 150
    lr = LEARNING_RATES[act]
    theta0 = init_params(n, h, torch.Generator().manual_seed(0))
    t_batched, (batched, _, _) = cpu_time(
        lambda: gd_train(theta0, x, y, h, act, lr, steps, settle_ratio=1.0))
    t_loop, looped = cpu_time(lambda: torch.stack(
        [train_module_sgd(theta0[i], x, y, h, act, lr, steps) for i in range(loop_seeds)]))
    agree = torch.allclose(batched[:loop_seeds], looped, rtol=1e-9, atol=1e-10)
    t_loop_all = t_loop * n / loop_seeds

    cfg = POPULATION_SETTINGS["default"]
    t_b1, pop = cpu_time(lambda: run_population(cfg, Seeds(20221206, "xor-population")))
    n_inits = sum(r["converged"].numel() for r in pop.values())

    def train_and_rank():
        found = 0
        for act_name in ("relu", "tanh"):
            for width in cfg["widths"]:
                th = init_params(cfg["n_inits"], width, torch.Generator().manual_seed(width))
                th, _, _ = gd_train(th, x, y, width, act_name, LEARNING_RATES[act_name],
                                    cfg["steps"])
                active = mse(th, x, y, width, act_name) < 1e-3
                th = gauss_newton_polish(th, x, y, width, act_name, cfg["polish_iters"],
                                         active=active)
                svd_rank(jacobians(th, x, width, act_name))
                found += int((active & (mse(th, x, y, width, act_name) < 1e-26)).sum())
        return found
    t_thr, minima = cpu_time(train_and_rank)

    rows = [
        ("150 nets x 2000 steps, batched gd_train", f"{t_batched:.2f} s", ""),
        (f"same, nn.Module + SGD loop ({loop_seeds} timed)", f"{t_loop_all:.2f} s",
         f"speed-up {t_loop_all / t_batched:.0f}x (target >= 100x); equal: {agree}"),
        (f"B1 experiment ({n_inits} inits, default budget)", f"{t_b1:.2f} s",
         "target <= 20 s"),
        ("train + polish + rank(J), default grid", f"{t_thr:.2f} s",
         f"{minima} minima -> {minima / t_thr * 60:,.0f} minima/min (target >= 10,000)"),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'what':<{width}}  {'CPU time':>10}  note")
    for what, t, note in rows:
        print(f"{what:<{width}}  {t:>10}  {note}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 150)
