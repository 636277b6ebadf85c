"""Update-rule kernels: in-place ``@njit`` functions over flat float arrays.

Call them from Python or from your own ``@numba.njit`` code. Every kernel
takes ``(params, grad, *state, step, lr, *hyperparameters)``: 1-D float32 or
float64 arrays of one dtype and size, updated in place with arithmetic in
that dtype. ``step`` counts from 1. Below ``fastgd._numba.PARALLEL_THRESHOLD``
elements a kernel runs a serial loop; above it, a ``prange`` over chunks.
Kernels trust their inputs: the optimizer classes in :mod:`fastgd.optim`
validate them.

Each kernel's docstring carries its equations and its paper.
"""

from .adagrad import adagrad_step
from .adam import adam_step, adamw_step
from .adamax import adamax_step
from .asgd import asgd_schedule, asgd_step
from .clip import all_finite, clip_by_global_norm_, clip_by_value_, sum_of_squares
from .nadam import nadam_momentum, nadam_step
from .radam import radam_rectification, radam_step
from .rmsprop import rmsprop_step
from .sgd import sgd_step

__all__ = [
    "adagrad_step", "adam_step", "adamw_step", "adamax_step", "asgd_schedule",
    "asgd_step", "all_finite", "clip_by_global_norm_", "clip_by_value_",
    "sum_of_squares", "nadam_momentum", "nadam_step", "radam_rectification",
    "radam_step", "rmsprop_step", "sgd_step",
]
