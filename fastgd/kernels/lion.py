"""Lion: the sign of an interpolated momentum, found by program search."""

import numpy as np

from .._numba import FASTMATH_UNFUSED, cast_like, jit
from .rule import Param, Rule, State


@jit(fastmath=FASTMATH_UNFUSED)
def lion_loop(w, g, s, k):
    (exp_avg,) = s
    decay, lr, beta1, one_minus_beta1, beta2, one_minus_beta2 = k
    for i in range(w.size):
        gi = g[i]
        m = exp_avg[i]
        p = w[i]
        if decay != 1:
            p = p * decay
        c = beta1 * m + one_minus_beta1 * gi
        w[i] = p - lr * np.sign(c)
        exp_avg[i] = beta2 * m + one_minus_beta2 * gi


@jit
def lion_constants(w, t, lr, h, sc):
    beta1, beta2, weight_decay = h
    return (cast_like(1.0 - lr * weight_decay, w), cast_like(lr, w), cast_like(beta1, w),
            cast_like(1.0 - beta1, w), cast_like(beta2, w), cast_like(1.0 - beta2, w))


LION = Rule(
    "lion", "Lion", lr=1e-4, auto_lr=0.001,
    params=(Param("betas", (0.9, 0.99), kind="betas"), Param("weight_decay", 0.0)),
    state=(State("exp_avg"),),
    constants=lion_constants, loop=lion_loop,
    methods={"lion": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "betas": (0.95, 0.98), "weight_decay": 0.1}),
    doc=r"""Lion, EvoLved Sign Momentum (Chen et al., 2023, "Symbolic Discovery of
    Optimization Algorithms", Program 1), as ``lion_pytorch.Lion``.

    With (beta1, beta2) = ``betas`` and lambda = ``weight_decay``::

        theta_{t-1} <- theta_{t-1} * (1 - lr * lambda)          (decoupled weight decay)
        c_t     = beta1 * m_{t-1} + (1 - beta1) * g_t
        theta_t = theta_{t-1} - lr * sign(c_t)
        m_t     = beta2 * m_{t-1} + (1 - beta2) * g_t            (exp_avg)

    The loop is compiled without fused multiply-adds
    (``fastgd._numba.FASTMATH_UNFUSED``): every product and sum rounds as
    written, as in NumPy and PyTorch, so the sign of c_t near 0 does not
    depend on what the compiler fuses (a sign rule turns one rounding step
    into a full step of lr).

    Every coordinate moves by exactly lr (or 0), so Lion wants a learning
    rate 3-10x smaller than AdamW's, and a weight decay as much larger
    (the paper's advice). The decay is multiplied by lr, as in AdamW and
    ``lion_pytorch`` (its default ``decoupled_weight_decay=False``).

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.Lion(x, lr=0.01)
    >>> for _ in range(1000):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 0.05)
    True
    """)

lion_step = LION.step
