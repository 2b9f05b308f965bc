"""The conditional-Gaussian prior sampler of fixtures/boolean.py draws the same posterior as
plain rejection sampling of whole networks."""
import numpy as np
import torch
from scipy import stats

from fixtures.boolean import _conditional_weights, frequencies, make_task, prior_sample


def test_conditional_weights_reproduce_the_preactivations():
    gen = torch.Generator().manual_seed(0)
    design = torch.randn(5, 8, 41, generator=gen)
    z = torch.randn(5, 8, 40, generator=gen)
    weights = _conditional_weights(design, z, gen)
    torch.testing.assert_close(design @ weights, z, rtol=1e-4, atol=1e-4)


def test_conditional_sampler_matches_plain_rejection():
    task = make_task(3, 3, np.random.default_rng(0))
    conditional = prior_sample(task, 60_000, 20_000, torch.Generator().manual_seed(1))
    plain = prior_sample(task, 60_000, 20_000, torch.Generator().manual_seed(2), plain=True)
    # acceptance rates agree (two-proportion test)
    table = [[conditional["accepted"], conditional["drawn"] - conditional["accepted"]],
             [plain["accepted"], plain["drawn"] - plain["accepted"]]]
    assert stats.chi2_contingency(table).pvalue > 1e-3
    # the accepted functions on the held-out inputs have the same distribution
    fa, fb = frequencies(conditional["functions"]), frequencies(plain["functions"])
    keys = sorted(set(fa) | set(fb))
    counts = np.array([[fa.get(k, 0) for k in keys], [fb.get(k, 0) for k in keys]])
    counts = counts[:, counts.sum(0) >= 10]
    assert counts.shape[1] >= 5
    assert stats.chi2_contingency(counts).pvalue > 1e-3
