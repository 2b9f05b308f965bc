"""Rank measures against matrices whose answer is known by construction."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from fixtures.measures import eps_rank, normalized_rank, stable_rank


def _with_spectrum(sv, seed=0):
    """A random matrix U diag(sv) V^T with the given singular values."""
    gen = torch.Generator().manual_seed(seed)
    n = len(sv)
    u, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    v, _ = torch.linalg.qr(torch.randn(n, n, generator=gen, dtype=torch.float64))
    return u @ torch.diag(torch.tensor(sv, dtype=torch.float64)) @ v.T


def test_normalized_rank_counts_singular_values_above_tau_after_frobenius_scaling():
    w = _with_spectrum([10.0, 5.0, 1e-3, 1e-6])  # ||W||_F ~ 11.18: 1e-3/11.18 < 1e-3
    assert normalized_rank(w, tau=1e-3).item() == 2
    assert normalized_rank(w * 1e6, tau=1e-3).item() == 2  # scale-free
    assert normalized_rank(w, tau=1e-5).item() == 3


def test_collapsed_matrix_has_rank_zero_not_nan():
    zero = torch.zeros(3, 4, 4)
    assert normalized_rank(zero).tolist() == [0, 0, 0]
    assert stable_rank(zero).tolist() == [0.0, 0.0, 0.0]


def test_stable_rank_of_known_spectra():
    assert stable_rank(_with_spectrum([2.0, 0.0, 0.0])).item() == pytest.approx(1.0)
    assert stable_rank(torch.eye(5, dtype=torch.float64)).item() == pytest.approx(5.0)
    assert stable_rank(_with_spectrum([2.0, 1.0])).item() == pytest.approx(1.25)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.lists(st.floats(1e-4, 1e2), min_size=2, max_size=8), st.floats(1e-3, 0.9))
def test_eps_rank_is_the_smallest_rank_within_eps(spectrum, eps):
    sv = np.sort(np.asarray(spectrum))[::-1]
    w = _with_spectrum(sv.tolist())
    k = eps_rank(w, eps).item()
    normalized = sv / np.linalg.norm(sv)
    errors = [np.sqrt((normalized[j:] ** 2).sum()) for j in range(len(sv) + 1)]  # Eckart-Young
    assert errors[k] <= eps + 1e-9 and (k == 0 or errors[k - 1] > eps - 1e-9)


def test_measures_batch_over_leading_dimensions():
    batch = torch.stack([_with_spectrum([1.0, 1.0, 0.0]), _with_spectrum([1.0, 0.0, 0.0])])
    assert normalized_rank(batch).tolist() == [2, 1]
