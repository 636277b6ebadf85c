"""Numerical gradients: finite differences and gradient checking.

* :func:`numerical_gradient` -- forward, central, Richardson-extrapolated or
  complex-step differences; for a numba ``@njit`` function the coordinates
  are evaluated in parallel in nopython mode.
* :func:`check_grad` -- compare a hand-written gradient with the numerical
  one and name the coordinates that disagree.

The kernels are in :mod:`fastgd.gradients._kernels`.
"""

from .check import Coordinate, GradCheck, check_grad
from .numerical import numerical_gradient

__all__ = ["numerical_gradient", "check_grad", "GradCheck", "Coordinate"]
