"""The stacked-MLP trainer (fixtures.batched_mlp) and IMP pruning (fixtures.lottery): stacked
models must behave like separately trained ones, pruning must remove exactly its share, and
accuracy in chunks of inputs must equal one pass."""
import numpy as np
import pytest
import torch

from fixtures.batched_mlp import EVAL_ROWS, accuracy, forward, init_mlp, train
from fixtures.lottery import prune


def test_stacked_training_equals_separate_training():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(3, 40, 5, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (3, 40), generator=gen)
    params = [p.double() for p in init_mlp([5, 16, 3], 3, gen)]
    orders = torch.stack([torch.rand(3, 40, generator=gen).argsort(-1) for _ in range(2)])
    together = train(params, x, y, epochs=2, batch_size=10, lr=1e-2, gen=gen, orders=orders)
    for m in range(3):
        alone = train([p[m:m + 1] for p in params], x[m:m + 1], y[m:m + 1], epochs=2,
                      batch_size=10, lr=1e-2, gen=gen, orders=orders[:, m:m + 1])
        for a, b in zip(alone, together):
            assert torch.allclose(a[0], b[m], atol=1e-10)


def test_forward_with_shared_and_per_model_inputs():
    gen = torch.Generator().manual_seed(1)
    params = init_mlp([4, 8, 2], 2, gen)
    x = torch.randn(6, 4, generator=gen)
    assert torch.allclose(forward(params, x), forward(params, x.expand(2, 6, 4)), atol=1e-6)


def test_prune_removes_its_share_of_the_remaining_weights_only():
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(2, 10, 10, generator=gen)
    mask = torch.ones_like(w)
    for _ in range(3):
        new = prune(w, mask, 0.2)
        assert (new <= mask).all()  # nothing revived
        assert torch.equal(new.flatten(1).sum(1), torch.round(0.8 * mask.flatten(1).sum(1)))
        mask = new
    for m in range(2):
        live = w[m].abs()[mask[m] > 0]
        assert live.min() >= w[m].abs()[mask[m] == 0].max()


def test_imp_prunes_the_output_layer_at_half_rate():
    """Frankle & Carbin's schedule: hidden layers lose 20% of their remaining weights per
    round, the output layer 10%; the reinit arm shares the ticket's mask."""
    from fixtures.lottery import run_imp

    gen = torch.Generator().manual_seed(0)
    x = torch.randn(40, 6, generator=gen)
    y = torch.randint(0, 3, (40,), generator=gen)
    cfg = {"sizes": [6, 20, 10, 3], "seeds": 2, "rounds": 2, "prune_rate": 0.2, "epochs": 1,
           "max_epochs": 2, "fit": 1.0, "batch_size": 20, "lr": 1e-3}
    res = run_imp(cfg, (x, y, x, y), gen, "cpu")
    sizes = [6 * 20, 20 * 10, 10 * 3]
    kept = [s for s in sizes]
    expected = []
    for _ in range(cfg["rounds"] + 1):
        expected.append(sum(kept) / sum(sizes))
        kept = [k - round(r * k) for k, r in zip(kept, (0.2, 0.2, 0.1))]
    assert res["left"] == pytest.approx(expected)
    assert res["test"].shape == (3, 4, 2)
    trained = ~np.isnan(res["test"][..., 0])  # (round, arm): dense round ticket and fresh
    assert trained.tolist() == [[True, True, False, False], [True, False, False, False],
                                [True, True, True, True]]


def test_rescaled_reinit_has_the_tickets_masked_norm():
    """The init-scale control: per model, the fresh init's masked norm becomes the original
    init's; unmasked entries keep their ratio to each other."""
    from fixtures.lottery import rescaled

    gen = torch.Generator().manual_seed(1)
    init, fresh = torch.randn(3, 5, 4, generator=gen), torch.randn(3, 5, 4, generator=gen)
    mask = (torch.rand(3, 5, 4, generator=gen) > 0.5).double()
    out = rescaled(fresh, init, mask)
    norm = lambda w: (w * mask).flatten(1).norm(dim=1)
    torch.testing.assert_close(norm(out), norm(init))
    torch.testing.assert_close(out / fresh, (out / fresh)[:, :1, :1].expand_as(out))


def test_accuracy_in_chunks_equals_one_pass():
    gen = torch.Generator().manual_seed(3)
    params = init_mlp([5, 7, 3], 4, gen)
    rows = 2 * EVAL_ROWS + 17  # a last, partial chunk
    shared = (torch.randn(rows, 5, generator=gen), torch.randint(0, 3, (rows,), generator=gen))
    per_model = (torch.randn(4, rows, 5, generator=gen),
                 torch.randint(0, 3, (4, rows), generator=gen))
    for x, y in (shared, per_model):
        one_pass = (forward(params, x).argmax(-1) == y).double().mean(-1)
        assert torch.equal(accuracy(params, x, y), one_pass)
