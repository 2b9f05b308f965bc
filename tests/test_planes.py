"""fixtures.planes (O3's 2-D arm): the manual GD gradient against autograd, and the unit
anatomy on hand-built runs (dead, nearly dead, linear on the data, duplicate, uncovered)."""
import torch

from fixtures.planes import descend, preactivations, relative_loss, unit_anatomy_2d


def test_gd_step_is_the_autograd_gradient():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(2, 16, 2, generator=gen, dtype=torch.float64) * 2 - 1
    y = torch.rand(2, 16, generator=gen, dtype=torch.float64)
    w = torch.randn(2, 3, 2, generator=gen, dtype=torch.float64).requires_grad_()
    b = torch.randn(2, 3, generator=gen, dtype=torch.float64).requires_grad_()
    z = preactivations(x, w, b)
    (0.5 * ((torch.relu(z).sum(-1) - y) ** 2).mean(1)).sum().backward()
    g = (torch.relu(z).sum(-1) - y)[..., None] * (z > 0) / 16  # as in descend
    gw = torch.stack([(g * x[..., 0:1]).sum(1), (g * x[..., 1:2]).sum(1)], -1)
    assert torch.allclose(gw, w.grad) and torch.allclose(g.sum(1), b.grad)


def test_anatomy_counts_hand_built_units():
    x = torch.cartesian_prod(torch.linspace(-1, 1, 11), torch.linspace(-1, 1, 11))[None]
    v, c = torch.tensor([[[1.0, 0.0], [0.0, 1.0]]]), torch.tensor([[0.0, 0.2]])
    w = torch.tensor([[[1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 1.0]]])
    b = torch.tensor([[0.0, 0.0, -5.0, 3.0, -0.95]])  # copy x2, off the data, linear, corner
    a = unit_anatomy_2d(x, w, b, v, c, same_cos=0.99, near=0.1)
    assert a["dead"].tolist() == [1]
    assert a["near_dead"].tolist() == [2]  # the dead one and the one active on 1 row of 11
    assert a["linear"].tolist() == [1]
    assert a["duplicate"].tolist() == [2]
    assert a["uncovered"].tolist() == [1]  # (0, 1, 0.2) has no live match


def test_descend_fits_and_stops():
    cfg = {"k": 2, "points": 64, "lr_n": 0.75, "threshold": 1e-3, "check_every": 100}
    out = descend(cfg, 4, 8, 3000, torch.Generator().manual_seed(1), "cpu")
    assert out["w"].shape == (8, 4, 2) and out["rel_loss"].shape == (8,)
    assert torch.allclose(out["rel_loss"], relative_loss(out["x"], out["y"], out["w"], out["b"]))
    stopped = out["steps"] < 3000
    assert stopped.any() and (out["rel_loss"][stopped] < cfg["threshold"] / 10).all()
    share = (preactivations(out["x"], out["w_init"], out["b_init"]) > 0).double().mean(1)
    assert (share > 0).all()  # every line starts through the data
