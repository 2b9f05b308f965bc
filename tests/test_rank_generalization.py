"""G10's seed blocks pooled: the first k runs of each batch size, in block order, labelled
by batch size; and one block's runs at the smoke budget are independent of the others."""
import numpy as np

from fixtures.rank_generalization import GENERALIZATION_SETTINGS, pooled, train_block
from harness.seeds import Seeds


def _block(start, sizes=(16, 32), runs=3):
    return {bs: {"rank": np.arange(start, start + runs, dtype=float) + bs,
                 "usable": np.ones(runs, bool)} for bs in sizes}


def test_pooled_takes_the_first_runs_of_every_batch_size_in_block_order():
    out = pooled([_block(0), _block(3)], 4)
    assert out["batch_size"].tolist() == [16] * 4 + [32] * 4
    assert out["rank"].tolist() == [16, 17, 18, 19, 32, 33, 34, 35]
    assert out["usable"].all() and out["usable"].size == 8


def test_a_block_is_the_same_whatever_ran_before_it():
    cfg = {**GENERALIZATION_SETTINGS["smoke"], "steps": 20, "block": 2}
    first = train_block(cfg, Seeds(7, "block-1"), "cpu")
    train_block(cfg, Seeds(7, "block-0"), "cpu")
    again = train_block(cfg, Seeds(7, "block-1"), "cpu")
    for bs in cfg["batch_sizes"]:
        for key in ("rank", "train_acc", "test_acc"):
            np.testing.assert_array_equal(first[bs][key], again[bs][key])
    assert set(first[16]) >= {"rank", "rank tau = 1e-2", "stable rank", "train_acc",
                              "test_acc", "usable"}
