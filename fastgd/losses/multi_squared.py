"""Squared error with K real outputs per row: multi-output least squares.

    L(w) = (1/n) sum_i s_i sum_k (z_ik - y_ik)^2 / 2 + alpha_2/2 ||W||^2 + alpha_1 ||W||_1
    z_ik = W_k . x_i + b_k
    dL/dW_k = (1/n) sum_i s_i (z_ik - y_ik) x_i + alpha_2 W_k + alpha_1 sign(W_k)
    dL/db_k = (1/n) sum_i s_i (z_ik - y_ik)

W is K x d, row-major in ``w`` (the layout of :func:`fastgd.losses.softmax_rows`
and of scikit-learn's ``coef_`` for K targets), then the K intercepts. The
targets are a C-contiguous (n, K) array in X's dtype; ``hyper[3]`` is K and
``hyper[2]`` is K with intercepts, 0 without. With K = 1 this is
:func:`fastgd.losses.squared_error`.
"""

import numpy as np

from .._numba import cast_like, jit
from ._rows import EXTRA, N_INTERCEPTS, objective_kernel
from .linear import FLUSH
from .outputs import add_term, flush_outputs, row_outputs


@jit
def multi_squared_rows(w, X, Y, sw, hyper, g):
    """Serial rows of the multi-output squared error (see the module docstring).

    Per row, the K logits (dot products in X's dtype), then the residuals
    r_k in float64; the terms r_k x_i are summed in X's dtype for ``FLUSH``
    rows at a time and then added to the float64 ``g``, as in
    :func:`fastgd.losses.linear.linear_rows`.
    """
    n, d = X.shape
    n_out = int(hyper[EXTRA])
    n_coef = n_out * d
    fit_intercept = hyper[N_INTERCEPTS] != 0.0
    weighted = sw.size > 0
    z = np.empty(n_out)
    local = np.zeros((n_out, d), dtype=X.dtype)
    total = 0.0
    for i in range(n):
        x = X[i]
        yi = Y[i]
        weight = np.float64(sw[i]) if weighted else 1.0
        row_outputs(w, x, n_out, fit_intercept, z)
        row_loss = 0.0
        for k in range(n_out):
            r = z[k] - np.float64(yi[k])
            row_loss += r * r
            r *= weight
            if fit_intercept:
                g[n_coef + k] += r
            add_term(local[k], cast_like(r, X), x)
        total += 0.5 * weight * row_loss
        if (i + 1) % FLUSH == 0 or i == n - 1:
            flush_outputs(local, g)
    return total


multi_squared_kernel = objective_kernel(multi_squared_rows)
multi_squared_kernel.__doc__ = """The parallel loss kernel of :func:`multi_squared_rows` (see the module doc)."""
