"""Adam and AdamW: momentum plus a per-coordinate adaptive learning rate."""

import math

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks
from ._moments import decayed, moments


@jit
def _adam_loop(params, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, decay, weight_decay,
               one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps, amsgrad):
    for i in range(params.size):
        p, g = decayed(params[i], grad[i], decay, weight_decay)
        m, v = moments(g, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        denom = np.sqrt(v) / bc2_sqrt + eps
        params[i] = p - step_size * (m / denom)


@jit
def _adam_constants(params, step, lr, beta1, beta2, eps, l2, decoupled):
    """The scalar arguments of :func:`_adam_loop` for step ``step`` (but amsgrad)."""
    bc1 = 1.0 - beta1 ** step
    bc2 = 1.0 - beta2 ** step
    return (cast_like(1.0 - lr * decoupled, params), cast_like(l2, params),
            cast_like(1.0 - beta1, params), cast_like(beta2, params),
            cast_like(1.0 - beta2, params), cast_like(lr / bc1, params),
            cast_like(math.sqrt(bc2), params), cast_like(eps, params))


# adam_step and adamw_step each hold their own prange loop: a cached parallel
# function called from two cached callers segfaults when loaded from numba's
# cache (seen with numba 0.68), so parallel kernels are never nested.


@jit_parallel
def adam_step(params, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3,
              beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0, amsgrad=False):
    r"""One Adam step (Kingma & Ba, 2015, Algorithm 1), in place.

    ``step`` = t is 1 for the first step. With PyTorch's ``torch.optim.Adam``
    conventions::

        g_t   = g_t + lambda * theta_{t-1}            (L2, if weight_decay != 0)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g_t    (exp_avg)
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g_t**2 (exp_avg_sq)
        AMSGrad (Reddi, Kale & Kumar, 2018):  v_t = max(vmax_{t-1}, v_t) (max_exp_avg_sq)
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / (sqrt(v_t) / sqrt(1 - beta2**t) + eps)

    Where frameworks differ: like PyTorch (and the paper's Algorithm 1), eps
    is added *after* the bias correction of sqrt(v_t), i.e. to
    sqrt(v_hat_t); the paper's section 2 "efficient version" adds an eps_hat
    to sqrt(v_t) instead, as TensorFlow does. Weight decay here is L2 added to
    the gradient; for decoupled decay use :func:`adamw_step`.
    ``max_exp_avg_sq`` may be empty unless ``amsgrad``.
    """
    n = params.size
    k = _adam_constants(params, step, lr, beta1, beta2, eps, weight_decay, 0.0)
    if n <= PARALLEL_THRESHOLD:
        _adam_loop(params, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *k, amsgrad)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _adam_loop(params[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                       max_exp_avg_sq[lo:hi], *k, amsgrad)


@jit_parallel
def adamw_step(params, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step, lr=1e-3,
               beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=1e-2, amsgrad=False):
    r"""One AdamW step (Loshchilov & Hutter, 2019, Algorithm 2), in place.

    Decoupled weight decay, as ``torch.optim.AdamW``: the parameters shrink
    by ``lr * weight_decay`` before the Adam step, and the decay never enters
    the moment estimates::

        theta_{t-1} <- theta_{t-1} * (1 - lr * lambda)
        then the Adam update of :func:`adam_step` with weight_decay = 0.

    PyTorch (and so fastgd) multiplies the decay by the learning rate; the
    paper's schedule multiplier eta_t plays that role.
    """
    n = params.size
    k = _adam_constants(params, step, lr, beta1, beta2, eps, 0.0, weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _adam_loop(params, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *k, amsgrad)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _adam_loop(params[lo:hi], grad[lo:hi], exp_avg[lo:hi], exp_avg_sq[lo:hi],
                       max_exp_avg_sq[lo:hi], *k, amsgrad)
