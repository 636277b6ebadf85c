"""Averaged SGD: plain SGD steps plus a Polyak-Ruppert running average."""

from numba import prange

from .._numba import CHUNK, PARALLEL_THRESHOLD, cast_like, jit, jit_parallel, n_chunks


@jit
def _asgd_loop(params, grad, ax, shrink, eta, mu, weight_decay):
    for i in range(params.size):
        g = grad[i]
        p = params[i]
        if weight_decay != 0:
            g = g + weight_decay * p
        p = p * shrink
        p = p - eta * g
        params[i] = p
        if mu != 1:
            ax[i] = ax[i] + (p - ax[i]) * mu
        else:
            ax[i] = p


@jit
def asgd_schedule(step, lr, lambd, alpha, t0):
    """(eta, mu) to use on step ``step + 1``, after ``step`` steps are done."""
    eta = lr / (1.0 + lambd * lr * step) ** alpha
    mu = 1.0 / max(1.0, step - t0)
    return eta, mu


@jit
def _asgd_constants(params, eta, mu, lambd, weight_decay):
    """The scalar arguments of :func:`_asgd_loop` for a step with rate eta and weight mu."""
    return (cast_like(1.0 - lambd * eta, params), cast_like(eta, params), cast_like(mu, params),
            cast_like(weight_decay, params))


@jit_parallel
def asgd_step(params, grad, ax, eta, mu, lambd=1e-4, weight_decay=0.0):
    r"""One averaged-SGD step (Polyak & Juditsky, 1992; Bottou, 2012), in place.

    As ``torch.optim.ASGD``; the step's ``eta`` and ``mu`` come from
    :func:`asgd_schedule` (eta_1 = lr, mu_1 = 1)::

        g_t     = g_t + lambda_wd * theta_{t-1}          (if weight_decay != 0)
        theta_t = theta_{t-1} * (1 - lambd * eta_t) - eta_t * g_t
        ax_t    = ax_{t-1} + mu_t * (theta_t - ax_{t-1})   (ax_t = theta_t when mu_t = 1)
        eta_{t+1} = lr / (1 + lambd * lr * t)**alpha
        mu_{t+1}  = 1 / max(1, t - t0)

    ``ax`` is the averaged iterate (Polyak-Ruppert average of the iterates
    after step t0): use it, not ``params``, as the final estimate.
    """
    n = params.size
    k = _asgd_constants(params, eta, mu, lambd, weight_decay)
    if n <= PARALLEL_THRESHOLD:
        _asgd_loop(params, grad, ax, *k)
    else:
        for c in prange(n_chunks(n)):
            lo = c * CHUNK
            hi = min(n, lo + CHUNK)
            _asgd_loop(params[lo:hi], grad[lo:hi], ax[lo:hi], *k)
