"""Regression losses: squared error and Huber."""

from .._numba import jit
from ._rows import objective_kernel, single_output_rows


@jit
def squared_pointwise(z, y, param):
    """l = (z - y)**2 / 2, dl/dz = z - y."""
    r = z - y
    return 0.5 * r * r, r


@jit
def huber_pointwise(z, y, delta):
    """Huber (1964) with threshold delta: quadratic near 0, linear beyond.

    l = r**2 / 2 for |r| <= delta, delta * (|r| - delta / 2) beyond; dl/dz
    = r, clipped to [-delta, delta] (r = z - y).
    """
    r = z - y
    if abs(r) <= delta:
        return 0.5 * r * r, r
    if r > 0:
        return delta * (r - 0.5 * delta), delta
    return delta * (-r - 0.5 * delta), -delta


squared_error_rows = single_output_rows(squared_pointwise)
squared_error_kernel = objective_kernel(squared_error_rows)
squared_error_kernel.__doc__ = r"""Squared error (least squares) loss and gradient, in one pass.

    L(w) = (1/n) sum_i s_i (x_i . W + b - y_i)**2 / 2 + alpha_2/2 ||W||^2 + alpha_1 ||W||_1
    dL/dW = (1/n) sum_i s_i r_i x_i + alpha_2 W + alpha_1 sign(W),  dL/db = (1/n) sum_i s_i r_i

``squared_error_kernel(w, X, y, sw, hyper, grad) -> loss``; see
:mod:`fastgd.losses` for the argument layout.
"""

huber_rows = single_output_rows(huber_pointwise)
huber_kernel = objective_kernel(huber_rows)
huber_kernel.__doc__ = r"""Huber loss (robust regression) and gradient, in one pass.

    l(r) = r**2 / 2 (|r| <= delta),  delta (|r| - delta/2) (|r| > delta),  r = x . W + b - y

delta is ``hyper[3]``. Same layout and penalties as :data:`squared_error_kernel`.
"""
