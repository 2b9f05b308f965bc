"""The batched low-rank trainer against plain PyTorch: same init, same data order, same
steps; and the paper's decay convention against torch.optim.SGD(weight_decay=2 lambda)."""
import math

import numpy as np
import pytest
import torch

from fixtures.lowrank import CROSSED_SETTINGS, hidden_rank, rank_from_singular_values
from fixtures.lowrank_train import (
    epoch_batches,
    init_mlp,
    pytorch_weight_decay,
    sgd_step,
    train,
    truncate_to_rank,
)
from fixtures.measures import normalized_rank, singular_values

SIZES = [6, 8, 8, 7, 3]


def _reference_model(layers, c):
    mods = []
    for i, (w, b) in enumerate(layers):
        lin = torch.nn.Linear(w.shape[2], w.shape[1], dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(w[c])
            lin.bias.copy_(b[c])
        mods += [lin] + ([torch.nn.ReLU()] if i < len(layers) - 1 else [])
    return torch.nn.Sequential(*mods)


def _problem(n=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, SIZES[0], generator=gen, dtype=torch.float64)
    y = torch.randint(0, SIZES[-1], (n,), generator=gen)
    return x, y


def test_batched_trainer_equals_torch_sgd_reference():
    x, y = _problem()
    gens = [torch.Generator().manual_seed(s) for s in range(2)]
    lam = torch.tensor([0.0, 1e-2, 5e-2, 1e-3], dtype=torch.float64)
    mu = torch.tensor([0.1, 0.3, 0.05, 0.2], dtype=torch.float64)
    seed_index = torch.tensor([0, 1, 0, 1])
    layers = init_mlp(SIZES, gens, seed_index, dtype=torch.float64)
    refs = [_reference_model(layers, c) for c in range(4)]
    order = [torch.Generator().manual_seed(10 + s) for s in range(2)]
    batches = epoch_batches(len(x), 8, order, seed_index, "cpu")
    seen = []
    train(layers, x, y, lam, mu, lambda t: seen.append(batches(t)) or seen[-1], 25, 25,
          lambda t, l: None, SIZES[-1])
    for c, model in enumerate(refs):
        opt = torch.optim.SGD(model.parameters(), lr=float(mu[c]), momentum=0.0,
                              weight_decay=pytorch_weight_decay(float(lam[c])))
        for idx in seen:
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x[idx[c]]), y[idx[c]]).backward()
            opt.step()
        linears = [m for m in model if isinstance(m, torch.nn.Linear)]
        for (w, b), lin in zip(layers, linears):
            torch.testing.assert_close(w[c], lin.weight.detach(), rtol=1e-10, atol=1e-12)
            torch.testing.assert_close(b[c], lin.bias.detach(), rtol=1e-10, atol=1e-12)


def test_decay_convention_is_weight_decay_two_lambda():
    """One step with zero loss gradient: W <- (1 - 2 mu lambda) W, as SGD(wd = 2 lambda)."""
    gens = [torch.Generator().manual_seed(3)]
    layers = init_mlp([4, 5, 3], gens, torch.tensor([0]), dtype=torch.float64)
    w0 = layers[0][0].clone()
    lam, mu = 0.01, 0.3
    x = torch.zeros(1, 2, 4, dtype=torch.float64)  # zero input: W1's loss gradient is 0
    onehot = torch.nn.functional.one_hot(torch.tensor([[0, 1]]), 3).double()
    f64 = {"dtype": torch.float64}
    sgd_step(layers, x, onehot, torch.tensor(mu, **f64).view(1, 1, 1),
             torch.tensor(1 - 2 * mu * lam, **f64).view(1, 1, 1))
    p = torch.nn.Parameter(w0[0].clone())
    p.grad = torch.zeros_like(p)
    torch.optim.SGD([p], lr=mu, weight_decay=pytorch_weight_decay(lam)).step()
    torch.testing.assert_close(layers[0][0][0], p.detach(), rtol=1e-14, atol=0)
    torch.testing.assert_close(p.detach(), (1 - 2 * mu * lam) * w0[0], rtol=1e-14, atol=0)


def test_rank_from_singular_values_matches_measures():
    gen = torch.Generator().manual_seed(1)
    u = torch.randn(5, 12, 12, generator=gen, dtype=torch.float64)
    w = u @ torch.diag_embed(torch.logspace(0, -6, 12, dtype=torch.float64)) @ u.mT
    w[0] = 0.0  # a collapsed matrix: rank 0
    for tau in (1e-3, 1e-2):
        assert torch.equal(rank_from_singular_values(singular_values(w), tau),
                           normalized_rank(w, tau))


def test_hidden_rank_excludes_classifier():
    sv = [torch.tensor([[[1.0, 1.0, 0.0]]]), torch.tensor([[[1.0, 0.0, 0.0]]]),
          torch.tensor([[[1.0, 1.0, 1.0]]])]
    assert np.allclose(hidden_rank({"sv": sv}), [1.5])


