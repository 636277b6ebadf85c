"""Gradient clipping and the non-finite guard: chunked, deterministic reductions."""

import numpy as np
from numba import prange

from .._numba import CHUNK, cast_like, jit, jit_parallel, n_chunks


@jit
def _sum_of_squares_1(xs):
    s = 0.0
    for i in range(xs.size):
        v = np.float64(xs[i])
        s += v * v
    return s


@jit_parallel
def sum_of_squares(x):
    """sum(x**2), accumulated in float64 per CHUNK and combined in chunk order.

    The result does not depend on the number of threads.
    """
    n = x.size
    nc = n_chunks(n)
    partial = np.empty(nc, dtype=np.float64)
    for c in prange(nc):
        # a view per chunk: loops over views vectorise (see fastgd/_numba.py)
        partial[c] = _sum_of_squares_1(x[c * CHUNK:min(n, (c + 1) * CHUNK)])
    total = 0.0
    for c in range(nc):
        total += partial[c]
    return total


@jit_parallel
def all_finite(x):
    """True when no element of x is NaN or +-inf."""
    n = x.size
    nc = n_chunks(n)
    bad = np.empty(nc, dtype=np.int64)
    for c in prange(nc):
        # a count, not an early exit, so the loop vectorises. (Tricks such as
        # summing x - x are folded to 0 under the 'reassoc' flag.)
        xs = x[c * CHUNK:min(n, (c + 1) * CHUNK)]
        k = 0
        for i in range(xs.size):
            k += not np.isfinite(xs[i])
        bad[c] = k
    for c in range(nc):
        if bad[c]:
            return False
    return True


@jit_parallel
def clip_by_value_(x, clip_value):
    """Clamp every element of x to [-clip_value, clip_value], in place (NaN stays NaN)."""
    hi = cast_like(clip_value, x)
    lo = -hi
    for i in prange(x.size):
        v = x[i]
        if v > hi:
            x[i] = hi
        elif v < lo:
            x[i] = lo


@jit_parallel
def clip_by_global_norm_(x, max_norm):
    """Scale x in place so its L2 norm is at most max_norm; return the norm before.

    As ``torch.nn.utils.clip_grad_norm_``: the factor is max_norm / (norm + 1e-6)
    when the norm exceeds max_norm. The norm is :func:`sum_of_squares`'s
    chunked sum (parallel kernels are never nested: see ``adam.py``).
    """
    n = x.size
    nc = n_chunks(n)
    partial = np.empty(nc, dtype=np.float64)
    for c in prange(nc):
        partial[c] = _sum_of_squares_1(x[c * CHUNK:min(n, (c + 1) * CHUNK)])
    total = 0.0
    for c in range(nc):
        total += partial[c]
    norm = np.sqrt(total)
    if norm > max_norm:
        f = cast_like(max_norm / (norm + 1e-6), x)
        for i in prange(n):
            x[i] = x[i] * f
    return norm
