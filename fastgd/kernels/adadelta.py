"""Adadelta: per-coordinate steps in the units of the parameters, from two running averages."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, State


@jit
def adadelta_loop(w, g, s, k):
    square_avg, acc_delta = s
    lr, rho, one_minus_rho, eps, weight_decay = k
    for i in range(w.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * w[i]
        v = rho * square_avg[i] + one_minus_rho * gi * gi
        square_avg[i] = v
        delta = np.sqrt(acc_delta[i] + eps) / np.sqrt(v + eps) * gi
        acc_delta[i] = rho * acc_delta[i] + one_minus_rho * delta * delta
        w[i] = w[i] - lr * delta


@jit
def adadelta_constants(w, t, lr, h, sc):
    rho, eps, weight_decay = h
    return (cast_like(lr, w), cast_like(rho, w), cast_like(1.0 - rho, w), cast_like(eps, w),
            cast_like(weight_decay, w))


ADADELTA = Rule(
    "adadelta", "Adadelta", lr=1.0,
    params=(Param("rho", 0.9, high=1.0), Param("eps", 1e-6), Param("weight_decay", 0.0)),
    state=(State("square_avg", nonnegative=True), State("acc_delta", nonnegative=True)),
    constants=adadelta_constants, loop=adadelta_loop,
    methods={"adadelta": {}},
    examples=({"lr": 1.0}, {"lr": 0.5, "rho": 0.5, "eps": 1e-4, "weight_decay": 0.01}),
    torch="Adadelta",
    doc=r"""Adadelta (Zeiler, 2012, "ADADELTA: An Adaptive Learning Rate Method",
    Algorithm 1), as ``torch.optim.Adadelta``.

    With rho = ``rho`` and lambda = ``weight_decay``::

        g_t     = g_t + lambda * theta_{t-1}                           (if lambda != 0)
        v_t     = rho * v_{t-1} + (1 - rho) * g_t**2                    (square_avg)
        d_t     = sqrt(u_{t-1} + eps) / sqrt(v_t + eps) * g_t
        u_t     = rho * u_{t-1} + (1 - rho) * d_t**2                    (acc_delta)
        theta_t = theta_{t-1} - lr * d_t

    The paper has no learning rate (lr = 1, the default here and in
    PyTorch): the ratio of the two root-mean-squares gives the step its
    units. As in PyTorch, eps sits inside both square roots.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.Adadelta(x)
    >>> for _ in range(3000):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 0.1)
    True
    """)

adadelta_step = ADADELTA.step
