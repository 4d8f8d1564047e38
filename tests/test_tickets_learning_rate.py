"""rglt.applications.learning_rate: gradient descent on a masked quadratic against its eigenvalues, and the
sweep on a network against hand-checked outcomes."""
import numpy as np
import pytest
import torch

from rglt.applications.learning_rate import largest_stable_lr, lr_sweep, masked_lambda_max, masked_quadratic


def _spd(n=12, seed=0):
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return q @ np.diag(np.geomspace(0.1, 10.0, n)) @ q.T, rng


def test_descent_converges_exactly_below_two_over_the_masked_top_eigenvalue():
    a, rng = _spd()
    keep = rng.random(len(a)) < 0.5
    w0 = rng.standard_normal(len(a))
    lam = np.linalg.eigvalsh(a[np.ix_(keep, keep)])[-1]       # the oracle: numpy's eigenvalues
    assert masked_lambda_max(a, keep) == pytest.approx(lam)
    below = masked_quadratic(a, keep, 0.98 * 2 / lam, w0, 2000)
    above = masked_quadratic(a, keep, 1.02 * 2 / lam, w0, 2000)
    assert below[-1] < 1e-6 * below[0] and above[-1] > 1e3 * above[0]


def test_a_ticket_takes_a_step_that_makes_the_dense_quadratic_diverge():
    a, rng = _spd(seed=1)
    keep = np.zeros(len(a), dtype=bool)
    keep[:4] = True
    dense, ticket = np.linalg.eigvalsh(a)[-1], masked_lambda_max(a, keep)
    assert ticket <= dense + 1e-12                             # Cauchy interlacing
    lr = 2 / np.sqrt(dense * ticket)                           # between the two critical rates
    w0 = rng.standard_normal(len(a))
    assert masked_quadratic(a, np.ones(len(a), bool), lr, w0, 3000)[-1] > 1e3
    assert masked_quadratic(a, keep, lr, w0, 3000)[-1] < 1e-6


def test_pruned_coordinates_stay_zero_and_bad_input_is_named():
    a, _ = _spd(4)
    with pytest.raises(ValueError, match="symmetric"):
        masked_quadratic(a + np.triu(np.ones((4, 4)), 1), np.ones(4, bool), 0.1, np.ones(4), 3)
    with pytest.raises(ValueError, match="keep and w0"):
        masked_quadratic(a, np.ones(3, bool), 0.1, np.ones(4), 3)
    with pytest.raises(ValueError, match="at least one"):
        masked_lambda_max(a, np.zeros(4, bool))


def _linear_task():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 8, generator=g)
    y = (x[:, 0] > 0).long()
    return (x, y), (x[:128], y[:128])


def test_the_sweep_flags_divergence_and_keeps_the_mask():
    train_data, test_data = _linear_task()
    torch.manual_seed(0)
    start = torch.nn.Linear(8, 2).state_dict()
    mask = {"weight": torch.zeros(2, 8, dtype=torch.bool)}
    mask["weight"][:, :2] = True

    seen = []

    def make():
        model = torch.nn.Linear(8, 2)
        model.load_state_dict(start)
        seen.append(model)
        return model

    sweep = lr_sweep(make, mask, train_data, test_data, [0.1, 1.0, 3e38], epochs=3, batch_size=32)
    assert list(sweep["diverged"]) == [False, False, True]
    assert np.isinf(sweep["train_loss"][2]) and np.isnan(sweep["test_accuracy"][2])
    assert sweep["test_accuracy"][1] > 0.9                    # the label is the sign of x0, a kept input
    assert all(float(m.weight.detach()[:, 2:].abs().max()) == 0 for m in seen[:2])
    with pytest.raises(ValueError, match="lrs must be"):
        lr_sweep(make, None, train_data, test_data, [0.1, -1.0], epochs=1, batch_size=32)


def test_the_largest_stable_rate_is_the_last_one_before_the_first_failure():
    sweep = dict(lr=np.array([0.01, 0.1, 1.0, 10.0]), train_loss=np.array([2.0, 0.5, 3.0, 0.1]))
    assert largest_stable_lr(sweep, initial_loss=2.3) == 0.1  # 1.0 ends above the start: unstable
    assert np.isnan(largest_stable_lr(dict(lr=np.array([1.0]), train_loss=np.array([np.inf])), 2.3))
    assert largest_stable_lr(dict(lr=np.array([1.0, 2.0]), train_loss=np.array([1.0, 1.0])), 2.3) == 2.0
    with pytest.raises(ValueError, match="ascending"):
        largest_stable_lr(dict(lr=np.array([2.0, 1.0]), train_loss=np.array([1.0, 1.0])), 2.3)


def _masked_hessian_top(model, x, y, mask):
    """The oracle: the whole Hessian of the loss in the weight and bias, formed by autograd, restricted to
    the kept entries, and its largest eigenvalue by numpy."""
    import torch.nn.functional as F
    w, b = model.weight.detach().clone(), model.bias.detach().clone()

    def loss(flat):
        return F.cross_entropy(x @ flat[:w.numel()].reshape(w.shape).T + flat[w.numel():], y)
    h = torch.autograd.functional.hessian(loss, torch.cat([w.reshape(-1), b])).double().numpy()
    keep = np.concatenate([mask.reshape(-1).numpy(), np.ones(b.numel(), bool)])
    return np.linalg.eigvalsh(h[np.ix_(keep, keep)])[-1]


def test_the_lambda_path_is_the_masked_hessians_top_eigenvalue_at_the_start_and_the_end():
    from rglt.applications.learning_rate import lambda_path
    train_data, _ = _linear_task()
    torch.manual_seed(0)
    start = torch.nn.Linear(8, 2).state_dict()
    mask = torch.rand(2, 8) < 0.5
    seen = []

    def make():
        model = torch.nn.Linear(8, 2)
        model.load_state_dict(start)
        with torch.no_grad():
            model.weight.mul_(mask)
        seen.append(model)
        return model

    path = lambda_path(make, {"weight": mask}, train_data, 0.5, epochs=3, batch_size=32, at_epochs=(0, 0.5, 3),
                       hessian_examples=64)
    x, y = (t[:64] for t in train_data)
    trained = seen[0]
    assert path["epochs"][0] == 0 and path["epochs"][-1] == 3 and len(path["lambda_max"]) == 3
    assert path["lambda_max"][-1] == pytest.approx(_masked_hessian_top(trained, x, y, mask), rel=1e-3)
    assert path["lambda_max"][0] == pytest.approx(_masked_hessian_top(make(), x, y, mask), rel=1e-3)
    assert float(trained.weight.detach()[~mask].abs().max()) == 0          # trained under its mask
    with pytest.raises(ValueError, match="at_epochs"):
        lambda_path(make, None, train_data, 0.5, epochs=1, batch_size=32, at_epochs=(2,), hessian_examples=8)
    with pytest.raises(ValueError, match="lr must be"):
        lambda_path(make, None, train_data, -1.0, epochs=1, batch_size=32, at_epochs=(0,), hessian_examples=8)
