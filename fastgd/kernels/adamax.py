"""Adamax: Adam with the infinity norm in place of the second moment."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, State


@jit
def adamax_loop(w, g, s, k):
    exp_avg, exp_inf = s
    weight_decay, one_minus_beta1, beta2, eps, clr = k
    for i in range(w.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * w[i]
        m = exp_avg[i] + one_minus_beta1 * (gi - exp_avg[i])
        u = max(beta2 * exp_inf[i], np.abs(gi) + eps)
        exp_avg[i] = m
        exp_inf[i] = u
        w[i] = w[i] - clr * (m / u)


@jit
def adamax_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay = h
    return (cast_like(weight_decay, w), cast_like(1.0 - beta1, w), cast_like(beta2, w),
            cast_like(eps, w), cast_like(lr / (1.0 - beta1 ** t), w))


ADAMAX = Rule(
    "adamax", "Adamax", lr=2e-3, auto_lr=0.02,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-8),
            Param("weight_decay", 0.0)),
    state=(State("exp_avg"), State("exp_inf", nonnegative=True)),
    constants=adamax_constants, loop=adamax_loop,
    methods={"adamax": {}},
    examples=({"lr": 0.01, "weight_decay": 0.01},),
    torch="Adamax",
    doc=r"""Adamax (Kingma & Ba, 2015, section 7.1, Algorithm 2), as ``torch.optim.Adamax``.

    ::

        g_t     = g_t + lambda * theta_{t-1}               (if lambda != 0)
        m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t       (exp_avg)
        u_t     = max(beta2 * u_{t-1}, |g_t| + eps)         (exp_inf)
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / u_t

    The paper has no eps; PyTorch adds it to |g_t| so u_t never is 0.
    """)

adamax_step = ADAMAX.step
