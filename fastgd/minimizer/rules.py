"""The methods of :func:`fastgd.minimize`: each one a fastgd optimizer's kernel.

``minimize`` keeps a rule's state in three flat containers so that one
driver loop serves every rule: ``rows`` (a 2-D array, one row per state
array, in x's dtype), ``scalars`` (float64: NAdam's momentum product, ASGD's
eta and mu) and ``hyper`` (float64 hyperparameters, booleans as 0/1). A
rule's step function unpacks them and calls its kernel from
:mod:`fastgd.kernels`::

    step(x, g, rows, scalars, hyper, t, lr)      # t = 1 for the first update

The optimizer classes of :mod:`fastgd.optim` validate the options and build
the initial state, so ``minimize`` takes their argument names, defaults and
error messages. Methods that differ only in their options ("gd",
"momentum", "nesterov"; "adam", "amsgrad", "adamw") share one step
function and so one compiled driver.

The step functions call parallel kernels, so they are compiled with
``cache=False`` (a cached caller of a parallel kernel can crash when loaded
back from numba's cache: see :mod:`fastgd._numba`); they are small, and the
kernels they call stay cached.
"""

from dataclasses import dataclass, field

import numpy as np

from .._numba import jit
from ..kernels import (adagrad_step, adam_step, adamax_step, adamw_step, asgd_schedule, asgd_step,
                       nadam_step, radam_step, rmsprop_step, sgd_step)


@jit(cache=False)
def sgd_rule(x, g, rows, scalars, hyper, t, lr):
    sgd_step(x, g, rows[0], t, lr, hyper[0], hyper[1], hyper[2] != 0.0, hyper[3])


@jit(cache=False)
def adagrad_rule(x, g, rows, scalars, hyper, t, lr):
    adagrad_step(x, g, rows[0], t, lr, hyper[0], hyper[1], hyper[2])


@jit(cache=False)
def rmsprop_rule(x, g, rows, scalars, hyper, t, lr):
    rmsprop_step(x, g, rows[0], rows[1], rows[2], t, lr, hyper[0], hyper[1], hyper[2], hyper[3],
                 hyper[4] != 0.0)


@jit(cache=False)
def adam_rule(x, g, rows, scalars, hyper, t, lr):
    if hyper[5] != 0.0:  # decoupled weight decay
        adamw_step(x, g, rows[0], rows[1], rows[2], t, lr, hyper[0], hyper[1], hyper[2],
                   hyper[3], hyper[4] != 0.0)
    else:
        adam_step(x, g, rows[0], rows[1], rows[2], t, lr, hyper[0], hyper[1], hyper[2],
                  hyper[3], hyper[4] != 0.0)


@jit(cache=False)
def adamax_rule(x, g, rows, scalars, hyper, t, lr):
    adamax_step(x, g, rows[0], rows[1], t, lr, hyper[0], hyper[1], hyper[2], hyper[3])


@jit(cache=False)
def nadam_rule(x, g, rows, scalars, hyper, t, lr):
    scalars[0] = nadam_step(x, g, rows[0], rows[1], t, scalars[0], lr, hyper[0], hyper[1],
                            hyper[2], hyper[3], hyper[4], hyper[5] != 0.0)


@jit(cache=False)
def radam_rule(x, g, rows, scalars, hyper, t, lr):
    radam_step(x, g, rows[0], rows[1], t, lr, hyper[0], hyper[1], hyper[2], hyper[3],
               hyper[4] != 0.0)


@jit(cache=False)
def asgd_rule(x, g, rows, scalars, hyper, t, lr):
    asgd_step(x, g, rows[0], scalars[0], scalars[1], hyper[0], hyper[3])
    eta, mu = asgd_schedule(t, lr, hyper[0], hyper[1], hyper[2])
    scalars[0] = eta
    scalars[1] = mu


@dataclass(frozen=True)
class Rule:
    """How a method maps onto an optimizer of :mod:`fastgd.optim`."""

    optimizer: str                 # key of fastgd.OPTIMIZERS
    step: object                   # the jitted step function
    rows: tuple                    # optimizer state arrays, in ``rows`` order
    hyper: tuple                   # hyperparameters, in ``hyper`` order ("betas" gives two)
    scalars: tuple = ()            # optimizer state scalars, in ``scalars`` order
    defaults: dict = field(default_factory=dict)   # options that make the method
    extra: tuple = ()              # constants appended to ``hyper``


_SGD = dict(optimizer="sgd", step=sgd_rule, rows=("momentum_buffer",),
            hyper=("momentum", "dampening", "nesterov", "weight_decay"))
_ADAM = dict(step=adam_rule, rows=("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
             hyper=("betas", "eps", "weight_decay", "amsgrad"))

RULES = {
    "gd": Rule(**_SGD),
    "momentum": Rule(**_SGD, defaults={"momentum": 0.9}),
    "nesterov": Rule(**_SGD, defaults={"momentum": 0.9, "nesterov": True}),
    "adagrad": Rule("adagrad", adagrad_rule, ("sum",), ("lr_decay", "weight_decay", "eps")),
    "rmsprop": Rule("rmsprop", rmsprop_rule, ("square_avg", "grad_avg", "momentum_buffer"),
                    ("alpha", "eps", "weight_decay", "momentum", "centered")),
    "adam": Rule("adam", **_ADAM, extra=(0.0,)),
    "amsgrad": Rule("adam", **_ADAM, defaults={"amsgrad": True}, extra=(0.0,)),
    "adamw": Rule("adamw", **_ADAM, extra=(1.0,)),
    "adamax": Rule("adamax", adamax_rule, ("exp_avg", "exp_inf"), ("betas", "eps", "weight_decay")),
    "nadam": Rule("nadam", nadam_rule, ("exp_avg", "exp_avg_sq"),
                  ("betas", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay"),
                  scalars=("mu_product",)),
    "radam": Rule("radam", radam_rule, ("exp_avg", "exp_avg_sq"),
                  ("betas", "eps", "weight_decay", "decoupled_weight_decay")),
    "asgd": Rule("asgd", asgd_rule, ("ax",), ("lambd", "alpha", "t0", "weight_decay"),
                 scalars=("eta", "mu")),
}


def pack(rule, optimizer):
    """(rows, scalars, hyper) for ``rule`` from a freshly built ``optimizer``."""
    params = optimizer.params
    rows = np.zeros((len(rule.rows), params.size), dtype=params.dtype)
    for j, name in enumerate(rule.rows):
        arr = optimizer.state[name]
        if arr.size == params.size:   # lazily allocated state is still empty: zeros
            rows[j] = arr
    scalars = np.array([float(optimizer.state[name]) for name in rule.scalars], dtype=np.float64)
    hyper = []
    for name in rule.hyper:
        value = optimizer._hyper[name]
        hyper.extend(value if name == "betas" else (float(value),))
    hyper.extend(rule.extra)
    return rows, scalars, np.array(hyper, dtype=np.float64)
