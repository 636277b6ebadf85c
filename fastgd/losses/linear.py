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
from .logistic import logistic_pointwise
from .squared import huber_pointwise, squared_pointwise

SQUARED, HUBER, LOGISTIC, HINGE = range(4)


@jit
def pointwise(kind, z, y, param):
    """(l, dl/dz) of per-row loss ``kind`` at logit z, target y (float64)."""
    if kind == SQUARED:
        return squared_pointwise(z, y, param)
    if kind == HUBER:
        return huber_pointwise(z, y, param)
    if kind == LOGISTIC:
        return logistic_pointwise(z, y, param)
    return hinge_pointwise(z, y, param)


# rows whose gradient terms are summed in X's dtype before joining the float64 sum
FLUSH = 16


@jit
def linear_rows(w, X, y, sw, hyper, g):
    """Serial rows of a one-output linear loss: sum_i s_i l_i; adds sum_i s_i l'_i (x_i, 1) to g.

    The terms r_i x_i are summed in X's dtype over ``FLUSH`` rows at a time
    (8 float32 lanes per instruction, no conversions), then added to the
    float64 ``g``: float32 rounding covers 16 terms, not the whole sum.
    """
    n, d = X.shape
    kind = int(hyper[KIND])
    fit_b = hyper[N_INTERCEPTS] != 0.0
    b = np.float64(w[d]) if fit_b else 0.0
    param = hyper[EXTRA]
    weighted = sw.size > 0
    zero = cast_like(0.0, X)
    local = np.zeros(d, dtype=X.dtype)
    total = 0.0
    for i in range(n):
        x = X[i]
        z = zero
        for j in range(d):
            z += x[j] * w[j]
        loss, r = pointwise(kind, np.float64(z) + b, np.float64(y[i]), param)
        if weighted:
            s = np.float64(sw[i])
            loss *= s
            r *= s
        total += loss
        rr = cast_like(r, X)
        for j in range(d):
            local[j] += rr * x[j]
        if fit_b:
            g[d] += r
        if (i + 1) % FLUSH == 0 or i == n - 1:
            for j in range(d):
                g[j] += local[j]
                local[j] = zero
    return total


linear_kernel = objective_kernel(linear_rows)
linear_kernel.__doc__ = """The parallel loss kernel of :func:`linear_rows` (see the module doc)."""
