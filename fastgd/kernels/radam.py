"""RAdam: Adam with a rectified, variance-aware warm-up of the adaptive step."""

import math

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks
from ._moments import decay_constants, decayed, moments


@jit
def _radam_loop(params, grad, exp_avg, exp_avg_sq, decay, weight_decay,
                one_minus_beta1, beta2, one_minus_beta2, bc1, lr, adaptive, sqrt_bc2_rect, eps):
    for i in range(params.size):
        p, g = decayed(params[i], grad[i], decay, weight_decay)
        m, v = moments(g, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        m_hat = m / bc1
        if adaptive:
            params[i] = p - m_hat * lr * (sqrt_bc2_rect / (np.sqrt(v) + eps))
        else:
            params[i] = p - m_hat * lr


@jit
def radam_rectification(step, beta2):
    """(rho_t, r_t): the SMA length and the variance rectification term.

    r_t is only defined (and only used) when rho_t > 5.
    """
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    bc2 = 1.0 - beta2 ** step
    rho_t = rho_inf - 2.0 * step * beta2 ** step / bc2
    if rho_t > 5.0:
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf
                         / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    else:
        rect = 0.0
    return rho_t, rect


@jit
def _radam_constants(params, step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay):
    """The scalar arguments of :func:`_radam_loop` for step ``step``."""
    rho_t, rect = radam_rectification(step, beta2)
    decay, wd = decay_constants(params, lr, weight_decay, decoupled_weight_decay)
    return (decay, wd, cast_like(1.0 - beta1, params), cast_like(beta2, params),
            cast_like(1.0 - beta2, params), cast_like(1.0 - beta1 ** step, params),
            cast_like(lr, params), rho_t > 5.0,
            cast_like(math.sqrt(1.0 - beta2 ** step) * rect, params), cast_like(eps, params))


@jit_parallel
def radam_step(params, grad, exp_avg, exp_avg_sq, step, lr=1e-3, beta1=0.9,
               beta2=0.999, eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False):
    r"""One RAdam step (Liu et al., 2020, Algorithm 2), in place.

    As ``torch.optim.RAdam``::

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
    """
    n = params.size
    k = _radam_constants(params, step, lr, beta1, beta2, eps, weight_decay, decoupled_weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _radam_loop(params, grad, exp_avg, exp_avg_sq, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _radam_loop(params[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi], *k)
