"""The F family's fixtures: linear nets (F1), large-step ReLU nets (F2), depth and effective
rank (F3), function-preserving rescaling (F4), each checked against a direct computation."""
import math

import numpy as np
import pytest
import torch
from torch.func import jacrev, vmap

from fixtures import depth_rank, large_step, linear_nets, rescaling


# -- F1: linear nets ---------------------------------------------------------------------
def _reference_steps(data, w1, w2, lr, steps, idx, noise, opt):
    """One seed, one optimizer, written the plain way with autograd."""
    x, y = data["x"][0].double(), data["y"][0].double()
    w1, w2 = w1.double().clone().requires_grad_(), w2.double().clone().requires_grad_()
    for t in range(steps):
        if opt == "gd":
            loss = 0.5 * ((x @ w1.T @ w2.T - y) ** 2).sum(-1).mean()
        else:
            xi, yi = x[idx[t]], y[idx[t]] + noise[t]
            loss = 0.5 * ((w2 @ (w1 @ xi) - yi) ** 2).sum()
        g1, g2 = torch.autograd.grad(loss, (w1, w2))
        with torch.no_grad():
            w1 -= lr * g1
            w2 -= lr * g2
    return w1.detach()


def test_linear_nets_gd_matches_autograd_and_all_optimizers_share_the_init():
    gen = torch.Generator().manual_seed(0)
    data = linear_nets.make_data(gen, 1, 50, 5, 2, dtype=torch.float64)
    init_gen = torch.Generator().manual_seed(1)
    out = linear_nets.train(data, width=10, init_scale=0.3, lr=0.01, steps=30, noise_sd=1.0,
                            checkpoints=1, gen=init_gen)
    for name in linear_nets.OPTIMIZERS:  # same init: same singular values at step 0
        assert torch.allclose(out["small"][name][0], out["small"]["gd"][0])
    g = torch.Generator().manual_seed(1)
    w1 = torch.randn(1, 10, 5, generator=g, dtype=torch.float64)[0] * 0.3
    w2 = torch.randn(1, 2, 10, generator=g, dtype=torch.float64)[0] * 0.3
    ref = _reference_steps(data, w1, w2, 0.01, 30, None, None, "gd")
    expected = torch.linalg.svdvals(ref)[2:].flip(-1)
    assert torch.allclose(out["small"]["gd"][-1, 0], expected, rtol=1e-10, atol=1e-12)


def test_linear_nets_sgd_steps_match_autograd_with_the_same_draws():
    """Replay the fixture's draws (chunked index and noise draws) in a per-sample loop."""
    gen = torch.Generator().manual_seed(0)
    data = linear_nets.make_data(gen, 1, 40, 5, 2, dtype=torch.float64)
    out = linear_nets.train(data, width=10, init_scale=0.3, lr=0.01, steps=25, noise_sd=1.0,
                            checkpoints=1, gen=torch.Generator().manual_seed(3), chunk=25)
    g = torch.Generator().manual_seed(3)
    w1 = torch.randn(1, 10, 5, generator=g, dtype=torch.float64)[0] * 0.3
    w2 = torch.randn(1, 2, 10, generator=g, dtype=torch.float64)[0] * 0.3
    idx = torch.randint(40, (25, 2), generator=g)
    noise = torch.randn(25, 2, 2, generator=g, dtype=torch.float64)  # (steps, k, 2 seeds)
    for col, name, sd in ((0, "sgd", 0.0), (1, "label-noise", 1.0)):
        ref = _reference_steps(data, w1, w2, 0.01, 25, idx[:, col], noise[:, :, col] * sd,
                               "sgd")
        expected = torch.linalg.svdvals(ref)[2:].flip(-1)
        assert torch.allclose(out["small"][name][-1, 0], expected, rtol=1e-10, atol=1e-12)


def test_halving_steps_reads_a_known_decay():
    t = torch.arange(0, 10001, 1000)
    values = (2.0 ** (-t / 2500.0))[:, None].repeat(1, 3)
    values[:, 2] = 1.0 + t / 1e4  # growing: no halving
    h = linear_nets.halving_steps(t, values)
    assert h[:2].tolist() == pytest.approx([2500.0, 2500.0]) and math.isinf(h[2])


