"""LAMB: Adam steps scaled by a trust ratio |theta| / |update| per layer."""

import math

import numpy as np

from .._numba import cast_like, jit
from ._moments import moments
from .rule import Param, Rule, State, chunk_sum

W_SQ, R_SQ = 0, 1  # the sums of the reduction stage: |theta|^2, |r|^2


@jit(inline="always")
def _direction(p, m, v, k):
    """r = m_hat / (sqrt(v_hat) + eps) + lambda * theta."""
    bc1, bc2_sqrt, eps, weight_decay = k[3:7]
    r = (m / bc1) / (np.sqrt(v) / bc2_sqrt + eps)
    if weight_decay != 0:
        r = r + weight_decay * p
    return r


@jit
def lamb_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay = h
    return (cast_like(1.0 - beta1, w), cast_like(beta2, w), cast_like(1.0 - beta2, w),
            cast_like(1.0 - beta1 ** t, w), cast_like(math.sqrt(1.0 - beta2 ** t), w),
            cast_like(eps, w), cast_like(weight_decay, w), lr,
            cast_like(0.0, w))  # the step lr * trust ratio: filled in by lamb_combine


@jit
def lamb_reduce(w, g, s, k, out):
    exp_avg, exp_avg_sq = s
    one_minus_beta1, beta2, one_minus_beta2 = k[:3]
    w_sq = 0.0
    r_sq = 0.0
    for i in range(w.size):
        p = w[i]
        m, v = moments(g[i], exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        r = _direction(p, m, v, k)
        w_sq += p * p
        r_sq += r * r
    out[W_SQ] = w_sq
    out[R_SQ] = r_sq


@jit
def lamb_combine(w, k, partial, sc):
    w_sq = chunk_sum(partial, W_SQ)
    r_sq = chunk_sum(partial, R_SQ)
    w_norm = math.sqrt(w_sq)
    r_norm = math.sqrt(r_sq)
    trust = w_norm / r_norm if w_norm > 0.0 and r_norm > 0.0 else 1.0
    return k[:8] + (cast_like(k[7] * trust, w),)


@jit
def lamb_loop(w, g, s, k):
    exp_avg, exp_avg_sq = s
    step = k[8]
    for i in range(w.size):
        p = w[i]
        w[i] = p - step * _direction(p, exp_avg[i], exp_avg_sq[i], k)


LAMB = Rule(
    "lamb", "LAMB", lr=1e-3, auto_lr=0.01,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-6),
            Param("weight_decay", 0.0)),
    state=(State("exp_avg"), State("exp_avg_sq", nonnegative=True)),
    constants=lamb_constants, loop=lamb_loop,
    reduce=lamb_reduce, combine=lamb_combine, n_sums=2, layered=True,
    methods={"lamb": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "betas": (0.8, 0.99), "eps": 1e-8,
                             "weight_decay": 0.01}),
    doc=r"""LAMB (You et al., 2020, "Large Batch Optimization for Deep Learning: Training
    BERT in 76 minutes", Algorithm 2), as ``optax.lamb`` (bias-corrected
    moments, eps outside the root, the trust ratio 1 when either norm is 0).

    With t = 1 for the first step, phi the identity, and, in the last line,
    theta, r and the norms those of one segment (layer) of the parameters'
    layout (``shapes=``: each tensor of a torch param group; without it the
    whole vector is one segment)::

        m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t                (exp_avg)
        v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t**2             (exp_avg_sq)
        r_t     = (m_t / (1 - beta1**t)) / (sqrt(v_t / (1 - beta2**t)) + eps) + lambda * theta_{t-1}
        theta_t = theta_{t-1} - lr * |theta_{t-1}|_2 / |r_t|_2 * r_t   (per layer)

    The paper's trust ratio is per layer (optax: per parameter tensor);
    fastgd's MLP estimators pass each layer's weights and bias as segments.
    The two norms of each segment are the rule's reduction stage: summed in
    float64 per ``CHUNK`` and added in chunk order, so a step has the same
    bits whatever the thread count; the loop then recomputes r_t from the
    stored moments (two passes over the state, no buffer for r).

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.LAMB(x, lr=0.05)
    >>> for _ in range(500):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 0.05)
    True
    """)

lamb_step = LAMB.step
