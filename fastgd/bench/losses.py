"""Section "losses": one loss-and-gradient pass over 1,000,000 x 100 float32.

Each loss kernel of :mod:`fastgd.losses` against a read probe that streams
the same X once (a parallel sum over rows: the memory-bandwidth floor of a
one-pass kernel on this machine), and against the same loss and gradient
written with NumPy (two BLAS matrix-vector products plus element-wise work).
Target: every kernel within 2x of the probe.
"""

import numpy as np
from numba import prange

from .._numba import jit, jit_parallel
from .harness import Row, best_of, section

N, D = 1_000_000, 100
K = 10              # classes of softmax, outputs of multi_squared_error
ROWS_PER_PART = 4096
LOSSES = ("squared_error", "huber", "epsilon_insensitive", "squared_epsilon_insensitive",
          "poisson", "logistic", "hinge", "squared_hinge", "modified_huber", "softmax",
          "multi_squared_error")


@jit
def _sum_rows(X):
    s = np.float32(0.0)
    for i in range(X.shape[0]):
        x = X[i]
        for j in range(x.size):
            s += x[j]
    return s


@jit_parallel
def read_probe(X):
    """Sum of every element of X, parallel over row blocks: X read once."""
    n = X.shape[0]
    parts = (n + ROWS_PER_PART - 1) // ROWS_PER_PART
    partial = np.zeros(parts, dtype=np.float32)
    for p in prange(parts):
        partial[p] = _sum_rows(X[p * ROWS_PER_PART:min(n, (p + 1) * ROWS_PER_PART)])
    return partial.sum()


def problem(name, n=N, d=D, seed=0):
    """(w, X, y, call) for loss ``name``: ``call()`` runs one pass of the public kernel."""
    from .. import losses
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d), dtype=np.float32)
    spec = losses.LOSSES[name]
    k = K if spec.multi else 1
    w = (0.1 * rng.standard_normal(k * (d + 1))).astype(np.float32)
    if name == "softmax":
        y = rng.integers(0, k, n).astype(np.float32)
    elif spec.targets == "sign":
        y = (2 * rng.integers(0, 2, n) - 1).astype(np.float32)
    elif name == "logistic":
        y = rng.integers(0, 2, n).astype(np.float32)
    elif name == "poisson":
        y = rng.poisson(1.0, n).astype(np.float32)
    elif spec.columns:
        y = rng.standard_normal((n, k), dtype=np.float32)
    else:
        y = rng.standard_normal(n, dtype=np.float32)
    # Huber's delta 1 (as before the epsilon losses came), their epsilon 0.1, or K
    extra = float(k) if spec.multi else (spec.default if spec.param == "epsilon" else 1.0)
    hyper = losses.hyper_array(1e-4, 0.0, k, extra, name)
    grad = np.empty_like(w)
    sw = np.empty(0, np.float32)
    return w, X, y, lambda: spec.kernel(w, X, y, sw, hyper, grad)


def numpy_logistic(w, X, y):
    z = X @ w[:-1] + w[-1]
    loss = np.mean(np.logaddexp(0, z) - y * z)
    r = (0.5 * (1 + np.tanh(0.5 * z)) - y) / len(y)
    return loss, np.r_[X.T @ r, r.sum()]


def numpy_multi_squared(w, X, Y):
    """The multi-output squared error and its gradient in NumPy: X W^T + b, then R^T X (BLAS)."""
    n, d = X.shape
    k = Y.shape[1]
    W = w[:k * d].reshape(k, d)
    R = X @ W.T + w[k * d:] - Y
    loss = 0.5 * np.sum(R * R, dtype=np.float64) / n
    return loss, np.r_[(R.T @ X).ravel() / n, R.sum(axis=0) / n]


def numpy_softmax_matmuls(w, X, k=10):
    """Only the two matrix products of a softmax loss and gradient (X W^T, P^T X), by BLAS.

    4 GFLOP on 1M x 100 x 10 classes: a floor for any softmax pass, set by
    arithmetic, not by reading X.
    """
    d = X.shape[1]
    W = w[:k * d].reshape(k, d)
    Z = X @ W.T
    return Z.T @ X


@section("losses")
def loss_rows(names=LOSSES, repeat=5):
    rows = []
    gb = N * D * 4 / 1e9
    X = None
    for name in names:
        w, X, y, call = problem(name)
        t = best_of(call, repeat=repeat)
        note = f"{gb / t:.1f} GB/s"
        if name == "softmax":
            note += f" ({K} classes: {K}x the arithmetic)"
        if name == "multi_squared_error":
            note += f" ({K} outputs: {K}x the arithmetic)"
        rows.append(Row("losses", f"{name} loss+grad, 1M x 100 f32", "fastgd", t, note))
        if name == "logistic":
            t_np = best_of(lambda: numpy_logistic(w, X, y), repeat=3)
            rows.append(Row("losses", f"{name} loss+grad, 1M x 100 f32", "numpy (BLAS)", t_np))
        if name == "multi_squared_error":
            t_np = best_of(lambda: numpy_multi_squared(w, X, y), repeat=3)
            rows.append(Row("losses", f"{name} loss+grad, 1M x 100 f32", "numpy (BLAS)", t_np))
        if name == "softmax":
            t_np = best_of(lambda: numpy_softmax_matmuls(w, X), repeat=3)
            rows.append(Row("losses", f"{name} loss+grad, 1M x 100 f32", "numpy (BLAS)", t_np,
                            f"the two matrix products only ({4 / t_np:.0f} GFLOPS)"))
    t_probe = best_of(lambda: read_probe(X), repeat=repeat)
    for r in rows:
        if r.impl == "fastgd":
            r.note += f"; {r.seconds / t_probe:.2f}x the read probe"
            if "softmax" in r.task or "multi_squared" in r.task:
                r.note += f"; {4 / r.seconds:.0f} GFLOPS in its products"
    rows.append(Row("losses", "read X once (probe), 1M x 100 f32", "read probe", t_probe,
                    f"{gb / t_probe:.1f} GB/s"))
    for r in rows:
        if r.impl == "numpy (BLAS)":
            base = next(q.seconds for q in rows if q.task == r.task and q.impl == "fastgd")
            r.ratio = r.seconds / base
    return rows