# -- F2: large-step ReLU nets ------------------------------------------------------------
def _relu_net_loss(p, x, y):
    return 0.5 * ((torch.relu(x @ p["w"].T + p["b"]) @ p["a"] - y) ** 2).mean()


@pytest.mark.parametrize("full_batch", [True, False])
def test_large_step_gradients_match_autograd(full_batch):
    gen = torch.Generator().manual_seed(0)
    data = large_step.make_data(gen, 1, 12, 4, 2, 0.3, dtype=torch.float64)
    out_gen = torch.Generator().manual_seed(5)
    lr = torch.tensor([0.05], dtype=torch.float64)
    res = large_step.train(data, width=7, lr_large=lr, phase=torch.tensor([3]), lr_fit=0.01,
                           steps=5, full_batch=full_batch, gen=out_gen, plateau_window=2)
    g = torch.Generator().manual_seed(5)
    p = {"w": torch.randn(1, 7, 4, generator=g, dtype=torch.float64)[0] / 2.0,
         "a": torch.randn(1, 7, generator=g, dtype=torch.float64)[0] / math.sqrt(7),
         "b": torch.zeros(7, dtype=torch.float64)}
    order = torch.randint(12, (5, 1), generator=g)[:, 0]
    x, y = data["x"][0], data["y"][0]
    for t in range(5):
        q = {k: v.clone().requires_grad_() for k, v in p.items()}
        xb, yb = (x, y) if full_batch else (x[order[t]:order[t] + 1], y[order[t]:order[t] + 1])
        grads = torch.autograd.grad(_relu_net_loss(q, xb, yb), list(q.values()))
        step = 0.05 if t < 3 else 0.01
        p = {k: v - step * gk for (k, v), gk in zip(p.items(), grads)}
    h = torch.relu(x @ p["w"].T + p["b"])
    final = 0.5 * ((h @ p["a"] - y) ** 2).mean()
    assert float(res["final_loss"][0, 0]) == pytest.approx(float(final), rel=1e-9)
    assert float(res["active"][0, 0]) == pytest.approx(float((h > 0).double().mean()))


def test_sparsity_measures_on_a_known_feature_matrix():
    h = torch.tensor([[[1.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 0.0, 3.0]]])
    s = large_step.sparsity(h)
    assert float(s["active"]) == pytest.approx(3 / 9)
    assert float(s["alive"]) == pytest.approx(2 / 3)
    assert float(s["rank"]) == 2
    assert float(s["distinct"]) == pytest.approx(3 / 9)  # no two units share a value


def test_distinct_features_count_collapsed_units_once():
    """Two units that collapsed onto one feature (equal activations, up to 1e-3 of the
    largest) are one distinct feature; active units are counted twice."""
    h = torch.tensor([[[1.0, 1.0, 0.0], [2.0, 2.0 + 1e-4, 5.0]]])
    s = large_step.sparsity(h)
    assert float(s["active"]) == pytest.approx(5 / 6)
    assert float(s["distinct"]) == pytest.approx((1 + 2) / 2 / 3)


# -- F3: depth and effective rank ------------------------------------------------------
def test_effective_rank_of_known_spectra():
    s = torch.tensor([[1.0, 1.0, 1.0, 1.0], [1.0, 0.0, 0.0, 0.0], [2.0, 1.0, 1.0, 0.0]],
                     dtype=torch.float64)
    p = np.array([0.5, 0.25, 0.25])
    expected = [4.0, 1.0, float(np.exp(-(p * np.log(p)).sum()))]
    assert depth_rank.effective_rank(s).tolist() == pytest.approx(expected, rel=1e-9)


def test_orthogonal_products_keep_full_effective_rank_and_gaussian_ones_lose_it():
    gen = torch.Generator().manual_seed(0)
    orth = depth_rank.init_factors(gen, 4, 16, 6, "orthogonal")
    w = depth_rank.product(orth)
    assert torch.allclose(w @ w.transpose(1, 2), torch.eye(16, dtype=torch.float64)[None],
                          atol=1e-12)
    assert (depth_rank.ranks(w, torch.randn(8, 16, dtype=torch.float64))["map"] == 16).all()
    gauss = depth_rank.init_factors(gen, 4, 16, 6, "gaussian")
    er = [depth_rank.ranks(depth_rank.product(gauss[:d]), torch.eye(16, dtype=torch.float64)
                           )["map"].mean() for d in (1, 6)]
    assert er[1] < er[0]


