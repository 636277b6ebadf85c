"""Softmax (multinomial) cross-entropy, through the log-sum-exp."""

import math

import numpy as np

from .._numba import FASTMATH_ORDERED, cast_like, jit
from ._rows import EXTRA, N_INTERCEPTS, objective_kernel
from ._vecmath import exp_nonpositive
from .linear import FLUSH
from .outputs import add_term, flush_outputs, row_outputs


@jit(fastmath=set(FASTMATH_ORDERED))
def _exps_below(z, zmax):
    """z[k] = exp(z[k] - zmax) for z[k] <= zmax, in a loop that vectorises (see ``_vecmath``)."""
    for k in range(z.size):
        z[k] = exp_nonpositive(z[k] - zmax)


@jit
def softmax_terms(z, c, weight):
    """Per-row softmax terms: returns s (logsumexp(z) - z_c); z becomes s (p - e_c).

    ``z`` holds the K logits of one row (float64), ``c`` its class and
    ``weight`` s its sample weight. One exp per logit: p_k = e_k / S with
    e_k = exp(z_k - max_k z_k) and S their sum (so the loss's logsumexp and
    the probabilities share them). On return z[k] = s (p_k - [k = c]), the
    derivative of the row's loss by its logit k.
    """
    zmax = -np.inf
    for k in range(z.size):
        zmax = max(zmax, z[k])
    gap = zmax - z[c]                  # >= 0; exact even where exp(-gap) underflows
    _exps_below(z, zmax)              # z now holds e_k
    s = 0.0
    for k in range(z.size):
        s += z[k]
    inv = weight / s
    for k in range(z.size):
        z[k] *= inv
    z[c] -= weight
    # logsumexp_k z_k - z_c = (zmax + log S) - z_c
    return weight * (gap + math.log(s))


@jit
def softmax_rows(w, X, y, sw, hyper, g):
    """Serial rows of the softmax cross-entropy (see :data:`softmax_kernel`).

    The per-row terms are :func:`softmax_terms`; the terms (p_ik - [y_i =
    k]) x_i are summed in X's dtype for ``FLUSH`` rows at a time, then added
    to the float64 ``g``, as in :func:`fastgd.losses.linear.linear_rows`.
    """
    n, d = X.shape
    n_classes = int(hyper[EXTRA])
    n_coef = n_classes * d
    fit_intercept = hyper[N_INTERCEPTS] != 0.0
    weighted = sw.size > 0
    z = np.empty(n_classes)
    local = np.zeros((n_classes, d), dtype=X.dtype)
    total = 0.0
    bad = 0
    for i in range(n):
        x = X[i]
        row_outputs(w, x, n_classes, fit_intercept, z)
        for k in range(n_classes):
            bad += not np.isfinite(z[k])
        weight = np.float64(sw[i]) if weighted else 1.0
        total += softmax_terms(z, int(y[i]), weight)
        for k in range(n_classes):
            r = z[k]
            if fit_intercept:
                g[n_coef + k] += r
            add_term(local[k], cast_like(r, X), x)
        if (i + 1) % FLUSH == 0 or i == n - 1:
            flush_outputs(local, g)
    return total if bad == 0 else np.nan  # NaN or inf logits: see linear_rows


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
