"""Adam and AdamW: momentum plus a per-coordinate adaptive learning rate."""

import math

import numpy as np

from .._numba import cast_like, jit
from ._moments import decayed, moments
from .rule import Param, Rule, State

_BETAS = Param("betas", (0.9, 0.999), kind="betas")
_EPS = Param("eps", 1e-8)
_AMSGRAD = Param("amsgrad", False, kind="bool")
_STATE = (State("exp_avg"), State("exp_avg_sq", nonnegative=True),
          State("max_exp_avg_sq", when="amsgrad", nonnegative=True))


@jit
def adam_loop(w, g, s, k):
    exp_avg, exp_avg_sq, max_exp_avg_sq = s
    decay, l2, one_minus_beta1, beta2, one_minus_beta2, step_size, bc2_sqrt, eps, amsgrad = k
    for i in range(w.size):
        p, gi = decayed(w[i], g[i], decay, l2)
        m, v = moments(gi, exp_avg[i], exp_avg_sq[i], one_minus_beta1, beta2, one_minus_beta2)
        exp_avg[i] = m
        exp_avg_sq[i] = v
        if amsgrad:
            v = max(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        denom = np.sqrt(v) / bc2_sqrt + eps
        w[i] = p - step_size * (m / denom)


@jit
def _adam_constants(w, t, lr, beta1, beta2, eps, amsgrad, l2, decoupled):
    bc1 = 1.0 - beta1 ** t
    bc2 = 1.0 - beta2 ** t
    return (cast_like(1.0 - lr * decoupled, w), cast_like(l2, w), cast_like(1.0 - beta1, w),
            cast_like(beta2, w), cast_like(1.0 - beta2, w), cast_like(lr / bc1, w),
            cast_like(math.sqrt(bc2), w), cast_like(eps, w), amsgrad)


@jit
def adam_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, amsgrad = h
    return _adam_constants(w, t, lr, beta1, beta2, eps, amsgrad, weight_decay, 0.0)


@jit
def adamw_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, amsgrad = h
    return _adam_constants(w, t, lr, beta1, beta2, eps, amsgrad, 0.0, weight_decay)


ADAM = Rule(
    "adam", "Adam", lr=1e-3, auto_lr=0.01,
    params=(_BETAS, _EPS, Param("weight_decay", 0.0), _AMSGRAD),
    state=_STATE, constants=adam_constants, loop=adam_loop,
    methods={"adam": {}, "amsgrad": {"amsgrad": True}},
    examples=({"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.01, "amsgrad": True,
                             "betas": (0.8, 0.99)}),
    torch="Adam",
    doc=r"""Adam (Kingma & Ba, 2015, Algorithm 1) with the AMSGrad option, as ``torch.optim.Adam``.

    With t = 1 for the first step::

        g_t   = g_t + lambda * theta_{t-1}            (L2, if weight_decay != 0)
        m_t   = beta1 * m_{t-1} + (1 - beta1) * g_t    (exp_avg)
        v_t   = beta2 * v_{t-1} + (1 - beta2) * g_t**2 (exp_avg_sq)
        AMSGrad (Reddi, Kale & Kumar, 2018):  v_t = max(vmax_{t-1}, v_t) (max_exp_avg_sq)
        theta_t = theta_{t-1} - lr / (1 - beta1**t) * m_t / (sqrt(v_t) / sqrt(1 - beta2**t) + eps)

    Where frameworks differ: like PyTorch (and the paper's Algorithm 1), eps
    is added *after* the bias correction of sqrt(v_t), i.e. to
    sqrt(v_hat_t); the paper's section 2 "efficient version" adds an eps_hat
    to sqrt(v_t) instead, as TensorFlow does. Weight decay here is L2 added
    to the gradient; :class:`AdamW` decouples it. ``max_exp_avg_sq`` stays
    empty unless ``amsgrad``.

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0], dtype=np.float32)
    >>> opt = fastgd.Adam(x, lr=0.05)
    >>> for _ in range(500):
    ...     _ = opt.step(2 * x)
    >>> x.dtype, bool(np.abs(x).max() < 1e-2)
    (dtype('float32'), True)
    """)

ADAMW = Rule(
    "adamw", "AdamW", lr=1e-3, auto_lr=0.01,
    params=(_BETAS, _EPS, Param("weight_decay", 1e-2), _AMSGRAD),
    state=_STATE, constants=adamw_constants, loop=adam_loop,
    methods={"adamw": {}},
    examples=({"lr": 0.01}, {"lr": 0.01, "weight_decay": 0.1, "amsgrad": True}),
    torch="AdamW",
    doc=r"""AdamW (Loshchilov & Hutter, 2019, Algorithm 2): Adam with decoupled weight decay,
    as ``torch.optim.AdamW`` (default ``weight_decay=1e-2``).

    The parameters shrink by ``lr * weight_decay`` before the Adam step, and
    the decay never enters the moment estimates::

        theta_{t-1} <- theta_{t-1} * (1 - lr * lambda)
        then the Adam update with weight_decay = 0 (see :class:`Adam`).

    PyTorch (and so fastgd) multiplies the decay by the learning rate; the
    paper's schedule multiplier eta_t plays that role.
    """)

adam_step = ADAM.step
adamw_step = ADAMW.step
