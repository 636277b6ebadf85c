"""Test functions shared by the gradient and minimize tests.

Sharing the ``@njit`` objects means the kernels that take them as arguments
compile once per test session, not once per test file.
"""

import numpy as np
from numba import njit


@njit
def rosen(x):
    """The chained Rosenbrock function, minimum 0 at (1, ..., 1)."""
    s = 0.0
    for i in range(x.size - 1):
        t = x[i + 1] - x[i] * x[i]
        s += 100.0 * t * t + (1.0 - x[i]) * (1.0 - x[i])
    return s


@njit
def rosen_grad(x):
    g = np.zeros_like(x)
    for i in range(x.size - 1):
        t = x[i + 1] - x[i] * x[i]
        g[i] += -400.0 * x[i] * t - 2.0 * (1.0 - x[i])
        g[i + 1] += 200.0 * t
    return g
