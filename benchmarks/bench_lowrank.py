"""Batched low-rank sweep vs the same configurations trained one by one, per batch size.

Run: .venv/bin/python benchmarks/bench_lowrank.py [steps_at_B10]
Both sides use the same trainer code (fixtures.lowrank_train.sgd_step), one CPU thread (as
the sweep does), float32, the default grid's 45 configurations (5 lambda x 3 mu x 3 seeds)
and the same number of samples per configuration at every B (fixed epochs, as the sweep).
Reported: CPU seconds (process time; the machine is shared, so wall time is noisy).
"""
from __future__ import annotations

import sys
import time

import torch

from fixtures.data import mnist1d
from fixtures.lowrank import SWEEP_SETTINGS
from fixtures.lowrank_train import init_mlp, sgd_step


def run(layers, x, onehot, idx_all, lr, keep, steps, bs):
    for t in range(steps):
        idx = idx_all[:, t * bs:(t + 1) * bs]
        sgd_step(layers, x[idx], onehot[idx], lr, keep)


def run_autograd(sizes, w_init, x, y, idx, lr, wd, steps, bs):
    """The straightforward baseline: nn.Sequential + autograd + torch.optim.SGD."""
    mods = []
    for i, (w, b) in enumerate(w_init):
        lin = torch.nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            lin.weight.copy_(w)
            lin.bias.copy_(b)
        mods += [lin] + ([torch.nn.ReLU()] if i < len(w_init) - 1 else [])
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=lr, weight_decay=wd)
    for t in range(steps):
        j = idx[t * bs:(t + 1) * bs]
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x[j]), y[j]).backward()
        opt.step()


def main(steps_b10: int = 2000) -> None:
    torch.set_num_threads(1)
    cfg = SWEEP_SETTINGS["default"]
    x, y, _, _ = mnist1d().torch()
    onehot = torch.nn.functional.one_hot(y, 10).float()
    lam, mu, seed = (t.reshape(-1) for t in torch.meshgrid(
        torch.tensor(cfg["lambdas"]), torch.tensor(cfg["mus"]),
        torch.arange(cfg["n_seeds"], dtype=torch.float32), indexing="ij"))
    seed = seed.long()
    n_cfg = len(lam)
    gens = [torch.Generator().manual_seed(s) for s in range(cfg["n_seeds"])]
    lr = mu.view(-1, 1, 1)
    keep = (1 - 2 * mu * lam).view(-1, 1, 1)
    print(f"{n_cfg} configurations, MLP {cfg['sizes']}, {steps_b10 * 10} samples each")
    print(f"{'B':>5} {'steps':>6} {'batched s':>10} {'1-by-1 same code s':>19} {'speedup':>8}"
          f" {'1-by-1 autograd s':>18} {'speedup':>8} {'batched GFLOP/s':>16}")
    for bs in cfg["batch_sizes"]:
        steps = steps_b10 * 10 // bs
        gen = torch.Generator().manual_seed(bs)
        idx_all = torch.randint(0, len(x), (n_cfg, steps * bs), generator=gen)
        layers = init_mlp(cfg["sizes"], gens, seed)
        t0 = time.process_time()
        run(layers, x, onehot, idx_all, lr, keep, steps, bs)
        batched = time.process_time() - t0
        singles = [init_mlp(cfg["sizes"], [gens[seed[c]]], torch.tensor([0]))
                   for c in range(n_cfg)]
        t0 = time.process_time()
        for c in range(n_cfg):
            run(singles[c], x, onehot, idx_all[c:c + 1], lr[c:c + 1], keep[c:c + 1], steps,
                bs)
        serial = time.process_time() - t0
        singles = [init_mlp(cfg["sizes"], [gens[seed[c]]], torch.tensor([0]))
                   for c in range(n_cfg)]
        t0 = time.process_time()
        for c in range(n_cfg):
            run_autograd(cfg["sizes"], [(w[0], b[0]) for w, b in singles[c]], x, y,
                         idx_all[c], float(mu[c]), 2 * float(lam[c]), steps, bs)
        autograd = time.process_time() - t0
        params = sum(a * b for a, b in zip(cfg["sizes"][:-1], cfg["sizes"][1:]))
        flops = 6 * params * bs * steps * n_cfg
        print(f"{bs:>5} {steps:>6} {batched:>10.2f} {serial:>19.2f} {serial / batched:>7.1f}x"
              f" {autograd:>18.2f} {autograd / batched:>7.1f}x {flops / batched / 1e9:>16.1f}")


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
