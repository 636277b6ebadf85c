"""Adagrad: per-coordinate steps scaled by the root of the summed squared gradients."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, State


@jit
def adagrad_loop(w, g, s, k):
    (state_sum,) = s
    clr, eps, weight_decay = k
    for i in range(w.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * w[i]
        acc = state_sum[i] + gi * gi
        state_sum[i] = acc
        w[i] = w[i] - clr * (gi / (np.sqrt(acc) + eps))


@jit
def adagrad_constants(w, t, lr, h, sc):
    lr_decay, weight_decay, initial_accumulator_value, eps = h
    return (cast_like(lr / (1.0 + (t - 1) * lr_decay), w), cast_like(eps, w),
            cast_like(weight_decay, w))


ADAGRAD = Rule(
    "adagrad", "Adagrad", lr=1e-2, auto_lr=0.1,
    params=(Param("lr_decay", 0.0), Param("weight_decay", 0.0),
            Param("initial_accumulator_value", 0.0), Param("eps", 1e-10)),
    state=(State("sum", init="initial_accumulator_value", nonnegative=True),),
    constants=adagrad_constants, loop=adagrad_loop,
    methods={"adagrad": {}},
    examples=({"lr": 0.1}, {"lr": 0.1, "lr_decay": 0.01, "weight_decay": 0.01,
                            "initial_accumulator_value": 0.1}),
    torch="Adagrad",
    doc=r"""Adagrad (Duchi, Hazan & Singer, 2011), as ``torch.optim.Adagrad``.

    With eta = ``lr_decay``::

        g_t     = g_t + lambda * theta_{t-1}            (if lambda != 0)
        clr     = lr / (1 + (t - 1) * eta)
        G_t     = G_{t-1} + g_t**2                       (sum)
        theta_t = theta_{t-1} - clr * g_t / (sqrt(G_t) + eps)

    ``sum`` starts at ``initial_accumulator_value`` (0 by default).
    """)

adagrad_step = ADAGRAD.step
