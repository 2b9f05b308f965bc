"""Min-norm least squares with an explicit cutoff and the ridge path of
fixtures.random_features, against pinv and closed forms on tiny known systems."""
import torch

from fixtures.random_features import condition_number, min_norm_solve, ridge_path


def test_min_norm_on_underdetermined_system():
    a = torch.tensor([[1.0, 1.0]], dtype=torch.float64)
    y = torch.tensor([[2.0]], dtype=torch.float64)
    coef = min_norm_solve(torch.linalg.svd(a, full_matrices=False), y)
    assert torch.allclose(coef, torch.tensor([[1.0], [1.0]], dtype=torch.float64))


def test_min_norm_matches_pinv_with_small_cutoff_and_drops_below_it():
    gen = torch.Generator().manual_seed(0)
    u, _ = torch.linalg.qr(torch.randn(6, 6, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(4, 4, generator=gen, dtype=torch.float64))
    s = torch.tensor([1.0, 1e-2, 1e-8, 0.0], dtype=torch.float64)
    a = u[:, :4] @ torch.diag(s) @ v.T
    y = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    svd = torch.linalg.svd(a, full_matrices=False)
    tight = min_norm_solve(svd, y, rcond=1e-12)
    assert torch.allclose(tight, torch.linalg.pinv(a, rtol=1e-12) @ y, rtol=1e-6)
    assert tight.norm() > 1e6  # the 1e-8 direction is inverted: the norm spike of O5
    loose = min_norm_solve(svd, y, rcond=1e-6)  # a hidden ridge: the 1e-8 direction dropped
    assert torch.allclose(loose, torch.linalg.pinv(a, rtol=1e-6) @ y, rtol=1e-9)
    assert loose.norm() < 1e3
    assert torch.allclose(condition_number(svd), torch.tensor(1e8, dtype=torch.float64))


def test_ridge_path_matches_normal_equations_batched():
    gen = torch.Generator().manual_seed(1)
    a = torch.randn(3, 5, 8, generator=gen, dtype=torch.float64)
    y = torch.randn(3, 5, 2, generator=gen, dtype=torch.float64)
    lambdas = torch.tensor([1e-3, 1.0, 10.0], dtype=torch.float64)
    path = ridge_path(torch.linalg.svd(a, full_matrices=False), y, lambdas)
    assert path.shape == (3, 3, 8, 2)
    for i, lam in enumerate(lambdas):
        at = a.transpose(1, 2)
        direct = torch.linalg.solve(at @ a + lam * torch.eye(8), at @ y)
        assert torch.allclose(path[i], direct, atol=1e-10)
