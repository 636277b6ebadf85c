"""Binary logistic loss (binary cross-entropy on the logit), stable for any z."""

import numpy as np

from .._numba import FASTMATH_ORDERED, jit
from ._vecmath import exp_nonpositive, log1p_unit


@jit(fastmath=set(FASTMATH_ORDERED))
def logistic_block(z, y, start, m, loss, dz):
    """loss[k] = l(y, z[k]) and dz[k] = dl/dz for k < m, with y = y[start + k].

    l = log(1 + e^z) - y z and dl/dz = sigmoid(z) - y, for y in [0, 1]. This
    is -y log p - (1 - y) log(1 - p) with p = sigmoid(z), written so that
    nothing overflows: softplus(z) = max(z, 0) + log1p(e^-|z|), and sigmoid(z)
    = 1 / (1 + e) or e / (1 + e) with e = e^-|z| <= 1. At |z| = 1000 the loss
    is |z| or 0 and the gradient +-1 or 0, never inf or NaN.

    A block of rows at once, in a loop that vectorises: no branches (the
    sign of z picks by selects) and no calls (exp and log1p are the
    polynomials of :mod:`fastgd.losses._vecmath`, which need this function's
    ``FASTMATH_ORDERED``). The loop vectorises only when m reaches the
    vector width times LLVM's interleave (32 at AVX-512 width): call it on
    blocks of 64 rows, not 16. Offsets, not views: a view costs two atomic
    reference counts.
    """
    for k in range(m):
        zk = z[k]
        yk = np.float64(y[start + k])
        e = exp_nonpositive(-abs(zk))
        pos = 1.0 if zk >= 0.0 else 0.0
        # softplus(z) - y z = (pos - y) z + log1p(e): exact 0 + log1p(e) when y = pos
        lk = (pos - yk) * zk + log1p_unit(e)
        dk = (pos + (1.0 - pos) * e) / (1.0 + e) - yk
        loss[k] = lk
        dz[k] = dk
