"""NAdam: Adam with Nesterov momentum."""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks
from ._moments import decay_constants, decayed, moments


@jit
def _nadam_loop(params, grad, exp_avg, exp_avg_sq, decay, weight_decay,
                one_minus_beta1, beta2, one_minus_beta2, bc2, eps, coef_grad, coef_avg):
    for i in range(params.size):
        p, g = decayed(params[i], grad[i], decay, weight_decay)
        m, v = moments(g, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        denom = np.sqrt(v / bc2) + eps
        p = p - coef_grad * (g / denom)
        params[i] = p - coef_avg * (m / denom)


@jit
def nadam_momentum(step, beta1, momentum_decay):
    """mu_t = beta1 * (1 - 0.5 * 0.96 ** (t * psi)), the NAdam momentum schedule."""
    return beta1 * (1.0 - 0.5 * 0.96 ** (step * momentum_decay))


@jit
def _nadam_constants(params, step, mu_product, lr, beta1, beta2, eps, weight_decay,
                     momentum_decay, decoupled_weight_decay):
    """(new mu_product, the scalar arguments of :func:`_nadam_loop`) for step ``step``."""
    mu = nadam_momentum(step, beta1, momentum_decay)
    mu_next = nadam_momentum(step + 1, beta1, momentum_decay)
    prod = mu_product * mu
    decay, wd = decay_constants(params, lr, weight_decay, decoupled_weight_decay)
    return prod, (decay, wd, cast_like(1.0 - beta1, params), cast_like(beta2, params),
                  cast_like(1.0 - beta2, params), cast_like(1.0 - beta2 ** step, params),
                  cast_like(eps, params), cast_like(lr * (1.0 - mu) / (1.0 - prod), params),
                  cast_like(lr * mu_next / (1.0 - prod * mu_next), params))


@jit_parallel
def nadam_step(params, grad, exp_avg, exp_avg_sq, step, mu_product, lr=2e-3,
               beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
               momentum_decay=4e-3, decoupled_weight_decay=False):
    r"""One NAdam step (Dozat, 2016), in place; returns the new ``mu_product``.

    As ``torch.optim.NAdam``, with psi = ``momentum_decay`` and the momentum
    schedule mu_t = beta1 * (1 - 0.5 * 0.96**(t * psi))::

        g_t      = g_t + lambda * theta_{t-1}       (L2; or decoupled: theta *= 1 - lr*lambda)
        prod_t   = prod_{t-1} * mu_t                 (mu_product; 1 before the first step)
        m_t      = beta1 * m_{t-1} + (1 - beta1) * g_t
        v_t      = beta2 * v_{t-1} + (1 - beta2) * g_t**2
        d_t      = sqrt(v_t / (1 - beta2**t)) + eps
        theta_t  = theta_{t-1} - lr * (1 - mu_t) / (1 - prod_t) * g_t / d_t
                               - lr * mu_{t+1} / (1 - prod_t * mu_{t+1}) * m_t / d_t

    ``mu_product`` is the running product of mu_1..mu_{t-1} (pass 1.0 on the
    first step) and the return value is the product up to mu_t, to pass on
    the next step.
    """
    n = params.size
    prod, k = _nadam_constants(params, step, mu_product, lr, beta1, beta2, eps, weight_decay,
                               momentum_decay, decoupled_weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _nadam_loop(params, grad, exp_avg, exp_avg_sq, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _nadam_loop(params[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], *k)
    return prod
