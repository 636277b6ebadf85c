"""Binary logistic loss (binary cross-entropy on the logit), stable for any z."""

import math

from .._numba import jit
from ._rows import objective_kernel, single_output_rows


@jit
def logistic_pointwise(z, y, param):
    """l = log(1 + exp(z)) - y z, dl/dz = sigmoid(z) - y, for y in [0, 1].

    This is -y log p - (1 - y) log(1 - p) with p = sigmoid(z), written so that
    nothing overflows: softplus(z) = max(z, 0) + log1p(exp(-|z|)) and sigmoid
    from exp(-|z|) <= 1. At |z| = 1000 the loss is |z| or 0, the gradient +-1
    or 0, never inf or NaN.
    """
    if z >= 0.0:
        e = math.exp(-z)
        return (1.0 - y) * z + math.log1p(e), 1.0 / (1.0 + e) - y
    e = math.exp(z)
    return math.log1p(e) - y * z, e / (1.0 + e) - y


logistic_rows = single_output_rows(logistic_pointwise)
logistic_kernel = objective_kernel(logistic_rows)
logistic_kernel.__doc__ = r"""Binary logistic loss and gradient, in one pass; y in {0, 1} (or [0, 1]).

    L(w) = (1/n) sum_i s_i [log(1 + exp(z_i)) - y_i z_i] + penalties,  z_i = x_i . W + b
    dL/dW = (1/n) sum_i s_i (sigmoid(z_i) - y_i) x_i + alpha_2 W + alpha_1 sign(W)

Stable at any |z| (see :func:`logistic_pointwise`).
"""
