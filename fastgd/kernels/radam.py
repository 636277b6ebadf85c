"""RAdam: Adam with a rectified, variance-aware warm-up of the adaptive step."""

import math

import numpy as np

from .._numba import cast_like, jit
from ._moments import decay_constants, decayed, moments
from .rule import Param, Rule, State


@jit
def radam_loop(w, g, s, k):
    exp_avg, exp_avg_sq = s
    (decay, l2, one_minus_beta1, beta2, one_minus_beta2, bc1, lr, adaptive, sqrt_bc2_rect,
     eps) = k
    for i in range(w.size):
        p, gi = decayed(w[i], g[i], decay, l2)
        m, v = moments(gi, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        m_hat = m / bc1
        if adaptive:
            w[i] = p - m_hat * lr * (sqrt_bc2_rect / (np.sqrt(v) + eps))
        else:
            w[i] = p - m_hat * lr


@jit
def radam_rectification(t, beta2):
    """(rho_t, r_t): the SMA length and the variance rectification term.

    r_t is only defined (and only used) when rho_t > 5.
    """
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    bc2 = 1.0 - beta2 ** t
    rho_t = rho_inf - 2.0 * t * beta2 ** t / bc2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                         / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    else:
        rect = 0.0
    return rho_t, rect


@jit
def radam_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, decoupled_weight_decay = h
    rho_t, rect = radam_rectification(t, beta2)
    decay, l2 = decay_constants(w, lr, weight_decay, decoupled_weight_decay)
    return (decay, l2, cast_like(1.0 - beta1, w), cast_like(beta2, w), cast_like(1.0 - beta2, w),
            cast_like(1.0 - beta1 ** t, w), cast_like(lr, w), rho_t > 5.0,
            cast_like(math.sqrt(1.0 - beta2 ** t) * rect, w), cast_like(eps, w))


RADAM = Rule(
    "radam", "RAdam", lr=1e-3, auto_lr=0.01,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-8),
            Param("weight_decay", 0.0), Param("decoupled_weight_decay", False, kind="bool")),
    state=(State("exp_avg"), State("exp_avg_sq", nonnegative=True)),
    constants=radam_constants, loop=radam_loop,
    methods={"radam": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True}),
    torch="RAdam",
    doc=r"""RAdam (Liu et al., 2020, Algorithm 2), as ``torch.optim.RAdam``.

    ::

        g_t      = g_t + lambda * theta_{t-1}      (L2; or decoupled: theta *= 1 - lr*lambda)
        m_t      = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t      = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        m_hat    = m_t / (1 - beta1**t)
        rho_inf  = 2 / (1 - beta2) - 1
        rho_t    = rho_inf - 2 t beta2**t / (1 - beta2**t)
        if rho_t > 5:
            r_t     = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            theta_t = theta_{t-1} - lr * m_hat * r_t * sqrt(1 - beta2**t) / (sqrt(v_t) + eps)
        else:
            theta_t = theta_{t-1} - lr * m_hat          (SGD with momentum)

    Like PyTorch, eps is added to sqrt(v_t) before the bias correction.
    """)

radam_step = RADAM.step
