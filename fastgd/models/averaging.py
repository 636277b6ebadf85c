r"""Polyak-Ruppert averaging of the iterates of any update rule (``average=`` of the linear models).

:func:`averaged_rule` wraps a :class:`fastgd.kernels.Rule` into one more
rule record, so the fused epoch of :mod:`fastgd.engine` runs it like any
other (no extra pass over X: the average is updated element by element right
after each step's update). Its state is the wrapped rule's plus the array
``average`` (the running mean) and the scalars ``n_averaged`` (iterates in
the mean) and ``samples_seen``; its hyperparameters the wrapped rule's plus
``average_start``, the first step whose iterate enters the mean. After step
t, with w_t the wrapped rule's iterate:

    if t >= average_start:   n <- n + 1,   average <- average + (w_t - average) / n

so ``average`` is the mean of the iterates w_{t0}, ..., w_t since the start
t0 (for n = 1 it is w_t exactly). Being optimizer state, the mean, its
count and the samples seen go with ``state_dict()``, snapshots (early
stopping's best epoch, divergence), ``partial_fit`` and model files.

scikit-learn's ``SGDRegressor(average=k)`` averages the iterates from the
k-th sample on (True: from the first). The estimator sets ``average_start``
before each epoch from ``samples_seen`` and the epoch's batches: the first
step whose batch brings the samples seen to k (with ``batch_size=1``
scikit-learn's iterate for iterate). Once averaging has started it goes on
to the end.
"""

import math
from dataclasses import replace

import numpy as np

from .._numba import cast_like, jit
from .._specialize import specialize
from ..kernels.rule import Param, Scalar, State

#: an ``average_start`` beyond any step count: no averaging in this epoch
NEVER = 1e300


def _constants(w, t, lr, h, sc):
    k = inner_constants(w, t, lr, h[:-1], sc)  # noqa: F821 (bound by specialize)
    mu = 0.0
    if t >= h[-1]:
        n = sc[N_AVERAGED] + 1.0  # noqa: F821
        sc[N_AVERAGED] = n  # noqa: F821
        mu = 1.0 / n
    # one flat tuple, the rule's constants then mu: a prange body cannot take a nested one
    return k + (cast_like(mu, w),)


@jit(inline="always")
def _average(w, avg, mu):
    if mu != 0:
        for i in range(w.size):
            avg[i] = avg[i] + (w[i] - avg[i]) * mu


def _loop(w, g, s, k):
    inner_loop(w, g, s[:-1], k[:-1])  # noqa: F821 (bound by specialize)
    _average(w, s[-1], k[-1])


def _matrix(w, g, s, k, cols):
    inner_matrix(w, g, s[:-1], k[:-1], cols)  # noqa: F821 (bound by specialize)
    _average(w, s[-1], k[-1])


def _reduce(w, g, s, k, out):
    inner_reduce(w, g, s[:-1], k[:-1], out)  # noqa: F821 (bound by specialize)


def _combine(w, k, partial, sc):
    return inner_combine(w, k[:-1], partial, sc) + k[-1:]  # noqa: F821 (bound by specialize)


_RULES = {}


def averaged_rule(rule):
    """The rule ``rule`` with Polyak-Ruppert averaging (see the module docstring)."""
    if rule.name not in _RULES:
        n_averaged = len(rule.scalars)
        constants = specialize(_constants, inner_constants=rule.constants,
                               N_AVERAGED=n_averaged)
        loop = specialize(_loop, inner_loop=rule.loop)
        stage = {}
        if rule.reduce is not None:   # the reduction stage sees the wrapped rule's state
            stage = dict(reduce=specialize(_reduce, inner_reduce=rule.reduce),
                         combine=specialize(_combine, inner_combine=rule.combine))
        if rule.matrix is not None:   # and so does the step of a matrix of the layout
            stage["matrix"] = specialize(_matrix, inner_matrix=rule.matrix)
        _RULES[rule.name] = replace(
            rule, name=f"{rule.name}_averaged", class_name=f"Averaged{rule.class_name}",
            params=rule.params + (Param("average_start", 1.0, low=1.0),),
            state=rule.state + (State("average"),),
            scalars=rule.scalars + (Scalar("n_averaged", 0.0, low=0.0),
                                    Scalar("samples_seen", 0.0, low=0.0)),
            constants=constants, loop=loop, methods={}, torch=None, extras=dict(rule.extras),
            **stage,
            doc=rule.doc + "\n\n    With Polyak-Ruppert averaging of the iterates "
                           "(``state['average']``; see :mod:`fastgd.models.averaging`).")
    return _RULES[rule.name]


_CLASSES = {}


def averaged_optimizer_class(name):
    """The optimizer class of :func:`averaged_rule` of ``fastgd.OPTIMIZERS[name]``'s rule."""
    from ..optim import OPTIMIZERS, optimizer_class

    if name not in _CLASSES:
        cls = optimizer_class(averaged_rule(OPTIMIZERS[name].rule))
        cls.__module__ = __name__        # pickle finds it here (see __getattr__)
        _CLASSES[name] = cls
    return _CLASSES[name]


def __getattr__(name):
    """``AveragedAdam`` and the like: the averaged optimizer classes, made on first use."""
    from ..optim import OPTIMIZERS

    for key, cls in OPTIMIZERS.items():
        if name == f"Averaged{cls.__name__}":
            return averaged_optimizer_class(key)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_average(value):
    """``average``: False/0 (off), True (from the first sample) or an int k >= 1; as an int."""
    if isinstance(value, (bool, np.bool_)):
        return int(bool(value))
    if isinstance(value, (int, np.integer)) and value >= 0:
        return int(value)
    raise ValueError(f"average must be a bool or an integer >= 0 (the samples after which "
                     f"averaging starts), got {value!r}")


def start_step(average, samples_seen, t, n_rows, batch_size):
    """The step (numbered as the optimizer counts them) from which to average, for an epoch of
    ``n_rows`` rows in batches of ``batch_size`` (None: one batch) after ``t`` steps and
    ``samples_seen`` samples; :data:`NEVER` when the epoch does not reach ``average``."""
    need = average - samples_seen
    if need <= 0:
        return float(t + 1)
    if need > n_rows:
        return NEVER
    batch = n_rows if batch_size is None else min(batch_size, n_rows)
    return float(t + math.ceil(need / batch))

