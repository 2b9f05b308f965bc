"""The PAC-Bayes arithmetic of fixtures/pac_bayes.py against closed forms and known values."""
import math

import numpy as np
import torch

from fixtures.pac_bayes import (
    complexity,
    final_bound,
    gaussian_kl,
    kl_bernoulli,
    kl_inverse,
    lambda_grid,
)


def test_kl_bernoulli_known_values():
    assert kl_bernoulli(0.5, 0.5) == 0.0
    assert math.isclose(kl_bernoulli(0.0, 0.5), math.log(2), rel_tol=1e-12)
    expected = 0.1 * math.log(0.1 / 0.3) + 0.9 * math.log(0.9 / 0.7)
    assert math.isclose(kl_bernoulli(0.1, 0.3), expected, rel_tol=1e-12)


def test_kl_inverse_closed_form_at_zero_error():
    """kl(0||p) = -log(1 - p), so kl^-1(0, c) = 1 - exp(-c)."""
    c = np.array([1e-4, 0.01, 0.3, 2.0])
    np.testing.assert_allclose(kl_inverse(np.zeros_like(c), c), 1 - np.exp(-c), rtol=1e-10)


def test_kl_inverse_is_the_inverse():
    q = np.array([0.01, 0.1, 0.3, 0.45])
    c = np.array([0.001, 0.05, 0.2, 0.02])
    p = kl_inverse(q, c)
    assert np.all(p >= q)
    np.testing.assert_allclose(kl_bernoulli(q, p), c, rtol=1e-8)
    assert np.all(kl_inverse(q, 0.0) - q < 1e-6)  # kl is quadratic near q
    assert kl_inverse(0.2, 50.0) > 1 - 1e-12  # a large right-hand side gives a vacuous 1


def test_gaussian_kl_matches_torch_distributions():
    gen = torch.Generator().manual_seed(0)
    mean = torch.randn(3, 7, generator=gen, dtype=torch.float64)
    prior_mean = torch.randn(3, 7, generator=gen, dtype=torch.float64)
    log_std = 0.3 * torch.randn(3, 7, generator=gen, dtype=torch.float64)
    lam = 0.7
    ours = gaussian_kl(mean, log_std, prior_mean, lam)
    q = torch.distributions.Normal(mean, log_std.exp())
    p = torch.distributions.Normal(prior_mean, torch.full_like(mean, math.sqrt(lam)))
    torch.testing.assert_close(ours, torch.distributions.kl_divergence(q, p).sum(-1))


def test_bound_arithmetic_known_values():
    """Hand-computed: KL = 100 nats, m = 1000, delta = 0.025, 100 grid points."""
    rhs = complexity(100.0, 1000, 0.025, 100)
    assert math.isclose(rhs, (100 + math.log(100) + math.log(1000 / 0.025)) / 999, rel_tol=1e-12)
    assert math.isclose(rhs, 0.1153171, rel_tol=1e-6)
    # zero MC error: the sample-convergence term alone gives 1 - (0.01 / 2)^(1/n)
    inner = kl_inverse(0.0, math.log(2 / 0.01) / 5000)
    assert math.isclose(inner, 1 - (0.01 / 2) ** (1 / 5000), rel_tol=1e-9)
    bound = final_bound(0.0, 5000, 100.0, 1000, 0.025, 0.01, 100)
    assert math.isclose(float(bound), float(kl_inverse(inner, rhs)), rel_tol=1e-12)
    assert 0.10 < bound < 0.13
    assert final_bound(0.05, 5000, 1e5, 1000, 0.025, 0.01, 100) > 1 - 1e-9


def test_lambda_grid():
    grid = lambda_grid(c=1.0, b=10.0, size=100)
    assert grid[0] == 1.0 and len(grid) == 100
    np.testing.assert_allclose(np.diff(np.log(grid)), -0.1)


def test_bound_optimisation_with_minibatches_is_finite_and_moves_off_the_init():
    from fixtures.pac_bayes import init_flat, optimize_bound

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 5, generator=gen)
    signs = torch.sign(x[:, :1].T.expand(2, -1)) + 0.0
    w0 = init_flat(2, 5, 4, gen)
    cfg = dict(init_std_ratio=0.3, init_lambda=1e-2, lr_bound=0.01, bound_steps=30,
               surrogate_samples=1, grid_size=100, delta=0.025, shape=(5, 4), bound_batch=8)
    mean, log_std, lam = optimize_bound(w0 + 0.1, w0, x, signs, cfg, gen)
    assert mean.shape == w0.shape and torch.isfinite(mean).all()
    assert torch.isfinite(log_std).all() and torch.all(lam > 0)
    assert not torch.equal(mean, w0 + 0.1)
