"""The methods of :func:`fastgd.minimize`: names for fastgd's update rules.

A method is an update rule of :mod:`fastgd.kernels` plus default options,
declared in the rule's record (``Rule.methods``: "momentum" is SGD with
momentum 0.9, "amsgrad" is Adam with amsgrad=True). The rule's optimizer
class validates the options (its names, defaults and error messages carry
over) and builds the state; :func:`fastgd.engine.step.pack` turns it into
the arrays the compiled loop takes, and the rule's serial ``apply`` makes
each update, the same pieces the fused training epochs use.

The update is serial: minimize's problems are small next to the cost of a
parallel region per iteration (for a million-dimensional x, use an optimizer
object and its parallel kernels directly).
"""

from dataclasses import dataclass, field

import numpy as np

from ..engine.step import pack as _pack
from ..kernels import RULES as _RULES


@dataclass(frozen=True)
class Method:
    """A minimize method: an update rule (its record) and the options that make it."""

    rule: object                                    # a fastgd.kernels.Rule
    defaults: dict = field(default_factory=dict)

    @property
    def optimizer(self):
        """The optimizer class of the rule."""
        from ..optim import OPTIMIZERS
        return OPTIMIZERS[self.rule.name]


RULES = {name: Method(rule, dict(options))
         for rule in _RULES.values() for name, options in rule.methods.items()}


def pack(method, x, options):
    """The packed optimizer (:class:`fastgd.engine.step.Update`) for ``method`` over x's size."""
    return _pack(method.optimizer(np.zeros_like(x), **options))
