"""RMSprop: steps divided by a running root-mean-square of the gradient."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, State


@jit
def rmsprop_loop(w, g, s, k):
    square_avg, grad_avg, momentum_buffer = s
    lr, alpha, one_minus_alpha, eps, weight_decay, momentum, centered = k
    zero = cast_like(0.0, w)
    for i in range(w.size):
        gi = g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * w[i]
        v = alpha * square_avg[i] + one_minus_alpha * gi * gi
        square_avg[i] = v
        if centered:
            ga = grad_avg[i] + one_minus_alpha * (gi - grad_avg[i])
            grad_avg[i] = ga
            # the variance estimate, never below 0 (v - ga^2 can round below 0, e.g. alpha = 0)
            avg = np.sqrt(max(v - ga * ga, zero)) + eps
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            b = momentum * momentum_buffer[i] + gi / avg
            momentum_buffer[i] = b
            w[i] = w[i] - lr * b
        else:
            w[i] = w[i] - lr * (gi / avg)


@jit
def rmsprop_constants(w, t, lr, h, sc):
    alpha, eps, weight_decay, momentum, centered = h
    return (cast_like(lr, w), cast_like(alpha, w), cast_like(1.0 - alpha, w), cast_like(eps, w),
            cast_like(weight_decay, w), cast_like(momentum, w), centered)


RMSPROP = Rule(
    "rmsprop", "RMSprop", lr=1e-2, auto_lr=0.01,
    params=(Param("alpha", 0.99, high=1.0), Param("eps", 1e-8), Param("weight_decay", 0.0),
            Param("momentum", 0.0), Param("centered", False, kind="bool")),
    state=(State("square_avg", nonnegative=True, covers="grad_avg"),
           State("grad_avg", when="centered"),
           State("momentum_buffer", when="momentum")),
    constants=rmsprop_constants, loop=rmsprop_loop,
    methods={"rmsprop": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "momentum": 0.9, "centered": True,
                             "weight_decay": 0.01}),
    torch="RMSprop",
    doc=r"""RMSprop (Tieleman & Hinton, 2012, lecture 6.5), as ``torch.optim.RMSprop``.

    With alpha = ``alpha`` (smoothing constant) and mu = ``momentum``::

        g_t     = g_t + lambda * theta_{t-1}                    (if lambda != 0)
        v_t     = alpha * v_{t-1} + (1 - alpha) * g_t**2         (square_avg)
        centered:  a_t = alpha * a_{t-1} + (1 - alpha) * g_t     (grad_avg)
                   s_t = sqrt(v_t - a_t**2) + eps
        otherwise: s_t = sqrt(v_t) + eps
        mu > 0:    b_t = mu * b_{t-1} + g_t / s_t ;  theta_t = theta_{t-1} - lr * b_t
        otherwise: theta_t = theta_{t-1} - lr * g_t / s_t

    As in PyTorch, eps is added outside the square root. ``grad_avg`` and
    ``momentum_buffer`` stay empty unless ``centered`` / ``momentum > 0``.
    """)

rmsprop_step = RMSPROP.step
