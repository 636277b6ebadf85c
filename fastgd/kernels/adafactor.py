"""Adafactor: a factored second moment for matrices (a vector one otherwise), steps relative to |theta|."""

import math

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, State, chunk_sum

P_SQ, U_SQ = 0, 1  # the sums of the reduction stage: |theta|^2, |u|^2


@jit(inline="always")
def _update(gi, v, eps1_sq):
    """u = g / sqrt(max(v, eps1**2))."""
    return gi / np.sqrt(max(v, eps1_sq))


@jit
def adafactor_constants(w, t, lr, h, sc):
    beta2_decay, eps1, eps2, d, weight_decay = h
    if eps1 == 0.0:  # torch's None: the dtype's machine epsilon
        eps1 = float(np.finfo(w.dtype).eps)
    rho = min(lr, 1.0 / math.sqrt(t))
    return (cast_like(float(t) ** beta2_decay, w), cast_like(eps1 * eps1, w),
            cast_like(1.0 - lr * weight_decay, w), eps2, d, rho, cast_like(eps1, w),
            cast_like(0.0, w))  # the step alpha / denom: filled in by adafactor_combine


@jit
def adafactor_reduce(w, g, s, k, out):
    variance = s[0]
    one_minus_beta2, eps1_sq = k[:2]
    p_sq = 0.0
    u_sq = 0.0
    for i in range(w.size):
        p = w[i]
        gi = g[i]
        v = variance[i] + (gi * gi - variance[i]) * one_minus_beta2  # torch's lerp
        variance[i] = v
        u = _update(gi, v, eps1_sq)
        p_sq += p * p
        u_sq += u * u
    out[P_SQ] = p_sq
    out[U_SQ] = u_sq


@jit
def adafactor_combine(w, k, partial, sc):
    eps2, d, rho = k[3:6]
    p_sq = chunk_sum(partial, P_SQ)
    u_sq = chunk_sum(partial, U_SQ)
    root_n = math.sqrt(w.size)
    alpha = max(eps2, math.sqrt(p_sq) / root_n) * rho
    denom = max(1.0, math.sqrt(u_sq) / (root_n * d))
    return k[:7] + (cast_like(alpha / denom, w),)


@jit
def adafactor_loop(w, g, s, k):
    variance = s[0]
    eps1_sq, decay = k[1:3]
    step = k[7]
    for i in range(w.size):
        p = w[i]
        if decay != 1:
            p = p * decay
        w[i] = p - step * _update(g[i], variance[i], eps1_sq)


@jit
def adafactor_matrix(w, g, s, k, cols):
    row_var, col_var = s[1], s[2]
    one_minus_beta2, eps1_sq, decay, eps2, d, rho, eps1 = k[:7]
    n = w.size
    rows = n // cols
    p_sq = 0.0
    for i in range(n):
        p_sq += w[i] * w[i]
    alpha = max(eps2, math.sqrt(p_sq) / math.sqrt(n)) * rho
    col_sq = np.zeros(cols)  # float64 sums of g**2 down each column, row by row
    row_total = 0.0
    for i in range(rows):
        row_sq = 0.0
        for j in range(cols):
            gij = g[i * cols + j]
            sq = gij * gij
            row_sq += sq
            col_sq[j] += sq
        r = row_var[i] + (cast_like(row_sq / cols, w) - row_var[i]) * one_minus_beta2
        row_var[i] = r
        row_total += r
    for j in range(cols):
        col_var[j] = col_var[j] + (cast_like(col_sq[j] / rows, w) - col_var[j]) * one_minus_beta2
    row_mean = max(cast_like(row_total / rows, w), eps1)
    u_sq = 0.0
    for i in range(rows):
        for j in range(cols):
            u = _update(g[i * cols + j], row_var[i] * col_var[j] / row_mean, eps1_sq)
            u_sq += u * u
    step = cast_like(alpha / max(1.0, math.sqrt(u_sq) / (math.sqrt(n) * d)), w)
    for i in range(rows):
        for j in range(cols):
            p = w[i * cols + j]
            if decay != 1:
                p = p * decay
            w[i * cols + j] = p - step * _update(g[i * cols + j], row_var[i] * col_var[j] / row_mean,
                                                 eps1_sq)


ADAFACTOR = Rule(
    "adafactor", "Adafactor", lr=1e-2,
    params=(Param("beta2_decay", -0.8, low=None, high=0.0),
            Param("eps", (0.0, 1e-3), kind="pair", low=0.0),
            Param("d", 1.0, low=1.0), Param("weight_decay", 0.0)),
    state=(State("variance", nonnegative=True, shape="vector"),
           State("row_var", nonnegative=True, shape="rows"),
           State("col_var", nonnegative=True, shape="cols")),
    constants=adafactor_constants, loop=adafactor_loop,
    reduce=adafactor_reduce, combine=adafactor_combine, n_sums=2,
    layered=True, matrix=adafactor_matrix,
    methods={"adafactor": {}},
    examples=({"lr": 0.01}, {"lr": 0.05, "beta2_decay": -0.5, "eps": (1e-20, 1e-2),
                             "d": 2.0, "weight_decay": 0.1}),
    torch="Adafactor",
    doc=r"""Adafactor (Shazeer & Stern, 2018, "Adafactor: Adaptive Learning Rates with
    Sublinear Memory Cost", Algorithms 1 and 2), as ``torch.optim.Adafactor``.

    Per segment of the parameters' layout (``shapes=``: each tensor of a
    torch param group; without it the whole vector is one 1-D segment),
    with t = 1 for the first step, n the segment's size, (eps1, eps2) =
    ``eps`` (eps1 = 0, the default, stands for torch's None: the dtype's
    machine epsilon) and RMS(a) = |a|_2 / sqrt(n)::

        rho_t    = min(lr, 1 / sqrt(t))
        alpha_t  = max(eps2, RMS(theta_{t-1})) * rho_t       (steps relative to the scale of theta)
        theta    = theta_{t-1} * (1 - lr * lambda)            (if weight_decay != 0)
        beta_t   = t**beta2_decay                             (1 - beta2_t; beta2_t = 1 - t**-0.8)
        1-D:  v_t = v_{t-1} + (g_t**2 - v_{t-1}) * beta_t                        (variance)
        2-D (rows x cols, Algorithm 1's factored second moment):
              R_t = R_{t-1} + (mean_j g_t**2 - R_{t-1}) * beta_t      (row_var, one per row)
              C_t = C_{t-1} + (mean_i g_t**2 - C_{t-1}) * beta_t      (col_var, one per column)
              v_t = R_t C_t^T / max(mean(R_t), eps1)
        u_t      = g_t / sqrt(max(v_t, eps1**2))
        theta_t  = theta - alpha_t / max(1, RMS(u_t) / d) * u_t      (update clipping at d)

    A matrix keeps rows + cols numbers of state instead of rows * cols
    (``state["row_var"]``, ``state["col_var"]``: the matrices' rows and
    columns one after the other, in segment order; ``state["variance"]``:
    the elements of the 1-D segments). The norms of a 1-D segment are the
    rule's reduction stage: summed in float64 per ``CHUNK`` and added in
    chunk order; a matrix's step (its row and column sums, the norms) is one
    serial pass over it in a fixed order. Either way a step has the same
    bits whatever the thread count. A matrix above
    ``PARALLEL_THRESHOLD`` elements is not split over threads.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.Adafactor(x, lr=0.1)
    >>> for _ in range(1000):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 0.05)
    True
    """)

adafactor_step = ADAFACTOR.step
