"""Stochastic gradient descent with momentum, dampening, Nesterov and L2."""

from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks


@jit
def _sgd_loop(params, grad, momentum_buffer, first,
              lr, momentum, one_minus_dampening, nesterov, weight_decay):
    for i in range(params.size):
        d = grad[i]
        if weight_decay != 0:
            d = d + weight_decay * params[i]
        if momentum != 0:
            if first:
                b = d
            else:
                b = momentum * momentum_buffer[i] + one_minus_dampening * d
            momentum_buffer[i] = b
            if nesterov:
                d = d + momentum * b
            else:
                d = b
        params[i] = params[i] - lr * d


@jit
def _sgd_constants(params, step, lr, momentum, dampening, nesterov, weight_decay):
    """The scalar arguments of :func:`_sgd_loop` for step ``step``, in the params' dtype."""
    return (step <= 1, cast_like(lr, params), cast_like(momentum, params),
            cast_like(1.0 - dampening, params), nesterov, cast_like(weight_decay, params))


@jit_parallel
def sgd_step(params, grad, momentum_buffer, step, lr, momentum=0.0,
             dampening=0.0, nesterov=False, weight_decay=0.0):
    r"""One SGD step, in place, with the semantics of ``torch.optim.SGD``.

    With gradient :math:`g_t`, parameters :math:`\theta`, and
    :math:`\mu` = ``momentum``, :math:`\tau` = ``dampening``,
    :math:`\lambda` = ``weight_decay``, :math:`\gamma` = ``lr``::

        g_t   = g_t + lambda * theta_{t-1}                 (if lambda != 0)
        b_t   = g_t                                         (t = 1)
        b_t   = mu * b_{t-1} + (1 - tau) * g_t              (t > 1)
        g_t   = g_t + mu * b_t   (nesterov)   or   g_t = b_t   (if mu != 0)
        theta_t = theta_{t-1} - gamma * g_t

    This is Sutskever et al. (2013)'s momentum in PyTorch's form: the
    learning rate multiplies the velocity, and the buffer starts at the first
    gradient without dampening.

    Parameters
    ----------
    params, grad : 1-D float arrays of one dtype and size; params is updated.
    momentum_buffer : array like params (ignored, may be empty, if momentum is 0).
    step : int, 1 for the first step (the buffer is initialised on it).
    lr, momentum, dampening, weight_decay : float.
    nesterov : bool.
    """
    n = params.size
    k = _sgd_constants(params, step, lr, momentum, dampening, nesterov, weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _sgd_loop(params, grad, momentum_buffer, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _sgd_loop(params[lo:hi], grad[lo:hi], momentum_buffer[lo:hi], *k)
