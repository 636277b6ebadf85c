"""NAdam: Adam with Nesterov momentum."""

import numpy as np

from .._numba import cast_like, jit
from ._moments import decay_constants, decayed, moments
from .rule import Param, Rule, Scalar, State

MU_PRODUCT = 0  # sc[MU_PRODUCT]: mu_1 * ... * mu_t after step t


@jit
def nadam_loop(w, g, s, k):
    exp_avg, exp_avg_sq = s
    decay, l2, one_minus_beta1, beta2, one_minus_beta2, bc2, eps, coef_grad, coef_avg = k
    for i in range(w.size):
        p, gi = decayed(w[i], g[i], decay, l2)
        m, v = moments(gi, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        denom = np.sqrt(v / bc2) + eps
        p = p - coef_grad * (gi / denom)
        w[i] = p - coef_avg * (m / denom)


@jit
def nadam_momentum(t, beta1, momentum_decay):
    """mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi)), the NAdam momentum schedule."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))


@jit
def nadam_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay = h
    mu = nadam_momentum(t, beta1, momentum_decay)
    mu_next = nadam_momentum(t + 1, beta1, momentum_decay)
    prod = sc[MU_PRODUCT] * mu
    sc[MU_PRODUCT] = prod
    decay, l2 = decay_constants(w, lr, weight_decay, decoupled_weight_decay)
    return (decay, l2, cast_like(1.0 - beta1, w), cast_like(beta2, w), cast_like(1.0 - beta2, w),
            cast_like(1.0 - beta2 ** t, w), cast_like(eps, w),
            cast_like(lr * (1.0 - mu) / (1.0 - prod), w),
            cast_like(lr * mu_next / (1.0 - prod * mu_next), w))


NADAM = Rule(
    "nadam", "NAdam", lr=2e-3, auto_lr=0.01,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-8),
            Param("weight_decay", 0.0), Param("momentum_decay", 4e-3),
            Param("decoupled_weight_decay", False, kind="bool")),
    state=(State("exp_avg"), State("exp_avg_sq", nonnegative=True)),
    scalars=(Scalar("mu_product", 1.0, low=0.0, high=1.0),),
    constants=nadam_constants, loop=nadam_loop,
    methods={"nadam": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.01, "decoupled_weight_decay": True},
              {"lr": 0.01, "weight_decay": 0.01, "momentum_decay": 0.01}),
    torch="NAdam",
    doc=r"""NAdam (Dozat, 2016): Adam with Nesterov momentum, as ``torch.optim.NAdam``.

    With psi = ``momentum_decay`` and the momentum schedule
    mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi))::

        g_t      = g_t + lambda * theta_{t-1}       (L2; or decoupled: theta *= 1 - lr*lambda)
        prod_t   = prod_{t-1} * mu_t                 (mu_product; 1 before the first step)
        m_t      = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t      = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        d_t      = sqrt(v_t / (1 - beta2**t)) + eps
        theta_t  = theta_{t-1} - lr * (1 - mu_t) / (1 - prod_t) * g_t / d_t
                               - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m_t / d_t
    """)

nadam_step = NADAM.step
