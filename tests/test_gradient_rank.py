"""Estimators of the gtheory family (G6, G7, G12, G13) against exact answers on tiny cases."""
import math

import pytest
import torch

from fixtures.deep_linear import cross_alignment, layer_geometry, train_logistic_gd
from fixtures.deep_relu import square_loss_grads, train_square_loss_gd
from fixtures.gradient_rank import (
    build,
    exact_rank,
    per_sample_gradients,
    planted_rank,
    rank_record,
)
from fixtures.unrolling import (
    forward,
    init_mlp,
    theorem_k,
    train_unrolled,
    unrolling_residual,
)

SPECS = [
    {"family": "mlp", "widths": [5, 3], "layer": 1},
    {"family": "residual", "width": 4, "layer": "W2"},
    {"family": "attention", "tokens": 3, "d_model": 4, "d_key": 2, "layer": "Wq"},
    {"family": "conv", "channels": 2, "hidden": 3, "size": 5, "kernel": 2, "stride": 1,
     "layer": "K1"},
    {"family": "tied", "width": 4, "uses": 2},
]


def _spec(extra, seed=0):
    return {"batch": 3, "activation": "tanh", "loss": "cross_entropy", "out": 3, "in": 4,
            "seed": seed, **extra}


@pytest.mark.parametrize("extra", SPECS, ids=lambda s: s["family"])
def test_vmap_per_sample_gradients_match_a_loop(extra):
    arch = build(_spec(extra))
    fast = per_sample_gradients(arch)
    for i in range(arch.inputs.shape[0]):
        params = {k: v.clone().requires_grad_(True) for k, v in arch.params.items()}
        loss = arch.loss(params, arch.inputs[i], arch.targets[i])
        (g,) = torch.autograd.grad(loss, params[arch.target])
        torch.testing.assert_close(fast[i], g.reshape(fast[i].shape), rtol=0, atol=1e-12)


def test_exact_rank_of_outer_products():
    gen = torch.Generator().manual_seed(0)
    u, v = torch.randn(7, 4, generator=gen, dtype=torch.float64), torch.randn(
        5, 4, generator=gen, dtype=torch.float64)
    assert exact_rank(torch.outer(u[:, 0], v[:, 0])) == 1
    assert exact_rank(u[:, :3] @ v[:, :3].T) == 3  # a sum of three outer products
    assert exact_rank(torch.zeros(3, 3, dtype=torch.float64)) == 0
    assert exact_rank(torch.outer(u[:, 0], v[:, 0]) * 1e-30) == 1  # relative tolerance


def test_weight_applied_twice_reaches_rank_two_and_bounds_are_min_with_shape():
    rec = rank_record(build(_spec(SPECS[-1], seed=3)))
    assert rec["per_sample_bound"] == 2 and rec["per_sample_rank"] == 2
    assert rec["batch_bound"] == min(3 * 2, 4)


