"""Adamax: Adam with the infinity norm in place of the second moment."""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks


@jit
def _adamax_loop(params, grad, exp_avg, exp_inf, weight_decay,
                 one_minus_beta1, beta2, eps, clr):
    for i in range(params.size):
        g = grad[i]
        if weight_decay != 0:
            g = g + weight_decay * params[i]
        m = exp_avg[i] + one_minus_beta1 * (g - exp_avg[i])
        u = max(beta2 * exp_inf[i], np.abs(g) + eps)
        exp_avg[i] = m
        exp_inf[i] = u
        params[i] = params[i] - clr * (m / u)


@jit
def _adamax_constants(params, step, lr, beta1, beta2, eps, weight_decay):
    """The scalar arguments of :func:`_adamax_loop` for step ``step``."""
    return (cast_like(weight_decay, params), cast_like(1.0 - beta1, params),
            cast_like(beta2, params), cast_like(eps, params),
            cast_like(lr / (1.0 - beta1 ** step), params))


@jit_parallel
def adamax_step(params, grad, exp_avg, exp_inf, step, lr=2e-3, beta1=0.9,
                beta2=0.999, eps=1e-8, weight_decay=0.0):
    r"""One Adamax step (Kingma & Ba, 2015, section 7.1, Algorithm 2), in place.

    As ``torch.optim.Adamax``::

        g_t     = g_t + lambda * theta_{t-1}               (if lambda != 0)
        m_t     = beta1 * m_{t-1} + (1 - beta1) * g_t       (exp_avg)
        u_t     = max(beta2 * u_{t-1}, |g_t| + eps)         (exp_inf)
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / u_t

    The paper has no eps; PyTorch adds it to |g_t| so u_t never is 0.
    """
    n = params.size
    k = _adamax_constants(params, step, lr, beta1, beta2, eps, weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _adamax_loop(params, grad, exp_avg, exp_inf, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _adamax_loop(params[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_inf[lo:hi], *k)
