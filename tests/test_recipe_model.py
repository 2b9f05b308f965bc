"""C2's declared model on synthetic minima with a known within-recipe slope: the within fit
(recipe intercepts, jackknifed over recipes) recovers it whatever the recipes do to their
means, and the between fit sees the recipe-level relation instead."""
import importlib.util
from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def c2():
    path = Path(__file__).resolve().parents[1] / "claims" / "test_c2_flatness_compression.py"
    spec = importlib.util.spec_from_file_location("c2_claim_module", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _minima(within=0.5, between=2.0, recipes=30, per=8, seed=0):
    rng = np.random.default_rng(seed)
    cells = np.repeat(np.arange(recipes), per)
    centre = rng.normal(0, 1, recipes)  # a recipe moves the flatness of all its minima
    x = centre[cells] + rng.normal(0, 0.3, cells.size)
    rng_term = rng.normal(0, 1, cells.size)
    loss = rng.normal(0.05, 0.002, cells.size)
    bits = (between * centre[cells] + within * (x - centre[cells]) + 0.3 * rng_term
            - 2.0 * loss + rng.normal(0, 0.05, cells.size))
    return bits, x, [rng_term, loss], cells


def test_within_fit_recovers_the_within_slope_not_the_recipe_relation(c2):
    bits, x, covariates, cells = _minima()
    pseudo, beta = c2.within_pseudo_values(bits, x, covariates, cells)
    assert pseudo.shape == (30,)
    assert beta == pytest.approx(0.5, abs=0.05)
    assert pseudo.mean() == pytest.approx(beta, abs=0.05)  # jackknife of a near-linear fit
    between_pseudo, between = c2.between_pseudo_values(bits, x, covariates, cells)
    assert between == pytest.approx(2.0, abs=0.2)
    assert between_pseudo.shape == (30,)


def test_recipe_betas_fit_each_recipe_alone_and_skip_small_ones(c2):
    bits, x, covariates, cells = _minima(within=1.0, between=1.0)
    keep = ~((cells == 0) & (np.arange(cells.size) % 8 >= 4))  # recipe 0 keeps 4 minima
    betas = c2.recipe_betas(bits[keep], x[keep], [v[keep] for v in covariates], cells[keep])
    assert betas.shape == (29,)
    assert np.median(betas) == pytest.approx(1.0, abs=0.15)


def test_within_repeatability_is_one_for_identical_halves_and_zero_for_noise(c2):
    rng = np.random.default_rng(1)
    cells = np.repeat(np.arange(20), 10)
    signal = rng.normal(0, 1, cells.size)
    r, reliability = c2.within_repeatability(np.stack([signal, signal], -1), cells)
    assert r == pytest.approx(1.0) and reliability == pytest.approx(1.0)
    r, _ = c2.within_repeatability(rng.normal(0, 1, (cells.size, 2)), cells)
    assert abs(r) < 0.2
