"""Hinge loss: the linear support vector machine."""

from .._numba import jit
from ._rows import objective_kernel, single_output_rows


@jit
def hinge_pointwise(z, y, param):
    """l = max(0, 1 - y z), dl/dz = -y where y z < 1 else 0; y in {-1, +1}.

    The hinge is not differentiable at y z = 1; the subgradient 0 is used there.
    """
    m = y * z
    if m < 1.0:
        return 1.0 - m, -y
    return 0.0, 0.0


hinge_rows = single_output_rows(hinge_pointwise)
hinge_kernel = objective_kernel(hinge_rows)
hinge_kernel.__doc__ = r"""Hinge loss (linear SVM, Cortes & Vapnik 1995) and subgradient, in one pass.

    L(w) = (1/n) sum_i s_i max(0, 1 - y_i z_i) + penalties,  y_i in {-1, +1}
    dL/dW = -(1/n) sum_{i: y_i z_i < 1} s_i y_i x_i + alpha_2 W + alpha_1 sign(W)

With alpha_2 > 0 this is the soft-margin SVM primal (C = 1 / (n alpha_2)).
"""
