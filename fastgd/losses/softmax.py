"""Softmax (multinomial) cross-entropy, through the log-sum-exp."""

import math

import numpy as np

from .._numba import cast_like, jit
from ._rows import EXTRA, N_INTERCEPTS, objective_kernel


@jit
def softmax_rows(w, X, y, sw, hyper, g):
    """Serial rows of the softmax cross-entropy (see :data:`softmax_kernel`)."""
    n, d = X.shape
    n_classes = int(hyper[EXTRA])
    n_coef = n_classes * d
    fit_intercept = hyper[N_INTERCEPTS] != 0.0
    weighted = sw.size > 0
    zero = cast_like(0.0, X)
    z = np.empty(n_classes)
    total = 0.0
    for i in range(n):
        x = X[i]
        zmax = -np.inf
        for k in range(n_classes):
            wk = w[k * d:(k + 1) * d]
            acc = zero
            for j in range(d):
                acc += x[j] * wk[j]
            zk = np.float64(acc)
            if fit_intercept:
                zk += np.float64(w[n_coef + k])
            z[k] = zk
            zmax = max(zmax, zk)
        s = 0.0
        for k in range(n_classes):
            s += math.exp(z[k] - zmax)
        lse = zmax + math.log(s)
        c = int(y[i])
        weight = np.float64(sw[i]) if weighted else 1.0
        total += weight * (lse - z[c])
        for k in range(n_classes):
            r = math.exp(z[k] - lse)
            if k == c:
                r -= 1.0
            r *= weight
            gk = g[k * d:(k + 1) * d]
            for j in range(d):
                gk[j] += r * x[j]
            if fit_intercept:
                g[n_coef + k] += r
    return total


softmax_kernel = objective_kernel(softmax_rows)
softmax_kernel.__doc__ = r"""Softmax cross-entropy loss and gradient for K classes, in one pass.

    With logits z_ik = W_k . x_i + b_k (W is K x d, row-major in ``w``, then
    the K intercepts), y_i the class index 0..K-1 (stored as a float),

        L(w) = (1/n) sum_i s_i [logsumexp_k(z_ik) - z_{i,y_i}] + penalties
        dL/dW_k = (1/n) sum_i s_i (p_ik - [y_i = k]) x_i + alpha_2 W_k + alpha_1 sign(W_k)
        p_ik = exp(z_ik - logsumexp(z_i))

    logsumexp subtracts the largest logit first, so no exp overflows. K is
    ``hyper[3]``; ``hyper[2]`` is K with intercepts, 0 without.
"""
