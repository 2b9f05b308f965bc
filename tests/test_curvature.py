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
