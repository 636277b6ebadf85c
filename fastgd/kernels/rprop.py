"""Rprop: per-coordinate step sizes that grow while the gradient keeps its sign."""

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, Scalar, State

STARTED = 0  # sc[STARTED]: 1 once the step sizes hold the starting learning rate


@jit
def rprop_loop(w, g, s, k):
    prev, step_size = s
    first, lr, eta_minus, eta_plus, step_min, step_max = k
    zero = cast_like(0.0, w)
    one = cast_like(1.0, w)
    for i in range(w.size):
        gi = g[i]
        if first:  # a fresh start: Delta = lr, no previous gradient
            ss = lr
            d = zero
        else:
            ss = step_size[i]
            d = gi * prev[i]
        if d > 0:
            f = eta_plus
        elif d < 0:
            f = eta_minus
        else:
            f = one
        ss = min(max(ss * f, step_min), step_max)
        step_size[i] = ss
        if d < 0:
            gi = zero
        w[i] = w[i] - np.sign(gi) * ss
        prev[i] = gi


@jit
def rprop_constants(w, t, lr, h, sc):
    eta_minus, eta_plus, step_min, step_max = h
    first = sc[STARTED] == 0.0
    sc[STARTED] = 1.0
    return (first, cast_like(lr, w), cast_like(eta_minus, w), cast_like(eta_plus, w),
            cast_like(step_min, w), cast_like(step_max, w))


def _check_step_sizes(h):
    low, high = h["step_sizes"]
    if low > high:
        raise ValueError(f"step_sizes must be (min, max) with min <= max, got {h['step_sizes']!r}")


RPROP = Rule(
    "rprop", "Rprop", lr=1e-2, auto_lr=0.01,
    params=(Param("etas", (0.5, 1.2), kind="pair", low=(0.0, 1.0), high=(1.0, None),
                  low_open=True, high_open=True),
            Param("step_sizes", (1e-6, 50.0), kind="pair", low=0.0, low_open=(False, True))),
    state=(State("prev"), State("step_size", nonnegative=True, resets="step_size_started")),
    scalars=(Scalar("step_size_started", 0.0, low=0.0, high=1.0),),
    constants=rprop_constants, loop=rprop_loop,
    check_combination=_check_step_sizes,
    invalid=(({"step_sizes": (1.0, 0.5)}, "step_sizes"),),
    methods={"rprop": {}},
    examples=({"lr": 0.01}, {"lr": 0.05, "etas": (0.3, 1.5), "step_sizes": (1e-3, 0.2)}),
    torch="Rprop",
    doc=r"""Rprop (Riedmiller & Braun, 1993, "A direct adaptive method for faster
    backpropagation learning: the RPROP algorithm"), as ``torch.optim.Rprop``
    (the variant without weight backtracking, often called Rprop-).

    Each coordinate has its own step size Delta (``step_size``, Delta_0 =
    lr), driven by the sign of g_t * g_{t-1} (``prev`` holds g_{t-1})::

        s_t     = sign(g_t * g_{t-1})
        Delta_t = clip(Delta_{t-1} * (eta_plus if s_t > 0, eta_minus if s_t < 0, 1 if s_t = 0),
                       step_min, step_max)
        g_t     = 0                                         (if s_t < 0: the sign flipped)
        theta_t = theta_{t-1} - sign(g_t) * Delta_t
        g_{t-1} <- g_t                                      (prev, 0 after a flip)

    with (eta_minus, eta_plus) = ``etas`` and (step_min, step_max) =
    ``step_sizes``. The step uses only the gradient's sign: it suits full
    batches, not noisy mini-batches. As in PyTorch, the learning rate only
    seeds the step sizes, on the first step (``step_size_started`` records
    that it has); a later change of lr, or a schedule, has no effect.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.Rprop(x, lr=0.1)
    >>> for _ in range(200):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 1e-6)
    True
    """)

rprop_step = RPROP.step
