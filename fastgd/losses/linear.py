"""One-output linear models: z = x . W + b and a per-row loss chosen by ``hyper[4]``.

Squared error, Huber, logistic and hinge share one compiled row loop (and so
one fused epoch per dtype in :mod:`fastgd.engine`); the per-row loss is
picked by a branch that costs a few cycles per row against the 2d
multiply-adds of the dot product and the gradient update. Fewer compiled
specialisations keep first-use compile time down.

    L(w) = (1/n) sum_i s_i l(y_i, x_i . W + b) + alpha_2/2 ||W||^2 + alpha_1 ||W||_1
    dL/dW = (1/n) sum_i s_i l'(y_i, z_i) x_i + alpha_2 W + alpha_1 sign(W),
    dL/db = (1/n) sum_i s_i l'(y_i, z_i)

==========  ===================================  ===============  ===========
kind        l(y, z)                              l'(y, z)          y
==========  ===================================  ===============  ===========
SQUARED     (z - y)^2 / 2                        z - y             real
HUBER       r^2/2 or delta (|r| - delta/2)       clip(r, +-delta)  real
LOGISTIC    log(1 + e^z) - y z                   sigmoid(z) - y    {0, 1}
HINGE       max(0, 1 - y z)                      -y if y z < 1     {-1, +1}
==========  ===================================  ===============  ===========
"""

import numpy as np

from .._numba import cast_like, jit
from ._rows import EXTRA, KIND, N_INTERCEPTS, objective_kernel
from .hinge import hinge_pointwise
from .logistic import logistic_block
from .squared import huber_pointwise, squared_pointwise

SQUARED, HUBER, LOGISTIC, HINGE = range(4)


@jit
def pointwise(kind, z, y, param):
    """(l, dl/dz) of per-row loss ``kind`` at logit z, target y (float64).

    The logistic loss goes a block of rows at a time instead
    (:func:`fastgd.losses.logistic.logistic_block`).
    """
    if kind == SQUARED:
        return squared_pointwise(z, y, param)
    if kind == HUBER:
        return huber_pointwise(z, y, param)
    return hinge_pointwise(z, y, param)


# rows whose gradient terms are summed in X's dtype before joining the float64 sum
FLUSH = 16


@jit
def linear_rows(w, X, y, sw, hyper, g):
    """Serial rows of a one-output linear loss: sum_i s_i l_i; adds sum_i s_i l'_i (x_i, 1) to g.

    Rows go in blocks of ``FLUSH``, in three passes per block: the logits
    (independent dot products), the per-row losses (for the logistic loss
    :func:`fastgd.losses.logistic.logistic_block`, without branches), then
    the terms r_i x_i, summed in X's dtype (8 float32 lanes per instruction,
    no conversions) and added to the float64 ``g`` once per block: float32
    rounding covers 16 terms, not the whole sum. The block's rows stay in L1
    cache between passes.
    """
    n, d = X.shape
    kind = int(hyper[KIND])
    fit_b = hyper[N_INTERCEPTS] != 0.0
    b = np.float64(w[d]) if fit_b else 0.0
    param = hyper[EXTRA]
    weighted = sw.size > 0
    zero = cast_like(0.0, X)
    local = np.zeros(d, dtype=X.dtype)
    z = np.empty(FLUSH)
    lv = np.empty(FLUSH)                # per-row losses and derivatives, float64
    dzv = np.empty(FLUSH)
    r = np.empty(FLUSH, dtype=X.dtype)  # the derivatives in X's dtype
    total = 0.0
    for lo in range(0, n, FLUSH):
        m = min(n - lo, FLUSH)
        for k in range(m):
            x = X[lo + k]
            dot = zero
            for j in range(d):
                dot += x[j] * w[j]
            z[k] = np.float64(dot) + b
        if kind == LOGISTIC:
            logistic_block(z, y, sw, lo, m, lv, dzv)
        else:
            for k in range(m):
                lk, dk = pointwise(kind, z[k], np.float64(y[lo + k]), param)
                if weighted:
                    s = np.float64(sw[lo + k])
                    lk *= s
                    dk *= s
                lv[k] = lk
                dzv[k] = dk
        for k in range(m):
            total += lv[k]
            if fit_b:
                g[d] += dzv[k]
            r[k] = cast_like(dzv[k], X)
        for k in range(m):
            x = X[lo + k]
            rk = r[k]
            for j in range(d):
                local[j] += rk * x[j]
        for j in range(d):
            g[j] += local[j]
            local[j] = zero
    return total


linear_kernel = objective_kernel(linear_rows)
linear_kernel.__doc__ = """The parallel loss kernel of :func:`linear_rows` (see the module doc)."""
