"""Slow NumPy references for the loss kernels and for one epoch of the engine.

Written from the formulas (fastgd.losses docstrings), in float64, with no
code shared with fastgd; the update rules come from ``reference.py``. The
fast paths are tested against these: float64 to ~1e-10, float32 to ~1e-5.
"""

import numpy as np
import scipy.sparse
from scipy.special import logsumexp

from .reference import REFERENCES


def _unpack(w, d, k, n_intercepts):
    W = w[:k * d].reshape(k, d)
    b = w[k * d:] if n_intercepts else np.zeros(k)
    return W, b


def ref_loss(name, w, X, y, sw=None, l2=0.0, l1=0.0, fit_intercept=True, extra=0.0):
    """(loss, grad) of loss ``name`` at w, in float64: (1/n) sum s_i l_i + penalties.

    ``extra``: Huber's delta, the epsilon of the epsilon-insensitive losses,
    or K for softmax; for multi_squared_error y is (n, K). X dense, or
    scipy.sparse (its products ``X @ W^T`` and ``X^T R`` by scipy: duplicate
    entries add up).
    """
    w = np.asarray(w, dtype=np.float64)
    X = X.astype(np.float64) if scipy.sparse.issparse(X) else np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n, d = X.shape
    if name == "softmax":
        k = int(extra)
    elif name == "multi_squared_error":
        k = y.shape[1]
    else:
        k = 1
    W, b = _unpack(w, d, k, fit_intercept)
    s = np.ones(n) if sw is None or len(sw) == 0 else np.asarray(sw, dtype=np.float64)
    Z = X @ W.T + b                                      # (n, k)
    if name == "softmax":
        lse = logsumexp(Z, axis=1)
        c = y.astype(int)
        loss_i = lse - Z[np.arange(n), c]
        R = np.exp(Z - lse[:, None])
        R[np.arange(n), c] -= 1.0
    elif name == "multi_squared_error":
        R = Z - y
        loss_i = 0.5 * np.sum(R * R, axis=1)
    else:
        z = Z[:, 0]
        if name == "squared_error":
            r = z - y
            loss_i, dz = 0.5 * r * r, r
        elif name == "huber":
            r = z - y
            small = np.abs(r) <= extra
            loss_i = np.where(small, 0.5 * r * r, extra * (np.abs(r) - 0.5 * extra))
            dz = np.where(small, r, extra * np.sign(r))
        elif name == "logistic":
            loss_i = np.logaddexp(0.0, z) - y * z
            dz = 0.5 * (1.0 + np.tanh(0.5 * z)) - y          # sigmoid, without overflow
        elif name == "hinge":
            m = y * z
            loss_i = np.maximum(0.0, 1.0 - m)
            dz = np.where(m < 1.0, -y, 0.0)
        elif name == "squared_hinge":
            gap = np.maximum(0.0, 1.0 - y * z)
            loss_i = gap ** 2
            dz = -2.0 * y * gap
        elif name == "modified_huber":
            m = y * z
            # three pieces: flat beyond the margin, the squared hinge, then a line of slope -4
            loss_i = np.where(m >= 1.0, 0.0, np.where(m >= -1.0, (1.0 - m) ** 2, -4.0 * m))
            dz = np.where(m >= 1.0, 0.0, np.where(m >= -1.0, -2.0 * y * (1.0 - m), -4.0 * y))
        elif name == "epsilon_insensitive":
            r = z - y
            outside = np.abs(r) > extra
            loss_i = np.where(outside, np.abs(r) - extra, 0.0)
            dz = np.where(outside, np.sign(r), 0.0)
        elif name == "squared_epsilon_insensitive":
            r = z - y
            outside = np.abs(r) > extra
            loss_i = np.where(outside, (np.abs(r) - extra) ** 2, 0.0)
            dz = np.where(outside, 2.0 * np.sign(r) * (np.abs(r) - extra), 0.0)
        elif name == "poisson":
            mu = np.exp(z)
            loss_i = mu - y * z
            dz = mu - y
        else:
            raise ValueError(name)
        R = dz[:, None]
    loss = np.sum(s * loss_i) / n if n else 0.0
    gW = (X.T @ (R * s[:, None])).T / max(n, 1)
    gb = (R * s[:, None]).sum(axis=0) / max(n, 1)
    loss += 0.5 * l2 * np.sum(W * W) + l1 * np.sum(np.abs(W))
    gW = gW + l2 * W + l1 * np.sign(W)
    grad = np.concatenate([gW.ravel(), gb if fit_intercept else []])
    return float(loss), grad


def ref_poisson_deviance(y, mu, sw=None):
    """Weighted mean of 2 (y log(y / mu) - y + mu), with 0 log 0 = 0."""
    y = np.asarray(y, dtype=np.float64)
    mu = np.asarray(mu, dtype=np.float64)
    dev = np.empty_like(y)
    for i in range(y.size):
        ylogy = y[i] * np.log(y[i] / mu[i]) if y[i] > 0 else 0.0
        dev[i] = 2.0 * (ylogy - y[i] + mu[i])
    s = np.ones_like(y) if sw is None else np.asarray(sw, dtype=np.float64)
    return float(np.sum(s * dev) / np.sum(s))


def ref_epoch(name, w, X, y, sw, loss_kw, rule, rule_kw, state, t, batch_size, order, lr):
    """One epoch of mini-batch gradient descent, readably.

    ``order``: the row sequence (None: 0..n-1); ``lr``: a function of the
    number of updates done. Returns (w, t, mean batch loss); ``state`` (the
    reference rule's dict) is updated. The gradient is cast to w's dtype
    before the update, as the engine does.
    """
    n = X.shape[0]
    rows = np.arange(n) if order is None else order
    batch = n if batch_size is None else batch_size
    total = 0.0
    for a in range(0, n, batch):
        idx = rows[a:a + batch]
        s = None if sw is None else sw[idx]
        f, g = ref_loss(name, w, X[idx], y[idx], s, **loss_kw)
        total += f * idx.size
        rate = lr(t)
        t += 1
        w = REFERENCES[rule](w, g.astype(w.dtype), state, t, rate, **rule_kw)
    return w, t, total / n
