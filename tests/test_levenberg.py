"""Levenberg-Marquardt (fixtures.levenberg) on tiny tasks with known answers: exact zero loss,
rank(J) = n at full row rank, a loss that never rises, and planted ReLU teachers that are exact
minima with rank(J) within the ReLU cap P - h."""
import torch

from fixtures.levenberg import fit_lm, levenberg_marquardt, planted_fits
from fixtures.xor import CONVERGED_LOSS, init_params, mse, n_params
from fixtures.xor_tasks import random_tasks


def _task(n, seed=0):
    x, y, mask, _ = random_tasks([n], 1, torch.Generator().manual_seed(seed))
    return x[0], y[0], mask[0]


def test_tanh_nets_reach_zero_loss_with_full_row_rank_jacobians():
    x, y, mask = _task(6)  # h = 4: P = 17 > n = 6
    fits = fit_lm(x, y, mask, 4, 4, "tanh", torch.Generator().manual_seed(1), 500)
    assert fits["P"] == 17 and bool(fits["converged"].all())
    assert (fits["loss"] < CONVERGED_LOSS).all() and (fits["rank_j"] == 6).all()


def test_the_loss_never_rises_and_the_step_cap_is_respected():
    x, y, mask = _task(12, seed=3)
    xs, ys, ms = (v.expand(3, *v.shape) for v in (x, y, mask))
    theta = init_params(3, 3, torch.Generator().manual_seed(2), d=2)  # P = 13 ~ n: hard
    start = mse(theta, xs, ys, 3, "tanh", ms)
    losses = [levenberg_marquardt(theta, xs, ys, ms, 3, "tanh", k)[1] for k in (0, 5, 50)]
    assert torch.equal(losses[0], start)
    assert (losses[1] <= losses[0]).all() and (losses[2] <= losses[1]).all()


def test_an_unfittable_task_is_reported_not_converged():
    x, y, mask = _task(40, seed=4)  # h = 2: P = 9 < n = 40, no exact fit exists
    fits = fit_lm(x, y, mask, 3, 2, "tanh", torch.Generator().manual_seed(5), 200)
    assert not fits["converged"].any() and (fits["loss"] > 1e-6).all()


def test_planted_teachers_bound_the_relu_rank_and_wide_fits_reach_rank_n():
    # width-3 teachers (P = 13) on 10 points: the ReLU cap is P - h = 10
    fits = planted_fits(4, 10, 3, (3, 40), "relu", torch.Generator().manual_seed(6), 300)
    teacher = fits["teacher"]
    assert teacher["P"] == n_params(3) and not teacher["rank_ambiguous"].any()
    assert (teacher["rank_j"] <= n_params(3) - 3).all() and (teacher["min_abs_z"] > 0).all()
    wide = fits[40]
    assert wide["converged"].all()  # 161 parameters on 10 points: Levenberg-Marquardt fits
    assert (wide["rank_j"][wide["converged"]] == 10).all()
    assert (wide["loss"][wide["converged"]] < CONVERGED_LOSS).all()