def test_depth_rank_training_fits_and_matches_the_product():
    gen = torch.Generator().manual_seed(0)
    task = depth_rank.regression_task(gen, 2, 6, 2, 4, 10)
    factors = depth_rank.init_factors(gen, 2, 6, 2, "gaussian")
    out = depth_rank.train(factors, task, lr=1e-2, steps=600)
    assert out["train_mse"].max() < 1e-3
    assert out["w"].shape == (2, 6, 6)


# -- F4: rescaling -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def nets():
    gen = torch.Generator().manual_seed(0)
    p = rescaling.init(gen, 3, 4, 6, torch.ones(3))
    p["b1"] += 0.1
    p["b2"] += 0.1
    return p, torch.randn(3, 10, 4, generator=gen, dtype=torch.float64)


def test_rescaling_preserves_outputs_and_layer_one_alone_does_not(nets):
    p, x = nets
    a = torch.tensor([1e-3, 3.0, 1e3], dtype=torch.float64)
    base = rescaling.forward_batched(p, x)
    same = rescaling.forward_batched(rescaling.rescale(p, a), x)
    assert (same - base).abs().max() < 1e-12 * base.abs().max()
    moved = rescaling.forward_batched(rescaling.rescale(p, a, preserve=False), x)
    assert (moved - base).abs().max() > 1e-2


def test_jacobian_matches_autograd_and_sharpness_is_the_gauss_newton_spectrum(nets):
    p, x = nets
    j = rescaling.jacobian(p, x)

    def f(w1, b1, w2, b2, w3, b3, xs):
        return rescaling.forward(dict(w1=w1, b1=b1, w2=w2, b2=b2, w3=w3, b3=b3), xs)

    ref = vmap(jacrev(f, argnums=tuple(range(6))))(*[p[k] for k in rescaling.NAMES], x)
    ref = torch.cat([r.reshape(3, 10, -1) for r in ref], -1)
    assert torch.allclose(j, ref, atol=1e-12)
    s = rescaling.sharpness(p, x)
    gn = ref.transpose(1, 2) @ ref / 10
    assert torch.allclose(s["lambda_max"], torch.linalg.eigvalsh(gn)[:, -1], rtol=1e-10)
    assert torch.allclose(s["trace"], torch.diagonal(gn, dim1=1, dim2=2).sum(-1), rtol=1e-12)


def test_sharpness_scales_as_a_squared_and_the_balanced_net_is_invariant(nets):
    p, x = nets
    big = torch.full((3,), 1e3, dtype=torch.float64)
    s1, s2 = rescaling.sharpness(p, x), rescaling.sharpness(rescaling.rescale(p, big), x)
    assert (s2["lambda_max"] / s1["lambda_max"] > 1e4).all()
    b1 = rescaling.sharpness(rescaling.balance(p), x)["lambda_max"]
    b2 = rescaling.sharpness(rescaling.balance(rescaling.rescale(p, big)), x)["lambda_max"]
    assert torch.allclose(b1, b2, rtol=1e-10)


def test_convnet_arm_features_are_what_the_classifier_reads():
    from fixtures.large_step_conv import last_conv_features
    from fixtures.lowrank_conv import forward, init_convnet

    gens = [torch.Generator().manual_seed(i) for i in range(2)]
    params = init_convnet(gens, torch.tensor([0, 1, 0]), 4, 5, 2, 12, 3, "cpu", torch.float64)
    x = torch.randn(3, 7, 12, generator=gens[0], dtype=torch.float64)
    h = last_conv_features(params, x)
    assert h.shape == (3, 7, 4 * 12) and (h >= 0).all()
    logits = torch.baddbmm(params[-1].unsqueeze(1), h, params[-2].transpose(1, 2))
    assert torch.allclose(forward(params, x), logits)


def test_a_diverged_run_reads_nan_and_leaves_the_others_exact():
    """A run whose weights overflowed is recorded (NaN), not raised as an SVD failure."""
    from fixtures.linear_nets import small_singular_values
    w = torch.randn(3, 10, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    bad = w.clone()
    bad[1, 2, 3] = float("inf")
    s = small_singular_values(bad, 2)
    assert s[1].isnan().all() and torch.equal(s[[0, 2]], small_singular_values(w, 2)[[0, 2]])
