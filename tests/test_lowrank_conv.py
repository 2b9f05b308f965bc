"""The convnet arm's grouped, batched SGD against one nn.Module + torch.optim.SGD per
configuration (PyTorch's weight_decay = 2 lambda), in float64."""
import torch

from fixtures.lowrank_conv import (
    forward,
    init_convnet,
    kernel_singular_values,
    sgd_step,
)

LENGTH, CLASSES, CHANNELS, KERNEL, N_CONV = 12, 3, 4, 3, 2


def _module(params, c):
    """The same network as nn.Modules, loaded with configuration c's weights."""
    layers = []
    for i in range(N_CONV):
        conv = torch.nn.Conv1d(1 if i == 0 else CHANNELS, CHANNELS, KERNEL, padding=KERNEL // 2,
                               dtype=torch.float64)
        conv.weight.data.copy_(params[2 * i][c])
        conv.bias.data.copy_(params[2 * i + 1][c])
        layers += [conv, torch.nn.ReLU()]
    linear = torch.nn.Linear(CHANNELS * LENGTH, CLASSES, dtype=torch.float64)
    linear.weight.data.copy_(params[-2][c])
    linear.bias.data.copy_(params[-1][c])
    return torch.nn.Sequential(*layers, torch.nn.Flatten(), linear)


def test_grouped_batched_sgd_equals_one_module_per_configuration():
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    seed_index = torch.tensor([0, 1, 1])  # configurations 1 and 2 share an init
    params = init_convnet(gens, seed_index, CHANNELS, KERNEL, N_CONV, LENGTH, CLASSES)
    lam = torch.tensor([0.0, 1e-2, 5e-2], dtype=torch.float64)
    mu = torch.tensor([0.1, 0.1, 0.05], dtype=torch.float64)
    data = torch.Generator().manual_seed(3)
    xs = torch.randn(5, 3, 8, LENGTH, generator=data, dtype=torch.float64)  # steps, C, B, L
    ys = torch.randint(0, CLASSES, (5, 3, 8), generator=data)
    modules = [_module(params, c) for c in range(3)]
    optims = [torch.optim.SGD(m.parameters(), lr=float(mu[c]), weight_decay=2 * float(lam[c]))
              for c, m in enumerate(modules)]
    for step in range(5):
        sgd_step(params, xs[step], ys[step], mu, 1 - 2 * mu * lam)
        for c, (m, opt) in enumerate(zip(modules, optims)):
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(m(xs[step, c].unsqueeze(1)), ys[step, c])
            loss.backward()
            opt.step()
    for c, m in enumerate(modules):
        reference = [p.detach() for p in m.parameters()]
        for batched, ref in zip(params, reference):
            torch.testing.assert_close(batched[c], ref, rtol=1e-10, atol=1e-12)
    with torch.no_grad():
        out = forward(params, xs[0])
        torch.testing.assert_close(out[2], modules[2](xs[0, 2].unsqueeze(1)))


def test_kernels_are_ranked_as_out_by_in_times_k():
    gens = [torch.Generator().manual_seed(0)]
    params = init_convnet(gens, torch.tensor([0, 0]), CHANNELS, KERNEL, N_CONV, LENGTH, CLASSES)
    sv = kernel_singular_values(params)
    assert [s.shape for s in sv] == [(2, 1 * KERNEL), (2, CHANNELS)]
    torch.testing.assert_close(sv[1][0], torch.linalg.svdvals(params[2][0].reshape(CHANNELS, -1)))


def test_conv_sweep_runs_every_configuration_as_one_batch():
    from fixtures.lowrank_conv import run_conv_sweep
    from harness.seeds import Seeds

    cfg = {"channels": 4, "kernel": 5, "n_conv": 2, "lambdas": [0.0, 0.05], "mu": 0.1,
           "batch_size": 200, "epochs": 1, "n_seeds": 2}
    res = run_conv_sweep(cfg, Seeds(1, "conv-test"), "cpu")
    assert res["lam"].tolist() == [0.0, 0.0, 0.05, 0.05] and res["seed"].tolist() == [0, 1, 0, 1]
    assert not res["diverged"].any() and res["train_acc"].shape == (4,)
    # paired runs: the same seed starts from the same kernels whatever its lambda
    torch.testing.assert_close(res["sv_init"][1][0], res["sv_init"][1][2])
    assert not torch.equal(res["sv"][1][0], res["sv"][1][2])  # and decay changed them
