"""Stochastic gradient descent with momentum, dampening, Nesterov and L2."""

from .._numba import cast_like, jit
from .rule import Param, Rule, Scalar, State

STARTED = 0  # sc[STARTED]: 1 once the momentum buffer holds a gradient


@jit
def sgd_loop(w, g, s, k):
    (momentum_buffer,) = s
    first, lr, momentum, one_minus_dampening, nesterov, weight_decay = k
    for i in range(w.size):
        d = g[i]
        if weight_decay != 0:
            d = d + weight_decay * w[i]
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
        w[i] = w[i] - lr * d


@jit
def sgd_constants(w, t, lr, h, sc):
    momentum, dampening, nesterov, weight_decay = h
    first = sc[STARTED] == 0.0
    if momentum != 0.0:
        sc[STARTED] = 1.0
    return (first, cast_like(lr, w), cast_like(momentum, w), cast_like(1.0 - dampening, w),
            nesterov, cast_like(weight_decay, w))


def _check_nesterov(h):
    if h["nesterov"] and (h["momentum"] <= 0 or h["dampening"] != 0):
        raise ValueError("nesterov=True requires momentum > 0 and dampening = 0, got "
                         f"momentum={h['momentum']!r}, dampening={h['dampening']!r}")


SGD = Rule(
    "sgd", "SGD", lr=1e-3, auto_lr="curvature",
    params=(Param("momentum", 0.0), Param("dampening", 0.0), Param("nesterov", False, kind="bool"),
            Param("weight_decay", 0.0)),
    state=(State("momentum_buffer", when="momentum", resets="momentum_started"),),
    scalars=(Scalar("momentum_started", 0.0, low=0.0, high=1.0),),
    constants=sgd_constants, loop=sgd_loop,
    check_combination=_check_nesterov,
    invalid=(({"nesterov": True}, "nesterov"),
             ({"nesterov": True, "momentum": 0.9, "dampening": 0.1}, "dampening")),
    methods={"gd": {}, "momentum": {"momentum": 0.9},
             "nesterov": {"momentum": 0.9, "nesterov": True}},
    examples=({"lr": 0.05}, {"lr": 0.05, "momentum": 0.9, "dampening": 0.1},
              {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.01}),
    torch="SGD",
    doc=r"""Stochastic gradient descent, optionally with momentum, as ``torch.optim.SGD``.

    With gradient g_t, parameters theta, mu = ``momentum``, tau =
    ``dampening``, lambda = ``weight_decay``, gamma = ``lr``::

        g_t   = g_t + lambda * theta_{t-1}                 (if lambda != 0)
        b_t   = g_t                                         (the buffer's first step)
        b_t   = mu * b_{t-1} + (1 - tau) * g_t              (later steps)
        g_t   = g_t + mu * b_t   (nesterov)   or   g_t = b_t   (if mu != 0)
        theta_t = theta_{t-1} - gamma * g_t

    This is Sutskever et al. (2013)'s momentum in PyTorch's form: the
    learning rate multiplies the velocity, and the buffer starts at the first
    gradient it sees, without dampening (``momentum_started`` records that
    it has).

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.SGD(x, lr=0.1, momentum=0.5)
    >>> for _ in range(200):
    ...     _ = opt.step(2 * x)          # gradient of |x|^2
    >>> bool(np.abs(x).max() < 1e-6)
    True
    """)

sgd_step = SGD.step
