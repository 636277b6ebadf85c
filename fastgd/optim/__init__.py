"""Optimizer objects: the thin Python API over :mod:`fastgd.kernels`.

One class per update rule, with PyTorch's argument names and defaults. Each
takes one flat float32/float64 parameter array and updates it in place on
``step(grad)``. Shared machinery (validation, clipping, the non-finite guard,
state dicts) is in :mod:`fastgd.optim.optimizer`.
"""

from .adagrad import Adagrad
from .adam import Adam, AdamW
from .adamax import Adamax
from .asgd import ASGD
from .nadam import NAdam
from .optimizer import Optimizer
from .radam import RAdam
from .rmsprop import RMSprop
from .sgd import SGD

OPTIMIZERS = {cls.__name__.lower(): cls for cls in
              (SGD, Adagrad, RMSprop, Adam, AdamW, Adamax, NAdam, RAdam, ASGD)}

__all__ = ["Optimizer", "SGD", "Adagrad", "RMSprop", "Adam", "AdamW", "Adamax", "NAdam",
           "RAdam", "ASGD", "OPTIMIZERS"]
