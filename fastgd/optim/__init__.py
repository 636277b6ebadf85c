"""Optimizer objects: the thin Python API over :mod:`fastgd.kernels`.

One class per update rule, made from the rule's record with PyTorch's
argument names and defaults (``fastgd.Adam``, ``fastgd.SGD``, ...). Each
takes one flat float32/float64 parameter array and updates it in place on
``step(grad)``. The shared machinery (validation, clipping, the non-finite
guard, state dicts) is :class:`fastgd.optim.Optimizer`.
"""

from ..kernels import RULES
from .optimizer import Optimizer, optimizer_class

#: lower-case rule name -> optimizer class, for every rule of :mod:`fastgd.kernels`
OPTIMIZERS = {name: optimizer_class(rule) for name, rule in RULES.items()}

globals().update({cls.__name__: cls for cls in OPTIMIZERS.values()})

__all__ = ["Optimizer", "OPTIMIZERS", "optimizer_class",
           *sorted(cls.__name__ for cls in OPTIMIZERS.values())]
