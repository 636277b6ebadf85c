"""Pieces of the row loops of K-output linear models (softmax, multi-output squared error).

W is K x d, row-major at the start of ``w``, then the K intercepts. Per
row: the K outputs (dot products in X's dtype), then the gradient terms
r_k x_i summed in X's dtype into a K x d block ``local``, which is added
to the float64 gradient every ``FLUSH`` rows (float32 rounding then covers
a few terms, not the whole sum).
"""

import numpy as np

from .._numba import cast_like, jit


@jit
def row_outputs(w, x, n_out, fit_intercept, z):
    """z[k] = W_k . x (summed in x's dtype) + b_k, as float64, for k < n_out."""
    d = x.size
    n_coef = n_out * d
    zero = cast_like(0.0, x)
    for k in range(n_out):
        wk = w[k * d:(k + 1) * d]
        acc = zero
        for j in range(d):
            acc += x[j] * wk[j]
        zk = np.float64(acc)
        if fit_intercept:
            zk += np.float64(w[n_coef + k])
        z[k] = zk


@jit
def add_term(local_k, r, x):
    """local_k += r x, in x's dtype (r already cast to it)."""
    for j in range(x.size):
        local_k[j] += r * x[j]


@jit
def flush_outputs(local, g):
    """g[k d + j] += local[k, j] for the K x d block ``local``, which is then zeroed."""
    n_out, d = local.shape
    zero = cast_like(0.0, local)
    for k in range(n_out):
        lk = local[k]
        gk = g[k * d:(k + 1) * d]
        for j in range(d):
            gk[j] += lk[j]
            lk[j] = zero
