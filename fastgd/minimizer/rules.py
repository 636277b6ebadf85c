"""The methods of :func:`fastgd.minimize`: names for fastgd's update rules.

A method is an optimizer of :mod:`fastgd.optim` plus default options
("momentum" is SGD with momentum 0.9, "amsgrad" is Adam with amsgrad=True).
The optimizer class validates the options (its names, defaults and error
messages carry over) and builds the state; :func:`fastgd.engine.rules.pack`
turns it into the rule id and flat arrays that the compiled loop takes, and
:func:`fastgd.engine.rules.apply` makes each update, the same dispatch the
fused training epochs use. Every method shares one compiled driver per
dtype.

The update is serial: minimize's problems are small next to the cost of a
parallel region per iteration (for a million-dimensional x, use an optimizer
object and its parallel kernels directly).
"""

from dataclasses import dataclass, field

import numpy as np

import fastgd

from ..engine.rules import pack as _pack


@dataclass(frozen=True)
class Method:
    """A minimize method: an optimizer of :mod:`fastgd.optim` and the options that make it."""

    optimizer: str                                  # key of fastgd.OPTIMIZERS
    defaults: dict = field(default_factory=dict)


RULES = {
    "gd": Method("sgd"),
    "momentum": Method("sgd", {"momentum": 0.9}),
    "nesterov": Method("sgd", {"momentum": 0.9, "nesterov": True}),
    "adagrad": Method("adagrad"),
    "rmsprop": Method("rmsprop"),
    "adam": Method("adam"),
    "amsgrad": Method("adam", {"amsgrad": True}),
    "adamw": Method("adamw"),
    "adamax": Method("adamax"),
    "nadam": Method("nadam"),
    "radam": Method("radam"),
    "asgd": Method("asgd"),
}


def pack(method, x, options):
    """The packed optimizer (:class:`fastgd.engine.rules.Packed`) for ``method`` over x's size."""
    cls = fastgd.OPTIMIZERS[method.optimizer]
    return _pack(cls(np.zeros_like(x), **options))
