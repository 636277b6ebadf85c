"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks


@jit
def _adagrad_loop(params, grad, state_sum, clr, eps, weight_decay):
    for i in range(params.size):
        g = grad[i]
        if weight_decay != 0:
            g = g + weight_decay * params[i]
        s = state_sum[i] + g * g
        state_sum[i] = s
        params[i] = params[i] - clr * (g / (np.sqrt(s) + eps))


@jit
def _adagrad_constants(params, step, lr, lr_decay, weight_decay, eps):
    """The scalar arguments of :func:`_adagrad_loop` for step ``step``."""
    return (cast_like(lr / (1.0 + (step - 1) * lr_decay), params), cast_like(eps, params),
            cast_like(weight_decay, params))


@jit_parallel
def adagrad_step(params, grad, state_sum, step, lr, lr_decay=0.0,
                 weight_decay=0.0, eps=1e-10):
    r"""One Adagrad step (Duchi, Hazan & Singer, 2011), in place.

    PyTorch's ``torch.optim.Adagrad``, with :math:`\eta` = ``lr_decay``::

        g_t     = g_t + lambda * theta_{t-1}            (if lambda != 0)
        clr     = lr / (1 + (t - 1) * eta)
        G_t     = G_{t-1} + g_t**2                       (state_sum)
        theta_t = theta_{t-1} - clr * g_t / (sqrt(G_t) + eps)

    ``state_sum`` starts at ``initial_accumulator_value`` (0 by default);
    ``step`` is 1 for the first step.
    """
    n = params.size
    k = _adagrad_constants(params, step, lr, lr_decay, weight_decay, eps)
    if n <= PARALLEL_THRESHOLD:
        _adagrad_loop(params, grad, state_sum, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _adagrad_loop(params[lo:hi], grad[lo:hi], state_sum[lo:hi], *k)
