"""Hutchinson trace and Lanczos top eigenvalue against dense float64 Hessians of tiny nets."""
import pytest
import torch
from torch.func import hessian

from fixtures.curvature import hutchinson, lanczos


def _tiny_problem(activation):
    """Three stacked 3-4-2 MLPs on 6 points, flat float64 parameters (P = 26)."""
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    y = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    flat = torch.randn(3, 26, generator=gen, dtype=torch.float64)

    def loss_one(p):
        w1, b1, w2, b2 = p[:12].view(3, 4), p[12:16], p[16:24].view(4, 2), p[24:]
        return ((activation(x @ w1 + b1) @ w2 + b2 - y) ** 2).mean()

    def loss_fn(stacked):
        return torch.stack([loss_one(p) for p in stacked])

    dense = torch.stack([hessian(loss_one)(p) for p in flat])
    return loss_fn, flat, dense


@pytest.mark.parametrize("activation", [torch.tanh, torch.relu])
def test_lanczos_matches_dense_top_eigenvalue(activation):
    loss_fn, flat, dense = _tiny_problem(activation)
    exact = torch.linalg.eigvalsh(dense)
    full = lanczos(loss_fn, flat, iters=26, gen=torch.Generator().manual_seed(1))
    torch.testing.assert_close(full, exact, rtol=1e-7, atol=1e-9)
    short = lanczos(loss_fn, flat, iters=12, gen=torch.Generator().manual_seed(1))
    torch.testing.assert_close(short[:, -1], exact[:, -1], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("activation", [torch.tanh, torch.relu])
def test_hutchinson_matches_dense_trace(activation):
    loss_fn, flat, dense = _tiny_problem(activation)
    exact = dense.diagonal(dim1=-2, dim2=-1).sum(-1)
    slices = [(0, 12), (12, 16), (16, 24), (24, 26)]
    est = hutchinson(loss_fn, flat, probes=400, gen=torch.Generator().manual_seed(2),
                     slices=slices)
    assert torch.all((est["trace"] - exact).abs() <= 4 * est["stderr"] + 1e-12)
    blocks = torch.stack([dense.diagonal(dim1=-2, dim2=-1)[:, a:b].sum(-1) for a, b in slices], -1)
    torch.testing.assert_close(est["block_traces"].sum(-1), est["trace"])
    assert torch.allclose(est["block_traces"], blocks, atol=0.5 * exact.abs().max().item())


def test_hutchinson_diagonal_matches_dense_diagonal():
    from fixtures.curvature import hutchinson_diagonal

    loss_fn, flat, dense = _tiny_problem(torch.tanh)
    exact = dense.diagonal(dim1=-2, dim2=-1)
    est = hutchinson_diagonal(loss_fn, flat, probes=400, gen=torch.Generator().manual_seed(3))
    torch.testing.assert_close(est["diag"].sum(-1), est["trace"])
    assert torch.all((est["trace"] - exact.sum(-1)).abs() <= 4 * est["stderr"] + 1e-12)
    scale = exact.abs().max().item()
    assert torch.allclose(est["diag"], exact, atol=0.5 * scale)


def test_dithered_quantization_error_is_uniform_and_scale_equivariant():
    from fixtures.quantize import dithered

    gen = torch.Generator().manual_seed(4)
    flat = torch.randn(2, 20000, generator=gen, dtype=torch.float64)
    u = torch.rand(flat.shape, generator=gen, dtype=torch.float64) - 0.5
    slices = [(0, 10000), (10000, 20000)]
    q = dithered(flat, slices, 3.0, u)
    step = flat[:, :10000].abs().amax(-1) / 3.0
    err = (q - flat)[:, :10000] / step[:, None]
    assert err.abs().max() <= 0.5 + 1e-9
    assert abs(err.var().item() - 1 / 12) < 0.005 and abs(err.mean().item()) < 0.01
    torch.testing.assert_close(dithered(3.0 * flat, slices, 3.0, u), 3.0 * q)


def test_crossing_bits_interpolates_in_log_rise():
    import numpy as np

    from fixtures.quantize import crossing_bits

    bits = np.arange(1.0, 10.0, 1.0)
    rise = 4.0 ** -bits[None, :]  # quadratic model: rise ~ 4^-bits
    got = crossing_bits(bits, rise, 4.0 ** -3.5)
    np.testing.assert_allclose(got, [3.5])
    assert crossing_bits(bits, rise, 10.0)[0] == bits[0]
    assert np.isinf(crossing_bits(bits, rise, 1e-12)[0])


def test_canonical_scaling_is_the_same_for_rescaled_neurons():
    from fixtures.flat_minima import Mlp

    model = Mlp(5)
    gen = torch.Generator().manual_seed(5)
    flat = model.init(2, gen, "cpu") + 0.1 * torch.randn(2, model.size, generator=gen)
    factors = torch.exp(torch.randn(2, 5, generator=gen))
    copy = model.rescale_neurons(flat, factors)
    x = torch.randn(7, 64, generator=gen)
    torch.testing.assert_close(model.logits(copy, x), model.logits(flat, x), rtol=1e-4,
                               atol=1e-5)
    canon = flat * model.canonical_factors(flat)
    canon_copy = copy * model.canonical_factors(copy)
    torch.testing.assert_close(canon, canon_copy, rtol=1e-4, atol=1e-6)
