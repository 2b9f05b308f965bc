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


def test_split_hutchinson_halves_average_to_the_estimate_and_match_dense():
    from fixtures.flat_minima import split_hutchinson

    loss_fn, flat, dense = _tiny_problem(torch.tanh)
    exact = dense.diagonal(dim1=-2, dim2=-1).sum(-1)
    est = split_hutchinson(loss_fn, flat, probes=400, gen=torch.Generator().manual_seed(4))
    torch.testing.assert_close(est["halves"].mean(-1), est["trace"])
    torch.testing.assert_close(est["diag"].sum(-1), est["trace"])
    assert torch.all((est["trace"] - exact).abs() <= 4 * est["stderr"] + 1e-12)
    assert not torch.equal(est["halves"][:, 0], est["halves"][:, 1])  # independent probes


def test_doubling_radius_of_an_isotropic_quadratic_is_exact():
    """loss = base + c |theta - theta*|^2 / 2 on every direction: the loss doubles at
    r = sqrt(2 base / c), from every half of the directions alike."""
    import numpy as np

    from fixtures import flat_minima

    class Quadratic:
        def logits(self, flat, x):  # cross-entropy of logits (0, a) on label 0
            a = torch.log(torch.expm1(0.1 + 0.5 * (flat ** 2).sum(-1)))
            zeros = torch.zeros_like(a)
            return torch.stack([zeros, a], -1)[:, None, :].expand(-1, x.shape[0], -1)

    x, y = torch.zeros(3, 1), torch.zeros(3, dtype=torch.long)
    flat = torch.zeros(2, 5, dtype=torch.float64)
    # loss = log(1 + e^a) = 0.1 + |theta|^2 / 2: doubles at |theta| = sqrt(0.2)
    radius = flat_minima.doubling_radius(Quadratic(), flat, x, y, 6,
                                         torch.Generator().manual_seed(0))
    assert np.allclose(radius["all"], np.sqrt(0.2), rtol=0.02)  # log-interpolated on RADII
    assert np.allclose(radius["halves"], radius["all"][:, None], rtol=1e-6)
