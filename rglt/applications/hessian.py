"""Curvature of the loss at a ticket: the top Hessian eigenvalue restricted to the surviving weights.

A ticket trains in the subspace its mask leaves, so its curvature is that of the Hessian's principal
submatrix on the survivors, M H M. On a quadratic loss, gradient descent converges for learning
rates below 2 / lambda_max: a different lambda_max predicts a different best learning rate.
``top_eigenvalue`` finds the largest algebraic eigenvalue of M H M with Lanczos (scipy's ``eigsh``)
on Hessian-vector products (double backward), never forming H.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch


def hessian_vector_product(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor],
                           vectors: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """H v for the Hessian of ``loss_fn()`` (a scalar) in ``params``, one tensor per parameter."""
    loss = loss_fn()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    dot = sum((g * v).sum() for g, v in zip(grads, vectors))
    return [h.detach() for h in torch.autograd.grad(dot, params)]


def _masked_operator(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], masks=None):
    """``(matvec, n)``: x -> (M H M) x on the n kept entries of ``params``, in float64 numpy."""
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor")
    if masks is None:
        masks = [torch.ones_like(p, dtype=torch.bool) for p in params]
    if len(masks) != len(params) or any(tuple(m.shape) != tuple(p.shape) for m, p in zip(masks, params)):
        raise ValueError("masks must hold one mask per parameter, each of the parameter's shape")
    keep = [m.reshape(-1).bool().to(p.device) for m, p in zip(masks, params)]
    sizes = [int(k.sum()) for k in keep]
    n = sum(sizes)
    if n == 0:
        raise ValueError("the masks keep no entry")
    dtype = params[0].dtype

    def matvec(x):
        x = torch.as_tensor(np.asarray(x).reshape(-1), dtype=dtype)
        vectors, at = [], 0
        for p, k, size in zip(params, keep, sizes):
            v = torch.zeros(p.numel(), dtype=dtype, device=p.device)
            v[k] = x[at:at + size].to(p.device)
            vectors.append(v.reshape(p.shape))
            at += size
        hv = hessian_vector_product(loss_fn, params, vectors)
        return torch.cat([h.reshape(-1)[k].cpu() for h, k in zip(hv, keep)]).double().numpy()

    return matvec, n


def top_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], masks=None, *,
                   tol: float = 1e-4, max_iterations: int = 300, seed: int = 0) -> float:
    """The largest algebraic eigenvalue of the Hessian of ``loss_fn()`` restricted to the entries of
    ``params`` that ``masks`` keeps (None: all). ``loss_fn`` is called once per product: keep its batch fixed."""
    from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

    matvec, n = _masked_operator(loss_fn, params, masks)
    if n <= 2:      # ARPACK needs n > 2: form the tiny matrix
        dense = np.stack([matvec(e) for e in np.eye(n)], axis=1)
        return float(np.linalg.eigvalsh(0.5 * (dense + dense.T))[-1])
    v0 = np.random.default_rng(seed).standard_normal(n)
    operator = LinearOperator((n, n), matvec=matvec, dtype=np.float64)
    try:
        return float(eigsh(operator, k=1, which="LA", tol=tol, maxiter=max_iterations, v0=v0,
                           return_eigenvectors=False)[0])
    except ArpackNoConvergence as e:
        if len(e.eigenvalues):
            return float(e.eigenvalues.max())
        raise RuntimeError(f"Lanczos did not converge in {max_iterations} iterations") from e


def lanczos_top_eigenvalue(loss_fn: Callable[[], torch.Tensor], params: Sequence[torch.Tensor], masks=None, *,
                           iterations: int = 30, seed: int = 0) -> float:
    """As :func:`top_eigenvalue`, with a fixed cost: exactly ``iterations`` Hessian-vector products of plain
    Lanczos (full reorthogonalisation), the top Ritz value. It approaches lambda_max from below; how close
    after a given number of steps is for the caller to check against :func:`top_eigenvalue` at a tight ``tol``."""
    from scipy.linalg import eigvalsh_tridiagonal

    if isinstance(iterations, bool) or not isinstance(iterations, int) or iterations < 1:
        raise ValueError(f"iterations must be an integer >= 1; got {iterations!r}")
    matvec, n = _masked_operator(loss_fn, params, masks)
    q = np.random.default_rng(seed).standard_normal(n)
    basis = [q / np.linalg.norm(q)]
    alpha, beta = [], []
    for j in range(min(iterations, n)):
        w = matvec(basis[j])
        alpha.append(float(w @ basis[j]))
        for _ in range(2):          # twice is enough (Kahan): keeps the basis orthogonal in float64
            stacked = np.stack(basis)
            w = w - stacked.T @ (stacked @ w)
        b = float(np.linalg.norm(w))
        if j == min(iterations, n) - 1 or b <= 1e-10 * max(1.0, abs(alpha[-1])):   # done, or an invariant subspace
            break
        beta.append(b)
        basis.append(w / b)
    if len(alpha) == 1:
        return alpha[0]
    return float(eigvalsh_tridiagonal(np.array(alpha), np.array(beta[:len(alpha) - 1]), select="i",
                                      select_range=(len(alpha) - 1, len(alpha) - 1))[0])


def critical_learning_rate(lambda_max: float) -> float:
    """2 / lambda_max: gradient descent on a quadratic with this top curvature diverges above it."""
    if not lambda_max > 0:
        raise ValueError(f"lambda_max must be > 0; got {lambda_max}")
    return 2.0 / lambda_max
