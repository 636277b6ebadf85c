"""Update rules as ``@njit`` kernels over flat float arrays, one module per rule.

Each rule's module holds its math (two serial jitted pieces, ``constants``
and ``loop``, with the equations and the paper) and its record, a
:class:`~fastgd.kernels.rule.Rule` (``ADAM``, ``SGD``, ...): the rule's
hyperparameters, state and defaults, from which the optimizer classes, the
engine, :func:`fastgd.minimize` and the tests take everything. This package
finds the records by itself: a new rule is a new module here.

For each rule there is a parallel step kernel ``<name>_step(params, grad,
s, sc, t, lr, h)`` (``adam_step``, ``sgd_step``, ...) to call from Python
or from your own ``@numba.njit`` code: ``params`` and ``grad`` are 1-D
float32 or float64 arrays of one dtype and size, ``s`` the tuple of the
rule's state arrays and ``sc`` its float64 scalar state (both from
``RULE.init_state(params, ...)``), ``t`` the step (1 for the first), ``lr``
the learning rate and ``h`` the hyperparameters (``RULE.hyper(...)``).
The kernels of the rules whose math is per tensor (LAMB, Adafactor: see
:mod:`fastgd.kernels.layout`) take an optional last argument ``seg``, the
segment table ``RULE.segments(params, shapes)``, with the state of
``RULE.init_state(params, shapes, ...)``; without it the vector is one segment.
Arithmetic is in the parameters' dtype. Below
``fastgd._numba.PARALLEL_THRESHOLD`` elements a kernel runs a serial loop;
above it, a ``prange`` over chunks. Kernels trust their inputs: the
optimizer classes in :mod:`fastgd.optim` validate them.
"""

import importlib
import pkgutil

from .clip import all_finite, clip_by_global_norm_, clip_by_value_, sum_of_squares
from .rule import Param, Rule, Scalar, State


def _discover():
    """The Rule records of this package's modules, in module order (then definition order)."""
    found = {}
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if info.name.startswith("_") or info.name in ("rule", "clip", "layout"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        for name, value in vars(module).items():
            if isinstance(value, Rule):
                if value.name in found:
                    raise RuntimeError(f"two update rules are named {value.name!r}")
                found[value.name] = (name, value)
    return found


_FOUND = _discover()
RULES = {key: rule for key, (_, rule) in _FOUND.items()}
globals().update({name: rule for name, rule in _FOUND.values()})
globals().update({f"{key}_step": rule.step for key, rule in RULES.items()})

__all__ = sorted(["Rule", "Param", "State", "Scalar", "RULES", "all_finite",
                  "clip_by_global_norm_", "clip_by_value_", "sum_of_squares",
                  *(name for name, _ in _FOUND.values()), *(f"{k}_step" for k in RULES)])
