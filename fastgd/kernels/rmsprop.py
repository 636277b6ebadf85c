"""RMSprop: steps divided by a running root-mean-square of the gradient."""

import numpy as np
from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks


@jit
def _rmsprop_loop(params, grad, square_avg, grad_avg, momentum_buffer,
                  lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered):
    for i in range(params.size):
        g = grad[i]
        if weight_decay != 0:
            g = g + weight_decay * params[i]
        v = alpha * square_avg[i] + one_minus_alpha * g * g
        square_avg[i] = v
        if centered:
            ga = grad_avg[i] + one_minus_alpha * (g - grad_avg[i])
            grad_avg[i] = ga
            avg = np.sqrt(v - ga * ga) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * momentum_buffer[i] + g / avg
            momentum_buffer[i] = b
            params[i] = params[i] - lr * b
        else:
            params[i] = params[i] - lr * (g / avg)


@jit
def _rmsprop_constants(params, lr, alpha, eps, weight_decay, momentum, centered):
    """The scalar arguments of :func:`_rmsprop_loop`, in the params' dtype."""
    return (cast_like(lr, params), cast_like(alpha, params), cast_like(1.0 - alpha, params),
            cast_like(eps, params), cast_like(weight_decay, params), cast_like(momentum, params),
            centered)


@jit_parallel
def rmsprop_step(params, grad, square_avg, grad_avg, momentum_buffer, step, lr,
                 alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    r"""One RMSprop step (Tieleman & Hinton, 2012, lecture 6.5), in place.

    PyTorch's ``torch.optim.RMSprop``, with :math:`\alpha` = ``alpha``
    (smoothing constant) and :math:`\mu` = ``momentum``::

        g_t     = g_t + lambda * theta_{t-1}                    (if lambda != 0)
        v_t     = alpha * v_{t-1} + (1 - alpha) * g_t**2         (square_avg)
        centered:  a_t = alpha * a_{t-1} + (1 - alpha) * g_t     (grad_avg)
                   s_t = sqrt(v_t - a_t**2) + eps
        otherwise: s_t = sqrt(v_t) + eps
        mu > 0:    b_t = mu * b_{t-1} + g_t / s_t ;  theta_t = theta_{t-1} - lr * b_t
        otherwise: theta_t = theta_{t-1} - lr * g_t / s_t

    As in PyTorch, eps is added outside the square root. ``grad_avg`` and
    ``momentum_buffer`` are only touched when ``centered`` / ``momentum > 0``
    (pass empty arrays otherwise). ``step`` is unused by the rule and kept
    for a uniform kernel signature.
    """
    n = params.size
    k = _rmsprop_constants(params, lr, alpha, eps, weight_decay, momentum, centered)
    if n <= PARALLEL_THRESHOLD:
        _rmsprop_loop(params, grad, square_avg, grad_avg, momentum_buffer, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _rmsprop_loop(params[lo:hi], grad[lo:hi], square_avg[lo:hi], grad_avg[lo:hi],
                          momentum_buffer[lo:hi], *k)