def test_unrolling_identity_by_hand():
    """Two steps of W <- (1 - 2 mu lambda) W - mu G, written out, and PyTorch's SGD with
    weight_decay = 2 lambda giving the same iterates (the convention the suite uses)."""
    mu, lam = 0.1, 0.25
    w0 = torch.tensor([[1.0, 2.0], [3.0, 4.0]], dtype=torch.float64)
    g0 = torch.tensor([[1.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    g1 = torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    w2 = (1 - 2 * mu * lam) * ((1 - 2 * mu * lam) * w0 - mu * g0) - mu * g1
    unrolled = (1 - 2 * mu * lam) ** 2 * w0 - mu * ((1 - 2 * mu * lam) * g0 + g1)
    torch.testing.assert_close(w2, unrolled, rtol=0, atol=1e-15)
    assert torch.allclose(w2, torch.tensor([[0.8075, 1.705], [2.6075, 3.515]], dtype=torch.float64))
    p = torch.nn.Parameter(w0.clone())
    opt = torch.optim.SGD([p], lr=mu, weight_decay=2 * lam)
    for g in (g0, g1):
        p.grad = g.clone()
        opt.step()
    torch.testing.assert_close(p.detach(), w2, rtol=0, atol=1e-15)


def test_train_unrolled_reconstructs_its_weights():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(20, 5, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    lr = torch.tensor([0.1, 0.2], dtype=torch.float64)
    lam = torch.tensor([0.05, 0.0], dtype=torch.float64)
    windows = torch.tensor([4, 10])  # 10 = every step: the identity from W_0
    weights = init_mlp(gen, 2, [5, 6, 6, 2])
    res = train_unrolled(x, y, weights, lr, lam, 2, 10, windows, gen)
    assert unrolling_residual(res, lr, lam, windows).max() < 1e-13
    torch.testing.assert_close(res["start"][0][1], weights[0][1], rtol=0, atol=0)
    assert exact_rank(res["grad_sum"][1][0]) <= 4 * 2


@pytest.mark.parametrize("eps,decay", [(0.1, 0.05), (0.01, 0.003), (0.5, 0.2)])
def test_theorem_k_makes_the_decay_factor_small_enough(eps, decay):
    k = theorem_k(eps, decay)
    assert (1 - decay) ** k <= math.exp(-decay * k) <= eps / 2  # what the bound needs
    assert math.exp(-decay * (k - 1)) > eps / 2  # and k is the smallest such


def test_layer_geometry_of_an_aligned_rank_one_chain():
    gen = torch.Generator().manual_seed(2)
    vs = [torch.randn(d, generator=gen, dtype=torch.float64) for d in (3, 4, 4, 1)]
    vs = [v / v.norm() for v in vs]
    weights = [(2.0 * torch.outer(vs[i + 1], vs[i]))[None] for i in range(3)]
    geo = layer_geometry(weights)
    torch.testing.assert_close(geo["stable_rank"], torch.ones(1, 2, dtype=torch.float64))
    torch.testing.assert_close(geo["alignment"], torch.ones(1, 2, dtype=torch.float64))


def test_cross_alignment_pairs_layers_of_different_runs():
    gen = torch.Generator().manual_seed(3)
    chains = []
    for _ in range(2):  # two aligned rank-1 chains with different hidden directions
        vs = [torch.randn(d, generator=gen, dtype=torch.float64) for d in (3, 4, 4, 1)]
        vs = [v / v.norm() for v in vs]
        chains.append([torch.outer(vs[i + 1], vs[i]) for i in range(3)])
    weights = [torch.stack([c[i] for c in chains]) for i in range(3)]
    torch.testing.assert_close(cross_alignment(weights, shift=0),
                               layer_geometry(weights)["alignment"])
    assert (cross_alignment(weights, shift=1) < 0.999).all()


def test_logistic_gd_takes_one_data_set_per_run():
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(2, 6, 3, generator=gen, dtype=torch.float64)
    y = torch.sign(x[..., 0])
    w = [torch.randn(2, 4, 3, generator=gen, dtype=torch.float64),
         torch.randn(2, 1, 4, generator=gen, dtype=torch.float64)]
    both = train_logistic_gd(x, y, w, 0.1, 5, [5])
    for r in range(2):  # each run alone, on its own data, gives the same weights
        alone = train_logistic_gd(x[r], y[r], [t[r:r + 1] for t in w], 0.1, 5, [5])
        for a, b in zip(both["weights"], alone["weights"]):
            torch.testing.assert_close(a[r:r + 1], b, rtol=0, atol=1e-14)


def test_square_loss_grads_match_autograd_and_lambda_per_run():
    gen = torch.Generator().manual_seed(5)
    x = torch.randn(7, 5, generator=gen, dtype=torch.float64)
    y = torch.sign(torch.randn(7, generator=gen, dtype=torch.float64))
    w = init_mlp(gen, 2, [5, 6, 6, 1])
    p = [t.clone().requires_grad_(True) for t in w]
    loss = 0.5 * (forward(p, x.expand(2, -1, -1))[..., 0] - y).pow(2).mean(-1).sum()
    for a, b in zip(torch.autograd.grad(loss, p), square_loss_grads(w, x.expand(2, -1, -1),
                                                                     y)[0]):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-14)
    lam = torch.tensor([0.3, 0.0], dtype=torch.float64)
    both = train_square_loss_gd(x, y, w, 0.05, lam, 3)
    for r in range(2):
        alone = train_square_loss_gd(x, y, [t[r:r + 1] for t in w], 0.05, float(lam[r]), 3)
        for a, b in zip(both["weights"], alone["weights"]):
            torch.testing.assert_close(a[r:r + 1], b, rtol=0, atol=1e-14)


def test_per_run_batch_sizes_in_train_unrolled():
    gen = torch.Generator().manual_seed(6)
    x = torch.randn(20, 5, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    lr = torch.tensor([0.1, 0.1], dtype=torch.float64)
    lam = torch.tensor([0.05, 0.05], dtype=torch.float64)
    weights = init_mlp(gen, 2, [5, 6, 6, 2])
    res = train_unrolled(x, y, weights, lr, lam, torch.tensor([1, 3]), 3, torch.tensor([3, 3]),
                         torch.Generator().manual_seed(0))
    assert unrolling_residual(res, lr, lam, torch.tensor([3, 3])).max() < 1e-13
    assert exact_rank(res["grad_sum"][1][0]) <= 3 * 1  # batch 1: rank <= k
    assert exact_rank(res["grad_sum"][1][1]) > 3  # batch 3: more than one sample per step


@pytest.mark.parametrize("shape,terms", [((5, 7), 1), ((5, 7), 3), ((4, 4), 9)])
def test_planted_rank_counts_what_was_planted(shape, terms):
    assert planted_rank(shape, terms, seed=terms) == min(terms, *shape)


def test_train_unrolled_returns_plain_tensors():
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(10, 4, generator=gen, dtype=torch.float64)
    y = (x[:, 0] > 0).long()
    lr, lam = torch.tensor([0.1], dtype=torch.float64), torch.tensor([0.1], dtype=torch.float64)
    res = train_unrolled(x, y, init_mlp(gen, 1, [4, 5, 2]), lr, lam, 2, 4, torch.tensor([2]),
                         gen)
    for t in [res["norms"], res["accuracy"], *res["weights"], *res["start"], *res["grad_sum"]]:
        assert not t.requires_grad
