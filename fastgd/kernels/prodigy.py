"""Prodigy: Adam whose step size D estimates the distance to the solution."""

import math

import numpy as np

from .._numba import cast_like, jit
from .rule import Param, Rule, Scalar, State, chunk_sum

D, D_MAX, D_NUMERATOR, STARTED = 0, 1, 2, 3  # sc
DOT, ABS_S = 0, 1                            # the sums of the reduction stage


@jit
def prodigy_constants(w, t, lr, h, sc):
    beta1, beta2, eps, weight_decay, decouple, use_bias_correction, safeguard_warmup, d0, \
        d_coef = h
    first = sc[STARTED] == 0.0
    sc[STARTED] = 1.0
    d = sc[D]
    bias = math.sqrt(1.0 - beta2 ** t) / (1.0 - beta1 ** t) if use_bias_correction else 1.0
    dlr = d * lr * bias
    beta3 = math.sqrt(beta2)
    s_rate = d / d0 * (d if safeguard_warmup else dlr)
    l2 = 0.0 if decouple else weight_decay
    decay = 1.0 - weight_decay * dlr if decouple else 1.0
    # (the last two: filled in by prodigy_combine, once the sums are known)
    return (first, cast_like(l2, w), cast_like(beta1, w), cast_like(d * (1.0 - beta1), w),
            cast_like(beta2, w), cast_like(d * d * (1.0 - beta2), w), cast_like(beta3, w),
            cast_like(s_rate, w), cast_like(decay, w), cast_like(dlr, w),
            d0, d_coef, beta3, d / d0 * dlr, eps, cast_like(0.0, w), False)


@jit
def prodigy_reduce(w, g, s, k, out):
    p0, s_sum, exp_avg, exp_avg_sq = s
    first, l2, beta1, m_rate, beta2, v_rate, beta3, s_rate = k[:8]
    dot = 0.0
    abs_s = 0.0
    for i in range(w.size):
        p = w[i]
        if first:  # the starting point x_0
            p0[i] = p
        gi = g[i]
        if l2 != 0:
            gi = gi + l2 * p
        dot += gi * (p0[i] - p)
        exp_avg[i] = beta1 * exp_avg[i] + m_rate * gi
        exp_avg_sq[i] = beta2 * exp_avg_sq[i] + v_rate * gi * gi
        si = beta3 * s_sum[i] + s_rate * gi
        s_sum[i] = si
        abs_s += abs(si)
    out[DOT] = dot
    out[ABS_S] = abs_s


@jit
def prodigy_combine(w, k, partial, sc):
    d0, d_coef, beta3, dot_rate, eps = k[10:15]
    dot = chunk_sum(partial, DOT)
    abs_s = chunk_sum(partial, ABS_S)
    if abs_s == 0.0:  # no direction yet: no step, D as it was
        return k
    numerator = sc[D_NUMERATOR] * beta3 + dot_rate * dot
    d_max = max(sc[D_MAX], d_coef * numerator / abs_s)
    # D = min(d_max, D * growth_rate), growth_rate = inf: D = d_max
    sc[D_NUMERATOR], sc[D], sc[D_MAX] = numerator, d_max, d_max
    return k[:15] + (cast_like(d_max * eps, w), True)


@jit
def prodigy_loop(w, g, s, k):
    p0, s_sum, exp_avg, exp_avg_sq = s
    decay, dlr = k[8:10]
    d_eps, apply = k[15:17]
    if not apply:
        return
    for i in range(w.size):
        p = w[i]
        if decay != 1:
            p = p * decay
        w[i] = p - dlr * (exp_avg[i] / (np.sqrt(exp_avg_sq[i]) + d_eps))


PRODIGY = Rule(
    "prodigy", "Prodigy", lr=1.0,
    params=(Param("betas", (0.9, 0.999), kind="betas"), Param("eps", 1e-8, low_open=True),
            Param("weight_decay", 0.0), Param("decouple", True, kind="bool"),
            Param("use_bias_correction", False, kind="bool"),
            Param("safeguard_warmup", False, kind="bool"),
            Param("d0", 1e-6, low_open=True), Param("d_coef", 1.0, low_open=True)),
    state=(State("p0"), State("s"), State("exp_avg"), State("exp_avg_sq", nonnegative=True)),
    scalars=(Scalar("d", "d0", low=0.0, low_open=True), Scalar("d_max", "d0", low=0.0, low_open=True),
             Scalar("d_numerator", 0.0), Scalar("started", 0.0, low=0.0, high=1.0)),
    constants=prodigy_constants, loop=prodigy_loop,
    reduce=prodigy_reduce, combine=prodigy_combine, n_sums=2,
    methods={"prodigy": {}},
    examples=({"lr": 1.0}, {"lr": 1.0, "weight_decay": 0.01, "use_bias_correction": True,
                            "d0": 1e-4},
              {"lr": 0.5, "weight_decay": 0.01, "decouple": False, "safeguard_warmup": True,
               "betas": (0.8, 0.99), "d_coef": 0.5}),
    doc=r"""Prodigy (Mishchenko & Defazio, 2024, "Prodigy: An Expeditiously Adaptive
    Parameter-Free Learner", Algorithm 4, the Adam version), as ``prodigyopt.Prodigy``
    1.1.2 (with beta3 = sqrt(beta2), growth_rate = inf, slice_p = 1).

    Adam whose step size D_t estimates the distance from the starting point
    x_0 (``p0``) to the solution; lr stays 1 (a multiplier of D, for
    schedules). With t = 1 for the first step, D_0 = ``d0``, beta3 = sqrt(beta2)::

        g_t    = g_t + lambda * theta_{t-1}                   (decouple=False only)
        eta_t  = D_{t-1} * lr * (sqrt(1 - beta2**t) / (1 - beta1**t) if use_bias_correction else 1)
        r_t    = beta3 * r_{t-1} + (D_{t-1} / d0) * eta_t * <g_t, x_0 - theta_{t-1}>   (d_numerator)
        m_t    = beta1 * m_{t-1} + D_{t-1} * (1 - beta1) * g_t                        (exp_avg)
        v_t    = beta2 * v_{t-1} + D_{t-1}**2 * (1 - beta2) * g_t**2                  (exp_avg_sq)
        s_t    = beta3 * s_{t-1} + (D_{t-1} / d0) * (D_{t-1} if safeguard_warmup else eta_t) * g_t
        D_t    = max(D_{t-1}, d_coef * r_t / |s_t|_1)                 (d = d_max)
        theta_t = theta_{t-1} * (1 - lambda * eta_t)                 (decouple=True only)
        theta_t = theta_t - eta_t * m_t / (sqrt(v_t) + D_t * eps)

    <., .> and |.|_1 run over the whole vector: the rule's reduction stage
    sums them per ``CHUNK`` and adds the chunks in order, so a step has the
    same bits whatever the thread count. While |s_t|_1 = 0 (a zero
    gradient so far) the moments move but theta and D do not, as in
    prodigyopt (whose step counter then also stays; fastgd's counts on).

    >>> import numpy as np, fastgd
    >>> x = np.array([3.0, -2.0])
    >>> opt = fastgd.Prodigy(x)
    >>> for _ in range(500):
    ...     _ = opt.step(2 * x)
    >>> bool(np.abs(x).max() < 0.01)
    True
    """)

prodigy_step = PRODIGY.step
