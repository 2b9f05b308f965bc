"""The closed-form population loss and gradient of fixtures.teacher_student, checked against
a Monte Carlo estimate and against autograd of the closed-form loss (float64)."""
import torch

from fixtures.teacher_student import (
    build_cells,
    population_grad,
    population_loss,
    relu_kernel,
    unit_anatomy,
)


def _problem(gen, rows=3, n=5, k=4):
    w = torch.randn(rows, n, k, generator=gen, dtype=torch.float64) / k ** 0.5
    v = torch.eye(k, dtype=torch.float64).expand(rows, k, k)
    return w, v, torch.ones(rows, n, dtype=torch.float64), torch.ones(rows, k,
                                                                        dtype=torch.float64)


def _monte_carlo(w, v, samples, gen):
    x = torch.randn(samples, w.shape[-1], generator=gen, dtype=torch.float64)
    pre = torch.einsum("rnd,sd->rsn", w, x)
    residual = pre.relu().sum(-1) - torch.einsum("rkd,sd->rsk", v, x).relu().sum(-1)
    loss = 0.5 * residual.pow(2)
    grad = torch.einsum("rs,rsn,sd->rnd", residual, (pre > 0).double(), x) / samples
    return loss.mean(1), loss.std(1) / samples ** 0.5, grad


def test_kernel_matches_monte_carlo():
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    x = torch.randn(400_000, 3, generator=gen, dtype=torch.float64)
    mc = (x @ a.T).relu().T @ (x @ a.T).relu() / x.shape[0]
    assert torch.allclose(relu_kernel(a, a), mc, rtol=0.02, atol=0.01)
    assert torch.allclose(relu_kernel(a, a).diagonal(), a.pow(2).sum(-1) / 2)


def test_loss_and_gradient_match_monte_carlo():
    gen = torch.Generator().manual_seed(1)
    w, v, wm, vm = _problem(gen)
    mc_loss, mc_se, mc_grad = _monte_carlo(w, v, 400_000, gen)
    loss = population_loss(w, v, wm, vm)
    assert ((loss - mc_loss).abs() < 5 * mc_se).all()
    assert torch.allclose(population_grad(w, v, wm, vm), mc_grad, atol=0.01)


def test_gradient_matches_autograd_of_closed_form():
    gen = torch.Generator().manual_seed(2)
    w, v, wm, vm = _problem(gen)
    w = w.requires_grad_(True)
    n = w.shape[1]
    # arccos has an infinite derivative at angle 0, so the student's own terms enter as
    # |w_i|^2 / 2 and only distinct pairs go through the kernel
    cross = sum(relu_kernel(w[:, [i]], w[:, [j]]).sum() for i in range(n) for j in range(n)
                if i != j)
    loss = 0.5 * (cross + 0.5 * w.pow(2).sum()) - relu_kernel(w, v).sum()
    (auto,) = torch.autograd.grad(loss, w)
    assert torch.allclose(population_loss(w.detach(), v, wm, vm).sum(),
                          loss.detach() + 0.5 * relu_kernel(v, v).sum())
    assert torch.allclose(population_grad(w.detach(), v, wm, vm), auto, atol=1e-10)


def test_padding_is_exact():
    """A padded (masked) unit and padded input coordinate change neither loss nor gradient."""
    gen = torch.Generator().manual_seed(3)
    w, v, wm, vm = _problem(gen, rows=2, n=3, k=3)
    wp = torch.zeros(2, 5, 4, dtype=torch.float64)
    wp[:, :3, :3] = w
    vp = torch.eye(4, dtype=torch.float64).expand(2, 4, 4)
    wmp = torch.tensor([1.0, 1, 1, 0, 0], dtype=torch.float64).expand(2, 5)
    vmp = torch.tensor([1.0, 1, 1, 0], dtype=torch.float64).expand(2, 4)
    assert torch.allclose(population_loss(wp, vp, wmp, vmp), population_loss(w, v, wm, vm))
    gp = population_grad(wp, vp, wmp, vmp)
    assert torch.allclose(gp[:, :3, :3], population_grad(w, v, wm, vm))
    assert gp[:, 3:].abs().max() == 0 and gp[:, :, 3].abs().max() == 0


def test_teacher_is_a_global_minimum_and_anatomy_counts():
    v = torch.eye(3, dtype=torch.float64)[None]
    w = torch.cat([v, torch.zeros(1, 1, 3, dtype=torch.float64)], 1)  # 3 teacher units + 1 dead
    wm, vm = torch.ones(1, 4, dtype=torch.float64), torch.ones(1, 3, dtype=torch.float64)
    assert population_loss(w, v, wm, vm).abs().item() < 1e-12
    assert population_grad(w, v, wm, vm).abs().max().item() < 1e-12
    split = torch.cat([v[:, :2], 0.5 * v[:, 2:], 0.5 * v[:, 2:]], 1)  # one teacher unit split
    assert population_loss(split, v, wm, vm).abs().item() < 1e-12
    anatomy = unit_anatomy(torch.cat([w, split]), torch.ones(2, 4), k=3)
    assert anatomy["dead"].tolist() == [1, 0]
    assert anatomy["duplicate"].tolist() == [0, 2]
    assert anatomy["uncovered"].tolist() == [0, 0]


def test_cells():
    assert build_cells([4], [0, 1, "2k"]) == [(4, 4), (4, 5), (4, 8)]
    assert build_cells([1], [0, 1, "2k"]) == [(1, 1), (1, 2)]
    assert build_cells([4, 6], [0, "2k"], {6: [0, 1]}) == [(4, 4), (4, 8), (6, 6), (6, 7)]


def test_sweep_rows_follow_their_cells_and_stop_at_critical_points():
    """Rows are labelled with the cell they were computed in (narrow cells batched, wide ones
    alone), and a run that stopped reports the gradient at the weights it stopped with."""
    import torch as _torch

    from fixtures.teacher_student import _groups, run_sweep

    cells = build_cells([3], [0, 1, "2k"])
    assert _groups(cells) == [[(3, 3), (3, 4)], [(3, 6)]]
    cfg = {"ks": [3], "extra": [0, 1, "2k"], "extra_by_k": {}, "inits": 4, "lr": 0.1,
           "max_steps": 3000, "threshold": 1e-3, "check_every": 100}
    out = run_sweep(cfg, _torch.Generator().manual_seed(0), _torch.device("cpu"))
    assert out["cells"] == [(3, 3), (3, 4), (3, 6)]
    assert out["n"].tolist() == [3] * 4 + [4] * 4 + [6] * 4
    live = (out["w_mask"] > 0).sum(1)
    assert live.tolist() == out["n"].tolist()
    stopped = out["steps"] < cfg["max_steps"]
    assert ((out["loss"][stopped] < cfg["threshold"] / 10)
            | (out["grad_norm"][stopped] < 1e-10)).all()
