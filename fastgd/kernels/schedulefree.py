"""Schedule-Free SGD and AdamW: an average of the iterates instead of a decaying schedule."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, Scalar, State

WEIGHT_SUM, LR_MAX = 0, 1  # sc: the sum of the averaging weights, the largest rate so far


@jit
def _averaging(t, lr, warmup_steps, r, weight_lr_power, sc):
    """(first, lr_t, c_t) of step ``t``; updates ``sc``. lr_max < 0: no step yet."""
    first = sc[LR_MAX] < 0.0
    lr_t = lr * (t / warmup_steps) if t - 1 < warmup_steps else lr
    lr_max = max(lr_t, sc[LR_MAX])
    sc[LR_MAX] = lr_max
    weight = float(t) ** r * lr_max ** weight_lr_power
    sc[WEIGHT_SUM] += weight
    c = weight / sc[WEIGHT_SUM] if sc[WEIGHT_SUM] > 0.0 else 0.0
    return first, lr_t, c


@jit(inline="always")
def _y_and_z(w, z, x, i, first):
    """y_{t-1} (params) and z_{t-1}; on the first step z and x start at y."""
    y = w[i]
    if first:
        z[i] = y
        x[i] = y
    return y, z[i]


@jit(inline="always")
def _average(w, z, x, i, zi, c, one_minus_c, beta, one_minus_beta):
    """Store z_t, x_t = (1 - c) x_{t-1} + c z_t and y_t = beta x_t + (1 - beta) z_t."""
    xi = x[i] * one_minus_c + zi * c
    z[i] = zi
    x[i] = xi
    w[i] = xi * beta + zi * one_minus_beta


@jit
def sgd_schedulefree_loop(w, g, s, k):
    z, x = s
    first, lr, weight_decay, c, one_minus_c, beta, one_minus_beta = k
    for i in range(w.size):
        y, zi = _y_and_z(w, z, x, i, first)
        gi = g[i]
        if weight_decay != 0:
            gi = gi + weight_decay * y
        _average(w, z, x, i, zi - lr * gi, c, one_minus_c, beta, one_minus_beta)


@jit
def sgd_schedulefree_constants(w, t, lr, h, sc):
    momentum, weight_decay, warmup_steps, r, weight_lr_power = h
    first, lr_t, c = _averaging(t, lr, warmup_steps, r, weight_lr_power, sc)
    return (first, cast_like(lr_t, w), cast_like(weight_decay, w), cast_like(c, w),
            cast_like(1.0 - c, w), cast_like(momentum, w), cast_like(1.0 - momentum, w))


@jit
def adamw_schedulefree_loop(w, g, s, k):
    z, x, exp_avg_sq = s
    (first, lr, decay, decay_at_z, c, one_minus_c, beta1, one_minus_beta1, beta2,
     one_minus_beta2, bc2, eps) = k
    for i in range(w.size):
        y, zi = _y_and_z(w, z, x, i, first)
        gi = g[i]
        if decay != 0:
            zi = zi - decay * (zi if decay_at_z else y)
        v = beta2 * exp_avg_sq[i] + one_minus_beta2 * gi * gi
        exp_avg_sq[i] = v
        zi = zi - lr * (gi / (np.sqrt(v / bc2) + eps))
        _average(w, z, x, i, zi, c, one_minus_c, beta1, one_minus_beta1)


@jit
def adamw_schedulefree_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, warmup_steps, r, weight_lr_power, decay_at_z = h
    first, lr_t, c = _averaging(t, lr, warmup_steps, r, weight_lr_power, sc)
    return (first, cast_like(lr_t, w), cast_like(lr_t * weight_decay, w), decay_at_z,
            cast_like(c, w), cast_like(1.0 - c, w), cast_like(beta1, w),
            cast_like(1.0 - beta1, w), cast_like(beta2, w), cast_like(1.0 - beta2, w),
            cast_like(1.0 - beta2 ** t, w), cast_like(eps, w))


_AVERAGING = (Param("warmup_steps", 0.0), Param("r", 0.0), Param("weight_lr_power", 2.0))
_SCALARS = (Scalar("weight_sum", 0.0, low=0.0), Scalar("lr_max", -1.0, low=-1.0))
_EQUATIONS = r"""
    Three sequences: z (``state["z"]``, the base iterates), x (``state["x"]``,
    their weighted average: the point to evaluate the model at) and y, the
    interpolation between them where the gradient is taken, which is
    ``params``. With t = 1 for the first step (z_0 = x_0 = y_0 = the
    starting point, copied on the first step)::

        lr_t    = lr * min(1, t / warmup_steps)              (linear warmup)
        w_t     = t**r * max(lr_1..lr_t)**weight_lr_power    (weight_sum: sum of w_1..w_t)
        c_t     = w_t / (w_1 + ... + w_t)
        z_t     = z_{t-1} - lr_t * <the base step at g_t = grad f(y_{t-1})>
        x_t     = (1 - c_t) * x_{t-1} + c_t * z_t
        y_t     = beta * x_t + (1 - beta) * z_t                (params)

    No learning-rate decay is needed: the average x plays its role (the
    paper's Theorem 1; with r = 0 and weight_lr_power = 0 it is the plain
    average of the z's). Use ``opt.eval_params()`` (x) for predictions and
    validation scores, as the estimators do after each epoch; ``params``
    stays y, so training continues where it was. ``lr_max`` starts at -1:
    no step made yet.
"""

SGD_SCHEDULEFREE = Rule(
    "sgdschedulefree", "SGDScheduleFree", lr=1.0,
    params=(Param("momentum", 0.9, high=1.0, low_open=True, high_open=True),
            Param("weight_decay", 0.0), *_AVERAGING),
    state=(State("z"), State("x")), scalars=_SCALARS,
    constants=sgd_schedulefree_constants, loop=sgd_schedulefree_loop,
    eval_point="x",
    methods={"sgd_schedulefree": {}},
    examples=({"lr": 0.1}, {"lr": 0.1, "momentum": 0.5, "weight_decay": 0.01, "warmup_steps": 5,
                            "r": 1.0, "weight_lr_power": 1.0}),
    doc=r"""Schedule-Free SGD (Defazio et al., 2024, "The Road Less Scheduled",
    Algorithm 1 with an SGD base step), as ``schedulefree.SGDScheduleFreeReference``.
    """ + _EQUATIONS + r"""
    The base step is SGD with L2 weight decay at y, beta = ``momentum``::

        z_t = z_{t-1} - lr_t * (g_t + lambda * y_{t-1})

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.SGDScheduleFree(x, lr=0.1)
    >>> for _ in range(500):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(opt.eval_params()).max() < 0.01)
    True
    """)

ADAMW_SCHEDULEFREE = Rule(
    "adamwschedulefree", "AdamWScheduleFree", lr=2.5e-3, auto_lr=0.01,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-8),
            Param("weight_decay", 0.0), *_AVERAGING, Param("decay_at_z", False, kind="bool")),
    state=(State("z"), State("x"), State("exp_avg_sq", nonnegative=True)), scalars=_SCALARS,
    constants=adamw_schedulefree_constants, loop=adamw_schedulefree_loop,
    eval_point="x",
    methods={"adamw_schedulefree": {}},
    examples=({"lr": 0.05}, {"lr": 0.05, "betas": (0.8, 0.99), "weight_decay": 0.1,
                             "warmup_steps": 10, "r": 0.5},
              {"lr": 0.05, "weight_decay": 0.1, "decay_at_z": True, "weight_lr_power": 0.0}),
    doc=r"""Schedule-Free AdamW (Defazio et al., 2024, "The Road Less Scheduled",
    Algorithm 1 with an Adam base step), as ``schedulefree.AdamWScheduleFreeReference``,
    the winner of the AlgoPerf 2024 self-tuning track.
    """ + _EQUATIONS + r"""
    The base step is Adam without momentum (beta = beta1 does its work), with
    decoupled weight decay at y (or at z, ``decay_at_z``)::

        z_{t-1} <- z_{t-1} - lr_t * lambda * (y_{t-1} or z_{t-1})
        v_t     = beta2 * v_{t-1} + (1 - beta2) * g_t**2          (exp_avg_sq)
        z_t     = z_{t-1} - lr_t * g_t / (sqrt(v_t / (1 - beta2**t)) + eps)
    """)

sgdschedulefree_step = SGD_SCHEDULEFREE.step
adamwschedulefree_step = ADAMW_SCHEDULEFREE.step
