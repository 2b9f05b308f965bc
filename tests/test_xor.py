"""The XOR estimators (fixtures.xor) against dense float64 references on tiny models."""
import pytest
import torch
from torch.autograd.functional import hessian as dense_hessian
from torch.autograd.functional import jacobian as dense_jacobian

from fixtures.xor import (
    LEARNING_RATES,
    analytic_jacobian,
    eig_rank,
    forward,
    gauss_newton_polish,
    gd_train,
    hessians,
    init_params,
    jacobians,
    kink_ranks,
    loss_grad,
    mse,
    null_projector,
    svd_rank,
    train_module_sgd,
    xor_data,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture
def xor():
    return xor_data()


@pytest.mark.parametrize("act", ["relu", "tanh"])
@pytest.mark.parametrize("h", [2, 5])
def test_jacobian_and_hessian_match_dense_autograd(xor, act, h):
    x, y = xor
    theta = init_params(3, h, _gen(h))
    jac = jacobians(theta, x, h, act)
    hess = hessians(theta, x, y, h, act)
    _, jac_fast = analytic_jacobian(theta, x, h, act)
    for i in range(3):
        ref_j = dense_jacobian(lambda t: forward(t, x, h, act), theta[i])
        ref_h = dense_hessian(lambda t: mse(t, x, y, h, act), theta[i])
        torch.testing.assert_close(jac[i], ref_j, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(jac_fast[i], ref_j, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(hess[i], ref_h, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("act", ["relu", "tanh"])
def test_hand_written_gradient_matches_autograd(xor, act):
    x, y = xor
    theta = init_params(4, 3, _gen(1)).requires_grad_(True)
    loss, grad = loss_grad(theta.detach(), x, y, 3, act)
    ref = torch.autograd.grad(mse(theta, x, y, 3, act).sum(), theta)[0]
    torch.testing.assert_close(grad, ref, rtol=1e-12, atol=1e-14)
    torch.testing.assert_close(loss, mse(theta.detach(), x, y, 3, act))


def test_masked_points_are_ignored(xor):
    """A per-net data set padded with masked points trains like the unpadded one."""
    x, y = xor
    theta = init_params(2, 3, _gen(2))
    pad_x = torch.cat([x, torch.randn(2, 2, generator=_gen(3), dtype=x.dtype)])
    pad_y = torch.cat([y, torch.tensor([5.0, -5.0], dtype=y.dtype)])
    mask = torch.tensor([1.0] * 4 + [0.0] * 2, dtype=x.dtype).expand(2, 6)
    plain, _, _ = gd_train(theta, x, y, 3, "tanh", 0.1, 300, settle_ratio=1.0)
    padded, _, _ = gd_train(theta, pad_x.expand(2, 6, 2), pad_y.expand(2, 6), 3, "tanh", 0.1,
                            300, mask=mask, settle_ratio=1.0)
    torch.testing.assert_close(plain, padded, rtol=1e-12, atol=1e-12)


def test_batched_trainer_equals_module_sgd_for_one_seed(xor):
    x, y = xor
    theta = init_params(5, 3, _gen(4))
    batched, _, _ = gd_train(theta, x, y, 3, "relu", LEARNING_RATES["relu"], 400,
                             settle_ratio=1.0)
    single = train_module_sgd(theta[2], x, y, 3, "relu", LEARNING_RATES["relu"], 400)
    torch.testing.assert_close(batched[2], single, rtol=1e-10, atol=1e-12)


def test_gauss_newton_polish_reaches_exact_zero_and_projectors_agree(xor):
    x, y = xor
    h = 4
    theta, _, _ = gd_train(init_params(8, h, _gen(5)), x, y, h, "tanh", 0.1, 3000)
    assert bool((mse(theta, x, y, h, "tanh") < 1e-3).all())
    polished = gauss_newton_polish(theta, x, y, h, "tanh", 10)
    loss = mse(polished, x, y, h, "tanh")
    assert float(loss.max()) < 1e-25
    assert float((polished - theta).norm(dim=-1).max()) < 0.1  # a polish, not a new minimum
    jac = jacobians(polished, x, h, "tanh")
    hess = hessians(polished, x, y, h, "tanh")
    rank_j, _ = svd_rank(jac)
    rank_h, _ = eig_rank(hess)
    assert torch.equal(rank_j, rank_h)
    evals, evecs = torch.linalg.eigh(hess)
    for i in range(len(polished)):
        null = evecs[i][:, evals[i].abs() < 1e-10 * evals[i].abs().max()]
        torch.testing.assert_close(null_projector(jac)[i], null @ null.T, rtol=0, atol=1e-9)


def test_kink_free_radius_bounds_every_preactivation_change(xor):
    """No displacement shorter than the kink-free radius moves a pre-activation through 0."""
    from fixtures.xor import kink_free_radius, min_abs_preactivation, preactivations
    x, _ = xor
    h = 3
    theta = init_params(50, h, _gen(6))
    radius = kink_free_radius(min_abs_preactivation(theta, x, h), x)
    d = torch.randn(50, 200, theta.shape[-1], generator=_gen(7), dtype=theta.dtype)
    d = d / d.norm(dim=-1, keepdim=True) * (0.999 * radius)[:, None, None]
    z0 = preactivations(theta, x, h).sign()
    z1 = preactivations(theta[:, None] + d, x, h).sign()
    assert bool((z0[:, None] == z1).all())


def test_population_entry_alone_equals_the_full_population():
    """One activation-width entry computed alone is the one in the full population."""
    from fixtures.xor_population import run_entry, run_population
    from harness.seeds import Seeds
    cfg = {"widths": [2, 3], "activations": ["relu"], "n_inits": 20, "steps": 300,
           "early_step": 50, "polish_iters": 2}
    seeds = Seeds(1, "xor-population")
    full = run_population(cfg, seeds)
    alone = run_entry(cfg, "relu-3", seeds)
    torch.testing.assert_close(full["relu-3"]["theta"], alone["theta"], rtol=0, atol=0)
    assert torch.equal(full["relu-3"]["rank_j"], alone["rank_j"])


def test_points_at_levels_are_first_reads_below_each_level():
    """B4's loss-level points: every saved run's loss is below its level, the lower levels are
    reached later (never with a larger loss), and runs that never get there stay NaN."""
    from fixtures.xor_loss_levels import points_at_levels

    x, y = xor_data()
    saved = points_at_levels(40, 3, "tanh", 3000, torch.Generator().manual_seed(0))
    losses = {level: mse(theta, x, y, 3, "tanh") for level, theta in saved.items()}
    for level, loss in losses.items():
        reached = ~torch.isnan(saved[level][:, 0])
        assert reached.any()
        assert bool((loss[reached] < level).all())
        assert bool(torch.isnan(loss[~reached]).all())
    high, low = losses[1e-4], losses[1e-6]
    both = ~torch.isnan(low)
    assert bool((low[both] <= high[both]).all())


def test_kink_ranks_agree_off_kinks_and_part_on_one():
    h = 1  # theta = [w1 (1 x 2), b1, w2, b2]: one unit
    theta = torch.tensor([[1.0, 1.0, 0.0, 1.0, 0.0]], dtype=torch.float64)
    off = torch.tensor([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0]], dtype=torch.float64)  # z > 0
    lo, hi = kink_ranks(theta, off, h, "relu")
    assert lo == hi == svd_rank(analytic_jacobian(theta, off, h, "relu")[1])[0]
    # (0, 0) sits on the kink (z = 0), the others are inactive: only b2 reaches them, and the
    # kink point adds b1's direction only when relu'(0) is read as 1
    on = torch.tensor([[0.0, 0.0], [-1.0, 0.0], [0.0, -1.0]], dtype=torch.float64)
    lo, hi = kink_ranks(theta, on, h, "relu")
    assert int(lo) == 1 and int(hi) == 2
