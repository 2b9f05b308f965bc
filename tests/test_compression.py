"""fixtures.compression: parameter counting, ranks, pruning masks (G9, G11)."""
import numpy as np
import torch

from fixtures.compression import (
    factored_cost,
    magnitude_masks,
    parameter_saving,
    random_masks,
    ranks_for_saving,
    budget_ranks,
    lossless_index,
    tau_ranks,
)


def test_factored_cost_is_never_above_dense():
    # the 64 x 40 layer at rank 40: 40 * 104 = 4160 factored, 2560 dense -> 2560
    assert factored_cost(40, 64, 40) == 2560
    assert factored_cost(10, 64, 40) == 1040
    assert np.array_equal(factored_cost(np.array([1, 40]), 64, 40), [104, 2560])


def test_parameter_saving_per_matrix():
    shapes = [(256, 40), (256, 256), (256, 256)]
    full = 256 * 40 + 2 * 256 * 256
    # first matrix at full rank stays dense, the square ones at rank 32 cost 32 * 512 each
    assert np.isclose(parameter_saving([[40], [32], [32]], shapes)[0],
                      full / (256 * 40 + 2 * 32 * 512))
    assert np.isclose(parameter_saving([[40], [256], [256]], shapes)[0], 1.0)


def test_ranks_for_saving_reaches_the_saving():
    shapes = [(256, 40), (256, 256), (256, 256)]
    ranks = ranks_for_saving(shapes, 2.5)
    assert parameter_saving([[r] for r in ranks], shapes)[0] >= 2.5
    assert parameter_saving([[r + 2] for r in ranks], shapes)[0] < 2.5 + 0.5


def test_tau_ranks_of_a_planted_low_rank_matrix():
    gen = torch.Generator().manual_seed(0)
    u, v = torch.randn(3, 30, 5, generator=gen), torch.randn(3, 5, 20, generator=gen)
    spectra = torch.linalg.svdvals((u @ v).double()).numpy()
    assert tau_ranks(spectra, 1e-3).tolist() == [5, 5, 5]
    assert tau_ranks(np.zeros((2, 4)), 1e-3).tolist() == [0, 0]


def test_budget_ranks_keep_the_largest_normalized_directions_that_fit():
    """Two 10 x 10 matrices (dense 200; a direction costs 20): a budget of 200 / 4 = 50
    keeps two directions, the two largest of sigma / ||W||_F across both matrices."""
    shapes = [(10, 10), (10, 10)]
    first = np.array([[3.0, 2.0, 1.0] + [0.0] * 7])      # normalized: 0.80, 0.53, 0.27
    second = np.array([[1.0, 1.0, 1.0, 1.0] + [0.0] * 6])  # normalized: 0.5 each
    ranks = budget_ranks([first, second], shapes, [1.0, 4.0, 10.0, 1000.0])
    assert ranks[:, :, 0].tolist() == [[10, 10], [2, 0], [1, 0], [0, 0]]
    assert parameter_saving([[2], [0]], shapes)[0] >= 4.0


def test_lossless_index_is_the_last_budget_before_the_first_lossy_one():
    # budgets: uncut, 2x, 4x, 8x; accuracy per model (columns)
    curve = np.array([[1.0, 1.0, 0.9],
                      [1.0, 0.995, 0.9],
                      [0.98, 1.0, 0.5],
                      [0.5, 0.9, 0.5]])
    # model 0 loses 2 points at 4x; model 1 stays within a point up to 4x; model 2 loses 40
    assert lossless_index(curve).tolist() == [1, 2, 1]
    assert lossless_index(np.ones((3, 2))).tolist() == [2, 2]


def test_pruning_masks_remove_half():
    gen = torch.Generator().manual_seed(1)
    layers = [(torch.randn(4, 10, 8, generator=gen), torch.zeros(4, 10))]
    mag = magnitude_masks(layers)[0]
    assert torch.all(mag.flatten(1).sum(1) == 40)
    kept_min = (layers[0][0].abs() * mag + (1 - mag) * 1e9).flatten(1).min(1).values
    dropped_max = (layers[0][0].abs() * (1 - mag)).flatten(1).max(1).values
    assert torch.all(kept_min > dropped_max)
    rnd = random_masks(layers, torch.Generator().manual_seed(2))[0]
    assert torch.all(rnd.flatten(1).sum(1) == 40)


def test_seed_blocks_join_the_run_at_the_arms_lambdas_with_new_seed_numbers():
    """A block of G11's seeds-until-decided joins the run as more seeds of the same lambdas:
    the run's 1.6e-2 models are left out, seeds are renumbered past the run's, and every
    per-model field (the pruning's zero shares per matrix too) keeps its model aligned."""
    from fixtures.compression import COMPRESSION_SETTINGS, regime, run_compression
    from fixtures.compression_blocks import BLOCK_LAMBDAS, looks, with_blocks
    from harness.seeds import Seeds

    cfg = {**COMPRESSION_SETTINGS["smoke"], "steps": 20, "eval_every": 10, "n_seeds": 2}
    main = run_compression(cfg, Seeds(1, "run"), "cpu")
    block = run_compression({**cfg, "lambdas": list(BLOCK_LAMBDAS)},
                            Seeds(1, "block"), "cpu")
    both = with_blocks(main, [block])
    assert sorted(set(np.round(both["lam"], 6))) == sorted(BLOCK_LAMBDAS)
    assert len(both["lam"]) == 2 * 2 * len(BLOCK_LAMBDAS)
    assert list(both["seed"][both["lam"] == 8e-3]) == [0, 1, 2, 3]
    at = np.flatnonzero(np.isclose(main["lam"], 8e-3))
    assert np.array_equal(both["train_acc"][np.isclose(both["lam"], 8e-3)][:2],
                          main["train_acc"][at])
    assert both["pruning"]["zero_share"].shape[1] == len(both["lam"])
    assert np.array_equal(both["pruning"]["zero_share"][:, :len(at)],
                          main["pruning"]["zero_share"][:, :len(at)])
    assert regime(both, 8e-3)["models"] == 4
    assert looks({"n_seeds": 18, "block": 9, "cap": 36}).units == (18, 27, 36)
    assert looks({"n_seeds": 3, "block": 3, "cap": 3}).units == (3,)