def test_truncate_to_rank_is_eckart_young():
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(3, 7, 5, generator=gen, dtype=torch.float64)
    cut = truncate_to_rank(w, torch.tensor([1, 3, 5]))
    assert torch.linalg.matrix_rank(cut).tolist() == [1, 3, 5]
    s = torch.linalg.svdvals(w)
    assert torch.allclose(torch.linalg.matrix_norm(w - cut)[0], s[0, 1:].norm())


def _tiny_split(n=40, d=6, k=3, seed=0):
    from fixtures.data import Split
    rng = np.random.default_rng(seed)
    return Split(rng.normal(size=(n, d)), rng.integers(0, k, n), rng.normal(size=(10, d)),
                 rng.integers(0, k, 10))


def test_run_grid_is_run_configs_in_grid_order():
    """run_grid = run_configs over lambda-major cells: same numbers, and ``grid`` reads them."""
    from fixtures.lowrank import grid, run_configs, run_grid
    from harness.seeds import Seeds
    data, seeds = _tiny_split(), Seeds(1, "t")
    res = run_grid(data, [6, 8, 8, 3], [0.0, 1e-2], [0.1, 0.2], 2, 8, 10, 5, 1, seeds, "cpu")
    cells = [(lam, mu) for lam in (0.0, 1e-2) for mu in (0.1, 0.2)]
    ref = run_configs(data, [6, 8, 8, 3], cells, 2, 8, 10, 5, 1, seeds, "cpu")
    for a, b in zip(res["sv"], ref["sv"]):
        assert torch.equal(a, b)
    lam = grid(res, res["lam"].numpy())
    assert np.all(lam[1] == 1e-2) and np.all(lam[0] == 0.0)
    assert np.all(grid(res, res["mu"].numpy())[:, 1] == 0.2)
    assert np.all(grid(res, res["seed"].numpy())[..., 1] == 1)


def test_run_configs_shares_init_per_seed_and_order_per_cell():
    """Same seed: same init in every cell; with order_per_cell two identical cells (same
    lambda, mu, seed) still see different data orders, so they end apart."""
    from fixtures.lowrank import run_configs
    from harness.seeds import Seeds
    data = _tiny_split()
    kw = dict(data=data, sizes=[6, 8, 3], cells=[(1e-2, 0.1), (1e-2, 0.1)], n_seeds=2,
              batch_size=8, steps=10, checkpoint_every=10, eval_every=1,
              seeds=Seeds(2, "t"), device="cpu")
    shared, per_cell = run_configs(**kw), run_configs(**kw, order_per_cell=True)
    for res in (shared, per_cell):
        sv0 = res["sv"][0][0]  # at init: (C, r), C = cell * n_seeds + seed
        assert torch.equal(sv0[0], sv0[2]) and not torch.equal(sv0[0], sv0[1])
    assert torch.equal(shared["sv"][0][-1][0], shared["sv"][0][-1][2])
    assert not torch.equal(per_cell["sv"][0][-1][0], per_cell["sv"][0][-1][2])


@pytest.mark.parametrize("budget", ["default", "paper"])
def test_crossed_run_is_converged_and_crossed(budget):
    """Every lambda > 0 cell passes 2 ln(1/tau) (the regime G1/G2's converged arms speak of),
    G1's mu = 0.1 column holds lambda = 0 and three lambdas > 0, G2's lambda = 2e-3 row three
    mus, and at least two products are matched by cells with different mu."""
    cfg = CROSSED_SETTINGS[budget]
    cells = [tuple(c) for c in cfg["cells"]]
    assert all(2 * mu * lam * cfg["steps"] >= 2 * math.log(1e3) for lam, mu in cells if lam)
    assert sorted(lam for lam, mu in cells if mu == 0.1)[:2] == [0.0, 1e-3]
    assert len({lam for lam, mu in cells if mu == 0.1}) >= 4
    assert len({mu for lam, mu in cells if lam == 2e-3}) >= 3
    products = [round(lam * mu, 12) for lam, mu in cells if lam]
    assert sum(products.count(p) >= 2 for p in set(products)) >= 2
    assert cfg["n_seeds"] >= 9  # G1's ratio: a Wilcoxon that can exclude its floor at alpha/4


def test_mu_line_block_has_the_sweep_line_layout():
    """G2 concatenates a block's (mu, seed) line after the sweep's: same grid order (lambda,
    mu, seed), lambda = 0 and the central lambda, every mu, ``block`` seeds."""
    from fixtures.lowrank import grid
    from fixtures.mu_line_blocks import train_block
    from harness.seeds import Seeds

    cfg = {"sizes": [40, 8, 8, 8, 10], "mus": [0.05, 0.1], "epochs": 1, "eval_every": 1,
           "central": {"batch_size": 400, "lam": 1e-2}, "block": 2}
    out = train_block(cfg, Seeds(0, "mu-line-test"), "cpu")
    res = out["epochs"][400]
    assert res["lambdas"] == [0.0, 1e-2] and res["mus"] == [0.05, 0.1]
    assert out["n_seeds"] == 2 and grid(res, hidden_rank(res)).shape == (2, 2, 2)
    assert np.allclose(res["lam"].numpy(), np.repeat([0.0, 1e-2], 4))
